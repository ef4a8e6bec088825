/*
 * test_stepper.c - recur_stepper against recur_forward.
 *
 * For each cell (Elman tanh and relu, LSTM with and without a projection,
 * GRU in both forms), with one to three layers, residual connections, and a
 * vocabulary both smaller than the embedding (layer 0 read from a table) and
 * larger (multiplied), on one and two threads: a stepper and a run of
 * T = B = 1 carrying its state start from the same h0/c0 and take the same
 * nine tokens.  After every token the logits, the last layer's outputs, h
 * and c must match.  The stepper makes the same dot products and adds them
 * in the same order as the run, so in the float build the results must be
 * identical, bit for bit, on every SIMD level (each case runs on all the CPU has);
 * the double build, whose products are OpenBLAS's, allows 1e-12.  Hidden
 * size 40 gives the two threads unequal unit ranges (32 and 8), and nine
 * tokens exercise both orders of the streamed products.  Then: a reset to
 * zeros against a run from zeros; the nine tokens as one forward of T = 9
 * (its products are grouped otherwise, so 1e-5 / 1e-12); ids outside the
 * vocabulary refused with the state untouched; a bidirectional model and a
 * model without an embedding refused.
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
#include "rel_err.h"
#include "engine/simd.h"

#ifdef RECUR_DOUBLE
#define STEP_TOL 1e-12
#define SEQ_TOL 1e-12
#else
#define STEP_TOL 0.0
#define SEQ_TOL 1e-5
#endif

#define H 40
#define E 24
#define NTOK 9

typedef struct step_case {
    const char *name;
    recur_cell cell;
    recur_gru_form form;
    int layers, proj, residual, vocab;
} step_case;

static void check(const char *name, const char *what, int t, const recur_real *a, const recur_real *b, size_t n,
                  double tol)
{
    double e = rel_err(a, b, n);
    if (!(e <= tol))
        fail_msg("%s: %s at token %d: error %.3e above %.1e", name, what, t, e, tol);
}

static recur_model *make_model(const step_case *sc)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = sc->cell;
    c.rnn.gru_form = sc->form;
    c.rnn.hidden_size = H;
    c.rnn.proj_size = sc->proj;
    c.rnn.num_layers = sc->layers;
    c.rnn.residual = sc->residual;
    c.vocab_size = sc->vocab;
    c.embed_size = E;
    c.rnn.input_size = E;
    c.output_size = sc->vocab;
    recur_model *m = NULL;
    recur_error err;
    if (recur_model_create(&m, &c, 11, &err) != RECUR_OK)
        fail_msg("%s: %s", sc->name, err.msg);
    assert_int_equal(recur_model_init_uniform(m, 0.3), RECUR_OK);
    return m;
}

static void run_case_threads(const step_case *sc, int threads, int level)
{
    recur_set_num_threads(threads);
    recur_model *m = make_model(sc);
    const int L = sc->layers, R = sc->proj ? sc->proj : H, O = sc->vocab;
    const int lstm = sc->cell == RECUR_CELL_LSTM;
    const size_t nh = (size_t)L * R, nc = (size_t)L * H;
    char name[80];
    static const char *levels[] = {"portable", "avx2", "avx512"};
    snprintf(name, sizeof name, "%s/%d thread%s/%s", sc->name, threads, threads > 1 ? "s" : "", levels[level]);
    recur_error err;
    recur_stepper *st = NULL;
    recur_run *run = NULL, *seq = NULL;
    if (recur_stepper_create(&st, m, &err) != RECUR_OK)
        fail_msg("%s: %s", name, err.msg);
    assert_int_equal(recur_run_create(&run, m, 1, 1, &err), RECUR_OK);
    assert_int_equal(recur_run_create(&seq, m, NTOK, 1, &err), RECUR_OK);

    recur_real *h = malloc(nh * sizeof *h), *c = malloc(nc * sizeof *c), *h0 = malloc(nh * sizeof *h0),
               *c0 = malloc(nc * sizeof *c0), *logits = malloc((size_t)NTOK * O * sizeof *logits);
    assert_true(h && c && h0 && c0 && logits);
    for (size_t i = 0; i < nh; i++)
        h0[i] = (recur_real)(0.4 * sin(1.3 * (double)i + sc->vocab));
    for (size_t i = 0; i < nc; i++)
        c0[i] = (recur_real)(0.5 * cos(0.7 * (double)i));
    int32_t tok[NTOK];
    for (int t = 0; t < NTOK; t++)
        tok[t] = (int32_t)((5 * t + 3) % sc->vocab);

    recur_stepper_reset(st, h0, lstm ? c0 : NULL);
    memcpy(h, h0, nh * sizeof *h);
    memcpy(c, c0, nc * sizeof *c);
    for (int t = 0; t < NTOK; t++) {
        assert_int_equal(recur_stepper_feed(st, tok[t]), RECUR_OK);
        recur_batch b = {.T = 1, .B = 1, .tokens = &tok[t], .h0 = h, .c0 = lstm ? c : NULL};
        if (recur_forward(run, &b, 0, NULL, NULL) != RECUR_OK)
            fail_msg("%s: %s", name, recur_run_errmsg(run));
        memcpy(h, recur_run_hn(run), nh * sizeof *h);
        if (lstm)
            memcpy(c, recur_run_cn(run), nc * sizeof *c);
        memcpy(logits + (size_t)t * O, recur_run_logits(run), (size_t)O * sizeof *logits);
        check(name, "logits", t, recur_stepper_logits(st), recur_run_logits(run), (size_t)O, STEP_TOL);
        check(name, "outputs", t, recur_stepper_outputs(st), recur_run_outputs(run), (size_t)R, STEP_TOL);
        check(name, "h", t, recur_stepper_h(st), h, nh, STEP_TOL);
        if (lstm)
            check(name, "c", t, recur_stepper_c(st), c, nc, STEP_TOL);
        else
            assert_null(recur_stepper_c(st));
    }

    /* the nine tokens as one sequence */
    recur_batch b = {.T = NTOK, .B = 1, .tokens = tok, .h0 = h0, .c0 = lstm ? c0 : NULL};
    assert_int_equal(recur_forward(seq, &b, 0, NULL, NULL), RECUR_OK);
    check(name, "sequence logits", NTOK, logits, recur_run_logits(seq), (size_t)NTOK * O, SEQ_TOL);
    check(name, "sequence h", NTOK, recur_stepper_h(st), recur_run_hn(seq), nh, SEQ_TOL);

    /* refused ids leave the state as it was */
    memcpy(h, recur_stepper_h(st), nh * sizeof *h);
    assert_int_equal(recur_stepper_feed(st, -1), RECUR_ERR_ARG);
    assert_int_equal(recur_stepper_feed(st, sc->vocab), RECUR_ERR_ARG);
    assert_non_null(strstr(recur_stepper_errmsg(st), "outside the vocabulary"));
    check(name, "h after refused ids", NTOK, recur_stepper_h(st), h, nh, 0.0);

    /* a reset to zeros, then three tokens */
    recur_stepper_reset(st, NULL, NULL);
    for (int t = 0; t < 3; t++) {
        assert_int_equal(recur_stepper_feed(st, tok[t + 4]), RECUR_OK);
        recur_batch z = {.T = 1, .B = 1, .tokens = &tok[t + 4], .h0 = t ? h : NULL, .c0 = t && lstm ? c : NULL};
        assert_int_equal(recur_forward(run, &z, 0, NULL, NULL), RECUR_OK);
        memcpy(h, recur_run_hn(run), nh * sizeof *h);
        if (lstm)
            memcpy(c, recur_run_cn(run), nc * sizeof *c);
        check(name, "logits after reset", t, recur_stepper_logits(st), recur_run_logits(run), (size_t)O, STEP_TOL);
        check(name, "h after reset", t, recur_stepper_h(st), h, nh, STEP_TOL);
    }
    printf("  %-46s matches\n", name);
    free(h);
    free(c);
    free(h0);
    free(c0);
    free(logits);
    recur_run_free(run);
    recur_run_free(seq);
    recur_stepper_free(st);
    recur_model_free(m);
}

