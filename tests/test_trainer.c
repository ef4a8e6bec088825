/*
 * test_trainer.c - the trainer (recur_train.h) on a toy task that is not a
 * language model: per-step classification of float sequences by a 2-layer
 * GRU with dropout, batches drawn in an order shuffled by epoch.  Checks
 * that a run stopped at any step (a step limit, or the stop flag) and
 * resumed ends with the weights of an uninterrupted run, bit for bit; that
 * early stopping fires at the right epoch; that a non-finite loss or
 * gradient is refused with the step named; that the learning rates applied
 * are the schedules' formulas with warm-up (checked from the SGD update
 * itself); that a second trainer in the same folder is refused.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "recur_train.h"

enum { N = 24, T = 6, B = 4, F = 3, C = 2, STEPS = N / B };

typedef struct toy {
    recur_model *m;
    recur_run *run;
    recur_real x[N][T][F];
    int32_t y[N][T];
    int order[N];
    /* test hooks */
    const double *script; /* evaluation values by call, NULL: the real loss */
    int evals;
    int64_t nan_loss_at, nan_grad_at; /* global step (1-based), 0: never */
    int64_t steps;
    volatile sig_atomic_t *stop_at_flag;
    int64_t stop_at;
    recur_trainer *trainer; /* for the rate checks */
    double lr_seen[64];
    recur_real *prev_params, *prev_grads;
    double max_update_err;
} toy;

static char g_dir[256];

static void toy_data(toy *t)
{
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        double sum = 0;
        for (int k = 0; k < T; k++) {
            for (int f = 0; f < F; f++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                t->x[i][k][f] = (recur_real)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
            }
            sum += t->x[i][k][0];
            t->y[i][k] = sum > 0;
        }
    }
}

static recur_model *toy_model(void)
{
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.rnn.cell = RECUR_CELL_GRU;
    cfg.rnn.input_size = F;
    cfg.rnn.hidden_size = 8;
    cfg.rnn.num_layers = 2;
    cfg.rnn.dropout = 0.3f;
    cfg.dropout_output = 0.2f;
    cfg.output_size = C;
    recur_model *m;
    recur_error err = {0};
    assert_int_equal(recur_model_create(&m, &cfg, 7, &err), RECUR_OK);
    assert_int_equal(recur_model_init_default(m), RECUR_OK);
    return m;
}

static void toy_init(toy *t, recur_model *m)
{
    memset(t, 0, sizeof *t);
    toy_data(t);
    t->m = m;
    recur_error err = {0};
    assert_int_equal(recur_run_create(&t->run, m, T, N, &err), RECUR_OK);
}

static void toy_free(toy *t)
{
    recur_run_free(t->run);
    free(t->prev_params);
    free(t->prev_grads);
}

static int64_t toy_steps(void *ctx)
{
    (void)ctx;
    return STEPS;
}

/* The epoch's order: a permutation drawn from the epoch alone. */
static recur_status toy_epoch_begin(void *ctx, int64_t epoch, int64_t first, char *msg)
{
    (void)first;
    (void)msg;
    toy *t = ctx;
    for (int i = 0; i < N; i++)
        t->order[i] = i;
    uint64_t s = (uint64_t)epoch * 0x9E3779B97F4A7C15ull;
    for (int i = N - 1; i > 0; i--) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int j = (int)((s >> 33) % (uint64_t)(i + 1));
        int k = t->order[i];
        t->order[i] = t->order[j];
        t->order[j] = k;
    }
    return RECUR_OK;
}

static void gather(const toy *t, const int *idx, int nb, recur_real *x, int32_t *y)
{
    for (int k = 0; k < T; k++)
        for (int b = 0; b < nb; b++) {
            memcpy(x + ((size_t)k * nb + b) * F, t->x[idx[b]][k], F * sizeof *x);
            y[k * nb + b] = t->y[idx[b]][k];
        }
}

