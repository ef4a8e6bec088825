/*
 * cls_read.c - labelled sentences from text: `label<TAB>text` lines, and the
 * Stanford Sentiment Treebank's PTB-style trees, one a line:
 *     (3 (2 (2 The) (2 Rock)) (4 (3 is) ...))
 * Every node of a tree carries a sentiment label 0..4; its words are the
 * leaves under it, so a sub-tree's tokens are a contiguous run of the
 * sentence's.  Words and labels are copied into one arena and tokens are
 * offsets into it: a reader allocates a few growing arrays, never a string
 * per word.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/classify/classify_internal.h"

void cls_corpus_free(cls_corpus *c)
{
    free(c->arena);
    free(c->tok);
    free(c->items);
    memset(c, 0, sizeof *c);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* Copies s[0..n) as a NUL-terminated string; returns its offset or SIZE_MAX. */
static size_t arena_add(cls_corpus *c, const char *s, size_t n, int lower)
{
    if (grow((void **)&c->arena, &c->arena_cap, c->arena_len + n + 1, 1))
        return SIZE_MAX;
    size_t off = c->arena_len;
    char *d = c->arena + off;
    for (size_t i = 0; i < n; i++)
        d[i] = lower && s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    d[n] = '\0';
    c->arena_len += n + 1;
    return off;
}

static int add_token(cls_corpus *c, const char *s, size_t n, int lower)
{
    size_t off = arena_add(c, s, n, lower);
    if (off == SIZE_MAX || grow((void **)&c->tok, &c->tok_cap, c->n_tok + 1, sizeof *c->tok))
        return -1;
    c->tok[c->n_tok++] = off;
    return 0;
}

static cls_item *add_item(cls_corpus *c)
{
    if (grow((void **)&c->items, &c->cap, c->n + 1, sizeof *c->items))
        return NULL;
    cls_item *it = &c->items[c->n++];
    memset(it, 0, sizeof *it);
    it->first = c->n_tok;
    it->sst = -1;
    return it;
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f'; }

/* ---- TSV ------------------------------------------------------------------ */

recur_status cls_read_tsv(cls_corpus *out, const char *text, size_t len, const char *name,
                          int lower, recur_error *err)
{
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    int64_t line = 0;
    while (pos < len) {
        line++;
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n > 0 && s[n - 1] == '\r')
            n--;
        recur_status st = RECUR_ERR_FORMAT;
        const char *tab = memchr(s, '\t', n);
        if (n == 0) {
            recur_error_set(err, st, "%s:%lld: empty line (expected label<TAB>text)", name, (long long)line);
            goto fail;
        }
        if (!tab) {
            recur_error_set(err, st, "%s:%lld: no tab (expected label<TAB>text)", name, (long long)line);
            goto fail;
        }
        if (tab == s) {
            recur_error_set(err, st, "%s:%lld: empty label before the tab", name, (long long)line);
            goto fail;
        }
        cls_item *it = add_item(out);
        if (!it)
            goto nomem;
        it->line = line;
        it->root = 1;
        size_t lab = arena_add(out, s, (size_t)(tab - s), 0);
        if (lab == SIZE_MAX)
            goto nomem;
        it->label = lab;
        const char *e = s + n;
        for (const char *p = tab + 1; p < e;) {
            while (p < e && is_space(*p))
                p++;
            const char *w = p;
            while (p < e && !is_space(*p))
                p++;
            if (p > w) {
                if (add_token(out, w, (size_t)(p - w), lower))
                    goto nomem;
                it = &out->items[out->n - 1];
                it->len++;
            }
        }
        if (out->items[out->n - 1].len == 0) {
            recur_error_set(err, st, "%s:%lld: empty text after the label", name, (long long)line);
            goto fail;
        }
    }
    return RECUR_OK;
nomem:
    recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", name);
fail:
    cls_corpus_free(out);
    return err ? err->status : RECUR_ERR_FORMAT;
}

/* ---- SST trees -------------------------------------------------------------------- */

typedef struct tree_reader {
    cls_corpus *c;
    const char *p, *e; /* the line */
    const char *name;
    int64_t line;
    int lower;
    recur_error *err;
} tree_reader;

