/*
 * s2s_task.c - encoder-decoder training as a trainer task, and scoring a
 * pairs file by decoding.
 *
 * Every (source, target) pair is a training example.  Each epoch sorts the
 * pairs by source and target length (ties in an order drawn from the seed
 * and the epoch), cuts them into batches of `batch` pairs of similar
 * lengths (little padding) and shuffles the batches' order; both orders
 * derive from (seed, epoch) only, so a resumed run draws the same batches
 * and the task keeps no state of its own.  Development data are decoded
 * (greedy by default) and scored by word error rate, the decisive metric
 * (lower is better), and token error rate.
 */
#include <stdlib.h>
#include <string.h>

#include "tasks/seq2seq/s2s_internal.h"

/* A pair's place in an epoch's order: by lengths, then a drawn key. */
typedef struct sort_item {
    int32_t src_n, tgt_n;
    uint64_t key;
    size_t pair;
} sort_item;

struct recur_s2s_task {
    recur_s2s *s;
    const recur_s2s_pairs *dev;
    recur_s2s_task_config cfg;
    size_t n;               /* training pairs */
    int32_t *ids;           /* every pair's source ids then target ids */
    size_t *src_at, *tgt_at;
    int32_t *src_n, *tgt_n;
    size_t *order;          /* this epoch's pairs, batch after batch */
    size_t *batch_start;    /* this epoch's batches in their order */
    int64_t n_batches;
    int max_S, max_T;
    s2s_work *w;
    int32_t *src, *src_len, *tgt_in, *tgt_out, *tgt_len;
    sort_item *items;       /* scratch of the epoch's sort */
};

void recur_s2s_task_config_default(recur_s2s_task_config *c)
{
    memset(c, 0, sizeof *c);
    c->batch = 64;
    c->label_smoothing = 0.1;
    recur_s2s_decode_config_default(&c->eval);
    c->max_dev = 0;
    c->seed = 1;
}

void recur_s2s_task_free(recur_s2s_task *t)
{
    if (!t)
        return;
    s2s_work_free(t->w);
    void *p[] = {t->ids, t->src_at, t->tgt_at, t->src_n, t->tgt_n, t->order, t->batch_start,
                 t->src, t->src_len, t->tgt_in, t->tgt_out, t->tgt_len, t->items};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    free(t);
}

typedef struct ids_ctx {
    const recur_s2s_vocab *v;
    int32_t unk;
    int32_t **ids;
    size_t *n, *cap;
    int fail;
} ids_ctx;

static int push_id(void *ctx, const char *tok, size_t len)
{
    ids_ctx *c = ctx;
    if (*c->n == *c->cap) {
        size_t cap = *c->cap ? *c->cap * 2 : 4096;
        int32_t *p = realloc(*c->ids, cap * sizeof *p);
        if (!p)
            return c->fail = 1;
        *c->ids = p;
        *c->cap = cap;
    }
    int32_t id = recur_s2s_vocab_find(c->v, tok, len);
    (*c->ids)[(*c->n)++] = id >= 0 ? id : c->unk;
    return 0;
}

recur_status recur_s2s_task_create(recur_s2s_task **out, recur_s2s *s,
                                   const recur_s2s_pairs *train, const recur_s2s_pairs *dev,
                                   const recur_s2s_task_config *cfg, recur_error *err)
{
    *out = NULL;
    if (cfg->batch < 1 || !(cfg->label_smoothing >= 0 && cfg->label_smoothing < 1) || cfg->max_dev < 0)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "seq2seq task: batch must be >= 1 and label smoothing in [0, 1)");
    recur_s2s_task *t = calloc(1, sizeof *t);
    if (!t)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    t->s = s;
    t->dev = dev;
    t->cfg = *cfg;
    t->n = recur_s2s_pairs_count(train);
    recur_status st = RECUR_OK;
    t->src_at = malloc(t->n * sizeof *t->src_at);
    t->tgt_at = malloc(t->n * sizeof *t->tgt_at);
    t->src_n = malloc(t->n * sizeof *t->src_n);
    t->tgt_n = malloc(t->n * sizeof *t->tgt_n);
    t->order = malloc(t->n * sizeof *t->order);
    t->items = malloc(t->n * sizeof *t->items);
    t->batch_start = malloc((t->n / (size_t)cfg->batch + 2) * sizeof *t->batch_start);
    if (!t->src_at || !t->tgt_at || !t->src_n || !t->tgt_n || !t->order || !t->items || !t->batch_start)
        goto nomem;
    size_t used = 0, cap = 0, p = 0;
    ids_ctx sc = {s->src, S2S_SRC_UNK, &t->ids, &used, &cap, 0};
    ids_ctx tc = {s->tgt, S2S_TGT_UNK, &t->ids, &used, &cap, 0};
    for (size_t i = 0; i < recur_s2s_pairs_sources(train); i++) {
        const char *x = recur_s2s_pairs_source(train, i);
        for (int k = 0; k < recur_s2s_pairs_num_targets(train, i); k++, p++) {
            const char *y = recur_s2s_pairs_target(train, i, k);
            t->src_at[p] = used;
            s2s_tokenize(s->cfg.source_level, x, strlen(x), push_id, &sc);
            t->src_n[p] = (int32_t)(used - t->src_at[p]);
            t->tgt_at[p] = used;
            s2s_tokenize(s->cfg.target_level, y, strlen(y), push_id, &tc);
            t->tgt_n[p] = (int32_t)(used - t->tgt_at[p]);
            if (sc.fail || tc.fail)
                goto nomem;
            if (t->src_n[p] > t->max_S)
                t->max_S = t->src_n[p];
            if (t->tgt_n[p] + 1 > t->max_T)
                t->max_T = t->tgt_n[p] + 1;
        }
    }
    if (t->max_S > 4096) {
        st = recur_error_set(err, RECUR_ERR_ARG, "seq2seq task: a training source has %d tokens (at most 4096)", t->max_S);
        goto fail;
    }
    const size_t SB = (size_t)t->max_S * (size_t)cfg->batch, TB = (size_t)t->max_T * (size_t)cfg->batch;
    t->src = calloc(SB, sizeof *t->src);
    t->src_len = calloc((size_t)cfg->batch, sizeof *t->src_len);
    t->tgt_in = calloc(TB, sizeof *t->tgt_in);
    t->tgt_out = calloc(TB, sizeof *t->tgt_out);
    t->tgt_len = calloc((size_t)cfg->batch, sizeof *t->tgt_len);
    if (!t->src || !t->src_len || !t->tgt_in || !t->tgt_out || !t->tgt_len)
        goto nomem;
    if ((st = s2s_work_create(&t->w, s, t->max_S, t->max_T, cfg->batch, err)))
        goto fail;
    t->n_batches = (int64_t)((t->n + (size_t)cfg->batch - 1) / (size_t)cfg->batch);
    *out = t;
    return RECUR_OK;
