/*
 * net.c - the tagger's network over a batch of sentences, on the engine:
 *
 *   characters of each word -> char_rnn (BiLSTM) -> final states of both
 *   directions (Lample et al. 2016)
 *   [word embedding | character states | capitalisation embedding]
 *     -> dropout -> bidirectional stack (float inputs) -> dropout
 *     -> hidden2tag (one product over all T*B rows) -> emissions
 *     -> CRF (forward algorithm, Viterbi) or softmax per token
 *
 * Sentences of a batch are padded to the longest (recur_batch.lengths: a
 * padded step outputs zeros, the reverse direction starts at each
 * sentence's own end), every word of the batch is one sequence of the
 * character run.  Buffers grow with the largest batch seen and are reused:
 * no allocation per step or token.  The backward pass adds the gradients of
 * the task's own tensors (embeddings scattered by row) into the composite's
 * gradient buffer, and runs the engine's backward for the two stacks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "engine/dropout.h"
#include "engine/model_internal.h"
#include "tasks/tag/tag_internal.h"

static recur_status find(recur_model *m, const char *name, recur_tensor_info *t, int optional,
                         recur_error *err)
{
    if (recur_model_find_tensor(m, name, t) == RECUR_OK)
        return RECUR_OK;
    memset(t, 0, sizeof *t);
    if (optional)
        return RECUR_OK;
    return recur_error_set(err, RECUR_ERR_MISMATCH, "the tagger's model has no tensor '%s'", name);
}

recur_status tag_net_init(tag_net *n, recur_model *m, const tag_vocabs *v, double dropout,
                          recur_error *err)
{
    memset(n, 0, sizeof *n);
    n->m = m;
    n->chars = recur_model_submodel(m, "char_rnn");
    n->dropout = (float)dropout;
    recur_status st;
    if ((st = find(m, "embedding.weight", &n->emb, 0, err)) ||
        (st = find(m, "caps_embedding.weight", &n->caps, 1, err)) ||
        (st = find(m, "hidden2tag.weight", &n->out_w, 0, err)) ||
        (st = find(m, "hidden2tag.bias", &n->out_b, 0, err)) ||
        (st = find(m, "crf.transitions", &n->trans, 1, err)) ||
        (st = find(m, "crf.start_transitions", &n->start, 1, err)) ||
        (st = find(m, "crf.end_transitions", &n->end, 1, err)))
        return st;
    const recur_model_config *mc = recur_model_get_config(m);
    n->K = (int)n->out_w.shape[0];
    n->E = (int)n->emb.shape[1];
    n->P = n->caps.data ? (int)n->caps.shape[1] : 0;
    n->C = 0;
    if (n->chars) {
        const recur_model_config *cc = recur_model_get_config(n->chars);
        n->C = 2 * cc->rnn.hidden_size;
        if (!cc->rnn.bidirectional || cc->rnn.num_layers != 1 || cc->rnn.proj_size ||
            cc->vocab_size != recur_vocab_size(v->chars) || cc->output_size)
            return recur_error_set(err, RECUR_ERR_MISMATCH,
                                   "char_rnn is not a one-layer bidirectional encoder over the %d "
                                   "characters of the tagger",
                                   recur_vocab_size(v->chars));
    }
    n->in = n->E + n->C + n->P;
    n->DH = 2 * (mc->rnn.proj_size ? mc->rnn.proj_size : mc->rnn.hidden_size);
    n->crf = n->trans.data != NULL;
    int V = recur_vocab_size(v->words), K = recur_vocab_size(v->labels);
    if (mc->vocab_size != 0 || mc->output_size != 0 || !mc->rnn.bidirectional ||
        mc->rnn.input_size != n->in || n->emb.shape[0] != V || n->K != K ||
        n->out_w.shape[1] != n->DH || n->out_b.shape[0] != K ||
        (n->caps.data && n->caps.shape[0] != CAPS_CLASSES) ||
        (n->crf && (n->trans.shape[0] != K || n->trans.shape[1] != K || !n->start.data ||
                    !n->end.data || n->start.shape[0] != K || n->end.shape[0] != K)))
        return recur_error_set(err, RECUR_ERR_MISMATCH,
                               "the tagger's tensors do not fit its %d words and %d labels or "
                               "each other",
                               V, K);
    n->allowed = malloc((size_t)K * K + 2 * (size_t)K);
    if (!n->allowed)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    n->allowed_start = n->allowed + (size_t)K * K;
    n->allowed_end = n->allowed_start + K;
    const char **names = malloc((size_t)K * sizeof *names);
    if (!names)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    for (int k = 0; k < K; k++)
        names[k] = recur_vocab_token(v->labels, k);
    crf_scheme_masks(names, K, v->scheme != RECUR_TAGS_PLAIN, n->allowed, n->allowed_start,
                     n->allowed_end);
    free(names);
    n->view = (crf_view){K, n->trans.data, n->start.data, n->end.data, n->allowed,
                         n->allowed_start, n->allowed_end};
    return RECUR_OK;
}

void tag_net_free(tag_net *n)
{
    recur_run_free(n->run);
    for (int k = 0; k < TAG_CHAR_BUCKETS; k++) {
        recur_run_free(n->cb[k].run);
        recur_free(n->cb[k].d_hn);
        free(n->cb[k].ids);
        free(n->cb[k].len);
    }
    free(n->word_bucket);
    free(n->word_index);
    free(n->len_slot);
    free(n->allowed);
    recur_free(n->x);
    recur_free(n->x_mask);
    recur_free(n->h);
    recur_free(n->h_mask);
    recur_free(n->emit);
    recur_free(n->d_emit);
    recur_free(n->d_h);
    free(n->lengths);
    free(n->tok_seq);
    free(n->word_tok);
    free(n->work);
    free(n->bp);
    free(n->path);
    memset(n, 0, sizeof *n);
}

#define REGROW(p, count, size)                                                                     \
    do {                                                                                           \
        recur_free(p);                                                                             \
        (p) = recur_alloc((count), (size));                                                        \
        if (!(p))                                                                                  \
            return -1;                                                                             \
    } while (0)

#define REGROW_PLAIN(p, count)                                                                     \
    do {                                                                                           \
        free(p);                                                                                   \
        (p) = malloc((count) * sizeof *(p) + 1);                                                   \
        if (!(p))                                                                                  \
            return -1;                                                                             \
    } while (0)

/* The longest word of each character bucket (the last takes the rest). */
static const int BUCKET_MAX[TAG_CHAR_BUCKETS] = {4, 7, 10, 1 << 20};

