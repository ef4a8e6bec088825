/* simd_avx512.c - the AVX-512 instances of simd_kernels.inc; every function
 * is compiled for AVX-512F alone and called only after simd_level() found
 * it. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "simd.h"

#define TARGET __attribute__((target("avx512f")))
#define NAME(f) f##_avx512
typedef __m512 V;
#define VF 16
#define LOAD(p) _mm512_loadu_ps(p)
#define STORE(p, v) _mm512_storeu_ps((p), (v))
#define SET1(x) _mm512_set1_ps(x)
#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define MUL _mm512_mul_ps
#define DIV _mm512_div_ps
#define FMA _mm512_fmadd_ps   /* a*b + c */
#define FNMA _mm512_fnmadd_ps /* c - a*b */
#define MAX _mm512_max_ps
#define SQRT _mm512_sqrt_ps
#define MIN _mm512_min_ps
#define ABS _mm512_abs_ps
#define HMAX(v) _mm512_reduce_max_ps(v)
#define COPYSIGN(mag, sgn)                                                                             \
    _mm512_castsi512_ps(_mm512_or_si512(                                                               \
        _mm512_castps_si512(ABS(mag)),                                                                 \
        _mm512_and_si512(_mm512_castps_si512(sgn), _mm512_set1_epi32((int)0x80000000u))))
/* the first n < 16 lanes */
#define TAIL_MASK __mmask16
#define TAIL_MASK_OF(n) ((__mmask16)((1u << (n)) - 1))
#define TAIL_LOAD(m, p) _mm512_maskz_loadu_ps((m), (p))
#define TAIL_STORE(m, p, v) _mm512_mask_storeu_ps((p), (m), (v))
/* a < b ? x : y, lane by lane */
#define SELECT_LT(a, b, x, y) _mm512_mask_blend_ps(_mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ), (y), (x))

/* exp: x = n ln2 + r, |r| <= ln2/2; exp(r) by a degree-6 polynomial fitted
 * for relative error; 2^n by scalef, which rounds subnormal results once.
 * The clamp keeps NaN (max/min return their second operand on NaN). */
TARGET static inline V v_exp(V x)
{
    x = MIN(SET1(88.8f), MAX(SET1(-104.0f), x));
    V n = _mm512_roundscale_ps(MUL(x, SET1(1.44269504089f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = FNMA(n, SET1(0.693147182464599609375f), x);
    r = FNMA(n, SET1(-1.904654323148236e-09f), r);
    V q = SET1(1.394109800e-03f);
    q = FMA(q, r, SET1(8.363175206e-03f));
    q = FMA(q, r, SET1(4.166637361e-02f));
    q = FMA(q, r, SET1(1.666657627e-01f));
    q = FMA(q, r, SET1(0.5f));
    V p = ADD(SET1(1.0f), FMA(q, MUL(r, r), r));
    return _mm512_scalef_ps(p, n);
}

/* sum of exp(z - m) over z[0..n) (m the maximum): z - m and exp in float
 * (a few ulp, as the softmax itself), the sum in double lanes so that a
 * 10,000-word row loses nothing to it */
TARGET static double sum_exp_pd(const float *z, int n, float m)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    const V vm = SET1(m);
    int j = 0;
    for (; j < n; j += 16) {
        __mmask16 k = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1);
        V e = _mm512_maskz_mov_ps(k, v_exp(SUB(_mm512_maskz_loadu_ps(k, z + j), vm)));
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

#include "simd_kernels.inc"

/* sum of squares in double lanes */
TARGET double sumsq_f32_avx512(const float *x, size_t n)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512d lo = _mm512_cvtps_pd(_mm256_loadu_ps(x + j)), hi = _mm512_cvtps_pd(_mm256_loadu_ps(x + j + 8));
        a0 = _mm512_fmadd_pd(lo, lo, a0);
        a1 = _mm512_fmadd_pd(hi, hi, a1);
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
    for (; j < n; j++)
        s += (double)x[j] * (double)x[j];
    return s;
}
