/*
 * conll.c - CoNLL column files: one token a line, columns separated by
 * spaces or tabs, a blank line between sentences, "-DOCSTART-" lines
 * (document breaks) skipped.  The word and tag columns are chosen, so one
 * file serves a part-of-speech tagger (CoNLL-2003 column 2) and an entity
 * tagger (column 4).  The file is read whole and cut in place: words and
 * tags point into its text.  Every error names the file and the line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "tasks/tag/tag_internal.h"

#define MAX_COLUMNS 64

void recur_tag_read_config_default(recur_tag_read_config *c)
{
    c->word_column = 1;
    c->tag_column = 0;
    c->max_length = 1000;
    c->scheme = -1;
}

void recur_tag_corpus_free(recur_tag_corpus *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->text);
    free(c->sent_off);
    free(c->words);
    free(c->tags);
    free(c->line);
    free(c);
}

int64_t recur_tag_corpus_sentences(const recur_tag_corpus *c) { return c->n_sent; }
int64_t recur_tag_corpus_tokens(const recur_tag_corpus *c) { return c->n_tok; }
recur_tag_scheme recur_tag_corpus_scheme(const recur_tag_corpus *c) { return c->scheme; }
const char *recur_tag_corpus_path(const recur_tag_corpus *c) { return c->path; }

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*p, nc * size);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* Ends the sentence being read (if it has tokens). */
static int close_sentence(recur_tag_corpus *c, size_t *cap_sent)
{
    if (c->sent_off[c->n_sent] == c->n_tok)
        return 0;
    if (grow((void **)&c->sent_off, cap_sent, (size_t)c->n_sent + 2, sizeof *c->sent_off))
        return -1;
    c->n_sent++;
    c->sent_off[c->n_sent] = c->n_tok;
    return 0;
}

