/*
 * test_gradflow_f64.c - recur_gradflow_measure and the spectral norm, in
 * double precision.
 *  - Finite differences: for 2-layer tanh RNN, GRU and LSTM language
 *    models, || dJ_b / dh_k(t-l) || (and dc for the LSTM) for every layer,
 *    distance and sequence equals the norm of the central-difference
 *    gradient, where J_b is the cross-entropy at the last step computed here
 *    from the logits and the state is perturbed inside one forward pass run
 *    step by step from the start (not through the measuring windows).
 *  - The linear range: a tanh RNN with W_hh = rho * Q (Q orthogonal), inputs
 *    of 1e-9 and a zero start stays where tanh' = 1, so the gradient shrinks
 *    or grows by exactly rho per step: the measured ratio of successive
 *    distances must be rho within 1% for rho = 0.5 and 1.5 (an off-by-one
 *    in the distances or a lost factor gives 1 or rho^2).
 *  - The spectral norm: a hand-worked 2x2 matrix and a scaled orthogonal one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "recur.h"
#include "recur_inspect.h"

#define NV 6
#define NT 6
#define NB 3
#define NL 2
#define NH 5

static uint64_t g_seed = 12345;
static double urand(void)
{
    g_seed = g_seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(g_seed >> 11) / 9007199254740992.0;
}

/* Cross-entropy of target[b] at the last step, from a model run one step at
 * a time from (h0, c0); the state entering step `at` of layer k, sequence b,
 * component j gets + delta (c: the cell state when cell = 1). */
static double loss_perturbed(recur_model *m, recur_run *r, const int32_t *tokens,
                             const int32_t *targets, const double *h0, const double *c0, int at,
                             int k, int b, int j, int cell, double delta, int lstm)
{
    double h[NL * NB * NH], c[NL * NB * NH];
    memcpy(h, h0, sizeof h);
    memcpy(c, c0, sizeof c);
    for (int s = 0; s < NT; s++) {
        if (s == at)
            (cell ? c : h)[(k * NB + b) * NH + j] += delta;
        recur_batch one = {.T = 1, .B = NB, .tokens = tokens + s * NB, .h0 = h, .c0 = lstm ? c : NULL};
        assert_int_equal(recur_forward(r, &one, 0, NULL, NULL), RECUR_OK);
        memcpy(h, recur_run_hn(r), sizeof h);
        if (lstm)
            memcpy(c, recur_run_cn(r), sizeof c);
    }
    const double *z = recur_run_logits(r) + b * NV;
    double mx = z[0], sum = 0;
    for (int v = 1; v < NV; v++)
        mx = fmax(mx, z[v]);
    for (int v = 0; v < NV; v++)
        sum += exp(z[v] - mx);
    (void)m;
    return mx + log(sum) - z[targets[(NT - 1) * NB + b]];
}

