/*
 * s2s_loss.c - the teacher-forced loss of a padded batch and its gradient.
 *
 * Without input feeding the decoder stack runs over every target step in one
 * recur_forward, and attention, the attentional vector and the output layer
 * are applied to all steps at once afterwards.  With input feeding step t's
 * input holds step t-1's attentional vector, so the decoder runs one step
 * per recur_forward (a run per step, each keeping its activations), the
 * state chained through h0/c0 forward and recur_run_d_h0/d_c0 backward.
 * The loss is the mean over target tokens of the label-smoothed
 * cross-entropy (1-e) * -log p(y) + e * mean_v -log p(v).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/dropout.h"
#include "engine/model_internal.h"
#include "tasks/seq2seq/s2s_internal.h"

struct s2s_work {
    recur_s2s *s;
    int max_S, max_T, max_B;
    recur_run *enc, *dec;  /* dec: without input feeding */
    recur_run **steps;     /* with input feeding: one run per target step */
    int32_t *row_src, *step_len;
    recur_real *h0, *c0, *bx, *bdx, *d_hn, *d_cn;
    recur_real *K, *dK, *dE;
    recur_real *H, *alpha, *ctx, *Q, *dQ, *u;
    recur_real *att, *attd, *mask, *logits;
    recur_real *d_att, *d_pre, *d_ctx, *d_h;
    recur_real *xin, *emask, *d_feed; /* input feeding */
    double objective; /* the last batch's mean label-smoothed loss */
};

double s2s_work_objective(const s2s_work *w) { return w->objective; }

static recur_real *alloc_real(size_t n, int *ok)
{
    recur_real *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        *ok = 0;
    return p;
}

void s2s_work_free(s2s_work *w)
{
    if (!w)
        return;
    recur_run_free(w->enc);
    recur_run_free(w->dec);
    if (w->steps)
        for (int t = 0; t < w->max_T; t++)
            recur_run_free(w->steps[t]);
    free(w->steps);
    recur_real *bufs[] = {w->h0, w->c0, w->bx, w->bdx, w->d_hn, w->d_cn, w->K, w->dK, w->dE,
                          w->H, w->alpha, w->ctx, w->Q, w->dQ, w->u, w->att, w->attd,
                          w->mask, w->logits, w->d_att, w->d_pre, w->d_ctx, w->d_h,
                          w->xin, w->emask, w->d_feed};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(w->row_src);
    free(w->step_len);
    free(w);
}

recur_status s2s_work_create(s2s_work **out, recur_s2s *s, int max_S, int max_T, int max_B,
                             recur_error *err)
{
    *out = NULL;
    if (max_S < 1 || max_T < 1 || max_B < 1 || max_S > 4096)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "seq2seq: batch sizes out of range (source length %d, at most 4096)",
                               max_S);
    s2s_work *w = calloc(1, sizeof *w);
    if (!w)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    w->s = s;
    w->max_S = max_S;
    w->max_T = max_T;
    w->max_B = max_B;
    recur_status st = recur_run_create(&w->enc, s->enc, max_S, max_B, err);
    if (!st && !s->feed)
        st = recur_run_create(&w->dec, s->m, max_T, max_B, err);
    if (!st && s->feed) {
        w->steps = calloc((size_t)max_T, sizeof *w->steps);
        if (!w->steps)
            st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        for (int t = 0; !st && t < max_T; t++)
            st = recur_run_create(&w->steps[t], s->m, 1, max_B, err);
    }
    if (st) {
        s2s_work_free(w);
        return st;
    }
    const size_t S = (size_t)max_S, T = (size_t)max_T, B = (size_t)max_B;
    const size_t Hd = (size_t)s->Hd, Ws = (size_t)s->Ws, A = (size_t)s->A, V = (size_t)s->V;
    const size_t KW = s->att == S2S_ATT_ADDITIVE ? A : Hd, TB = T * B;
    const size_t BW = (Ws > Hd ? Ws : Hd) * (size_t)s->Ld * B;
    const size_t enc_states = (size_t)s->Le * (size_t)s->De * B * (size_t)s->He;
    int ok = 1;
    w->row_src = calloc(TB, sizeof *w->row_src);
    w->step_len = calloc(B, sizeof *w->step_len);
    ok = w->row_src && w->step_len;
    w->h0 = alloc_real((size_t)s->Ld * B * Hd, &ok);
    w->c0 = alloc_real((size_t)s->Ld * B * Hd, &ok);
    w->bx = alloc_real(BW, &ok);
    w->bdx = alloc_real(BW, &ok);
    w->d_hn = alloc_real(enc_states, &ok);
    w->d_cn = alloc_real(enc_states, &ok);
    w->K = alloc_real(S * B * KW, &ok);
    w->dK = alloc_real(S * B * KW, &ok);
    w->dE = alloc_real(S * B * Ws, &ok);
    w->H = alloc_real(s->feed ? TB * Hd : 0, &ok); /* without feeding the decoder run holds H */
    w->alpha = alloc_real(TB * S, &ok);
    w->ctx = alloc_real(TB * Ws, &ok);
    if (s->att == S2S_ATT_ADDITIVE) {
        w->Q = alloc_real(TB * A, &ok);
        w->dQ = alloc_real(TB * A, &ok);
        w->u = alloc_real(TB * S * A, &ok);
    }
    w->att = alloc_real(TB * Hd, &ok);
    w->attd = alloc_real(TB * Hd, &ok);
    w->mask = alloc_real(TB * Hd, &ok);
    w->logits = alloc_real(TB * V, &ok);
    w->d_att = alloc_real(TB * Hd, &ok);
    w->d_pre = alloc_real(TB * Hd, &ok);
    w->d_ctx = alloc_real(TB * Ws, &ok);
    w->d_h = alloc_real(TB * Hd, &ok);
    if (s->feed) {
        w->xin = alloc_real(TB * ((size_t)s->E + Hd), &ok);
        w->emask = alloc_real(TB * (size_t)s->E, &ok);
        w->d_feed = alloc_real(B * Hd, &ok);
    }
    if (!ok) {
        s2s_work_free(w);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    *out = w;
    return RECUR_OK;
}

