/*
 * test_input_cache.c - recur_run_cache_input_projection: a forward pass that
 * reads the first layer's input products from the table gives what the
 * product gives, and the table is really what it reads.
 *
 * For every cell (Elman tanh, LSTM, GRU in both forms) x {1, 2} directions,
 * a token model (embedding -> 2 layers -> decoder) runs the same batches with
 * and without the table: batch 1 x 1 step (generation), and batch 3 x 5
 * steps with lengths 5, 2, 0 and padding ids.  Compared: logits, h_n, c_n
 * and, after a backward through the cached forward, every parameter
 * gradient.  Then layer 0's W_ih is changed without refreshing
 * the table: the cached run must still give the old logits (it reads the
 * table) while the plain run moves, and a training forward (which never uses
 * the table) must give the new ones.  A model without an embedding is
 * refused.
 *
 * Metric as in test_padding: |a - b| / (|b| + 0.1 max|b|) <= tol, 1e-5 in
 * the float build (the same sums, but a batch's product may add in another
 * order: ~1e-6 at most), 1e-12 in the double build.  A table with a missing bias, a
 * wrong token or a wrong direction's order scores 0.01 or more.
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

#include "copy_of.h"
#include "recur.h"
#include "rel_err.h"

#ifdef RECUR_DOUBLE
#define CACHE_TOL 1e-12
#else
#define CACHE_TOL 1e-5
#endif

#define V 7

typedef struct cache_case {
    const char *name;
    recur_cell cell;
    recur_gru_form form;
    int bidir;
} cache_case;

static recur_model *make_model(const cache_case *cc)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = cc->cell;
    c.rnn.gru_form = cc->form;
    c.rnn.hidden_size = 6;
    c.rnn.num_layers = 2;
    c.rnn.bidirectional = cc->bidir;
    c.vocab_size = V;
    c.embed_size = 8;
    c.rnn.input_size = 8;
    c.output_size = V;
    recur_model *m = NULL;
    recur_error err;
    if (recur_model_create(&m, &c, 5, &err) != RECUR_OK)
        fail_msg("%s: %s", cc->name, err.msg);
    assert_int_equal(recur_model_init_uniform(m, 0.5), RECUR_OK);
    return m;
}

typedef struct result {
    recur_real *logits, *hn, *cn, *grads;
} result;

static void result_free(result *r)
{
    free(r->logits);
    free(r->hn);
    free(r->cn);
    free(r->grads);
}

/* forward (training or not) and, unless training, a backward; copies out */
static result run_once(recur_model *m, recur_run *r, const recur_batch *bt, int training, int states)
{
    double loss;
    if (recur_forward(r, bt, training, &loss, NULL) != RECUR_OK)
        fail_msg("forward: %s", recur_run_errmsg(r));
    result out = {0};
    out.logits = copy_of(recur_run_logits(r), (size_t)bt->T * bt->B * V);
    out.hn = copy_of(recur_run_hn(r), (size_t)states * bt->B);
    out.cn = copy_of(recur_run_cn(r), (size_t)states * bt->B);
    recur_model_zero_grad(m);
    if (recur_backward(r, 1.0, NULL, NULL, NULL) != RECUR_OK)
        fail_msg("backward: %s", recur_run_errmsg(r));
    out.grads = copy_of(recur_model_grads(m), recur_model_num_params(m));
    return out;
}

static void check_close(const char *what, const char *name, const recur_real *a, const recur_real *b, size_t n,
                        double tol)
{
    double e = rel_err(a, b, n);
    printf("  %-22s %-8s %.2e\n", name, what, e);
    if (!(e <= tol))
        fail_msg("%s %s: error %.3e above %.1e", name, what, e, tol);
}

