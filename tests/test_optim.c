/*
 * test_optim.c - optimisers, clipping, schedules, initialisation and
 * determinism, each against values computed here independently (in double,
 * from the update rules as PyTorch documents them), not by the code under
 * test.  (The multi-step LM trajectories against PyTorch itself are in
 * test_trajectory.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "recur.h"

/* A tiny model: a 1-layer RNN with input 2, hidden 2: 12 parameters. */
static recur_model *tiny_model(void)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = RECUR_CELL_RNN_TANH;
    c.rnn.input_size = 2;
    c.rnn.hidden_size = 2;
    recur_model *m;
    recur_error err;
    assert_int_equal(recur_model_create(&m, &c, 5, &err), RECUR_OK);
    assert_int_equal(recur_model_num_params(m), 12);
    float *p = recur_model_params(m);
    for (int i = 0; i < 12; i++)
        p[i] = 0.1f * (float)(i - 6);
    return m;
}

static void set_grads(recur_model *m, int step)
{
    float *g = recur_model_grads(m);
    for (int i = 0; i < 12; i++)
        g[i] = (float)(0.3 * sin(1.0 + i + 2.0 * step));
}

static void check_close(const float *got, const double *want, int n, double tol)
{
    for (int i = 0; i < n; i++)
        if (fabs(got[i] - want[i]) > tol * (1 + fabs(want[i]))) {
            fprintf(stderr, "element %d: got %.9g want %.9g\n", i, got[i], want[i]);
            fail();
        }
}

static void run_steps(recur_optim_kind kind, double momentum, double wd, double clip, int steps)
{
    recur_model *m = tiny_model();
    recur_optim_config oc;
    recur_optim_config_default(&oc, kind);
    oc.momentum = momentum;
    oc.weight_decay = wd;
    oc.clip = clip;
    recur_optim *o;
    recur_error err;
    assert_int_equal(recur_optim_create(&o, m, &oc, &err), RECUR_OK);
    double p[12], buf[12] = {0}, v[12] = {0}, lr = 0.05;
    for (int i = 0; i < 12; i++)
        p[i] = recur_model_params(m)[i];
    for (int s = 1; s <= steps; s++) {
        set_grads(m, s);
        double g[12], sq = 0;
        for (int i = 0; i < 12; i++) {
            g[i] = recur_model_grads(m)[i];
            sq += g[i] * g[i];
        }
        double norm = sqrt(sq), got_norm;
        int clipped;
        if (clip > 0 && norm >= clip)
            for (int i = 0; i < 12; i++)
                g[i] *= clip / norm;
        for (int i = 0; i < 12; i++) {
            if (kind == RECUR_OPTIM_SGD) {
                double d = g[i] + wd * p[i];
                if (momentum > 0) {
                    buf[i] = s == 1 ? d : momentum * buf[i] + d;
                    d = buf[i];
                }
                p[i] -= lr * d;
            } else {
                if (kind == RECUR_OPTIM_ADAMW)
                    p[i] *= 1 - lr * wd;
                double d = g[i] + (kind == RECUR_OPTIM_ADAM ? wd * p[i] : 0);
                buf[i] = 0.9 * buf[i] + 0.1 * d;
                v[i] = 0.999 * v[i] + 0.001 * d * d;
                double mhat = buf[i] / (1 - pow(0.9, s)), vhat = v[i] / (1 - pow(0.999, s));
                p[i] -= lr * mhat / (sqrt(vhat) + 1e-8);
            }
        }
        assert_int_equal(recur_optim_step(o, lr, &got_norm, &clipped), RECUR_OK);
        assert_true(fabs(got_norm - norm) < 1e-6 * norm);
        assert_int_equal(clipped, clip > 0 && norm >= clip);
        check_close(recur_model_params(m), p, 12, 2e-6);
    }
    assert_int_equal(recur_optim_steps(o), steps);
    recur_optim_free(o);
    recur_model_free(m);
}

static void test_sgd(void **s)
{
    (void)s;
    run_steps(RECUR_OPTIM_SGD, 0, 0, 0, 5);
    run_steps(RECUR_OPTIM_SGD, 0.9, 0.01, 0, 5);
    run_steps(RECUR_OPTIM_SGD, 0.5, 0, 0.4, 6); /* the norm is ~0.9: every step clips */
}

static void test_adam_adamw(void **s)
{
    (void)s;
    run_steps(RECUR_OPTIM_ADAM, 0, 0, 0, 6);
    run_steps(RECUR_OPTIM_ADAM, 0, 0.1, 0.5, 6);
    run_steps(RECUR_OPTIM_ADAMW, 0, 0.1, 0, 6);
}

