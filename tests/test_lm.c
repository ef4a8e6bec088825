/*
 * test_lm.c - language-model helpers over a real model: recur_lm_score does
 * not depend on its chunk length (the state is carried exactly), matches a
 * forward pass over the whole stream, and beam search finds the most likely
 * continuation: with beam 1 it is greedy decoding, with a wide beam it
 * equals an exhaustive search over every continuation of a small vocabulary.
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

static recur_model *make_model(recur_cell cell, int V, int layers, int proj)
{
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.vocab_size = V;
    cfg.output_size = V;
    cfg.embed_size = 6;
    cfg.rnn.cell = cell;
    cfg.rnn.hidden_size = 8;
    cfg.rnn.num_layers = layers;
    cfg.rnn.proj_size = proj;
    recur_model *m;
    recur_error err = {0};
    assert_int_equal(recur_model_create(&m, &cfg, 11, &err), RECUR_OK);
    /* a wide init so that distributions are far from uniform */
    assert_int_equal(recur_model_init_uniform(m, 0.8), RECUR_OK);
    return m;
}

static void test_score_chunks(void **state)
{
    (void)state;
    recur_cell cells[3] = {RECUR_CELL_LSTM, RECUR_CELL_GRU, RECUR_CELL_RNN_TANH};
    int32_t ids[50];
    for (int i = 0; i < 50; i++)
        ids[i] = (i * 7 + i / 3) % 5;
    for (int ci = 0; ci < 3; ci++) {
        recur_model *m = make_model(cells[ci], 5, 2, ci == 0 ? 4 : 0);
        recur_error err = {0};
        double ref, nll;
        int64_t count;
        assert_int_equal(recur_lm_score(m, ids, 50, 1000, &ref, &count, &err), RECUR_OK);
        assert_int_equal(count, 49);
        /* the same as one forward pass over 49 steps */
        recur_run *r;
        assert_int_equal(recur_run_create(&r, m, 49, 1, &err), RECUR_OK);
        recur_batch b = {.T = 49, .B = 1, .tokens = ids, .targets = ids + 1};
        double loss;
        int64_t n;
        assert_int_equal(recur_forward(r, &b, 0, &loss, &n), RECUR_OK);
        assert_true(fabs(loss * (double)n - ref) < 1e-4 * fabs(ref));
        recur_run_free(r);
        int chunks[3] = {1, 7, 48};
        for (int k = 0; k < 3; k++) {
            assert_int_equal(recur_lm_score(m, ids, 50, chunks[k], &nll, &count, &err), RECUR_OK);
            assert_true(fabs(nll - ref) < 1e-4 * fabs(ref));
        }
        assert_int_equal(recur_lm_score(m, ids, 1, 10, &nll, &count, &err), RECUR_ERR_ARG);
        /* per-token log-probabilities: each is a log-softmax of the same
         * forward's logits at its target, and they sum to -nll */
        double logp[49], sum = 0, tok_nll;
        assert_int_equal(recur_lm_token_logprobs(m, ids, 50, 7, logp, &tok_nll, &err), RECUR_OK);
        assert_true(fabs(tok_nll - ref) < 1e-4 * fabs(ref));
        assert_int_equal(recur_run_create(&r, m, 49, 1, &err), RECUR_OK);
        assert_int_equal(recur_forward(r, &b, 0, &loss, &n), RECUR_OK);
        for (int t = 0; t < 49; t++) {
            const float *z = recur_run_logits(r) + t * 5;
            double se = 0;
            for (int v = 0; v < 5; v++)
                se += exp((double)z[v]);
            assert_true(fabs(logp[t] - ((double)z[ids[t + 1]] - log(se))) < 1e-4);
            assert_true(logp[t] < 0);
            sum += logp[t];
        }
        assert_true(fabs(-sum - ref) < 1e-4 * fabs(ref));
        recur_run_free(r);
        recur_model_free(m);
    }
}

/* Streams: the sum of each contiguous piece scored alone. */
static void test_score_streams(void **state)
{
    (void)state;
    int32_t ids[53];
    for (int i = 0; i < 53; i++)
        ids[i] = (i * 5 + i / 4) % 6;
    recur_model *m = make_model(RECUR_CELL_LSTM, 6, 2, 0);
    recur_error err = {0};
    double nll, part, want = 0;
    int64_t count, k, want_count = 0;
    /* 4 streams over 53 ids: pieces of 14, 13, 13, 13 */
    int lens[4] = {14, 13, 13, 13}, start = 0;
    for (int b = 0; b < 4; b++) {
        assert_int_equal(recur_lm_score(m, ids + start, (size_t)lens[b], 5, &part, &k, &err), RECUR_OK);
        want += part;
        want_count += k;
        start += lens[b];
    }
    assert_int_equal(recur_lm_score_streams(m, ids, 53, 4, 5, &nll, &count, &err), RECUR_OK);
    assert_int_equal(count, want_count);
    assert_int_equal(count, 53 - 4);
    assert_true(fabs(nll - want) < 1e-4 * fabs(want));
    /* one stream is recur_lm_score; too many streams shrink to pieces of 2 */
    assert_int_equal(recur_lm_score_streams(m, ids, 53, 1, 7, &nll, &count, &err), RECUR_OK);
    assert_int_equal(count, 52);
    assert_int_equal(recur_lm_score_streams(m, ids, 5, 100, 7, &nll, &count, &err), RECUR_OK);
    assert_int_equal(count, 3);
    recur_model_free(m);
}

