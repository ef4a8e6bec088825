/*
 * s2s_decode.c - greedy and beam search, batched over several sources.
 *
 * The encoder reads N sources at once; the decoder then steps R rows side
 * by side (N for greedy, N x K for a beam of K), each a recur_forward of one
 * step from the rows' carried states.  Log-probabilities are those of the
 * model's softmax over the whole target vocabulary (<s> is never chosen),
 * so a hypothesis's log-probability equals its teacher-forced one.  A
 * source may emit at most max_len_ratio * length + max_len_extra tokens;
 * then </s> is forced, so every search ends.
 *
 * Beam search keeps, per source, the K best unfinished hypotheses by total
 * log-probability; a candidate ending in </s> that ranks above the K-th kept
 * one is finished, scored by logprob / length^alpha (length counting
 * </s>).  A source is done when K hypotheses have finished.  With K = 1 this
 * is greedy search.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/model_internal.h"
#include "tasks/seq2seq/s2s_internal.h"

struct s2s_decoder {
    recur_s2s *s;
    int max_N, max_S, K, max_R;
    int force_beam; /* tests: the beam's code path with K = 1 */
    int in_run;     /* the rows' states are the step run's hn, cn (greedy), not h, c */
    recur_run *enc, *step;
    s2s_packed *pk; /* the layers' weights packed once, or NULL */
    int32_t *src, *src_len, *row_src, *tok, *step_len, *parent;
    recur_real *h, *c, *h0, *c0, *bx, *Kk, *alpha, *ctx, *Q, *u, *att, *logits, *xin;
    recur_real *tmp;
};

void s2s_decoder_free(s2s_decoder *d)
{
    if (!d)
        return;
    recur_run_free(d->enc);
    recur_run_free(d->step);
    s2s_packed_free(d->pk);
    void *p[] = {d->src, d->src_len, d->row_src, d->tok, d->step_len, d->parent, d->h, d->c,
                 d->h0, d->c0, d->bx, d->Kk, d->alpha, d->ctx, d->Q, d->u, d->att,
                 d->logits, d->xin, d->tmp};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    free(d);
}

recur_status s2s_decoder_create(s2s_decoder **out, recur_s2s *s, int max_N, int max_S, int beam,
                                recur_error *err)
{
    *out = NULL;
    if (max_N < 1 || beam < 1 || max_S < 1 || max_S > 4096)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "decode: batch and beam must be >= 1 and sources at most 4096 tokens");
    s2s_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    d->s = s;
    d->max_N = max_N;
    d->max_S = max_S;
    d->K = beam;
    const size_t R = (size_t)max_N * (size_t)beam, S = (size_t)max_S, N = (size_t)max_N;
    d->max_R = (int)R;
    recur_status st = recur_run_create(&d->enc, s->enc, max_S, max_N, err);
    if (!st)
        st = recur_run_create(&d->step, s->m, 1, (int)R, err);
    /* the weights stay as they are while the decoder lives: products of
     * them that every step repeats are made once.  The first layers' input
     * products per token when the table is no larger than W_ih (a small
     * vocabulary); the packed recurrent and layer weights when the batches
     * have rows enough for the packed kernel (fewer read the weights in
     * place) */
    const int enc_rows = max_N >= 5, dec_rows = R >= 5;
    if (!st && s->src->n <= s->cfg.source_embed && (st = recur_run_cache_input_projection(d->enc, 1)))
        recur_error_set(err, st, "encoder: %s", recur_run_errmsg(d->enc));
    if (!st && enc_rows && (st = run_freeze_recurrent(d->enc, 1)))
        recur_error_set(err, st, "encoder: %s", recur_run_errmsg(d->enc));
    if (!st && !s->feed && s->V <= s->E && (st = recur_run_cache_input_projection(d->step, 1)))
        recur_error_set(err, st, "decoder: %s", recur_run_errmsg(d->step));
    if (!st && dec_rows && (st = run_freeze_recurrent(d->step, 1)))
        recur_error_set(err, st, "decoder: %s", recur_run_errmsg(d->step));
    if (!st && dec_rows)
        st = s2s_packed_create(&d->pk, s, err);
    if (st) {
        s2s_decoder_free(d);
        return st;
    }
    const size_t Hd = (size_t)s->Hd, Ws = (size_t)s->Ws, A = (size_t)s->A, Ld = (size_t)s->Ld;
    const size_t KW = s->att == S2S_ATT_ADDITIVE ? A : Hd;
    d->src = calloc(S * N, sizeof *d->src);
    d->src_len = calloc(N, sizeof *d->src_len);
    d->row_src = calloc(R, sizeof *d->row_src);
    d->tok = calloc(R, sizeof *d->tok);
    d->step_len = calloc(R, sizeof *d->step_len);
    d->parent = calloc(R, sizeof *d->parent);
    d->h = calloc(Ld * R * Hd, sizeof *d->h);
    d->c = calloc(Ld * R * Hd, sizeof *d->c);
    d->h0 = calloc(Ld * N * Hd, sizeof *d->h0);
    d->c0 = calloc(Ld * N * Hd, sizeof *d->c0);
    d->bx = calloc(Ld * N * (Ws > Hd ? Ws : Hd), sizeof *d->bx);
    d->Kk = calloc(S * N * KW, sizeof *d->Kk);
    d->alpha = calloc(R * S, sizeof *d->alpha);
    d->ctx = calloc(R * Ws, sizeof *d->ctx);
    d->Q = calloc(R * A, sizeof *d->Q);
    d->u = s->att == S2S_ATT_ADDITIVE ? calloc(R * S * A, sizeof *d->u) : malloc(1);
    d->att = calloc(R * Hd, sizeof *d->att);
    d->logits = calloc(R * (size_t)s->V, sizeof *d->logits);
    d->xin = calloc(R * ((size_t)s->E + Hd), sizeof *d->xin);
    d->tmp = calloc(Ld * R * Hd, sizeof *d->tmp);
    if (!d->src || !d->src_len || !d->row_src || !d->tok || !d->step_len || !d->parent || !d->h ||
        !d->c || !d->h0 || !d->c0 || !d->bx || !d->Kk || !d->alpha || !d->ctx || !d->Q || !d->u ||
        !d->att || !d->logits || !d->xin || !d->tmp) {
        s2s_decoder_free(d);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    *out = d;
    return RECUR_OK;
}

