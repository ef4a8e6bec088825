/*
 * lm.c - language-model helpers over a model with an embedding and a
 * decoder: scoring a token stream (the sum of -log p(x_t | x_<t) read as one
 * sequence from a zero state, the recurrent state carried across chunks, so
 * the result does not depend on the chunk length), and beam search for the
 * most likely continuation of a prime.
 *
 * Beam search keeps the `beam` live hypotheses of highest total
 * log-probability.  At each step every live hypothesis is extended by its
 * `beam` best tokens; of all those candidates the best `beam` that do not end
 * in stop_id stay live, and those ending in stop_id compete for the best
 * finished one.  Log-probabilities only fall as a hypothesis grows, so once
 * the best finished one scores at least the best live one, nothing can beat
 * it and the search stops.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lm_internal.h"

recur_status lm_check(const recur_model *m, lm_dims *d, const char *what,
                             recur_error *err)
{
    const recur_model_config *c = recur_model_get_config(m);
    if (c->vocab_size <= 0 || c->output_size <= 0)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "%s: the model needs an embedding and a decoder (a language model)",
                               what);
    if (c->output_size != c->vocab_size)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "%s: the decoder's %d classes differ from the vocabulary's %d",
                               what, c->output_size, c->vocab_size);
    if (c->rnn.bidirectional)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "%s: a bidirectional model cannot be a language model", what);
    d->L = c->rnn.num_layers;
    d->H = c->rnn.hidden_size;
    d->R = c->rnn.proj_size > 0 ? c->rnn.proj_size : c->rnn.hidden_size;
    d->V = c->vocab_size;
    d->lstm = c->rnn.cell == RECUR_CELL_LSTM;
    return RECUR_OK;
}

/* Runs ids[0..n) (n >= 1) as one sequence on a 1-stream run from the given
 * state, in chunks; leaves the final state in h/c and, when logits_out is
 * not NULL, the last step's logits there.  With targets, adds the summed
 * -log p of ids[1..n) into *nll. */
static recur_status run_stream(recur_run *run, const lm_dims *d, int chunk, const int32_t *ids,
                               size_t n, int with_targets, recur_real *h, recur_real *c,
                               int zero_start, double *nll, recur_real *logits_out,
                               double *token_logp, recur_error *err)
{
    size_t limit = with_targets ? n - 1 : n;
    int first = zero_start;
    for (size_t s = 0; s < limit;) {
        int T = (int)(limit - s < (size_t)chunk ? limit - s : (size_t)chunk);
        recur_batch b = {0};
        b.T = T;
        b.B = 1;
        b.tokens = ids + s;
        b.targets = with_targets ? ids + s + 1 : NULL;
        b.h0 = first ? NULL : h;
        b.c0 = first || !d->lstm ? NULL : c;
        double loss = 0;
        int64_t count = 0;
        recur_status st = recur_forward(run, &b, 0, &loss, &count);
        if (st != RECUR_OK)
            return recur_error_set(err, st, "%s", recur_run_errmsg(run));
        if (with_targets)
            *nll += loss * (double)count;
        if (token_logp) /* log p(ids[s+t+1] | ...) from each step's logits */
            for (int t = 0; t < T; t++) {
                const recur_real *z = recur_run_logits(run) + (size_t)t * d->V;
                double mx = z[0], sum = 0;
                for (int v = 1; v < d->V; v++)
                    mx = z[v] > mx ? z[v] : mx;
                for (int v = 0; v < d->V; v++)
                    sum += exp((double)z[v] - mx);
                token_logp[s + (size_t)t] = (double)z[ids[s + (size_t)t + 1]] - mx - log(sum);
            }
        memcpy(h, recur_run_hn(run), (size_t)d->L * d->R * sizeof *h);
        if (d->lstm)
            memcpy(c, recur_run_cn(run), (size_t)d->L * d->H * sizeof *c);
        if (logits_out && s + (size_t)T == limit)
            memcpy(logits_out, recur_run_logits(run) + (size_t)(T - 1) * d->V,
                   (size_t)d->V * sizeof *logits_out);
        first = 0;
        s += (size_t)T;
    }
    return RECUR_OK;
}

/* One stream from a zero state; the summed NLL and, if logp is not NULL,
 * each predicted token's log-probability. */