static void skip_space(tree_reader *r)
{
    while (r->p < r->e && is_space(*r->p))
        r->p++;
}

/* An atom: a run of characters that are neither space nor parenthesis. */
static size_t atom(tree_reader *r)
{
    const char *s = r->p;
    while (r->p < r->e && !is_space(*r->p) && *r->p != '(' && *r->p != ')')
        r->p++;
    return (size_t)(r->p - s);
}

#define MAX_TREE_DEPTH 10000

/* Reads the node at r->p ('(' expected) and its sub-trees (pre-order). */
static recur_status read_node(tree_reader *r, const char *line_start, int depth)
{
    if (depth > MAX_TREE_DEPTH)
        return recur_error_set(r->err, RECUR_ERR_FORMAT, "%s:%lld: a tree deeper than %d levels",
                               r->name, (long long)r->line, MAX_TREE_DEPTH);
    long long col = (long long)(r->p - line_start) + 1;
    if (r->p >= r->e || *r->p != '(')
        return recur_error_set(r->err, RECUR_ERR_FORMAT, "%s:%lld:%lld: expected '(' to open a node",
                               r->name, (long long)r->line, col);
    r->p++;
    skip_space(r);
    const char *ls = r->p;
    size_t ln = atom(r);
    col = (long long)(ls - line_start) + 1;
    if (ln != 1 || *ls < '0' || *ls > '4') {
        if (ln == 0)
            return recur_error_set(r->err, RECUR_ERR_FORMAT, "%s:%lld:%lld: a node without a label",
                                   r->name, (long long)r->line, col);
        return recur_error_set(r->err, RECUR_ERR_FORMAT,
                               "%s:%lld:%lld: label '%.*s' is not a number 0..4", r->name,
                               (long long)r->line, col, (int)(ln > 40 ? 40 : ln), ls);
    }
    size_t index = r->c->n;
    cls_item *it = add_item(r->c);
    if (!it)
        return recur_error_set(r->err, RECUR_ERR_NOMEM, "%s: out of memory", r->name);
    it->sst = *ls - '0';
    it->line = r->line;
    it->root = depth == 0;
    skip_space(r);
    if (r->p < r->e && *r->p == '(') {
        while (r->p < r->e && *r->p == '(') {
            recur_status st = read_node(r, line_start, depth + 1);
            if (st)
                return st;
            skip_space(r);
        }
        if (r->p < r->e && *r->p != ')')
            return recur_error_set(r->err, RECUR_ERR_FORMAT,
                                   "%s:%lld:%lld: a word beside sub-trees (a leaf is '(label word)')",
                                   r->name, (long long)r->line, (long long)(r->p - line_start) + 1);
    } else {
        const char *ws = r->p;
        size_t wn = atom(r);
        if (wn == 0) {
            if (r->p >= r->e)
                return recur_error_set(r->err, RECUR_ERR_FORMAT,
                                       "%s:%lld: unbalanced parentheses: the line ends inside a node",
                                       r->name, (long long)r->line);
            return recur_error_set(r->err, RECUR_ERR_FORMAT, "%s:%lld:%lld: a node without words",
                                   r->name, (long long)r->line, (long long)(r->p - line_start) + 1);
        }
        if (add_token(r->c, ws, wn, r->lower))
            return recur_error_set(r->err, RECUR_ERR_NOMEM, "%s: out of memory", r->name);
        skip_space(r);
    }
    if (r->p >= r->e)
        return recur_error_set(r->err, RECUR_ERR_FORMAT,
                               "%s:%lld: unbalanced parentheses: the line ends inside a node",
                               r->name, (long long)r->line);
    if (*r->p != ')')
        return recur_error_set(r->err, RECUR_ERR_FORMAT,
                               "%s:%lld:%lld: a second word in a leaf (a leaf is '(label word)')",
                               r->name, (long long)r->line, (long long)(r->p - line_start) + 1);
    r->p++;
    it = &r->c->items[index];
    it->len = (int32_t)(r->c->n_tok - it->first);
    it->label = SIZE_MAX; /* set by cls_sst_select */
    return RECUR_OK;
}

