/*
 * cls_model.c - the classifier's composite model (the embedding and the
 * recurrent stack, then the attention and output layers as tensor parts),
 * pretrained word vectors into its embedding, and the recur.config entries
 * of its files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tasks/classify/classify_internal.h"
#include "text/word_vectors.h"

static const char *const POOL_NAMES[] = {"last", "mean", "max", "attention"};

const char *recur_cls_pool_name(recur_cls_pool p)
{
    return (int)p >= 0 && p <= RECUR_POOL_ATTENTION ? POOL_NAMES[p] : "?";
}

int recur_cls_pool_parse(const char *name)
{
    for (int i = 0; name && i <= RECUR_POOL_ATTENTION; i++)
        if (!strcmp(name, POOL_NAMES[i]))
            return i;
    return -1;
}

recur_status recur_cls_model_create(recur_model **out, const recur_cls_model_config *cfg,
                                    uint64_t seed, recur_error *err)
{
    *out = NULL;
    const recur_model_config *b = &cfg->base;
    if (b->vocab_size < 1 || b->output_size != 0)
        return recur_error_set(err, RECUR_ERR_ARG, "a classifier needs an embedding (vocab_size >= 1) and no decoder");
    if (cfg->classes < 2 || (int)cfg->pool < 0 || cfg->pool > RECUR_POOL_ATTENTION || cfg->attention_size < 0)
        return recur_error_set(err, RECUR_ERR_ARG, "a classifier needs >= 2 classes, a pooling and attention size >= 0");
    const int64_t P = b->rnn.proj_size > 0 ? b->rnn.proj_size : b->rnn.hidden_size;
    const int64_t F = (b->rnn.bidirectional ? 2 : 1) * P;
    const int64_t A = cfg->attention_size > 0 ? cfg->attention_size : F;
    const double fan = 1.0 / sqrt((double)(F > 0 ? F : 1));
    recur_part parts[5];
    int n = 0;
    if (cfg->pool == RECUR_POOL_ATTENTION) {
        parts[n++] = (recur_part){.name = "attention.weight", .ndim = 2, .shape = {A, F}, .init = fan};
        parts[n++] = (recur_part){.name = "attention.bias", .ndim = 1, .shape = {A}, .init = fan};
        parts[n++] = (recur_part){.name = "attention.context", .ndim = 1, .shape = {A},
                                  .init = 1.0 / sqrt((double)A)};
    }
    parts[n++] = (recur_part){.name = "classifier.weight", .ndim = 2, .shape = {cfg->classes, F}, .init = fan};
    parts[n++] = (recur_part){.name = "classifier.bias", .ndim = 1, .shape = {cfg->classes}, .init = fan};
    return recur_model_create_composite(out, b, parts, n, seed, err);
}

/* What recur_cls_load_embeddings does with each entry of the file. */
typedef struct load_ctx {
    recur_tensor_info emb;
    const recur_vocab *v;
    const char *path;
    int lower;
    char *set; /* (V) rows already taken: a word's first vector stays */
    char word[4096];
    size_t found;
} load_ctx;

static recur_status load_entry(void *ctx, const char *word, const float *vec, int dim, recur_error *err)
{
    load_ctx *l = ctx;
    const int E = (int)l->emb.shape[1];
    if (dim != E)
        return recur_error_set(err, RECUR_ERR_MISMATCH, "%s: vectors of %d numbers for an embedding of %d", l->path,
                               dim, E);
    size_t n = strlen(word);
    if (n >= sizeof l->word)
        return RECUR_OK; /* longer than any word a vocabulary holds here */
    for (size_t i = 0; i <= n; i++)
        l->word[i] = l->lower && word[i] >= 'A' && word[i] <= 'Z' ? (char)(word[i] - 'A' + 'a') : word[i];
    int32_t id = recur_vocab_find(l->v, l->word, n);
    if (id >= 0 && !l->set[id]) {
        l->set[id] = 1;
        for (int k = 0; k < E; k++)
            l->emb.data[(size_t)id * E + k] = (recur_real)vec[k];
        l->found++;
    }
    return RECUR_OK;
}

recur_status recur_cls_load_embeddings(recur_model *m, const recur_vocab *v, const char *path,
                                       int lower, size_t *found, recur_error *err)
{
    *found = 0;
    load_ctx *l = calloc(1, sizeof *l);
    if (!l)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    recur_status st = RECUR_OK;
    if (recur_model_find_tensor(m, "embedding.weight", &l->emb) != RECUR_OK) {
        st = recur_error_set(err, RECUR_ERR_ARG, "the model has no embedding");
        goto done;
    }
    l->v = v;
    l->path = path;
    l->lower = lower;
    if (!(l->set = calloc((size_t)recur_vocab_size(v), 1))) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto done;
    }
    int dim;
    if ((st = word_vectors_read(path, load_entry, l, &dim, err)) == RECUR_OK)
        *found = l->found;
done:
    free(l->set);
    free(l);
    return st;
}

char *recur_cls_extra_config(recur_cls_pool pool, const recur_cls_read_config *rc)
{
    json_t *j = json_pack("{s:s,s:s,s:b,s:s,s:i,s:b}", "task", "classify", "pool", recur_cls_pool_name(pool),
                          "lower", rc->lower, "format", rc->format == RECUR_CLS_SST ? "sst" : "tsv",
                          "classes", rc->classes, "phrases", rc->phrases);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}
