/*
 * test_seq2seq_f64.c - the encoder-decoder's gradients against central
 * finite differences, in double precision.
 *
 * For each variant (attention none, dot, general, additive; with and
 * without input feeding; uni- and bidirectional encoders with linear and
 * copy bridges; LSTM and GRU; different depths on the two sides) a padded
 * batch of three pairs of different lengths is run teacher-forced with
 * label smoothing, and the gradient of the mean loss with respect to
 * sampled entries of every tensor (encoder, decoder, bridge, attention,
 * output layer) is compared with (L(w+h) - L(w-h)) / 2h.  A missing term,
 * a transposed weight or a wrong gate order moves the relative error far
 * above the tolerance.
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

#include "tasks/seq2seq/s2s_internal.h"

static const char PAIRS[] = "abc\tX Y\n"
                            "bcaab\tY Z X W\n"
                            "ca\tZ\n"
                            "dab\tW X\n";

typedef struct variant {
    const char *attention;
    int feed, bidirectional, enc_layers, dec_layers, enc_hidden, dec_hidden;
    recur_cell cell;
    const char *bridge;
} variant;

static recur_s2s *make(const variant *v)
{
    recur_s2s_pairs *p;
    recur_error err;
    assert_int_equal(recur_s2s_pairs_parse(&p, PAIRS, strlen(PAIRS), "pairs", RECUR_LEVEL_CHAR,
                                           RECUR_LEVEL_WORD, 0, &err),
                     RECUR_OK);
    recur_s2s_config c;
    recur_s2s_config_default(&c);
    c.source_embed = 3;
    c.target_embed = 4;
    c.encoder_layers = v->enc_layers;
    c.decoder_layers = v->dec_layers;
    c.encoder_hidden = v->enc_hidden;
    c.decoder_hidden = v->dec_hidden;
    c.bidirectional = v->bidirectional;
    c.attention = v->attention;
    c.attention_size = 3;
    c.input_feeding = v->feed;
    c.bridge = v->bridge;
    c.cell = v->cell;
    c.dropout = 0;
    c.init_scale = 0.5;
    recur_s2s *s = NULL;
    recur_status st = recur_s2s_create(&s, &c, p, 11, &err);
    if (st)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, RECUR_OK);
    recur_s2s_pairs_free(p);
    return s;
}

/* Three pairs, padded: sources of 3, 5 and 2 ids, targets of 2, 4, 1. */
enum { B = 3, S = 5, T = 5 };
static int32_t src[S * B], src_len[B] = {3, 5, 2}, tin[T * B], tout[T * B], tlen[B];

static void make_batch(const recur_s2s *s)
{
    const int32_t xs[B][S] = {{1, 2, 3}, {2, 3, 1, 1, 2}, {3, 1}};
    const int ny[B] = {2, 4, 1};
    const int32_t ys[B][4] = {{3, 4}, {4, 5, 3, 6}, {5}};
    (void)s;
    for (int b = 0; b < B; b++) {
        tlen[b] = ny[b] + 1;
        for (int i = 0; i < S; i++)
            src[i * B + b] = i < src_len[b] ? xs[b][i] : 0;
        for (int i = 0; i < T; i++) {
            tin[i * B + b] = i == 0 ? S2S_BOS : i <= ny[b] ? ys[b][i - 1] : S2S_EOS;
            tout[i * B + b] = i < ny[b] ? ys[b][i] : i == ny[b] ? S2S_EOS : -1;
        }
    }
}

static double objective(recur_s2s *s, s2s_work *w, const s2s_batch *b, double ls, int backward)
{
    double nll;
    int64_t count;
    char msg[512];
    recur_status st = s2s_batch_loss(s, w, b, 0, backward, ls, &nll, &count, msg);
    if (st)
        fprintf(stderr, "%s\n", msg);
    assert_int_equal(st, RECUR_OK);
    assert_int_equal(count, 2 + 4 + 1 + 3);
    return s2s_work_objective(w);
}

