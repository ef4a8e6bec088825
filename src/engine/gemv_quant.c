/*
 * gemv_quant.c - the int8 and bfloat16 weight products of gemv_quant.h:
 * AVX-512 (four rows at a time, 16 weights widened to float per load, the
 * sums in float lanes) and a portable path with the same rounded weights.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "gemm_bf16.h"
#include "gemv_quant.h"
#include "simd.h"

void quant_int8_rows(const float *W, int n, int k, int8_t *q, float *scale)
{
    for (int i = 0; i < n; i++) {
        const float *w = W + (size_t)i * k;
        float m = 0;
        for (int j = 0; j < k; j++)
            m = fmaxf(m, fabsf(w[j]));
        float s = m / 127.0f;
        scale[i] = s;
        for (int j = 0; j < k; j++)
            q[(size_t)i * k + j] = (int8_t)(s > 0 ? nearbyintf(w[j] / s) : 0);
    }
}

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
/* 16 weights of row r at column j, as floats (masked: the first `live`) */
AVX512 static inline __attribute__((always_inline)) __m512 load_i8(const int8_t *p, __mmask16 m)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
}
AVX512 static inline __attribute__((always_inline)) __m512 load_bf(const uint16_t *p, __mmask16 m)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

#define GEMV_BODY(T, LOAD, SCALE)                                                                              \
    const int groups = (n + 3) / 4;                                                                            \
    for (int g = 0; g < groups; g++) {                                                                         \
        const int r0 = 4 * (reverse ? groups - 1 - g : g), rows = n - r0 < 4 ? n - r0 : 4;                     \
        const T *w[4];                                                                                         \
        for (int r = 0; r < 4; r++)                                                                            \
            w[r] = W + (size_t)(r0 + (r < rows ? r : 0)) * k;                                                  \
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps();                  \
        __m512 s3 = _mm512_setzero_ps();                                                                       \
        for (int j = 0; j < k; j += 16) {                                                                      \
            const __mmask16 m = k - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - j)) - 1);           \
            const __m512 xv = _mm512_maskz_loadu_ps(m, x + j);                                                 \
            s0 = _mm512_fmadd_ps(LOAD(w[0] + j, m), xv, s0);                                                   \
            s1 = _mm512_fmadd_ps(LOAD(w[1] + j, m), xv, s1);                                                   \
            s2 = _mm512_fmadd_ps(LOAD(w[2] + j, m), xv, s2);                                                   \
            s3 = _mm512_fmadd_ps(LOAD(w[3] + j, m), xv, s3);                                                   \
        }                                                                                                      \
        const float t[4] = {_mm512_reduce_add_ps(s0), _mm512_reduce_add_ps(s1), _mm512_reduce_add_ps(s2),      \
                            _mm512_reduce_add_ps(s3)};                                                         \
        for (int r = 0; r < rows; r++)                                                                         \
            y[r0 + r] = SCALE(r0 + r) * t[r];                                                                  \
    }

#define INT8_SCALE(i) scale[i]
#define NO_SCALE(i) 1.0f
AVX512 static void gemv_int8_avx512(int n, int k, const int8_t *W, const float *scale, const float *x, float *y,
                                    int reverse)
{
    GEMV_BODY(int8_t, load_i8, INT8_SCALE)
}
AVX512 static void gemv_bf16_avx512(int n, int k, const uint16_t *W, const float *x, float *y, int reverse)
{
    GEMV_BODY(uint16_t, load_bf, NO_SCALE)
}
#endif

void gemv_int8(int n, int k, const int8_t *q, const float *scale, const float *x, float *y, int reverse)
{
#if defined(__x86_64__)
    if (simd_level() == SIMD_AVX512) {
        gemv_int8_avx512(n, k, q, scale, x, y, reverse);
        return;
    }
#endif
    (void)reverse;
    for (int i = 0; i < n; i++) {
        float s = 0;
        for (int j = 0; j < k; j++)
            s += (float)q[(size_t)i * k + j] * x[j];
        y[i] = scale[i] * s;
    }
}

void gemv_bf16(int n, int k, const uint16_t *w, const float *x, float *y, int reverse)
{
#if defined(__x86_64__)
    if (simd_level() == SIMD_AVX512) {
        gemv_bf16_avx512(n, k, w, x, y, reverse);
        return;
    }
#endif
    (void)reverse;
    for (int i = 0; i < n; i++) {
        float s = 0;
        for (int j = 0; j < k; j++)
            s += bf16_to_float(w[(size_t)i * k + j]) * x[j];
        y[i] = s;
    }
}
