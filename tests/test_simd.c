/*
 * test_simd.c - the vectorised element-wise functions and fused kernels
 * against libm, at every vector level this CPU has (portable, AVX2,
 * AVX-512):
 *   - exp, sigmoid and tanh over a dense sweep of float bit patterns that
 *     covers the whole range (every 61st pattern, both signs: ~70 million
 *     values), measured in ulps of the correctly rounded result (computed in
 *     double); the worst error of each is printed;
 *   - the edges: +-0, +-Inf, NaN, the largest finite values, the overflow
 *     and underflow thresholds, subnormal results;
 *   - the fused LSTM/GRU/RNN kernels and the softmax row kernels against the
 *     portable path on random rows, with tails of every length;
 *   - the matrix products (recur's AVX-512 kernel in every transpose, with
 *     packed weights, the few-row dot-product path, and recur_gemm on
 *     threads) against a naive double-precision product, over sizes that
 *     cross every panel and block edge.
 * The bounds are 2 ulp for exp, 3 for sigmoid and tanh, against the exact
 * value (libm's expf is within 0.5, tanhf within 2.2, and the portable
 * sigmoid built on expf within 2.3).
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/gemm.h"
#include "engine/simd.h"

typedef void (*vec_fn)(float *, const float *, size_t);

static double ref_exp(double x) { return exp(x); }
static double ref_sig(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_tanh(double x) { return tanh(x); }

/* Error of y against the exact value e, in ulps of float at e (subnormal
 * spacing below FLT_MIN). */
static double ulp_err(float y, double e)
{
    if (isnan(e))
        return isnan(y) ? 0 : INFINITY;
    if (isinf((float)e) || isinf(y))
        return (float)e == y ? 0 : INFINITY;
    double a = fabs(e);
    int ex;
    frexp(a < FLT_MIN ? FLT_MIN : a, &ex);
    double ulp = ldexp(1.0, ex - 24);
    return fabs((double)y - e) / ulp;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#define CHUNK 4096

static double sweep(vec_fn fn, double (*ref)(double), float *worst_x)
{
    static float x[CHUNK], y[CHUNK];
    double worst = 0;
    size_t n = 0;
    for (uint64_t u = 0; u < 0x100000000ull; u += 61) {
        x[n++] = from_bits((uint32_t)u);
        if (n == CHUNK || u + 61 >= 0x100000000ull) {
            fn(y, x, n);
            for (size_t i = 0; i < n; i++) {
                double e = ulp_err(y[i], ref((double)x[i]));
                if (e > worst) {
                    worst = e;
                    *worst_x = x[i];
                }
            }
            n = 0;
        }
    }
    return worst;
}

static const char *level_name(int l) { return l == SIMD_AVX512 ? "avx512" : l == SIMD_AVX2 ? "avx2" : "portable"; }

static vec_fn pick(int level, int which)
{
    static vec_fn table[3][3] = {{NULL, NULL, NULL},
                                 {vec_exp_f32_avx2, vec_sigmoid_f32_avx2, vec_tanh_f32_avx2},
                                 {vec_exp_f32_avx512, vec_sigmoid_f32_avx512, vec_tanh_f32_avx512}};
    if (level == SIMD_PORTABLE) {
        vec_fn p[3] = {vec_exp, vec_sigmoid, vec_tanh};
        return p[which];
    }
    return table[level][which];
}

static int max_level(void)
{
    int l = simd_set_level(SIMD_AVX512);
    return l;
}

static void test_accuracy_sweep(void **state)
{
    (void)state;
    const char *names[3] = {"exp", "sigmoid", "tanh"};
    double (*refs[3])(double) = {ref_exp, ref_sig, ref_tanh};
    const double bound[3] = {2, 3, 3};
    int top = max_level();
    for (int l = SIMD_PORTABLE; l <= top; l++) {
        simd_set_level(l);
        for (int w = 0; w < 3; w++) {
            float wx = 0;
            double e = sweep(pick(l, w), refs[w], &wx);
            fprintf(stderr, "  %-8s %-7s worst %.2f ulp at x = %.9g\n", level_name(l), names[w], e, wx);
            assert_true(e <= bound[w]);
        }
    }
    simd_set_level(top);
}

static void test_edges(void **state)
{
    (void)state;
    const float xs[] = {0.0f,     -0.0f,     INFINITY,  -INFINITY,  NAN,        -NAN,      FLT_MAX,
                        -FLT_MAX, 88.72f,    88.73f,    -87.3f,     -103.0f,    -104.5f,   -150.0f,
                        1e-30f,   -1e-30f,   1e-45f,    0.625f,     -0.625f,    0.62499f,  9.0f,
                        -9.0f,    20.0f,     -20.0f,    44.0f,      -44.0f,     0.5f,      -1.5f};
    const int n = (int)(sizeof xs / sizeof *xs);
    float y[64];
    int top = max_level();
    for (int l = SIMD_PORTABLE; l <= top; l++) {
        simd_set_level(l);
        for (int w = 0; w < 3; w++) {
            double (*ref)(double) = w == 0 ? ref_exp : w == 1 ? ref_sig : ref_tanh;
            pick(l, w)(y, xs, (size_t)n);
            for (int i = 0; i < n; i++) {
                double e = ref((double)xs[i]);
                if (isnan(xs[i])) {
                    assert_true(isnan(y[i]));
                    continue;
                }
                double err = ulp_err(y[i], e);
                if (err > 4)
                    fprintf(stderr, "  %s f%d x=%g: got %.9g want %.9g\n", level_name(l), w, xs[i], y[i], e);
                assert_true(err <= 4);
                /* exp(+-0) = 1, tanh(+-0) = +-0 with the sign */
                if (xs[i] == 0 && w != 1 &&
                    !(w == 0 ? y[i] == 1.0f : (y[i] == 0 && signbit(y[i]) == signbit(xs[i])))) {
                    fprintf(stderr, "  %s f%d x=%g: got %g\n", level_name(l), w, xs[i], y[i]);
                    fail();
                }
            }
        }
    }
    simd_set_level(top);
}

static uint64_t rng_state = 12345;
static float frand(float scale)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return scale * ((float)(rng_state >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}

static void fill(float *p, int n, float scale)
{
    for (int i = 0; i < n; i++)
        p[i] = frand(scale);
}

static void close_arrays(const float *a, const float *b, int n, double tol, const char *what)
{
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), s = fabs((double)b[i]) + 1e-2;
        if (!(d <= tol * s)) {
            fprintf(stderr, "  %s[%d]: %.9g vs portable %.9g\n", what, i, a[i], b[i]);
            fail();
        }
    }
}