static recur_status toy_step(void *ctx, int64_t epoch, int64_t index, double *loss_sum,
                             int64_t *count, char *msg)
{
    (void)epoch;
    toy *t = ctx;
    t->steps++;
    size_t np = recur_model_num_params(t->m);
    if (t->trainer) {
        /* the rate of the previous step, seen in the update it made */
        recur_real *p = recur_model_params(t->m);
        if (t->prev_params)
            for (size_t i = 0; i < np; i++) {
                double want = t->prev_params[i] - t->lr_seen[t->steps - 2] * t->prev_grads[i];
                double e = fabs(p[i] - want) / (1e-3 + fabs(want));
                if (e > t->max_update_err)
                    t->max_update_err = e;
            }
        t->lr_seen[t->steps - 1] = recur_trainer_lr(t->trainer);
    }
    recur_real x[T * B * F];
    int32_t y[T * B];
    gather(t, t->order + index * B, B, x, y);
    recur_batch b = {.T = T, .B = B, .inputs = x, .targets = y};
    double loss;
    int64_t n;
    recur_status st = recur_forward(t->run, &b, 1, &loss, &n);
    if (st == RECUR_OK)
        st = recur_backward(t->run, 1.0, NULL, NULL, NULL);
    if (st != RECUR_OK) {
        snprintf(msg, 512, "%s", recur_run_errmsg(t->run));
        return st;
    }
    if (t->nan_loss_at == t->steps) {
        snprintf(msg, 512, "the loss is not finite (nan)");
        return RECUR_ERR_NONFINITE;
    }
    if (t->nan_grad_at == t->steps)
        recur_model_grads(t->m)[3] = (recur_real)NAN;
    if (t->trainer) {
        if (!t->prev_params) {
            t->prev_params = malloc(np * sizeof *t->prev_params);
            t->prev_grads = malloc(np * sizeof *t->prev_grads);
        }
        memcpy(t->prev_params, recur_model_params(t->m), np * sizeof *t->prev_params);
        memcpy(t->prev_grads, recur_model_grads(t->m), np * sizeof *t->prev_grads);
    }
    if (t->stop_at_flag && t->steps == t->stop_at)
        *t->stop_at_flag = 1;
    *loss_sum = loss * (double)n;
    *count = n;
    return RECUR_OK;
}

static recur_status toy_evaluate(void *ctx, recur_eval *ev, char *msg)
{
    (void)msg;
    toy *t = ctx;
    if (t->script) {
        ev->decisive = recur_eval_add(ev, "accuracy", t->script[t->evals++]);
        ev->higher_better = 1;
        return RECUR_OK;
    }
    int idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = i;
    static recur_real x[T * N * F];
    int32_t y[T * N];
    gather(t, idx, N, x, y);
    recur_batch b = {.T = T, .B = N, .inputs = x, .targets = y};
    double loss;
    recur_status st = recur_forward(t->run, &b, 0, &loss, NULL);
    ev->decisive = recur_eval_add(ev, "loss", loss);
    return st;
}

static recur_task toy_task(toy *t)
{
    recur_task k;
    memset(&k, 0, sizeof k);
    k.ctx = t;
    k.unit = "sequence";
    k.epoch_steps = toy_steps;
    k.epoch_begin = toy_epoch_begin;
    k.step = toy_step;
    k.evaluate = toy_evaluate;
    k.extra_config = "{\"task\":\"toy\"}";
    return k;
}

