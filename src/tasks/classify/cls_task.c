/*
 * cls_task.c - classifier training as a trainer task (recur_train.h).
 *
 * Batches hold sentences of similar length, so little of a batch is
 * padding: each epoch the training examples are shuffled, cut into pools of
 * 50 batches, each pool sorted by length and cut into batches, and the
 * batches shuffled.  The order comes from the task's seed and the epoch
 * alone, so a run resumed inside an epoch draws the same batches (no state
 * to carry).  Evaluation reads the development set in length order and
 * reports accuracy (decisive), the mean loss and macro-F1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/classify/cls_dataset.h"

#define POOL_BATCHES 50
#define EVAL_BATCH 64

struct recur_cls_task {
    recur_model *m;
    cls_labels labels;
    cls_data train, dev;
    recur_cls_task_config cfg;
    double *weights;      /* (K) or NULL */
    cls_net *net;
    int eval_batch;
    size_t *order;        /* (n train) this epoch's examples, batch after batch */
    size_t *batch_first;  /* (n_batches) into order, in this epoch's batch order */
    int32_t *batch_size;  /* (n_batches) */
    int64_t n_batches;
    size_t *dev_order;    /* dev examples by length */
    int32_t *tokens;      /* (max_T, max_B) */
    int32_t *lens, *labs; /* (max_B) */
    int64_t *confusion;   /* (K, K) */
};

void recur_cls_task_free(recur_cls_task *t)
{
    if (!t)
        return;
    cls_net_free(t->net);
    cls_labels_free(&t->labels);
    cls_data_free(&t->train);
    cls_data_free(&t->dev);
    free(t->weights);
    free(t->order);
    free(t->batch_first);
    free(t->batch_size);
    free(t->dev_order);
    free(t->tokens);
    free(t->lens);
    free(t->labs);
    free(t->confusion);
    free(t);
}

int64_t recur_cls_task_batches(const recur_cls_task *t) { return t->n_batches; }

/* Sorts indices by their example's length, ties by index (the same order
 * everywhere): each packed as length << 40 | index and sorted as numbers. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sort_by_length(size_t *idx, size_t n, const int32_t *len)
{
    _Static_assert(sizeof(size_t) == sizeof(uint64_t), "indices are packed into 64 bits");
    for (size_t i = 0; i < n; i++)
        idx[i] = (size_t)((uint64_t)len[idx[i]] << 40 | (uint64_t)idx[i]);
    qsort(idx, n, sizeof *idx, cmp_u64);
    for (size_t i = 0; i < n; i++)
        idx[i] &= ((size_t)1 << 40) - 1;
}

static int64_t count_batches(size_t n, int batch)
{
    const size_t pool = (size_t)batch * POOL_BATCHES;
    int64_t full = (int64_t)(n / pool);
    size_t rest = n % pool;
    return full * POOL_BATCHES + (int64_t)((rest + (size_t)batch - 1) / (size_t)batch);
}

recur_status recur_cls_task_create(recur_cls_task **out, recur_model *m, const recur_vocab *v,
                                   const char *labels_json, const recur_cls_dataset *train,
                                   const recur_cls_dataset *dev, const recur_cls_task_config *cfg,
                                   recur_error *err)
{
    *out = NULL;
    if (cfg->batch < 1 || !(cfg->dropout >= 0 && cfg->dropout < 1))
        return recur_error_set(err, RECUR_ERR_ARG, "classify task: batch must be >= 1 and dropout in [0, 1)");
    if (recur_model_get_config(m)->vocab_size != recur_vocab_size(v))
        return recur_error_set(err, RECUR_ERR_MISMATCH, "classify task: the model's embedding has %d rows, the vocabulary %d words",
                               recur_model_get_config(m)->vocab_size, recur_vocab_size(v));
    recur_cls_task *t = calloc(1, sizeof *t);
    if (!t)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    t->m = m;
    t->cfg = *cfg;
    t->cfg.class_weights = NULL;
    recur_status st;
    if ((st = cls_labels_parse(&t->labels, labels_json, err)) || (st = cls_encode(train, v, &t->labels, &t->train, err)) ||
        (st = cls_encode(dev, v, &t->labels, &t->dev, err)))
        goto fail;
    const int K = t->labels.K;
    if (cfg->class_weights) {
        t->weights = malloc((size_t)K * sizeof *t->weights);
        if (!t->weights)
            goto nomem;
        for (int k = 0; k < K; k++) {
            if (!(cfg->class_weights[k] > 0) || !isfinite(cfg->class_weights[k])) {
                st = recur_error_set(err, RECUR_ERR_ARG, "class weight %d is %g, not a positive number", k,
                                     cfg->class_weights[k]);
                goto fail;
            }
            t->weights[k] = cfg->class_weights[k];
        }
    }
    t->eval_batch = cfg->batch > EVAL_BATCH ? cfg->batch : EVAL_BATCH;
    const int max_T = t->train.max_len > t->dev.max_len ? t->train.max_len : t->dev.max_len;
    const int max_B = t->eval_batch;
    if ((st = cls_net_create(&t->net, m, cfg->pool, cfg->dropout, max_T, max_B, err)))
        goto fail;
    if (cls_net_classes(t->net) != K) {
        st = recur_error_set(err, RECUR_ERR_MISMATCH, "the model has %d classes, the labels %d",
                             cls_net_classes(t->net), K);
        goto fail;
    }
    t->n_batches = count_batches(t->train.n, cfg->batch);
    t->order = malloc(t->train.n * sizeof *t->order);
    t->batch_first = malloc((size_t)t->n_batches * sizeof *t->batch_first);
    t->batch_size = malloc((size_t)t->n_batches * sizeof *t->batch_size);
    t->dev_order = malloc((t->dev.n + 1) * sizeof *t->dev_order);
    t->tokens = malloc((size_t)max_T * (size_t)max_B * sizeof *t->tokens);
    t->lens = malloc((size_t)max_B * sizeof *t->lens);
    t->labs = malloc((size_t)max_B * sizeof *t->labs);
    t->confusion = malloc((size_t)K * (size_t)K * sizeof *t->confusion);
    if (!t->order || !t->batch_first || !t->batch_size || !t->dev_order || !t->tokens || !t->lens ||
        !t->labs || !t->confusion)
        goto nomem;
    for (size_t i = 0; i < t->dev.n; i++)
        t->dev_order[i] = i;
    sort_by_length(t->dev_order, t->dev.n, t->dev.len);
    *out = t;
    return RECUR_OK;
nomem:
    st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
fail:
    recur_cls_task_free(t);
    return st;
}

/* ---- batches --------------------------------------------------------------------------- */