static void drop(recur_s2s *s, recur_real *mask, recur_real *dst, const recur_real *src, size_t n)
{
    dropout_draw(rng_next(s->m->rng), s->cfg.dropout, mask, dst, src, n);
}

/* Step t of the fed decoder: its input [embedding; attd of t-1], one step
 * from the previous step's state, attention and the attentional vector. */
static recur_status fed_step(recur_s2s *s, s2s_work *w, const s2s_batch *b, const s2s_keys *k,
                             int t, int has_h0, int training, char *msg)
{
    const int B = b->B, E = s->E, Hd = s->Hd, In = E + Hd;
    recur_real *x = w->xin + (size_t)t * B * In;
    for (int j = 0; j < B; j++) {
        int32_t y = b->tgt_in[(size_t)t * B + j];
        memcpy(x + (size_t)j * In, s->emb_t.w + (size_t)y * E, (size_t)E * sizeof *x);
        if (t > 0)
            memcpy(x + (size_t)j * In + E, w->attd + ((size_t)(t - 1) * B + j) * Hd, (size_t)Hd * sizeof *x);
        else
            memset(x + (size_t)j * In + E, 0, (size_t)Hd * sizeof *x);
        w->step_len[j] = t < b->tgt_len[j] ? 1 : 0;
    }
    if (training && s->cfg.dropout > 0)
        for (int j = 0; j < B; j++)
            drop(s, w->emask + ((size_t)t * B + j) * E, x + (size_t)j * In, x + (size_t)j * In, (size_t)E);
    recur_batch rb = {0};
    rb.T = 1;
    rb.B = B;
    rb.inputs = x;
    rb.lengths = w->step_len;
    if (t > 0) {
        rb.h0 = recur_run_hn(w->steps[t - 1]);
        rb.c0 = s->lstm ? recur_run_cn(w->steps[t - 1]) : NULL;
    } else if (has_h0) {
        rb.h0 = w->h0;
        rb.c0 = s->lstm ? w->c0 : NULL;
    }
    recur_status st = recur_forward(w->steps[t], &rb, training, NULL, NULL);
    if (st)
        return recur_seterr(msg, st, "decoder step %d: %s", t, recur_run_errmsg(w->steps[t]));
    const size_t r0 = (size_t)t * B;
    memcpy(w->H + r0 * Hd, recur_run_outputs(w->steps[t]), (size_t)B * Hd * sizeof *w->H);
    s2s_attend_forward(s, k, B, w->row_src, w->H + r0 * Hd, w->alpha + r0 * b->S,
                       w->ctx + r0 * s->Ws, w->Q ? w->Q + r0 * s->A : NULL,
                       w->u ? w->u + r0 * b->S * s->A : NULL);
    s2s_combine_forward(s, NULL, B, w->ctx + r0 * s->Ws, w->H + r0 * Hd, w->att + r0 * Hd);
    if (training && s->cfg.dropout > 0)
        drop(s, w->mask + r0 * Hd, w->attd + r0 * Hd, w->att + r0 * Hd, (size_t)B * Hd);
    else
        memcpy(w->attd + r0 * Hd, w->att + r0 * Hd, (size_t)B * Hd * sizeof *w->attd);
    return RECUR_OK;
}

/* Label-smoothed softmax cross-entropy over the rows with a target; the
 * logits are replaced by their gradient (scaled by 1/count). */