static void run_case(void **state)
{
    const cache_case *cc = *state;
    recur_model *m = make_model(cc);
    const int D = cc->bidir ? 2 : 1, states = 2 * D * 6;
    const size_t np = recur_model_num_params(m);
    recur_error err;
    recur_run *plain = NULL, *cached = NULL;
    assert_int_equal(recur_run_create(&plain, m, 5, 3, &err), RECUR_OK);
    assert_int_equal(recur_run_create(&cached, m, 5, 3, &err), RECUR_OK);
    assert_int_equal(recur_run_cache_input_projection(cached, 1), RECUR_OK);

    static const int32_t gen_tok[1] = {4};
    static const int32_t tok[15] = {1, 6, -1, 3, 0, -1, 5, 9, -1, 2, 9, -1, 6, 9, -1};
    static const int32_t tgt[15] = {6, 0, -1, 0, 4, -1, 5, -1, -1, 2, -1, -1, 6, -1, -1};
    static const int32_t len[3] = {5, 2, 0};
    recur_real h0[2 * 2 * 6 * 3], c0[2 * 2 * 6 * 3];
    for (size_t i = 0; i < sizeof h0 / sizeof *h0; i++) {
        h0[i] = (recur_real)(0.3 * sin(1.7 * (double)i));
        c0[i] = (recur_real)(0.4 * cos(0.9 * (double)i));
    }
    const int lstm = cc->cell == RECUR_CELL_LSTM;
    const int32_t gen_tgt[1] = {2};
    recur_batch batches[2] = {
        {.T = 1, .B = 1, .tokens = gen_tok, .targets = gen_tgt, .h0 = h0, .c0 = lstm ? c0 : NULL},
        {.T = 5, .B = 3, .tokens = tok, .lengths = len, .targets = tgt, .h0 = h0, .c0 = lstm ? c0 : NULL},
    };
    result before[2];
    for (int k = 0; k < 2; k++) {
        const recur_batch *bt = &batches[k];
        result a = run_once(m, plain, bt, 0, states), b = run_once(m, cached, bt, 0, states);
        const char *what = k == 0 ? "gen" : "batch";
        char name[64];
        snprintf(name, sizeof name, "%s/%s", cc->name, what);
        check_close("logits", name, b.logits, a.logits, (size_t)bt->T * bt->B * V, CACHE_TOL);
        check_close("h_n", name, b.hn, a.hn, (size_t)states * bt->B, CACHE_TOL);
        if (lstm)
            check_close("c_n", name, b.cn, a.cn, (size_t)states * bt->B, CACHE_TOL);
        check_close("grads", name, b.grads, a.grads, np, CACHE_TOL);
        before[k] = b;
        result_free(&a);
    }

    /* change layer 0's W_ih (the table holds its products; biases are added
     * at each pass), leave the table stale */
    int changed = 0;
    for (int i = 0; i < recur_model_num_tensors(m); i++) {
        recur_tensor_info t;
        assert_int_equal(recur_model_tensor(m, i, &t), RECUR_OK);
        if (strstr(t.name, "weight_ih_l0")) {
            for (size_t j = 0; j < t.numel; j++)
                t.data[j] += (recur_real)0.25;
            changed++;
        }
    }
    assert_int_equal(changed, D);
    const recur_batch *bt = &batches[1];
    size_t nl = (size_t)bt->T * bt->B * V;
    result stale = run_once(m, cached, bt, 0, states), fresh = run_once(m, plain, bt, 0, states);
    result trained = run_once(m, cached, bt, 1, states);
    check_close("stale", cc->name, stale.logits, before[1].logits, nl, CACHE_TOL);
    check_close("training", cc->name, trained.logits, fresh.logits, nl, CACHE_TOL);
    double moved = rel_err(fresh.logits, before[1].logits, nl);
    printf("  %-22s moved    %.2e\n", cc->name, moved);
    if (!(moved > 1e-2))
        fail_msg("%s: changing W_ih moved the plain run's logits by only %.3e", cc->name, moved);
    /* refreshed, the table follows the new weights */
    assert_int_equal(recur_run_cache_input_projection(cached, 1), RECUR_OK);
    result refreshed = run_once(m, cached, bt, 0, states);
    check_close("refreshed", cc->name, refreshed.logits, fresh.logits, nl, CACHE_TOL);
    assert_int_equal(recur_run_cache_input_projection(cached, 0), RECUR_OK);

    result *all[] = {&before[0], &before[1], &stale, &fresh, &trained, &refreshed};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        result_free(all[i]);
    recur_run_free(plain);
    recur_run_free(cached);
    recur_model_free(m);
}

static void refuses_float_inputs(void **state)
{
    (void)state;
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.input_size = 3;
    c.rnn.hidden_size = 4;
    recur_model *m = NULL;
    recur_run *r = NULL;
    recur_error err;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_OK);
    assert_int_equal(recur_run_create(&r, m, 2, 2, &err), RECUR_OK);
    assert_int_equal(recur_run_cache_input_projection(r, 1), RECUR_ERR_ARG);
    printf("  refused: %s\n", recur_run_errmsg(r));
    assert_non_null(strstr(recur_run_errmsg(r), "embedding"));
    recur_run_free(r);
    recur_model_free(m);
}

static const cache_case CASES[] = {
    {"rnn_tanh", RECUR_CELL_RNN_TANH, RECUR_GRU_RESET_AFTER, 0},
    {"rnn_tanh bidir", RECUR_CELL_RNN_TANH, RECUR_GRU_RESET_AFTER, 1},
    {"lstm", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 0},
    {"lstm bidir", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 1},
    {"gru after", RECUR_CELL_GRU, RECUR_GRU_RESET_AFTER, 0},
    {"gru before", RECUR_CELL_GRU, RECUR_GRU_RESET_BEFORE, 0},
    {"gru before bidir", RECUR_CELL_GRU, RECUR_GRU_RESET_BEFORE, 1},
};

int main(void)
{
    struct CMUnitTest tests[sizeof CASES / sizeof *CASES + 1];
    size_t n = 0;
    for (; n < sizeof CASES / sizeof *CASES; n++)
        tests[n] = (struct CMUnitTest){CASES[n].name, run_case, NULL, NULL, (void *)&CASES[n]};
    tests[n++] = (struct CMUnitTest){"refuses a model without embedding", refuses_float_inputs, NULL, NULL, NULL};
    return _cmocka_run_group_tests("input_cache", tests, n, NULL, NULL);
}
