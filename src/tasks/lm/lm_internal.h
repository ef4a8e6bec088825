/*
 * lm_internal.h - what the language-model helpers of src/tasks/lm share
 * (not installed).
 */
#ifndef RECUR_LM_INTERNAL_H
#define RECUR_LM_INTERNAL_H

#include "base/internal.h"

typedef struct lm_dims {
    int L, R, H, V, lstm;
} lm_dims;

/* Checks that m is a language model (embedding, decoder over the same
 * vocabulary, one direction) and fills its sizes; `what` starts messages. */
recur_status lm_check(const recur_model *m, lm_dims *d, const char *what, recur_error *err);

#endif
