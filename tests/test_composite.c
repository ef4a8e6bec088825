/*
 * test_composite.c - composite models (recur_model_create_composite): a
 * task's tensors and sub-models in the one parameter buffer.
 *
 *  layout      names ("char_rnn.rnn.weight_ih_l0", "crf.transitions"),
 *              shapes, offsets that tile the buffer, sub-model views over
 *              the composite's memory, initialisation by each part's rule.
 *  running     a sub-model run gives the outputs and gradients of a
 *              standalone model with the same weights, and its gradients
 *              land in the composite's buffer at the part's offsets (and
 *              nowhere else).
 *  files       a training checkpoint of a composite (Adam after a step, a
 *              4-dimensional part) loads back bit for bit: parts, weights,
 *              optimiser moments, random state; a composite with other
 *              parts is refused on resume; "parts" cannot be smuggled in
 *              through extra_config.
 *  rejects     bad parts: duplicate names, dimensions, names too long.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recur.h"

/* what recur_checkpoint_save says when it fails */
static recur_error save_err;

static void char_config(recur_model_config *c)
{
    recur_model_config_default(c);
    c->vocab_size = 7;
    c->embed_size = 3;
    c->rnn.cell = RECUR_CELL_GRU;
    c->rnn.hidden_size = 4;
    c->rnn.bidirectional = 1;
    c->rnn.dropout = 0;
}

static void main_config(recur_model_config *c)
{
    recur_model_config_default(c);
    c->vocab_size = 11;
    c->embed_size = 6;
    c->rnn.cell = RECUR_CELL_LSTM;
    c->rnn.hidden_size = 5;
    c->rnn.num_layers = 2;
    c->rnn.bidirectional = 1;
    c->rnn.dropout = 0.25f;
}

static recur_model *make_composite(uint64_t seed, int64_t trans)
{
    static recur_model_config mc, cc;
    main_config(&mc);
    char_config(&cc);
    recur_part parts[3] = {
        {.name = "crf.transitions", .ndim = 2, .shape = {trans, trans}, .init = 0.1},
        {.name = "char_rnn", .model = &cc},
        {.name = "att.kernel", .ndim = 4, .shape = {2, 3, 1, 2}, .init = 0},
    };
    recur_model *m = NULL;
    recur_error err;
    recur_status st = recur_model_create_composite(&m, &mc, parts, 3, seed, &err);
    if (st)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, RECUR_OK);
    return m;
}

static void test_layout(void **state)
{
    (void)state;
    recur_model *m = make_composite(3, 4);
    recur_model_config mc, cc;
    main_config(&mc);
    char_config(&cc);
    recur_model *alone = NULL, *chars = NULL;
    recur_error err;
    assert_int_equal(recur_model_create(&alone, &mc, 3, &err), RECUR_OK);
    assert_int_equal(recur_model_create(&chars, &cc, 3, &err), RECUR_OK);
    assert_int_equal(recur_model_num_parts(m), 3);
    assert_int_equal(recur_model_num_params(m),
                     recur_model_num_params(alone) + 16 + recur_model_num_params(chars) + 12);
    assert_int_equal(recur_model_num_tensors(m),
                     recur_model_num_tensors(alone) + 1 + recur_model_num_tensors(chars) + 1);

    /* the tensors tile the buffer in order, each named as PyTorch would */
    size_t next = 0;
    for (int i = 0; i < recur_model_num_tensors(m); i++) {
        recur_tensor_info t;
        assert_int_equal(recur_model_tensor(m, i, &t), RECUR_OK);
        assert_int_equal(t.offset, next);
        next += t.numel;
        if (i < recur_model_num_tensors(alone)) {
            recur_tensor_info a;
            recur_model_tensor(alone, i, &a);
            assert_string_equal(t.name, a.name);
        }
    }
    assert_int_equal(next, recur_model_num_params(m));
    recur_tensor_info crf, wih, kern;
    assert_int_equal(recur_model_find_tensor(m, "crf.transitions", &crf), RECUR_OK);
    assert_int_equal(crf.ndim, 2);
    assert_int_equal(crf.shape[1], 4);
    assert_int_equal(recur_model_find_tensor(m, "char_rnn.rnn.weight_ih_l0_reverse", &wih), RECUR_OK);
    assert_int_equal(wih.shape[0], 12);
    assert_int_equal(wih.shape[1], 3);
    assert_int_equal(recur_model_find_tensor(m, "att.kernel", &kern), RECUR_OK);
    assert_int_equal(kern.ndim, 4);
    assert_int_equal(kern.numel, 12);
    for (size_t k = 0; k < kern.numel; k++)
        assert_true(kern.data[k] == 0); /* init 0: zeros */
    double maxabs = 0;
    for (size_t k = 0; k < crf.numel; k++)
        maxabs = fmax(maxabs, fabs((double)crf.data[k]));
    assert_true(maxabs > 0.01 && maxabs <= 0.1);

    /* the sub-model is a view: its tensors are the composite's memory */
    recur_model *sub = recur_model_submodel(m, "char_rnn");
    assert_non_null(sub);
    assert_null(recur_model_submodel(m, "crf.transitions"));
    assert_null(recur_model_submodel(m, "nothing"));
    recur_tensor_info sw;
    assert_int_equal(recur_model_find_tensor(sub, "rnn.weight_ih_l0_reverse", &sw), RECUR_OK);
    assert_ptr_equal(sw.data, wih.data);
    assert_ptr_equal(sw.grad, wih.grad);
    assert_int_equal(recur_model_get_config(sub)->rnn.cell, RECUR_CELL_GRU);
    /* the main model's weights follow the same rule as a plain model's
     * (the generator's first draws go to them) */
    recur_tensor_info a, b;
    recur_model_find_tensor(alone, "rnn.weight_hh_l1", &a);
    recur_model_find_tensor(m, "rnn.weight_hh_l1", &b);
    assert_memory_equal(a.data, b.data, a.numel * sizeof(recur_real));
    recur_model_free(sub); /* a view: freeing it is a no-op */
    recur_model_free(alone);
    recur_model_free(chars);
    recur_model_free(m);
}

