/*
 * cls_net.c - the classifier's network over a padded batch, forward and
 * backward: the composite's recurrent stack (recur_forward), a pooling over
 * each sentence's own steps, inverted dropout on the sentence vector, the
 * output layer and softmax cross-entropy.  With H the stack's outputs
 * (T, B, F), lengths n_b, F = D x P:
 *   last       s_b = [H[n_b - 1, b, 0:P] ; H[0, b, P:2P]]  (the second half when D = 2)
 *   mean       s_b = sum_{t < n_b} H[t, b] / n_b
 *   max        s_b,f = max_{t < n_b} H[t, b, f]
 *   attention  u = tanh(H W_a^T + b_a), e_tb = c . u_tb,
 *              alpha_tb = softmax over t < n_b of e_tb, s_b = sum_t alpha_tb H[t, b]
 *   logits = s W_c^T + b_c, loss = sum_b w_yb CE_b / sum_b w_yb.
 * Every product over the batch is one matrix product (the attention's over
 * all T x B steps at once); steps past a sentence's length are masked out of
 * every pooling, so a sentence gets in a batch what it gets alone.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "engine/model_internal.h"
#include "engine/simd.h"
#include "tasks/classify/classify_internal.h"

struct cls_net {
    recur_model *m;
    recur_run *run;
    recur_cls_pool pool;
    float dropout;
    int max_T, max_B;
    int F, P, D, K, A;
    recur_tensor_info cw, cb, aw, ab, ac; /* classifier and attention tensors */
    /* the last forward */
    int T, B, training, ready;
    int32_t *len;        /* (B) */
    const recur_real *H; /* (T, B, F) the run's outputs */
    recur_real *s;       /* (B, F) sentence vectors */
    recur_real *sd;      /* (B, F) after dropout */
    recur_real *mask;    /* (B, F) dropout scale, 0 or 1/(1-p) */
    int32_t *arg;        /* (B, F) max pooling: the step of each maximum */
    recur_real *u;       /* (T*B, A) attention: tanh(H W_a^T + b_a) */
    recur_real *alpha;   /* (T, B) attention weights, 0 past a sentence */
    recur_real *logits;  /* (B, K) */
    recur_real *probs;   /* (B, K) */
    /* backward scratch */
    recur_real *dlogits; /* (B, K) */
    recur_real *ds;      /* (B, F) */
    recur_real *dout;    /* (T, B, F) */
    recur_real *du;      /* (T*B, A) */
    recur_real *de;      /* (T, B) attention: d alpha, then d score */
    char msg[RECUR_ERRMSG_LEN];
};

void cls_net_free(cls_net *n)
{
    if (!n)
        return;
    recur_run_free(n->run);
    recur_free(n->len);
    recur_free(n->s);
    recur_free(n->sd);
    recur_free(n->mask);
    recur_free(n->arg);
    recur_free(n->u);
    recur_free(n->alpha);
    recur_free(n->logits);
    recur_free(n->probs);
    recur_free(n->dlogits);
    recur_free(n->ds);
    recur_free(n->dout);
    recur_free(n->du);
    recur_free(n->de);
    recur_free(n);
}

const char *cls_net_errmsg(const cls_net *n) { return n->msg; }
int cls_net_classes(const cls_net *n) { return n->K; }
const recur_real *cls_net_probs(const cls_net *n) { return n->probs; }
const recur_real *cls_net_logits(const cls_net *n) { return n->logits; }
const recur_real *cls_net_attention(const cls_net *n)
{
    return n->pool == RECUR_POOL_ATTENTION ? n->alpha : NULL;
}

static recur_status find(recur_model *m, const char *name, int ndim, int64_t d0, int64_t d1,
                         recur_tensor_info *t, recur_error *err)
{
    if (recur_model_find_tensor(m, name, t) != RECUR_OK)
        return recur_error_set(err, RECUR_ERR_MISMATCH, "the classifier has no tensor '%s'", name);
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim > 1 && t->shape[1] != d1))
        return recur_error_set(err, RECUR_ERR_MISMATCH, "tensor '%s' does not have the shape the classifier needs",
                               name);
    return RECUR_OK;
}

