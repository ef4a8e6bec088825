/*
 * s2s_vocab.c - the two sides' vocabularies, tokenising, and pairs files.
 *
 * A vocabulary is a list of token strings with ids in order and a hash
 * index (open addressing).  Pairs files are read strictly: each error names
 * the file and line, and nothing of a bad file is kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/seq2seq/s2s_internal.h"

/* ---- vocabularies ---- */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

recur_status s2s_vocab_new(recur_s2s_vocab **out, recur_lm_level level, int target)
{
    recur_s2s_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return RECUR_ERR_NOMEM;
    v->level = level;
    *out = v;
    static const char *const src_special[] = {"<unk>"};
    static const char *const tgt_special[] = {"</s>", "<s>", "<unk>"};
    const char *const *sp = target ? tgt_special : src_special;
    int n = target ? 3 : 1;
    for (int i = 0; i < n; i++)
        if (s2s_vocab_add(v, sp[i], strlen(sp[i])) < 0)
            return RECUR_ERR_NOMEM;
    return RECUR_OK;
}

void recur_s2s_vocab_free(recur_s2s_vocab *v)
{
    if (!v)
        return;
    for (int32_t i = 0; i < v->n; i++)
        free(v->tok[i]);
    free(v->tok);
    free(v->count);
    free(v->slot);
    free(v);
}

int32_t recur_s2s_vocab_size(const recur_s2s_vocab *v) { return v->n; }

const char *recur_s2s_vocab_token(const recur_s2s_vocab *v, int32_t id)
{
    return id >= 0 && id < v->n ? v->tok[id] : NULL;
}

int32_t recur_s2s_vocab_find(const recur_s2s_vocab *v, const char *tok, size_t len)
{
    if (!v->n_slot)
        return -1;
    uint32_t mask = (uint32_t)v->n_slot - 1;
    for (uint32_t i = hash_bytes(tok, len) & mask;; i = (i + 1) & mask) {
        int32_t id = v->slot[i];
        if (id < 0)
            return -1;
        if (strlen(v->tok[id]) == len && !memcmp(v->tok[id], tok, len))
            return id;
    }
}

static int rehash(recur_s2s_vocab *v, int32_t n_slot)
{
    int32_t *slot = malloc((size_t)n_slot * sizeof *slot);
    if (!slot)
        return -1;
    for (int32_t i = 0; i < n_slot; i++)
        slot[i] = -1;
    uint32_t mask = (uint32_t)n_slot - 1;
    for (int32_t id = 0; id < v->n; id++) {
        uint32_t i = hash_bytes(v->tok[id], strlen(v->tok[id])) & mask;
        while (slot[i] >= 0)
            i = (i + 1) & mask;
        slot[i] = id;
    }
    free(v->slot);
    v->slot = slot;
    v->n_slot = n_slot;
    return 0;
}