/* Runs each fused kernel at the top level and portably, on the same inputs,
 * for every unit range [j0, j1) with tails of every length. */
static void test_fused_kernels(void **state)
{
    (void)state;
    int top = max_level();
    enum { H = 37 };
    float a0[4 * H], a1[4 * H], a2[4 * H], cp[H], c1[H], c2[H], t1[H], t2[H], m1[H], m2[H];
    float dm[H], dc1[H], dc2[H], g1[4 * H], g2[4 * H], x[3 * H], gh[3 * H], hp[H], ax1[H], ax2[H], h1[H], h2[H];
    float dy[H], dh1[H], dh2[H], dgx1[3 * H], dgx2[3 * H], dgh1[3 * H], dgh2[3 * H];
    for (int l = SIMD_AVX2; l <= top; l++)
        for (int j0 = 0; j0 < 3; j0++)
            for (int j1 = j0 + 1; j1 <= H; j1++) {
                fill(a0, 4 * H, 4);
                fill(cp, H, 2);
                memcpy(a1, a0, sizeof a0);
                memcpy(a2, a0, sizeof a0);
                memset(c1, 0, sizeof c1);
                memset(c2, 0, sizeof c2);
                simd_set_level(l);
                k_lstm_fwd(a1, H, j0, j1, cp, c1, t1, m1);
                simd_set_level(SIMD_PORTABLE);
                k_lstm_fwd(a2, H, j0, j1, cp, c2, t2, m2);
                close_arrays(a1, a2, 4 * H, 1e-5, "lstm act");
                close_arrays(c1 + j0, c2 + j0, j1 - j0, 1e-5, "lstm c");
                close_arrays(m1 + j0, m2 + j0, j1 - j0, 1e-5, "lstm m");

                fill(dm, H, 1);
                fill(dc1, H, 1);
                memcpy(dc2, dc1, sizeof dc1);
                memset(g1, 0, sizeof g1);
                memset(g2, 0, sizeof g2);
                simd_set_level(l);
                k_lstm_bwd(a2, H, j0, j1, t2, cp, dm, dc1, g1);
                simd_set_level(SIMD_PORTABLE);
                k_lstm_bwd(a2, H, j0, j1, t2, cp, dm, dc2, g2);
                close_arrays(g1, g2, 4 * H, 1e-5, "lstm grad");
                close_arrays(dc1, dc2, H, 1e-5, "lstm dc");

                fill(x, 3 * H, 3);
                fill(gh, 3 * H, 3);
                fill(hp, H, 1);
                memset(a1, 0, sizeof a1);
                memset(a2, 0, sizeof a2);
                simd_set_level(l);
                k_gru_fwd(x, gh, hp, H, j0, j1, a1, ax1, h1);
                simd_set_level(SIMD_PORTABLE);
                k_gru_fwd(x, gh, hp, H, j0, j1, a2, ax2, h2);
                close_arrays(a1, a2, 3 * H, 1e-5, "gru act");
                close_arrays(h1 + j0, h2 + j0, j1 - j0, 1e-5, "gru h");

                fill(dy, H, 1);
                fill(dh1, H, 1);
                memcpy(dh2, dh1, sizeof dh1);
                memset(dgx1, 0, sizeof dgx1);
                memset(dgx2, 0, sizeof dgx2);
                memset(dgh1, 0, sizeof dgh1);
                memset(dgh2, 0, sizeof dgh2);
                simd_set_level(l);
                k_gru_bwd(a2, hp, ax2, dy, H, j0, j1, dh1, dgx1, dgh1);
                simd_set_level(SIMD_PORTABLE);
                k_gru_bwd(a2, hp, ax2, dy, H, j0, j1, dh2, dgx2, dgh2);
                close_arrays(dgx1, dgx2, 3 * H, 1e-5, "gru dgx");
                close_arrays(dgh1, dgh2, 3 * H, 1e-5, "gru dgh");
                close_arrays(dh1, dh2, H, 1e-5, "gru dh");

                fill(dh1, H, 1);
                memcpy(dh2, dh1, sizeof dh1);
                simd_set_level(l);
                k_rnn_tanh_bwd(hp, dy, j0, j1, dh1, g1);
                simd_set_level(SIMD_PORTABLE);
                k_rnn_tanh_bwd(hp, dy, j0, j1, dh2, g2);
                close_arrays(g1 + j0, g2 + j0, j1 - j0, 1e-5, "rnn grad");
                close_arrays(dh1, dh2, H, 0, "rnn dh");
            }
    simd_set_level(top);
}