recur_status cls_net_create(cls_net **out, recur_model *m, recur_cls_pool pool, float dropout,
                            int max_T, int max_B, recur_error *err)
{
    *out = NULL;
    const recur_model_config *c = recur_model_get_config(m);
    if (c->vocab_size < 1 || c->output_size != 0)
        return recur_error_set(err, RECUR_ERR_MISMATCH,
                               "a classifier's first model has an embedding and no decoder");
    if ((int)pool < 0 || pool > RECUR_POOL_ATTENTION || !(dropout >= 0 && dropout < 1) || max_T < 1 ||
        max_B < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "classifier: bad pooling, dropout or sizes");
    cls_net *n = recur_alloc(1, sizeof *n);
    if (!n)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    n->m = m;
    n->pool = pool;
    n->dropout = dropout;
    n->max_T = max_T;
    n->max_B = max_B;
    n->D = c->rnn.bidirectional ? 2 : 1;
    n->P = c->rnn.proj_size > 0 ? c->rnn.proj_size : c->rnn.hidden_size;
    n->F = n->D * n->P;
    recur_status st;
    recur_tensor_info cw;
    if (recur_model_find_tensor(m, "classifier.weight", &cw) != RECUR_OK || cw.ndim != 2) {
        st = recur_error_set(err, RECUR_ERR_MISMATCH, "the classifier has no tensor 'classifier.weight' [K, F]");
        goto fail;
    }
    n->K = (int)cw.shape[0];
    if ((st = find(m, "classifier.weight", 2, n->K, n->F, &n->cw, err)) ||
        (st = find(m, "classifier.bias", 1, n->K, 0, &n->cb, err)))
        goto fail;
    if (pool == RECUR_POOL_ATTENTION) {
        recur_tensor_info aw;
        if (recur_model_find_tensor(m, "attention.weight", &aw) != RECUR_OK || aw.ndim != 2) {
            st = recur_error_set(err, RECUR_ERR_MISMATCH, "attention pooling needs the tensor 'attention.weight' [A, F]");
            goto fail;
        }
        n->A = (int)aw.shape[0];
        if ((st = find(m, "attention.weight", 2, n->A, n->F, &n->aw, err)) ||
            (st = find(m, "attention.bias", 1, n->A, 0, &n->ab, err)) ||
            (st = find(m, "attention.context", 1, n->A, 0, &n->ac, err)))
            goto fail;
    }
    if ((st = recur_run_create(&n->run, m, max_T, max_B, err)))
        goto fail;
    const size_t B = (size_t)max_B, TB = (size_t)max_T * B, F = (size_t)n->F, K = (size_t)n->K;
    n->len = recur_alloc(B, sizeof *n->len);
    n->s = recur_alloc(B * F, sizeof *n->s);
    n->sd = recur_alloc(B * F, sizeof *n->sd);
    n->mask = recur_alloc(B * F, sizeof *n->mask);
    n->logits = recur_alloc(B * K, sizeof *n->logits);
    n->probs = recur_alloc(B * K, sizeof *n->probs);
    n->dlogits = recur_alloc(B * K, sizeof *n->dlogits);
    n->ds = recur_alloc(B * F, sizeof *n->ds);
    n->dout = recur_alloc(TB * F, sizeof *n->dout);
    int bad = !n->len || !n->s || !n->sd || !n->mask || !n->logits || !n->probs || !n->dlogits ||
              !n->ds || !n->dout;
    if (pool == RECUR_POOL_MAX)
        bad |= !(n->arg = recur_alloc(B * F, sizeof *n->arg));
    if (pool == RECUR_POOL_ATTENTION) {
        n->u = recur_alloc(TB * (size_t)n->A, sizeof *n->u);
        n->du = recur_alloc(TB * (size_t)n->A, sizeof *n->du);
        n->alpha = recur_alloc(TB, sizeof *n->alpha);
        n->de = recur_alloc(TB, sizeof *n->de);
        bad |= !n->u || !n->du || !n->alpha || !n->de;
    }
    if (bad) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory for a classifier of batch %d x %d steps",
                             max_B, max_T);
        goto fail;
    }
    *out = n;
    return RECUR_OK;
fail:
    cls_net_free(n);
    return st;
}