static void test_clip_exact(void **s)
{
    (void)s;
    recur_model *m = tiny_model();
    float *g = recur_model_grads(m);
    memset(g, 0, 12 * sizeof *g);
    g[0] = 3;
    g[5] = 4; /* norm 5 */
    double norm;
    int clipped;
    assert_int_equal(recur_clip_grad_norm(m, 5.0, &norm, &clipped), RECUR_OK);
    assert_true(norm == 5.0 && clipped == 1); /* >= threshold clips (Algorithm 1) */
    assert_true(fabs(g[0] - 3) < 1e-6 && fabs(g[5] - 4) < 1e-6);
    assert_int_equal(recur_clip_grad_norm(m, 1.0, &norm, &clipped), RECUR_OK);
    assert_true(clipped && fabs(g[0] - 0.6) < 1e-6 && fabs(g[5] - 0.8) < 1e-6);
    assert_int_equal(recur_clip_grad_norm(m, 2.0, &norm, &clipped), RECUR_OK);
    assert_true(!clipped && fabs(norm - 1) < 1e-6);
    recur_model_free(m);
}

static void test_nonfinite_refused(void **s)
{
    (void)s;
    for (int kind = RECUR_OPTIM_SGD; kind <= RECUR_OPTIM_ADAMW; kind++) {
        recur_model *m = tiny_model();
        recur_optim_config oc;
        recur_optim_config_default(&oc, (recur_optim_kind)kind);
        oc.momentum = kind == RECUR_OPTIM_SGD ? 0.9 : 0;
        recur_optim *o;
        recur_error err;
        assert_int_equal(recur_optim_create(&o, m, &oc, &err), RECUR_OK);
        set_grads(m, 1);
        assert_int_equal(recur_optim_step(o, 0.1, NULL, NULL), RECUR_OK);
        float before[12];
        memcpy(before, recur_model_params(m), sizeof before);
        set_grads(m, 2);
        recur_model_grads(m)[7] = NAN;
        assert_int_equal(recur_optim_step(o, 0.1, NULL, NULL), RECUR_ERR_NONFINITE);
        assert_non_null(strstr(recur_optim_errmsg(o), "not finite"));
        assert_memory_equal(before, recur_model_params(m), sizeof before);
        assert_int_equal(recur_optim_steps(o), 1);
        recur_model_grads(m)[7] = INFINITY;
        assert_int_equal(recur_optim_step(o, 0.1, NULL, NULL), RECUR_ERR_NONFINITE);
        assert_memory_equal(before, recur_model_params(m), sizeof before);
        /* and the state was not advanced: the next finite step equals a fresh path's */
        recur_optim_free(o);
        recur_model_free(m);
    }
}

