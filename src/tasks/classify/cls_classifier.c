/*
 * cls_classifier.c - a trained classifier from its file: the model (through
 * the task-file convention, recur_model_file_open with task "classify"), its
 * vocabulary, labels and reading settings checked, and sentences given as
 * strings classified in batches.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tasks/classify/cls_dataset.h"

struct recur_classifier {
    recur_model_file *file;
    recur_model *m;
    recur_vocab *vocab;
    cls_labels labels;
    recur_cls_read_config rc;
    recur_cls_pool pool;
    cls_net *net;
    int max_B, max_T;
    int32_t *tokens, *lens; /* (max_T, max_B), (max_B) */
    int T, B;               /* the last classify */
    char word[256];         /* lower-casing scratch */
    char msg[RECUR_ERRMSG_LEN];
};

void recur_classifier_free(recur_classifier *c)
{
    if (!c)
        return;
    cls_net_free(c->net);
    cls_labels_free(&c->labels);
    recur_vocab_free(c->vocab);
    recur_model_file_close(c->file);
    free(c->tokens);
    free(c->lens);
    free(c);
}

const char *recur_classifier_errmsg(const recur_classifier *c) { return c->msg; }
int recur_classifier_num_classes(const recur_classifier *c) { return c->labels.K; }
const char *recur_classifier_label(const recur_classifier *c, int k)
{
    return k >= 0 && k < c->labels.K ? c->labels.names[k] : NULL;
}
int recur_classifier_label_index(const recur_classifier *c, const char *label)
{
    return cls_labels_find(&c->labels, label);
}
recur_cls_pool recur_classifier_pool(const recur_classifier *c) { return c->pool; }
const recur_cls_read_config *recur_classifier_read_config(const recur_classifier *c) { return &c->rc; }
recur_model *recur_classifier_model(recur_classifier *c) { return c->m; }

/* The steps a batch is sized for at first; longer sentences grow it. */
#define INITIAL_STEPS 64
/* The largest table of every word's first-layer input product kept for
 * speed (a classifier's weights never change): it replaces the product of
 * the embedding with the input weights, the larger part of a step. */
#define MAX_INPUT_TABLE_BYTES ((size_t)512 << 20)

static recur_status size_for(recur_classifier *c, int T, recur_error *err)
{
    if (T <= c->max_T)
        return RECUR_OK;
    int nt = c->max_T ? c->max_T : INITIAL_STEPS;
    while (nt < T)
        nt *= 2;
    cls_net *net;
    recur_status st = cls_net_create(&net, c->m, c->pool, 0, nt, c->max_B, err);
    if (st)
        return st;
    const recur_model_config *mc = recur_model_get_config(c->m);
    const int gates = mc->rnn.cell == RECUR_CELL_LSTM ? 4 : mc->rnn.cell == RECUR_CELL_GRU ? 3 : 1;
    const size_t table = (size_t)mc->vocab_size * (size_t)gates * (size_t)mc->rnn.hidden_size *
                         (mc->rnn.bidirectional ? 2 : 1) * sizeof(recur_real);
    if (table <= MAX_INPUT_TABLE_BYTES)
        (void)cls_net_cache_inputs(net, 1); /* only speed: without the table the results are the same */
    int32_t *tok = malloc((size_t)nt * (size_t)c->max_B * sizeof *tok);
    if (!tok) {
        cls_net_free(net);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    cls_net_free(c->net);
    free(c->tokens);
    c->net = net;
    c->tokens = tok;
    c->max_T = nt;
    return RECUR_OK;
}

recur_status recur_classifier_open(recur_classifier **out, const char *path, int max_batch,
                                   recur_error *err)
{
    *out = NULL;
    if (max_batch < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "max_batch must be >= 1");
    recur_classifier *c = calloc(1, sizeof *c);
    if (!c)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    c->max_B = max_batch;
    json_t *cfg = NULL;
    recur_status st = recur_model_file_open(&c->file, path, "classify", err);
    if (st)
        goto fail;
    c->m = recur_model_file_model(c->file);
    recur_checkpoint *ck = recur_model_file_checkpoint(c->file);
    json_error_t je;
    const char *text = recur_checkpoint_meta(ck, "recur.config");
    cfg = text ? json_loads(text, 0, &je) : NULL;
    int pool = recur_cls_pool_parse(json_string_value(json_object_get(cfg, "pool")));
    const char *format = json_string_value(json_object_get(cfg, "format"));
    json_t *lower = json_object_get(cfg, "lower"), *classes = json_object_get(cfg, "classes");
    if (pool < 0 || !format || (strcmp(format, "tsv") && strcmp(format, "sst")) || !json_is_boolean(lower) ||
        !json_is_integer(classes)) {
        st = recur_error_set(err, RECUR_ERR_FORMAT,
                             "%s: recur.config lacks the classifier's pool, format, lower or classes", path);
        goto fail;
    }
    c->pool = (recur_cls_pool)pool;
    recur_cls_read_config_default(&c->rc);
    c->rc.format = !strcmp(format, "sst") ? RECUR_CLS_SST : RECUR_CLS_TSV;
    c->rc.lower = json_is_true(lower);
    c->rc.classes = (int)json_integer_value(classes);
    if ((st = recur_vocab_from_json(&c->vocab, RECUR_LEVEL_WORD, recur_checkpoint_meta(ck, "recur.vocab"), err)) ||
        (st = cls_labels_parse(&c->labels, recur_checkpoint_meta(ck, "recur.labels"), err))) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err->msg);
        recur_error_set(err, st, "%s: %s", path, m);
        goto fail;
    }
    if (recur_model_get_config(c->m)->vocab_size != recur_vocab_size(c->vocab)) {
        st = recur_error_set(err, RECUR_ERR_MISMATCH, "%s: the vocabulary has %d words, the embedding %d rows", path,
                             recur_vocab_size(c->vocab), recur_model_get_config(c->m)->vocab_size);
        goto fail;
    }
    c->lens = malloc((size_t)max_batch * sizeof *c->lens);
    if (!c->lens) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = size_for(c, INITIAL_STEPS, err)))
        goto fail;
    if (cls_net_classes(c->net) != c->labels.K) {
        st = recur_error_set(err, RECUR_ERR_MISMATCH, "%s: %d labels but the output layer has %d classes", path,
                             c->labels.K, cls_net_classes(c->net));
        goto fail;
    }
    json_decref(cfg);
    *out = c;
    return RECUR_OK;
