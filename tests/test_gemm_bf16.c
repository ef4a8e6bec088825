/*
 * test_gemm_bf16.c - the bfloat16 products (engine/gemm_bf16.h) against a
 * float64 reference of the same rounded inputs:
 *   - rounding: bf16_from_float against an independent rounding in double
 *     (frexp, nearbyint to 8 significant bits) over a sweep of float bit
 *     patterns, and the vector rounding against the scalar one, with the
 *     edges (ties, overflow to infinity, subnormals, NaN, signed zeros) and
 *     every upper half with the low halves that decide the rounding, on the
 *     CPU's conversion (vcvtneps2bf16) and on the integer steps;
 *   - each kernel this CPU can run (AMX, vdpbf16ps, portable; a kernel the
 *     CPU lacks is reported as skipped, with the reason) at every transpose,
 *     with and without accumulation, over shapes that cross the tile edges
 *     (M around 12, 16 and 32; N around 16 and 32; K odd, around 32, and not
 *     a multiple of it), and on a slice of a packing (k0, j0 offsets), as
 *     the GRU's backward reads one; the packings with either rounding.
 * The products of two bfloat16 values are exact in float, so each result may
 * differ from the reference only by the float sums: at most (K + 4) * 2^-24
 * * sum |a b| (+ |C|).  Rounding the inputs any other way (truncating, say)
 * misses by about 2^-9 of the products' size and fails.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/gemm_bf16.h"
#include "engine/simd.h"
#include "recur.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* x rounded to 8 significant bits, ties to even, in double (subnormals: 0). */
static double ref_round(float x)
{
    if (x == 0 || fabsf(x) < 0x1p-126f)
        return copysign(0.0, x);
    if (isinf(x))
        return x;
    int e;
    double m = frexp((double)x, &e); /* 0.5 <= |m| < 1 */
    double r = ldexp(nearbyint(m * 256.0), e - 8);
    return fabs(r) >= 0x1p128 ? copysign(INFINITY, r) : r; /* past the largest bfloat16: infinity */
}

static void test_rounding(void **state)
{
    (void)state;
    long checked = 0;
    for (uint64_t u = 0; u <= 0xFFFFFFFFu; u += 997) {
        float x = from_bits((uint32_t)u);
        if (isnan(x)) {
            assert_true(isnan(bf16_to_float(bf16_from_float(x))));
            continue;
        }
        double want = ref_round(x);
        double got = bf16_to_float(bf16_from_float(x));
        if (want != got || signbit(want) != signbit(got))
            fail_msg("bf16 of %a (0x%08x): %a, want %a", (double)x, (unsigned)u, got, want);
        checked++;
    }
    assert_true(checked > 4000000);
    /* the edges, and the vector path against the scalar one */
    const float edge[] = {0.0f, -0.0f, 1.0f, 1.00390625f /* tie, to even: 1 */, 1.01171875f /* tie, up */,
                          0x1p-126f, 0x1.fffffep-127f /* subnormal */, -0x1p-149f, 0x1.fffffep127f /* to inf */,
                          INFINITY, -INFINITY, NAN, from_bits(0x7F800001u) /* NaN, low bits only */, 3.0e38f,
                          -1.5f, 65504.0f};
    const int n = (int)(sizeof edge / sizeof *edge);
    assert_true(bf16_to_float(bf16_from_float(1.00390625f)) == 1.0f);
    assert_true(bf16_to_float(bf16_from_float(1.01171875f)) == 1.015625f);
    assert_true(isinf(bf16_to_float(bf16_from_float(0x1.fffffep127f))));
    assert_true(isnan(bf16_to_float(bf16_from_float(from_bits(0x7F800001u)))));
    float xs[1000];
    uint16_t vec[1000];
    srand(7);
    for (int i = 0; i < 1000; i++)
        xs[i] = i < n ? edge[i] : from_bits(((uint32_t)rand() << 16) ^ (uint32_t)rand());
    const int has_native = bf16_native_rounding(1);
    for (int native = has_native; native >= 0; native--) {
        bf16_native_rounding(native);
        for (int len = 1; len <= 1000; len += len < 40 ? 1 : 97) {
            bf16_round(xs, vec, (size_t)len);
            for (int i = 0; i < len; i++)
                assert_int_equal(vec[i], bf16_from_float(xs[i]));
        }
        /* every upper half (sign, exponent, 7 significand bits: all the
         * classes) with the low halves that decide the rounding */
        static const uint16_t lows[] = {0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xC000, 0xFFFF};
        enum { NL = sizeof lows / sizeof *lows };
        float *all = malloc(sizeof(float) * 65536 * NL);
        uint16_t *got = malloc(sizeof(uint16_t) * 65536 * NL);
        assert_non_null(all);
        assert_non_null(got);
        for (uint32_t hi = 0; hi < 65536; hi++)
            for (int l = 0; l < NL; l++)
                all[hi * NL + (uint32_t)l] = from_bits(hi << 16 | lows[l]);
        bf16_round(all, got, (size_t)65536 * NL);
        for (size_t i = 0; i < (size_t)65536 * NL; i++)
            if (got[i] != bf16_from_float(all[i]))
                fail_msg("%s rounding of 0x%08x: 0x%04x, want 0x%04x", native ? "vcvtneps2bf16" : "integer",
                         (unsigned)((uint32_t)(i / NL) << 16 | lows[i % NL]), got[i], bf16_from_float(all[i]));
        free(all);
        free(got);
    }
    if (!has_native)
        print_message("skipped: the CPU's bfloat16 conversion (no AVX512-BF16 on this CPU, or vector level below "
                      "AVX-512)\n");
    bf16_native_rounding(1);
}

