/*
 * test_gradcheck_f64.c - central finite differences, in double precision,
 * for what PyTorch has no same-form reference for: the GRU with the reset
 * gate before the product, residual connections, dropout (masks replayed by
 * reseeding), tied embeddings and the whole model loss through embedding and
 * decoder - and, as a cross-check, every other cell too.
 *
 * Loss: J = 0.7 * mean cross-entropy (when the model has a decoder)
 *         + <dy, outputs> + <dhn, hn> + <dcn, cn>,
 * with random dy/dhn/dcn.  For sampled elements of every parameter tensor,
 * of the float inputs and of h0/c0, the analytic gradient must equal
 * (J(p+e) - J(p-e)) / 2e within a normalised error |a-n| / max(|a|+|n|, 1e-4)
 * of 1e-5 (float rounding would give ~1e-3; a wrong term gives O(1)).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "recur.h"

#define NT 5
#define NB 3
#define TOL 1e-5
#define FD_EPS 1e-5

typedef struct gc_case {
    const char *name;
    recur_model_config cfg;
    int use_h0;
} gc_case;

typedef struct gc_env {
    recur_model *m;
    recur_run *r;
    recur_batch bt;
    int32_t tokens[NT * NB], targets[NT * NB], lengths[NB];
    double *x, *h0, *c0, *dy, *dhn, *dcn;
    int in, LD, R, H, DR;
} gc_env;

static double lcg_uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53 * 2.0 - 1.0;
}

static double *rand_vec(size_t n, uint64_t *s)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = lcg_uniform(s);
    return v;
}

static double objective(gc_env *e)
{
    double loss = 0;
    recur_model_seed(e->m, 99); /* the same dropout masks every time */
    assert_int_equal(recur_forward(e->r, &e->bt, 1, &loss, NULL), RECUR_OK);
    const recur_model_config *c = recur_model_get_config(e->m);
    double J = c->output_size > 0 ? 0.7 * loss : 0;
    const double *y = recur_run_outputs(e->r), *hn = recur_run_hn(e->r), *cn = recur_run_cn(e->r);
    for (int i = 0; i < NT * NB * e->DR; i++)
        J += e->dy[i] * y[i];
    for (int i = 0; i < e->LD * NB * e->R; i++)
        J += e->dhn[i] * hn[i];
    if (cn)
        for (int i = 0; i < e->LD * NB * e->H; i++)
            J += e->dcn[i] * cn[i];
    return J;
}

static int check_one(const char *what, double analytic, double *p, gc_env *e, double *worst)
{
    double keep = *p;
    *p = keep + FD_EPS;
    double jp = objective(e);
    *p = keep - FD_EPS;
    double jm = objective(e);
    *p = keep;
    double numeric = (jp - jm) / (2 * FD_EPS);
    double err = fabs(analytic - numeric) / fmax(fabs(analytic) + fabs(numeric), 1e-4);
    if (err > *worst)
        *worst = err;
    if (err > TOL) {
        fprintf(stderr, "  %s: analytic %.10g numeric %.10g (error %.3g)\n", what, analytic, numeric, err);
        return 1;
    }
    return 0;
}