/* One decoder step of R rows from tokens d->tok and states d->h, d->c or,
 * with d->in_run, the step run's last ones (and the rows' last attentional
 * vectors d->att when fed): leaves the new states in d->h, d->c (with
 * keep_in_run, in the run: the greedy search's rows never move), the
 * attentional vectors in d->att and the log-softmax in d->logits. */
static recur_status step_rows(s2s_decoder *d, const s2s_keys *k, int R, int keep_in_run, recur_error *err)
{
    recur_s2s *s = d->s;
    const int Hd = s->Hd, V = s->V;
    recur_batch rb = {0};
    rb.T = 1;
    rb.B = R;
    if (s->feed) {
        const int E = s->E, In = E + Hd;
        for (int r = 0; r < R; r++) {
            memcpy(d->xin + (size_t)r * In, s->emb_t.w + (size_t)d->tok[r] * E, (size_t)E * sizeof *d->xin);
            memcpy(d->xin + (size_t)r * In + E, d->att + (size_t)r * Hd, (size_t)Hd * sizeof *d->xin);
        }
        rb.inputs = d->xin;
    } else {
        rb.tokens = d->tok;
    }
    /* a forward reads its h0, c0 before it writes hn, cn */
    rb.h0 = d->in_run ? recur_run_hn(d->step) : d->h;
    rb.c0 = s->lstm ? d->in_run ? recur_run_cn(d->step) : d->c : NULL;
    recur_status st = recur_forward(d->step, &rb, 0, NULL, NULL);
    if (st)
        return recur_error_set(err, st, "decoder: %s", recur_run_errmsg(d->step));
    d->in_run = keep_in_run;
    if (!keep_in_run) {
        const size_t n_state = (size_t)s->Ld * R * Hd;
        memcpy(d->h, recur_run_hn(d->step), n_state * sizeof *d->h);
        if (s->lstm)
            memcpy(d->c, recur_run_cn(d->step), n_state * sizeof *d->c);
    }
    const recur_real *out = recur_run_outputs(d->step);
    if (s->att != S2S_ATT_NONE)
        s2s_attend_forward(s, k, R, d->row_src, out, d->alpha, d->ctx, d->Q, d->u);
    s2s_combine_forward(s, d->pk, R, d->ctx, out, d->att);
    s2s_output_forward(s, d->pk, R, d->att, d->logits);
    for (int r = 0; r < R; r++) {
        recur_real *z = d->logits + (size_t)r * V;
        double mx = z[0], sum = 0;
        for (int v = 1; v < V; v++)
            if (z[v] > mx)
                mx = z[v];
        for (int v = 0; v < V; v++)
            sum += exp((double)z[v] - mx);
        const double lse = mx + log(sum);
        for (int v = 0; v < V; v++)
            z[v] = (recur_real)((double)z[v] - lse);
    }
    return RECUR_OK;
}

