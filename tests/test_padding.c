/*
 * test_padding.c - padding never changes anything.
 *
 * For every cell (Elman tanh/relu, LSTM, LSTM with projection, GRU in both
 * forms) x {1, 2} directions x 2 layers (and one case with residual
 * connections), a padded batch of B = 4 sequences of different lengths (one
 * of full length) is run with garbage at the padded positions - huge values
 * and NaN in the inputs, huge values and NaN in the output gradient dy - and
 * compared with each sequence run alone at batch 1 with T = its own length:
 *   - outputs (and exact zeros at the padded steps), h_n, c_n;
 *   - d_inputs (exact zeros at the padded steps), d_h0, d_c0;
 *   - every parameter gradient of the padded batch against the sum of the
 *     per-sequence gradients.
 * The initial states, dh_n and dc_n are random and differ per sequence.
 *
 * A token model (embedding -> bidirectional LSTM -> decoder, cross-entropy)
 * gets padding tokens -1 and out of range ids, and out-of-range targets at the
 * padded steps, which must all be ignored: its loss is the count-weighted mean
 * of the per-sequence losses, and its gradient the per-sequence gradients
 * weighted by count_b / count.
 *
 * Metric: for a value a against the per-sequence value b, with s the largest
 * |b| of that tensor, |a - b| / (|b| + 0.1 s) <= tol (NaN fails).  tol is 1e-5
 * in the float build (only summation order differs, ~1e-7), 1e-11 in the
 * double build (test_padding_f64.c includes this file).
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

#ifdef RECUR_DOUBLE
#define PAD_TOL 1e-11
#define PAD_BUILD "f64"
#else
#define PAD_TOL 1e-5
#define PAD_BUILD "f32"
#endif

#define PT 6 /* padded length */
#define PB 4 /* batch */
static const int32_t LENGTHS[PB] = {3, PT, 1, 5};

typedef struct pad_case {
    const char *name;
    recur_cell cell;
    recur_gru_form form;
    int proj;     /* LSTM projection size, 0 none */
    int bidir;
    int residual;
    int tokens;   /* 1: embedding + decoder model */
} pad_case;

static uint64_t rng_state;

static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * 0x1.0p-53 * 2.0 - 1.0;
}

static recur_real *rand_vec(size_t n)
{
    recur_real *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (recur_real)urand();
    return v;
}

/* Garbage for a padded slot: huge values of both signs and NaN. */
static recur_real garbage(size_t i)
{
    switch (i % 4) {
    case 0: return (recur_real)NAN;
    case 1: return (recur_real)1e30;
    case 2: return (recur_real)-3e29;
    default: return (recur_real)INFINITY;
    }
}

/* Compares got[i*stride_g] with want[i*stride_w] for i < n (metric above);
 * prints and counts a mismatch.  Returns the worst error. */
static double compare(const char *label, const char *what, const recur_real *got, const recur_real *want,
                      size_t n, int *failures)
{
    double s = 1e-3;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)want[i]) > s)
            s = fabs((double)want[i]);
    double worst = 0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]) / (fabs((double)want[i]) + 0.1 * s);
        if (isnan(e))
            e = INFINITY;
        if (e > worst) {
            worst = e;
            w = i;
        }
    }
    if (!(worst <= PAD_TOL)) {
        fprintf(stderr, "FAIL %s: %s differs at [%zu]: padded batch %.9g, alone %.9g (error %.3g > %.1g)\n", label,
                what, w, (double)got[w], (double)want[w], worst, PAD_TOL);
        (*failures)++;
    }
    return worst;
}

static recur_model_config case_config(const pad_case *pc)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = pc->cell;
    c.rnn.gru_form = pc->form;
    c.rnn.hidden_size = 5;
    c.rnn.proj_size = pc->proj;
    c.rnn.num_layers = 2;
    c.rnn.bidirectional = pc->bidir;
    c.rnn.residual = pc->residual;
    c.rnn.dropout = 0;
    if (pc->tokens) {
        c.vocab_size = 7;
        c.embed_size = 4;
        c.rnn.input_size = 4;
        c.output_size = 7;
    } else {
        c.rnn.input_size = 3;
    }
    return c;
}