static void run_case(const gc_case *gc)
{
    gc_env e;
    memset(&e, 0, sizeof e);
    recur_error err;
    assert_int_equal(recur_model_create(&e.m, &gc->cfg, 1234, &err), RECUR_OK);
    assert_int_equal(recur_model_init_uniform(e.m, 0.6), RECUR_OK);
    assert_int_equal(recur_run_create(&e.r, e.m, NT, NB, &err), RECUR_OK);
    const recur_model_config *c = recur_model_get_config(e.m);
    uint64_t seed = 42;
    e.H = c->rnn.hidden_size;
    e.R = c->rnn.proj_size ? c->rnn.proj_size : e.H;
    e.LD = c->rnn.num_layers * (c->rnn.bidirectional ? 2 : 1);
    e.DR = e.R * (c->rnn.bidirectional ? 2 : 1);
    e.in = c->rnn.input_size;
    e.lengths[0] = NT;
    e.lengths[1] = 2;
    e.lengths[2] = 4;
    for (int i = 0; i < NT * NB; i++) {
        e.tokens[i] = c->vocab_size ? (int32_t)(i * 7 % c->vocab_size) : 0;
        e.targets[i] = c->output_size ? (int32_t)((i * 5 + 3) % c->output_size) : -1;
    }
    e.targets[4] = -1; /* a step without a target inside a sequence */
    e.x = rand_vec((size_t)NT * NB * e.in, &seed);
    e.h0 = rand_vec((size_t)e.LD * NB * e.R, &seed);
    e.c0 = rand_vec((size_t)e.LD * NB * e.H, &seed);
    e.dy = rand_vec((size_t)NT * NB * e.DR, &seed);
    e.dhn = rand_vec((size_t)e.LD * NB * e.R, &seed);
    e.dcn = rand_vec((size_t)e.LD * NB * e.H, &seed);
    e.bt.T = NT;
    e.bt.B = NB;
    e.bt.lengths = e.lengths;
    e.bt.tokens = c->vocab_size ? e.tokens : NULL;
    e.bt.inputs = c->vocab_size ? NULL : e.x;
    e.bt.targets = c->output_size ? e.targets : NULL;
    e.bt.h0 = gc->use_h0 ? e.h0 : NULL;
    e.bt.c0 = gc->use_h0 && c->rnn.cell == RECUR_CELL_LSTM ? e.c0 : NULL;
    int lstm = c->rnn.cell == RECUR_CELL_LSTM;

    recur_model_zero_grad(e.m);
    objective(&e);
    assert_int_equal(recur_backward(e.r, 0.7, e.dy, e.dhn, lstm ? e.dcn : NULL), RECUR_OK);
    size_t np = recur_model_num_params(e.m);
    double *grads = malloc(np * sizeof *grads);
    memcpy(grads, recur_model_grads(e.m), np * sizeof *grads);
    size_t nin = (size_t)NT * NB * e.in, nh = (size_t)e.LD * NB * e.R, nc = (size_t)e.LD * NB * e.H;
    double *dx = malloc((nin + 1) * sizeof *dx), *dh0 = malloc(nh * sizeof *dh0), *dc0 = malloc(nc * sizeof *dc0);
    if (!c->vocab_size)
        memcpy(dx, recur_run_d_inputs(e.r), nin * sizeof *dx);
    memcpy(dh0, recur_run_d_h0(e.r), nh * sizeof *dh0);
    if (lstm)
        memcpy(dc0, recur_run_d_c0(e.r), nc * sizeof *dc0);

    int failures = 0;
    double worst = 0;
    char what[160];
    for (int k = 0; k < recur_model_num_tensors(e.m); k++) {
        recur_tensor_info ti;
        assert_int_equal(recur_model_tensor(e.m, k, &ti), RECUR_OK);
        /* sample up to 6 elements spread over the tensor, first and last included */
        for (int s = 0; s < 6; s++) {
            size_t i = ti.numel <= 6 ? (size_t)s : (size_t)s * (ti.numel - 1) / 5;
            if (i >= ti.numel)
                break;
            snprintf(what, sizeof what, "%s %s[%zu]", gc->name, ti.name, i);
            failures += check_one(what, grads[ti.offset + i], &ti.data[i], &e, &worst);
        }
    }
    if (!c->vocab_size)
        for (size_t i = 0; i < nin; i += 3) {
            snprintf(what, sizeof what, "%s input[%zu]", gc->name, i);
            failures += check_one(what, dx[i], &e.x[i], &e, &worst);
        }
    if (gc->use_h0) {
        for (size_t i = 0; i < nh; i += 2) {
            snprintf(what, sizeof what, "%s h0[%zu]", gc->name, i);
            failures += check_one(what, dh0[i], &e.h0[i], &e, &worst);
        }
        if (lstm)
            for (size_t i = 0; i < nc; i += 2) {
                snprintf(what, sizeof what, "%s c0[%zu]", gc->name, i);
                failures += check_one(what, dc0[i], &e.c0[i], &e, &worst);
            }
    }
    fprintf(stderr, "  %-34s worst normalised error %.2e\n", gc->name, worst);
    free(grads);
    free(dx);
    free(dh0);
    free(dc0);
    free(e.x);
    free(e.h0);
    free(e.c0);
    free(e.dy);
    free(e.dhn);
    free(e.dcn);
    recur_run_free(e.r);
    recur_model_free(e.m);
    assert_int_equal(failures, 0);
}

