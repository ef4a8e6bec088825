/*
 * cls_dataset.c - labelled sentences as the library hands them out: read in
 * either format (cls_read.c), SST trees turned into the examples of the
 * chosen classes, the label set and vocabulary of a training set, and the
 * encoding into ids (cls_data) that batches are drawn from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tasks/classify/cls_dataset.h"

void recur_cls_read_config_default(recur_cls_read_config *c)
{
    memset(c, 0, sizeof *c);
    c->format = RECUR_CLS_TSV;
    c->classes = 2;
}

recur_status recur_cls_dataset_parse(recur_cls_dataset **out, const char *text, size_t len,
                                     const char *name, const recur_cls_read_config *cfg,
                                     recur_error *err)
{
    *out = NULL;
    if (cfg->format == RECUR_CLS_SST && cfg->classes != 2 && cfg->classes != 5)
        return recur_error_set(err, RECUR_ERR_ARG, "SST: classes must be 2 or 5, not %d", cfg->classes);
    recur_cls_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    d->cfg = *cfg;
    snprintf(d->name, sizeof d->name, "%s", name);
    recur_status st = cfg->format == RECUR_CLS_SST ? cls_read_sst(&d->c, text, len, name, cfg->lower, err)
                                                   : cls_read_tsv(&d->c, text, len, name, cfg->lower, err);
    if (st == RECUR_OK && cfg->format == RECUR_CLS_SST)
        st = cls_sst_select(&d->c, cfg->classes, cfg->phrases, err);
    if (st == RECUR_OK && d->c.n == 0)
        st = recur_error_set(err, RECUR_ERR_FORMAT, "%s: no examples", name);
    if (st) {
        recur_cls_dataset_free(d);
        return st;
    }
    *out = d;
    return RECUR_OK;
}

recur_status recur_cls_dataset_read(recur_cls_dataset **out, const char *path,
                                    const recur_cls_read_config *cfg, recur_error *err)
{
    *out = NULL;
    char *text;
    size_t len;
    recur_status st = recur_text_read(path, &text, &len, err);
    if (st)
        return st;
    st = recur_cls_dataset_parse(out, text, len, path, cfg, err);
    free(text);
    return st;
}

void recur_cls_dataset_free(recur_cls_dataset *d)
{
    if (!d)
        return;
    cls_corpus_free(&d->c);
    free(d);
}

size_t recur_cls_dataset_size(const recur_cls_dataset *d) { return d->c.n; }
const char *recur_cls_dataset_label(const recur_cls_dataset *d, size_t i)
{
    return i < d->c.n ? cls_label(&d->c, &d->c.items[i]) : NULL;
}
int recur_cls_dataset_length(const recur_cls_dataset *d, size_t i)
{
    return i < d->c.n ? d->c.items[i].len : 0;
}
const char *recur_cls_dataset_word(const recur_cls_dataset *d, size_t i, int k)
{
    if (i >= d->c.n || k < 0 || k >= d->c.items[i].len)
        return NULL;
    return cls_word(&d->c, d->c.items[i].first + (size_t)k);
}
int64_t recur_cls_dataset_line(const recur_cls_dataset *d, size_t i)
{
    return i < d->c.n ? d->c.items[i].line : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

recur_status recur_cls_dataset_labels_json(const recur_cls_dataset *d,
                                           const recur_cls_read_config *cfg, char **json,
                                           recur_error *err)
{
    *json = NULL;
    json_t *arr = json_array();
    if (!arr)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    if (cfg->format == RECUR_CLS_SST) {
        const char *const *names;
        int k = cls_sst_labels(cfg->classes, &names);
        for (int i = 0; i < k; i++)
            json_array_append_new(arr, json_string(names[i]));
    } else {
        const char **all = malloc((d->c.n + 1) * sizeof *all);
        if (!all) {
            json_decref(arr);
            return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < d->c.n; i++)
            all[i] = cls_label(&d->c, &d->c.items[i]);
        qsort(all, d->c.n, sizeof *all, cmp_str);
        for (size_t i = 0; i < d->c.n; i++)
            if (i == 0 || strcmp(all[i], all[i - 1]))
                json_array_append_new(arr, json_string(all[i]));
        free(all);
    }
    if (json_array_size(arr) < 2) {
        json_decref(arr);
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s: a classifier needs at least 2 labels, the data has %s",
                               d->name, d->c.n ? "1" : "none");
    }
    *json = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return *json ? RECUR_OK : recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
}

recur_status recur_cls_dataset_vocab(const recur_cls_dataset *d, int64_t min_count,
                                     int64_t max_size, recur_vocab **out, recur_error *err)
{
    recur_vocab *v;
    recur_status st = recur_vocab_create(&v, RECUR_LEVEL_WORD, err);
    if (st)
        return st;
    /* each token of the corpus once (a phrase's words are its sentence's) */
    for (size_t i = 0; i < d->c.n_tok; i++) {
        const char *w = d->c.arena + d->c.tok[i];
        if (recur_vocab_add(v, w, strlen(w), 1, NULL) != RECUR_OK) {
            recur_vocab_free(v);
            return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        }
    }
    if ((st = recur_vocab_finish(v, max_size, min_count, err))) {
        recur_vocab_free(v);
        return st;
    }
    *out = v;
    return RECUR_OK;
}

