/*
 * simd.h - run-time choice of vector kernels, vectorised element-wise
 * functions, and recur's own matrix-product kernels.
 *
 * The level is chosen once from the CPU (__builtin_cpu_supports) and can be
 * lowered, never raised, with RECUR_SIMD=portable|avx2|avx512 in the
 * environment (the tests run every level that way).  Every kernel has a
 * portable C path, which is the only path of the double build.
 */
#ifndef RECUR_SIMD_H
#define RECUR_SIMD_H

#include <stddef.h>

#include "model_internal.h"

enum { SIMD_PORTABLE = 0, SIMD_AVX2 = 1, SIMD_AVX512 = 2 };

/* The level in use (detected on first call). */
int simd_level(void);
/* Forces a level for tests; it is clamped to what the CPU supports.  Returns
 * the level now in use.  Not thread-safe against running kernels. */
int simd_set_level(int level);

/* ---- element-wise functions over arrays (y may equal x) ----
 * Accurate to a few ulp of libm over the whole float range, NaN in -> NaN
 * out, +-Inf to the limits (exp(-Inf) = 0, sigmoid(+-Inf) = 1/0, tanh = +-1). */
void vec_exp(recur_real *y, const recur_real *x, size_t n);
void vec_sigmoid(recur_real *y, const recur_real *x, size_t n);
void vec_tanh(recur_real *y, const recur_real *x, size_t n);
/* y += x */
void vec_add(recur_real *y, const recur_real *x, size_t n);

/* Scalar references the vector paths are tested against (the portable path). */
static inline recur_real ref_sigmoid(recur_real x) { return (recur_real)1 / ((recur_real)1 + R_EXP(-x)); }

/* ---- fused cell kernels over one row of a batch, units [j0, j1) ----
 * LSTM forward: a holds the row's pre-activations i, f, g, o (each H wide)
 * and gets the activations; c = f cp + i g, th = tanh(c), mm = o th. */
void k_lstm_fwd(recur_real *a, int H, int j0, int j1, const recur_real *cp, recur_real *c, recur_real *th,
                recur_real *mm);
/* LSTM backward: from activations a, th = tanh(c), the previous cell cp,
 * dm = dL/d(o th) and the running dc: g (4H) gets the gradients of the
 * pre-activations, dc becomes dL/dc_{t-1}. */
void k_lstm_bwd(const recur_real *a, int H, int j0, int j1, const recur_real *th, const recur_real *cp,
                const recur_real *dm, recur_real *dc, recur_real *g);
/* GRU (reset after) forward: x the input side, gh = W_hh h + b_hh; writes
 * a = (r, z, n), ax = gh_n and h. */
void k_gru_fwd(const recur_real *x, const recur_real *gh, const recur_real *hp, int H, int j0, int j1,
               recur_real *a, recur_real *ax, recur_real *h);
/* GRU (reset after) backward: d = dh + dy; dgx, dgh (3H each) and dh = d z. */
void k_gru_bwd(const recur_real *a, const recur_real *hp, const recur_real *ax, const recur_real *dy, int H,
               int j0, int j1, recur_real *dh, recur_real *dgx, recur_real *dgh);
/* Elman tanh backward: g = (dh + dy)(1 - h^2), then dh = 0. */
void k_rnn_tanh_bwd(const recur_real *h, const recur_real *dy, int j0, int j1, recur_real *dh, recur_real *g);
/* Log-sum-exp of a row; *max gets its maximum (NaN result when not finite). */
double k_row_lse(const recur_real *z, int n, recur_real *max);
/* g = exp(z - lse) * scale, with lse given as max + l. */
void k_row_softmax_scale(const recur_real *z, int n, recur_real max, double l, double scale, recur_real *g);

/* ---- optimiser loops (see optim.c for the rules) ---- */
double vec_sumsq(const recur_real *x, size_t n); /* in double */
void vec_scale(recur_real *y, recur_real a, size_t n);
void k_sgd(recur_real *p, const recur_real *g, recur_real *buf, size_t n, recur_real rate, recur_real mom,
           recur_real dec, int first);
void k_adam(recur_real *p, const recur_real *g, recur_real *m, recur_real *v, size_t n, recur_real shrink,
            recur_real l2, recur_real b1, recur_real b2, recur_real step, recur_real sbc2, recur_real eps);

/* Per-level implementations, exposed for the tests. */
#define SIMD_DECLARE(sfx)                                                                              \
    void vec_exp_f32_##sfx(float *y, const float *x, size_t n);                                         \
    void vec_sigmoid_f32_##sfx(float *y, const float *x, size_t n);                                     \
    void vec_tanh_f32_##sfx(float *y, const float *x, size_t n);                                        \
    void vec_add_f32_##sfx(float *y, const float *x, size_t n);                                         \
    void lstm_fwd_f32_##sfx(float *a, int H, int j0, int j1, const float *cp, float *c, float *th, float *mm); \
    void lstm_bwd_f32_##sfx(const float *a, int H, int j0, int j1, const float *th, const float *cp,     \
                            const float *dm, float *dc, float *g);                                      \
    void gru_fwd_f32_##sfx(const float *x, const float *gh, const float *hp, int H, int j0, int j1, float *a, \
                           float *ax, float *h);                                                        \
    void gru_bwd_f32_##sfx(const float *a, const float *hp, const float *ax, const float *dy, int H, int j0, \
                           int j1, float *dh, float *dgx, float *dgh);                                  \
    void rnn_tanh_bwd_f32_##sfx(const float *h, const float *dy, int j0, int j1, float *dh, float *g);   \
    double row_lse_f32_##sfx(const float *z, int n, float *max);                                        \
    void row_softmax_scale_f32_##sfx(const float *z, int n, float max, float l, float scale, float *g); \
    double sumsq_f32_##sfx(const float *x, size_t n);                                                   \
    void vec_scale_f32_##sfx(float *y, float a, size_t n);                                              \
    void sgd_f32_##sfx(float *p, const float *g, float *buf, size_t n, float rate, float mom, float dec, int first); \
    void adam_f32_##sfx(float *p, const float *g, float *m, float *v, size_t n, float shrink, float l2, float b1, \
                        float b2, float step, float sbc2, float eps);
SIMD_DECLARE(avx512)
SIMD_DECLARE(avx2)
#undef SIMD_DECLARE

#endif
