/* word_vectors.c - see word_vectors.h. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "text/word_vectors.h"

/* The widest vector accepted: far above any published set (300 is usual),
 * low enough that a damaged header cannot ask for gigabytes per word. */
#define MAX_DIM 100000
/* The longest word of a binary file (word2vec's own limit is 100 bytes). */
#define MAX_BINARY_WORD 4096

typedef struct reader {
    const char *path;
    FILE *f;
    word_vector_fn fn;
    void *ctx;
    recur_error *err;
    int dim;
    long long entries;
    float *vec;   /* (dim) the current entry's vector */
    char **field; /* a text line's fields */
    int field_cap;
    char *line;
    size_t cap;
} reader;

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Splits a text line into fields in place; returns how many (at most max),
 * or max + 1 when there are more. */
static int split_fields(char *s, char **field, int max)
{
    int n = 0;
    for (;;) {
        while (is_space((unsigned char)*s))
            s++;
        if (!*s)
            return n;
        if (n == max)
            return max + 1;
        field[n++] = s;
        while (*s && !is_space((unsigned char)*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
}

static int parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (end == s || *end || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* "COUNT DIM" with both positive integers */
static int parse_header(const char *line, long long *count, long long *dim)
{
    char extra;
    return sscanf(line, "%lld %lld %c", count, dim, &extra) == 2 && *count > 0 && *dim > 0;
}

/* ---- text --------------------------------------------------------------------------------- */

/* One text line: the last dim fields are the vector; the word is the text
 * before them.  dim = 0: the first vector, whose width this line sets. */
static recur_status text_line(reader *r, char *line, long long lineno)
{
    const size_t len = strlen(line);
    char *copy = line + len + 1; /* the caller left room for a second copy */
    memcpy(copy, line, len + 1);
    const int max = r->dim ? r->dim + 64 : MAX_DIM + 1;
    if (r->field_cap < max + 1) {
        char **f = realloc(r->field, (size_t)(max + 1) * sizeof *f);
        if (!f)
            return recur_error_set(r->err, RECUR_ERR_NOMEM, "%s: out of memory", r->path);
        r->field = f;
        r->field_cap = max + 1;
    }
    char **field = r->field;
    const int n = split_fields(line, field, max);
    if (n == 0)
        return RECUR_OK; /* a blank line */
    const int dim = r->dim ? r->dim : n - 1;
    if (dim < 1)
        return recur_error_set(r->err, RECUR_ERR_FORMAT, "%s:%lld: a word without a vector", r->path, lineno);
    if (dim > MAX_DIM)
        return recur_error_set(r->err, RECUR_ERR_FORMAT, "%s:%lld: more numbers than any word vector has", r->path,
                               lineno);
    /* a word with spaces (GloVe 840B has a few) takes the fields before the
     * vector; numbers there mean a line with too many numbers */
    float v;
    if (n > max || n < dim + 1 || (n > dim + 1 && parse_float(field[n - dim - 1], &v)))
        return recur_error_set(r->err, RECUR_ERR_FORMAT, "%s:%lld: %s numbers where the first vector has %d",
                               r->path, lineno, n < dim + 1 ? "fewer" : "more", dim);
    if (!r->vec && !(r->vec = malloc((size_t)dim * sizeof *r->vec)))
        return recur_error_set(r->err, RECUR_ERR_NOMEM, "%s: out of memory", r->path);
    for (int k = 0; k < dim; k++)
        if (!parse_float(field[n - dim + k], &r->vec[k]))
            return recur_error_set(r->err, RECUR_ERR_FORMAT, "%s:%lld: '%.20s' is not a number", r->path, lineno,
                                   field[n - dim + k]);
    r->dim = dim;
    /* the word: the original text up to the first number, inner spaces kept */
    char *word = copy + (field[0] - line), *word_end = copy + (field[n - dim] - line);
    while (word_end > word && is_space((unsigned char)word_end[-1]))
        word_end--;
    *word_end = '\0';
    r->entries++;
    return r->fn(r->ctx, word, r->vec, dim, r->err);
}

static recur_status read_text(reader *r, char *first, long long first_lineno)
{
    recur_status st = RECUR_OK;
    long long lineno = first_lineno;
    char *line = first;
    for (;;) {
        if (line) {
            /* room for the copy text_line makes */
            size_t len = strlen(line);
            if (r->cap < 2 * len + 2) {
                char *nl = realloc(r->line, 2 * len + 2);
                if (!nl)
                    return recur_error_set(r->err, RECUR_ERR_NOMEM, "%s: out of memory", r->path);
                r->line = nl;
                r->cap = 2 * len + 2;
            }
            if ((st = text_line(r, r->line, lineno)))
                return st;
        }
        ssize_t got = getline(&r->line, &r->cap, r->f);
        if (got < 0)
            break;
        lineno++;
        if (memchr(r->line, '\0', (size_t)got))
            return recur_error_set(r->err, RECUR_ERR_FORMAT, "%s:%lld: a NUL byte in a text file", r->path,
                                   lineno);
        while (got > 0 && (r->line[got - 1] == '\n' || r->line[got - 1] == '\r'))
            r->line[--got] = '\0';
        line = r->line;
    }
    if (ferror(r->f))
        return recur_error_set(r->err, RECUR_ERR_IO, "%s: read error", r->path);
    return RECUR_OK;
}

/* ---- binary ------------------------------------------------------------------------------- */

static recur_status read_binary(reader *r, long long count)
{
    char word[MAX_BINARY_WORD + 1];
    unsigned char *raw = malloc((size_t)r->dim * 4);
    float *vec = r->vec;
    recur_status st = RECUR_OK;
    if (!raw) {
        st = recur_error_set(r->err, RECUR_ERR_NOMEM, "%s: out of memory", r->path);
        goto done;
    }
    for (long long e = 1; e <= count; e++) {
        int c;
        while ((c = getc(r->f)) == '\n' || c == '\r' || c == ' ')
            ;
        if (c == EOF) {
            st = recur_error_set(r->err, RECUR_ERR_FORMAT, "%s: the header promises %lld words, the file ends after %lld",
                                 r->path, count, e - 1);
            goto done;
        }
        size_t n = 0;
        while (c != ' ' && c != EOF) {
            if (n == MAX_BINARY_WORD || c == '\0') {
                st = recur_error_set(r->err, RECUR_ERR_FORMAT, "%s: entry %lld: %s", r->path, e,
                                     c == '\0' ? "a NUL byte in a word" : "a word longer than 4096 bytes");
                goto done;
            }
            word[n++] = (char)c;
            c = getc(r->f);
        }
        word[n] = '\0';
        if (c == EOF || fread(raw, 4, (size_t)r->dim, r->f) != (size_t)r->dim) {
            st = recur_error_set(r->err, RECUR_ERR_FORMAT, "%s: entry %lld ('%.40s'): the file ends inside its vector",
                                 r->path, e, word);
            goto done;
        }
        for (int k = 0; k < r->dim; k++) {
            const unsigned char *b = raw + 4 * (size_t)k;
            uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
            memcpy(&vec[k], &u, 4);
            if (!isfinite(vec[k])) {
                st = recur_error_set(r->err, RECUR_ERR_FORMAT, "%s: entry %lld ('%.40s'): value %d is not finite",
                                     r->path, e, word, k + 1);
                goto done;
            }
        }
        r->entries++;
        if ((st = r->fn(r->ctx, word, vec, r->dim, r->err)))
            goto done;
    }
    if (ferror(r->f))
        st = recur_error_set(r->err, RECUR_ERR_IO, "%s: read error", r->path);
done:
    free(raw);
    return st;
}

/* After a word2vec header: is the first entry binary (1), text (0), or
 * could the file not be rewound (-1)?  Text has only the
 * characters of numbers and spaces after the word; four-byte floats almost
 * never do (any zero, negative or large exponent byte is outside them). */
static int looks_binary(FILE *f, long at)
{
    int c;
    while ((c = getc(f)) != EOF && c != ' ' && c != '\n')
        ;
    int binary = 0;
    for (int i = 0; i < 64 && c != EOF; i++) {
        c = getc(f);
        if (c == EOF || c == '\n')
            break;
        if (!strchr("0123456789+-.eE \t\r", c)) {
            binary = 1;
            break;
        }
    }
    return fseek(f, at, SEEK_SET) ? -1 : binary;
}

recur_status word_vectors_read(const char *path, word_vector_fn fn, void *ctx, int *dim, recur_error *err)
{
    *dim = 0;
    reader r = {.path = path, .fn = fn, .ctx = ctx, .err = err};
    r.f = fopen(path, "rb");
    if (!r.f)
        return recur_error_set(err, RECUR_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    recur_status st = RECUR_OK;
    ssize_t got = getline(&r.line, &r.cap, r.f);
    if (got <= 0) {
        st = ferror(r.f) ? recur_error_set(err, RECUR_ERR_IO, "%s: read error", path)
                         : recur_error_set(err, RECUR_ERR_FORMAT, "%s: an empty file", path);
        goto done;
    }
    while (got > 0 && (r.line[got - 1] == '\n' || r.line[got - 1] == '\r'))
        r.line[--got] = '\0';
    long long count, hdim;
    if (parse_header(r.line, &count, &hdim)) {
        if (hdim > MAX_DIM) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "%s:1: a header of %lld dimensions", path, hdim);
            goto done;
        }
        r.dim = (int)hdim;
        long at = ftell(r.f);
        if (at < 0 || !(r.vec = malloc((size_t)r.dim * sizeof *r.vec))) {
            st = at < 0 ? recur_error_set(err, RECUR_ERR_IO, "%s: word2vec files are read from a regular file", path)
                        : recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        int binary = looks_binary(r.f, at);
        if (binary < 0)
            st = recur_error_set(err, RECUR_ERR_IO, "%s: cannot seek back after the header", path);
        else if (binary)
            st = read_binary(&r, count);
        else
            st = read_text(&r, NULL, 1);
    } else {
        st = read_text(&r, r.line, 1);
    }
    if (st == RECUR_OK && !r.entries)
        st = recur_error_set(err, RECUR_ERR_FORMAT, "%s: no vector in the file", path);
    if (st == RECUR_OK)
        *dim = r.dim;
done:
    fclose(r.f);
    free(r.line);
    free(r.field);
    free(r.vec);
    return st;
}