static int bucket_of(int len)
{
    int k = 0;
    while (len > BUCKET_MAX[k])
        k++;
    return k;
}

/* Buffers and runs for T x B words and cT x cB characters. */
static int reserve_(tag_net *n, int T, int B, int cT, int cB, recur_error *err)
{
    size_t tb = (size_t)T * B;
    if (tb > n->cap_tb) {
        size_t c = tb + tb / 2;
        REGROW(n->x, c * n->in, sizeof(recur_real));
        REGROW(n->x_mask, c * n->in, sizeof(recur_real));
        REGROW(n->h, c * n->DH, sizeof(recur_real));
        REGROW(n->h_mask, c * n->DH, sizeof(recur_real));
        REGROW(n->emit, c * n->K, sizeof(recur_real));
        REGROW(n->d_emit, c * n->K, sizeof(recur_real));
        REGROW(n->d_h, c * n->DH, sizeof(recur_real));
        REGROW_PLAIN(n->tok_seq, c);
        REGROW_PLAIN(n->word_tok, c);
        REGROW_PLAIN(n->bp, c * n->K);
        REGROW_PLAIN(n->path, c);
        n->cap_tb = c;
    }
    size_t wneed = crf_work_size(n->K, T) + 4 * (size_t)n->K;
    if (wneed > n->cap_work) {
        REGROW_PLAIN(n->work, wneed * 2);
        n->cap_work = wneed * 2;
    }
    if (B > n->run_B || T > n->run_T) {
        int nT = T > n->run_T ? T : n->run_T, nB = B > n->run_B ? B : n->run_B;
        recur_run_free(n->run);
        n->run = NULL;
        n->prefix_run = NULL; /* the new run has no table yet */
        REGROW_PLAIN(n->lengths, (size_t)nB);
        if (recur_run_create(&n->run, n->m, nT, nB, err) != RECUR_OK)
            return -2;
        n->run_T = nT;
        n->run_B = nB;
    }
    if (n->chars) {
        if ((size_t)cB > n->cap_c) {
            size_t c = (size_t)cB + (size_t)cB / 2;
            REGROW_PLAIN(n->word_bucket, c);
            REGROW_PLAIN(n->word_index, c);
            n->cap_c = c;
        }
        if (cT + 1 > n->cap_len) {
            REGROW_PLAIN(n->len_slot, (size_t)TAG_CHAR_BUCKETS * (cT + 1));
            n->cap_len = cT + 1;
        }
        /* each bucket may hold every word, up to its longest length */
        for (int k = 0; k < TAG_CHAR_BUCKETS; k++) {
            struct char_bucket *b = &n->cb[k];
            int bT = cT < BUCKET_MAX[k] ? cT : BUCKET_MAX[k];
            if ((size_t)cB > b->cap_b) {
                size_t c = (size_t)cB + (size_t)cB / 2;
                REGROW(b->d_hn, 2 * c * (n->C / 2), sizeof(recur_real));
                REGROW_PLAIN(b->len, c);
                b->cap_b = c;
            }
            if ((size_t)bT * cB > b->cap_ids) {
                size_t c = (size_t)bT * cB * 3 / 2;
                REGROW_PLAIN(b->ids, c);
                b->cap_ids = c;
            }
            if (cB > b->run_B || bT > b->run_T) {
                int nT = bT > b->run_T ? bT : b->run_T;
                int nB = cB > b->run_B ? cB + cB / 2 : b->run_B;
                recur_run_free(b->run);
                b->run = NULL;
                if (recur_run_create(&b->run, n->chars, nT, nB, err) != RECUR_OK)
                    return -2;
                b->run_T = nT;
                b->run_B = nB;
            }
        }
    }
    return 0;
}