static void run_case(void **state)
{
    const pad_case *pc = *state;
    rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)pc->name[0] ^ ((uint64_t)strlen(pc->name) << 32);
    recur_model_config cfg = case_config(pc);
    recur_error err;
    recur_model *m = NULL;
    if (recur_model_create(&m, &cfg, 77, &err) != RECUR_OK)
        fail_msg("%s: %s", pc->name, err.msg);
    assert_int_equal(recur_model_init_uniform(m, 0.5), RECUR_OK);
    recur_run *rp = NULL, *r1 = NULL;
    assert_int_equal(recur_run_create(&rp, m, PT, PB, &err), RECUR_OK);
    assert_int_equal(recur_run_create(&r1, m, PT, 1, &err), RECUR_OK);

    const int D = pc->bidir ? 2 : 1, H = cfg.rnn.hidden_size, R = pc->proj ? pc->proj : H, DR = D * R;
    const int LD = cfg.rnn.num_layers * D, in = cfg.rnn.input_size, O = cfg.output_size;
    const int lstm = pc->cell == RECUR_CELL_LSTM;
    const size_t nx = (size_t)PT * PB * in, ny = (size_t)PT * PB * DR;
    const size_t nh = (size_t)LD * PB * R, nc = (size_t)LD * PB * H;

    /* padded batch: garbage in every padded slot */
    recur_real *x = rand_vec(nx), *dy = rand_vec(ny), *h0 = rand_vec(nh), *c0 = rand_vec(nc);
    recur_real *dhn = rand_vec(nh), *dcn = rand_vec(nc);
    int32_t tokens[PT * PB], targets[PT * PB];
    for (int t = 0; t < PT; t++)
        for (int b = 0; b < PB; b++) {
            size_t i = (size_t)t * PB + b;
            int active = t < LENGTHS[b];
            for (int k = 0; k < in && !active; k++)
                x[i * in + k] = garbage(i * in + k);
            for (int k = 0; k < DR && !active; k++)
                dy[i * DR + k] = garbage(i * DR + k + 1);
            tokens[i] = active ? (int32_t)((i * 5 + 2) % 7) : (i % 2 ? -1 : 1000 + (int32_t)i);
            targets[i] = active ? (int32_t)((i * 3 + 1) % 7) : (i % 2 ? 12345 : -7);
        }
    targets[1 * PB + 1] = -1; /* an active step without a target */

    recur_batch bt;
    memset(&bt, 0, sizeof bt);
    bt.T = PT;
    bt.B = PB;
    bt.lengths = LENGTHS;
    bt.inputs = pc->tokens ? NULL : x;
    bt.tokens = pc->tokens ? tokens : NULL;
    bt.targets = pc->tokens ? targets : NULL;
    bt.h0 = h0;
    bt.c0 = lstm ? c0 : NULL;

    recur_model_zero_grad(m);
    double loss = 0;
    int64_t count = 0;
    if (recur_forward(rp, &bt, 1, &loss, &count) != RECUR_OK)
        fail_msg("%s: padded forward: %s", pc->name, recur_run_errmsg(rp));
    if (recur_backward(rp, 1.0, dy, dhn, lstm ? dcn : NULL) != RECUR_OK)
        fail_msg("%s: padded backward: %s", pc->name, recur_run_errmsg(rp));
    const size_t np = recur_model_num_params(m);
    recur_real *grad_padded = malloc(np * sizeof *grad_padded);
    assert_non_null(grad_padded);
    memcpy(grad_padded, recur_model_grads(m), np * sizeof *grad_padded);
    const recur_real *yp = recur_run_outputs(rp), *hnp = recur_run_hn(rp), *cnp = recur_run_cn(rp);
    const recur_real *lgp = recur_run_logits(rp);
    const recur_real *dxp = recur_run_d_inputs(rp), *dh0p = recur_run_d_h0(rp), *dc0p = recur_run_d_c0(rp);

    int failures = 0;
    double worst = 0;
    char what[96];
    /* exact zeros at the padded steps */
    for (int t = 0; t < PT; t++)
        for (int b = 0; b < PB; b++) {
            if (t < LENGTHS[b])
                continue;
            size_t i = (size_t)t * PB + b;
            for (int k = 0; k < DR; k++)
                if (yp[i * DR + k] != 0) {
                    fprintf(stderr, "FAIL %s: output at padded t=%d b=%d is %g\n", pc->name, t, b,
                            (double)yp[i * DR + k]);
                    failures++;
                    break;
                }
            for (int k = 0; k < in && !pc->tokens; k++)
                if (dxp[i * in + k] != 0) {
                    fprintf(stderr, "FAIL %s: d_inputs at padded t=%d b=%d is %g\n", pc->name, t, b,
                            (double)dxp[i * in + k]);
                    failures++;
                    break;
                }
        }

    /* each sequence alone; parameter gradients accumulate over the four */
    int64_t counts[PB];
    double losses[PB];
    recur_model_zero_grad(m);
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: forward only, to learn each sequence's target count (the
         * loss weights of pass 1); pass 1: forward, compare, backward */
        for (int b = 0; b < PB; b++) {
            const int T = LENGTHS[b];
            recur_real xs[PT * 8], dys[PT * 16], h0s[4 * 8], c0s[4 * 8], dhns[4 * 8], dcns[4 * 8];
            int32_t toks[PT], tgts[PT];
            assert_true(in <= 8 && DR <= 16 && LD <= 4 && H <= 8);
            for (int t = 0; t < T; t++) {
                size_t i = (size_t)t * PB + b;
                memcpy(xs + (size_t)t * in, x + i * in, in * sizeof *xs);
                memcpy(dys + (size_t)t * DR, dy + i * DR, DR * sizeof *dys);
                toks[t] = tokens[i];
                tgts[t] = targets[i];
            }
            for (int k = 0; k < LD; k++) {
                memcpy(h0s + (size_t)k * R, h0 + ((size_t)k * PB + b) * R, R * sizeof *h0s);
                memcpy(dhns + (size_t)k * R, dhn + ((size_t)k * PB + b) * R, R * sizeof *dhns);
                memcpy(c0s + (size_t)k * H, c0 + ((size_t)k * PB + b) * H, H * sizeof *c0s);
                memcpy(dcns + (size_t)k * H, dcn + ((size_t)k * PB + b) * H, H * sizeof *dcns);
            }
            recur_batch one;
            memset(&one, 0, sizeof one);
            one.T = T;
            one.B = 1;
            one.inputs = pc->tokens ? NULL : xs;
            one.tokens = pc->tokens ? toks : NULL;
            one.targets = pc->tokens ? tgts : NULL;
            one.h0 = h0s;
            one.c0 = lstm ? c0s : NULL;
            if (recur_forward(r1, &one, 1, &losses[b], &counts[b]) != RECUR_OK)
                fail_msg("%s: forward of sequence %d: %s", pc->name, b, recur_run_errmsg(r1));
            if (pass == 0)
                continue;

            /* the padded batch's slices, gathered */
            recur_real got[PT * 16], gotlg[PT * 8];
            for (int t = 0; t < T; t++) {
                memcpy(got + (size_t)t * DR, yp + ((size_t)t * PB + b) * DR, DR * sizeof *got);
                if (O)
                    memcpy(gotlg + (size_t)t * O, lgp + ((size_t)t * PB + b) * O, O * sizeof *got);
            }
            snprintf(what, sizeof what, "outputs of sequence %d", b);
            worst = fmax(worst, compare(pc->name, what, got, recur_run_outputs(r1), (size_t)T * DR, &failures));
            if (O) {
                assert_true(O <= 8);
                snprintf(what, sizeof what, "logits of sequence %d", b);
                worst = fmax(worst, compare(pc->name, what, gotlg, recur_run_logits(r1), (size_t)T * O, &failures));
            }
            for (int k = 0; k < LD; k++) {
                snprintf(what, sizeof what, "h_n[%d] of sequence %d", k, b);
                worst = fmax(worst, compare(pc->name, what, hnp + ((size_t)k * PB + b) * R, recur_run_hn(r1) + (size_t)k * R,
                                            R, &failures));
                if (lstm) {
                    snprintf(what, sizeof what, "c_n[%d] of sequence %d", k, b);
                    worst = fmax(worst, compare(pc->name, what, cnp + ((size_t)k * PB + b) * H,
                                                recur_run_cn(r1) + (size_t)k * H, H, &failures));
                }
            }
            double scale = pc->tokens && count > 0 ? (double)counts[b] / (double)count : 0.0;
            if (recur_backward(r1, scale, dys, dhns, lstm ? dcns : NULL) != RECUR_OK)
                fail_msg("%s: backward of sequence %d: %s", pc->name, b, recur_run_errmsg(r1));
            if (!pc->tokens) {
                recur_real gx[PT * 8];
                for (int t = 0; t < T; t++)
                    memcpy(gx + (size_t)t * in, dxp + ((size_t)t * PB + b) * in, in * sizeof *gx);
                snprintf(what, sizeof what, "d_inputs of sequence %d", b);
                worst = fmax(worst, compare(pc->name, what, gx, recur_run_d_inputs(r1), (size_t)T * in, &failures));
            }
            for (int k = 0; k < LD; k++) {
                snprintf(what, sizeof what, "d_h0[%d] of sequence %d", k, b);
                worst = fmax(worst, compare(pc->name, what, dh0p + ((size_t)k * PB + b) * R, recur_run_d_h0(r1) + (size_t)k * R,
                                            R, &failures));
                if (lstm) {
                    snprintf(what, sizeof what, "d_c0[%d] of sequence %d", k, b);
                    worst = fmax(worst, compare(pc->name, what, dc0p + ((size_t)k * PB + b) * H,
                                                recur_run_d_c0(r1) + (size_t)k * H, H, &failures));
                }
            }
        }
    }

    if (pc->tokens) {
        /* the loss: the count-weighted mean of the per-sequence losses */
        int64_t total = 0;
        double sum = 0;
        for (int b = 0; b < PB; b++) {
            total += counts[b];
            sum += losses[b] * (double)counts[b];
        }
        if (total != count || !(fabs(sum / (double)total - loss) <= 1e-5 * fabs(loss))) {
            fprintf(stderr, "FAIL %s: padded loss %.9g over %lld targets, per-sequence %.9g over %lld\n", pc->name,
                    loss, (long long)count, sum / (double)total, (long long)total);
            failures++;
        }
    }

    /* parameter gradients: padded batch = sum over the sequences */
    const recur_real *gsum = recur_model_grads(m);
    for (int k = 0; k < recur_model_num_tensors(m); k++) {
        recur_tensor_info ti;
        assert_int_equal(recur_model_tensor(m, k, &ti), RECUR_OK);
        snprintf(what, sizeof what, "grad %s", ti.name);
        worst = fmax(worst, compare(pc->name, what, grad_padded + ti.offset, gsum + ti.offset, ti.numel, &failures));
    }
    fprintf(stderr, "padding[%s] %-22s worst error %.2e%s\n", PAD_BUILD, pc->name, worst, failures ? "  FAILED" : "");

    free(grad_padded);
    free(x);
    free(dy);
    free(h0);
    free(c0);
    free(dhn);
    free(dcn);
    recur_run_free(rp);
    recur_run_free(r1);
    recur_model_free(m);
    if (failures)
        fail_msg("%s: %d mismatches (see above)", pc->name, failures);
}