static void test_bad_optim_config(void **s)
{
    (void)s;
    recur_model *m = tiny_model();
    recur_optim_config oc;
    recur_optim *o;
    recur_error err;
    recur_optim_config_default(&oc, RECUR_OPTIM_SGD);
    oc.momentum = 1.5;
    assert_int_equal(recur_optim_create(&o, m, &oc, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "momentum"));
    recur_optim_config_default(&oc, RECUR_OPTIM_ADAM);
    oc.eps = 0;
    assert_int_equal(recur_optim_create(&o, m, &oc, &err), RECUR_ERR_ARG);
    recur_optim_config_default(&oc, RECUR_OPTIM_ADAM);
    assert_int_equal(recur_optim_create(&o, m, &oc, &err), RECUR_OK);
    assert_int_equal(recur_optim_step(o, -1.0, NULL, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_optim_step(o, NAN, NULL, NULL), RECUR_ERR_ARG);
    recur_optim_free(o);
    recur_model_free(m);
}

static void test_schedules(void **s)
{
    (void)s;
    recur_schedule z;
    /* Zaremba small: lr 1 for epochs 1..4, then halved every epoch */
    recur_schedule_init(&z, RECUR_SCHED_DECAY_AFTER, 1.0, 0.5, 4);
    const double want[] = {1, 1, 1, 1, 0.5, 0.25, 0.125, 0.0625};
    for (int e = 0; e < 8; e++) {
        assert_true(fabs(z.lr - want[e]) < 1e-15);
        recur_schedule_epoch_end(&z, 5.0);
    }
    recur_schedule c;
    recur_schedule_init(&c, RECUR_SCHED_CONSTANT, 0.3, 0.5, 0);
    for (int e = 0; e < 5; e++)
        recur_schedule_epoch_end(&c, 1.0);
    assert_true(c.lr == 0.3);
    /* plateau, patience 1: decay after two epochs without improvement */
    recur_schedule p;
    recur_schedule_init(&p, RECUR_SCHED_PLATEAU, 1.0, 0.25, 1);
    const double losses[] = {5, 4, 4.5, 4.2, 3.9, 3.95, 3.95, 3.95, 3.95};
    const double lrs[] = {1, 1, 1, 0.25, 0.25, 0.25, 0.0625, 0.0625, 0.015625};
    for (int e = 0; e < 9; e++) {
        recur_schedule_epoch_end(&p, losses[e]);
        if (fabs(p.lr - lrs[e]) > 1e-15) {
            fprintf(stderr, "plateau epoch %d: lr %g want %g\n", e + 1, p.lr, lrs[e]);
            fail();
        }
    }
}

static void test_init_and_determinism(void **s)
{
    (void)s;
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = RECUR_CELL_LSTM;
    c.rnn.input_size = 3;
    c.rnn.hidden_size = 100;
    c.rnn.num_layers = 2;
    recur_model *a, *b, *d;
    recur_error err;
    assert_int_equal(recur_model_create(&a, &c, 11, &err), RECUR_OK);
    assert_int_equal(recur_model_create(&b, &c, 11, &err), RECUR_OK);
    assert_int_equal(recur_model_create(&d, &c, 12, &err), RECUR_OK);
    size_t n = recur_model_num_params(a);
    assert_memory_equal(recur_model_params(a), recur_model_params(b), n * sizeof(float));
    assert_memory_not_equal(recur_model_params(a), recur_model_params(d), n * sizeof(float));
    /* PyTorch default: U(-1/sqrt(H), 1/sqrt(H)), so max |w| ~ 0.1 and mean ~ 0 */
    double mx = 0, mean = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(recur_model_params(a)[i]));
        mean += recur_model_params(a)[i] / (double)n;
    }
    assert_true(mx <= 0.1 + 1e-7 && mx > 0.099);
    assert_true(fabs(mean) < 0.002);
    assert_int_equal(recur_model_init_uniform(a, 0.05), RECUR_OK);
    mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(recur_model_params(a)[i]));
    assert_true(mx <= 0.05 + 1e-8 && mx > 0.0499);
    assert_int_equal(recur_model_init_uniform(a, -1), RECUR_ERR_ARG);
    /* forget-gate bias: b_if = 1, b_hf = 0, the other gates untouched */
    assert_int_equal(recur_model_set_forget_bias(b, 1.0), RECUR_OK);
    recur_tensor_info bi, bh;
    assert_int_equal(recur_model_find_tensor(b, "rnn.bias_ih_l1", &bi), RECUR_OK);
    assert_int_equal(recur_model_find_tensor(b, "rnn.bias_hh_l1", &bh), RECUR_OK);
    for (int j = 0; j < 100; j++) {
        assert_true(bi.data[100 + j] == 1.0f && bh.data[100 + j] == 0.0f);
        assert_true(bi.data[j] != 1.0f);
    }
    recur_model_free(a);
    recur_model_free(b);
    recur_model_free(d);
}

static void test_bad_model_config(void **s)
{
    (void)s;
    recur_model_config c;
    recur_model *m;
    recur_error err;
    recur_model_config_default(&c);
    c.rnn.input_size = 4;
    c.rnn.hidden_size = 0;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "hidden size"));
    c.rnn.hidden_size = 8;
    c.rnn.proj_size = 8;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "projection"));
    c.rnn.proj_size = 0;
    c.rnn.dropout = 1.0f;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_ERR_ARG);
    c.rnn.dropout = 0;
    c.vocab_size = 10;
    c.embed_size = 5;
    c.rnn.input_size = 0;
    c.output_size = 10;
    c.tied = 1;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "tied"));
    c.embed_size = 8;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_OK);
    recur_tensor_info e, d;
    assert_int_equal(recur_model_find_tensor(m, "embedding.weight", &e), RECUR_OK);
    assert_int_equal(recur_model_find_tensor(m, "decoder.weight", &d), RECUR_OK);
    assert_ptr_equal(e.data, d.data); /* one storage, counted once */
    assert_int_equal(recur_model_num_params(m), 10 * 8 + 4 * 8 * 16 + 2 * 32 + 10);
    assert_int_equal(recur_model_find_tensor(m, "rnn.weight_hr_l0", &d), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_model_errmsg(m), "weight_hr_l0"));
    recur_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd), cmocka_unit_test(test_adam_adamw), cmocka_unit_test(test_clip_exact),
        cmocka_unit_test(test_nonfinite_refused), cmocka_unit_test(test_bad_optim_config),
        cmocka_unit_test(test_schedules), cmocka_unit_test(test_init_and_determinism),
        cmocka_unit_test(test_bad_model_config),
    };
    return cmocka_run_group_tests_name("optimisers, clipping, schedules, init", tests, NULL, NULL);
}