static void test_softmax_rows(void **state)
{
    (void)state;
    int top = max_level();
    float z[300], g1[300], g2[300];
    for (int l = SIMD_AVX2; l <= top; l++)
        for (int n = 1; n <= 300; n += 7) {
            fill(z, n, 30);
            float m1, m2;
            simd_set_level(l);
            double l1 = k_row_lse(z, n, &m1);
            k_row_softmax_scale(z, n, m1, l1 - m1, 0.25, g1);
            simd_set_level(SIMD_PORTABLE);
            double l2 = k_row_lse(z, n, &m2);
            k_row_softmax_scale(z, n, m2, l2 - m2, 0.25, g2);
            assert_true(m1 == m2);
            assert_true(fabs(l1 - l2) <= 1e-6 * (fabs(l2) + 1));
            close_arrays(g1, g2, n, 1e-5, "softmax");
            /* a NaN or an infinity anywhere gives a non-finite log-sum-exp */
            float keep = z[n / 2];
            const float bad[2] = {NAN, INFINITY};
            for (int b = 0; b < 2; b++) {
                z[n / 2] = bad[b];
                simd_set_level(l);
                assert_false(isfinite(k_row_lse(z, n, &m1)));
            }
            z[n / 2] = keep;
        }
    simd_set_level(top);
}

