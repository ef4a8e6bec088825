/*
 * ngram_vocab.c - the word <-> id table and the tokenizer shared by n-gram
 * training, ARPA loading and evaluation, so that all three split text and
 * spell words the same way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "ngram_internal.h"

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

recur_status ng_vocab_init(ng_vocab *v, recur_error *err)
{
    memset(v, 0, sizeof *v);
    v->cap = 1024;
    v->words = malloc((size_t)v->cap * sizeof *v->words);
    v->slots = malloc(2048 * sizeof *v->slots);
    if (!v->words || !v->slots) {
        ng_vocab_free(v);
        return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for the vocabulary");
    }
    v->mask = 2047;
    memset(v->slots, 0xff, 2048 * sizeof *v->slots);
    return RECUR_OK;
}

void ng_vocab_free(ng_vocab *v)
{
    if (v->words)
        for (int32_t i = 0; i < v->n; i++)
            free(v->words[i]);
    free(v->words);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

int32_t ng_vocab_find(const ng_vocab *v, const char *word, size_t len)
{
    size_t i = (size_t)hash_bytes(word, len) & v->mask;
    for (;;) {
        int32_t id = v->slots[i];
        if (id < 0)
            return -1;
        if (strncmp(v->words[id], word, len) == 0 && v->words[id][len] == '\0')
            return id;
        i = (i + 1) & v->mask;
    }
}

static void place(ng_vocab *v, int32_t id)
{
    const char *w = v->words[id];
    size_t i = (size_t)hash_bytes(w, strlen(w)) & v->mask;
    while (v->slots[i] >= 0)
        i = (i + 1) & v->mask;
    v->slots[i] = id;
}

recur_status ng_vocab_add(ng_vocab *v, const char *word, size_t len, int32_t *id, recur_error *err)
{
    if (v->n == INT32_MAX)
        return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: more than %d distinct words", INT32_MAX);
    if (v->n == v->cap) {
        int32_t cap = v->cap > INT32_MAX / 2 ? INT32_MAX : 2 * v->cap;
        char **w = realloc(v->words, (size_t)cap * sizeof *w);
        if (!w)
            return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for %d words", cap);
        v->words = w;
        v->cap = cap;
    }
    /* Keep the table at most half full so probes stay short. */
    if ((size_t)(v->n + 1) * 2 > v->mask + 1) {
        size_t nslots = 2 * (v->mask + 1);
        int32_t *s = malloc(nslots * sizeof *s);
        if (!s)
            return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for the vocabulary index");
        free(v->slots);
        v->slots = s;
        v->mask = nslots - 1;
        memset(v->slots, 0xff, nslots * sizeof *s);
        for (int32_t i = 0; i < v->n; i++)
            place(v, i);
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for a word");
    memcpy(copy, word, len);
    copy[len] = '\0';
    v->words[v->n] = copy;
    place(v, v->n);
    *id = v->n++;
    return RECUR_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

recur_status ng_tokenize(ng_tokens *t, char *line, recur_error *err)
{
    t->n = 0;
    char *p = line;
    for (;;) {
        while (*p && is_space(*p))
            p++;
        if (!*p)
            return RECUR_OK;
        char *start = p;
        while (*p && !is_space(*p))
            p++;
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 64;
            char **tok = realloc(t->tok, cap * sizeof *tok);
            if (tok)
                t->tok = tok;
            size_t *len = realloc(t->len, cap * sizeof *len);
            if (len)
                t->len = len;
            if (!tok || !len)
                return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for the words of a line");
            t->cap = cap;
        }
        t->tok[t->n] = start;
        t->len[t->n] = (size_t)(p - start);
        t->n++;
        if (*p)
            *p++ = '\0';
    }
}

void ng_tokens_free(ng_tokens *t)
{
    free(t->tok);
    free(t->len);
    memset(t, 0, sizeof *t);
}

long ng_read_line(FILE *f, char **line, size_t *cap, int *nul)
{
    size_t n = 0;
    *nul = 0;
    for (;;) {
        if (n + 2 > *cap) {
            size_t c = *cap ? 2 * *cap : 256;
            char *b = realloc(*line, c);
            if (!b) {
                errno = ENOMEM;
                return -1;
            }
            *line = b;
            *cap = c;
        }
        int ch = getc(f);
        if (ch == EOF) {
            if (ferror(f))
                return -1;
            break;
        }
        (*line)[n++] = (char)ch;
        if (ch == '\0') {
            *nul = 1;
            break;
        }
        if (ch == '\n')
            break;
    }
    (*line)[n] = '\0';
    return (long)n;
}

recur_status ng_check_line(const char *what, const char *path, long long lineno, const char *line, size_t len,
                           int nul, recur_error *err)
{
    if (nul)
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s: %s line %lld: binary data (a NUL byte); expected UTF-8 text",
                               what, path, lineno);
    size_t bad;
    if (!recur_utf8_valid(line, len, &bad))
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s: %s line %lld: invalid UTF-8 at byte %zu of the line: byte 0x%02X",
                               what, path, lineno, bad + 1, (unsigned)(unsigned char)line[bad]);
    return RECUR_OK;
}

recur_status ng_check_tokens(const char *what, const char *path, long long lineno, const ng_tokens *t,
                             recur_error *err)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->tok[i], NG_BOS_WORD) || !strcmp(t->tok[i], NG_EOS_WORD) || !strcmp(t->tok[i], RECUR_TOKEN_EOS))
            return recur_error_set(err, RECUR_ERR_FORMAT,
                                   "%s: %s line %lld: the word '%s' is reserved: sentence boundaries are implicit "
                                   "(each line is one sentence)",
                                   what, path, lineno, t->tok[i]);
    return RECUR_OK;
}