static recur_status score_one(recur_model *m, const int32_t *ids, size_t n, int chunk, double *nll,
                              int64_t *count, double *logp, recur_error *err)
{
    *nll = 0;
    *count = 0;
    lm_dims d;
    recur_status st = lm_check(m, &d, "score", err);
    if (st != RECUR_OK)
        return st;
    if (chunk < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "score: chunk length %d must be positive", chunk);
    if (n < 2)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "score: %zu token(s): at least 2 are needed (one context, one "
                               "predicted)",
                               n);
    if ((size_t)chunk > n - 1)
        chunk = (int)(n - 1);
    recur_run *run = NULL;
    recur_real *h = calloc((size_t)d.L * d.R, sizeof *h);
    recur_real *c = calloc((size_t)d.L * d.H, sizeof *c);
    if (!h || !c) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "score: out of memory");
        goto done;
    }
    if ((st = recur_run_create(&run, m, chunk, 1, err)) != RECUR_OK)
        goto done;
    double total = 0;
    if ((st = run_stream(run, &d, chunk, ids, n, 1, h, c, 1, &total, NULL, logp, err)) != RECUR_OK)
        goto done;
    *nll = total;
    *count = (int64_t)(n - 1);
done:
    recur_run_free(run);
    free(h);
    free(c);
    return st;
}

recur_status recur_lm_score(recur_model *m, const int32_t *ids, size_t n, int chunk,
                            double *nll, int64_t *count, recur_error *err)
{
    return score_one(m, ids, n, chunk, nll, count, NULL, err);
}

recur_status recur_lm_token_logprobs(recur_model *m, const int32_t *ids, size_t n, int chunk,
                                     double *logp, double *nll, recur_error *err)
{
    int64_t count;
    double total;
    return score_one(m, ids, n, chunk, nll ? nll : &total, &count, logp, err);
}

recur_status recur_lm_score_streams(recur_model *m, const int32_t *ids, size_t n, int streams,
                                    int chunk, double *nll, int64_t *count, recur_error *err)
{
    *nll = 0;
    *count = 0;
    if (streams == 1)
        return recur_lm_score(m, ids, n, chunk, nll, count, err);
    lm_dims d;
    recur_status st = lm_check(m, &d, "score", err);
    if (st != RECUR_OK)
        return st;
    if (streams < 1 || chunk < 1)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "score: streams %d and chunk length %d must be positive", streams,
                               chunk);
    if (n < 2)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "score: %zu token(s): at least 2 are needed (one context, one "
                               "predicted)",
                               n);
    /* S pieces of at least 2 ids; the first `rem` pieces one id longer */
    size_t S = (size_t)streams;
    if (S > n / 2)
        S = n / 2;
    size_t len = n / S, rem = n % S, steps = len + (rem > 0) - 1; /* predicted steps, longest */
    int32_t *tok = calloc(steps * S, sizeof *tok), *tg = malloc(steps * S * sizeof *tg);
    recur_real *h = calloc((size_t)d.L * S * d.R, sizeof *h);
    recur_real *c = calloc((size_t)d.L * S * d.H, sizeof *c);
    recur_run *run = NULL;
    if (!tok || !tg || !h || !c) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "score: out of memory");
        goto done;
    }
    size_t start = 0;
    for (size_t b = 0; b < S; b++) {
        size_t lb = len + (b < rem);
        for (size_t t = 0; t < steps; t++) {
            tok[t * S + b] = t < lb ? ids[start + t] : 0;
            tg[t * S + b] = t + 1 < lb ? ids[start + t + 1] : -1;
        }
        start += lb;
    }
    if ((size_t)chunk > steps)
        chunk = (int)steps;
    if ((st = recur_run_create(&run, m, chunk, (int)S, err)) != RECUR_OK)
        goto done;
    double total = 0;
    int64_t cnt = 0;
    for (size_t s0 = 0; s0 < steps; s0 += (size_t)chunk) {
        int T = (int)(steps - s0 < (size_t)chunk ? steps - s0 : (size_t)chunk);
        recur_batch b = {0};
        b.T = T;
        b.B = (int)S;
        b.tokens = tok + s0 * S;
        b.targets = tg + s0 * S;
        b.h0 = s0 == 0 ? NULL : h;
        b.c0 = s0 == 0 || !d.lstm ? NULL : c;
        double loss = 0;
        int64_t k = 0;
        if ((st = recur_forward(run, &b, 0, &loss, &k)) != RECUR_OK) {
            recur_error_set(err, st, "%s", recur_run_errmsg(run));
            goto done;
        }
        total += loss * (double)k;
        cnt += k;
        memcpy(h, recur_run_hn(run), (size_t)d.L * S * d.R * sizeof *h);
        if (d.lstm)
            memcpy(c, recur_run_cn(run), (size_t)d.L * S * d.H * sizeof *c);
    }
    *nll = total;
    *count = cnt;
