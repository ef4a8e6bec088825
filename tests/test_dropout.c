/*
 * test_dropout.c - the dropout masks (src/engine/dropout.c).
 *
 * For p in {0.1, 0.25, 0.5, 0.9} over 2,000,001 elements (odd, so the last
 * pair is half used): every mask value is 0 or exactly 1/(1-p) and dst =
 * src * mask; the share dropped is within 5 standard deviations of p; the
 * two elements of a pair, and neighbouring pairs, are independent (both
 * dropped within 5 sd of p^2); the mask is the same on 1 and 2 threads and
 * in place (dst = src); another key gives another mask.  Every mask value
 * equals the documented draw (SplitMix64 of key + (q+1) gamma, low half for
 * the even element of pair q), computed here on its own, for whole tensors
 * and for shares of a larger one at odd offsets and strides (which reach
 * the vector path's odd starts, runs of 16 and tails).
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

#include "engine/dropout.h"
#include "engine/threads.h"

#define N 2000001

static void check_share(const char *what, double got, double want, size_t n)
{
    double sd = sqrt(want * (1 - want) / (double)n);
    printf("  %-28s %.6f (want %.6f, %.1f sd)\n", what, got, want, fabs(got - want) / sd);
    if (!(fabs(got - want) <= 5 * sd))
        fail_msg("%s: %.6f, want %.6f +- %.6f", what, got, want, 5 * sd);
}

static void test_masks(void **state)
{
    (void)state;
    const float ps[] = {0.1f, 0.25f, 0.5f, 0.9f};
    recur_real *src = malloc(N * sizeof *src), *dst = malloc(N * sizeof *dst);
    recur_real *mask = malloc(N * sizeof *mask), *mask1 = malloc(N * sizeof *mask1);
    assert_true(src && dst && mask && mask1);
    for (size_t i = 0; i < N; i++)
        src[i] = (recur_real)(1.0 + 0.001 * (double)(i % 1000));
    for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
        float p = ps[k];
        recur_real keep = (recur_real)(1.0 / (1.0 - (double)p));
        uint64_t key = 0x1234567ull * (k + 1);
        par_set_num_threads(2);
        dropout_draw(key, p, mask, dst, src, N);
        size_t dropped = 0, both = 0, next = 0;
        for (size_t i = 0; i < N; i++) {
            if (!(mask[i] == 0 || mask[i] == keep))
                fail_msg("p %.2f: mask[%zu] = %g", p, i, (double)mask[i]);
            if (dst[i] != src[i] * mask[i])
                fail_msg("p %.2f: dst[%zu] = %g, not src * mask", p, i, (double)dst[i]);
            dropped += mask[i] == 0;
        }
        for (size_t i = 0; i + 1 < N; i += 2) {
            both += mask[i] == 0 && mask[i + 1] == 0;     /* the two halves of one draw */
            if (i + 2 < N)
                next += mask[i + 1] == 0 && mask[i + 2] == 0; /* neighbouring draws */
        }
        char what[64];
        snprintf(what, sizeof what, "p %.2f dropped", p);
        check_share(what, (double)dropped / N, p, N);
        snprintf(what, sizeof what, "p %.2f pair both", p);
        check_share(what, (double)both / (N / 2), (double)p * p, N / 2);
        snprintf(what, sizeof what, "p %.2f neighbours both", p);
        check_share(what, (double)next / (N / 2), (double)p * p, N / 2);

        par_set_num_threads(1);
        memcpy(dst, src, N * sizeof *dst);
        dropout_draw(key, p, mask1, dst, dst, N); /* in place */
        assert_memory_equal(mask, mask1, N * sizeof *mask);
        for (size_t i = 0; i < N; i++)
            if (dst[i] != src[i] * mask[i])
                fail_msg("p %.2f in place: dst[%zu] differs", p, i);
        dropout_draw(key + 1, p, mask1, dst, src, N);
        size_t same = 0;
        for (size_t i = 0; i < N; i++)
            same += mask1[i] == mask[i];
        double agree = (double)p * p + (1.0 - p) * (1.0 - p);
        check_share("another key agrees", (double)same / N, agree, N);
    }
    par_set_num_threads(0);
    free(src);
    free(dst);
    free(mask);
    free(mask1);
}

/* The documented draw of global element g. */
static recur_real ref_mask(uint64_t key, float p, size_t g)
{
    uint64_t z = key + ((uint64_t)(g / 2) + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const uint64_t bits = g % 2 ? z >> 32 : z & 0xffffffffu;
    return bits < (uint64_t)((double)p * 4294967296.0) ? 0 : (recur_real)(1.0 / (1.0 - (double)p));
}

static void test_against_formula(void **state)
{
    (void)state;
    enum { M = 5000 };
    recur_real *src = malloc(M * sizeof *src), *dst = malloc(M * sizeof *dst), *mask = malloc(M * sizeof *mask);
    assert_true(src && dst && mask);
    for (size_t i = 0; i < M; i++)
        src[i] = (recur_real)(0.5 + 0.01 * (double)(i % 97));
    /* (rows, row_len, stride, offset): whole, and shares at odd places */
    static const size_t shapes[][4] = {{1, M, M, 0}, {1, 4999, 4999, 0}, {7, 650, 1301, 651}, {13, 33, 67, 1},
                                       {40, 17, 40, 23}, {3, 1000, 3001, 2000}, {100, 16, 32, 16}};
    for (int threads = 1; threads <= 2; threads++) {
        par_set_num_threads(threads);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int pk = 0; pk < 3; pk++) {
                const float p = pk == 0 ? 0.5f : pk == 1 ? 0.1f : 0.9f;
                const uint64_t key = 0xfeedbeefull * (s + 1) + (uint64_t)pk;
                const size_t rows = shapes[s][0], len = shapes[s][1], stride = shapes[s][2], off = shapes[s][3];
                dropout_draw_share(key, p, mask, dst, src, rows, len, stride, off);
                for (size_t r = 0; r < rows; r++)
                    for (size_t c = 0; c < len; c++) {
                        const size_t i = r * len + c;
                        const recur_real want = ref_mask(key, p, r * stride + off + c);
                        if (mask[i] != want || dst[i] != src[i] * want)
                            fail_msg("shape %zu, p %.1f, %d threads: mask[%zu] = %g, want %g", s, p, threads, i,
                                     (double)mask[i], (double)want);
                    }
            }
    }
    par_set_num_threads(0);
    free(src);
    free(dst);
    free(mask);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_masks), cmocka_unit_test(test_against_formula)};
    return cmocka_run_group_tests_name("dropout", tests, NULL, NULL);
}
