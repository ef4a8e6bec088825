/*
 * test_concurrency.c - what recur.h promises about threads, checked: two
 * application threads using one model at once, each with its own run (or
 * stepper), get exactly the results of one thread doing the same work alone
 * (inference: forward with training = 0, and steppers, only read the
 * weights).  Built with -fsanitize=thread by `make tsan-check` (run by
 * scripts/test.sh), where any data race between the two is an error.  Two
 * models on two threads are independent by construction (no global state
 * but the thread pool, which runs a second caller's job on its own thread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "recur.h"

enum { V = 37, E = 24, H = 40, T = 12, B = 6, ROUNDS = 6 };

typedef struct job {
    recur_model *m;
    int seed;
    recur_real out[ROUNDS][T * B * H];
    recur_real step_logits[ROUNDS][V];
    int ok;
} job;

static void tokens_for(int seed, int round, int32_t *tok)
{
    for (int i = 0; i < T * B; i++)
        tok[i] = (int32_t)((i * 7 + seed * 13 + round * 5) % V);
}

static void *work(void *arg)
{
    job *j = arg;
    recur_error err;
    recur_run *r = NULL;
    recur_stepper *s = NULL;
    j->ok = recur_run_create(&r, j->m, T, B, &err) == RECUR_OK && recur_stepper_create(&s, j->m, &err) == RECUR_OK;
    for (int k = 0; j->ok && k < ROUNDS; k++) {
        int32_t tok[T * B], lengths[B];
        tokens_for(j->seed, k, tok);
        for (int b = 0; b < B; b++)
            lengths[b] = T - (b + k + j->seed) % 5;
        recur_batch batch = {.T = T, .B = B, .tokens = tok, .lengths = lengths};
        j->ok = recur_forward(r, &batch, 0, NULL, NULL) == RECUR_OK;
        if (j->ok)
            memcpy(j->out[k], recur_run_outputs(r), sizeof j->out[k]);
        recur_stepper_reset(s, NULL, NULL);
        for (int t = 0; j->ok && t < T; t++)
            j->ok = recur_stepper_feed(s, tok[t * B]) == RECUR_OK;
        if (j->ok)
            memcpy(j->step_logits[k], recur_stepper_logits(s), sizeof j->step_logits[k]);
    }
    recur_stepper_free(s);
    recur_run_free(r);
    return NULL;
}

static void test_two_threads_one_model(void **state)
{
    (void)state;
    recur_model_config c;
    recur_model_config_default(&c);
    c.vocab_size = V;
    c.embed_size = E;
    c.output_size = V;
    c.rnn.hidden_size = H;
    c.rnn.num_layers = 2;
    recur_model *m = NULL;
    recur_error err;
    assert_int_equal(recur_model_create(&m, &c, 11, &err), RECUR_OK);

    /* alone, one after the other */
    static job alone[2], together[2];
    for (int i = 0; i < 2; i++) {
        alone[i].m = together[i].m = m;
        alone[i].seed = together[i].seed = i + 1;
        work(&alone[i]);
        assert_true(alone[i].ok);
    }
    /* at once */
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, work, &together[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_true(together[i].ok);
        assert_memory_equal(together[i].out, alone[i].out, sizeof alone[i].out);
        assert_memory_equal(together[i].step_logits, alone[i].step_logits, sizeof alone[i].step_logits);
    }
    /* the two threads did different work (the comparison can fail) */
    assert_memory_not_equal(alone[0].out, alone[1].out, sizeof alone[0].out);
    recur_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_threads_one_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
