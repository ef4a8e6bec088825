/* simd_avx2.c - the AVX2 + FMA instances of simd_kernels.inc; every function
 * is compiled for AVX2 and FMA alone and called only after simd_level() found
 * them. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "simd.h"

#define TARGET __attribute__((target("avx2,fma")))
#define NAME(f) f##_avx2
typedef __m256 V;
#define VF 8
#define LOAD(p) _mm256_loadu_ps(p)
#define STORE(p, v) _mm256_storeu_ps((p), (v))
#define SET1(x) _mm256_set1_ps(x)
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps
#define DIV _mm256_div_ps
#define FMA _mm256_fmadd_ps   /* a*b + c */
#define FNMA _mm256_fnmadd_ps /* c - a*b */
#define MAX _mm256_max_ps
#define SQRT _mm256_sqrt_ps
#define MIN _mm256_min_ps
#define ABS(x) _mm256_and_ps((x), _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)))
#define COPYSIGN(mag, sgn)                                                                             \
    _mm256_or_ps(ABS(mag), _mm256_and_ps((sgn), _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u))))
#define SELECT_LT(a, b, x, y) _mm256_blendv_ps((y), (x), _mm256_cmp_ps((a), (b), _CMP_LT_OQ))

TARGET static inline float HMAX(V v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* exp as in simd_avx512.c; 2^n (n in -150..128 after the clamp) as two
 * factors 2^(n>>1) and 2^(n - (n>>1)), each a normal float, so a subnormal
 * result is rounded once, by the last product. */
TARGET static inline V v_exp(V x)
{
    x = MIN(SET1(88.8f), MAX(SET1(-104.0f), x));
    V n = _mm256_round_ps(MUL(x, SET1(1.44269504089f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = FNMA(n, SET1(0.693147182464599609375f), x);
    r = FNMA(n, SET1(-1.904654323148236e-09f), r);
    V q = SET1(1.394109800e-03f);
    q = FMA(q, r, SET1(8.363175206e-03f));
    q = FMA(q, r, SET1(4.166637361e-02f));
    q = FMA(q, r, SET1(1.666657627e-01f));
    q = FMA(q, r, SET1(0.5f));
    V p = ADD(SET1(1.0f), FMA(q, MUL(r, r), r));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    V s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    V s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    return MUL(MUL(p, s1), s2);
}

/* sum of exp(z - m) over z[0..n) (m the maximum): exp in float, the sum in
 * double lanes (as the AVX-512 path) */
TARGET static double sum_exp_pd(const float *z, int n, float m)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    const V vm = SET1(m);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        V e = v_exp(SUB(LOAD(z + j), vm));
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    if (j < n) { /* the last n - j, the other lanes zero after the exp */
        float t[8] = {0};
        memcpy(t, z + j, (size_t)(n - j) * sizeof *t);
        _mm256_storeu_ps(t, v_exp(SUB(LOAD(t), vm)));
        memset(t + (n - j), 0, (size_t)(8 - (n - j)) * sizeof *t);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm_loadu_ps(t)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm_loadu_ps(t + 4)));
    }
    __m256d a = _mm256_add_pd(s0, s1);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

#include "simd_kernels.inc"

/* sum of squares in double lanes */
TARGET double sumsq_f32_avx2(const float *x, size_t n)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + j)), hi = _mm256_cvtps_pd(_mm_loadu_ps(x + j + 4));
        a0 = _mm256_fmadd_pd(lo, lo, a0);
        a1 = _mm256_fmadd_pd(hi, hi, a1);
    }
    __m256d a = _mm256_add_pd(a0, a1);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    double s = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
    for (; j < n; j++)
        s += (double)x[j] * (double)x[j];
    return s;
}