/* naive op(A) op(B) in double */
static void ref_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb, int acc,
                     const float *C0, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double t = acc ? C0[(size_t)i * ldc + j] : 0;
            for (int k = 0; k < K; k++)
                t += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                     (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            C[(size_t)i * ldc + j] = (float)t;
        }
}

static void check_product(const float *got, const float *want, int M, int N, int ldc, int K, const char *what)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double g = got[(size_t)i * ldc + j], w = want[(size_t)i * ldc + j];
            if (!(fabs(g - w) <= 1e-5 * sqrt((double)K) * (fabs(w) + 1))) {
                fprintf(stderr, "  %s: C[%d][%d] = %.9g, want %.9g\n", what, i, j, g, w);
                fail();
            }
        }
}

static void test_gemm(void **state)
{
    (void)state;
    const int sizes[][3] = {{1, 1, 1},    {1, 65, 512},  {3, 37, 650},  {4, 64, 17},   {5, 33, 16},
                            {12, 32, 320}, {13, 31, 321}, {20, 100, 641}, {25, 97, 700}, {37, 1030, 50},
                            {130, 70, 33}, {11, 2100, 9}, {32, 64, 700}, {48, 40, 30}, {49, 33, 20},
                            {8, 45, 19}};
    const int n_sizes = (int)(sizeof sizes / sizeof *sizes);
    int top = max_level(), own = top == SIMD_AVX512;
    /* the kernels' packing buffers, owned by the caller */
    float *ws = aligned_alloc(64, GEMM_SCRATCH_FLOATS * sizeof *ws);
    assert_non_null(ws);
    for (int si = 0; si < n_sizes; si++) {
        int M = sizes[si][0], N = sizes[si][1], K = sizes[si][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++) {
                    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
                    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
                    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
                    float *C0 = malloc(nc * sizeof *C0), *C = malloc(nc * sizeof *C), *R = malloc(nc * sizeof *R);
                    fill(A, (int)na, 1);
                    fill(B, (int)nb, 1);
                    fill(C0, (int)nc, 1);
                    ref_gemm(ta, tb, M, N, K, A, lda, B, ldb, acc, C0, R, ldc);
                    char what[96];
                    if (own) {
                        memcpy(C, C0, nc * sizeof *C);
                        gemm_f32_avx512(ta, tb, M, N, K, A, lda, B, ldb, acc, C, ldc, ws);
                        snprintf(what, sizeof what, "avx512 %dx%dx%d t%d%d acc%d", M, N, K, ta, tb, acc);
                        check_product(C, R, M, N, ldc, K, what);
                        if (!ta) { /* the packed forms of op(B) */
                            float *P = malloc(gemm_packed_size(N, K) * sizeof *P);
                            if (tb)
                                gemm_pack_bt(B, ldb, N, K, P);
                            else
                                gemm_pack_b(B, ldb, K, N, P);
                            memcpy(C, C0, nc * sizeof *C);
                            gemm_f32_avx512_packed(M, N, K, A, lda, P, K, acc, C, ldc, ws);
                            snprintf(what, sizeof what, "packed %dx%dx%d t%d acc%d", M, N, K, tb, acc);
                            check_product(C, R, M, N, ldc, K, what);
                            free(P);
                        }
                    }
                    /* recur_gemm at every level: threads, the few-row path, whatever kernel */
                    for (int l = SIMD_PORTABLE; l <= top; l++) {
                        simd_set_level(l);
                        memcpy(C, C0, nc * sizeof *C);
                        recur_gemm(ta, tb, M, N, K, 1, A, lda, B, ldb, (float)acc, C, ldc);
                        snprintf(what, sizeof what, "recur_gemm %s %dx%dx%d t%d%d acc%d", level_name(l), M, N, K, ta,
                                 tb, acc);
                        check_product(C, R, M, N, ldc, K, what);
                    }
                    simd_set_level(top);
                    free(A);
                    free(B);
                    free(C0);
                    free(C);
                    free(R);
                }
    }
    free(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_fused_kernels),
        cmocka_unit_test(test_softmax_rows),
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_accuracy_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