static int tag_by_length_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

recur_status tag_net_reserve(tag_net *n, const tag_data *d, int batch, recur_error *err)
{
    int T = 1, cT = 1;
    for (int64_t s = 0; s < d->n_sent; s++)
        if (d->sent_off[s + 1] - d->sent_off[s] > T)
            T = (int)(d->sent_off[s + 1] - d->sent_off[s]);
    for (int64_t i = 0; i < d->n_tok; i++)
        if (d->char_off[i + 1] - d->char_off[i] > cT)
            cT = (int)(d->char_off[i + 1] - d->char_off[i]);
    int64_t B = batch < d->n_sent ? batch : d->n_sent;
    /* a batch has at most the words of the B longest sentences */
    int64_t *len = malloc((size_t)d->n_sent * sizeof *len + 1), words = 0;
    if (!len)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    for (int64_t s = 0; s < d->n_sent; s++)
        len[s] = d->sent_off[s + 1] - d->sent_off[s];
    qsort(len, (size_t)d->n_sent, sizeof *len, tag_by_length_desc);
    for (int64_t s = 0; s < B; s++)
        words += len[s];
    free(len);
    int rc = reserve_(n, T, (int)B, cT, (int)words, err);
    if (rc == -1)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    return rc ? err->status : RECUR_OK;
}

recur_status tag_net_cache_inputs(tag_net *n, char *msg)
{
    for (int k = 0; n->chars && k < TAG_CHAR_BUCKETS; k++) {
        recur_status st = recur_run_cache_input_projection(n->cb[k].run, 1);
        if (st != RECUR_OK)
            return recur_seterr(msg, st, "characters: %s", recur_run_errmsg(n->cb[k].run));
    }
    /* at most four gates per direction */
    const int V = (int)n->emb.shape[0], G = 4 * recur_model_get_config(n->m)->rnn.hidden_size;
    if (n->fixed && n->run && n->prefix_run != n->run && (size_t)V * G * 2 <= TAG_PREFIX_TABLE_MAX) {
        recur_status st = recur_run_cache_input_prefix(n->run, n->emb.data, V, n->E);
        if (st != RECUR_OK)
            return recur_seterr(msg, st, "%s", recur_run_errmsg(n->run));
        n->prefix_run = n->run;
    }
    return RECUR_OK;
}

