/*
 * score_lines.c - many sentences scored in one call, each from a zero state:
 * the sentences are sorted by length (longest first) and run `batch` side by
 * side with per-sequence lengths, so a group pads only up to its longest
 * member and the recurrent products see B rows instead of one.  A group
 * longer than the run's window goes through in chunks, the state carried.
 * Each predicted token's ln p is logits[target] - lse, the log-sum-exp the
 * forward pass already computed for its rows, so no second pass over the
 * vocabulary is needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model_internal.h"
#include "lm_internal.h"

/* Rows (steps x sequences) of one forward: bounds the logits buffer
 * (rows x V values) while keeping the products wide. */
#define SCORE_ROWS_BUDGET (1 << 22)
#define SCORE_MAX_CHUNK 64

recur_status recur_lm_encode_line(const recur_vocab *v, const char *line, size_t len,
                                  const char *name, int32_t **ids, size_t *n, size_t *n_oov,
                                  recur_error *err)
{
    *ids = NULL;
    *n = 0;
    if (n_oov)
        *n_oov = 0;
    if (!name)
        name = "line";
    if (memchr(line, '\n', len))
        return recur_error_set(err, RECUR_ERR_ARG, "%s: a line holds a line break", name);
    int chr = recur_vocab_level(v) == RECUR_LEVEL_CHAR;
    /* word: "line\n" encodes to its words and <eos>; char: "\nline\n" */
    char *buf = malloc(len + 2);
    if (!buf)
        return recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", name);
    size_t bl = 0;
    if (chr)
        buf[bl++] = '\n';
    memcpy(buf + bl, line, len);
    bl += len;
    buf[bl++] = '\n';
    recur_status st = recur_text_check(buf, bl, name, err);
    int32_t *enc = NULL;
    size_t k = 0;
    if (st == RECUR_OK)
        st = recur_corpus_encode(v, buf, bl, name, 0, &enc, &k, n_oov, err);
    free(buf);
    if (st != RECUR_OK)
        return st;
    if (chr) {
        *ids = enc;
        *n = k;
        return RECUR_OK;
    }
    int32_t *out = malloc((k + 1) * sizeof *out);
    if (!out) {
        free(enc);
        return recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", name);
    }
    out[0] = recur_vocab_eos(v); /* the first context, as in recur lm eval */
    memcpy(out + 1, enc, k * sizeof *out);
    free(enc);
    *ids = out;
    *n = k + 1;
    return RECUR_OK;
}

typedef struct by_len_ctx {
    size_t idx, len;
} by_len_ctx;

