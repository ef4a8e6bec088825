/*
 * lm_interp.c - token-by-token linear interpolation of a word-level RNN
 * language model with an n-gram model (Mikolov's RNN + KN5 combination):
 *
 *     p(w | h) = lambda * p_rnn(w | h) + (1 - lambda) * p_ngram(w | h)
 *
 * Both models predict the same tokens: every word and every end of line
 * (<eos> for the RNN, </s> for the n-gram, which restarts at <s> after it).
 * Tokens the RNN's vocabulary maps to <unk> reach the n-gram model as the
 * word "<unk>", so both predict the same event.  The mixed negative
 * log-likelihood is convex in lambda, so a golden-section search finds the
 * best weight on a validation file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm.h"

int lm_interp_logprobs(recur_model *m, const recur_vocab *v, const recur_ngram *ng,
                       const int32_t *ids, size_t n, double *lp_rnn, double *lp_ng,
                       recur_error *err)
{
    int32_t *buf = lm_prefix_eos(v, ids, n, err); /* the first context, as in recur lm eval */
    if (!buf)
        return 1;
    int rc = recur_lm_token_logprobs(m, buf, n + 1, 256, lp_rnn, NULL, err) != RECUR_OK;
    free(buf);
    if (rc)
        return 1;
    lm_interp_ngram_logprobs(v, ng, ids, n, lp_ng);
    return 0;
}

void lm_interp_ngram_logprobs(const recur_vocab *v, const recur_ngram *ng, const int32_t *ids,
                              size_t n, double *lp_ng)
{
    const int32_t eos = recur_vocab_eos(v);
    recur_ngram_state st;
    recur_ngram_begin(ng, &st);
    for (size_t i = 0; i < n; i++) {
        int32_t w = ids[i] == eos ? recur_ngram_eos(ng) : recur_ngram_map(ng, recur_vocab_token(v, ids[i]));
        /* log10 -> ln; a word the n-gram model cannot map has probability 0 */
        lp_ng[i] = w < 0 ? -INFINITY : recur_ngram_score(ng, &st, w) * log(10.0);
        if (ids[i] == eos)
            recur_ngram_begin(ng, &st);
    }
}

double lm_interp_nll(const double *lp_rnn, const double *lp_ng, size_t n, double lambda)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double a = lp_rnn[i], b = lp_ng[i];
        double mixed;
        if (lambda <= 0)
            mixed = b;
        else if (lambda >= 1)
            mixed = a;
        else if (b == -INFINITY)
            mixed = log(lambda) + a;
        else { /* log(lambda e^a + (1 - lambda) e^b) without underflow */
            double x = log(lambda) + a, y = log1p(-lambda) + b, mx = x > y ? x : y;
            mixed = mx + log(exp(x - mx) + exp(y - mx));
        }
        total -= mixed;
    }
    return total;
}

double lm_interp_tune(const double *lp_rnn, const double *lp_ng, size_t n)
{
    const double g = (sqrt(5.0) - 1) / 2;
    double lo = 0, hi = 1;
    double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
    double f1 = lm_interp_nll(lp_rnn, lp_ng, n, x1), f2 = lm_interp_nll(lp_rnn, lp_ng, n, x2);
    while (hi - lo > 1e-4) {
        if (f1 <= f2) {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - g * (hi - lo);
            f1 = lm_interp_nll(lp_rnn, lp_ng, n, x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + g * (hi - lo);
            f2 = lm_interp_nll(lp_rnn, lp_ng, n, x2);
        }
    }
    double best = (lo + hi) / 2;
    /* the ends are candidates too (one model alone may be best) */
    double fb = lm_interp_nll(lp_rnn, lp_ng, n, best);
    if (lm_interp_nll(lp_rnn, lp_ng, n, 0) < fb)
        best = 0;
    else if (lm_interp_nll(lp_rnn, lp_ng, n, 1) < fb)
        best = 1;
    return best;
}