/* Reorders the rows' states: row r takes row parent[r]'s. */
static void reorder(s2s_decoder *d, int R)
{
    recur_s2s *s = d->s;
    const size_t Hd = (size_t)s->Hd;
    recur_real *bufs[3] = {d->h, s->lstm ? d->c : NULL, NULL};
    for (int b = 0; b < 2; b++) {
        if (!bufs[b])
            continue;
        for (int l = 0; l < s->Ld; l++) {
            recur_real *x = bufs[b] + (size_t)l * R * Hd;
            for (int r = 0; r < R; r++)
                memcpy(d->tmp + (size_t)r * Hd, x + (size_t)d->parent[r] * Hd, Hd * sizeof *x);
            memcpy(x, d->tmp, (size_t)R * Hd * sizeof *x);
        }
    }
    for (int r = 0; r < R; r++)
        memcpy(d->tmp + (size_t)r * Hd, d->att + (size_t)d->parent[r] * Hd, Hd * sizeof *d->att);
    memcpy(d->att, d->tmp, (size_t)R * Hd * sizeof *d->att);
}

static int max_len_of(const recur_s2s_decode_config *dc, int n)
{
    double m = dc->max_len_ratio * n + dc->max_len_extra;
    return m < 0 ? 0 : m > 100000 ? 100000 : (int)m;
}

static int hyp_set(recur_s2s_hyp *h, const int32_t *ids, int n, double logprob, double score)
{
    h->ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *h->ids);
    if (!h->ids)
        return -1;
    if (n > 0)
        memcpy(h->ids, ids, (size_t)n * sizeof *ids);
    h->n = n;
    h->logprob = logprob;
    h->score = score;
    return 0;
}

void s2s_decoder_force_beam(s2s_decoder *d, int on) { d->force_beam = on; }

void recur_s2s_result_clear(recur_s2s_result *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->hyps[i].ids);
    free(r->hyps);
    r->hyps = NULL;
    r->n = 0;
}

/* A candidate of the beam: parent row k of its source, token v, total. */
typedef struct cand {
    double total;
    int k, v;
} cand;

/* Better: higher total, then lower (k, v). */
static int cand_better(const cand *a, const cand *b)
{
    if (a->total != b->total)
        return a->total > b->total;
    return a->k != b->k ? a->k < b->k : a->v < b->v;
}

typedef struct fin {
    int32_t *ids;
    int n;
    double logprob, score;
} fin;

static int fin_cmp(const void *a, const void *b)
{
    const fin *x = a, *y = b;
    return x->score > y->score ? -1 : x->score < y->score ? 1 : 0;
}

/* Greedy search of R = N rows: the argmax (lowest id on ties) at each step. */
static recur_status greedy(s2s_decoder *d, const s2s_keys *k, const int *len, int N,
                           const recur_s2s_decode_config *dc, recur_s2s_result *res,
                           recur_error *err)
{
    const int V = d->s->V;
    int max_len = 0;
    for (int n = 0; n < N; n++) {
        int m = max_len_of(dc, len[n]);
        max_len = m > max_len ? m : max_len;
    }
    int32_t *hist = malloc((size_t)N * (size_t)(max_len + 1) * sizeof *hist);
    double *lp = calloc((size_t)N, sizeof *lp);
    int *done = calloc((size_t)N, sizeof *done);
    recur_status st = RECUR_OK;
    if (!hist || !lp || !done) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int n = 0; n < N; n++) {
        d->row_src[n] = n;
        d->tok[n] = S2S_BOS;
    }
    int n_done = 0;
    for (int t = 0; n_done < N; t++) {
        if ((st = step_rows(d, k, N, 1, err)))
            goto out;
        for (int n = 0; n < N; n++) {
            if (done[n])
                continue;
            const recur_real *z = d->logits + (size_t)n * V;
            int best = S2S_EOS;
            if (t < max_len_of(dc, len[n]))
                for (int v = 1; v < V; v++)
                    if (v != S2S_BOS && z[v] > z[best])
                        best = v;
            lp[n] += (double)z[best];
            d->tok[n] = best;
            if (best != S2S_EOS) {
                hist[(size_t)n * (size_t)(max_len + 1) + t] = best;
                continue;
            }
            done[n] = 1;
            n_done++;
            res[n].hyps = calloc(1, sizeof *res[n].hyps);
            double score = dc->length_alpha > 0 ? lp[n] / pow(t + 1, dc->length_alpha) : lp[n];
            if (!res[n].hyps ||
                hyp_set(&res[n].hyps[0], hist + (size_t)n * (size_t)(max_len + 1), t, lp[n], score)) {
                st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
                goto out;
            }
            res[n].n = 1;
        }
    }
