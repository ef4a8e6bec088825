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

recur_status recur_cls_load_embeddings(recur_model *m, const recur_vocab *v, const char *path,
                                       int lower, size_t *found, recur_error *err)
{
    *found = 0;
    recur_tensor_info emb;
    if (recur_model_find_tensor(m, "embedding.weight", &emb) != RECUR_OK)
        return recur_error_set(err, RECUR_ERR_ARG, "the model has no embedding");
    const int E = (int)emb.shape[1];
    FILE *f = fopen(path, "rb");
    if (!f)
        return recur_error_set(err, RECUR_ERR_IO, "%s: cannot open", path);
    const int32_t V = recur_vocab_size(v);
    char *set = calloc((size_t)V, 1);
    recur_real *row = malloc((size_t)E * sizeof *row);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long long ln = 0;
    recur_status st = set && row ? RECUR_OK : recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    while (st == RECUR_OK && (got = getline(&line, &cap, f)) > 0) {
        ln++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        char *save = NULL, *word = strtok_r(line, " \t", &save);
        if (!word)
            continue;
        int k = 0;
        char *tokv;
        int bad = 0;
        while ((tokv = strtok_r(NULL, " \t", &save))) {
            char *end;
            double x = strtod(tokv, &end);
            if (*end || !isfinite(x)) {
                bad = 1;
                break;
            }
            if (k < E)
                row[k] = (recur_real)x;
            k++;
        }
        if (ln == 1 && k == 1 && !bad)
            continue; /* word2vec's "count dim" header */
        if (bad || k != E) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: expected a word and %d numbers%s", path, ln, E,
                                 bad ? "" : " (the embedding size)");
            break;
        }
        if (lower)
            for (char *p = word; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
        int32_t id = recur_vocab_find(v, word, strlen(word));
        if (id >= 0 && !set[id]) {
            set[id] = 1;
            memcpy(emb.data + (size_t)id * E, row, (size_t)E * sizeof *row);
            (*found)++;
        }
    }
    if (st == RECUR_OK && ferror(f))
        st = recur_error_set(err, RECUR_ERR_IO, "%s: read error", path);
    fclose(f);
    free(line);
    free(set);
    free(row);
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
