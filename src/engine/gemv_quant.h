/*
 * gemv_quant.h - one-vector products against weights stored in fewer bits,
 * for generation at batch 1 (recur_stepper_set_weights), where the time is
 * the bytes of weights read:
 *   int8  one scale per row: w = scale * q, q in -127..127, scale =
 *         max |row| / 127 (q = the nearest integer, ties to even);
 *   bf16  each weight rounded to bfloat16 (gemm_bf16.h's rounding).
 * x and y stay float32 and the sums run in float32 (only the weights are
 * quantised).  y[i] is each row's own sum, rows ascending or descending
 * (reverse) as gemv1_f32_avx512: the same y either way.
 */
#ifndef RECUR_GEMV_QUANT_H
#define RECUR_GEMV_QUANT_H

#include <stdint.h>

/* q (n x k) and scale (n) from W (n x k, rows k apart). */
void quant_int8_rows(const float *W, int n, int k, int8_t *q, float *scale);
/* y (n) = diag(scale) q x */
void gemv_int8(int n, int k, const int8_t *q, const float *scale, const float *x, float *y, int reverse);
/* y (n) = w x, w (n x k) bfloat16 */
void gemv_bf16(int n, int k, const uint16_t *w, const float *x, float *y, int reverse);

#endif