out:
    free(hist);
    free(lp);
    free(done);
    return st;
}

recur_status s2s_decode_many(s2s_decoder *d, const int32_t *const *src, const int *len, int N,
                             const recur_s2s_decode_config *dc, recur_s2s_result *res,
                             recur_error *err)
{
    recur_s2s *s = d->s;
    const int K = dc->beam, V = s->V, Hd = s->Hd;
    if (N < 1 || N > d->max_N || K != d->K)
        return recur_error_set(err, RECUR_ERR_ARG, "decode: %d sources with beam %d do not fit", N, K);
    int S = 0;
    for (int n = 0; n < N; n++) {
        if (len[n] < 1 || len[n] > d->max_S)
            return recur_error_set(err, RECUR_ERR_ARG,
                                   "decode: a source of %d tokens (1 to %d allowed)", len[n], d->max_S);
        S = len[n] > S ? len[n] : S;
    }
    for (int n = 0; n < N; n++) {
        d->src_len[n] = len[n];
        for (int t = 0; t < S; t++)
            d->src[(size_t)t * N + n] = t < len[n] ? src[n][t] : 0;
        res[n].hyps = NULL;
        res[n].n = 0;
    }
    d->in_run = 0;
    recur_batch eb = {0};
    eb.T = S;
    eb.B = N;
    eb.tokens = d->src;
    eb.lengths = d->src_len;
    recur_status st = recur_forward(d->enc, &eb, 0, NULL, NULL);
    if (st)
        return recur_error_set(err, st, "encoder: %s", recur_run_errmsg(d->enc));
    s2s_keys k = {S, N, recur_run_outputs(d->enc), d->Kk, d->src_len};
    s2s_keys_compute(s, d->pk, &k);
    if (K == 1 && !d->force_beam) {
        int ok = s2s_bridge_forward(s, d->pk, N, recur_run_hn(d->enc), recur_run_cn(d->enc), d->bx, d->h, d->c);
        if (!ok) {
            memset(d->h, 0, (size_t)s->Ld * N * Hd * sizeof *d->h);
            memset(d->c, 0, (size_t)s->Ld * N * Hd * sizeof *d->c);
        }
        memset(d->att, 0, (size_t)N * Hd * sizeof *d->att);
        st = greedy(d, &k, len, N, dc, res, err);
        if (st)
            for (int n = 0; n < N; n++)
                recur_s2s_result_clear(&res[n]);
        return st;
    }
    const int R = N * K;
    const size_t n_state = (size_t)s->Ld * R * Hd;
    memset(d->h, 0, n_state * sizeof *d->h);
    memset(d->c, 0, n_state * sizeof *d->c);
    memset(d->att, 0, (size_t)R * Hd * sizeof *d->att);
    if (s2s_bridge_forward(s, d->pk, N, recur_run_hn(d->enc), recur_run_cn(d->enc), d->bx, d->h0, d->c0))
        for (int l = 0; l < s->Ld; l++)
            for (int r = 0; r < R; r++) {
                const size_t from = ((size_t)l * N + (size_t)(r / K)) * Hd, to = ((size_t)l * R + r) * Hd;
                memcpy(d->h + to, d->h0 + from, (size_t)Hd * sizeof *d->h);
                if (s->lstm)
                    memcpy(d->c + to, d->c0 + from, (size_t)Hd * sizeof *d->c);
            }
    int max_len = 0;
    for (int n = 0; n < N; n++) {
        int m = max_len_of(dc, len[n]);
        max_len = m > max_len ? m : max_len;
    }
    /* per row: history, total; per source: finished hypotheses */
    const size_t H = (size_t)max_len + 1;
    int32_t *hist = malloc((size_t)R * H * sizeof *hist), *hist2 = malloc((size_t)R * H * sizeof *hist);
    double *total = malloc((size_t)R * sizeof *total), *total2 = malloc((size_t)R * sizeof *total);
    int *alive = calloc((size_t)R, sizeof *alive), *alive2 = calloc((size_t)R, sizeof *alive);
    int *done = calloc((size_t)N, sizeof *done), *n_fin = calloc((size_t)N, sizeof *n_fin);
    fin *fins = calloc((size_t)N * (size_t)(2 * K), sizeof *fins);
    cand *top = malloc((size_t)(2 * K) * sizeof *top);
    if (!hist || !hist2 || !total || !total2 || !alive || !alive2 || !done || !n_fin || !fins || !top) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int r = 0; r < R; r++) {
        d->row_src[r] = r / K;
        d->tok[r] = S2S_BOS;
        total[r] = r % K == 0 ? 0 : -INFINITY;
        alive[r] = r % K == 0;
    }
    int n_done = 0;
    for (int t = 0; n_done < N; t++) {
        if ((st = step_rows(d, &k, R, 0, err)))
            goto out;
        for (int n = 0; n < N; n++) {
            if (done[n]) {
                for (int j = 0; j < K; j++)
                    d->parent[n * K + j] = n * K + j;
                continue;
            }
            const int force_end = t >= max_len_of(dc, len[n]);
            /* the 2K best candidates of the source's live rows */
            int nt = 0;
            for (int j = 0; j < K; j++) {
                const int r = n * K + j;
                if (!alive[r])
                    continue;
                const recur_real *lp = d->logits + (size_t)r * V;
                for (int v = force_end ? S2S_EOS : 0; v < (force_end ? S2S_EOS + 1 : V); v++) {
                    if (v == S2S_BOS)
                        continue;
                    cand c = {total[r] + (double)lp[v], j, v};
                    if (nt == 2 * K && !cand_better(&c, &top[nt - 1]))
                        continue;
                    int at = nt < 2 * K ? nt++ : nt - 1;
                    while (at > 0 && cand_better(&c, &top[at - 1])) {
                        top[at] = top[at - 1];
                        at--;
                    }
                    top[at] = c;
                }
            }
            int kept = 0;
            for (int i = 0; i < nt && kept < K; i++) {
                const int pr = n * K + top[i].k;
                if (top[i].v == S2S_EOS) {
                    if (n_fin[n] < 2 * K) {
                        fin *f = &fins[(size_t)n * 2 * K + n_fin[n]++];
                        f->n = t;
                        f->ids = malloc((size_t)(t > 0 ? t : 1) * sizeof *f->ids);
                        if (!f->ids) {
                            st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
                            goto out;
                        }
                        memcpy(f->ids, hist + (size_t)pr * H, (size_t)t * sizeof *f->ids);
                        f->logprob = top[i].total;
                        f->score = dc->length_alpha > 0 ? top[i].total / pow(t + 1, dc->length_alpha)
                                                        : top[i].total;
                    }
                    continue;
                }
                const int r = n * K + kept++;
                d->parent[r] = pr;
                memcpy(hist2 + (size_t)r * H, hist + (size_t)pr * H, (size_t)t * sizeof *hist);
                hist2[(size_t)r * H + t] = top[i].v;
                total2[r] = top[i].total;
                alive2[r] = 1;
            }
            for (int j = kept; j < K; j++) {
                const int r = n * K + j;
                d->parent[r] = r;
                alive2[r] = 0;
                total2[r] = -INFINITY;
            }
            if (n_fin[n] >= K || kept == 0) {
                done[n] = 1;
                n_done++;
                for (int j = 0; j < K; j++)
                    alive2[n * K + j] = 0;
            }
        }
        /* the kept rows become the live ones */
        for (int r = 0; r < R; r++) {
            const int n = r / K;
            if (done[n] && !alive2[r]) {
                alive[r] = 0;
                d->tok[r] = S2S_EOS;
                continue;
            }
            alive[r] = alive2[r];
            total[r] = total2[r];
            memcpy(hist + (size_t)r * H, hist2 + (size_t)r * H, (size_t)(t + 1) * sizeof *hist);
            d->tok[r] = alive[r] ? hist[(size_t)r * H + t] : S2S_EOS;
        }
        reorder(d, R);
    }
    for (int n = 0; n < N; n++) {
        fin *f = fins + (size_t)n * 2 * K;
        qsort(f, (size_t)n_fin[n], sizeof *f, fin_cmp);
        int keep = n_fin[n] < dc->nbest ? n_fin[n] : dc->nbest;
        res[n].hyps = calloc((size_t)(keep > 0 ? keep : 1), sizeof *res[n].hyps);
        if (!res[n].hyps) {
            st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (int i = 0; i < keep; i++) {
            if (hyp_set(&res[n].hyps[i], f[i].ids, f[i].n, f[i].logprob, f[i].score)) {
                st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
                goto out;
            }
            res[n].n++;
        }
    }
out:
    if (fins)
        for (size_t i = 0; i < (size_t)N * (size_t)(2 * K); i++)
            free(fins[i].ids);
    free(fins);
    free(top);
    free(hist);
    free(hist2);
    free(total);
    free(total2);
    free(alive);
    free(alive2);
    free(done);
    free(n_fin);
    if (st)
        for (int n = 0; n < N; n++)
            recur_s2s_result_clear(&res[n]);
    return st;
}