recur_status tag_net_forward(tag_net *n, const tag_data *d, const int64_t *sents, int B, int training,
                             uint64_t key, char *msg)
{
    int T = 0, cT = 1, cB = 0;
    for (int b = 0; b < B; b++) {
        int64_t s = sents[b];
        int len = (int)(d->sent_off[s + 1] - d->sent_off[s]);
        if (len > T)
            T = len;
        cB += len;
        for (int64_t i = d->sent_off[s]; i < d->sent_off[s + 1]; i++)
            if (d->char_off[i + 1] - d->char_off[i] > cT)
                cT = (int)(d->char_off[i + 1] - d->char_off[i]);
    }
    recur_error err = {0};
    int rc = reserve_(n, T, B, cT, cB, &err);
    if (rc)
        return recur_seterr(msg, rc == -1 ? RECUR_ERR_NOMEM : err.status, "%s",
                            rc == -1 ? "out of memory" : err.msg);
    n->T = T;
    n->B = B;
    n->cT = cT;
    n->cB = cB;
    n->sents = sents;
    n->data = d;
    n->training = training;
    const size_t tb = (size_t)T * B;
    /* which character sequence each (t, b) is: -1 for padding */
    int j = 0;
    for (int b = 0; b < B; b++) {
        int64_t s = sents[b];
        int len = (int)(d->sent_off[s + 1] - d->sent_off[s]);
        n->lengths[b] = len;
        for (int t = 0; t < T; t++)
            n->tok_seq[(size_t)t * B + b] = t < len ? j++ : -1;
    }
    recur_status st;
    if (n->chars) {
        /* each word into the bucket of its length; without training, the
         * longest first in each bucket, so that a step of the character
         * run multiplies only the rows up to its last active one (each
         * word's result is the same in any row; training keeps the order
         * of the words, which its sums over rows follow) */
        for (int k = 0; k < TAG_CHAR_BUCKETS; k++)
            n->cb[k].B = 0, n->cb[k].T = 1;
        const int sort = !training, W = cT + 1;
        if (sort)
            memset(n->len_slot, 0, (size_t)TAG_CHAR_BUCKETS * W * sizeof *n->len_slot);
        for (size_t i = 0; i < tb; i++) {
            int q = n->tok_seq[i];
            if (q < 0)
                continue;
            int64_t tok = d->sent_off[sents[i % B]] + (int64_t)(i / B);
            int cl = (int)(d->char_off[tok + 1] - d->char_off[tok]), k = bucket_of(cl);
            n->word_bucket[q] = k;
            n->word_index[q] = n->cb[k].B++;
            if (sort)
                n->len_slot[k * W + cl]++;
            if (cl > n->cb[k].T)
                n->cb[k].T = cl;
        }
        if (sort) {
            /* counts of each length -> the first row of that length, longest first */
            for (int k = 0; k < TAG_CHAR_BUCKETS; k++)
                for (int cl = cT, row = 0; cl >= 0; cl--) {
                    int c = n->len_slot[k * W + cl];
                    n->len_slot[k * W + cl] = row;
                    row += c;
                }
            for (size_t i = 0; i < tb; i++) {
                int q = n->tok_seq[i];
                if (q < 0)
                    continue;
                int64_t tok = d->sent_off[sents[i % B]] + (int64_t)(i / B);
                int cl = (int)(d->char_off[tok + 1] - d->char_off[tok]);
                n->word_index[q] = n->len_slot[n->word_bucket[q] * W + cl]++;
            }
        }
        for (int k = 0; k < TAG_CHAR_BUCKETS; k++)
            if (n->cb[k].B)
                memset(n->cb[k].ids, 0, (size_t)n->cb[k].T * n->cb[k].B * sizeof *n->cb[k].ids);
        for (size_t i = 0; i < tb; i++) {
            int q = n->tok_seq[i];
            if (q < 0)
                continue;
            struct char_bucket *b = &n->cb[n->word_bucket[q]];
            int w = n->word_index[q];
            int64_t tok = d->sent_off[sents[i % B]] + (int64_t)(i / B);
            int64_t c0 = d->char_off[tok], cl = d->char_off[tok + 1] - c0;
            b->len[w] = (int32_t)cl;
            for (int64_t c = 0; c < cl; c++)
                b->ids[(size_t)c * b->B + w] = d->chars[c0 + c];
        }
        for (int k = 0; k < TAG_CHAR_BUCKETS; k++) {
            struct char_bucket *b = &n->cb[k];
            if (!b->B)
                continue;
            recur_batch cbt = {.T = b->T, .B = b->B, .tokens = b->ids, .lengths = b->len};
            if ((st = recur_forward(b->run, &cbt, training, NULL, NULL)) != RECUR_OK)
                return recur_seterr(msg, st, "characters: %s", recur_run_errmsg(b->run));
        }
    }
    /* the stack's input rows */
    const int E = n->E, C = n->C, P = n->P, in = n->in, H = C / 2;
    for (size_t i = 0; i < tb; i++) {
        recur_real *x = n->x + i * in;
        int q = n->tok_seq[i];
        n->word_tok[i] = -1;
        if (q < 0) {
            memset(x, 0, (size_t)in * sizeof *x);
            continue;
        }
        int64_t tok = d->sent_off[sents[i % B]] + (int64_t)(i / B);
        n->word_tok[i] = d->word[tok];
        memcpy(x, n->emb.data + (size_t)d->word[tok] * E, (size_t)E * sizeof *x);
        if (C) {
            const struct char_bucket *b = &n->cb[n->word_bucket[q]];
            const recur_real *hn = recur_run_hn(b->run);
            int w = n->word_index[q];
            memcpy(x + E, hn + (size_t)w * H, (size_t)H * sizeof *x);
            memcpy(x + E + H, hn + ((size_t)b->B + w) * H, (size_t)H * sizeof *x);
        }
        if (P)
            memcpy(x + E + C, n->caps.data + (size_t)d->caps[tok] * P, (size_t)P * sizeof *x);
    }
    const int drop = training && n->dropout > 0;
    if (drop)
        dropout_draw(key, n->dropout, n->x_mask, n->x, n->x, tb * in);
    recur_batch wb = {.T = T, .B = B, .inputs = n->x, .lengths = n->lengths};
    wb.tokens = training ? NULL : n->word_tok; /* the rows of a prefix table, when the run has one */
    if ((st = recur_forward(n->run, &wb, training, NULL, NULL)) != RECUR_OK)
        return recur_seterr(msg, st, "%s", recur_run_errmsg(n->run));
    const recur_real *out = recur_run_outputs(n->run);
    const int DH = n->DH, K = n->K;
    if (drop)
        dropout_draw(key ^ 0x5bd1e9955bd1e995ull, n->dropout, n->h_mask, n->h, out, tb * DH);
    else
        memcpy(n->h, out, tb * DH * sizeof *n->h);
    recur_gemm(0, 1, (int)tb, K, DH, 1, n->h, DH, n->out_w.data, DH, 0, n->emit, K);
    for (size_t i = 0; i < tb; i++) {
        recur_real *e = n->emit + i * K;
        for (int k = 0; k < K; k++)
            e[k] += n->out_b.data[k];
    }
    return RECUR_OK;
}

