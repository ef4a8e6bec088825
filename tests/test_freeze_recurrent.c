/*
 * test_freeze_recurrent.c - run_freeze_recurrent (engine/model_internal.h):
 * inference passes of a run whose W_hh was packed once give exactly what a
 * run that packs at every pass gives, and the frozen packing is really what
 * they read.
 *
 * For every cell (Elman tanh, LSTM, LSTM with projection, GRU in both
 * forms) x {1, 2} directions, a token model (embedding -> 2 layers of 40
 * units, two packed panels -> decoder) runs a batch of 6 (enough rows for
 * the packed product) x 4 steps with lengths 4, 2, 3, 1, 4, 4, on 1 and 2
 * threads.  Compared bit for bit: logits, h_n, c_n of the frozen and the
 * plain run, also after a training forward and backward through the frozen
 * run in between (which packs its own W_hh and must not disturb the frozen
 * one).  Then W_hh of every layer is changed: the frozen run must still give
 * the old logits while the plain run moves, and after freezing again the new
 * ones.  Without the packed kernel (no AVX-512) freezing keeps nothing and
 * only the equalities are checked.
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

#include "engine/gemm.h"
#include "engine/model_internal.h"
#include "recur.h"

#define NV 7
#define NH 40
#define NT 4
#define NB 6

typedef struct freeze_case {
    const char *name;
    recur_cell cell;
    recur_gru_form form;
    int bidir, proj;
} freeze_case;

static recur_model *make_model(const freeze_case *fc)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = fc->cell;
    c.rnn.gru_form = fc->form;
    c.rnn.hidden_size = NH;
    c.rnn.proj_size = fc->proj;
    c.rnn.num_layers = 2;
    c.rnn.bidirectional = fc->bidir;
    c.vocab_size = NV;
    c.embed_size = 8;
    c.rnn.input_size = 8;
    c.output_size = NV;
    recur_model *m = NULL;
    recur_error err;
    if (recur_model_create(&m, &c, 5, &err) != RECUR_OK)
        fail_msg("%s: %s", fc->name, err.msg);
    assert_int_equal(recur_model_init_uniform(m, 0.3), RECUR_OK);
    return m;
}

typedef struct result {
    recur_real logits[NT * NB * NV], hn[2 * 2 * NB * NH], cn[2 * 2 * NB * NH];
} result;

static void eval_once(recur_run *r, const recur_batch *bt, size_t n_state, size_t n_cell, result *out)
{
    if (recur_forward(r, bt, 0, NULL, NULL) != RECUR_OK)
        fail_msg("forward: %s", recur_run_errmsg(r));
    memset(out, 0, sizeof *out);
    memcpy(out->logits, recur_run_logits(r), sizeof out->logits);
    memcpy(out->hn, recur_run_hn(r), n_state * sizeof(recur_real));
    if (n_cell)
        memcpy(out->cn, recur_run_cn(r), n_cell * sizeof(recur_real));
}

static void same(const char *what, const freeze_case *fc, const result *a, const result *b)
{
    if (memcmp(a, b, sizeof *a))
        fail_msg("%s: %s differs", fc->name, what);
}

static void run_case(void **state)
{
    const freeze_case *fc = *state;
    const int lstm = fc->cell == RECUR_CELL_LSTM, packed = recur_gemm_packed_kernel();
    static const int32_t len[NB] = {4, 2, 3, 1, 4, 4};
    int32_t tok[NT * NB], tgt[NT * NB];
    for (int i = 0; i < NT * NB; i++) {
        tok[i] = (i * 5 + 3) % NV;
        tgt[i] = (i * 3 + 1) % NV;
    }
    recur_batch bt = {0};
    bt.T = NT;
    bt.B = NB;
    bt.tokens = tok;
    bt.targets = tgt;
    bt.lengths = len;
    for (int threads = 1; threads <= 2; threads++) {
        recur_set_num_threads(threads);
        recur_model *m = make_model(fc);
        const size_t n_state = (size_t)2 * (fc->bidir ? 2 : 1) * NB * (fc->proj ? fc->proj : NH);
        const size_t n_cell = lstm ? (size_t)2 * (fc->bidir ? 2 : 1) * NB * NH : 0;
        recur_error err;
        recur_run *plain = NULL, *frozen = NULL;
        assert_int_equal(recur_run_create(&plain, m, NT, NB, &err), RECUR_OK);
        assert_int_equal(recur_run_create(&frozen, m, NT, NB, &err), RECUR_OK);
        assert_int_equal(run_freeze_recurrent(frozen, 1), RECUR_OK);
        static result a, b, old;
        eval_once(plain, &bt, n_state, n_cell, &a);
        eval_once(frozen, &bt, n_state, n_cell, &b);
        same("a frozen pass", fc, &b, &a);
        old = a;
        /* training through the frozen run: packs W_hh into its own buffer */
        double loss;
        assert_int_equal(recur_forward(frozen, &bt, 1, &loss, NULL), RECUR_OK);
        assert_int_equal(recur_backward(frozen, 1.0, NULL, NULL, NULL), RECUR_OK);
        eval_once(frozen, &bt, n_state, n_cell, &b);
        same("a frozen pass after training", fc, &b, &a);
        /* new recurrent weights, the frozen packing kept: it is what is read */
        for (int l = 0; l < m->cfg.rnn.num_layers; l++)
            for (int d = 0; d < (fc->bidir ? 2 : 1); d++) {
                const cell_params *p = &m->cells[l][d];
                const size_t n = (size_t)m->gates * NH * m->state;
                for (size_t i = 0; i < n; i++)
                    m->params[p->w_hh + i] *= -1.5f;
            }
        eval_once(plain, &bt, n_state, n_cell, &a);
        eval_once(frozen, &bt, n_state, n_cell, &b);
        double moved = 0;
        for (int i = 0; i < NT * NB * NV; i++)
            moved = fmax(moved, fabs((double)a.logits[i] - (double)old.logits[i]));
        printf("  %-18s threads %d: changing W_hh moved the logits by %.3f\n", fc->name, threads, moved);
        assert_true(moved > 1e-2);
        if (packed)
            same("a stale frozen pass", fc, &b, &old);
        else
            same("a pass without the packed kernel", fc, &b, &a);
        assert_int_equal(run_freeze_recurrent(frozen, 1), RECUR_OK);
        eval_once(frozen, &bt, n_state, n_cell, &b);
        same("a pass frozen again", fc, &b, &a);
        assert_int_equal(run_freeze_recurrent(frozen, 0), RECUR_OK);
        eval_once(frozen, &bt, n_state, n_cell, &b);
        same("a pass unfrozen", fc, &b, &a);
        recur_run_free(plain);
        recur_run_free(frozen);
        recur_model_free(m);
    }
    recur_set_num_threads(0);
}

static const freeze_case CASES[] = {
    {"rnn_tanh bidir", RECUR_CELL_RNN_TANH, RECUR_GRU_RESET_AFTER, 1, 0},
    {"lstm", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 0, 0},
    {"lstm bidir", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 1, 0},
    {"lstm projection", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 1, 24},
    {"gru after", RECUR_CELL_GRU, RECUR_GRU_RESET_AFTER, 1, 0},
    {"gru before", RECUR_CELL_GRU, RECUR_GRU_RESET_BEFORE, 1, 0},
};

int main(void)
{
    struct CMUnitTest tests[sizeof CASES / sizeof *CASES];
    size_t n = 0;
    for (; n < sizeof CASES / sizeof *CASES; n++)
        tests[n] = (struct CMUnitTest){CASES[n].name, run_case, NULL, NULL, (void *)&CASES[n]};
    return _cmocka_run_group_tests("freeze_recurrent", tests, n, NULL, NULL);
}
