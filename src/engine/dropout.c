/* dropout.c - inverted dropout masks from a counter-based generator (dropout.h). */
#include "dropout.h"

#include "simd.h"
#include "threads.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

#define GAMMA 0x9e3779b97f4a7c15ull

/* Element i of the local tensor, global position g. */
static inline void mask_one(const mask_job *j, size_t i, size_t g)
{
    const uint64_t u = mix64(j->key + ((uint64_t)(g >> 1) + 1) * GAMMA);
    const uint64_t bits = g & 1 ? u >> 32 : u & 0xffffffffu;
    const recur_real k = bits < j->threshold ? 0 : j->keep;
    j->mask[i] = k;
    j->dst[i] = j->src[i] * k;
}

#if defined(__x86_64__) && !defined(RECUR_DOUBLE)
#define AVX512 __attribute__((target("avx512f")))

/* a * c mod 2^64 in each lane, from 32-bit products (AVX512F has no 64-bit
 * multiply) */
AVX512 static inline __m512i mul64(__m512i a, uint64_t c)
{
    const __m512i lo = _mm512_set1_epi64((long long)c), hi = _mm512_set1_epi64((long long)(c >> 32));
    const __m512i cross = _mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(a, 32), lo), _mm512_mul_epu32(a, hi));
    return _mm512_add_epi64(_mm512_mul_epu32(a, lo), _mm512_slli_epi64(cross, 32));
}

/* Elements [i, i + n) of the local tensor, global positions from g (even),
 * n a multiple of 16: 8 SplitMix64 outputs per vector, whose 32-bit halves
 * are, in memory order, the uniforms of elements g, g + 1, ... */
AVX512 static void mask_run_avx512(const mask_job *j, size_t i, size_t g, size_t n)
{
    const __m512i step = _mm512_set1_epi64((long long)(8 * GAMMA));
    __m512i z = _mm512_add_epi64(_mm512_set1_epi64((long long)(j->key + ((uint64_t)(g >> 1) + 1) * GAMMA)),
                                 _mm512_set_epi64((long long)(7 * GAMMA), (long long)(6 * GAMMA),
                                                  (long long)(5 * GAMMA), (long long)(4 * GAMMA),
                                                  (long long)(3 * GAMMA), (long long)(2 * GAMMA), (long long)GAMMA, 0));
    const __m512i thr = _mm512_set1_epi32((int)(uint32_t)j->threshold);
    const __m512 keep = _mm512_set1_ps(j->keep);
    for (size_t e = i + n; i < e; i += 16) {
        __m512i u = z;
        u = mul64(_mm512_xor_si512(u, _mm512_srli_epi64(u, 30)), 0xbf58476d1ce4e5b9ull);
        u = mul64(_mm512_xor_si512(u, _mm512_srli_epi64(u, 27)), 0x94d049bb133111ebull);
        u = _mm512_xor_si512(u, _mm512_srli_epi64(u, 31));
        const __mmask16 kept = _mm512_cmp_epu32_mask(u, thr, _MM_CMPINT_NLT);
        const __m512 k = _mm512_maskz_mov_ps(kept, keep);
        _mm512_storeu_ps(j->mask + i, k);
        _mm512_storeu_ps(j->dst + i, _mm512_mul_ps(_mm512_loadu_ps(j->src + i), k));
        z = _mm512_add_epi64(z, step);
    }
}
#endif

/* Elements [lo, hi) of the local tensor; element i of row t = i / row_len
 * is element t * stride + offset + i % row_len of the global one, whose
 * pair q = g / 2 takes the low (even g) or high (odd g) half of one draw.
 * With AVX-512, runs of 16 from an even g are drawn 16 at a time (the same
 * values). */
static void mask_part(void *ctx, int tid, int nt)
{
    const mask_job *j = ctx;
    size_t lo = j->n * (size_t)tid / (size_t)nt, hi = j->n * (size_t)(tid + 1) / (size_t)nt;
#if defined(__x86_64__) && !defined(RECUR_DOUBLE)
    const int vec = j->threshold <= 0xffffffffu && simd_level() == SIMD_AVX512;
#endif
    while (lo < hi) {
        const size_t row = lo / j->row_len, col = lo % j->row_len;
        const size_t end = hi - lo < j->row_len - col ? hi : lo + (j->row_len - col); /* this row's share */
        size_t g = row * j->stride + j->offset + col, i = lo;
#if defined(__x86_64__) && !defined(RECUR_DOUBLE)
        if (vec) {
            if (g & 1 && i < end)
                mask_one(j, i++, g++);
            const size_t run = (end - i) / 16 * 16;
            if (run) {
                mask_run_avx512(j, i, g, run);
                i += run;
                g += run;
            }
        }
#endif
        for (; i < end; i++, g++)
            mask_one(j, i, g);
        lo = end;
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