#define A RECUR_GRU_RESET_AFTER
static const pad_case CASES[] = {
    {"rnn_tanh_d1", RECUR_CELL_RNN_TANH, A, 0, 0, 0, 0},
    {"rnn_tanh_d2", RECUR_CELL_RNN_TANH, A, 0, 1, 0, 0},
    {"rnn_relu_d1", RECUR_CELL_RNN_RELU, A, 0, 0, 0, 0},
    {"rnn_relu_d2", RECUR_CELL_RNN_RELU, A, 0, 1, 0, 0},
    {"lstm_d1", RECUR_CELL_LSTM, A, 0, 0, 0, 0},
    {"lstm_d2", RECUR_CELL_LSTM, A, 0, 1, 0, 0},
    {"lstm_proj_d1", RECUR_CELL_LSTM, A, 3, 0, 0, 0},
    {"lstm_proj_d2", RECUR_CELL_LSTM, A, 3, 1, 0, 0},
    {"gru_after_d1", RECUR_CELL_GRU, A, 0, 0, 0, 0},
    {"gru_after_d2", RECUR_CELL_GRU, A, 0, 1, 0, 0},
    {"gru_before_d1", RECUR_CELL_GRU, RECUR_GRU_RESET_BEFORE, 0, 0, 0, 0},
    {"gru_before_d2", RECUR_CELL_GRU, RECUR_GRU_RESET_BEFORE, 0, 1, 0, 0},
    {"gru_before_d2_residual", RECUR_CELL_GRU, RECUR_GRU_RESET_BEFORE, 0, 1, 1, 0},
    {"lstm_proj_d2_residual", RECUR_CELL_LSTM, A, 3, 1, 1, 0},
    {"tokens_lstm_d2", RECUR_CELL_LSTM, A, 0, 1, 0, 1},
    {"tokens_gru_d1_residual", RECUR_CELL_GRU, A, 0, 0, 1, 1},
};
#undef A

int main(void)
{
    struct CMUnitTest tests[sizeof CASES / sizeof *CASES];
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        memset(&tests[i], 0, sizeof tests[i]);
        tests[i].name = CASES[i].name;
        tests[i].test_func = run_case;
        tests[i].initial_state = (void *)&CASES[i];
    }
    return _cmocka_run_group_tests("test_padding", tests, sizeof tests / sizeof *tests, NULL, NULL);
}