recur_status cls_net_cache_inputs(cls_net *n, int on)
{
    recur_status st = recur_run_cache_input_projection(n->run, on);
    if (st)
        return recur_seterr(n->msg, st, "%s", recur_run_errmsg(n->run));
    return RECUR_OK;
}

/* ---- pooling ------------------------------------------------------------------------ */

static void pool_last(cls_net *n)
{
    const int B = n->B, F = n->F, P = n->P;
    for (int b = 0; b < B; b++) {
        memcpy(n->s + (size_t)b * F, n->H + ((size_t)(n->len[b] - 1) * B + b) * F, (size_t)P * sizeof *n->s);
        if (n->D == 2)
            memcpy(n->s + (size_t)b * F + P, n->H + (size_t)b * F + P, (size_t)P * sizeof *n->s);
    }
}

static void pool_mean(cls_net *n)
{
    const int B = n->B, F = n->F;
    memset(n->s, 0, (size_t)B * F * sizeof *n->s);
    for (int t = 0; t < n->T; t++)
        for (int b = 0; b < B; b++) {
            if (t >= n->len[b])
                continue;
            const recur_real *h = n->H + ((size_t)t * B + b) * F;
            recur_real *s = n->s + (size_t)b * F;
            for (int f = 0; f < F; f++)
                s[f] += h[f];
        }
    for (int b = 0; b < B; b++) {
        recur_real inv = (recur_real)(1.0 / n->len[b]);
        for (int f = 0; f < F; f++)
            n->s[(size_t)b * F + f] *= inv;
    }
}

static void pool_max(cls_net *n)
{
    const int B = n->B, F = n->F;
    memcpy(n->s, n->H, (size_t)B * F * sizeof *n->s); /* step 0: every sentence has it */
    memset(n->arg, 0, (size_t)B * F * sizeof *n->arg);
    for (int t = 1; t < n->T; t++)
        for (int b = 0; b < B; b++) {
            if (t >= n->len[b])
                continue;
            const recur_real *h = n->H + ((size_t)t * B + b) * F;
            recur_real *s = n->s + (size_t)b * F;
            int32_t *a = n->arg + (size_t)b * F;
            for (int f = 0; f < F; f++)
                if (h[f] > s[f]) {
                    s[f] = h[f];
                    a[f] = t;
                }
        }
}

static void pool_attention(cls_net *n)
{
    const int B = n->B, F = n->F, A = n->A, TB = n->T * n->B;
    /* u = tanh(H W_a^T + b_a) over all steps at once (padded ones are
     * masked below), then the scores e = u c as one product */
    recur_gemm(0, 1, TB, A, F, 1, n->H, F, n->aw.data, F, 0, n->u, A);
    for (int i = 0; i < TB; i++)
        vec_add(n->u + (size_t)i * A, n->ab.data, (size_t)A);
    vec_tanh(n->u, n->u, (size_t)TB * A);
    recur_gemm(0, 0, TB, 1, A, 1, n->u, A, n->ac.data, 1, 0, n->alpha, 1);
    memset(n->s, 0, (size_t)B * F * sizeof *n->s);
    for (int b = 0; b < B; b++) {
        double mx = -DBL_MAX, z = 0;
        for (int t = 0; t < n->len[b]; t++)
            mx = fmax(mx, (double)n->alpha[(size_t)t * B + b]);
        for (int t = 0; t < n->len[b]; t++)
            z += exp((double)n->alpha[(size_t)t * B + b] - mx);
        recur_real *s = n->s + (size_t)b * F;
        for (int t = 0; t < n->T; t++) {
            recur_real *al = &n->alpha[(size_t)t * B + b];
            *al = t < n->len[b] ? (recur_real)(exp((double)*al - mx) / z) : 0;
            if (t >= n->len[b])
                continue;
            const recur_real w = *al, *h = n->H + ((size_t)t * B + b) * F;
            for (int f = 0; f < F; f++)
                s[f] += w * h[f];
        }
    }
}

