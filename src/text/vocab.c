/*
 * vocab.c - vocabularies of language models: tokens (UTF-8 strings) with ids
 * and counts, an open-addressing hash table (FNV-1a, linear probing) from
 * token to id, the fixing of a counted vocabulary (frequency order, limits,
 * <unk>), and the JSON array form stored in model files as "recur.vocab".
 *
 * Ids before recur_vocab_finish are in order of first appearance; finish
 * re-numbers by count (highest first, ties by first appearance), so that a
 * vocabulary built from the same text is the same on every machine.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/internal.h"

typedef struct vocab_entry {
    char *tok;     /* NUL-terminated copy */
    size_t len;
    int64_t count;
} vocab_entry;

struct recur_vocab {
    recur_lm_level level;
    vocab_entry *ents;
    int32_t n, cap;
    int32_t *table; /* ids, -1 empty; size tcap, a power of two */
    size_t tcap;
    char errmsg[RECUR_ERRMSG_LEN];
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void table_fill(recur_vocab *v, int32_t *t, size_t tcap)
{
    for (size_t i = 0; i < tcap; i++)
        t[i] = -1;
    for (int32_t id = 0; id < v->n; id++) {
        size_t j = (size_t)hash_bytes(v->ents[id].tok, v->ents[id].len) & (tcap - 1);
        while (t[j] >= 0)
            j = (j + 1) & (tcap - 1);
        t[j] = id;
    }
    free(v->table);
    v->table = t;
    v->tcap = tcap;
}

static int table_rebuild(recur_vocab *v, size_t tcap)
{
    int32_t *t = malloc(tcap * sizeof *t);
    if (!t)
        return -1;
    table_fill(v, t, tcap);
    return 0;
}

recur_status recur_vocab_create(recur_vocab **out, recur_lm_level level, recur_error *err)
{
    *out = NULL;
    if (level != RECUR_LEVEL_WORD && level != RECUR_LEVEL_CHAR)
        return recur_error_set(err, RECUR_ERR_ARG, "vocabulary: unknown level %d", (int)level);
    recur_vocab *v = calloc(1, sizeof *v);
    if (!v || table_rebuild(v, 64) != 0) {
        free(v);
        return recur_error_set(err, RECUR_ERR_NOMEM, "vocabulary: out of memory");
    }
    v->level = level;
    *out = v;
    return RECUR_OK;
}

void recur_vocab_free(recur_vocab *v)
{
    if (!v)
        return;
    for (int32_t i = 0; i < v->n; i++)
        free(v->ents[i].tok);
    free(v->ents);
    free(v->table);
    free(v);
}

recur_lm_level recur_vocab_level(const recur_vocab *v) { return v->level; }
int32_t recur_vocab_size(const recur_vocab *v) { return v->n; }

int32_t recur_vocab_find(const recur_vocab *v, const char *tok, size_t len)
{
    size_t j = (size_t)hash_bytes(tok, len) & (v->tcap - 1);
    for (;;) {
        int32_t id = v->table[j];
        if (id < 0)
            return -1;
        if (v->ents[id].len == len && !memcmp(v->ents[id].tok, tok, len))
            return id;
        j = (j + 1) & (v->tcap - 1);
    }
}

recur_status recur_vocab_add(recur_vocab *v, const char *tok, size_t len, int64_t n, int32_t *out)
{
    int32_t id = recur_vocab_find(v, tok, len);
    if (out)
        *out = -1;
    if (id >= 0) {
        v->ents[id].count += n;
        if (out)
            *out = id;
        return RECUR_OK;
    }
    if (v->n == INT32_MAX - 1)
        return recur_seterr(v->errmsg, RECUR_ERR_ARG, "vocabulary: more than %d tokens", INT32_MAX - 2);
    if (v->n == v->cap) {
        int32_t nc = v->cap ? (v->cap > INT32_MAX / 2 ? INT32_MAX - 1 : v->cap * 2) : 64;
        vocab_entry *ne = realloc(v->ents, (size_t)nc * sizeof *ne);
        if (!ne)
            return recur_seterr(v->errmsg, RECUR_ERR_NOMEM, "vocabulary: out of memory for %d tokens", (int)nc);
        v->ents = ne;
        v->cap = nc;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return recur_seterr(v->errmsg, RECUR_ERR_NOMEM, "vocabulary: out of memory for a token of %zu bytes", len);
    memcpy(copy, tok, len);
    copy[len] = '\0';
    /* Keep the table at most half full. */
    if ((size_t)(v->n + 1) * 2 > v->tcap && table_rebuild(v, v->tcap * 2) != 0) {
        free(copy);
        return recur_seterr(v->errmsg, RECUR_ERR_NOMEM, "vocabulary: out of memory for its hash table");
    }
    id = v->n++;
    v->ents[id] = (vocab_entry){copy, len, n};
    size_t j = (size_t)hash_bytes(tok, len) & (v->tcap - 1);
    while (v->table[j] >= 0)
        j = (j + 1) & (v->tcap - 1);
    v->table[j] = id;
    if (out)
        *out = id;
    return RECUR_OK;
}

const char *recur_vocab_errmsg(const recur_vocab *v) { return v ? v->errmsg : "no vocabulary"; }

const char *recur_vocab_token(const recur_vocab *v, int32_t id)
{
    return id >= 0 && id < v->n ? v->ents[id].tok : NULL;
}

int64_t recur_vocab_count(const recur_vocab *v, int32_t id)
{
    return id >= 0 && id < v->n ? v->ents[id].count : 0;
}

int32_t recur_vocab_unk(const recur_vocab *v)
{
    return recur_vocab_find(v, RECUR_TOKEN_UNK, strlen(RECUR_TOKEN_UNK));
}

int32_t recur_vocab_eos(const recur_vocab *v)
{
    if (v->level != RECUR_LEVEL_WORD)
        return -1;
    return recur_vocab_find(v, RECUR_TOKEN_EOS, strlen(RECUR_TOKEN_EOS));
}

/* Sort key of finish: count descending, then first appearance (old id). */
typedef struct sort_key {
    int64_t count;
    int32_t id;
} sort_key;

static int by_count(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

recur_status recur_vocab_finish(recur_vocab *v, int64_t max_size, int64_t min_count,
                                recur_error *err)
{
    if (max_size < 0)
        return recur_error_set(err, RECUR_ERR_ARG, "vocabulary: maximum size %lld is negative",
                               (long long)max_size);
    if (min_count < 0)
        return recur_error_set(err, RECUR_ERR_ARG, "vocabulary: minimum count %lld is negative",
                               (long long)min_count);
    int32_t eos = recur_vocab_eos(v), unk = recur_vocab_unk(v);
    int n_forced = 1 + (v->level == RECUR_LEVEL_WORD); /* <unk>, and <eos> for words */
    if (max_size > 0 && max_size <= n_forced)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "vocabulary: maximum size %lld leaves no room beside the %d "
                               "special token(s)",
                               (long long)max_size, n_forced);
    int has_regular = 0;
    for (int32_t i = 0; i < v->n; i++)
        if (i != eos && i != unk)
            has_regular = 1;
    if (!has_regular)
        return recur_error_set(err, RECUR_ERR_FORMAT, "vocabulary: no tokens counted");

    sort_key *order = malloc((size_t)v->n * sizeof *order);
    vocab_entry *ne = malloc(((size_t)v->n + 2) * sizeof *ne);
    char *eos_str = eos < 0 && v->level == RECUR_LEVEL_WORD ? dup_str(RECUR_TOKEN_EOS) : NULL;
    char *unk_str = unk < 0 ? dup_str(RECUR_TOKEN_UNK) : NULL;
    int32_t alloc = v->n + 2;
    size_t tcap = 64;
    while (tcap < (size_t)alloc * 2)
        tcap *= 2;
    int32_t *table = malloc(tcap * sizeof *table);
    if (!order || !ne || !table || (eos < 0 && v->level == RECUR_LEVEL_WORD && !eos_str) ||
        (unk < 0 && !unk_str)) {
        free(order);
        free(ne);
        free(eos_str);
        free(unk_str);
        free(table);
        return recur_error_set(err, RECUR_ERR_NOMEM, "vocabulary: out of memory");
    }
    for (int32_t i = 0; i < v->n; i++)
        order[i] = (sort_key){v->ents[i].count, i};
    qsort(order, (size_t)v->n, sizeof *order, by_count);

    /* Regular tokens fill what the forced ones leave. */
    int64_t slots = max_size > 0 ? max_size - n_forced : INT64_MAX;
    int64_t taken = 0, dropped = 0;
    int32_t m = 0, new_unk = -1;
    for (int32_t k = 0; k < v->n; k++) {
        int32_t i = order[k].id;
        int forced = (i == eos || i == unk);
        if (forced || (v->ents[i].count >= min_count && taken < slots)) {
            if (!forced)
                taken++;
            if (i == unk)
                new_unk = m;
            ne[m++] = v->ents[i];
        } else {
            dropped += v->ents[i].count;
            free(v->ents[i].tok);
        }
    }
    free(order);
    if (eos_str)
        ne[m++] = (vocab_entry){eos_str, strlen(eos_str), 0};
    if (unk_str) {
        new_unk = m;
        ne[m++] = (vocab_entry){unk_str, strlen(unk_str), 0};
    }
    ne[new_unk].count += dropped;
    free(v->ents);
    v->ents = ne;
    v->n = m;
    v->cap = alloc;
    table_fill(v, table, tcap);
    return RECUR_OK;
}

recur_status recur_vocab_to_json(const recur_vocab *v, char **json, recur_error *err)
{
    *json = NULL;
    json_t *a = json_array();
    if (!a)
        return recur_error_set(err, RECUR_ERR_NOMEM, "vocabulary: out of memory");
    for (int32_t i = 0; i < v->n; i++) {
        if (json_array_append_new(a, json_stringn(v->ents[i].tok, v->ents[i].len)) != 0) {
            json_decref(a);
            return recur_error_set(err, RECUR_ERR_NOMEM, "vocabulary: out of memory");
        }
    }
    /* Non-ASCII stays as UTF-8; one line, no spaces. */
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (!s)
        return recur_error_set(err, RECUR_ERR_NOMEM, "vocabulary: out of memory");
    *json = s;
    return RECUR_OK;
}

/* Number of code points in a valid UTF-8 string, or -1 when invalid. */
static long count_code_points(const char *s, size_t n)
{
    size_t pos = 0;
    long k = 0;
    uint32_t cp;
    while (pos < n) {
        if (!recur_utf8_decode(s, n, &pos, &cp))
            return -1;
        k++;
    }
    return k;
}

recur_status recur_vocab_from_json(recur_vocab **out, recur_lm_level level, const char *json,
                                   recur_error *err)
{
    *out = NULL;
    if (!json)
        return recur_error_set(err, RECUR_ERR_FORMAT, "recur.vocab: missing");
    json_error_t je;
    json_t *a = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!a)
        return recur_error_set(err, RECUR_ERR_FORMAT, "recur.vocab: invalid JSON at line %d column %d: %s",
                               je.line, je.column, je.text);
    recur_status st = RECUR_OK;
    recur_vocab *v = NULL;
    if (!json_is_array(a) || json_array_size(a) == 0) {
        st = recur_error_set(err, RECUR_ERR_FORMAT, "recur.vocab: expected a non-empty JSON array of strings");
        goto done;
    }
    if (json_array_size(a) > (size_t)INT32_MAX - 2) {
        st = recur_error_set(err, RECUR_ERR_FORMAT, "recur.vocab: too many tokens");
        goto done;
    }
    if ((st = recur_vocab_create(&v, level, err)) != RECUR_OK)
        goto done;
    size_t i;
    json_t *item;
    json_array_foreach(a, i, item) {
        if (!json_is_string(item)) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "recur.vocab: entry %zu is not a string", i);
            goto done;
        }
        const char *t = json_string_value(item);
        size_t len = json_string_length(item);
        if (len == 0 || memchr(t, '\0', len)) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "recur.vocab: entry %zu is empty or holds a NUL", i);
            goto done;
        }
        int special = (len == strlen(RECUR_TOKEN_UNK) && !memcmp(t, RECUR_TOKEN_UNK, len)) ||
                      (level == RECUR_LEVEL_WORD && len == strlen(RECUR_TOKEN_EOS) &&
                       !memcmp(t, RECUR_TOKEN_EOS, len));
        if (level == RECUR_LEVEL_CHAR && !special && count_code_points(t, len) != 1) {
            st = recur_error_set(err, RECUR_ERR_FORMAT,
                                 "recur.vocab: entry %zu (\"%.40s\") is not one character in a "
                                 "character vocabulary", i, t);
            goto done;
        }
        if (recur_vocab_find(v, t, len) >= 0) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "recur.vocab: entry %zu (\"%.40s\") repeats an earlier one", i, t);
            goto done;
        }
        if ((st = recur_vocab_add(v, t, len, 0, NULL)) != RECUR_OK) {
            recur_error_set(err, st, "recur.vocab: %s", recur_vocab_errmsg(v));
            goto done;
        }
    }
    if (level == RECUR_LEVEL_WORD && recur_vocab_eos(v) < 0) {
        st = recur_error_set(err, RECUR_ERR_FORMAT, "recur.vocab: a word vocabulary needs \"%s\"", RECUR_TOKEN_EOS);
        goto done;
    }
done:
    json_decref(a);
    if (st != RECUR_OK) {
        recur_vocab_free(v);
        return st;
    }
    *out = v;
    return RECUR_OK;
}