/* A sub-model run equals a standalone model with the same weights. */
static void test_submodel_runs(void **state)
{
    (void)state;
    recur_model *m = make_composite(5, 3);
    recur_model *sub = recur_model_submodel(m, "char_rnn");
    recur_model_config cc;
    char_config(&cc);
    recur_model *alone = NULL;
    recur_error err;
    assert_int_equal(recur_model_create(&alone, &cc, 9, &err), RECUR_OK);
    assert_int_equal(recur_model_num_params(alone), recur_model_num_params(sub));
    memcpy(recur_model_params(alone), recur_model_params(sub), recur_model_num_params(sub) * sizeof(recur_real));

    enum { T = 6, B = 3 };
    int32_t tokens[T * B], lengths[B] = {6, 2, 4};
    for (int i = 0; i < T * B; i++)
        tokens[i] = (i * 5 + 1) % 7;
    recur_batch batch = {.T = T, .B = B, .tokens = tokens, .lengths = lengths};
    recur_run *r1 = NULL, *r2 = NULL;
    assert_int_equal(recur_run_create(&r1, sub, T, B, &err), RECUR_OK);
    assert_int_equal(recur_run_create(&r2, alone, T, B, &err), RECUR_OK);
    recur_model_zero_grad(m);
    recur_model_zero_grad(alone);
    assert_int_equal(recur_forward(r1, &batch, 1, NULL, NULL), RECUR_OK);
    assert_int_equal(recur_forward(r2, &batch, 1, NULL, NULL), RECUR_OK);
    const int W = 8;
    assert_memory_equal(recur_run_outputs(r1), recur_run_outputs(r2), T * B * W * sizeof(recur_real));
    recur_real d_out[T * B * 8];
    for (int i = 0; i < T * B * W; i++)
        d_out[i] = (recur_real)(0.1 * ((i % 7) - 3));
    assert_int_equal(recur_backward(r1, 0, d_out, NULL, NULL), RECUR_OK);
    assert_int_equal(recur_backward(r2, 0, d_out, NULL, NULL), RECUR_OK);
    /* the composite's gradient is the standalone one at the part's range, zero elsewhere */
    recur_tensor_info first;
    recur_model_find_tensor(m, "char_rnn.embedding.weight", &first);
    const recur_real *g = recur_model_grads(m);
    size_t n = recur_model_num_params(m), lo = first.offset, hi = lo + recur_model_num_params(sub);
    double nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        if (i >= lo && i < hi) {
            assert_true(g[i] == recur_model_grads(alone)[i - lo]);
            nonzero += fabs((double)g[i]);
        } else {
            assert_true(g[i] == 0);
        }
    }
    assert_true(nonzero > 0);
    recur_run_free(r1);
    recur_run_free(r2);
    recur_model_free(alone);
    recur_model_free(m);
}