static void softmax_loss(const recur_s2s *s, const int32_t *targets, int R, recur_real *logits,
                         double eps, int grad, double *nll_sum, int64_t *count, double *objective)
{
    const int V = s->V;
    int64_t n = 0;
    for (int r = 0; r < R; r++)
        n += targets[r] >= 0;
    double nll = 0, smooth = 0;
    const double scale = n ? 1.0 / (double)n : 0;
    for (int r = 0; r < R; r++) {
        recur_real *z = logits + (size_t)r * V;
        const int32_t y = targets[r];
        if (y < 0) {
            if (grad)
                memset(z, 0, (size_t)V * sizeof *z);
            continue;
        }
        double mx = z[0];
        for (int v = 1; v < V; v++)
            if (z[v] > mx)
                mx = z[v];
        double sum = 0;
        for (int v = 0; v < V; v++)
            sum += exp((double)z[v] - mx);
        const double lse = mx + log(sum);
        nll += lse - (double)z[y];
        double mean_neg = 0;
        for (int v = 0; v < V; v++)
            mean_neg += lse - (double)z[v];
        smooth += (1 - eps) * (lse - (double)z[y]) + eps * mean_neg / V;
        if (grad) {
            for (int v = 0; v < V; v++)
                z[v] = (recur_real)((exp((double)z[v] - lse) - eps / V) * scale);
            z[y] -= (recur_real)((1 - eps) * scale);
        }
    }
    *nll_sum = nll;
    *count = n;
    *objective = smooth * scale;
}