static float urand(void) { return (float)rand() / (float)RAND_MAX * 2.0f - 1.0f; }

/* Runs one product on kernel k and checks it against the reference.  The
 * packing is made for K + koff rows and N + joff columns, and the product
 * reads it from row koff, column joff (a slice). */
static void check_product(bf16_kernel k, int trans_a, int trans_b, int M, int N, int K, int accumulate, int koff,
                          int joff)
{
    const int KK = K + koff, NN = N + joff;
    /* the product stored transposed (trans_c) on every fourth shape */
    const int tc = (M + 3 * N + 5 * K + koff) % 4 == 0, crows = tc ? N : M, ccols = tc ? M : N;
    const int lda = trans_a ? M + 3 : K + 5, ldb = trans_b ? KK + 2 : NN + 7, ldc = ccols + 4;
    float *A = malloc(sizeof(float) * (size_t)(trans_a ? K : M) * lda);
    float *B = malloc(sizeof(float) * (size_t)(trans_b ? NN : KK) * ldb);
    float *C = malloc(sizeof(float) * (size_t)crows * ldc), *C0 = malloc(sizeof(float) * (size_t)crows * ldc);
    const int la = bf16_kpad(K) + 16;
    uint16_t *Ab = malloc(sizeof(uint16_t) * (size_t)bf16_a_rows(M) * la);
    uint16_t *Bp = malloc(sizeof(uint16_t) * bf16_packed_elems(KK, NN));
    assert_non_null(A);
    assert_non_null(B);
    assert_non_null(C);
    assert_non_null(C0);
    assert_non_null(Ab);
    assert_non_null(Bp);
    for (int i = 0; i < (trans_a ? K : M) * lda; i++)
        A[i] = urand();
    for (int i = 0; i < (trans_b ? NN : KK) * ldb; i++)
        B[i] = urand();
    for (int i = 0; i < crows * ldc; i++)
        C[i] = C0[i] = urand();
    bf16_pack_a(trans_a, M, K, A, lda, Ab, la, 0, M);
    bf16_pack_b(trans_b, KK, NN, B, ldb, Bp);
    const size_t ps = bf16_panel_stride(KK);
    const uint16_t *Bs = Bp + (size_t)(joff / BF16_PANEL) * ps + (size_t)(koff / 2) * 32;
    bf16_gemm(k, M, N, K, Ab, la, Bs, ps, accumulate, tc, C, ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, mag = 0;
            for (int p = 0; p < K; p++) {
                double a = ref_round(trans_a ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]);
                double b = ref_round(trans_b ? B[(size_t)(joff + j) * ldb + koff + p]
                                             : B[(size_t)(koff + p) * ldb + joff + j]);
                s += a * b;
                mag += fabs(a * b);
            }
            const size_t at = tc ? (size_t)j * ldc + i : (size_t)i * ldc + j;
            double c0 = C0[at];
            if (accumulate) {
                s += c0;
                mag += fabs(c0);
            }
            double tol = (K + 4) * 0x1p-24 * mag + 1e-30, got = C[at];
            if (!(fabs(got - s) <= tol))
                fail_msg("%s ta=%d tb=%d tc=%d M=%d N=%d K=%d acc=%d k0=%d j0=%d: C[%d][%d] = %.9g, want %.9g "
                         "(tol %.3g)",
                         bf16_kernel_name(k), trans_a, trans_b, tc, M, N, K, accumulate, koff, joff, i, j, got, s,
                         tol);
        }
    /* the columns of C past the product's untouched */
    for (int i = 0; i < crows; i++)
        for (int j = ccols; j < ldc; j++)
            assert_true(C[(size_t)i * ldc + j] == C0[(size_t)i * ldc + j]);
    free(A);
    free(B);
    free(C);
    free(C0);
    free(Ab);
    free(Bp);
}

