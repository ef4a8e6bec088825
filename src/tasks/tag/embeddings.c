/*
 * embeddings.c - pretrained word vectors from a text file: GloVe's "word v1
 * v2 ..." lines, or word2vec's text format (the same after a "COUNT DIM"
 * header line).  A word is found as it is written, else lower-cased, else
 * lower-cased with digits as 0 (so "Paris" finds "paris" and "1996" finds
 * "0000" where the file has only those).  Errors name the file and line.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "tasks/tag/tag_internal.h"

void tag_embeddings_free(tag_embeddings *e)
{
    recur_vocab_free(e->exact);
    recur_vocab_free(e->normal);
    free(e->normal_row);
    free(e->vec);
    memset(e, 0, sizeof *e);
}

recur_status tag_embeddings_read(tag_embeddings *e, const char *path, recur_error *err)
{
    memset(e, 0, sizeof *e);
    char *text = NULL;
    size_t len = 0;
    recur_status st = recur_text_read(path, &text, &len, err);
    if (st != RECUR_OK)
        return st;
    size_t cap_rows = 0, cap_norm = 0;
    if ((st = recur_vocab_create(&e->exact, RECUR_LEVEL_WORD, err)) ||
        (st = recur_vocab_create(&e->normal, RECUR_LEVEL_WORD, err)))
        goto fail;
    int64_t lineno = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        *eol = '\0';
        lineno++;
        char *line = p;
        p = eol + 1;
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line || *line == '\r')
            continue;
        char *word = line, *q = line;
        while (*q && *q != ' ' && *q != '\t')
            q++;
        if (*q)
            *q++ = '\0';
        /* the vector */
        int dim = 0;
        size_t row0 = (size_t)e->rows * (size_t)(e->dim ? e->dim : 0);
        for (;;) {
            while (*q == ' ' || *q == '\t' || *q == '\r')
                q++;
            if (!*q)
                break;
            char *num_end;
            errno = 0;
            float v = strtof(q, &num_end);
            if (num_end == q || (*num_end && *num_end != ' ' && *num_end != '\t' && *num_end != '\r') ||
                !isfinite(v)) {
                st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: '%.20s' is not a number", path,
                                     (long long)lineno, q);
                goto fail;
            }
            q = num_end;
            if (e->dim == 0) {
                /* the first line: the width is not known yet */
                float *nv = realloc(e->vec, (size_t)(dim + 1) * sizeof *nv);
                if (!nv)
                    goto nomem;
                e->vec = nv;
                e->vec[dim] = v;
            } else {
                if (dim >= e->dim) {
                    st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: more than the %d numbers of the first vector",
                                         path, (long long)lineno, e->dim);
                    goto fail;
                }
                e->vec[row0 + (size_t)dim] = v;
            }
            dim++;
        }
        if (e->dim == 0) {
            if (dim == 1 && lineno == 1 && strspn(word, "0123456789") == strlen(word)) {
                continue; /* word2vec's header "COUNT DIM" */
            }
            if (dim == 0) {
                st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: a word without a vector", path,
                                     (long long)lineno);
                goto fail;
            }
            e->dim = dim;
            cap_rows = 1;
        } else if (dim != e->dim) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: %d numbers where the first vector has %d",
                                 path, (long long)lineno, dim, e->dim);
            goto fail;
        }
        if (recur_vocab_find(e->exact, word, strlen(word)) >= 0)
            continue; /* the first vector of a word stays */
        if (recur_vocab_add(e->exact, word, strlen(word), 1, NULL) != RECUR_OK)
            goto nomem;
        e->rows++;
        if ((size_t)e->rows + 1 > cap_rows) {
            cap_rows = cap_rows * 2 + 1;
            float *nv = realloc(e->vec, cap_rows * (size_t)e->dim * sizeof *nv);
            if (!nv)
                goto nomem;
            e->vec = nv;
        }
        char key[1024];
        size_t kl = word_key(word, KEY_NORMAL, key, sizeof key);
        int32_t nid = recur_vocab_find(e->normal, key, kl);
        if (nid < 0) {
            if (recur_vocab_add(e->normal, key, kl, 1, &nid) != RECUR_OK)
                goto nomem;
            if ((size_t)nid >= cap_norm) {
                cap_norm = cap_norm * 2 + 64;
                int32_t *nr = realloc(e->normal_row, cap_norm * sizeof *nr);
                if (!nr)
                    goto nomem;
                e->normal_row = nr;
            }
            e->normal_row[nid] = (int32_t)(e->rows - 1);
        } else if (!strcmp(key, word)) {
            e->normal_row[nid] = (int32_t)(e->rows - 1); /* the word itself beats its variants */
        }
    }
    if (e->rows == 0) {
        st = recur_error_set(err, RECUR_ERR_FORMAT, "%s: no vector in the file", path);
        goto fail;
    }
    free(text);
    return RECUR_OK;
nomem:
    st = recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", path);
fail:
    free(text);
    tag_embeddings_free(e);
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