/* longest first; equal lengths in input order (a deterministic grouping) */
static int by_len_desc(const void *a, const void *b)
{
    const by_len_ctx *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* One group of B sequences (sorted, longest first), each from a zero state. */
static recur_status score_group(recur_run *run, const lm_dims *d, int chunk,
                                const int32_t *const *seqs, const by_len_ctx *g, int B,
                                const size_t *tok_off, double *logprob, double *token_logp,
                                int32_t *tok, int32_t *lens, recur_real *h, recur_real *c,
                                recur_error *err)
{
    size_t steps = g[0].len - 1; /* predicted tokens of the longest */
    for (int b = 0; b < B; b++)
        logprob[g[b].idx] = 0;
    for (size_t s0 = 0; s0 < steps; s0 += (size_t)chunk) {
        int T = (int)(steps - s0 < (size_t)chunk ? steps - s0 : (size_t)chunk);
        for (int b = 0; b < B; b++) {
            size_t mine = g[b].len - 1;
            size_t left = mine > s0 ? mine - s0 : 0;
            lens[b] = (int32_t)(left < (size_t)T ? left : (size_t)T);
            const int32_t *ids = seqs[g[b].idx];
            for (int t = 0; t < T; t++)
                tok[(size_t)t * B + b] = t < lens[b] ? ids[s0 + (size_t)t] : 0;
        }
        recur_batch bt = {0};
        bt.T = T;
        bt.B = B;
        bt.tokens = tok;
        bt.lengths = lens;
        bt.h0 = s0 == 0 ? NULL : h;
        bt.c0 = s0 == 0 || !d->lstm ? NULL : c;
        recur_status st = recur_forward(run, &bt, 0, NULL, NULL);
        if (st != RECUR_OK)
            return recur_error_set(err, st, "score: %s", recur_run_errmsg(run));
        const recur_real *z = recur_run_logits(run);
        const double *lse = recur_run_row_lse(run);
        for (int b = 0; b < B; b++) {
            const int32_t *ids = seqs[g[b].idx];
            double sum = 0;
            for (int t = 0; t < lens[b]; t++) {
                size_t row = (size_t)t * B + b;
                double lp = (double)z[row * d->V + ids[s0 + (size_t)t + 1]] - lse[row];
                sum += lp;
                if (token_logp)
                    token_logp[tok_off[g[b].idx] + s0 + (size_t)t] = lp;
            }
            logprob[g[b].idx] += sum;
        }
        if (s0 + (size_t)T < steps) { /* the state the next chunk starts from */
            memcpy(h, recur_run_hn(run), (size_t)d->L * B * d->R * sizeof *h);
            if (d->lstm)
                memcpy(c, recur_run_cn(run), (size_t)d->L * B * d->H * sizeof *c);
        }
    }
    return RECUR_OK;
}

recur_status recur_lm_score_batch(recur_model *m, const int32_t *const *seqs,
                                  const size_t *lens, size_t n, int batch, double *logprob,
                                  double *token_logp, recur_error *err)
{
    lm_dims d;
    recur_status st = lm_check(m, &d, "score", err);
    if (st != RECUR_OK)
        return st;
    if (batch < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "score: batch %d must be positive", batch);
    size_t longest = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] < 1)
            return recur_error_set(err, RECUR_ERR_ARG,
                                   "score: sequence %zu is empty (it needs at least its context)", i);
        for (size_t t = 0; t < lens[i]; t++)
            if (seqs[i][t] < 0 || seqs[i][t] >= d.V)
                return recur_error_set(err, RECUR_ERR_ARG,
                                       "score: sequence %zu, token %zu: id %d outside 0..%d", i, t,
                                       seqs[i][t], d.V - 1);
        if (lens[i] > longest)
            longest = lens[i];
    }
    if (n == 0)
        return RECUR_OK;
    int B = (size_t)batch < n ? batch : (int)n;
    size_t budget = SCORE_ROWS_BUDGET / (size_t)d.V;
    int chunk = budget / (size_t)B < SCORE_MAX_CHUNK ? (int)(budget / (size_t)B) : SCORE_MAX_CHUNK;
    if (chunk < 1)
        chunk = 1;
    if (longest > 1 && (size_t)chunk > longest - 1)
        chunk = (int)(longest - 1);
    by_len_ctx *order = malloc(n * sizeof *order);
    size_t *tok_off = malloc(n * sizeof *tok_off);
    int32_t *tok = malloc((size_t)chunk * B * sizeof *tok);
    int32_t *lb = malloc((size_t)B * sizeof *lb);
    recur_real *h = malloc((size_t)d.L * B * d.R * sizeof *h);
    recur_real *c = malloc(((size_t)d.L * B * d.H + 1) * sizeof *c);
    recur_run *run = NULL;
    if (!order || !tok_off || !tok || !lb || !h || !c) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "score: out of memory");
        goto done;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        order[i].idx = i;
        order[i].len = lens[i];
        tok_off[i] = off;
        off += lens[i] - 1;
    }
    qsort(order, n, sizeof *order, by_len_desc);
    if ((st = recur_run_create(&run, m, chunk, B, err)) != RECUR_OK)
        goto done;
    /* character models: the first layer's input products from a table */
    if (d.V <= recur_model_get_config(m)->rnn.input_size &&
        (st = recur_run_cache_input_projection(run, 1)) != RECUR_OK) {
        recur_error_set(err, st, "score: %s", recur_run_errmsg(run));
        goto done;
    }
    for (size_t g = 0; g < n; g += (size_t)B) {
        int Bg = n - g < (size_t)B ? (int)(n - g) : B;
        if (order[g].len < 2) { /* this group and all after predict nothing */
            for (size_t i = g; i < n; i++)
                logprob[order[i].idx] = 0;
            break;
        }
        st = score_group(run, &d, chunk, seqs, order + g, Bg, tok_off, logprob, token_logp, tok,
                         lb, h, c, err);
        if (st != RECUR_OK)
            goto done;
    }
done:
    recur_run_free(run);
    free(order);
    free(tok_off);
    free(tok);
    free(lb);
    free(h);
    free(c);
    return st;
}

recur_status recur_lm_score_lines(recur_model *m, const recur_vocab *v,
                                  const char *const *lines, size_t n, int batch,
                                  double *logprob, int64_t *tokens, int64_t *n_oov,
                                  recur_error *err)
{
    int32_t **ids = calloc(n ? n : 1, sizeof *ids);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    recur_status st = RECUR_OK;
    if (!ids || !lens) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "score: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        char name[48];
        snprintf(name, sizeof name, "sentence %zu", i);
        size_t oov = 0;
        st = recur_lm_encode_line(v, lines[i], strlen(lines[i]), name, &ids[i], &lens[i], &oov, err);
        if (st != RECUR_OK)
            goto done;
        if (tokens)
            tokens[i] = (int64_t)lens[i] - 1;
        if (n_oov)
            n_oov[i] = (int64_t)oov;
    }
    st = recur_lm_score_batch(m, (const int32_t *const *)ids, lens, n, batch, logprob, NULL, err);
done:
    if (ids)
        for (size_t i = 0; i < n; i++)
            free(ids[i]);
    free(ids);
    free(lens);
    return st;
}