static void check_fd(recur_cell cell)
{
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.vocab_size = NV;
    cfg.embed_size = 4;
    cfg.output_size = NV;
    cfg.rnn.cell = cell;
    cfg.rnn.hidden_size = NH;
    cfg.rnn.num_layers = NL;
    recur_model *m;
    recur_error err = {0};
    assert_int_equal(recur_model_create(&m, &cfg, 7, &err), RECUR_OK);
    assert_int_equal(recur_model_init_uniform(m, 0.6), RECUR_OK);
    const int lstm = cell == RECUR_CELL_LSTM;
    int32_t tokens[NT * NB], targets[NT * NB];
    for (int i = 0; i < NT * NB; i++) {
        tokens[i] = (int32_t)(urand() * NV);
        targets[i] = (int32_t)(urand() * NV);
    }
    double h0[NL * NB * NH], c0[NL * NB * NH];
    for (int i = 0; i < NL * NB * NH; i++) {
        h0[i] = urand() - 0.5;
        c0[i] = urand() - 0.5;
    }
    /* the gradient buffer must come back as it was */
    double *grads = recur_model_grads(m);
    size_t np = recur_model_num_params(m);
    for (size_t i = 0; i < np; i++)
        grads[i] = 0.25 * (double)(i % 7);
    recur_batch bt = {.T = NT, .B = NB, .tokens = tokens, .targets = targets, .h0 = h0,
                      .c0 = lstm ? c0 : NULL};
    double hn[NL * NT * NB], cn[NL * NT * NB];
    assert_int_equal(recur_gradflow_measure(m, &bt, NT, hn, lstm ? cn : NULL, &err), RECUR_OK);
    for (size_t i = 0; i < np; i++)
        assert_true(grads[i] == 0.25 * (double)(i % 7));
    recur_run *r;
    assert_int_equal(recur_run_create(&r, m, 1, NB, &err), RECUR_OK);
    const double eps = 1e-6;
    double worst = 0;
    for (int k = 0; k < NL; k++)
        for (int l = 1; l <= NT; l++)
            for (int b = 0; b < NB; b++)
                for (int which = 0; which <= lstm; which++) {
                    double sq = 0;
                    for (int j = 0; j < NH; j++) {
                        double jp = loss_perturbed(m, r, tokens, targets, h0, c0, NT - l, k, b, j,
                                                   which, eps, lstm);
                        double jm = loss_perturbed(m, r, tokens, targets, h0, c0, NT - l, k, b, j,
                                                   which, -eps, lstm);
                        double g = (jp - jm) / (2 * eps);
                        sq += g * g;
                    }
                    double fd = sqrt(sq);
                    double got = (which ? cn : hn)[(k * NT + l - 1) * NB + b];
                    double rel = fabs(got - fd) / fmax(fabs(fd), 1e-8);
                    if (rel > worst)
                        worst = rel;
                    if (rel > 1e-6)
                        fail_msg("cell %d layer %d distance %d seq %d %s: measured %.10g, finite "
                                 "differences %.10g",
                                 (int)cell, k, l, b, which ? "c" : "h", got, fd);
                }
    printf("  cell %d: worst relative difference %.2e\n", (int)cell, worst);
    /* the gradient really reaches back: not all zero */
    assert_true(hn[(0 * NT + NT - 1) * NB] > 0);
    recur_run_free(r);
    recur_model_free(m);
}

static void test_fd_rnn(void **s) { (void)s; check_fd(RECUR_CELL_RNN_TANH); }
static void test_fd_gru(void **s) { (void)s; check_fd(RECUR_CELL_GRU); }
static void test_fd_lstm(void **s) { (void)s; check_fd(RECUR_CELL_LSTM); }

/* Q: a random orthogonal n x n matrix (Gram-Schmidt), times rho. */
static void orthogonal(double *w, int n, double rho)
{
    for (int i = 0; i < n * n; i++)
        w[i] = urand() - 0.5;
    for (int i = 0; i < n; i++) {
        double *r = w + i * n;
        for (int p = 0; p < i; p++) {
            const double *q = w + p * n;
            double d = 0;
            for (int j = 0; j < n; j++)
                d += r[j] * q[j];
            for (int j = 0; j < n; j++)
                r[j] -= d * q[j];
        }
        double nn = 0;
        for (int j = 0; j < n; j++)
            nn += r[j] * r[j];
        nn = sqrt(nn);
        for (int j = 0; j < n; j++)
            r[j] /= nn;
    }
    for (int i = 0; i < n * n; i++)
        w[i] *= rho;
}

