/*
 * tagger.c - a tagger loaded from its model file (recur_tag.h): the model
 * through recur_model_file_open (task "tag"), the vocabularies and settings
 * from its __metadata__, and the network; sentences given as arrays of
 * strings come back as tags in the scheme of the training file.
 */
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "tasks/tag/tag_task.h"

struct recur_tagger {
    recur_model_file *file;
    tag_vocabs v;
    tag_net net;
    char errmsg[RECUR_ERRMSG_LEN];
    int32_t *labels;
    char (*tags)[RECUR_TAG_MAX];
    size_t cap;
};

recur_status recur_tagger_open(recur_tagger **out, const char *path, recur_error *err)
{
    *out = NULL;
    recur_tagger *t = calloc(1, sizeof *t);
    if (!t)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    recur_tagger_config c;
    recur_status st = recur_model_file_open(&t->file, path, "tag", err);
    if (st == RECUR_OK && (st = tag_vocabs_load(&t->v, recur_model_file_checkpoint(t->file), &c, err)))
        recur_error_set(err, st, "%s: %.400s", path, err->msg);
    if (st == RECUR_OK &&
        (st = tag_net_init(&t->net, recur_model_file_model(t->file), &t->v, 0, err)))
        recur_error_set(err, st, "%s: %.400s", path, err->msg);
    if (st != RECUR_OK) {
        recur_tagger_free(t);
        return st;
    }
    t->net.fixed = 1; /* a loaded model's weights stay as they are */
    *out = t;
    return RECUR_OK;
}

void recur_tagger_free(recur_tagger *t)
{
    if (!t)
        return;
    tag_net_free(&t->net);
    tag_vocabs_free(&t->v);
    recur_model_file_close(t->file);
    free(t->labels);
    free(t->tags);
    free(t);
}

const char *recur_tagger_errmsg(const recur_tagger *t) { return t ? t->errmsg : "no tagger"; }
recur_tag_scheme recur_tagger_scheme(const recur_tagger *t) { return t->v.scheme; }

recur_status recur_tagger_tag_batch(recur_tagger *t, const char *const *words, const int64_t *off,
                                    int n_sents, const char **tags)
{
    if (n_sents < 1 || off[0] != 0)
        return recur_seterr(t->errmsg, RECUR_ERR_ARG, "tagger: no sentence, or offsets not from 0");
    for (int s = 0; s < n_sents; s++)
        if (off[s + 1] <= off[s])
            return recur_seterr(t->errmsg, RECUR_ERR_ARG, "tagger: sentence %d is empty", s + 1);
    for (int64_t i = 0; i < off[n_sents]; i++)
        if (!words[i] || !*words[i] || !recur_utf8_valid(words[i], strlen(words[i]), NULL))
            return recur_seterr(t->errmsg, RECUR_ERR_ARG, "tagger: word %lld is empty or not UTF-8",
                                (long long)i + 1);
    const size_t n = (size_t)off[n_sents];
    if (n > t->cap) {
        free(t->labels);
        free(t->tags);
        t->labels = malloc(n * sizeof *t->labels);
        t->tags = malloc(n * sizeof *t->tags);
        t->cap = t->labels && t->tags ? n : 0;
        if (!t->cap)
            return recur_seterr(t->errmsg, RECUR_ERR_NOMEM, "out of memory");
    }
    tag_data d;
    recur_error err = {0};
    recur_status st = tag_encode(&t->v, words, NULL, RECUR_TAGS_PLAIN, off, n_sents, &d, &err);
    if (st != RECUR_OK)
        return recur_seterr(t->errmsg, st, "%s", err.msg);
    st = tag_predict(&t->net, &d, t->labels, 64, t->errmsg);
    for (int s = 0; s < n_sents && st == RECUR_OK; s++) {
        int len = (int)(off[s + 1] - off[s]);
        if ((st = tag_labels_to_tags(&t->v, t->labels + off[s], len, t->tags + off[s], &err)))
            recur_seterr(t->errmsg, st, "%s", err.msg);
    }
    tag_data_free(&d);
    if (st != RECUR_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        tags[i] = t->tags[i];
    return RECUR_OK;
}

recur_status recur_tagger_tag(recur_tagger *t, const char *const *words, int n, const char **tags)
{
    if (n < 1)
        return recur_seterr(t->errmsg, RECUR_ERR_ARG, "tagger: an empty sentence");
    int64_t off[2] = {0, n};
    return recur_tagger_tag_batch(t, words, off, 1, tags);
}

recur_status recur_tagger_eval_corpus(recur_tagger *t, const recur_tag_corpus *c, recur_conlleval *e)
{
    if (!c->tags)
        return recur_seterr(t->errmsg, RECUR_ERR_ARG, "%s: read without tags, nothing to score", c->path);
    if (c->n_tok > (int64_t)t->cap) {
        free(t->labels);
        t->labels = malloc((size_t)c->n_tok * sizeof *t->labels);
        free(t->tags);
        t->tags = NULL;
        t->cap = 0;
        if (!t->labels)
            return recur_seterr(t->errmsg, RECUR_ERR_NOMEM, "out of memory");
        t->tags = malloc((size_t)c->n_tok * sizeof *t->tags);
        if (!t->tags)
            return recur_seterr(t->errmsg, RECUR_ERR_NOMEM, "out of memory");
        t->cap = (size_t)c->n_tok;
    }
    tag_data d;
    recur_error err = {0};
    recur_status st = tag_encode(&t->v, c->words, NULL, RECUR_TAGS_PLAIN, c->sent_off, c->n_sent, &d, &err);
    if (st != RECUR_OK)
        return recur_seterr(t->errmsg, st, "%s", err.msg);
    st = tag_predict(&t->net, &d, t->labels, 64, t->errmsg);
    tag_data_free(&d);
    if (st == RECUR_OK && (st = tag_score(&t->v, c, t->labels, e, &err)))
        recur_seterr(t->errmsg, st, "%s", err.msg);
    return st;
}