static void test_kernels(void **state)
{
    (void)state;
    static const int Ms[] = {1, 5, 12, 13, 16, 17, 20, 31, 32, 33, 50};
    static const int Ns[] = {1, 15, 16, 17, 31, 32, 33, 48, 70};
    static const int Ks[] = {1, 2, 7, 31, 32, 33, 64, 95, 200};
    srand(11);
    for (int k = BF16_PORTABLE; k <= BF16_AMX; k++) {
        if (!bf16_kernel_available((bf16_kernel)k)) {
            print_message("skipped: the %s kernel (%s)\n", bf16_kernel_name((bf16_kernel)k),
                          simd_level() < SIMD_AVX512 ? "vector level below AVX-512 (RECUR_SIMD)"
                          : k == BF16_AMX ? "no AMX-BF16 on this CPU, or the kernel refused the tile state"
                                          : "no AVX512-BF16 on this CPU");
            continue;
        }
        int n = 0;
        for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
            for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
                for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++, n++) {
                    int ta = n & 1, tb = (n >> 1) & 1, acc = (n >> 2) & 1;
                    check_product((bf16_kernel)k, ta, tb, Ms[a], Ns[b], Ks[c], acc, 0, 0);
                }
        /* a deep product, the shape of a layer of the PTB model, and slices */
        check_product((bf16_kernel)k, 0, 1, 20, 130, 650, 1, 0, 0);
        check_product((bf16_kernel)k, 1, 0, 40, 50, 701, 0, 0, 0);
        check_product((bf16_kernel)k, 0, 0, 20, 37, 65, 1, 64, 32);
        check_product((bf16_kernel)k, 0, 1, 20, 33, 40, 0, 30, 16);
        check_product((bf16_kernel)k, 0, 0, 7, 64, 33, 1, 2, 48);
        print_message("%s kernel: %d shapes\n", bf16_kernel_name((bf16_kernel)k), n + 5);
    }
    /* the packings again with the integer rounding where the CPU's
     * conversion ran above (every transpose, the tile edges) */
    if (bf16_native_rounding(0)) {
        const bf16_kernel k = bf16_kernel_best();
        int n = 0;
        for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a += 2)
            for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
                for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++, n++)
                    check_product(k, n & 1, (n >> 1) & 1, Ms[a], Ns[b], Ks[c], (n >> 2) & 1, 0, 0);
        check_product(k, 1, 0, 40, 50, 701, 0, 0, 0);
        check_product(k, 0, 0, 20, 37, 65, 1, 64, 32);
        print_message("%s kernel, integer rounding in the packings: %d shapes\n", bf16_kernel_name(k), n + 2);
    }
    bf16_native_rounding(1);
}

