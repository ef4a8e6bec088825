/* dropout.c - inverted dropout masks from a counter-based generator (dropout.h). */
#include "dropout.h"

#include "threads.h"

typedef struct mask_job {
    recur_real *mask, *dst;
    const recur_real *src;
    size_t n;
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

static void mask_part(void *ctx, int tid, int nt)
{
    const mask_job *j = ctx;
    size_t pairs = (j->n + 1) / 2, lo = pairs * (size_t)tid / (size_t)nt, hi = pairs * (size_t)(tid + 1) / (size_t)nt;
    for (size_t q = lo; q < hi; q++) {
        uint64_t u = mix64(j->key + (q + 1) * 0x9e3779b97f4a7c15ull);
        size_t i = 2 * q;
        recur_real k = (u & 0xffffffffu) < j->threshold ? 0 : j->keep;
        j->mask[i] = k;
        j->dst[i] = j->src[i] * k;
        if (i + 1 < j->n) {
            k = (u >> 32) < j->threshold ? 0 : j->keep;
            j->mask[i + 1] = k;
            j->dst[i + 1] = j->src[i + 1] * k;
        }
    }
}

void dropout_draw(uint64_t key, float p, recur_real *mask, recur_real *dst, const recur_real *src, size_t n)
{
    mask_job j = {mask, dst, src, n, key, (uint64_t)((double)p * 4294967296.0), (recur_real)(1.0 / (1.0 - (double)p))};
    par_run_work((double)n, mask_part, &j);
}