nomem:
    st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
fail:
    recur_s2s_task_free(t);
    return st;
}

static int64_t task_epoch_steps(void *ctx) { return ((recur_s2s_task *)ctx)->n_batches; }

static int by_length(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    if (x->src_n != y->src_n)
        return x->src_n < y->src_n ? -1 : 1;
    if (x->tgt_n != y->tgt_n)
        return x->tgt_n < y->tgt_n ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->pair < y->pair ? -1 : x->pair > y->pair;
}

static recur_status task_epoch_begin(void *ctx, int64_t epoch, int64_t first, char *msg)
{
    (void)first;
    (void)msg;
    recur_s2s_task *t = ctx;
    recur_rng rng;
    rng_seed(&rng, t->cfg.seed * 0x9E3779B97F4A7C15ull + (uint64_t)epoch);
    for (size_t i = 0; i < t->n; i++)
        t->items[i] = (sort_item){t->src_n[i], t->tgt_n[i], rng_next(&rng), i};
    qsort(t->items, t->n, sizeof *t->items, by_length);
    for (size_t i = 0; i < t->n; i++)
        t->order[i] = t->items[i].pair;
    for (int64_t b = 0; b < t->n_batches; b++)
        t->batch_start[b] = (size_t)b * (size_t)t->cfg.batch;
    for (int64_t b = t->n_batches - 1; b > 0; b--) {
        int64_t j = (int64_t)(rng_next(&rng) % (uint64_t)(b + 1));
        size_t x = t->batch_start[b];
        t->batch_start[b] = t->batch_start[j];
        t->batch_start[j] = x;
    }
    return RECUR_OK;
}

static recur_status task_step(void *ctx, int64_t epoch, int64_t index, double *loss_sum,
                              int64_t *count, char *msg)
{
    (void)epoch;
    recur_s2s_task *t = ctx;
    const size_t start = t->batch_start[index];
    const int B = (int)(t->n - start < (size_t)t->cfg.batch ? t->n - start : (size_t)t->cfg.batch);
    int S = 0, T = 0;
    for (int j = 0; j < B; j++) {
        size_t p = t->order[start + (size_t)j];
        S = t->src_n[p] > S ? t->src_n[p] : S;
        T = t->tgt_n[p] + 1 > T ? t->tgt_n[p] + 1 : T;
    }
    for (int j = 0; j < B; j++) {
        size_t p = t->order[start + (size_t)j];
        const int32_t *x = t->ids + t->src_at[p], *y = t->ids + t->tgt_at[p];
        t->src_len[j] = t->src_n[p];
        t->tgt_len[j] = t->tgt_n[p] + 1;
        for (int i = 0; i < S; i++)
            t->src[(size_t)i * B + j] = i < t->src_n[p] ? x[i] : 0;
        for (int i = 0; i < T; i++) {
            const int n = t->tgt_n[p];
            t->tgt_in[(size_t)i * B + j] = i == 0 ? S2S_BOS : i <= n ? y[i - 1] : S2S_EOS;
            t->tgt_out[(size_t)i * B + j] = i < n ? y[i] : i == n ? S2S_EOS : -1;
        }
    }
    s2s_batch b = {B, S, T, t->src, t->src_len, t->tgt_in, t->tgt_out, t->tgt_len};
    return s2s_batch_loss(t->s, t->w, &b, 1, 1, t->cfg.label_smoothing, loss_sum, count, msg);
}