fail:
    json_decref(cfg);
    recur_classifier_free(c);
    return st;
}

static int32_t word_id(recur_classifier *c, const char *w)
{
    size_t n = strlen(w);
    if (c->rc.lower && n < sizeof c->word) {
        for (size_t i = 0; i <= n; i++)
            c->word[i] = w[i] >= 'A' && w[i] <= 'Z' ? (char)(w[i] - 'A' + 'a') : w[i];
        w = c->word;
    }
    int32_t id = recur_vocab_find(c->vocab, w, n);
    return id >= 0 ? id : recur_vocab_unk(c->vocab);
}

recur_status recur_classifier_classify(recur_classifier *c, const char *const *const *words,
                                       const int *n, int B, double *probs, int *best)
{
    c->T = c->B = 0;
    if (B < 1 || B > c->max_B)
        return recur_seterr(c->msg, RECUR_ERR_ARG, "%d sentences: the classifier takes 1..%d at a time", B, c->max_B);
    int T = 1;
    for (int b = 0; b < B; b++) {
        if (n[b] < 1)
            return recur_seterr(c->msg, RECUR_ERR_ARG, "sentence %d has no words", b);
        if (n[b] > T)
            T = n[b];
    }
    recur_error err = {0};
    if (size_for(c, T, &err))
        return recur_seterr(c->msg, err.status, "%s", err.msg);
    for (int b = 0; b < B; b++) {
        c->lens[b] = n[b];
        for (int t = 0; t < T; t++) {
            int32_t id = t < n[b] ? word_id(c, words[b][t]) : 0;
            if (id < 0)
                return recur_seterr(c->msg, RECUR_ERR_ARG, "word '%s' is not in the vocabulary, which has no <unk>",
                                    words[b][t]);
            c->tokens[(size_t)t * B + b] = id;
        }
    }
    recur_status st = cls_net_forward(c->net, c->tokens, c->lens, T, B, 0);
    if (st)
        return recur_seterr(c->msg, st, "%s", cls_net_errmsg(c->net));
    const int K = c->labels.K;
    const recur_real *p = cls_net_probs(c->net);
    for (int b = 0; b < B; b++) {
        int k_best = 0;
        for (int k = 0; k < K; k++) {
            probs[(size_t)b * K + k] = (double)p[(size_t)b * K + k];
            if (p[(size_t)b * K + k] > p[(size_t)b * K + k_best])
                k_best = k;
        }
        if (best)
            best[b] = k_best;
    }
    c->T = T;
    c->B = B;
    return RECUR_OK;
}

double recur_classifier_attention(const recur_classifier *c, int b, int t)
{
    const recur_real *a = c->net ? cls_net_attention(c->net) : NULL;
    if (!a || b < 0 || b >= c->B || t < 0)
        return NAN;
    return t < c->T ? (double)a[(size_t)t * c->B + b] : 0.0;
}

recur_status recur_classifier_confusion(recur_classifier *c, const recur_cls_dataset *d,
                                        int64_t *confusion)
{
    recur_error err = {0};
    cls_data data;
    recur_status st = cls_encode(d, c->vocab, &c->labels, &data, &err);
    if (st)
        return recur_seterr(c->msg, st, "%s", err.msg);
    size_t *order = malloc((data.n + 1) * sizeof *order);
    if (!order) {
        cls_data_free(&data);
        return recur_seterr(c->msg, RECUR_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < data.n; i++)
        order[i] = i;
    double loss;
    if ((st = size_for(c, data.max_len, &err)))
        recur_seterr(c->msg, st, "%s", err.msg);
    else
        st = cls_score(c->net, &data, order, c->max_B, c->tokens, c->lens, confusion, &loss, c->msg);
    c->T = c->B = 0;
    free(order);
    cls_data_free(&data);
    return st;
}
