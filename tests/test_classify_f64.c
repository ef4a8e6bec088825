/*
 * test_classify_f64.c - the classifier's gradients, in double precision,
 * through the whole model: embedding -> recurrent stack -> pooling ->
 * dropout -> linear -> weighted softmax cross-entropy (cls_net).
 *
 *  gradients   for each pooling (final states, mean, max, attention), over
 *              a padded batch of sentences of lengths 6, 3, 1, 5 with class
 *              weights, every parameter's analytic gradient equals the
 *              central difference (J(p+e) - J(p-e)) / 2e within the
 *              normalised error |a-n| / max(|a|+|n|, 1e-4) of 1e-5 (a wrong
 *              or missing term gives O(1)); one case with dropout on the
 *              embeddings, between layers and on the sentence vector (masks
 *              replayed by reseeding), GRU and unidirectional cases too.
 *  padding     a padded batch gives each sentence the probabilities it gets
 *              alone, and its gradient is the weighted sum of the sentences'
 *              own gradients (1e-12): padding never leaks into a pooling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "tasks/classify/classify_internal.h"

#define NT 6
#define NB 4
#define V 9
#define K 3
#define FD_EPS 1e-5
#define TOL 1e-5

static const int32_t LENS[NB] = {6, 3, 1, 5};
static const int32_t LABELS[NB] = {2, 0, 1, 2};
static const double WEIGHTS[K] = {0.5, 2.0, 1.25};

typedef struct env {
    recur_model *m;
    cls_net *net;
    int32_t tokens[NT * NB];
    int training;
} env;

static void make(env *e, recur_cls_pool pool, recur_cell cell, int bidir, int layers, float dropout)
{
    recur_cls_model_config c;
    memset(&c, 0, sizeof c);
    recur_model_config_default(&c.base);
    c.base.vocab_size = V;
    c.base.embed_size = 5;
    c.base.rnn.cell = cell;
    c.base.rnn.hidden_size = 4;
    c.base.rnn.num_layers = layers;
    c.base.rnn.bidirectional = bidir;
    c.base.rnn.dropout = dropout;
    c.base.dropout_embed = dropout;
    c.pool = pool;
    c.classes = K;
    c.attention_size = 3;
    recur_error err;
    assert_int_equal(recur_cls_model_create(&e->m, &c, 7, &err), RECUR_OK);
    /* weights large enough that every nonlinearity is off its linear part */
    recur_model_init_uniform(e->m, 0.6);
    assert_int_equal(cls_net_create(&e->net, e->m, pool, dropout, NT, NB, &err), RECUR_OK);
    uint64_t s = 12345;
    for (int i = 0; i < NT * NB; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        e->tokens[i] = (int32_t)((s >> 33) % V);
    }
    for (int t = 0; t < NT; t++) /* padding holds a real token: it must not count */
        for (int b = 0; b < NB; b++)
            if (t >= LENS[b])
                e->tokens[t * NB + b] = 3;
    e->training = dropout > 0;
}

static void drop(env *e)
{
    cls_net_free(e->net);
    recur_model_free(e->m);
}

static double objective(env *e)
{
    recur_model_seed(e->m, 99); /* the same dropout masks every time */
    assert_int_equal(cls_net_forward(e->net, e->tokens, LENS, NT, NB, e->training), RECUR_OK);
    const double *p = cls_net_probs(e->net);
    double num = 0, den = 0;
    for (int b = 0; b < NB; b++) {
        num -= WEIGHTS[LABELS[b]] * log(p[b * K + LABELS[b]]);
        den += WEIGHTS[LABELS[b]];
    }
    return num / den;
}

static void gradcheck(recur_cls_pool pool, recur_cell cell, int bidir, int layers, float dropout)
{
    env e;
    make(&e, pool, cell, bidir, layers, dropout);
    recur_model_zero_grad(e.m);
    double J = objective(&e), loss;
    assert_int_equal(cls_net_backward(e.net, LABELS, WEIGHTS, 1.0, &loss), RECUR_OK);
    assert_true(fabs(J - loss) < 1e-12);
    double *p = recur_model_params(e.m);
    const double *g = recur_model_grads(e.m);
    const size_t n = recur_model_num_params(e.m);
    double *analytic = malloc(n * sizeof *analytic);
    memcpy(analytic, g, n * sizeof *analytic);
    double worst = 0, gmax = 0;
    size_t worst_at = 0;
    for (size_t i = 0; i < n; i++) {
        double keep = p[i];
        p[i] = keep + FD_EPS;
        double jp = objective(&e);
        p[i] = keep - FD_EPS;
        double jm = objective(&e);
        p[i] = keep;
        double num = (jp - jm) / (2 * FD_EPS);
        double err = fabs(analytic[i] - num) / fmax(fabs(analytic[i]) + fabs(num), 1e-4);
        gmax = fmax(gmax, fabs(analytic[i]));
        if (err > worst) {
            worst = err;
            worst_at = i;
        }
    }
    /* name the tensor of the worst element */
    const char *name = "?";
    for (int t = 0; t < recur_model_num_tensors(e.m); t++) {
        recur_tensor_info info;
        recur_model_tensor(e.m, t, &info);
        if (worst_at >= info.offset && worst_at < info.offset + info.numel)
            name = info.name;
    }
    printf("  %-9s %s %s%d: %zu parameters, worst error %.2e (%s), max |grad| %.3f\n",
           recur_cls_pool_name(pool), cell == RECUR_CELL_GRU ? "gru" : "lstm", bidir ? "bi x" : "uni x",
           layers, n, worst, name, gmax);
    assert_true(gmax > 1e-3); /* the check compares something */
    assert_true(worst < TOL);
    free(analytic);
    drop(&e);
}

