/*
 * embeddings.c - pretrained word vectors for a tagger, from any file
 * text/word_vectors.h reads (GloVe or word2vec text, word2vec binary), kept
 * whole so that dev and test words can be looked up in them.  A word is
 * found as it is written, else lower-cased, else
 * lower-cased with digits as 0 (so "Paris" finds "paris" and "1996" finds
 * "0000" where the file has only those).  Errors name the file and line.
 */
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "tasks/tag/tag_internal.h"
#include "text/word_vectors.h"

void tag_embeddings_free(tag_embeddings *e)
{
    recur_vocab_free(e->exact);
    recur_vocab_free(e->normal);
    free(e->normal_row);
    free(e->vec);
    memset(e, 0, sizeof *e);
}

/* What tag_embeddings_read keeps of each entry. */
typedef struct keep_ctx {
    tag_embeddings *e;
    const char *path;
    recur_vocab *want_exact, *want_normal; /* NULL: keep all */
    size_t cap_rows, cap_norm;
} keep_ctx;

static recur_status keep_entry(void *ctx, const char *word, const float *vec, int dim, recur_error *err)
{
    keep_ctx *k = ctx;
    tag_embeddings *e = k->e;
    e->dim = dim;
    char key[1024];
    size_t kl = word_key(word, KEY_NORMAL, key, sizeof key);
    if (k->want_exact && recur_vocab_find(k->want_exact, word, strlen(word)) < 0 &&
        recur_vocab_find(k->want_normal, key, kl) < 0)
        return RECUR_OK; /* no lookup of the corpora's words can return it */
    if (recur_vocab_find(e->exact, word, strlen(word)) >= 0)
        return RECUR_OK; /* the first vector of a word stays */
    if ((size_t)e->rows + 1 > k->cap_rows) {
        k->cap_rows = k->cap_rows * 2 + 1024;
        float *nv = realloc(e->vec, k->cap_rows * (size_t)dim * sizeof *nv);
        if (!nv)
            return recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", k->path);
        e->vec = nv;
    }
    if (recur_vocab_add(e->exact, word, strlen(word), 1, NULL) != RECUR_OK)
        return recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", k->path);
    memcpy(e->vec + (size_t)e->rows * (size_t)dim, vec, (size_t)dim * sizeof *vec);
    e->rows++;
    int32_t nid = recur_vocab_find(e->normal, key, kl);
    if (nid < 0) {
        if (recur_vocab_add(e->normal, key, kl, 1, &nid) != RECUR_OK)
            return recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", k->path);
        if ((size_t)nid >= k->cap_norm) {
            k->cap_norm = k->cap_norm * 2 + 64;
            int32_t *nr = realloc(e->normal_row, k->cap_norm * sizeof *nr);
            if (!nr)
                return recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", k->path);
            e->normal_row = nr;
        }
        e->normal_row[nid] = (int32_t)(e->rows - 1);
    } else if (!strcmp(key, word)) {
        e->normal_row[nid] = (int32_t)(e->rows - 1); /* the word itself beats its variants */
    }
    return RECUR_OK;
}

/* The forms the lookups of `keys` try (tag_embeddings_find): each key and
 * its lower-case form as written, its normalised form among normal ones. */
static recur_status wanted_forms(keep_ctx *k, const recur_vocab *keys, recur_error *err)
{
    if ((recur_vocab_create(&k->want_exact, RECUR_LEVEL_WORD, err)) ||
        (recur_vocab_create(&k->want_normal, RECUR_LEVEL_WORD, err)))
        return RECUR_ERR_NOMEM;
    for (int32_t i = 0; i < recur_vocab_size(keys); i++) {
        const char *w = recur_vocab_token(keys, i);
        char buf[1024];
        size_t n;
        if (recur_vocab_add(k->want_exact, w, strlen(w), 1, NULL) != RECUR_OK ||
            ((n = word_key(w, KEY_LOWER, buf, sizeof buf)), recur_vocab_add(k->want_exact, buf, n, 1, NULL)) ||
            ((n = word_key(w, KEY_NORMAL, buf, sizeof buf)), recur_vocab_add(k->want_normal, buf, n, 1, NULL)))
            return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    return RECUR_OK;
}

recur_status tag_embeddings_read(tag_embeddings *e, const char *path, const recur_vocab *keys, recur_error *err)
{
    memset(e, 0, sizeof *e);
    keep_ctx k = {.e = e, .path = path};
    int dim;
    recur_status st;
    if ((keys && (st = wanted_forms(&k, keys, err))) || (st = recur_vocab_create(&e->exact, RECUR_LEVEL_WORD, err)) ||
        (st = recur_vocab_create(&e->normal, RECUR_LEVEL_WORD, err)) ||
        (st = word_vectors_read(path, keep_entry, &k, &dim, err)))
        tag_embeddings_free(e);
    recur_vocab_free(k.want_exact);
    recur_vocab_free(k.want_normal);
    return st;
}

int64_t tag_embeddings_find(const tag_embeddings *e, const char *key)
{
    char buf[1024];
    int32_t id = recur_vocab_find(e->exact, key, strlen(key));
    if (id >= 0)
        return id;
    size_t n = word_key(key, KEY_LOWER, buf, sizeof buf);
    if ((id = recur_vocab_find(e->exact, buf, n)) >= 0)
        return id;
    n = word_key(key, KEY_NORMAL, buf, sizeof buf);
    if ((id = recur_vocab_find(e->normal, buf, n)) >= 0)
        return e->normal_row[id];
    return -1;
}