void recur_s2s_decode_config_default(recur_s2s_decode_config *c)
{
    c->beam = 1;
    c->nbest = 1;
    c->length_alpha = 0;
    c->max_len_ratio = 2;
    c->max_len_extra = 10;
    c->batch = 64;
}

static recur_status check_dc(const recur_s2s_decode_config *dc, recur_error *err)
{
    if (dc->beam < 1 || dc->nbest < 1 || dc->nbest > dc->beam || dc->batch < 1 ||
        !(dc->length_alpha >= 0) || !(dc->max_len_ratio >= 0) || dc->max_len_extra < 0)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "decode: needs beam >= 1, 1 <= nbest <= beam, batch >= 1, "
                               "length alpha >= 0 and maximum lengths >= 0");
    return RECUR_OK;
}

recur_status recur_s2s_decode_ids(recur_s2s *s, const int32_t *const *src, const int *len, int n,
                                  const recur_s2s_decode_config *dc, recur_s2s_result *res,
                                  recur_error *err)
{
    recur_status st = check_dc(dc, err);
    if (st)
        return st;
    int max_S = 1;
    for (int i = 0; i < n; i++) {
        for (int t = 0; t < len[i]; t++)
            if (src[i][t] < 0 || src[i][t] >= s->src->n)
                return recur_error_set(err, RECUR_ERR_ARG, "decode: source id %d outside the vocabulary", (int)src[i][t]);
        max_S = len[i] > max_S ? len[i] : max_S;
    }
    for (int i = 0; i < n; i++)
        res[i].hyps = NULL, res[i].n = 0;
    s2s_decoder *d;
    int B = n < dc->batch ? n : dc->batch;
    if ((st = s2s_decoder_create(&d, s, B > 0 ? B : 1, max_S, dc->beam, err)))
        return st;
    for (int i = 0; i < n && !st; i += B) {
        int m = n - i < B ? n - i : B;
        st = s2s_decode_many(d, src + i, len + i, m, dc, res + i, err);
    }
    s2s_decoder_free(d);
    if (st)
        for (int i = 0; i < n; i++)
            recur_s2s_result_clear(&res[i]);
    return st;
}