static char path[512];

static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    recur_model *m = make_composite(7, 4);
    recur_optim_config oc;
    recur_optim_config_default(&oc, RECUR_OPTIM_ADAM);
    recur_optim *o = NULL;
    recur_error err;
    assert_int_equal(recur_optim_create(&o, m, &oc, &err), RECUR_OK);
    for (size_t i = 0; i < recur_model_num_params(m); i++)
        recur_model_grads(m)[i] = (recur_real)sin((double)i);
    assert_int_equal(recur_optim_step(o, 0.01, NULL, NULL), RECUR_OK);
    (void)recur_model_uniform(m); /* move the random state on */
    recur_train_state ts;
    memset(&ts, 0, sizeof ts);
    ts.step = 1;
    ts.epoch = 1;
    ts.best_val = INFINITY;
    recur_schedule_init(&ts.schedule, RECUR_SCHED_CONSTANT, 0.01, 1, 0);
    assert_int_equal(recur_checkpoint_save(m, o, &ts, path, "{\"task\":\"toy\"}", NULL, 0, &save_err), RECUR_OK);
    /* "parts" is the model's key */
    assert_int_not_equal(recur_checkpoint_save(m, NULL, NULL, path, "{\"parts\":[]}", NULL, 0, &save_err), RECUR_OK);
    assert_non_null(strstr(save_err.msg, "parts"));

    recur_checkpoint *c = NULL;
    assert_int_equal(recur_checkpoint_open(&c, path, &err), RECUR_OK);
    recur_model *back = NULL;
    assert_int_equal(recur_checkpoint_load_model(c, &back, &err), RECUR_OK);
    assert_int_equal(recur_model_num_parts(back), 3);
    assert_int_equal(recur_model_num_params(back), recur_model_num_params(m));
    assert_memory_equal(recur_model_params(back), recur_model_params(m),
                        recur_model_num_params(m) * sizeof(recur_real));
    recur_tensor_info k;
    assert_int_equal(recur_model_find_tensor(back, "att.kernel", &k), RECUR_OK);
    assert_int_equal(k.ndim, 4);
    assert_int_equal(k.shape[3], 2);
    assert_non_null(recur_model_submodel(back, "char_rnn"));
    assert_int_equal(recur_model_get_config(recur_model_submodel(back, "char_rnn"))->rnn.hidden_size, 4);

    /* resume: optimiser moments and the random state come back */
    recur_optim *o2 = NULL;
    assert_int_equal(recur_optim_create(&o2, back, &oc, &err), RECUR_OK);
    recur_train_state ts2;
    assert_int_equal(recur_checkpoint_load_train(c, back, o2, &ts2, &err), RECUR_OK);
    assert_true(recur_model_uniform(back) == recur_model_uniform(m));
    for (size_t i = 0; i < recur_model_num_params(m); i++)
        recur_model_grads(m)[i] = recur_model_grads(back)[i] = (recur_real)cos((double)i);
    assert_int_equal(recur_optim_step(o, 0.01, NULL, NULL), RECUR_OK);
    assert_int_equal(recur_optim_step(o2, 0.01, NULL, NULL), RECUR_OK);
    assert_memory_equal(recur_model_params(back), recur_model_params(m),
                        recur_model_num_params(m) * sizeof(recur_real));

    /* a composite with other parts does not resume from it */
    recur_model *other = make_composite(7, 5);
    recur_optim *o3 = NULL;
    assert_int_equal(recur_optim_create(&o3, other, &oc, &err), RECUR_OK);
    assert_int_equal(recur_checkpoint_load_train(c, other, o3, &ts2, &err), RECUR_ERR_MISMATCH);
    recur_optim_free(o3);
    recur_model_free(other);

    recur_optim_free(o2);
    recur_model_free(back);
    recur_checkpoint_close(c);
    recur_optim_free(o);
    recur_model_free(m);
    unlink(path);
}

