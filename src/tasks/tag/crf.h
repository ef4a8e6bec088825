/*
 * crf.h - the linear-chain CRF of the tagger (Lafferty et al. 2001; Lample
 * et al. 2016): scores of a tag sequence are its emissions plus transitions
 * (from one tag to the next) plus a start and an end transition; the loss
 * is the negative log-likelihood of the gold sequence, log Z by the forward
 * algorithm; decoding by Viterbi.  Transitions a tag scheme forbids (O then
 * I-PER in IOBES, a sentence starting with I- or ending with B-) are
 * -infinity: masked out of Z, of the gradient and of decoding.
 *
 * Emissions of one sentence are rows of K scores T times, row t at
 * emit + t * stride (a time-major batch reads one sentence with stride B*K).
 * Sums run in double, in the scaled (exp-space) form: K*K multiply-adds and
 * K exponentials per step, never K*K exponentials.
 */
#ifndef RECUR_TAG_CRF_H
#define RECUR_TAG_CRF_H

#include <stddef.h>
#include <stdint.h>

#include "recur.h"

typedef struct crf_view {
    int K;
    const recur_real *trans;           /* K*K, [from * K + to] */
    const recur_real *start, *end;     /* K */
    const unsigned char *allowed;      /* K*K, NULL: every transition */
    const unsigned char *allowed_start, *allowed_end; /* K, NULL: every tag */
} crf_view;

/* doubles of work for a sentence of T tokens */
size_t crf_work_size(int K, int T);

/* The negative log-likelihood of gold (T >= 1 tags).  With d_emit non-NULL,
 * adds scale * its gradient: into d_emit (rows at d_emit + t * stride) and
 * into d_trans, d_start, d_end.  Returns +inf when gold is a forbidden
 * sequence. */
double crf_nll(const crf_view *c, const recur_real *emit, size_t stride, int T, const int32_t *gold,
               double scale, recur_real *d_emit, recur_real *d_trans, recur_real *d_start,
               recur_real *d_end, double *work);

/* log Z alone. */
double crf_log_partition(const crf_view *c, const recur_real *emit, size_t stride, int T,
                         double *work);

/* The highest-scoring allowed sequence into best[T] (ties: lowest tag ids,
 * latest positions first); returns its score.  work: crf_work_size doubles,
 * bp: T*K ints. */
double crf_viterbi(const crf_view *c, const recur_real *emit, size_t stride, int T, int32_t *best,
                   double *work, int32_t *bp);

/* The score of a sequence (-inf when forbidden). */
double crf_score(const crf_view *c, const recur_real *emit, size_t stride, int T, const int32_t *tags);

/* The transition masks of a label set: labels[k] in IOBES or plain.  For
 * plain labels everything is allowed. */
void crf_scheme_masks(const char *const *labels, int K, int chunked, unsigned char *allowed,
                      unsigned char *allowed_start, unsigned char *allowed_end);

#endif
