/*
 * gemm.h - matrix products inside the library beyond recur_gemm
 * (internal.h): the single-threaded product for code already running on
 * recur's threads, and products against a weight matrix packed once.
 */
#ifndef RECUR_GEMM_H
#define RECUR_GEMM_H

#include <stddef.h>

#include "model_internal.h"

/* recur_gemm on the calling thread only. */
void recur_gemm_serial(int trans_a, int trans_b, int M, int N, int K, recur_real alpha, const recur_real *A,
                       int lda, const recur_real *B, int ldb, recur_real beta, recur_real *C, int ldc);

/* 1 when the packed products and the few-row products below may run (a
 * float build on an AVX-512 CPU), whatever OpenBLAS runs. */
int recur_gemm_packed_kernel(void);

/* Floats of scratch the two kernels below pack into (64-byte aligned, one
 * block per thread; par_scratch of threads.h is large enough). */
#define GEMM_SCRATCH_FLOATS ((size_t)1024 * 320 + (size_t)48 * 320)

/* The kernel itself: C (M x N) = op(A) op(B) (+ C when accumulate). */
void gemm_f32_avx512(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb, int accumulate, float *C, int ldc, float *scratch);

/* The same product for M <= 4 rows with op(B) = B^T, reading B in place
 * (dot products along k: the last bits can differ from gemm_f32_avx512's). */
void gemv_f32_avx512(int M, int N, int K, const float *A, int lda, const float *B, int ldb, int accumulate, float *C,
                     int ldc);

/* y (N) = B x for one vector x (K), B (N x K) read in place, its rows in
 * ascending order or, with reverse, descending (the same y either way, and
 * the same as gemv_f32_avx512 with M = 1: each y[n] is its own sum).  A
 * caller that streams more weights than the caches hold alternates the
 * order, so that each pass starts on what the last one left in cache. */
void gemv1_f32_avx512(int N, int K, const float *x, const float *B, int ldb, float *y, int reverse);

/* Width of the packed panels: a packed matrix's column j0 must be a multiple
 * of it to start a product. */
#define GEMM_PANEL 32
/* Floats needed to pack an N x K matrix B (used as B^T, K x N). */
size_t gemm_packed_size(int N, int K);
/* Packs B (N x K, row stride ldb) for products with B^T: panels of 32 of
 * its rows, each K x 32, the last zero-padded. */
void gemm_pack_bt(const float *B, int ldb, int N, int K, float *out);
/* The same panels from B (K x N, row stride ldb), for products with B. */
void gemm_pack_b(const float *B, int ldb, int K, int N, float *out);
/* C (M x N) = A (M x K) op(B) (+ C), op(B) packed by gemm_pack_bt or
 * gemm_pack_b with kpanel rows (kpanel >= K).  Bp may point into the packing:
 * at column j0 (a multiple of GEMM_PANEL) and row k0 of op(B) it is
 * Bp + j0 * kpanel + k0 * GEMM_PANEL. */
void gemm_f32_avx512_packed(int M, int N, int K, const float *A, int lda, const float *Bp, int kpanel, int accumulate,
                            float *C, int ldc, float *scratch);

#endif