recur_status cls_net_forward(cls_net *n, const int32_t *tokens, const int32_t *lengths, int T,
                             int B, int training)
{
    n->ready = 0;
    if (T < 1 || B < 1 || T > n->max_T || B > n->max_B)
        return recur_seterr(n->msg, RECUR_ERR_ARG, "a batch of %d x %d steps, the classifier holds %d x %d", B,
                            T, n->max_B, n->max_T);
    for (int b = 0; b < B; b++) {
        if (lengths[b] < 1 || lengths[b] > T)
            return recur_seterr(n->msg, RECUR_ERR_ARG, "sentence %d of the batch has length %d, not 1..%d", b,
                                (int)lengths[b], T);
        n->len[b] = lengths[b];
    }
    recur_batch batch = {.T = T, .B = B, .tokens = tokens, .lengths = lengths};
    recur_status st = recur_forward(n->run, &batch, training, NULL, NULL);
    if (st)
        return recur_seterr(n->msg, st, "%s", recur_run_errmsg(n->run));
    n->T = T;
    n->B = B;
    n->training = training;
    n->H = recur_run_outputs(n->run);
    switch (n->pool) {
    case RECUR_POOL_LAST: pool_last(n); break;
    case RECUR_POOL_MEAN: pool_mean(n); break;
    case RECUR_POOL_MAX: pool_max(n); break;
    case RECUR_POOL_ATTENTION: pool_attention(n); break;
    }
    const int F = n->F, K = n->K;
    const size_t BF = (size_t)B * F;
    if (training && n->dropout > 0) {
        const recur_real keep = (recur_real)(1.0 / (1.0 - n->dropout));
        for (size_t i = 0; i < BF; i++) {
            n->mask[i] = recur_model_uniform(n->m) < n->dropout ? 0 : keep;
            n->sd[i] = n->s[i] * n->mask[i];
        }
    } else {
        memcpy(n->sd, n->s, BF * sizeof *n->sd);
    }
    recur_gemm(0, 1, B, K, F, 1, n->sd, F, n->cw.data, F, 0, n->logits, K);
    for (int b = 0; b < B; b++) {
        recur_real *z = n->logits + (size_t)b * K, *p = n->probs + (size_t)b * K;
        double mx = -DBL_MAX, sum = 0;
        for (int k = 0; k < K; k++) {
            z[k] += n->cb.data[k];
            mx = fmax(mx, (double)z[k]);
        }
        if (!isfinite(mx))
            return recur_seterr(n->msg, RECUR_ERR_NONFINITE, "the classifier's logits are not finite");
        for (int k = 0; k < K; k++)
            sum += exp((double)z[k] - mx);
        for (int k = 0; k < K; k++)
            p[k] = (recur_real)(exp((double)z[k] - mx) / sum);
    }
    n->ready = 1;
    return RECUR_OK;
}

/* ---- backward ------------------------------------------------------------------------- */

static void unpool_attention(cls_net *n)
{
    const int B = n->B, F = n->F, A = n->A, TB = n->T * n->B;
    const recur_real *ctx = n->ac.data;
    for (int b = 0; b < B; b++) {
        const recur_real *ds = n->ds + (size_t)b * F;
        double dot_sum = 0;
        /* d alpha_t = ds . h_t; d e_t = alpha_t (d alpha_t - sum_t' alpha_t' d alpha_t') */
        for (int t = 0; t < n->len[b]; t++) {
            const recur_real *h = n->H + ((size_t)t * B + b) * F;
            double d = 0;
            for (int f = 0; f < F; f++)
                d += (double)ds[f] * (double)h[f];
            n->de[(size_t)t * B + b] = (recur_real)d;
            dot_sum += (double)n->alpha[(size_t)t * B + b] * d;
        }
        for (int t = 0; t < n->T; t++) {
            size_t i = (size_t)t * B + b;
            recur_real *dh = n->dout + i * F;
            if (t >= n->len[b]) {
                n->de[i] = 0;
                continue;
            }
            recur_real al = n->alpha[i];
            for (int f = 0; f < F; f++)
                dh[f] = al * ds[f];
            n->de[i] = (recur_real)((double)al * ((double)n->de[i] - dot_sum));
        }
    }
    /* d e -> d u -> d (H W_a^T + b_a) */
    recur_real *dctx = n->ac.grad, *dba = n->ab.grad;
    for (int i = 0; i < TB; i++) {
        recur_real de = n->de[i];
        recur_real *u = n->u + (size_t)i * A, *du = n->du + (size_t)i * A;
        for (int a = 0; a < A; a++) {
            dctx[a] += de * u[a];
            du[a] = de * ctx[a] * (1 - u[a] * u[a]);
            dba[a] += du[a];
        }
    }
    recur_gemm(1, 0, A, F, TB, 1, n->du, A, n->H, F, 1, n->aw.grad, F);
    recur_gemm(0, 0, TB, F, A, 1, n->du, A, n->aw.data, F, 1, n->dout, F);
}