recur_status recur_s2s_decode_text(recur_s2s *s, const char *text, const recur_s2s_decode_config *dc,
                                   char ***out, double **logprob, int *n_out, recur_error *err)
{
    *out = NULL;
    if (logprob)
        *logprob = NULL;
    *n_out = 0;
    int32_t *ids;
    int n;
    recur_status st = recur_s2s_encode_source(s, text, strlen(text), &ids, &n, NULL, err);
    if (st)
        return st;
    if (n == 0) {
        free(ids);
        return recur_error_set(err, RECUR_ERR_ARG, "decode: the source is empty");
    }
    recur_s2s_result res = {0};
    const int32_t *src[1] = {ids};
    st = recur_s2s_decode_ids(s, src, &n, 1, dc, &res, err);
    free(ids);
    if (st)
        return st;
    char **o = calloc((size_t)res.n + 1, sizeof *o);
    double *lp = calloc((size_t)res.n + 1, sizeof *lp);
    int ok = o && lp;
    for (int i = 0; ok && i < res.n; i++) {
        o[i] = recur_s2s_target_text(s, res.hyps[i].ids, res.hyps[i].n);
        lp[i] = res.hyps[i].logprob;
        ok = o[i] != NULL;
    }
    int nh = res.n;
    recur_s2s_result_clear(&res);
    if (!ok) {
        if (o)
            for (int i = 0; i < nh; i++)
                free(o[i]);
        free(o);
        free(lp);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    *out = o;
    *n_out = nh;
    if (logprob)
        *logprob = lp;
    else
        free(lp);
    return RECUR_OK;
}