static void check_rate(double rho)
{
    enum { HL = 16, TL = 30, BL = 4, IN = 2 };
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.rnn.cell = RECUR_CELL_RNN_TANH;
    cfg.rnn.input_size = IN;
    cfg.rnn.hidden_size = HL;
    cfg.rnn.num_layers = 1;
    recur_model *m;
    recur_error err = {0};
    assert_int_equal(recur_model_create(&m, &cfg, 3, &err), RECUR_OK);
    assert_int_equal(recur_model_init_uniform(m, 0.3), RECUR_OK);
    recur_tensor_info w, bi, bh;
    assert_int_equal(recur_model_find_tensor(m, "rnn.weight_hh_l0", &w), RECUR_OK);
    assert_int_equal(recur_model_find_tensor(m, "rnn.bias_ih_l0", &bi), RECUR_OK);
    assert_int_equal(recur_model_find_tensor(m, "rnn.bias_hh_l0", &bh), RECUR_OK);
    orthogonal(w.data, HL, rho);
    memset(bi.data, 0, bi.numel * sizeof *bi.data);
    memset(bh.data, 0, bh.numel * sizeof *bh.data);
    double sigma;
    assert_int_equal(recur_gradflow_spectral_norm(m, 0, &sigma, &err), RECUR_OK);
    assert_true(fabs(sigma - rho) < 1e-9 * rho);
    double x[TL * BL * IN];
    for (int i = 0; i < TL * BL * IN; i++)
        x[i] = 1e-9 * (urand() - 0.5);
    recur_batch bt = {.T = TL, .B = BL, .inputs = x};
    double hn[(TL - 1) * BL];
    assert_int_equal(recur_gradflow_measure(m, &bt, TL - 1, hn, NULL, &err), RECUR_OK);
    for (int l = 1; l < TL - 1; l++) {
        double a = 0, b = 0;
        for (int s = 0; s < BL; s++) {
            a += hn[(l - 1) * BL + s];
            b += hn[l * BL + s];
        }
        double ratio = b / a;
        if (fabs(ratio - rho) > 0.01 * rho)
            fail_msg("rho %g: distance %d -> %d changes the gradient by %.6g", rho, l, l + 1, ratio);
    }
    /* and over the whole range: rho^(D-1) */
    double first = 0, last = 0;
    for (int s = 0; s < BL; s++) {
        first += hn[s];
        last += hn[(TL - 2) * BL + s];
    }
    printf("  rho %g: measured rate over %d steps %.8f per step\n", rho, TL - 2,
           pow(last / first, 1.0 / (TL - 2)));
    assert_true(fabs(pow(last / first, 1.0 / (TL - 2)) - rho) < 0.01 * rho);
    recur_model_free(m);
}

static void test_rate_half(void **s) { (void)s; check_rate(0.5); }
static void test_rate_one_and_half(void **s) { (void)s; check_rate(1.5); }

static void test_spectral_hand(void **s)
{
    (void)s;
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.rnn.cell = RECUR_CELL_RNN_TANH;
    cfg.rnn.input_size = 1;
    cfg.rnn.hidden_size = 2;
    cfg.rnn.num_layers = 2;
    recur_model *m;
    recur_error err = {0};
    assert_int_equal(recur_model_create(&m, &cfg, 3, &err), RECUR_OK);
    recur_tensor_info w;
    assert_int_equal(recur_model_find_tensor(m, "rnn.weight_hh_l1", &w), RECUR_OK);
    /* [[3, 0], [4, 5]]: W^NT W = [[25, 20], [20, 25]], eigenvalues 45 and 5 */
    w.data[0] = 3;
    w.data[1] = 0;
    w.data[2] = 4;
    w.data[3] = 5;
    double sigma;
    assert_int_equal(recur_gradflow_spectral_norm(m, 1, &sigma, &err), RECUR_OK);
    assert_true(fabs(sigma - sqrt(45.0)) < 1e-8);
    assert_int_equal(recur_gradflow_spectral_norm(m, 2, &sigma, &err), RECUR_ERR_ARG);
    recur_model_free(m);
    cfg.rnn.cell = RECUR_CELL_GRU;
    assert_int_equal(recur_model_create(&m, &cfg, 3, &err), RECUR_OK);
    assert_int_equal(recur_gradflow_spectral_norm(m, 0, &sigma, &err), RECUR_ERR_ARG);
    /* refused shapes */
    int32_t tok[4] = {0};
    recur_batch bt = {.T = 2, .B = 2, .inputs = NULL};
    double out[8];
    assert_int_equal(recur_gradflow_measure(m, &bt, 1, out, NULL, &err), RECUR_ERR_ARG);
    bt.tokens = tok;
    assert_int_equal(recur_gradflow_measure(m, &bt, 1, out, NULL, &err), RECUR_ERR_ARG);
    recur_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_rnn),
        cmocka_unit_test(test_fd_gru),
        cmocka_unit_test(test_fd_lstm),
        cmocka_unit_test(test_rate_half),
        cmocka_unit_test(test_rate_one_and_half),
        cmocka_unit_test(test_spectral_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