/* log p(cont | prime) by scoring prime+cont and subtracting the prime's part. */
static double cont_logprob(recur_model *m, const int32_t *prime, int np, const int32_t *cont,
                           int nc)
{
    int32_t buf[64];
    memcpy(buf, prime, (size_t)np * sizeof *buf);
    memcpy(buf + np, cont, (size_t)nc * sizeof *buf);
    recur_error err = {0};
    double all, pre = 0;
    int64_t cnt;
    assert_int_equal(recur_lm_score(m, buf, (size_t)(np + nc), 16, &all, &cnt, &err), RECUR_OK);
    if (np >= 2)
        assert_int_equal(recur_lm_score(m, buf, (size_t)np, 16, &pre, &cnt, &err), RECUR_OK);
    return -(all - pre);
}

static void test_beam(void **state)
{
    (void)state;
    const int V = 4, LEN = 4;
    recur_model *m = make_model(RECUR_CELL_LSTM, V, 2, 0);
    int32_t prime[3] = {1, 3, 0};
    recur_error err = {0};
    /* exhaustive: every continuation of length LEN */
    double best = -INFINITY;
    int32_t best_seq[4] = {0};
    for (int code = 0; code < V * V * V * V; code++) {
        int32_t s[4];
        for (int k = 0, c = code; k < LEN; k++, c /= V)
            s[k] = c % V;
        double lp = cont_logprob(m, prime, 3, s, LEN);
        if (lp > best) {
            best = lp;
            memcpy(best_seq, s, sizeof s);
        }
    }
    int32_t out[4];
    int n;
    double lp;
    assert_int_equal(recur_lm_beam_search(m, prime, 3, 64, LEN, -1, out, &n, &lp, &err), RECUR_OK);
    assert_int_equal(n, LEN);
    assert_memory_equal(out, best_seq, sizeof best_seq);
    assert_true(fabs(lp - best) < 1e-4);

    /* beam 1 = greedy: each token the argmax after the previous ones */
    assert_int_equal(recur_lm_beam_search(m, prime, 3, 1, LEN, -1, out, &n, &lp, &err), RECUR_OK);
    int32_t g[4];
    for (int k = 0; k < LEN; k++) {
        double bestk = -INFINITY;
        int32_t arg = 0;
        for (int v = 0; v < V; v++) {
            g[k] = v;
            double l = cont_logprob(m, prime, 3, g, k + 1);
            if (l > bestk) {
                bestk = l;
                arg = v;
            }
        }
        g[k] = arg;
    }
    assert_memory_equal(out, g, sizeof g);

    /* A stop token: the best of the sequences that end at their first stop
     * token, or run the full length without one, found by enumeration.  The
     * stop token is made less likely (its decoder bias lowered by 0..2) so
     * that some best ones run past the first token; a beam of 64 >= V^(LEN-1) keeps
     * every live hypothesis, so the search is exact.  The output buffer
     * holds the full length. */
    recur_tensor_info bias;
    assert_int_equal(recur_model_find_tensor(m, "decoder.bias", &bias), RECUR_OK);
    int longer = 0;
    for (int trial = 0; trial < 5 * V; trial++) {
        const int32_t stop = trial % V;
        const double penalty = 0.5 * (trial / V);
        bias.data[stop] -= (recur_real)penalty;
        double want = -INFINITY;
        int32_t want_seq[4] = {0};
        int want_n = 0;
        for (int code = 0; code < V * V * V * V; code++) {
            int32_t s[4];
            int len = LEN;
            for (int k = 0, c = code; k < LEN; k++, c /= V) {
                s[k] = c % V;
                if (s[k] == stop && len == LEN)
                    len = k + 1;
            }
            int canonical = 1; /* count each stopped sequence once: zeros after the stop */
            for (int k = len; k < LEN; k++)
                canonical &= s[k] == 0;
            if (!canonical)
                continue;
            double l = cont_logprob(m, prime, 3, s, len);
            if (l > want) {
                want = l;
                want_n = len;
                memcpy(want_seq, s, sizeof s);
            }
        }
        int32_t out20[20];
        assert_int_equal(recur_lm_beam_search(m, prime, 3, 64, LEN, stop, out20, &n, &lp, &err), RECUR_OK);
        assert_int_equal(n, want_n);
        assert_memory_equal(out20, want_seq, (size_t)n * sizeof *out20);
        assert_true(fabs(lp - want) < 1e-4);
        longer += n > 1;
        bias.data[stop] += (recur_real)penalty;
    }
    assert_true(longer > 0); /* some searches ran past the first token */

    /* a model with a NaN weight is refused, not searched ("the the the") */
    recur_tensor_info whh;
    assert_int_equal(recur_model_find_tensor(m, "rnn.weight_hh_l0", &whh), RECUR_OK);
    recur_real keep = whh.data[0];
    whh.data[0] = (recur_real)NAN;
    assert_int_equal(recur_lm_beam_search(m, prime, 3, 8, LEN, -1, out, &n, &lp, &err), RECUR_ERR_NONFINITE);
    assert_non_null(strstr(err.msg, "not finite"));
    whh.data[0] = keep;

    assert_int_equal(recur_lm_beam_search(m, prime, 0, 8, 20, 2, out, &n, &lp, &err), RECUR_ERR_ARG);
    assert_int_equal(recur_lm_beam_search(m, prime, 3, 0, 20, 2, out, &n, &lp, &err), RECUR_ERR_ARG);
    recur_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_chunks),
        cmocka_unit_test(test_score_streams),
        cmocka_unit_test(test_beam),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
