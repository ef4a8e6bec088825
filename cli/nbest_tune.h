/*
 * nbest_tune.h - word error rate and the choice of the rescoring weights of
 * `recur lm rescore --tune` (nbest_tune.c).
 */
#ifndef RECUR_CLI_NBEST_TUNE_H
#define RECUR_CLI_NBEST_TUNE_H

#include <stddef.h>

/* Word-level Levenshtein distance between two texts split on ASCII
 * whitespace; *ref_words (may be NULL) gets the words of ref.  -1 when out
 * of memory. */
long long nbest_word_edits(const char *hyp, size_t hyp_len, const char *ref, size_t ref_len,
                           long long *ref_words);

/* Hypotheses in groups (one group per utterance): group g holds
 * hypotheses start[g]..start[g+1]; each has the recogniser's score, the
 * LM log-probability, its word count and its edits against the reference.
 * The chosen hypothesis of a group maximises score + w * lm + b * words
 * (ties: the first). */
typedef struct nbest_tune_set {
    size_t groups;
    const size_t *start; /* groups + 1 offsets */
    const double *score, *lm, *words;
    const long long *edits;
} nbest_tune_set;

/* The summed edits of every group's chosen hypothesis. */
long long nbest_errors(const nbest_tune_set *t, double w, double b);

/* The range searched: w in [0, NBEST_MAX_WEIGHT], b in +-NBEST_MAX_BONUS. */
#define NBEST_MAX_WEIGHT 100.0
#define NBEST_MAX_BONUS 100.0

/* Chooses w and b minimising nbest_errors by coordinate descent with exact
 * line searches (Och's minimum error rate training): along one coordinate
 * the chosen hypotheses change only where two hypotheses' lines cross, so
 * the error is piecewise constant and every piece is visited.  The point
 * taken is the current one when it lies in a best piece, else the middle of
 * the best piece nearest to it (1 past its change point when the piece runs
 * to the end of the range).  *w and *b start the search and receive the
 * result; returns its errors, -1 when out of memory. */
long long nbest_tune(const nbest_tune_set *t, double *w, double *b);

#endif