/* ---- labels and encoding ------------------------------------------------------------ */

void cls_labels_free(cls_labels *l)
{
    for (int k = 0; k < l->K; k++)
        free(l->names[k]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

recur_status cls_labels_parse(cls_labels *l, const char *json, recur_error *err)
{
    memset(l, 0, sizeof *l);
    json_error_t je;
    json_t *arr = json ? json_loads(json, 0, &je) : NULL;
    recur_status st = RECUR_OK;
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n < 2 || n > 1000000) {
        st = recur_error_set(err, RECUR_ERR_FORMAT, "the labels are not a JSON array of at least 2 strings");
        goto done;
    }
    l->names = calloc(n, sizeof *l->names);
    if (!l->names) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || !*s || strchr(s, '\t') || strchr(s, '\n')) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "label %zu is not a non-empty string without tabs", i);
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(l->names[j], s)) {
                st = recur_error_set(err, RECUR_ERR_FORMAT, "label '%s' appears twice", s);
                goto done;
            }
        if (!(l->names[i] = strdup(s))) {
            st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
            goto done;
        }
        l->K = (int)i + 1;
    }
done:
    json_decref(arr);
    if (st)
        cls_labels_free(l);
    return st;
}

int cls_labels_find(const cls_labels *l, const char *name)
{
    for (int k = 0; k < l->K; k++)
        if (!strcmp(l->names[k], name))
            return k;
    return -1;
}

void cls_data_free(cls_data *d)
{
    free(d->ids);
    free(d->first);
    free(d->len);
    free(d->label);
    free(d->line);
    memset(d, 0, sizeof *d);
}

recur_status cls_encode(const recur_cls_dataset *ds, const recur_vocab *v, const cls_labels *l,
                        cls_data *out, recur_error *err)
{
    memset(out, 0, sizeof *out);
    const cls_corpus *c = &ds->c;
    size_t total = 0;
    for (size_t i = 0; i < c->n; i++)
        total += (size_t)c->items[i].len;
    out->n = c->n;
    out->ids = malloc((total + 1) * sizeof *out->ids);
    out->first = malloc((c->n + 1) * sizeof *out->first);
    out->len = malloc((c->n + 1) * sizeof *out->len);
    out->label = malloc((c->n + 1) * sizeof *out->label);
    out->line = malloc((c->n + 1) * sizeof *out->line);
    if (!out->ids || !out->first || !out->len || !out->label || !out->line) {
        cls_data_free(out);
        return recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", ds->name);
    }
    const int32_t unk = recur_vocab_unk(v);
    size_t pos = 0;
    for (size_t i = 0; i < c->n; i++) {
        const cls_item *it = &c->items[i];
        const char *lab = cls_label(c, it);
        int k = cls_labels_find(l, lab);
        if (k < 0) {
            recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: label '%s' is not one of the %d labels (%s%s%s%s)",
                            ds->name, (long long)it->line, lab, l->K, l->names[0], ", ", l->names[1],
                            l->K > 2 ? ", ..." : "");
            cls_data_free(out);
            return RECUR_ERR_FORMAT;
        }
        out->first[i] = pos;
        out->len[i] = it->len;
        out->label[i] = k;
        out->line[i] = it->line;
        if (it->len > out->max_len)
            out->max_len = it->len;
        for (int32_t t = 0; t < it->len; t++) {
            const char *w = cls_word(c, it->first + (size_t)t);
            int32_t id = recur_vocab_find(v, w, strlen(w));
            if (id < 0 && unk < 0) {
                recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: word '%s' is not in the vocabulary, which has no <unk>",
                                ds->name, (long long)it->line, w);
                cls_data_free(out);
                return RECUR_ERR_FORMAT;
            }
            out->ids[pos++] = id >= 0 ? id : unk;
        }
    }
    return RECUR_OK;
}