static recur_model_config stack_cfg(recur_cell cell, int layers, int bidir)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = cell;
    c.rnn.input_size = 4;
    c.rnn.hidden_size = 3;
    c.rnn.num_layers = layers;
    c.rnn.bidirectional = bidir;
    return c;
}

static void test_gru_reset_before(void **state)
{
    (void)state;
    gc_case a = {"gru-before l1 d1", stack_cfg(RECUR_CELL_GRU, 1, 0), 1};
    a.cfg.rnn.gru_form = RECUR_GRU_RESET_BEFORE;
    run_case(&a);
    gc_case b = {"gru-before l2 d2", stack_cfg(RECUR_CELL_GRU, 2, 1), 1};
    b.cfg.rnn.gru_form = RECUR_GRU_RESET_BEFORE;
    run_case(&b);
}

static void test_every_cell(void **state)
{
    (void)state;
    const struct { const char *name; recur_cell cell; } cells[] = {
        {"rnn-tanh l2 d2", RECUR_CELL_RNN_TANH}, {"rnn-relu l2 d2", RECUR_CELL_RNN_RELU},
        {"lstm l2 d2", RECUR_CELL_LSTM}, {"gru-after l2 d2", RECUR_CELL_GRU}};
    for (size_t i = 0; i < sizeof cells / sizeof *cells; i++) {
        gc_case g = {cells[i].name, stack_cfg(cells[i].cell, 2, 1), 1};
        run_case(&g);
    }
    gc_case p = {"lstm-proj l2 d2", stack_cfg(RECUR_CELL_LSTM, 2, 1), 1};
    p.cfg.rnn.hidden_size = 4;
    p.cfg.rnn.proj_size = 2;
    run_case(&p);
}

static void test_residual(void **state)
{
    (void)state;
    const recur_cell cells[] = {RECUR_CELL_LSTM, RECUR_CELL_GRU, RECUR_CELL_RNN_TANH};
    const char *names[] = {"residual lstm l3 d2", "residual gru l3 d1", "residual rnn l3 d2"};
    for (int i = 0; i < 3; i++) {
        gc_case g = {names[i], stack_cfg(cells[i], 3, i != 1), 1};
        g.cfg.rnn.residual = 1;
        run_case(&g);
    }
}

static void test_dropout(void **state)
{
    (void)state;
    gc_case g = {"dropout lstm l3 d2", stack_cfg(RECUR_CELL_LSTM, 3, 1), 0};
    g.cfg.rnn.dropout = 0.3f;
    g.cfg.rnn.residual = 1;
    run_case(&g);
}

static void test_whole_model(void **state)
{
    (void)state;
    gc_case g = {"lm: emb+lstm l2+decoder", stack_cfg(RECUR_CELL_LSTM, 2, 0), 1};
    g.cfg.vocab_size = 7;
    g.cfg.embed_size = 4;
    g.cfg.rnn.input_size = 0;
    g.cfg.output_size = 7;
    g.cfg.dropout_embed = 0.2f;
    g.cfg.dropout_output = 0.25f;
    g.cfg.rnn.dropout = 0.1f;
    run_case(&g);
    gc_case t = {"lm: tied emb+gru-before+decoder", stack_cfg(RECUR_CELL_GRU, 2, 0), 0};
    t.cfg.rnn.gru_form = RECUR_GRU_RESET_BEFORE;
    t.cfg.vocab_size = 6;
    t.cfg.embed_size = 3;
    t.cfg.rnn.input_size = 0;
    t.cfg.output_size = 6;
    t.cfg.tied = 1;
    run_case(&t);
    gc_case p = {"tagger: bilstm-proj+decoder", stack_cfg(RECUR_CELL_LSTM, 1, 1), 1};
    p.cfg.rnn.hidden_size = 4;
    p.cfg.rnn.proj_size = 3;
    p.cfg.output_size = 5;
    run_case(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gru_reset_before), cmocka_unit_test(test_every_cell),
        cmocka_unit_test(test_residual), cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_whole_model),
    };
    return cmocka_run_group_tests_name("finite differences (double)", tests, NULL, NULL);
}