done:
    recur_run_free(run);
    free(tok);
    free(tg);
    free(h);
    free(c);
    return st;
}

typedef struct cand {
    double lp;
    int parent;
    int32_t tok;
} cand;

static int by_lp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->lp != y->lp)
        return x->lp > y->lp ? -1 : 1;
    if (x->parent != y->parent)
        return x->parent - y->parent;
    return (x->tok > y->tok) - (x->tok < y->tok);
}

/* log-softmax of z[V] into out[V] (double). */
/* Returns 0, or -1 when a logit is not finite (a model with NaN weights). */
static int log_softmax(const recur_real *z, int V, double *out)
{
    double mx = z[0];
    for (int i = 0; i < V; i++) {
        if (!isfinite((double)z[i]))
            return -1;
        if (z[i] > mx)
            mx = z[i];
    }
    double s = 0;
    for (int i = 0; i < V; i++)
        s += exp((double)z[i] - mx);
    double lse = mx + log(s);
    for (int i = 0; i < V; i++)
        out[i] = (double)z[i] - lse;
    return 0;
}

/* Appends the k best (lp + row[v]) of a row as candidates with that parent. */
static int top_cands(const double *row, int V, int k, double lp, int parent, cand *out)
{
    int n = 0;
    for (int v = 0; v < V; v++) {
        cand c = {lp + row[v], parent, v};
        if (n < k) {
            int i = n++;
            while (i > 0 && by_lp(&c, &out[i - 1]) < 0) {
                out[i] = out[i - 1];
                i--;
            }
            out[i] = c;
        } else if (by_lp(&c, &out[k - 1]) < 0) {
            int i = k - 1;
            while (i > 0 && by_lp(&c, &out[i - 1]) < 0) {
                out[i] = out[i - 1];
                i--;
            }
            out[i] = c;
        }
    }
    return n;
}