recur_status cls_read_sst(cls_corpus *out, const char *text, size_t len, const char *name,
                          int lower, recur_error *err)
{
    memset(out, 0, sizeof *out);
    tree_reader r = {.c = out, .name = name, .lower = lower, .err = err};
    size_t pos = 0;
    recur_status st = RECUR_OK;
    while (pos < len) {
        r.line++;
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        r.p = s;
        r.e = s + n;
        skip_space(&r);
        if (r.p == r.e) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: empty line (expected a tree)", name,
                                 (long long)r.line);
            break;
        }
        if (*r.p == ')') {
            st = recur_error_set(err, RECUR_ERR_FORMAT,
                                 "%s:%lld:%lld: unbalanced parentheses: ')' without '('", name,
                                 (long long)r.line, (long long)(r.p - s) + 1);
            break;
        }
        if ((st = read_node(&r, s, 0)) != RECUR_OK)
            break;
        skip_space(&r);
        if (r.p < r.e) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld:%lld: %s", name, (long long)r.line,
                                 (long long)(r.p - s) + 1,
                                 *r.p == ')' ? "unbalanced parentheses: ')' without '('"
                                             : "text after the tree");
            break;
        }
    }
    if (st)
        cls_corpus_free(out);
    return st;
}

/* ---- SST examples and labels ------------------------------------------------------------- */

static const char *const SST5[] = {"0", "1", "2", "3", "4"};
static const char *const SST2[] = {"negative", "positive"};

int cls_sst_labels(int classes, const char *const **names)
{
    *names = classes == 2 ? SST2 : SST5;
    return classes == 2 ? 2 : 5;
}

static uint64_t item_hash(const cls_corpus *c, const cls_item *it)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)it->label;
    for (int32_t k = 0; k < it->len; k++) {
        for (const unsigned char *s = (const unsigned char *)cls_word(c, it->first + (size_t)k); *s; s++)
            h = (h ^ *s) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL; /* word separator */
    }
    return h;
}

static int item_equal(const cls_corpus *c, const cls_item *a, const cls_item *b)
{
    if (a->label != b->label || a->len != b->len)
        return 0;
    for (int32_t k = 0; k < a->len; k++)
        if (strcmp(cls_word(c, a->first + (size_t)k), cls_word(c, b->first + (size_t)k)))
            return 0;
    return 1;
}

recur_status cls_sst_select(cls_corpus *c, int classes, int phrases, recur_error *err)
{
    if (classes != 2 && classes != 5)
        return recur_error_set(err, RECUR_ERR_ARG, "SST: classes must be 2 or 5, not %d", classes);
    const char *const *names;
    int k = cls_sst_labels(classes, &names);
    size_t off[5];
    for (int i = 0; i < k; i++)
        if ((off[i] = arena_add(c, names[i], strlen(names[i]), 0)) == SIZE_MAX)
            return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    size_t cap = 16;
    while (cap < 2 * c->n + 2)
        cap *= 2;
    size_t *table = phrases ? malloc(cap * sizeof *table) : NULL;
    if (phrases && !table)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    if (table)
        memset(table, 0xff, cap * sizeof *table);
    size_t kept = 0;
    for (size_t i = 0; i < c->n; i++) {
        cls_item it = c->items[i];
        if (it.sst < 0) {
            free(table);
            return recur_error_set(err, RECUR_ERR_ARG, "SST: an item without a tree label");
        }
        if (!it.root && !phrases)
            continue;
        if (classes == 2) {
            if (it.sst == 2)
                continue;
            it.label = off[it.sst < 2 ? 0 : 1];
        } else {
            it.label = off[it.sst];
        }
        if (table) {
            size_t slot = (size_t)item_hash(c, &it) & (cap - 1);
            int dup = 0;
            while (table[slot] != SIZE_MAX) {
                if (item_equal(c, &c->items[table[slot]], &it)) {
                    dup = 1;
                    break;
                }
                slot = (slot + 1) & (cap - 1);
            }
            if (dup && !it.root)
                continue;
            if (!dup)
                table[slot] = kept;
        }
        c->items[kept++] = it;
    }
    free(table);
    c->n = kept;
    return RECUR_OK;
}