recur_status s2s_batch_loss(recur_s2s *s, s2s_work *w, const s2s_batch *b, int training,
                            int backward, double label_smoothing, double *nll_sum,
                            int64_t *count, char *msg)
{
    const int B = b->B, S = b->S, T = b->T, Hd = s->Hd, Ws = s->Ws;
    const size_t TB = (size_t)T * B;
    if (B > w->max_B || S > w->max_S || T > w->max_T)
        return recur_seterr(msg, RECUR_ERR_ARG, "batch %dx%d (target %d) exceeds the work space", S,
                            B, T);
    /* the encoder, its keys and the decoder's initial state */
    recur_batch eb = {0};
    eb.T = S;
    eb.B = B;
    eb.tokens = b->src;
    eb.lengths = b->src_len;
    recur_status st = recur_forward(w->enc, &eb, training, NULL, NULL);
    if (st)
        return recur_seterr(msg, st, "encoder: %s", recur_run_errmsg(w->enc));
    s2s_keys k = {S, B, recur_run_outputs(w->enc), w->K, b->src_len};
    s2s_keys_compute(s, NULL, &k);
    const int has_h0 = s2s_bridge_forward(s, NULL, B, recur_run_hn(w->enc), recur_run_cn(w->enc), w->bx,
                                          w->h0, w->c0);
    for (size_t r = 0; r < TB; r++)
        w->row_src[r] = (int32_t)(r % (size_t)B);

    /* the decoder; H (T, B, Hd) its outputs */
    const recur_real *H = w->H;
    if (!s->feed) {
        recur_batch db = {0};
        db.T = T;
        db.B = B;
        db.tokens = b->tgt_in;
        db.lengths = b->tgt_len;
        db.h0 = has_h0 ? w->h0 : NULL;
        db.c0 = has_h0 && s->lstm ? w->c0 : NULL;
        if ((st = recur_forward(w->dec, &db, training, NULL, NULL)))
            return recur_seterr(msg, st, "decoder: %s", recur_run_errmsg(w->dec));
        H = recur_run_outputs(w->dec); /* read in place until the decoder's backward */
        if (s->att != S2S_ATT_NONE)
            s2s_attend_forward(s, &k, (int)TB, w->row_src, H, w->alpha, w->ctx, w->Q, w->u);
        s2s_combine_forward(s, NULL, (int)TB, w->ctx, H, w->att);
        if (training && s->cfg.dropout > 0)
            drop(s, w->mask, w->attd, w->att, TB * Hd);
        else
            memcpy(w->attd, w->att, TB * Hd * sizeof *w->attd);
    } else {
        for (int t = 0; t < T; t++)
            if ((st = fed_step(s, w, b, &k, t, has_h0, training, msg)))
                return st;
    }
    s2s_output_forward(s, NULL, (int)TB, w->attd, w->logits);
    softmax_loss(s, b->tgt_out, (int)TB, w->logits, label_smoothing, backward, nll_sum, count,
                 &w->objective);
    if (!isfinite(*nll_sum))
        return recur_seterr(msg, RECUR_ERR_NONFINITE, "the loss is not finite");
    if (!backward)
        return RECUR_OK;

    /* the output layer: w->logits now holds d_logits */
    recur_real *dl = w->logits;
    recur_gemm(1, 0, s->V, Hd, (int)TB, 1, dl, s->V, w->attd, Hd, 1, s->out_w.g, Hd);
    for (size_t r = 0; r < TB; r++)
        for (int v = 0; v < s->V; v++)
            s->out_b.g[v] += dl[r * s->V + v];
    recur_gemm(0, 0, (int)TB, Hd, s->V, 1, dl, s->V, s->out_w.w, Hd, 0, w->d_att, Hd);
    const int KW = s->att == S2S_ATT_ADDITIVE ? s->A : Hd;
    memset(w->dE, 0, (size_t)S * B * Ws * sizeof *w->dE);
    memset(w->dK, 0, (size_t)S * B * KW * sizeof *w->dK);
    const int drop_on = training && s->cfg.dropout > 0;
    const recur_real *d_h0 = NULL, *d_c0 = NULL;
    if (!s->feed) {
        if (drop_on)
            for (size_t i = 0; i < TB * Hd; i++)
                w->d_att[i] *= w->mask[i];
        memset(w->d_h, 0, TB * Hd * sizeof *w->d_h);
        s2s_combine_backward(s, (int)TB, w->ctx, H, w->att, w->d_att, w->d_pre, w->d_ctx, w->d_h);
        if (s->att != S2S_ATT_NONE)
            s2s_attend_backward(s, &k, (int)TB, w->row_src, H, w->alpha, w->u, w->d_ctx,
                                w->d_h, w->dE, w->dK, w->dQ);
        if ((st = recur_backward(w->dec, 0, w->d_h, NULL, NULL)))
            return recur_seterr(msg, st, "decoder: %s", recur_run_errmsg(w->dec));
        d_h0 = recur_run_d_h0(w->dec);
        d_c0 = recur_run_d_c0(w->dec);
    } else {
        const int E = s->E, In = E + Hd;
        memset(w->d_feed, 0, (size_t)B * Hd * sizeof *w->d_feed);
        for (int t = T - 1; t >= 0; t--) {
            const size_t r0 = (size_t)t * B;
            recur_real *da = w->d_att + r0 * Hd, *dh = w->d_h + r0 * Hd;
            for (size_t i = 0; i < (size_t)B * Hd; i++) {
                da[i] += w->d_feed[i];
                if (drop_on)
                    da[i] *= w->mask[r0 * Hd + i];
            }
            memset(dh, 0, (size_t)B * Hd * sizeof *dh);
            s2s_combine_backward(s, B, w->ctx + r0 * Ws, w->H + r0 * Hd, w->att + r0 * Hd, da,
                                 w->d_pre + r0 * Hd, w->d_ctx + r0 * Ws, dh);
            s2s_attend_backward(s, &k, B, w->row_src, w->H + r0 * Hd, w->alpha + r0 * S,
                                w->u ? w->u + r0 * S * s->A : NULL, w->d_ctx + r0 * Ws, dh, w->dE,
                                w->dK, w->dQ ? w->dQ + r0 * s->A : NULL);
            const recur_real *dhn = t + 1 < T ? recur_run_d_h0(w->steps[t + 1]) : NULL;
            const recur_real *dcn = t + 1 < T && s->lstm ? recur_run_d_c0(w->steps[t + 1]) : NULL;
            if ((st = recur_backward(w->steps[t], 0, dh, dhn, dcn)))
                return recur_seterr(msg, st, "decoder step %d: %s", t,
                                    recur_run_errmsg(w->steps[t]));
            const recur_real *dx = recur_run_d_inputs(w->steps[t]);
            for (int j = 0; j < B; j++) {
                const recur_real *dxj = dx + (size_t)j * In;
                recur_real *ge = s->emb_t.g + (size_t)b->tgt_in[r0 + j] * E;
                const recur_real *em = w->emask + (r0 + j) * E;
                for (int e = 0; e < E; e++)
                    ge[e] += drop_on ? dxj[e] * em[e] : dxj[e];
                memcpy(w->d_feed + (size_t)j * Hd, dxj + E, (size_t)Hd * sizeof *w->d_feed);
            }
        }
        d_h0 = recur_run_d_h0(w->steps[0]);
        d_c0 = recur_run_d_c0(w->steps[0]);
    }
    s2s_keys_backward(s, &k, w->dK, w->dE);
    const recur_real *dhn = NULL, *dcn = NULL;
    if (has_h0) {
        s2s_bridge_backward(s, B, recur_run_hn(w->enc), recur_run_cn(w->enc), w->h0, w->c0, d_h0,
                            d_c0, w->bx, w->bdx, w->d_hn, w->d_cn);
        dhn = w->d_hn;
        dcn = s->lstm ? w->d_cn : NULL;
    }
    if ((st = recur_backward(w->enc, 0, w->dE, dhn, dcn)))
        return recur_seterr(msg, st, "encoder: %s", recur_run_errmsg(w->enc));
    return RECUR_OK;
}