recur_status recur_lm_beam_search(recur_model *m, const int32_t *prime, int n_prime, int beam,
                                  int length, int32_t stop_id, int32_t *out, int *n_out,
                                  double *logprob, recur_error *err)
{
    *n_out = 0;
    if (logprob)
        *logprob = 0;
    lm_dims d;
    recur_status st = lm_check(m, &d, "beam search", err);
    if (st != RECUR_OK)
        return st;
    if (n_prime < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "beam search: the prime needs at least 1 token");
    if (beam < 1 || beam > 1024)
        return recur_error_set(err, RECUR_ERR_ARG, "beam search: beam %d outside 1..1024", beam);
    if (length < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "beam search: length %d must be positive", length);
    const int K = beam, V = d.V, L = d.L, R = d.R, H = d.H;
    const int chunk = n_prime < 256 ? n_prime : 256;
    recur_run *prun = NULL, *run = NULL;
    size_t hs = (size_t)L * R, cs = (size_t)L * H;
    recur_real *h = calloc(hs * K, sizeof *h), *c = calloc(cs * K + 1, sizeof *c);
    recur_real *h2 = calloc(hs * K, sizeof *h2), *c2 = calloc(cs * K + 1, sizeof *c2);
    recur_real *logits = calloc((size_t)V, sizeof *logits);
    double *lsm = malloc((size_t)V * sizeof *lsm);
    cand *cands = malloc((size_t)K * K * sizeof *cands);
    int32_t *seq = malloc((size_t)K * length * sizeof *seq);
    int32_t *seq2 = malloc((size_t)K * length * sizeof *seq2);
    int32_t *best_seq = malloc((size_t)length * sizeof *best_seq);
    int32_t *last = malloc((size_t)K * sizeof *last);
    double *lp = malloc((size_t)K * sizeof *lp);
    if (!h || !c || !h2 || !c2 || !logits || !lsm || !cands || !seq || !seq2 || !best_seq ||
        !last || !lp) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "beam search: out of memory");
        goto done;
    }
    for (int i = 0; i < n_prime; i++)
        if (prime[i] < 0 || prime[i] >= V) {
            st = recur_error_set(err, RECUR_ERR_ARG, "beam search: prime token %d outside 0..%d",
                                 prime[i], V - 1);
            goto done;
        }
    if ((st = recur_run_create(&prun, m, chunk, 1, err)) != RECUR_OK ||
        (st = recur_run_create(&run, m, 1, K, err)) != RECUR_OK)
        goto done;
    /* the steps' input products from a table when it is no bigger than W_ih */
    if (V <= recur_model_get_config(m)->rnn.input_size && (st = recur_run_cache_input_projection(run, 1)) != RECUR_OK) {
        recur_error_set(err, st, "beam search: %s", recur_run_errmsg(run));
        goto done;
    }
    if ((st = run_stream(prun, &d, chunk, prime, (size_t)n_prime, 0, h, c, 1, NULL, logits,
                         NULL, err)) != RECUR_OK)
        goto done;

    /* Step 0 extends the prime alone; its state (one row) is every parent's. */
    if (log_softmax(logits, V, lsm)) {
        st = recur_error_set(err, RECUR_ERR_NONFINITE, "beam search: the model's output is not finite (NaN or infinite weights)");
        goto done;
    }
    int nc = top_cands(lsm, V, K, 0.0, 0, cands);
    int live = 0, best_len = 0;
    double best_lp = -INFINITY;
    int parent_rows_are_prime = 1;
    for (int t = 0;; t++) {
        /* choose the next live set from the sorted candidates */
        int n_live = 0;
        for (int i = 0; i < nc && n_live < K; i++) {
            const cand *cd = &cands[i];
            if (cd->tok == stop_id) {
                if (cd->lp > best_lp) {
                    best_lp = cd->lp;
                    best_len = t + 1;
                    if (t > 0)
                        memcpy(best_seq, seq + (size_t)cd->parent * length, (size_t)t * sizeof *seq);
                    best_seq[t] = cd->tok;
                }
                continue;
            }
            int32_t *ns = seq2 + (size_t)n_live * length;
            if (t > 0)
                memcpy(ns, seq + (size_t)cd->parent * length, (size_t)t * sizeof *ns);
            ns[t] = cd->tok;
            int src = parent_rows_are_prime ? 0 : cd->parent;
            const recur_real *hn = parent_rows_are_prime ? h : recur_run_hn(run);
            const recur_real *cn = parent_rows_are_prime ? c : recur_run_cn(run);
            int rows = parent_rows_are_prime ? 1 : live;
            for (int l = 0; l < L; l++) {
                memcpy(h2 + ((size_t)l * K + n_live) * R, hn + ((size_t)l * rows + src) * R,
                       (size_t)R * sizeof *h2);
                if (d.lstm)
                    memcpy(c2 + ((size_t)l * K + n_live) * H, cn + ((size_t)l * rows + src) * H,
                           (size_t)H * sizeof *c2);
            }
            last[n_live] = cd->tok;
            lp[n_live] = cd->lp;
            n_live++;
        }
        live = n_live;
        int32_t *tmp = seq;
        seq = seq2;
        seq2 = tmp;
        parent_rows_are_prime = 0;
        if (live == 0 || t + 1 == length || (best_len > 0 && best_lp >= lp[0]))
            break;
        /* h2/c2 hold the live states as (L, live, R): compact them to that width */
        for (int l = 0; l < L; l++) {
            memmove(h + (size_t)l * live * R, h2 + (size_t)l * K * R, (size_t)live * R * sizeof *h);
            if (d.lstm)
                memmove(c + (size_t)l * live * H, c2 + (size_t)l * K * H,
                        (size_t)live * H * sizeof *c);
        }
        recur_batch b = {0};
        b.T = 1;
        b.B = live;
        b.tokens = last;
        b.h0 = h;
        b.c0 = d.lstm ? c : NULL;
        if ((st = recur_forward(run, &b, 0, NULL, NULL)) != RECUR_OK) {
            recur_error_set(err, st, "%s", recur_run_errmsg(run));
            goto done;
        }
        const recur_real *z = recur_run_logits(run);
        nc = 0;
        for (int k = 0; k < live; k++) {
            if (log_softmax(z + (size_t)k * V, V, lsm)) {
                st = recur_error_set(err, RECUR_ERR_NONFINITE,
                                     "beam search: the model's output is not finite (NaN or infinite weights)");
                goto done;
            }
            nc += top_cands(lsm, V, K, lp[k], k, cands + nc);
        }
        qsort(cands, (size_t)nc, sizeof *cands, by_lp);
    }
    if (best_len > 0 && (live == 0 || best_lp >= lp[0])) {
        memcpy(out, best_seq, (size_t)best_len * sizeof *out);
        *n_out = best_len;
        if (logprob)
            *logprob = best_lp;
    } else if (live > 0) {
        /* the search ran to `length` tokens with nothing finished beating it */
        memcpy(out, seq, (size_t)length * sizeof *out);
        *n_out = length;
        if (logprob)
            *logprob = lp[0];
    }
done:
    recur_run_free(prun);
    recur_run_free(run);
    free(h);
    free(c);
    free(h2);
    free(c2);
    free(logits);
    free(lsm);
    free(cands);
    free(seq);
    free(seq2);
    free(best_seq);
    free(last);
    free(lp);
    return st;
}