recur_status tag_net_backward(tag_net *n, double scale, double *loss, char *msg)
{
    const int T = n->T, B = n->B, K = n->K, DH = n->DH;
    const size_t tb = (size_t)T * B;
    const tag_data *d = n->data;
    memset(n->d_emit, 0, tb * K * sizeof *n->d_emit);
    double total = 0;
    for (int b = 0; b < B; b++) {
        int64_t s = n->sents[b], off = d->sent_off[s];
        int len = n->lengths[b];
        for (int t = 0; t < len; t++)
            if (d->label[off + t] < 0)
                return recur_seterr(msg, RECUR_ERR_ARG, "a token without a training label");
        if (n->crf) {
            double nll = crf_nll(&n->view, n->emit + (size_t)b * K, (size_t)B * K, len,
                                 d->label + off, scale, n->d_emit + (size_t)b * K, n->trans.grad,
                                 n->start.grad, n->end.grad, n->work);
            total += nll;
        } else {
            for (int t = 0; t < len; t++) {
                const recur_real *e = n->emit + ((size_t)t * B + b) * K;
                recur_real *de = n->d_emit + ((size_t)t * B + b) * K;
                double m = -INFINITY, z = 0;
                for (int k = 0; k < K; k++)
                    m = e[k] > m ? e[k] : m;
                for (int k = 0; k < K; k++)
                    z += exp(e[k] - m);
                double lse = m + log(z);
                for (int k = 0; k < K; k++)
                    de[k] = (recur_real)(scale * exp(e[k] - lse));
                de[d->label[off + t]] -= (recur_real)scale;
                total += lse - e[d->label[off + t]];
            }
        }
    }
    *loss = total;
    if (!isfinite(total))
        return recur_seterr(msg, RECUR_ERR_NONFINITE, "the loss is not finite (%g)", total);
    /* output layer */
    recur_gemm(1, 0, K, DH, (int)tb, 1, n->d_emit, K, n->h, DH, 1, n->out_w.grad, DH);
    for (size_t i = 0; i < tb; i++)
        for (int k = 0; k < K; k++)
            n->out_b.grad[k] += n->d_emit[i * K + k];
    recur_gemm(0, 0, (int)tb, DH, K, 1, n->d_emit, K, n->out_w.data, DH, 0, n->d_h, DH);
    if (n->training && n->dropout > 0)
        for (size_t i = 0; i < tb * DH; i++)
            n->d_h[i] *= n->h_mask[i];
    recur_status st = recur_backward(n->run, 0, n->d_h, NULL, NULL);
    if (st != RECUR_OK)
        return recur_seterr(msg, st, "%s", recur_run_errmsg(n->run));
    const recur_real *dx = recur_run_d_inputs(n->run);
    const int E = n->E, C = n->C, P = n->P, in = n->in, H = C / 2;
    const int drop = n->training && n->dropout > 0;
    for (size_t i = 0; i < tb; i++) {
        int q = n->tok_seq[i];
        if (q < 0)
            continue;
        const recur_real *g = dx + i * in, *mask = n->x_mask + i * in;
        int64_t tok = d->sent_off[n->sents[i % B]] + (int64_t)(i / B);
        recur_real *ge = n->emb.grad + (size_t)d->word[tok] * E;
        for (int k = 0; k < E; k++)
            ge[k] += drop ? g[k] * mask[k] : g[k];
        if (C) {
            const struct char_bucket *b = &n->cb[n->word_bucket[q]];
            int w = n->word_index[q];
            recur_real *f = b->d_hn + (size_t)w * H, *r = b->d_hn + ((size_t)b->B + w) * H;
            for (int k = 0; k < H; k++) {
                f[k] = drop ? g[E + k] * mask[E + k] : g[E + k];
                r[k] = drop ? g[E + H + k] * mask[E + H + k] : g[E + H + k];
            }
        }
        if (P) {
            recur_real *gc = n->caps.grad + (size_t)d->caps[tok] * P;
            for (int k = 0; k < P; k++)
                gc[k] += drop ? g[E + C + k] * mask[E + C + k] : g[E + C + k];
        }
    }
    for (int k = 0; C && k < TAG_CHAR_BUCKETS; k++)
        if (n->cb[k].B && (st = recur_backward(n->cb[k].run, 0, NULL, n->cb[k].d_hn, NULL)) != RECUR_OK)
            return recur_seterr(msg, st, "characters: %s", recur_run_errmsg(n->cb[k].run));
    return RECUR_OK;
}

void tag_net_decode(tag_net *n, int32_t *out)
{
    const int B = n->B, K = n->K;
    const tag_data *d = n->data;
    for (int b = 0; b < B; b++) {
        int64_t off = d->sent_off[n->sents[b]];
        int len = n->lengths[b];
        if (n->crf) {
            crf_viterbi(&n->view, n->emit + (size_t)b * K, (size_t)B * K, len, out + off, n->work,
                        n->bp);
            continue;
        }
        for (int t = 0; t < len; t++) {
            const recur_real *e = n->emit + ((size_t)t * B + b) * K;
            int arg = 0;
            for (int k = 1; k < K; k++)
                if (e[k] > e[arg])
                    arg = k;
            out[off + t] = arg;
        }
    }
}