static void check_variant(const variant *v)
{
    recur_s2s *s = make(v);
    make_batch(s);
    s2s_batch b = {B, S, T, src, src_len, tin, tout, tlen};
    s2s_work *w;
    recur_error err;
    assert_int_equal(s2s_work_create(&w, s, S, T, B, &err), RECUR_OK);
    recur_model *m = recur_s2s_model(s);
    recur_model_zero_grad(m);
    const double ls = 0.1;
    objective(s, w, &b, ls, 1);
    const size_t n = recur_model_num_params(m);
    recur_real *grad = malloc(n * sizeof *grad);
    memcpy(grad, recur_model_grads(m), n * sizeof *grad);
    recur_real *p = recur_model_params(m);
    double worst = 0;
    const char *worst_name = "";
    int checked = 0;
    for (int i = 0; i < recur_model_num_tensors(m); i++) {
        recur_tensor_info t;
        recur_model_tensor(m, i, &t);
        double gsum = 0;
        for (size_t j = 0; j < t.numel; j++)
            gsum += fabs((double)grad[t.offset + j]);
        /* every tensor takes part: a zero gradient is a missing path (the
         * target embedding's <s>-free rows and unused tokens aside) */
        assert_true(gsum > 0);
        const size_t picks = t.numel < 7 ? t.numel : 7;
        for (size_t q = 0; q < picks; q++) {
            size_t j = t.offset + (q * 7919u) % t.numel;
            const double h = 1e-5, keep = p[j];
            p[j] = keep + h;
            double up = objective(s, w, &b, ls, 0);
            p[j] = keep - h;
            double down = objective(s, w, &b, ls, 0);
            p[j] = keep;
            double fd = (up - down) / (2 * h), an = grad[j];
            /* relative, with an absolute floor for the rounding of the differences */
            double err_rel = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-4);
            if (getenv("S2S_VERBOSE"))
                fprintf(stderr, "%-32s fd %.10g an %.10g\n", t.name, fd, an);
            if (err_rel > worst) {
                worst = err_rel;
                worst_name = t.name;
            }
            checked++;
        }
    }
    if (worst > 1e-6)
        fprintf(stderr, "attention %s feed %d: worst relative error %.3g in %s\n", v->attention,
                v->feed, worst, worst_name);
    assert_true(worst < 1e-6);
    assert_true(checked > 40);
    free(grad);
    s2s_work_free(w);
    recur_s2s_free(s);
}

static void test_no_attention(void **state)
{
    (void)state;
    variant v = {"none", 0, 1, 2, 1, 3, 4, RECUR_CELL_LSTM, "auto"};
    check_variant(&v);
    variant u = {"none", 0, 0, 1, 2, 4, 4, RECUR_CELL_GRU, "auto"}; /* copy bridge */
    check_variant(&u);
}

static void test_dot(void **state)
{
    (void)state;
    variant v = {"dot", 0, 1, 1, 2, 2, 4, RECUR_CELL_LSTM, "linear"};
    check_variant(&v);
    variant f = {"dot", 1, 1, 1, 1, 2, 4, RECUR_CELL_LSTM, "linear"};
    check_variant(&f);
}

static void test_general(void **state)
{
    (void)state;
    variant v = {"general", 0, 1, 2, 2, 3, 4, RECUR_CELL_LSTM, "auto"};
    check_variant(&v);
    variant f = {"general", 1, 1, 2, 2, 3, 4, RECUR_CELL_LSTM, "auto"};
    check_variant(&f);
    variant g = {"general", 1, 0, 1, 1, 4, 4, RECUR_CELL_GRU, "zero"};
    check_variant(&g);
}

static void test_additive(void **state)
{
    (void)state;
    variant v = {"additive", 0, 1, 1, 1, 3, 4, RECUR_CELL_LSTM, "auto"};
    check_variant(&v);
    variant f = {"additive", 1, 0, 2, 1, 4, 4, RECUR_CELL_GRU, "auto"};
    check_variant(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_attention),
        cmocka_unit_test(test_dot),
        cmocka_unit_test(test_general),
        cmocka_unit_test(test_additive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
