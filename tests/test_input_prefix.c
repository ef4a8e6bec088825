/*
 * test_input_prefix.c - recur_run_cache_input_prefix: a model with float
 * inputs whose first columns are rows of a caller's table (a tagger's word
 * embedding beside other features) reads the first layer's product of those
 * columns from the run's table, and gives what the whole product gives.
 *
 * For every cell (Elman tanh, LSTM, GRU in both forms) x {1, 2} directions,
 * 2 layers, 7 inputs of which the table covers 4 (and, for the LSTM, all
 * 7), a batch of 3 x 5 steps with lengths 5, 2, 0 (padding rows hold junk
 * inputs and junk table ids, which must not matter) runs through a plain
 * run and a cached one.  Compared: outputs, h_n, c_n, and every parameter
 * gradient after a backward through the cached forward.  Then the covered
 * columns of layer 0's W_ih change without refreshing: the cached run must
 * still give the old outputs (it reads the table) while the plain run moves,
 * and the cached run's training forward and a batch without ids must give
 * the new ones; refreshed, it follows.  Refused: a token model, more columns
 * than inputs, an id outside the table on an active step.
 *
 * Metric as in test_input_cache: 1e-5 in the float build (the sum over the
 * inputs splits in two: ~1e-6 at most), 1e-12 in the double build.  A table
 * read at the wrong rows, without its bias, or a direction's ids not
 * reversed scores 0.01 or more.
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
#define PREFIX_TOL 1e-12
#else
#define PREFIX_TOL 1e-5
#endif

enum { IN = 7, HID = 6, T = 5, B = 3, ROWS = 4 };

typedef struct prefix_case {
    const char *name;
    recur_cell cell;
    recur_gru_form form;
    int bidir, cols;
} prefix_case;

static recur_model *make_model(const prefix_case *pc)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = pc->cell;
    c.rnn.gru_form = pc->form;
    c.rnn.hidden_size = HID;
    c.rnn.num_layers = 2;
    c.rnn.bidirectional = pc->bidir;
    c.rnn.input_size = IN;
    recur_model *m = NULL;
    recur_error err;
    if (recur_model_create(&m, &c, 9, &err) != RECUR_OK)
        fail_msg("%s: %s", pc->name, err.msg);
    assert_int_equal(recur_model_init_uniform(m, 0.5), RECUR_OK);
    return m;
}

typedef struct result {
    recur_real *out, *hn, *cn, *grads;
} result;

static void result_free(result *r)
{
    free(r->out);
    free(r->hn);
    free(r->cn);
    free(r->grads);
}

/* forward and a backward from fixed output gradients; copies out */
static result run_once(recur_model *m, recur_run *r, const recur_batch *bt, int training, int D)
{
    const size_t no = (size_t)T * B * D * HID, ns = (size_t)2 * D * B * HID;
    if (recur_forward(r, bt, training, NULL, NULL) != RECUR_OK)
        fail_msg("forward: %s", recur_run_errmsg(r));
    result res = {0};
    res.out = copy_of(recur_run_outputs(r), no);
    res.hn = copy_of(recur_run_hn(r), ns);
    res.cn = copy_of(recur_run_cn(r), ns);
    recur_real *dy = malloc(no * sizeof *dy);
    assert_non_null(dy);
    for (size_t i = 0; i < no; i++)
        dy[i] = (recur_real)(0.5 * cos(0.37 * (double)i));
    recur_model_zero_grad(m);
    if (recur_backward(r, 0, dy, NULL, NULL) != RECUR_OK)
        fail_msg("backward: %s", recur_run_errmsg(r));
    free(dy);
    res.grads = copy_of(recur_model_grads(m), recur_model_num_params(m));
    return res;
}

static void check_close(const char *what, const char *name, const recur_real *a, const recur_real *b, size_t n,
                        double tol)
{
    double e = rel_err(a, b, n);
    printf("  %-22s %-9s %.2e\n", name, what, e);
    if (!(e <= tol))
        fail_msg("%s %s: error %.3e above %.1e", name, what, e, tol);
}

