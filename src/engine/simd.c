/* simd.c - the run-time choice of vector kernels (see simd.h). */
#include <stdlib.h>
#include <string.h>

#include "simd.h"

static int detected = -1, level = -1;

static int detect(void)
{
    __builtin_cpu_init();
    int l = SIMD_PORTABLE;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        l = SIMD_AVX2;
    if (l == SIMD_AVX2 && __builtin_cpu_supports("avx512f"))
        l = SIMD_AVX512;
    return l;
}

int simd_level(void)
{
    if (level < 0) {
        int d = detect(), l = d;
        const char *e = getenv("RECUR_SIMD");
        if (e && !strcmp(e, "portable"))
            l = SIMD_PORTABLE;
        else if (e && !strcmp(e, "avx2") && d >= SIMD_AVX2)
            l = SIMD_AVX2;
        detected = d;
        level = l;
    }
    return level;
}

int simd_set_level(int l)
{
    simd_level();
    level = l < SIMD_PORTABLE ? SIMD_PORTABLE : l > detected ? detected : l;
    return level;
}

/* ---- portable paths: the scalar arithmetic of the original cells ---- */

/* 1/(1+e^-x), or e^x/(1+e^x) for x < 0: no overflow, tiny results kept */
static recur_real sigm(recur_real x)
{
    if (x < 0) {
        recur_real e = R_EXP(x);
        return e / ((recur_real)1 + e);
    }
    return (recur_real)1 / ((recur_real)1 + R_EXP(-x));
}

static void p_lstm_fwd(recur_real *a, int H, int j0, int j1, const recur_real *cp, recur_real *c, recur_real *th,
                       recur_real *mm)
{
    for (int j = j0; j < j1; j++) {
        recur_real ig = sigm(a[j]), fg = sigm(a[H + j]), gg = R_TANH(a[2 * H + j]), og = sigm(a[3 * H + j]);
        a[j] = ig;
        a[H + j] = fg;
        a[2 * H + j] = gg;
        a[3 * H + j] = og;
        c[j] = fg * cp[j] + ig * gg;
        th[j] = R_TANH(c[j]);
        mm[j] = og * th[j];
    }
}

static void p_lstm_bwd(const recur_real *a, int H, int j0, int j1, const recur_real *th, const recur_real *cp,
                       const recur_real *dm, recur_real *dc, recur_real *g)
{
    for (int j = j0; j < j1; j++) {
        recur_real ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
        recur_real dcj = dc[j] + dm[j] * og * (1 - th[j] * th[j]);
        g[j] = dcj * gg * ig * (1 - ig);
        g[H + j] = dcj * cp[j] * fg * (1 - fg);
        g[2 * H + j] = dcj * ig * (1 - gg * gg);
        g[3 * H + j] = dm[j] * th[j] * og * (1 - og);
        dc[j] = dcj * fg;
    }
}

static void p_gru_fwd(const recur_real *x, const recur_real *gh, const recur_real *hp, int H, int j0, int j1,
                      recur_real *a, recur_real *ax, recur_real *h)
{
    for (int j = j0; j < j1; j++) {
        recur_real r = sigm(x[j] + gh[j]), z = sigm(x[H + j] + gh[H + j]);
        recur_real n = R_TANH(x[2 * H + j] + r * gh[2 * H + j]);
        a[j] = r;
        a[H + j] = z;
        a[2 * H + j] = n;
        ax[j] = gh[2 * H + j];
        h[j] = (1 - z) * n + z * hp[j];
    }
}

static void p_gru_bwd(const recur_real *a, const recur_real *hp, const recur_real *ax, const recur_real *dy, int H,
                      int j0, int j1, recur_real *dh, recur_real *dgx, recur_real *dgh)
{
    for (int j = j0; j < j1; j++) {
        recur_real d = dh[j] + dy[j];
        recur_real r = a[j], z = a[H + j], n = a[2 * H + j];
        recur_real dpre_n = d * (1 - z) * (1 - n * n);
        recur_real dpre_z = d * (hp[j] - n) * z * (1 - z);
        recur_real dpre_r = dpre_n * ax[j] * r * (1 - r);
        dgx[j] = dpre_r;
        dgx[H + j] = dpre_z;
        dgx[2 * H + j] = dpre_n;
        dgh[j] = dpre_r;
        dgh[H + j] = dpre_z;
        dgh[2 * H + j] = dpre_n * r;
        dh[j] = d * z;
    }
}

