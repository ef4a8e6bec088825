/*
 * predict.c - tagging encoded sentences in batches of similar lengths, the
 * labels written back as tags of the training file's scheme, and scoring
 * them against a corpus with the conlleval counts: what the task's
 * evaluation, the tagger's API and `recur tag` share.
 */
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "tasks/tag/tag_task.h"

int tag_by_length(const void *a, const void *b)
{
    const int64_t *x = a, *y = b; /* pairs (length, index) */
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

void tag_sort_by_length(const int64_t *sent_off, int64_t *idx, int64_t n, int64_t *pairs)
{
    for (int64_t i = 0; i < n; i++) {
        pairs[2 * i] = sent_off[idx[i] + 1] - sent_off[idx[i]];
        pairs[2 * i + 1] = idx[i];
    }
    qsort(pairs, (size_t)n, 2 * sizeof *pairs, tag_by_length);
    for (int64_t i = 0; i < n; i++)
        idx[i] = pairs[2 * i + 1];
}

recur_status tag_predict(tag_net *n, const tag_data *d, int32_t *out, int batch, char *msg)
{
    int64_t *order = malloc((size_t)d->n_sent * 3 * sizeof *order + 1);
    if (!order)
        return recur_seterr(msg, RECUR_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < d->n_sent; i++)
        order[i] = i;
    tag_sort_by_length(d->sent_off, order, d->n_sent, order + d->n_sent);
    /* longest first: the sentences still active at a step are the first
     * rows of the batch, the only ones its recurrent products multiply */
    for (int64_t i = 0, j = d->n_sent - 1; i < j; i++, j--) {
        int64_t o = order[i];
        order[i] = order[j];
        order[j] = o;
    }
    recur_error err = {0};
    recur_status st = tag_net_reserve(n, d, batch, &err);
    if (st != RECUR_OK)
        recur_seterr(msg, st, "%s", err.msg);
    else
        st = tag_net_cache_inputs(n, msg);
    for (int64_t s = 0; s < d->n_sent && st == RECUR_OK; s += batch) {
        int B = (int)(d->n_sent - s < batch ? d->n_sent - s : batch);
        st = tag_net_forward(n, d, order + s, B, 0, 0, msg);
        if (st == RECUR_OK)
            tag_net_decode(n, out);
    }
    free(order);
    return st;
}

recur_status tag_labels_to_tags(const tag_vocabs *v, const int32_t *labels, int len,
                                char (*out)[RECUR_TAG_MAX], recur_error *err)
{
    for (int t = 0; t < len; t++)
        strcpy(out[t], recur_vocab_token(v->labels, labels[t]));
    if (v->scheme == RECUR_TAGS_PLAIN || v->scheme == RECUR_TAGS_IOBES)
        return RECUR_OK;
    /* convert in place through pointers to the rows */
    const char **p = malloc((size_t)len * sizeof *p + 1);
    if (!p)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    for (int t = 0; t < len; t++)
        p[t] = out[t];
    recur_status st = recur_tags_convert(p, len, RECUR_TAGS_IOBES, v->scheme, out, err);
    free(p);
    return st;
}

/* Pointers to the rows of a tag array. */
static void rows(char (*tags)[RECUR_TAG_MAX], int n, const char **p)
{
    for (int t = 0; t < n; t++)
        p[t] = tags[t];
}

recur_status tag_score(const tag_vocabs *v, const recur_tag_corpus *c, const int32_t *pred,
                       recur_conlleval *e, recur_error *err)
{
    int64_t max_len = 0;
    for (int64_t s = 0; s < c->n_sent; s++)
        if (c->sent_off[s + 1] - c->sent_off[s] > max_len)
            max_len = c->sent_off[s + 1] - c->sent_off[s];
    /* conlleval misreads IOBES (no S-): such tags are scored as IOB2, the same chunks */
    const int to_iob2 = c->scheme == RECUR_TAGS_IOBES || v->scheme == RECUR_TAGS_IOBES;
    char (*tags)[RECUR_TAG_MAX] = malloc((size_t)max_len * sizeof *tags + 1);
    char (*gold)[RECUR_TAG_MAX] = malloc((size_t)max_len * sizeof *gold + 1);
    const char **ptr = malloc((size_t)max_len * sizeof *ptr + 1);
    recur_status st = RECUR_OK;
    if (!tags || !gold || !ptr)
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    for (int64_t s = 0; s < c->n_sent && st == RECUR_OK; s++) {
        int64_t o = c->sent_off[s];
        int len = (int)(c->sent_off[s + 1] - o);
        if ((st = tag_labels_to_tags(v, pred + o, len, tags, err)))
            break;
        if (to_iob2) {
            rows(tags, len, ptr);
            if ((st = recur_tags_convert(ptr, len, v->scheme, RECUR_TAGS_IOB2, tags, err)) ||
                (st = recur_tags_convert(c->tags + o, len, c->scheme, RECUR_TAGS_IOB2, gold, err)))
                break;
        }
        for (int t = 0; t < len && st == RECUR_OK; t++)
            if (recur_conlleval_add(e, c->words[o + t], to_iob2 ? gold[t] : c->tags[o + t], tags[t]) !=
                RECUR_OK)
                st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        if (st == RECUR_OK && recur_conlleval_add(e, NULL, NULL, NULL) != RECUR_OK)
            st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    free(tags);
    free(gold);
    free(ptr);
    return st;
}
