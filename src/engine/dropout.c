/* dropout.c - inverted dropout masks from a counter-based generator (dropout.h). */
#include "dropout.h"

#include "threads.h"

typedef struct mask_job {
    recur_real *mask, *dst;
    const recur_real *src;
    size_t n, row_len, stride, offset;
    uint64_t key, threshold; /* drop when the 32-bit uniform < threshold */
    recur_real keep;
} mask_job;

/* SplitMix64's output function (Steele, Lea & Flood 2014) */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Elements [lo, hi) of the local tensor; element i of row t = i / row_len
 * is element t * stride + offset + i % row_len of the global one, whose
 * pair q = g / 2 takes the low (even g) or high (odd g) half of one draw. */
static void mask_part(void *ctx, int tid, int nt)
{
    const mask_job *j = ctx;
    size_t lo = j->n * (size_t)tid / (size_t)nt, hi = j->n * (size_t)(tid + 1) / (size_t)nt;
    if (lo >= hi)
        return;
    size_t row = lo / j->row_len, col = lo % j->row_len;
    uint64_t u = 0, have = UINT64_MAX;
    for (size_t i = lo; i < hi; i++) {
        size_t g = row * j->stride + j->offset + col;
        uint64_t q = (uint64_t)(g >> 1);
        if (q != have) {
            u = mix64(j->key + (q + 1) * 0x9e3779b97f4a7c15ull);
            have = q;
        }
        uint64_t bits = g & 1 ? u >> 32 : u & 0xffffffffu;
        recur_real k = bits < j->threshold ? 0 : j->keep;
        j->mask[i] = k;
        j->dst[i] = j->src[i] * k;
        if (++col == j->row_len) {
            col = 0;
            row++;
        }
    }
}

void dropout_draw_share(uint64_t key, float p, recur_real *mask, recur_real *dst,
                        const recur_real *src, size_t rows, size_t row_len, size_t stride,
                        size_t offset)
{
    mask_job j = {mask, dst, src, rows * row_len, row_len, stride, offset, key,
                  (uint64_t)((double)p * 4294967296.0), (recur_real)(1.0 / (1.0 - (double)p))};
    if (j.n == 0)
        return;
    par_run_work((double)j.n, mask_part, &j);
}

void dropout_draw(uint64_t key, float p, recur_real *mask, recur_real *dst, const recur_real *src, size_t n)
{
    dropout_draw_share(key, p, mask, dst, src, 1, n, n, 0);
}