static void p_rnn_tanh_bwd(const recur_real *h, const recur_real *dy, int j0, int j1, recur_real *dh,
                           recur_real *g)
{
    for (int j = j0; j < j1; j++) {
        g[j] = (dh[j] + dy[j]) * (1 - h[j] * h[j]);
        dh[j] = 0;
    }
}

static double p_row_lse(const recur_real *z, int n, recur_real *max)
{
    recur_real mx = z[0];
    for (int k = 1; k < n; k++)
        mx = z[k] > mx ? z[k] : mx;
    *max = mx;
    double sum = 0;
    for (int k = 0; k < n; k++)
        sum += exp((double)(z[k] - mx));
    return (double)mx + log(sum);
}

static void p_row_softmax_scale(const recur_real *z, int n, recur_real max, double l, double scale, recur_real *g)
{
    double lse = (double)max + l;
    for (int k = 0; k < n; k++)
        g[k] = (recur_real)(exp((double)z[k] - lse) * scale);
}

/* Float builds pick the widest kernel the level allows; the double build is
 * always portable. */
#ifdef RECUR_DOUBLE
#define DISPATCH(call512, call2, portable) portable
#else
#define DISPATCH(call512, call2, portable)                                                            \
    do {                                                                                               \
        int l_ = simd_level();                                                                         \
        if (l_ == SIMD_AVX512)                                                                         \
            call512;                                                                                   \
        else if (l_ == SIMD_AVX2)                                                                      \
            call2;                                                                                     \
        else                                                                                           \
            portable;                                                                                  \
    } while (0)
#endif

void vec_exp(recur_real *y, const recur_real *x, size_t n)
{
    DISPATCH(vec_exp_f32_avx512(y, x, n), vec_exp_f32_avx2(y, x, n),
             for (size_t i = 0; i < n; i++) y[i] = R_EXP(x[i]));
}

void vec_sigmoid(recur_real *y, const recur_real *x, size_t n)
{
    DISPATCH(vec_sigmoid_f32_avx512(y, x, n), vec_sigmoid_f32_avx2(y, x, n),
             for (size_t i = 0; i < n; i++) y[i] = sigm(x[i]));
}

void vec_tanh(recur_real *y, const recur_real *x, size_t n)
{
    DISPATCH(vec_tanh_f32_avx512(y, x, n), vec_tanh_f32_avx2(y, x, n),
             for (size_t i = 0; i < n; i++) y[i] = R_TANH(x[i]));
}

void vec_add(recur_real *y, const recur_real *x, size_t n)
{
    DISPATCH(vec_add_f32_avx512(y, x, n), vec_add_f32_avx2(y, x, n),
             for (size_t i = 0; i < n; i++) y[i] += x[i]);
}

void k_lstm_fwd(recur_real *a, int H, int j0, int j1, const recur_real *cp, recur_real *c, recur_real *th,
                recur_real *mm)
{
    DISPATCH(lstm_fwd_f32_avx512(a, H, j0, j1, cp, c, th, mm), lstm_fwd_f32_avx2(a, H, j0, j1, cp, c, th, mm),
             p_lstm_fwd(a, H, j0, j1, cp, c, th, mm));
}

void k_lstm_bwd(const recur_real *a, int H, int j0, int j1, const recur_real *th, const recur_real *cp,
                const recur_real *dm, recur_real *dc, recur_real *g)
{
    DISPATCH(lstm_bwd_f32_avx512(a, H, j0, j1, th, cp, dm, dc, g), lstm_bwd_f32_avx2(a, H, j0, j1, th, cp, dm, dc, g),
             p_lstm_bwd(a, H, j0, j1, th, cp, dm, dc, g));
}

void k_gru_fwd(const recur_real *x, const recur_real *gh, const recur_real *hp, int H, int j0, int j1,
               recur_real *a, recur_real *ax, recur_real *h)
{
    DISPATCH(gru_fwd_f32_avx512(x, gh, hp, H, j0, j1, a, ax, h), gru_fwd_f32_avx2(x, gh, hp, H, j0, j1, a, ax, h),
             p_gru_fwd(x, gh, hp, H, j0, j1, a, ax, h));
}