/* The pass's product (bf16_product): a weight found in the set (whole, and a
 * slice of it), and one rounded at the call, on 1 and 2 threads, with the
 * threaded split by rows and by columns; each against the same product made
 * with the portable kernel (the same rounded inputs, another summing order). */
static void test_pass_products(void **state)
{
    (void)state;
    const int M = 700, N = 260, K = 650; /* the input projection of a PTB batch, split by rows */
    float *A = malloc(sizeof(float) * (size_t)M * K), *W = malloc(sizeof(float) * (size_t)N * K);
    float *C = malloc(sizeof(float) * (size_t)M * N), *R = malloc(sizeof(float) * (size_t)M * N);
    assert_non_null(A);
    assert_non_null(W);
    assert_non_null(C);
    assert_non_null(R);
    srand(5);
    for (int i = 0; i < M * K; i++)
        A[i] = urand();
    for (int i = 0; i < N * K; i++)
        W[i] = urand();
    bf16_products set = {0};
    bf16_products_reset(&set);
    assert_true(bf16_products_add(&set, 1, K, N, W, K));
    bf16_products portable = set;
    portable.kernel = BF16_PORTABLE;
    for (int nt = 1; nt <= 2; nt++) {
        recur_set_num_threads(nt);
        for (int shape = 0; shape < 7; shape++) {
            /* 0: W^T whole (rows); 1: a slice of W^T at column 32 (columns);
             * 2: A^T B with B not in the set, k (m - n) > 2 m n (made as
             * (B^T A)^T); 3: few rows, serial; 4: A^T B, m < n (as it is);
             * 5: as 2, serial, accumulating; 6: A^T B, m > n, but k small
             * (as it is) */
            const int ata = shape == 2 || shape == 4 || shape == 5 || shape == 6;
            const int m = shape == 1 ? 20 : shape == 3 ? 5 : shape == 2 || shape == 6 ? 300 : shape == 4 ? 40
                        : shape == 5 ? 70 : M;
            const int n = shape == 1 ? 64 : shape == 2 ? 40 : shape == 6 ? 96 : shape == 4 ? 250 : shape == 5 ? 33 : N;
            const int k = shape == 2 ? 650 : ata ? 130 : K, acc = shape == 5;
            const float *B = shape == 1 ? W + (size_t)32 * K : ata ? A : W;
            const int ta = ata, tb = !ata, lda = K, ldb = K; /* A^T (k x m) times A (k x n) */
            for (int i = 0; i < M * N; i++)
                C[i] = R[i] = acc ? urand() : 0;
            double *ref = ata ? malloc(sizeof(double) * (size_t)m * n) : NULL;
            for (int i = 0; ata && i < m; i++) /* an independent reference of the A^T B shapes */
                for (int jj = 0; jj < n; jj++) {
                    double sum = acc ? C[(size_t)i * n + jj] : 0;
                    for (int p = 0; p < k; p++)
                        sum += ref_round(A[(size_t)p * lda + 7 + i]) * ref_round(B[(size_t)p * ldb + jj]);
                    ref[(size_t)i * n + jj] = sum;
                }
            assert_true(bf16_product(&set, shape != 3 && shape != 5, ta, tb, m, n, k, ta ? A + 7 : A, lda, B, ldb,
                                     acc, C, n));
            assert_true(bf16_product(&portable, 0, ta, tb, m, n, k, ta ? A + 7 : A, lda, B, ldb, acc, R, n));
            for (int i = 0; i < m * n; i++) {
                double tol = (k + 4) * 0x1p-24 * 2 * (k + 1); /* |a b|, |c| <= 1 each, two orders of summing */
                if (!(fabs((double)C[i] - R[i]) <= tol) || (ref && !(fabs((double)C[i] - ref[i]) <= tol)))
                    fail_msg("%s, %d threads, shape %d: C[%d] = %.9g, portable %.9g, reference %.9g",
                             bf16_kernel_name(set.kernel), nt, shape, i, C[i], R[i], ref ? ref[i] : 0.0);
            }
            free(ref);
        }
    }
    bf16_products_free(&set);
    free(A);
    free(W);
    free(C);
    free(R);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_pass_products),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