recur_status cls_net_backward(cls_net *n, const int32_t *labels, const double *class_weights,
                              double scale, double *loss)
{
    if (!n->ready)
        return recur_seterr(n->msg, RECUR_ERR_STATE, "classifier: backward without a forward");
    n->ready = 0;
    const int B = n->B, F = n->F, K = n->K, T = n->T;
    double wsum = 0, lsum = 0;
    for (int b = 0; b < B; b++) {
        if (labels[b] < 0 || labels[b] >= K)
            return recur_seterr(n->msg, RECUR_ERR_ARG, "label %d of sentence %d is not a class 0..%d",
                                (int)labels[b], b, K - 1);
        double w = class_weights ? class_weights[labels[b]] : 1.0;
        const recur_real *z = n->logits + (size_t)b * K;
        double mx = -DBL_MAX, sum = 0;
        for (int k = 0; k < K; k++)
            mx = fmax(mx, (double)z[k]);
        for (int k = 0; k < K; k++)
            sum += exp((double)z[k] - mx);
        lsum += w * (mx + log(sum) - (double)z[labels[b]]);
        wsum += w;
    }
    if (!(wsum > 0))
        return recur_seterr(n->msg, RECUR_ERR_ARG, "the batch's class weights sum to %g", wsum);
    *loss = lsum / wsum;
    if (!isfinite(*loss))
        return recur_seterr(n->msg, RECUR_ERR_NONFINITE, "the loss is not finite (%g)", *loss);
    for (int b = 0; b < B; b++) {
        double g = scale * (class_weights ? class_weights[labels[b]] : 1.0) / wsum;
        for (int k = 0; k < K; k++)
            n->dlogits[(size_t)b * K + k] =
                (recur_real)(g * ((double)n->probs[(size_t)b * K + k] - (k == labels[b])));
    }
    recur_gemm(1, 0, K, F, B, 1, n->dlogits, K, n->sd, F, 1, n->cw.grad, F);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++)
            n->cb.grad[k] += n->dlogits[(size_t)b * K + k];
    recur_gemm(0, 0, B, F, K, 1, n->dlogits, K, n->cw.data, F, 0, n->ds, F);
    if (n->training && n->dropout > 0)
        for (size_t i = 0; i < (size_t)B * F; i++)
            n->ds[i] *= n->mask[i];

    const size_t TBF = (size_t)T * B * F;
    memset(n->dout, 0, TBF * sizeof *n->dout);
    switch (n->pool) {
    case RECUR_POOL_LAST:
        for (int b = 0; b < B; b++) {
            memcpy(n->dout + ((size_t)(n->len[b] - 1) * B + b) * F, n->ds + (size_t)b * F,
                   (size_t)n->P * sizeof *n->dout);
            if (n->D == 2)
                memcpy(n->dout + (size_t)b * F + n->P, n->ds + (size_t)b * F + n->P,
                       (size_t)n->P * sizeof *n->dout);
        }
        break;
    case RECUR_POOL_MEAN:
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                if (t >= n->len[b])
                    continue;
                recur_real inv = (recur_real)(1.0 / n->len[b]);
                for (int f = 0; f < F; f++)
                    n->dout[((size_t)t * B + b) * F + f] = n->ds[(size_t)b * F + f] * inv;
            }
        break;
    case RECUR_POOL_MAX:
        for (int b = 0; b < B; b++)
            for (int f = 0; f < F; f++)
                n->dout[((size_t)n->arg[(size_t)b * F + f] * B + b) * F + f] = n->ds[(size_t)b * F + f];
        break;
    case RECUR_POOL_ATTENTION:
        unpool_attention(n);
        break;
    }
    recur_status st = recur_backward(n->run, 0, n->dout, NULL, NULL);
    if (st)
        return recur_seterr(n->msg, st, "%s", recur_run_errmsg(n->run));
    return RECUR_OK;
}
