/*
 * test_sample.c - sampling from logits: temperature 0 is the argmax (lowest
 * id on ties), temperature scales the softmax, top-k keeps exactly k tokens,
 * top-p keeps the shortest prefix reaching the mass, parameters out of range
 * are refused, and a sampler's draws follow its distribution and its seed.
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

#include "recur.h"

/* One draw that must succeed. */
static int32_t draw(recur_sampler *s, const recur_real *logits)
{
    int32_t tok = -1;
    assert_int_equal(recur_sampler_next(s, logits, &tok), RECUR_OK);
    return tok;
}

static void test_greedy(void **state)
{
    (void)state;
    recur_error err = {0};
    recur_real logits[5] = {0.1f, 2.0f, -1.0f, 2.0f, 0.0f};
    double p[5];
    assert_int_equal(recur_sample_distribution(logits, 5, 0.0, 0, 1.0, p, &err), RECUR_OK);
    double want[5] = {0, 1, 0, 0, 0};
    for (int i = 0; i < 5; i++)
        assert_true(p[i] == want[i]);
    recur_sampler *s;
    assert_int_equal(recur_sampler_create(&s, 5, 0.0, 0, 1.0, 7, &err), RECUR_OK);
    for (int k = 0; k < 10; k++)
        assert_int_equal(draw(s, logits), 1);
    recur_sampler_free(s);
}

static void test_temperature(void **state)
{
    (void)state;
    recur_error err = {0};
    recur_real logits[3] = {1.0f, 2.0f, 3.0f};
    double p[3];
    assert_int_equal(recur_sample_distribution(logits, 3, 2.0, 0, 1.0, p, &err), RECUR_OK);
    double z = exp(0.5) + exp(1.0) + exp(1.5);
    assert_true(fabs(p[0] - exp(0.5) / z) < 1e-12);
    assert_true(fabs(p[2] - exp(1.5) / z) < 1e-12);
}

static void test_top_k_top_p(void **state)
{
    (void)state;
    recur_error err = {0};
    /* probabilities 0.4 0.3 0.2 0.1 from logs */
    recur_real logits[4] = {(recur_real)log(0.1), (recur_real)log(0.4), (recur_real)log(0.2),
                            (recur_real)log(0.3)};
    double p[4];
    assert_int_equal(recur_sample_distribution(logits, 4, 1.0, 2, 1.0, p, &err), RECUR_OK);
    assert_true(p[0] == 0 && p[2] == 0);
    assert_true(fabs(p[1] - 0.4 / 0.7) < 1e-6 && fabs(p[3] - 0.3 / 0.7) < 1e-6);
    /* top-p 0.65: 0.4 + 0.3 = 0.7 >= 0.65 keeps two */
    assert_int_equal(recur_sample_distribution(logits, 4, 1.0, 0, 0.65, p, &err), RECUR_OK);
    assert_true(p[0] == 0 && p[2] == 0);
    assert_true(fabs(p[1] + p[3] - 1) < 1e-12);
    /* top-p 0.75 needs three */
    assert_int_equal(recur_sample_distribution(logits, 4, 1.0, 0, 0.75, p, &err), RECUR_OK);
    assert_true(p[0] == 0 && p[2] > 0);
    assert_true(fabs(p[2] - 0.2 / 0.9) < 1e-6);
    /* tiny top-p keeps the most likely token only */
    assert_int_equal(recur_sample_distribution(logits, 4, 1.0, 0, 1e-9, p, &err), RECUR_OK);
    assert_true(p[1] == 1);
    /* top-k then top-p on the renormalised top-k mass: (0.4/0.9) < 0.5 <= (0.7/0.9) */
    assert_int_equal(recur_sample_distribution(logits, 4, 1.0, 3, 0.5, p, &err), RECUR_OK);
    assert_true(p[0] == 0 && p[2] == 0 && p[1] > 0 && p[3] > 0);
}

static void test_bad_params(void **state)
{
    (void)state;
    recur_error err = {0};
    recur_real logits[2] = {0, 1};
    double p[2];
    recur_sampler *s;
    assert_int_equal(recur_sample_distribution(logits, 2, -0.5, 0, 1.0, p, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "temperature"));
    assert_int_equal(recur_sample_distribution(logits, 2, 1.0, -1, 1.0, p, &err), RECUR_ERR_ARG);
    assert_int_equal(recur_sample_distribution(logits, 2, 1.0, 0, 0.0, p, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "top-p"));
    assert_int_equal(recur_sample_distribution(logits, 2, 1.0, 0, 1.5, p, &err), RECUR_ERR_ARG);
    assert_int_equal(recur_sampler_create(&s, 2, NAN, 0, 1.0, 1, &err), RECUR_ERR_ARG);
    logits[1] = (recur_real)NAN;
    assert_int_equal(recur_sample_distribution(logits, 2, 1.0, 0, 1.0, p, &err),
                     RECUR_ERR_NONFINITE);
    assert_int_equal(recur_sampler_create(&s, 2, 1.0, 0, 1.0, 1, &err), RECUR_OK);
    int32_t tok = 7;
    assert_int_equal(recur_sampler_next(s, logits, &tok), RECUR_ERR_NONFINITE);
    assert_int_equal(tok, -1);
    assert_non_null(strstr(recur_sampler_errmsg(s), "not finite"));
    recur_sampler_free(s);
}

static void test_frequencies(void **state)
{
    (void)state;
    recur_error err = {0};
    recur_real logits[3] = {(recur_real)log(0.5), (recur_real)log(0.3), (recur_real)log(0.2)};
    recur_sampler *s, *s2;
    assert_int_equal(recur_sampler_create(&s, 3, 1.0, 0, 1.0, 42, &err), RECUR_OK);
    assert_int_equal(recur_sampler_create(&s2, 3, 1.0, 0, 1.0, 42, &err), RECUR_OK);
    int counts[3] = {0};
    const int N = 20000;
    for (int i = 0; i < N; i++) {
        int32_t a = draw(s, logits);
        assert_int_equal(a, draw(s2, logits));
        counts[a]++;
    }
    assert_true(fabs(counts[0] / (double)N - 0.5) < 0.02);
    assert_true(fabs(counts[1] / (double)N - 0.3) < 0.02);
    assert_true(fabs(counts[2] / (double)N - 0.2) < 0.02);
    recur_sampler_free(s);
    recur_sampler_free(s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),    cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_top_k_top_p), cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_frequencies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