/* Gathers examples idx[0..B) of d into the time-major padded batch. */
static int gather(recur_cls_task *t, const cls_data *d, const size_t *idx, int B)
{
    int T = 1;
    for (int b = 0; b < B; b++)
        if (d->len[idx[b]] > T)
            T = d->len[idx[b]];
    for (int b = 0; b < B; b++) {
        size_t i = idx[b];
        t->lens[b] = d->len[i];
        t->labs[b] = d->label[i];
        for (int s = 0; s < T; s++)
            t->tokens[(size_t)s * B + b] = s < d->len[i] ? d->ids[d->first[i] + (size_t)s] : 0;
    }
    return T;
}

static int64_t task_epoch_steps(void *ctx) { return ((recur_cls_task *)ctx)->n_batches; }

static recur_status task_epoch_begin(void *ctx, int64_t epoch, int64_t first, char *msg)
{
    (void)first;
    (void)msg;
    recur_cls_task *t = ctx;
    recur_rng rng;
    rng_seed(&rng, t->cfg.seed * 0x9E3779B97F4A7C15ULL + (uint64_t)epoch);
    const size_t n = t->train.n;
    for (size_t i = 0; i < n; i++)
        t->order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next(&rng) % i);
        size_t x = t->order[i - 1];
        t->order[i - 1] = t->order[j];
        t->order[j] = x;
    }
    const size_t B = (size_t)t->cfg.batch, pool = B * POOL_BATCHES;
    int64_t k = 0;
    for (size_t p = 0; p < n; p += pool) {
        size_t m = n - p < pool ? n - p : pool;
        sort_by_length(t->order + p, m, t->train.len);
        for (size_t s = 0; s < m; s += B) {
            t->batch_first[k] = p + s;
            t->batch_size[k] = (int32_t)(m - s < B ? m - s : B);
            k++;
        }
    }
    for (int64_t i = k; i > 1; i--) {
        int64_t j = (int64_t)(rng_next(&rng) % (uint64_t)i);
        size_t f = t->batch_first[i - 1];
        int32_t z = t->batch_size[i - 1];
        t->batch_first[i - 1] = t->batch_first[j];
        t->batch_size[i - 1] = t->batch_size[j];
        t->batch_first[j] = f;
        t->batch_size[j] = z;
    }
    return RECUR_OK;
}