recur_status recur_tag_corpus_read(recur_tag_corpus **out, const char *path,
                                   const recur_tag_read_config *cfg, recur_error *err)
{
    *out = NULL;
    if (cfg->word_column < 1 || cfg->word_column > MAX_COLUMNS || cfg->tag_column < -1 ||
        cfg->tag_column > MAX_COLUMNS || cfg->max_length < 1 || cfg->scheme < -1 ||
        cfg->scheme > RECUR_TAGS_IOBES)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "%s: word column 1..%d, tag column -1..%d, max length >= 1", path,
                               MAX_COLUMNS, MAX_COLUMNS);
    recur_tag_corpus *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    recur_status st;
    size_t len = 0, cap_sent = 0, cap_tok = 0;
    if ((st = recur_text_read(path, &c->text, &len, err)) != RECUR_OK)
        goto fail;
    const int with_tags = cfg->tag_column >= 0;
    if (grow((void **)&c->sent_off, &cap_sent, 1, sizeof *c->sent_off))
        goto nomem;
    c->sent_off[0] = 0;
    int file_columns = 0;
    int64_t lineno = 0, sent_line = 0;
    char *p = c->text, *end = c->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        lineno++;
        if (eol > p && eol[-1] == '\r')
            eol[-1] = '\0';
        *eol = '\0';
        char *fields[MAX_COLUMNS];
        int nf = 0;
        for (char *q = p; *q;) {
            while (*q == ' ' || *q == '\t')
                *q++ = '\0';
            if (!*q)
                break;
            if (nf == MAX_COLUMNS) {
                st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: more than %d columns", path,
                                     (long long)lineno, MAX_COLUMNS);
                goto fail;
            }
            fields[nf++] = q;
            while (*q && *q != ' ' && *q != '\t')
                q++;
        }
        p = eol + 1;
        if (nf == 0 || !strcmp(fields[0], "-DOCSTART-")) {
            if (close_sentence(c, &cap_sent))
                goto nomem;
            continue;
        }
        if (file_columns == 0)
            file_columns = nf;
        else if (nf != file_columns) {
            st = recur_error_set(err, RECUR_ERR_FORMAT,
                                 "%s:%lld: %d columns where the file's first line has %d", path,
                                 (long long)lineno, nf, file_columns);
            goto fail;
        }
        int need = cfg->word_column > cfg->tag_column ? cfg->word_column : cfg->tag_column;
        if (with_tags && cfg->tag_column == 0 && need < 2)
            need = 2;
        if (nf < need) {
            st = recur_error_set(err, RECUR_ERR_FORMAT,
                                 "%s:%lld: %d column%s, but the %s is read from column %d", path,
                                 (long long)lineno, nf, nf == 1 ? "" : "s",
                                 cfg->tag_column >= cfg->word_column || cfg->tag_column == 0
                                     ? "tag" : "word",
                                 need);
            goto fail;
        }
        if (c->sent_off[c->n_sent] == c->n_tok)
            sent_line = lineno;
        if (c->n_tok - c->sent_off[c->n_sent] >= cfg->max_length) {
            st = recur_error_set(err, RECUR_ERR_FORMAT,
                                 "%s:%lld: the sentence from line %lld is longer than %d tokens "
                                 "(the limit; a missing blank line between sentences?)",
                                 path, (long long)lineno, (long long)sent_line, cfg->max_length);
            goto fail;
        }
        size_t old_cap = cap_tok;
        if (grow((void **)&c->words, &cap_tok, (size_t)c->n_tok + 1, sizeof *c->words))
            goto nomem;
        if (cap_tok != old_cap) { /* tags and lines grow with words */
            const char **t = realloc(c->tags, cap_tok * sizeof *t);
            if (!t)
                goto nomem;
            c->tags = t;
            int64_t *l = realloc(c->line, cap_tok * sizeof *l);
            if (!l)
                goto nomem;
            c->line = l;
        }
        const char *tag = !with_tags ? NULL
                          : cfg->tag_column == 0 ? fields[nf - 1]
                                                 : fields[cfg->tag_column - 1];
        if (tag && strlen(tag) >= RECUR_TAG_MAX) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: the tag '%.40s...' is longer than %d bytes",
                                 path, (long long)lineno, tag, RECUR_TAG_MAX - 1);
            goto fail;
        }
        c->words[c->n_tok] = fields[cfg->word_column - 1];
        c->tags[c->n_tok] = tag;
        c->line[c->n_tok] = lineno;
        c->n_tok++;
    }
    if (close_sentence(c, &cap_sent))
        goto nomem;
    if (c->n_tok == 0) {
        st = recur_error_set(err, RECUR_ERR_FORMAT, "%s: no token in the file", path);
        goto fail;
    }
    if (!with_tags) {
        free(c->tags);
        c->tags = NULL;
        c->scheme = RECUR_TAGS_PLAIN;
    } else {
        if (cfg->scheme >= 0) {
            c->scheme = (recur_tag_scheme)cfg->scheme;
        } else {
            scheme_detect d = {0};
            for (int64_t s = 0; s < c->n_sent; s++)
                scheme_detect_update(&d, c->tags + c->sent_off[s],
                                     (int)(c->sent_off[s + 1] - c->sent_off[s]));
            c->scheme = scheme_detect_result(&d);
        }
        for (int64_t i = 0; i < c->n_tok; i++)
            if (!tag_in_scheme(c->tags[i], c->scheme)) {
                st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:%lld: the tag '%s' is not a tag of %s%s",
                                     path, (long long)c->line[i], c->tags[i],
                                     recur_tag_scheme_name(c->scheme),
                                     c->scheme == RECUR_TAGS_IOBES ? " (O, B-, I-, E-, S-TYPE)"
                                     : c->scheme == RECUR_TAGS_PLAIN ? ""
                                                                     : " (O, B-TYPE, I-TYPE)");
                goto fail;
            }
    }
    *out = c;
    return RECUR_OK;
nomem:
    st = recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", path);
fail:
    recur_tag_corpus_free(c);
    return st;
}