static void run_case(void **state)
{
    const prefix_case *pc = *state;
    recur_model *m = make_model(pc);
    const int D = pc->bidir ? 2 : 1, lstm = pc->cell == RECUR_CELL_LSTM;
    const size_t no = (size_t)T * B * D * HID, ns = (size_t)2 * D * B * HID, np = recur_model_num_params(m);
    recur_error err;
    recur_run *plain = NULL, *cached = NULL;
    assert_int_equal(recur_run_create(&plain, m, T, B, &err), RECUR_OK);
    assert_int_equal(recur_run_create(&cached, m, T, B, &err), RECUR_OK);

    recur_real rows[ROWS * IN];
    for (int i = 0; i < ROWS * pc->cols; i++)
        rows[i] = (recur_real)(0.8 * sin(1.3 * (double)i + 0.2));
    assert_int_equal(recur_run_cache_input_prefix(cached, rows, ROWS, pc->cols), RECUR_OK);
    /* ids (T, B): padding (t >= len) holds junk */
    static const int32_t ids[T * B] = {1, 3, 77, 0, 2, -5, 3, 99, 4, 2, 88, -1, 1, 66, 12};
    static const int32_t len[B] = {5, 2, 0};
    recur_real x[T * B * IN];
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            recur_real *row = x + ((size_t)t * B + b) * IN;
            int active = t < len[b];
            for (int k = 0; k < IN; k++)
                row[k] = (recur_real)(0.6 * cos(0.7 * (double)(t * 31 + b * 7 + k)));
            if (active)
                memcpy(row, rows + (size_t)ids[t * B + b] * pc->cols, (size_t)pc->cols * sizeof *row);
        }
    recur_batch with_ids = {.T = T, .B = B, .tokens = ids, .inputs = x, .lengths = len};
    recur_batch without = {.T = T, .B = B, .inputs = x, .lengths = len};

    result a = run_once(m, plain, &with_ids, 0, D), b = run_once(m, cached, &with_ids, 0, D);
    check_close("outputs", pc->name, b.out, a.out, no, PREFIX_TOL);
    check_close("h_n", pc->name, b.hn, a.hn, ns, PREFIX_TOL);
    if (lstm)
        check_close("c_n", pc->name, b.cn, a.cn, ns, PREFIX_TOL);
    check_close("grads", pc->name, b.grads, a.grads, np, PREFIX_TOL);

    /* change the covered columns of layer 0's W_ih, leave the table stale */
    int changed = 0;
    for (int i = 0; i < recur_model_num_tensors(m); i++) {
        recur_tensor_info t;
        assert_int_equal(recur_model_tensor(m, i, &t), RECUR_OK);
        if (strstr(t.name, "weight_ih_l0")) {
            for (size_t j = 0; j < t.numel; j++)
                if ((int)(j % IN) < pc->cols)
                    t.data[j] += (recur_real)0.25;
            changed++;
        }
    }
    assert_int_equal(changed, D);
    result stale = run_once(m, cached, &with_ids, 0, D), fresh = run_once(m, plain, &with_ids, 0, D);
    result no_ids = run_once(m, cached, &without, 0, D), trained = run_once(m, cached, &with_ids, 1, D);
    check_close("stale", pc->name, stale.out, b.out, no, PREFIX_TOL);
    check_close("no ids", pc->name, no_ids.out, fresh.out, no, PREFIX_TOL);
    check_close("training", pc->name, trained.out, fresh.out, no, PREFIX_TOL);
    double moved = rel_err(fresh.out, b.out, no);
    printf("  %-22s moved     %.2e\n", pc->name, moved);
    if (!(moved > 1e-2))
        fail_msg("%s: changing W_ih moved the plain run's outputs by only %.3e", pc->name, moved);
    assert_int_equal(recur_run_cache_input_prefix(cached, rows, ROWS, pc->cols), RECUR_OK);
    result refreshed = run_once(m, cached, &with_ids, 0, D);
    check_close("refreshed", pc->name, refreshed.out, fresh.out, no, PREFIX_TOL);

    /* an id outside the table on an active step */
    int32_t bad[T * B];
    memcpy(bad, ids, sizeof bad);
    bad[1 * B + 1] = ROWS;
    recur_batch bad_batch = with_ids;
    bad_batch.tokens = bad;
    assert_int_equal(recur_forward(cached, &bad_batch, 0, NULL, NULL), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_run_errmsg(cached), "table row 4 at step 1, sequence 1"));
    assert_int_equal(recur_run_cache_input_prefix(cached, NULL, 0, 0), RECUR_OK);

    result *all[] = {&a, &b, &stale, &fresh, &no_ids, &trained, &refreshed};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        result_free(all[i]);
    recur_run_free(plain);
    recur_run_free(cached);
    recur_model_free(m);
}