int32_t s2s_vocab_add(recur_s2s_vocab *v, const char *tok, size_t len)
{
    int32_t id = recur_s2s_vocab_find(v, tok, len);
    if (id >= 0) {
        v->count[id]++;
        return id;
    }
    if (v->n == v->cap) {
        int32_t cap = v->cap ? v->cap * 2 : 64;
        char **t = realloc(v->tok, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        v->tok = t;
        int64_t *c = realloc(v->count, (size_t)cap * sizeof *c);
        if (!c)
            return -1;
        v->count = c;
        v->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, tok, len);
    copy[len] = 0;
    id = v->n++;
    v->tok[id] = copy;
    v->count[id] = 1;
    if ((int64_t)v->n * 2 > v->n_slot) {
        if (rehash(v, v->n_slot ? v->n_slot * 2 : 128)) {
            v->n--;
            free(copy);
            return -1;
        }
    } else {
        uint32_t mask = (uint32_t)v->n_slot - 1;
        uint32_t i = hash_bytes(tok, len) & mask;
        while (v->slot[i] >= 0)
            i = (i + 1) & mask;
        v->slot[i] = id;
    }
    return id;
}

/* ---- tokens ---- */

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

int s2s_tokenize(recur_lm_level level, const char *s, size_t len, s2s_token_fn fn, void *ctx)
{
    size_t i = 0;
    if (level == RECUR_LEVEL_CHAR) {
        while (i < len) {
            size_t start = i;
            uint32_t cp;
            if (!recur_utf8_decode(s, len, &i, &cp))
                i = start + 1; /* checked before: cannot happen on read text */
            int rc = fn(ctx, s + start, i - start);
            if (rc)
                return rc;
        }
        return 0;
    }
    while (i < len) {
        while (i < len && is_space(s[i]))
            i++;
        size_t start = i;
        while (i < len && !is_space(s[i]))
            i++;
        if (i > start) {
            int rc = fn(ctx, s + start, i - start);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int count_token(void *ctx, const char *tok, size_t len)
{
    (void)tok;
    (void)len;
    (*(int *)ctx)++;
    return 0;
}

static int n_tokens(recur_lm_level level, const char *s, size_t len)
{
    int n = 0;
    s2s_tokenize(level, s, len, count_token, &n);
    return n;
}

/* ---- pairs ---- */

typedef struct s2s_source {
    char *text;
    int n_tgt, cap;
    char **tgt;
} s2s_source;

struct recur_s2s_pairs {
    s2s_source *src;
    size_t n, cap, n_pairs;
    size_t *slot; /* hash index of sources: id + 1, 0 empty */
    size_t n_slot;
};

void recur_s2s_pairs_free(recur_s2s_pairs *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->src[i].text);
        for (int k = 0; k < p->src[i].n_tgt; k++)
            free(p->src[i].tgt[k]);
        free(p->src[i].tgt);
    }
    free(p->src);
    free(p->slot);
    free(p);
}

size_t recur_s2s_pairs_sources(const recur_s2s_pairs *p) { return p->n; }
const char *recur_s2s_pairs_source(const recur_s2s_pairs *p, size_t i) { return i < p->n ? p->src[i].text : NULL; }
int recur_s2s_pairs_num_targets(const recur_s2s_pairs *p, size_t i) { return i < p->n ? p->src[i].n_tgt : 0; }
const char *recur_s2s_pairs_target(const recur_s2s_pairs *p, size_t i, int k)
{
    return i < p->n && k >= 0 && k < p->src[i].n_tgt ? p->src[i].tgt[k] : NULL;
}
size_t recur_s2s_pairs_count(const recur_s2s_pairs *p) { return p->n_pairs; }

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int pairs_rehash(recur_s2s_pairs *p, size_t n_slot)
{
    size_t *slot = calloc(n_slot, sizeof *slot);
    if (!slot)
        return -1;
    for (size_t id = 0; id < p->n; id++) {
        size_t i = hash_bytes(p->src[id].text, strlen(p->src[id].text)) & (n_slot - 1);
        while (slot[i])
            i = (i + 1) & (n_slot - 1);
        slot[i] = id + 1;
    }
    free(p->slot);
    p->slot = slot;
    p->n_slot = n_slot;
    return 0;
}

/* The source's index, added when new; (size_t)-1 when memory runs out. */
static size_t pairs_source(recur_s2s_pairs *p, const char *s, size_t len)
{
    if (p->n_slot) {
        size_t mask = p->n_slot - 1;
        for (size_t i = hash_bytes(s, len) & mask; p->slot[i]; i = (i + 1) & mask) {
            const char *t = p->src[p->slot[i] - 1].text;
            if (strlen(t) == len && !memcmp(t, s, len))
                return p->slot[i] - 1;
        }
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        s2s_source *n = realloc(p->src, cap * sizeof *n);
        if (!n)
            return (size_t)-1;
        p->src = n;
        p->cap = cap;
    }
    s2s_source *x = &p->src[p->n];
    memset(x, 0, sizeof *x);
    if (!(x->text = dup_n(s, len)))
        return (size_t)-1;
    p->n++;
    if (p->n * 2 > p->n_slot) {
        if (pairs_rehash(p, p->n_slot ? p->n_slot * 2 : 512))
            return (size_t)-1;
    } else {
        size_t mask = p->n_slot - 1, i = hash_bytes(s, len) & mask;
        while (p->slot[i])
            i = (i + 1) & mask;
        p->slot[i] = p->n;
    }
    return p->n - 1;
}

static int add_target(recur_s2s_pairs *p, size_t id, const char *t, size_t len)
{
    s2s_source *x = &p->src[id];
    for (int k = 0; k < x->n_tgt; k++)
        if (strlen(x->tgt[k]) == len && !memcmp(x->tgt[k], t, len))
            return 0; /* the same reference twice counts once */
    if (x->n_tgt == x->cap) {
        int cap = x->cap ? x->cap * 2 : 2;
        char **n = realloc(x->tgt, (size_t)cap * sizeof *n);
        if (!n)
            return -1;
        x->tgt = n;
        x->cap = cap;
    }
    if (!(x->tgt[x->n_tgt] = dup_n(t, len)))
        return -1;
    x->n_tgt++;
    p->n_pairs++;
    return 0;
}

recur_status recur_s2s_pairs_parse(recur_s2s_pairs **out, const char *text, size_t len,
                                   const char *name, recur_lm_level src_level,
                                   recur_lm_level tgt_level, int flags, recur_error *err)
{
    *out = NULL;
    recur_status st = recur_text_check(text, len, name, err);
    if (st != RECUR_OK)
        return st;
    recur_s2s_pairs *p = calloc(1, sizeof *p);
    if (!p)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    size_t pos = 0;
    int64_t line = 0;
    while (pos < len) {
        line++;
        const char *ls = text + pos;
        const char *nl = memchr(ls, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - ls) : len - pos;
        pos += ll + (nl ? 1 : 0);
        if (ll > 0 && ls[ll - 1] == '\r')
            ll--;
        if (ll == 0)
            continue;
        const char *tab = memchr(ls, '\t', ll);
        if (!tab && !(flags & RECUR_S2S_SOURCES_ONLY)) {
            st = recur_error_set(err, RECUR_ERR_FORMAT,
                                 "%s:%lld: no tab: a line is source<TAB>target", name,
                                 (long long)line);
            goto fail;
        }
        size_t sl = tab ? (size_t)(tab - ls) : ll;
        if (n_tokens(src_level, ls, sl) == 0) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: the source is empty", name,
                                 (long long)line);
            goto fail;
        }
        size_t id = pairs_source(p, ls, sl);
        if (id == (size_t)-1)
            goto nomem;
        if (flags & RECUR_S2S_SOURCES_ONLY)
            continue;
        const char *f = tab + 1, *end = ls + ll;
        for (;;) {
            const char *t = memchr(f, '\t', (size_t)(end - f));
            size_t fl = t ? (size_t)(t - f) : (size_t)(end - f);
            if (n_tokens(tgt_level, f, fl) == 0) {
                st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: a target is empty", name,
                                     (long long)line);
                goto fail;
            }
            if (add_target(p, id, f, fl))
                goto nomem;
            if (!t)
                break;
            f = t + 1;
        }
    }
    if (p->n == 0) {
        st = recur_error_set(err, RECUR_ERR_FORMAT, "%s: no pairs", name);
        goto fail;
    }
    *out = p;
    return RECUR_OK;
nomem:
    st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
fail:
    recur_s2s_pairs_free(p);
    return st;
}

recur_status recur_s2s_pairs_read(recur_s2s_pairs **out, const char *path,
                                  recur_lm_level src_level, recur_lm_level tgt_level, int flags,
                                  recur_error *err)
{
    char *text;
    size_t len;
    *out = NULL;
    recur_status st = recur_text_read(path, &text, &len, err);
    if (st != RECUR_OK)
        return st;
    st = recur_s2s_pairs_parse(out, text, len, path, src_level, tgt_level, flags, err);
    free(text);
    return st;
}