static void run_case(void **state)
{
    const step_case *sc = *state;
    int top = simd_level();
    for (int level = top; level >= SIMD_PORTABLE; level--) {
        simd_set_level(level);
        run_case_threads(sc, 1, level);
        run_case_threads(sc, 2, level);
    }
    simd_set_level(top);
    recur_set_num_threads(0);
}

static void refuses_what_cannot_step(void **state)
{
    (void)state;
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.hidden_size = 8;
    c.rnn.input_size = 4;
    recur_model *m = NULL;
    recur_stepper *st = NULL;
    recur_error err;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_OK); /* no embedding */
    assert_int_equal(recur_stepper_create(&st, m, &err), RECUR_ERR_ARG);
    assert_null(st);
    assert_non_null(strstr(err.msg, "embedding"));
    recur_model_free(m);
    c.vocab_size = 5;
    c.embed_size = 4;
    c.rnn.bidirectional = 1;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_OK);
    assert_int_equal(recur_stepper_create(&st, m, &err), RECUR_ERR_ARG);
    assert_null(st);
    assert_non_null(strstr(err.msg, "bidirectional"));
    recur_model_free(m);

    /* a non-finite state is refused by reset, which keeps the state it had */
    c.rnn.bidirectional = 0;
    c.rnn.num_layers = 2;
    assert_int_equal(recur_model_create(&m, &c, 1, &err), RECUR_OK);
    assert_int_equal(recur_stepper_create(&st, m, &err), RECUR_OK);
    recur_real h0[2 * 8], c0[2 * 8];
    for (int i = 0; i < 16; i++)
        h0[i] = c0[i] = (recur_real)(0.01 * i);
    assert_int_equal(recur_stepper_reset(st, h0, c0), RECUR_OK);
    recur_real bad[2 * 8];
    memcpy(bad, h0, sizeof bad);
    bad[11] = (recur_real)NAN;
    assert_int_equal(recur_stepper_reset(st, bad, NULL), RECUR_ERR_NONFINITE);
    assert_non_null(strstr(recur_stepper_errmsg(st), "h0[11]"));
    assert_int_equal(recur_stepper_reset(st, NULL, bad), RECUR_ERR_NONFINITE);
    assert_non_null(strstr(recur_stepper_errmsg(st), "c0[11]"));
    assert_memory_equal(recur_stepper_h(st), h0, sizeof h0);
    assert_memory_equal(recur_stepper_c(st), c0, sizeof c0);
    recur_stepper_free(st);
    recur_model_free(m);
}

int main(void)
{
    static const step_case cases[] = {
        {"lstm 2 layers, table", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 2, 0, 0, 7},
        {"lstm 3 layers, residual", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 3, 0, 1, 30},
        {"lstm projection", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 2, 20, 1, 7},
        {"lstm 1 layer", RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 1, 0, 0, 30},
        {"gru reset after", RECUR_CELL_GRU, RECUR_GRU_RESET_AFTER, 2, 0, 0, 7},
        {"gru reset before", RECUR_CELL_GRU, RECUR_GRU_RESET_BEFORE, 3, 0, 1, 30},
        {"rnn tanh", RECUR_CELL_RNN_TANH, RECUR_GRU_RESET_AFTER, 2, 0, 0, 30},
        {"rnn relu", RECUR_CELL_RNN_RELU, RECUR_GRU_RESET_AFTER, 2, 0, 1, 7},
    };
    struct CMUnitTest tests[sizeof cases / sizeof *cases + 1];
    size_t n = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        tests[n++] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, (void *)&cases[i]};
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(refuses_what_cannot_step);
    return _cmocka_run_group_tests("stepper", tests, n, NULL, NULL);
}