static recur_status task_evaluate(void *ctx, recur_eval *ev, char *msg)
{
    recur_s2s_task *t = ctx;
    recur_s2s_score sc = {0};
    recur_error err = {0};
    recur_status st = recur_s2s_evaluate(t->s, t->dev, &t->cfg.eval, (size_t)t->cfg.max_dev, &sc,
                                         NULL, NULL, &err);
    if (st)
        return recur_seterr(msg, st, "%s", err.msg);
    ev->decisive = recur_eval_add(ev, "wer", recur_s2s_wer(&sc));
    ev->higher_better = 0;
    recur_eval_add(ev, "ter", recur_s2s_ter(&sc));
    return RECUR_OK;
}

static void task_format_epoch(void *ctx, double train_loss, const recur_eval *ev, char *buf,
                              size_t n)
{
    (void)ctx;
    int k = 0;
    if (!isnan(train_loss))
        k = snprintf(buf, n, "train %.4f nats/token | ", train_loss);
    snprintf(buf + k, n - (size_t)k, "dev WER %.2f%%, token error rate %.2f%%", ev->m[0].value,
             ev->m[1].value);
}

recur_task recur_s2s_task_callbacks(recur_s2s_task *t)
{
    recur_task k;
    memset(&k, 0, sizeof k);
    k.ctx = t;
    k.unit = "token";
    k.loss_is_nll = 1;
    k.epoch_steps = task_epoch_steps;
    k.epoch_begin = task_epoch_begin;
    k.step = task_step;
    k.evaluate = task_evaluate;
    k.format_epoch = task_format_epoch;
    k.extra_config = recur_s2s_extra_config(t->s);
    k.meta = recur_s2s_meta(t->s, &k.n_meta);
    return k;
}

/* ---- scoring a file ---- */

recur_status recur_s2s_evaluate(recur_s2s *s, const recur_s2s_pairs *p,
                                const recur_s2s_decode_config *dc, size_t max_sources,
                                recur_s2s_score *sc, recur_s2s_output_fn fn, void *ctx,
                                recur_error *err)
{
    size_t n = recur_s2s_pairs_sources(p);
    if (max_sources > 0 && max_sources < n)
        n = max_sources;
    const int G = dc->batch > 0 ? dc->batch : 1;
    int32_t **ids = calloc((size_t)G, sizeof *ids);
    int *len = calloc((size_t)G, sizeof *len);
    recur_s2s_result *res = calloc((size_t)G, sizeof *res);
    const char **refs = NULL, **hyps = NULL;
    char **texts = NULL;
    recur_status st = RECUR_OK;
    if (!ids || !len || !res) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && !st; i += (size_t)G) {
        int m = (int)(n - i < (size_t)G ? n - i : (size_t)G);
        for (int j = 0; j < m && !st; j++) {
            const char *x = recur_s2s_pairs_source(p, i + (size_t)j);
            st = recur_s2s_encode_source(s, x, strlen(x), &ids[j], &len[j], NULL, err);
        }
        if (!st)
            st = recur_s2s_decode_ids(s, (const int32_t *const *)ids, len, m, dc, res, err);
        for (int j = 0; j < m && !st; j++) {
            const size_t src = i + (size_t)j;
            const int nr = recur_s2s_pairs_num_targets(p, src);
            refs = realloc(refs, (size_t)(nr > 0 ? nr : 1) * sizeof *refs);
            hyps = realloc(hyps, (size_t)(res[j].n > 0 ? res[j].n : 1) * sizeof *hyps);
            texts = realloc(texts, (size_t)(res[j].n > 0 ? res[j].n : 1) * sizeof *texts);
            if (!refs || !hyps || !texts) {
                st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
                break;
            }
            for (int k = 0; k < nr; k++)
                refs[k] = recur_s2s_pairs_target(p, src, k);
            int ok = 1;
            for (int k = 0; k < res[j].n; k++) {
                texts[k] = recur_s2s_target_text(s, res[j].hyps[k].ids, res[j].hyps[k].n);
                hyps[k] = texts[k];
                ok &= texts[k] != NULL;
            }
            if (ok && nr > 0)
                recur_s2s_score_add(sc, s->cfg.target_level, hyps, res[j].n, refs, nr);
            for (int k = 0; k < res[j].n; k++)
                free(texts[k]);
            if (!ok) {
                st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
                break;
            }
            if (fn)
                fn(ctx, recur_s2s_pairs_source(p, src), &res[j]);
        }
        for (int j = 0; j < m; j++) {
            free(ids[j]);
            ids[j] = NULL;
            recur_s2s_result_clear(&res[j]);
        }
    }
out:
    free(ids);
    free(len);
    free(res);
    free(refs);
    free(hyps);
    free(texts);
    return st;
}