static void refusals(void **state)
{
    (void)state;
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.input_size = 3;
    c.rnn.hidden_size = 4;
    recur_model *m = NULL, *tm = NULL;
    recur_run *r = NULL, *tr = NULL;
    recur_error err;
    recur_real rows[2 * 4] = {0};
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_OK);
    assert_int_equal(recur_run_create(&r, m, 2, 2, &err), RECUR_OK);
    assert_int_equal(recur_run_cache_input_prefix(r, rows, 2, 4), RECUR_ERR_ARG);
    printf("  refused: %s\n", recur_run_errmsg(r));
    assert_non_null(strstr(recur_run_errmsg(r), "4 columns (of 3 inputs)"));
    assert_int_equal(recur_run_cache_input_prefix(r, rows, 0, 2), RECUR_ERR_ARG);
    c.vocab_size = 5;
    c.embed_size = 3;
    assert_int_equal(recur_model_create(&tm, &c, 1, &err), RECUR_OK);
    assert_int_equal(recur_run_create(&tr, tm, 2, 2, &err), RECUR_OK);
    assert_int_equal(recur_run_cache_input_prefix(tr, rows, 2, 2), RECUR_ERR_ARG);
    printf("  refused: %s\n", recur_run_errmsg(tr));
    assert_non_null(strstr(recur_run_errmsg(tr), "float inputs"));
    recur_run_free(r);
    recur_run_free(tr);
    recur_model_free(m);
    recur_model_free(tm);
}

static const prefix_case CASES[] = {
    {"rnn_tanh", RECUR_CELL_RNN_TANH, RECUR_GRU_RESET_AFTER, 0, 4},
    {"rnn_tanh bidir", RECUR_CELL_RNN_TANH, RECUR_GRU_RESET_AFTER, 1, 4},
    {"lstm", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 0, 4},
    {"lstm bidir", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 1, 4},
    {"lstm bidir all columns", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 1, IN},
    {"gru after bidir", RECUR_CELL_GRU, RECUR_GRU_RESET_AFTER, 1, 4},
    {"gru before", RECUR_CELL_GRU, RECUR_GRU_RESET_BEFORE, 0, 4},
    {"gru before bidir", RECUR_CELL_GRU, RECUR_GRU_RESET_BEFORE, 1, 4},
};

int main(void)
{
    struct CMUnitTest tests[sizeof CASES / sizeof *CASES + 1];
    size_t n = 0;
    for (; n < sizeof CASES / sizeof *CASES; n++)
        tests[n] = (struct CMUnitTest){CASES[n].name, run_case, NULL, NULL, (void *)&CASES[n]};
    tests[n++] = (struct CMUnitTest){"refusals", refusals, NULL, NULL, NULL};
    return _cmocka_run_group_tests("input_prefix", tests, n, NULL, NULL);
}