void k_gru_bwd(const recur_real *a, const recur_real *hp, const recur_real *ax, const recur_real *dy, int H,
               int j0, int j1, recur_real *dh, recur_real *dgx, recur_real *dgh)
{
    DISPATCH(gru_bwd_f32_avx512(a, hp, ax, dy, H, j0, j1, dh, dgx, dgh),
             gru_bwd_f32_avx2(a, hp, ax, dy, H, j0, j1, dh, dgx, dgh),
             p_gru_bwd(a, hp, ax, dy, H, j0, j1, dh, dgx, dgh));
}

void k_rnn_tanh_bwd(const recur_real *h, const recur_real *dy, int j0, int j1, recur_real *dh, recur_real *g)
{
    DISPATCH(rnn_tanh_bwd_f32_avx512(h, dy, j0, j1, dh, g), rnn_tanh_bwd_f32_avx2(h, dy, j0, j1, dh, g),
             p_rnn_tanh_bwd(h, dy, j0, j1, dh, g));
}

double k_row_lse(const recur_real *z, int n, recur_real *max)
{
    double r;
    DISPATCH(r = row_lse_f32_avx512(z, n, max), r = row_lse_f32_avx2(z, n, max), r = p_row_lse(z, n, max));
    return r;
}

void k_row_softmax_scale(const recur_real *z, int n, recur_real max, double l, double scale, recur_real *g)
{
    DISPATCH(row_softmax_scale_f32_avx512(z, n, max, (float)l, (float)scale, g),
             row_softmax_scale_f32_avx2(z, n, max, (float)l, (float)scale, g),
             p_row_softmax_scale(z, n, max, l, scale, g));
}

double vec_sumsq(const recur_real *x, size_t n)
{
    double r = 0;
    DISPATCH(r = sumsq_f32_avx512(x, n), r = sumsq_f32_avx2(x, n),
             for (size_t i = 0; i < n; i++) r += (double)x[i] * (double)x[i]);
    return r;
}

void vec_scale(recur_real *y, recur_real a, size_t n)
{
    DISPATCH(vec_scale_f32_avx512(y, a, n), vec_scale_f32_avx2(y, a, n), for (size_t i = 0; i < n; i++) y[i] *= a);
}

static void p_sgd(recur_real *p, const recur_real *g, recur_real *buf, size_t n, recur_real rate, recur_real mom,
                  recur_real dec, int first)
{
    for (size_t i = 0; i < n; i++) {
        recur_real d = g[i] + dec * p[i];
        if (buf) {
            buf[i] = first ? d : mom * buf[i] + d;
            d = buf[i];
        }
        p[i] -= rate * d;
    }
}

void k_sgd(recur_real *p, const recur_real *g, recur_real *buf, size_t n, recur_real rate, recur_real mom,
           recur_real dec, int first)
{
    DISPATCH(sgd_f32_avx512(p, g, buf, n, rate, mom, dec, first), sgd_f32_avx2(p, g, buf, n, rate, mom, dec, first),
             p_sgd(p, g, buf, n, rate, mom, dec, first));
}

static void p_adam(recur_real *p, const recur_real *g, recur_real *m, recur_real *v, size_t n, recur_real shrink,
                   recur_real l2, recur_real b1, recur_real b2, recur_real step, recur_real sbc2, recur_real eps)
{
    for (size_t i = 0; i < n; i++) {
        p[i] *= shrink;
        recur_real d = g[i] + l2 * p[i];
        m[i] = b1 * m[i] + (1 - b1) * d;
        v[i] = b2 * v[i] + (1 - b2) * d * d;
        p[i] -= step * m[i] / (R_SQRT(v[i]) / sbc2 + eps);
    }
}

void k_adam(recur_real *p, const recur_real *g, recur_real *m, recur_real *v, size_t n, recur_real shrink,
            recur_real l2, recur_real b1, recur_real b2, recur_real step, recur_real sbc2, recur_real eps)
{
    DISPATCH(adam_f32_avx512(p, g, m, v, n, shrink, l2, b1, b2, step, sbc2, eps),
             adam_f32_avx2(p, g, m, v, n, shrink, l2, b1, b2, step, sbc2, eps),
             p_adam(p, g, m, v, n, shrink, l2, b1, b2, step, sbc2, eps));
}
