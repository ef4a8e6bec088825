/*
 * test_dropout.c - the dropout masks (src/engine/dropout.c).
 *
 * For p in {0.1, 0.25, 0.5, 0.9} over 2,000,001 elements (odd, so the last
 * pair is half used): every mask value is 0 or exactly 1/(1-p) and dst =
 * src * mask; the share dropped is within 5 standard deviations of p; the
 * two elements of a pair, and neighbouring pairs, are independent (both
 * dropped within 5 sd of p^2); the mask is the same on 1 and 2 threads and
 * in place (dst = src); another key gives another mask.
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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_masks)};
    return cmocka_run_group_tests_name("dropout", tests, NULL, NULL);
}