static const char *dir_in(const char *name)
{
    static char buf[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void base_config(recur_trainer_config *c, const char *out)
{
    recur_trainer_config_default(c);
    recur_optim_config_default(&c->optim, RECUR_OPTIM_ADAM);
    c->optim.clip = 0.5;
    c->lr = 0.02;
    c->schedule = RECUR_SCHED_DECAY_AFTER;
    c->decay = 0.5;
    c->decay_start = 1;
    c->warmup_steps = 4;
    c->epochs = 3;
    c->out_dir = dir_in(out);
    c->progress = RECUR_PROGRESS_NONE;
}

/* Trains from scratch (or resumes) in out; returns the run's status. */
static recur_status train(const recur_trainer_config *c, recur_model *m, toy *t)
{
    recur_task k = toy_task(t);
    recur_trainer *tr;
    recur_error err = {0};
    recur_status st = recur_trainer_create(&tr, m, &k, c, &err);
    if (st != RECUR_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return st;
    }
    t->trainer = NULL;
    st = recur_trainer_run(tr);
    if (st != RECUR_OK && st != RECUR_ERR_INTERRUPTED)
        fprintf(stderr, "run: %s\n", recur_trainer_errmsg(tr));
    recur_trainer_free(tr);
    return st;
}

/* The model of OUT/last.safetensors. */
static recur_model *load_last(const char *out)
{
    char path[700];
    snprintf(path, sizeof path, "%s/last.safetensors", dir_in(out));
    recur_checkpoint *ck;
    recur_error err = {0};
    assert_int_equal(recur_checkpoint_open(&ck, path, &err), RECUR_OK);
    recur_model *m;
    assert_int_equal(recur_checkpoint_load_model(ck, &m, &err), RECUR_OK);
    recur_checkpoint_close(ck);
    return m;
}

static void test_resume_at_any_step(void **state)
{
    (void)state;
    recur_trainer_config c;
    base_config(&c, "full");
    recur_model *ref = toy_model();
    toy t;
    toy_init(&t, ref);
    assert_int_equal(train(&c, ref, &t), RECUR_OK);
    toy_free(&t);
    size_t np = recur_model_num_params(ref);

    const int64_t stops[] = {1, 5, 6, 7, 11, 13, 17};
    for (size_t s = 0; s < sizeof stops / sizeof *stops; s++) {
        for (int by_flag = 0; by_flag < 2; by_flag++) {
            char name[32];
            snprintf(name, sizeof name, "stop%lld_%d", (long long)stops[s], by_flag);
            base_config(&c, name);
            volatile sig_atomic_t flag = 0;
            recur_model *m = toy_model();
            toy_init(&t, m);
            if (by_flag) {
                c.stop_flag = &flag;
                t.stop_at_flag = &flag;
                t.stop_at = stops[s];
                assert_int_equal(train(&c, m, &t), RECUR_ERR_INTERRUPTED);
            } else {
                c.max_steps = stops[s];
                assert_int_equal(train(&c, m, &t), RECUR_OK);
            }
            assert_int_equal(t.steps, stops[s]);
            toy_free(&t);
            recur_model_free(m);

            base_config(&c, name);
            c.resume = 1;
            m = load_last(name);
            toy_init(&t, m);
            assert_int_equal(train(&c, m, &t), RECUR_OK);
            assert_int_equal(t.steps, 3 * STEPS - stops[s]);
            if (memcmp(recur_model_params(m), recur_model_params(ref), np * sizeof(recur_real))) {
                fprintf(stderr, "stop at step %lld (%s): weights differ from the uninterrupted run\n",
                        (long long)stops[s], by_flag ? "stop flag" : "max_steps");
                fail();
            }
            toy_free(&t);
            recur_model_free(m);
        }
    }
    recur_model_free(ref);
}

static void test_early_stopping(void **state)
{
    (void)state;
    /* best at epoch 2; three epochs without improvement end the run after epoch 5 */
    static const double acc[] = {0.5, 0.7, 0.6, 0.65, 0.69, 0.9, 0.95, 0.99};
    recur_trainer_config c;
    base_config(&c, "early");
    c.epochs = 8;
    c.early_stop = 3;
    recur_model *m = toy_model();
    toy t;
    toy_init(&t, m);
    t.script = acc;
    recur_task k = toy_task(&t);
    recur_trainer *tr;
    recur_error err = {0};
    assert_int_equal(recur_trainer_create(&tr, m, &k, &c, &err), RECUR_OK);
    assert_int_equal(recur_trainer_run(tr), RECUR_OK);
    assert_int_equal(recur_trainer_stop_reason(tr), RECUR_STOP_EARLY);
    assert_int_equal(recur_trainer_state(tr)->epoch, 5);
    assert_int_equal(t.evals, 5);
    assert_true(recur_trainer_state(tr)->best_val == -0.7);
    assert_true(recur_trainer_has_best(tr));
    recur_trainer_free(tr);
    toy_free(&t);
    recur_model_free(m);

    /* resumed, it stays stopped */
    base_config(&c, "early");
    c.epochs = 8;
    c.early_stop = 3;
    c.resume = 1;
    m = load_last("early");
    toy_init(&t, m);
    t.script = acc + 5;
    assert_int_equal(train(&c, m, &t), RECUR_OK);
    assert_int_equal(t.steps, 0);
    toy_free(&t);
    recur_model_free(m);
}

static void expect_refused(const char *out, int64_t nan_loss_at, int64_t nan_grad_at,
                           const char *needle)
{
    recur_trainer_config c;
    base_config(&c, out);
    recur_model *m = toy_model();
    toy t;
    toy_init(&t, m);
    t.nan_loss_at = nan_loss_at;
    t.nan_grad_at = nan_grad_at;
    recur_task k = toy_task(&t);
    recur_trainer *tr;
    recur_error err = {0};
    assert_int_equal(recur_trainer_create(&tr, m, &k, &c, &err), RECUR_OK);
    assert_int_equal(recur_trainer_run(tr), RECUR_ERR_NONFINITE);
    assert_int_equal(recur_trainer_stop_reason(tr), RECUR_STOP_ERROR);
    if (!strstr(recur_trainer_errmsg(tr), needle)) {
        fprintf(stderr, "'%s' lacks '%s'\n", recur_trainer_errmsg(tr), needle);
        fail();
    }
    recur_trainer_free(tr);
    toy_free(&t);
    recur_model_free(m);
}

static void test_nonfinite(void **state)
{
    (void)state;
    expect_refused("nanloss", 8, 0, "epoch 2, step 8: the loss is not finite");
    expect_refused("nangrad", 0, 3, "epoch 1, step 3: ");
}

/* The rate of each step, as the SGD update applied it, against the formula. */
static void check_rates(recur_sched_kind kind, const double *script, const double *want_epoch_lr,
                        int64_t warmup)
{
    recur_trainer_config c;
    base_config(&c, kind == RECUR_SCHED_PLATEAU ? "rates_plateau" : "rates_decay");
    recur_optim_config_default(&c.optim, RECUR_OPTIM_SGD);
    c.lr = 0.1;
    c.schedule = kind;
    c.decay = 0.5;
    c.decay_start = 1;
    c.patience = 1;
    c.warmup_steps = warmup;
    c.epochs = 5;
    recur_model *m = toy_model();
    toy t;
    toy_init(&t, m);
    t.script = script;
    recur_task k = toy_task(&t);
    recur_trainer *tr;
    recur_error err = {0};
    assert_int_equal(recur_trainer_create(&tr, m, &k, &c, &err), RECUR_OK);
    t.trainer = tr;
    assert_int_equal(recur_trainer_run(tr), RECUR_OK);
    assert_int_equal(t.steps, 5 * STEPS);
    for (int s = 0; s < 5 * STEPS; s++) {
        double w = want_epoch_lr[s / STEPS];
        if (s < warmup)
            w *= (double)(s + 1) / (double)warmup;
        if (fabs(t.lr_seen[s] - w) > 1e-15 * w) {
            fprintf(stderr, "step %d: rate %.17g, formula %.17g\n", s + 1, t.lr_seen[s], w);
            fail();
        }
    }
    /* the rates were applied: p' = p - lr g for every step after the first */
    if (t.max_update_err > 1e-5) {
        fprintf(stderr, "SGD update off the rate by %g\n", t.max_update_err);
        fail();
    }
    recur_trainer_free(tr);
    toy_free(&t);
    recur_model_free(m);
}

static void test_schedule_rates(void **state)
{
    (void)state;
    /* decay after epoch 1: lr0 * 0.5^(e - 1), warm-up over the first 9 steps */
    static const double any[] = {0.5, 0.5, 0.5, 0.5, 0.5};
    const double decay[] = {0.1, 0.05, 0.025, 0.0125, 0.00625};
    check_rates(RECUR_SCHED_DECAY_AFTER, any, decay, 9);
    /* plateau, patience 1 (on accuracy): better, better, worse, worse -> halved for epoch 5 */
    static const double acc[] = {0.5, 0.6, 0.55, 0.58, 0.9};
    const double plateau[] = {0.1, 0.1, 0.1, 0.1, 0.05};
    check_rates(RECUR_SCHED_PLATEAU, acc, plateau, 0);
}

static void test_folder_locked(void **state)
{
    (void)state;
    recur_trainer_config c;
    base_config(&c, "locked");
    recur_model *m = toy_model();
    toy t;
    toy_init(&t, m);
    recur_task k = toy_task(&t);
    recur_trainer *a, *b;
    recur_error err = {0};
    assert_int_equal(recur_trainer_create(&a, m, &k, &c, &err), RECUR_OK);
    assert_int_equal(recur_trainer_create(&b, m, &k, &c, &err), RECUR_ERR_STATE);
    assert_non_null(strstr(err.msg, "in use by another run"));
    recur_trainer_free(a);
    assert_int_equal(recur_trainer_create(&b, m, &k, &c, &err), RECUR_OK);
    recur_trainer_free(b);
    toy_free(&t);
    recur_model_free(m);
}

/* Metadata no model file could hold is refused before training (it was
 * found when the first checkpoint failed, after an epoch), and the writer
 * refuses a header its reader would refuse. */
static void test_metadata_too_large(void **state)
{
    (void)state;
    recur_trainer_config c;
    base_config(&c, "huge");
    recur_model *m = toy_model();
    toy t;
    toy_init(&t, m);
    recur_task k = toy_task(&t);
    size_t n = 101u << 20;
    char *big = malloc(n + 3);
    assert_non_null(big);
    memset(big, 'a', n + 2);
    big[0] = '"';
    big[n + 1] = '"';
    big[n + 2] = '\0';
    recur_meta_entry meta[1] = {{"recur.vocab", big}};
    k.meta = meta;
    k.n_meta = 1;
    recur_trainer *tr = NULL;
    recur_error err = {0};
    assert_int_equal(recur_trainer_create(&tr, m, &k, &c, &err), RECUR_ERR_ARG);
    assert_null(tr);
    assert_non_null(strstr(err.msg, "metadata"));
    char path[600];
    snprintf(path, sizeof path, "%s/huge.safetensors", g_dir);
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, path, NULL, meta, 1, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "not written"));
    assert_int_equal(access(path, F_OK), -1);
    free(big);
    toy_free(&t);
    recur_model_free(m);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/recur_test_trainer_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    recur_set_num_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_at_any_step), cmocka_unit_test(test_early_stopping),
        cmocka_unit_test(test_nonfinite),          cmocka_unit_test(test_schedule_rates),
        cmocka_unit_test(test_folder_locked),      cmocka_unit_test(test_metadata_too_large),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