static void expect_refused(const recur_part *parts, int n, const char *what)
{
    recur_model_config mc;
    main_config(&mc);
    recur_model *m = NULL;
    recur_error err;
    assert_int_equal(recur_model_create_composite(&m, &mc, parts, n, 1, &err), RECUR_ERR_ARG);
    assert_null(m);
    if (!strstr(err.msg, what))
        fail_msg("expected '%s' in: %s", what, err.msg);
}

static void test_rejects(void **state)
{
    (void)state;
    recur_model_config cc;
    char_config(&cc);
    recur_part dup[2] = {{.name = "w", .ndim = 1, .shape = {3}}, {.name = "w", .ndim = 1, .shape = {3}}};
    expect_refused(dup, 2, "already has a tensor");
    recur_part clash[1] = {{.name = "embedding.weight", .ndim = 1, .shape = {3}}};
    expect_refused(clash, 1, "already has a tensor");
    recur_part nodim[1] = {{.name = "w", .ndim = 0}};
    expect_refused(nodim, 1, "dimensions");
    recur_part zero[1] = {{.name = "w", .ndim = 2, .shape = {3, 0}}};
    expect_refused(zero, 1, "dimension 1");
    recur_part noname[1] = {{.name = "", .ndim = 1, .shape = {3}}};
    expect_refused(noname, 1, "name");
    recur_part longname[1] = {{.name = "a_prefix_long_enough_that_its_tensors_pass_sixty_three", .model = &cc}};
    expect_refused(longname, 1, "longer than");
    recur_part badinit[1] = {{.name = "w", .ndim = 1, .shape = {3}, .init = -1}};
    expect_refused(badinit, 1, "init");
    recur_model_config bad = cc;
    bad.rnn.hidden_size = 0;
    recur_part badsub[1] = {{.name = "sub", .model = &bad}};
    expect_refused(badsub, 1, "part 'sub'");
}

/* The deepest stack the CLI accepts is one the library builds and saves:
 * 64 bidirectional projected LSTM layers (641 tensors) plus parts. */
static void test_deepest_stack(void **state)
{
    (void)state;
    recur_model_config c;
    recur_model_config_default(&c);
    c.vocab_size = 5;
    c.embed_size = 3;
    c.output_size = 5;
    c.rnn.hidden_size = 3;
    c.rnn.proj_size = 2;
    c.rnn.num_layers = RECUR_MAX_LAYERS;
    c.rnn.bidirectional = 1;
    recur_model_config cc;
    char_config(&cc);
    recur_part parts[2] = {{.name = "crf.transitions", .ndim = 2, .shape = {3, 3}}, {.name = "char_rnn", .model = &cc}};
    recur_model *m = NULL;
    recur_error err;
    assert_int_equal(recur_model_create_composite(&m, &c, parts, 2, 1, &err), RECUR_OK);
    assert_int_equal(recur_model_num_tensors(m), 3 + RECUR_MAX_LAYERS * 2 * 5 + 1 + 9);
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, path, NULL, NULL, 0, &save_err), RECUR_OK);
    recur_checkpoint *ck = NULL;
    assert_int_equal(recur_checkpoint_open(&ck, path, &err), RECUR_OK);
    recur_checkpoint_close(ck);
    recur_model_free(m);
    c.rnn.num_layers = RECUR_MAX_LAYERS + 1;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "layers"));
    unlink(path);
}

/* Steps x batch x width that no size_t could address are refused where
 * the run is made, not wrapped into a small allocation. */
static void test_run_too_large(void **state)
{
    (void)state;
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = RECUR_CELL_RNN_TANH;
    c.rnn.input_size = 1 << 22;
    c.rnn.hidden_size = 1;
    recur_model *m = NULL;
    recur_error err;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_OK);
    recur_run *r = NULL;
    assert_int_equal(recur_run_create(&r, m, 1 << 20, 1 << 20, &err), RECUR_ERR_ARG);
    assert_null(r);
    assert_non_null(strstr(err.msg, "cannot be addressed"));
    assert_int_equal(recur_run_create(&r, m, 2, 2, &err), RECUR_OK);
    recur_run_free(r);
    recur_model_free(m);
}

int main(void)
{
    snprintf(path, sizeof path, "%s/recur_composite_%d.safetensors", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_submodel_runs),
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_deepest_stack),
        cmocka_unit_test(test_run_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
