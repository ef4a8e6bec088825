/*
 * score_stepped.c - a text's negative log-likelihood read one token at a
 * time by a stepper, the path `recur lm sample` generates through, with the
 * stepper's weights (float32, bfloat16 or int8): the perplexity a model
 * assigns in the precision it generates in, which the batch path
 * (recur_lm_eval_ids) cannot give for int8 weights.  The convention is
 * recur_lm_eval_ids's with one stream: a word model's first context is
 * <eos>, a character model's first character is context only.
 */
#include <math.h>
#include <stdlib.h>

#include "engine/simd.h"
#include "lm_internal.h"

recur_status recur_lm_eval_ids_stepped(const recur_model *m, const recur_vocab *v, const int32_t *ids, size_t n,
                                       recur_precision weights, double *nll, int64_t *count, recur_error *err)
{
    *nll = 0;
    *count = 0;
    lm_dims d;
    recur_status st = lm_check(m, &d, "score", err);
    if (st != RECUR_OK)
        return st;
    const int word = recur_vocab_level(v) == RECUR_LEVEL_WORD;
    if (n < (size_t)(word ? 1 : 2))
        return recur_error_set(err, RECUR_ERR_ARG, "score: %zu token(s) is too short a text to score", n);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= d.V)
            return recur_error_set(err, RECUR_ERR_ARG, "score: token %zu has id %d, outside the vocabulary of %d",
                                   i, (int)ids[i], d.V);
    recur_stepper *s;
    if ((st = recur_stepper_create(&s, m, err)) != RECUR_OK)
        return st;
    if ((st = recur_stepper_set_weights(s, weights)) != RECUR_OK) {
        recur_error_set(err, st, "%s", recur_stepper_errmsg(s));
        recur_stepper_free(s);
        return st;
    }
    double total = 0;
    int32_t context = word ? recur_vocab_eos(v) : ids[0];
    for (size_t i = word ? 0 : 1; i < n; i++) {
        if ((st = recur_stepper_feed(s, context)) != RECUR_OK) {
            recur_error_set(err, st, "%s", recur_stepper_errmsg(s));
            break;
        }
        const recur_real *z = recur_stepper_logits(s);
        recur_real mx;
        const double lse = k_row_lse(z, d.V, &mx);
        if (!isfinite(lse)) {
            st = recur_error_set(err, RECUR_ERR_NONFINITE, "score: the logits at token %zu are not finite", i);
            break;
        }
        total += lse - (double)z[ids[i]];
        context = ids[i];
    }
    recur_stepper_free(s);
    if (st == RECUR_OK) {
        *nll = total;
        *count = (int64_t)(word ? n : n - 1);
    }
    return st;
}