static recur_status task_step(void *ctx, int64_t epoch, int64_t index, double *loss_sum,
                              int64_t *count, char *msg)
{
    (void)epoch;
    recur_cls_task *t = ctx;
    if (index < 0 || index >= t->n_batches)
        return recur_seterr(msg, RECUR_ERR_ARG, "batch %lld of %lld", (long long)index, (long long)t->n_batches);
    const int B = t->batch_size[index];
    const int T = gather(t, &t->train, t->order + t->batch_first[index], B);
    double loss;
    recur_status st = cls_net_forward(t->net, t->tokens, t->lens, T, B, 1);
    if (st == RECUR_OK)
        st = cls_net_backward(t->net, t->labs, t->weights, 1.0, &loss);
    if (st)
        return recur_seterr(msg, st, "%s", cls_net_errmsg(t->net));
    *loss_sum = loss * B;
    *count = B;
    return RECUR_OK;
}

recur_status cls_score(cls_net *net, const cls_data *d, const size_t *order, int batch,
                       int32_t *tokens, int32_t *lens, int64_t *confusion, double *loss_sum,
                       char *msg)
{
    const int K = cls_net_classes(net);
    memset(confusion, 0, (size_t)K * (size_t)K * sizeof *confusion);
    *loss_sum = 0;
    for (size_t s = 0; s < d->n; s += (size_t)batch) {
        int B = (int)(d->n - s < (size_t)batch ? d->n - s : (size_t)batch);
        int T = 1;
        for (int b = 0; b < B; b++)
            if (d->len[order[s + (size_t)b]] > T)
                T = d->len[order[s + (size_t)b]];
        for (int b = 0; b < B; b++) {
            size_t i = order[s + (size_t)b];
            lens[b] = d->len[i];
            for (int u = 0; u < T; u++)
                tokens[(size_t)u * B + b] = u < d->len[i] ? d->ids[d->first[i] + (size_t)u] : 0;
        }
        recur_status st = cls_net_forward(net, tokens, lens, T, B, 0);
        if (st)
            return recur_seterr(msg, st, "%s", cls_net_errmsg(net));
        const recur_real *p = cls_net_probs(net);
        for (int b = 0; b < B; b++) {
            const recur_real *pb = p + (size_t)b * K;
            int best = 0;
            for (int k = 1; k < K; k++)
                if (pb[k] > pb[best])
                    best = k;
            int gold = d->label[order[s + (size_t)b]];
            confusion[(size_t)gold * K + best]++;
            *loss_sum -= log(fmax((double)pb[gold], 1e-30));
        }
    }
    return RECUR_OK;
}

double cls_macro_f1(const int64_t *confusion, int K)
{
    double sum = 0;
    for (int k = 0; k < K; k++) {
        int64_t tp = confusion[(size_t)k * K + k], gold = 0, pred = 0;
        for (int j = 0; j < K; j++) {
            gold += confusion[(size_t)k * K + j];
            pred += confusion[(size_t)j * K + k];
        }
        double p = pred ? (double)tp / (double)pred : 0, r = gold ? (double)tp / (double)gold : 0;
        sum += p + r > 0 ? 2 * p * r / (p + r) : 0;
    }
    return sum / K;
}

static recur_status task_evaluate(void *ctx, recur_eval *ev, char *msg)
{
    recur_cls_task *t = ctx;
    double loss;
    recur_status st = cls_score(t->net, &t->dev, t->dev_order, t->eval_batch, t->tokens, t->lens,
                                t->confusion, &loss, msg);
    if (st)
        return st;
    const int K = t->labels.K;
    int64_t right = 0;
    for (int k = 0; k < K; k++)
        right += t->confusion[(size_t)k * K + k];
    ev->decisive = recur_eval_add(ev, "accuracy", (double)right / (double)t->dev.n);
    ev->higher_better = 1;
    recur_eval_add(ev, "loss", loss / (double)t->dev.n);
    recur_eval_add(ev, "macro_f1", cls_macro_f1(t->confusion, K));
    return RECUR_OK;
}

static void task_format_epoch(void *ctx, double train_loss, const recur_eval *ev, char *buf, size_t n)
{
    (void)ctx;
    int k = 0;
    if (!isnan(train_loss))
        k = snprintf(buf, n, "train loss %.4f | ", train_loss);
    snprintf(buf + k, n - (size_t)k, "dev accuracy %.2f%%, loss %.4f, macro-F1 %.4f", 100 * ev->m[0].value,
             ev->m[1].value, ev->m[2].value);
}

recur_task recur_cls_task_callbacks(recur_cls_task *t)
{
    recur_task k;
    memset(&k, 0, sizeof k);
    k.ctx = t;
    k.unit = "sentence";
    k.epoch_steps = task_epoch_steps;
    k.epoch_begin = task_epoch_begin;
    k.step = task_step;
    k.evaluate = task_evaluate;
    k.format_epoch = task_format_epoch;
    return k;
}
