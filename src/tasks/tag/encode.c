/*
 * encode.c - a tagger's vocabularies (words by their lookup key, characters
 * by code point, labels) as JSON arrays in the model file, and the encoding
 * of sentences into the ids the network reads.  Unknown words and
 * characters read as <unk> (id 0 of both); labels of a chunk scheme are
 * converted to the scheme the tagger was trained in (IOBES).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/internal.h"
#include "tasks/tag/tag_internal.h"

void tag_vocabs_free(tag_vocabs *v)
{
    recur_vocab_free(v->words);
    recur_vocab_free(v->chars);
    recur_vocab_free(v->labels);
    memset(v, 0, sizeof *v);
}

char *tag_vocab_json(const recur_vocab *v)
{
    json_t *a = json_array();
    for (int32_t i = 0; a && i < recur_vocab_size(v); i++)
        if (json_array_append_new(a, json_string(recur_vocab_token(v, i)))) {
            json_decref(a);
            return NULL;
        }
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return s;
}

recur_status tag_vocab_from_json(recur_vocab **out, const char *json, const char *what,
                                 recur_error *err)
{
    *out = NULL;
    json_error_t je;
    json_t *a = json ? json_loads(json, 0, &je) : NULL;
    if (!json_is_array(a) || json_array_size(a) == 0) {
        json_decref(a);
        return recur_error_set(err, RECUR_ERR_FORMAT, "the %s of the tagger are missing or not a "
                                                      "JSON array", what);
    }
    recur_status st = recur_vocab_create(out, RECUR_LEVEL_WORD, err);
    for (size_t i = 0; st == RECUR_OK && i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || !*s || recur_vocab_find(*out, s, strlen(s)) >= 0)
            st = recur_error_set(err, RECUR_ERR_FORMAT, "the %s of the tagger: entry %zu is %s", what,
                                 i, !s || !*s ? "not a non-empty string" : "a duplicate");
        else if (recur_vocab_add(*out, s, strlen(s), 0, NULL) != RECUR_OK)
            st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    json_decref(a);
    if (st != RECUR_OK) {
        recur_vocab_free(*out);
        *out = NULL;
    }
    return st;
}

void tag_data_free(tag_data *d)
{
    free(d->sent_off);
    free(d->word);
    free(d->caps);
    free(d->char_off);
    free(d->chars);
    free(d->label);
    memset(d, 0, sizeof *d);
}

/* UTF-8 length of the code point starting with byte c (text is valid UTF-8) */
static int cp_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

recur_status tag_encode(const tag_vocabs *v, const char *const *words, const char *const *tags,
                        recur_tag_scheme scheme, const int64_t *sent_off, int64_t n_sent,
                        tag_data *d, recur_error *err)
{
    memset(d, 0, sizeof *d);
    const int64_t n = sent_off[n_sent] - sent_off[0];
    size_t n_chars = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *w = words[sent_off[0] + i];
        int k = 0;
        for (size_t p = 0; w[p] && k < v->max_word_chars; p += (size_t)cp_len((unsigned char)w[p]))
            k++;
        n_chars += (size_t)k;
    }
    d->n_sent = n_sent;
    d->n_tok = n;
    d->sent_off = malloc((size_t)(n_sent + 1) * sizeof *d->sent_off);
    d->word = malloc((size_t)n * sizeof *d->word + 1);
    d->caps = malloc((size_t)n + 1);
    d->char_off = malloc((size_t)(n + 1) * sizeof *d->char_off);
    d->chars = malloc(n_chars * sizeof *d->chars + 1);
    d->label = tags ? malloc((size_t)n * sizeof *d->label + 1) : NULL;
    char (*conv)[RECUR_TAG_MAX] = NULL;
    const char **conv_ptr = NULL;
    int64_t max_len = 0;
    for (int64_t s = 0; s < n_sent; s++)
        if (sent_off[s + 1] - sent_off[s] > max_len)
            max_len = sent_off[s + 1] - sent_off[s];
    if (tags) {
        conv = malloc((size_t)max_len * sizeof *conv + 1);
        conv_ptr = malloc((size_t)max_len * sizeof *conv_ptr + 1);
    }
    recur_status st = RECUR_OK;
    if (!d->sent_off || !d->word || !d->caps || !d->char_off || !d->chars ||
        (tags && (!d->label || !conv || !conv_ptr))) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto done;
    }
    int64_t c = 0;
    char key[1024];
    for (int64_t s = 0; s <= n_sent; s++)
        d->sent_off[s] = sent_off[s] - sent_off[0];
    for (int64_t i = 0; i < n; i++) {
        const char *w = words[sent_off[0] + i];
        size_t kl = word_key(w, v->lowercase, key, sizeof key);
        int32_t id = recur_vocab_find(v->words, key, kl);
        d->word[i] = id < 0 ? 0 : id;
        d->caps[i] = (uint8_t)word_caps(w);
        d->char_off[i] = c;
        int k = 0;
        for (size_t p = 0; w[p] && k < v->max_word_chars; k++) {
            int l = cp_len((unsigned char)w[p]);
            int32_t cid = recur_vocab_find(v->chars, w + p, (size_t)l);
            d->chars[c++] = cid < 0 ? 0 : cid;
            p += (size_t)l;
        }
    }
    d->char_off[n] = c;
    if (tags) {
        recur_tag_scheme to = v->scheme == RECUR_TAGS_PLAIN ? RECUR_TAGS_PLAIN : RECUR_TAGS_IOBES;
        for (int64_t s = 0; s < n_sent; s++) {
            int len = (int)(sent_off[s + 1] - sent_off[s]);
            const char *const *in = tags + sent_off[s];
            if (scheme != to || to != RECUR_TAGS_PLAIN) {
                if ((st = recur_tags_convert(in, len, scheme, to, conv, err)) != RECUR_OK)
                    goto done;
                for (int t = 0; t < len; t++)
                    conv_ptr[t] = conv[t];
                in = conv_ptr;
            }
            for (int t = 0; t < len; t++)
                d->label[d->sent_off[s] + t] = recur_vocab_find(v->labels, in[t], strlen(in[t]));
        }
    }
done:
    free(conv);
    free(conv_ptr);
    if (st != RECUR_OK)
        tag_data_free(d);
    return st;
}