static void test_grad_last(void **s) { (void)s; gradcheck(RECUR_POOL_LAST, RECUR_CELL_LSTM, 1, 2, 0); }
static void test_grad_last_uni_gru(void **s) { (void)s; gradcheck(RECUR_POOL_LAST, RECUR_CELL_GRU, 0, 1, 0); }
static void test_grad_mean(void **s) { (void)s; gradcheck(RECUR_POOL_MEAN, RECUR_CELL_LSTM, 1, 1, 0); }
static void test_grad_max(void **s) { (void)s; gradcheck(RECUR_POOL_MAX, RECUR_CELL_LSTM, 1, 2, 0); }
static void test_grad_max_uni_gru(void **s) { (void)s; gradcheck(RECUR_POOL_MAX, RECUR_CELL_GRU, 0, 1, 0); }
static void test_grad_attention(void **s) { (void)s; gradcheck(RECUR_POOL_ATTENTION, RECUR_CELL_LSTM, 1, 1, 0); }
static void test_grad_attention_dropout(void **s) { (void)s; gradcheck(RECUR_POOL_ATTENTION, RECUR_CELL_LSTM, 1, 2, 0.3f); }
static void test_grad_mean_dropout(void **s) { (void)s; gradcheck(RECUR_POOL_MEAN, RECUR_CELL_GRU, 1, 1, 0.4f); }

/* ---- padding ---------------------------------------------------------------------------- */

static void padding(recur_cls_pool pool)
{
    env e;
    make(&e, pool, RECUR_CELL_LSTM, 1, 2, 0);
    const size_t n = recur_model_num_params(e.m);
    recur_model_zero_grad(e.m);
    double loss;
    assert_int_equal(cls_net_forward(e.net, e.tokens, LENS, NT, NB, 0), RECUR_OK);
    double batch_p[NB * K];
    memcpy(batch_p, cls_net_probs(e.net), sizeof batch_p);
    assert_int_equal(cls_net_backward(e.net, LABELS, WEIGHTS, 1.0, &loss), RECUR_OK);
    double *batch_g = malloc(n * sizeof *batch_g);
    memcpy(batch_g, recur_model_grads(e.m), n * sizeof *batch_g);

    double wsum = 0;
    for (int b = 0; b < NB; b++)
        wsum += WEIGHTS[LABELS[b]];
    recur_model_zero_grad(e.m);
    double worst_p = 0;
    for (int b = 0; b < NB; b++) {
        int32_t alone[NT];
        for (int t = 0; t < LENS[b]; t++)
            alone[t] = e.tokens[t * NB + b];
        assert_int_equal(cls_net_forward(e.net, alone, &LENS[b], LENS[b], 1, 0), RECUR_OK);
        for (int k = 0; k < K; k++)
            worst_p = fmax(worst_p, fabs(cls_net_probs(e.net)[k] - batch_p[b * K + k]));
        /* alone its loss is its CE; in the batch it weighs w_b / sum w */
        assert_int_equal(cls_net_backward(e.net, &LABELS[b], NULL, WEIGHTS[LABELS[b]] / wsum, &loss), RECUR_OK);
    }
    const double *g = recur_model_grads(e.m);
    double worst_g = 0, gmax = 0;
    for (size_t i = 0; i < n; i++) {
        worst_g = fmax(worst_g, fabs(g[i] - batch_g[i]));
        gmax = fmax(gmax, fabs(batch_g[i]));
    }
    printf("  %-9s padded batch vs alone: probabilities %.1e, gradients %.1e (max |grad| %.3f)\n",
           recur_cls_pool_name(pool), worst_p, worst_g, gmax);
    assert_true(gmax > 1e-3);
    assert_true(worst_p < 1e-12);
    assert_true(worst_g < 1e-12);
    free(batch_g);
    drop(&e);
}

static void test_padding_last(void **s) { (void)s; padding(RECUR_POOL_LAST); }
static void test_padding_mean(void **s) { (void)s; padding(RECUR_POOL_MEAN); }
static void test_padding_max(void **s) { (void)s; padding(RECUR_POOL_MAX); }
static void test_padding_attention(void **s) { (void)s; padding(RECUR_POOL_ATTENTION); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_last),
        cmocka_unit_test(test_grad_last_uni_gru),
        cmocka_unit_test(test_grad_mean),
        cmocka_unit_test(test_grad_max),
        cmocka_unit_test(test_grad_max_uni_gru),
        cmocka_unit_test(test_grad_attention),
        cmocka_unit_test(test_grad_attention_dropout),
        cmocka_unit_test(test_grad_mean_dropout),
        cmocka_unit_test(test_padding_last),
        cmocka_unit_test(test_padding_mean),
        cmocka_unit_test(test_padding_max),
        cmocka_unit_test(test_padding_attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
