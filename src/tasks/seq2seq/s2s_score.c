/*
 * s2s_score.c - scoring as the G2P literature does: a word is right when
 * the 1-best output equals one of its references (word error rate); the
 * token (phoneme) error rate sums, over words, the edit distance to the
 * closest reference and divides by the summed lengths of those references;
 * the n-best oracle counts a word right when any hypothesis is a reference.
 * Outputs and references are compared as token sequences.
 */
#include <stdlib.h>
#include <string.h>

#include "tasks/seq2seq/s2s_internal.h"

int s2s_edit_distance(const int32_t *a, int n, const int32_t *b, int m)
{
    int *row = malloc((size_t)(m + 1) * sizeof *row);
    if (!row)
        return n > m ? n : m; /* an upper bound; never reached in practice */
    for (int j = 0; j <= m; j++)
        row[j] = j;
    for (int i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= m; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    int d = row[m];
    free(row);
    return d;
}

typedef struct seq {
    recur_s2s_vocab *v;
    int32_t *ids;
    int n, cap, fail;
} seq;

static int seq_token(void *ctx, const char *tok, size_t len)
{
    seq *q = ctx;
    if (q->n == q->cap) {
        int cap = q->cap ? q->cap * 2 : 32;
        int32_t *p = realloc(q->ids, (size_t)cap * sizeof *p);
        if (!p)
            return q->fail = 1;
        q->ids = p;
        q->cap = cap;
    }
    int32_t id = s2s_vocab_add(q->v, tok, len);
    if (id < 0)
        return q->fail = 1;
    q->ids[q->n++] = id;
    return 0;
}

static void to_ids(recur_s2s_vocab *v, recur_lm_level level, const char *text, seq *q)
{
    q->v = v;
    q->n = 0;
    s2s_tokenize(level, text, strlen(text), seq_token, q);
}

static int same(const seq *a, const seq *b)
{
    return a->n == b->n && !memcmp(a->ids, b->ids, (size_t)a->n * sizeof *a->ids);
}

void recur_s2s_score_add(recur_s2s_score *sc, recur_lm_level level, const char *const *hyps,
                         int n_hyp, const char *const *refs, int n_ref)
{
    recur_s2s_vocab *v;
    if (n_ref < 1 || s2s_vocab_new(&v, level, 0))
        return;
    seq h = {0}, r = {0};
    int right = 0, oracle = 0, best_edits = -1, best_len = 0;
    seq *hs = calloc((size_t)(n_hyp > 0 ? n_hyp : 1), sizeof *hs);
    for (int i = 0; hs && i < n_hyp; i++)
        to_ids(v, level, hyps[i], &hs[i]);
    if (n_hyp > 0 && hs)
        h = hs[0];
    for (int k = 0; k < n_ref; k++) {
        to_ids(v, level, refs[k], &r);
        int e = s2s_edit_distance(h.ids, n_hyp > 0 ? h.n : 0, r.ids, r.n);
        if (best_edits < 0 || e < best_edits) {
            best_edits = e;
            best_len = r.n;
        }
        if (n_hyp > 0 && same(&h, &r))
            right = 1;
        for (int i = 0; hs && i < n_hyp; i++)
            if (same(&hs[i], &r))
                oracle = 1;
    }
    sc->words++;
    sc->word_errors += !right;
    sc->oracle_hits += oracle;
    sc->token_edits += best_edits;
    sc->ref_tokens += best_len;
    for (int i = 0; hs && i < n_hyp; i++)
        free(hs[i].ids);
    free(hs);
    free(r.ids);
    recur_s2s_vocab_free(v);
}

double recur_s2s_wer(const recur_s2s_score *sc)
{
    return sc->words ? 100.0 * (double)sc->word_errors / (double)sc->words : 0;
}

double recur_s2s_ter(const recur_s2s_score *sc)
{
    return sc->ref_tokens ? 100.0 * (double)sc->token_edits / (double)sc->ref_tokens : 0;
}

double recur_s2s_oracle(const recur_s2s_score *sc)
{
    return sc->words ? 100.0 * (double)sc->oracle_hits / (double)sc->words : 0;
}
