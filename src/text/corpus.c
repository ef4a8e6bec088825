/*
 * corpus.c - language-model corpora: tokenisation of UTF-8 text (words split
 * on ASCII whitespace with <eos> at each line end, or Unicode code points),
 * counting into a vocabulary, encoding into id streams, and the batching of
 * Zaremba et al. (2014) for truncated backpropagation through time.
 *
 * Batching: a stream of N ids becomes B rows of S = floor(N / B) ids, row b
 * being ids[b*S .. (b+1)*S); stored time-major (S, B) so that a segment of T
 * steps is T*B contiguous ids, exactly the (T, B) layout recur_forward reads.
 * Row b continues in the same column of the next segment, so the final
 * hidden state of column b is the right initial state for it.
 */
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

/* Called for each token: the token's bytes (NULL for <eos>), its byte offset
 * and line.  Returns RECUR_OK to go on. */
typedef recur_status (*token_fn)(void *ctx, const char *tok, size_t len, size_t offset,
                                 size_t line);

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static recur_status tokenize(recur_lm_level level, const char *text, size_t len,
                             const char *name, int final_eos, token_fn fn, void *ctx,
                             recur_error *err)
{
    size_t line = 1;
    recur_status st;
    if (level == RECUR_LEVEL_CHAR) {
        size_t pos = 0;
        uint32_t cp;
        while (pos < len) {
            size_t start = pos;
            if (!recur_utf8_decode(text, len, &pos, &cp))
                return recur_error_set(err, RECUR_ERR_FORMAT,
                                       "%s: invalid UTF-8 at byte offset %zu (line %zu)", name,
                                       start, line);
            if ((st = fn(ctx, text + start, pos - start, start, line)) != RECUR_OK)
                return st;
            if (cp == '\n')
                line++;
        }
        return RECUR_OK;
    }
    size_t i = 0, line_start = 0;
    while (i < len) {
        char c = text[i];
        if (c == '\n') {
            if ((st = fn(ctx, NULL, 0, i, line)) != RECUR_OK)
                return st;
            line++;
            i++;
            line_start = i;
        } else if (is_space(c)) {
            i++;
        } else {
            size_t start = i;
            while (i < len && text[i] != '\n' && !is_space(text[i]))
                i++;
            /* the line end's token: as a word it would end a line that goes
             * on (and an n-gram model, which reads lines, would disagree) */
            if (i - start == strlen(RECUR_TOKEN_EOS) && !memcmp(text + start, RECUR_TOKEN_EOS, i - start))
                return recur_error_set(err, RECUR_ERR_FORMAT,
                                       "%s line %zu: the word %s is reserved: it marks each line end, "
                                       "which is a newline in the text",
                                       name, line, RECUR_TOKEN_EOS);
            if ((st = fn(ctx, text + start, i - start, start, line)) != RECUR_OK)
                return st;
        }
    }
    if (final_eos && line_start < len)
        return fn(ctx, NULL, 0, len, line);
    return RECUR_OK;
}

typedef struct count_ctx {
    recur_vocab *v;
    const char *name;
    recur_error *err;
} count_ctx;

static recur_status count_one(void *p, const char *tok, size_t len, size_t offset, size_t line)
{
    count_ctx *c = p;
    (void)offset;
    (void)line;
    if (!tok) {
        tok = RECUR_TOKEN_EOS;
        len = strlen(RECUR_TOKEN_EOS);
    }
    recur_status st = recur_vocab_add(c->v, tok, len, 1, NULL);
    if (st != RECUR_OK)
        return recur_error_set(c->err, st, "%s: %s", c->name, recur_vocab_errmsg(c->v));
    return RECUR_OK;
}

recur_status recur_vocab_count_text(recur_vocab *v, const char *text, size_t len,
                                    const char *name, recur_error *err)
{
    if (!name)
        name = "text";
    count_ctx c = {v, name, err};
    return tokenize(recur_vocab_level(v), text, len, name, 1, count_one, &c, err);
}

typedef struct encode_ctx {
    const recur_vocab *v;
    const char *name;
    recur_error *err;
    int strict;
    int32_t unk, eos;
    int32_t *ids;
    size_t n, cap, oov;
} encode_ctx;

static recur_status encode_one(void *p, const char *tok, size_t len, size_t offset, size_t line)
{
    encode_ctx *c = p;
    int32_t id;
    if (!tok) {
        id = c->eos;
    } else {
        id = recur_vocab_find(c->v, tok, len);
        if (id < 0) {
            if (c->strict || c->unk < 0) {
                int show = len > 60 ? 60 : (int)len;
                return recur_error_set(c->err, RECUR_ERR_MISMATCH,
                                       "%s: line %zu, byte offset %zu: %s '%.*s' is not in the "
                                       "model's vocabulary%s",
                                       c->name, line, offset,
                                       recur_vocab_level(c->v) == RECUR_LEVEL_CHAR ? "character"
                                                                                   : "token",
                                       show, tok,
                                       c->strict ? "" : " (which has no <unk>)");
            }
            id = c->unk;
            c->oov++;
        }
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 1024;
        int32_t *ni = realloc(c->ids, nc * sizeof *ni);
        if (!ni)
            return recur_error_set(c->err, RECUR_ERR_NOMEM, "%s: out of memory encoding text",
                                   c->name);
        c->ids = ni;
        c->cap = nc;
    }
    c->ids[c->n++] = id;
    return RECUR_OK;
}

recur_status recur_corpus_encode(const recur_vocab *v, const char *text, size_t len,
                                 const char *name, int flags, int32_t **ids, size_t *n,
                                 size_t *n_oov, recur_error *err)
{
    *ids = NULL;
    *n = 0;
    if (n_oov)
        *n_oov = 0;
    if (!name)
        name = "text";
    if (flags & ~(RECUR_ENCODE_STRICT | RECUR_ENCODE_NO_FINAL_EOS))
        return recur_error_set(err, RECUR_ERR_ARG, "%s: unknown encoding flags 0x%x", name,
                               (unsigned)flags);
    encode_ctx c = {v, name, err, (flags & RECUR_ENCODE_STRICT) != 0, recur_vocab_unk(v),
                    recur_vocab_eos(v), NULL, 0, 0, 0};
    if (recur_vocab_level(v) == RECUR_LEVEL_WORD && c.eos < 0)
        return recur_error_set(err, RECUR_ERR_ARG, "%s: the word vocabulary has no %s", name,
                               RECUR_TOKEN_EOS);
    recur_status st = tokenize(recur_vocab_level(v), text, len, name,
                               !(flags & RECUR_ENCODE_NO_FINAL_EOS), encode_one, &c, err);
    if (st != RECUR_OK) {
        free(c.ids);
        return st;
    }
    if (c.n == 0) {
        free(c.ids);
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s: no tokens", name);
    }
    int32_t *shrunk = realloc(c.ids, c.n * sizeof *shrunk);
    *ids = shrunk ? shrunk : c.ids;
    *n = c.n;
    if (n_oov)
        *n_oov = c.oov;
    return RECUR_OK;
}

recur_status recur_lm_batchify(recur_lm_stream *s, const int32_t *ids, size_t n, int B,
                               recur_error *err)
{
    memset(s, 0, sizeof *s);
    if (B < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "batchify: batch size %d must be at least 1",
                               B);
    size_t steps = n / (size_t)B;
    if (steps < 2)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "batchify: %zu tokens are too few for %d streams (each needs at "
                               "least 2 tokens)",
                               n, B);
    if (steps > (size_t)INT64_MAX / (size_t)B)
        return recur_error_set(err, RECUR_ERR_NOMEM, "batchify: too many tokens");
    int32_t *data = malloc(steps * (size_t)B * sizeof *data);
    if (!data)
        return recur_error_set(err, RECUR_ERR_NOMEM, "batchify: out of memory for %zu tokens", n);
    for (int b = 0; b < B; b++)
        for (size_t t = 0; t < steps; t++)
            data[t * (size_t)B + (size_t)b] = ids[(size_t)b * steps + t];
    s->data = data;
    s->steps = (int64_t)steps;
    s->B = B;
    return RECUR_OK;
}

void recur_lm_stream_free(recur_lm_stream *s)
{
    if (!s)
        return;
    free(s->data);
    memset(s, 0, sizeof *s);
}

int64_t recur_lm_num_segments(const recur_lm_stream *s, int bptt)
{
    if (bptt < 1 || s->steps < 2)
        return 0;
    return (s->steps - 1 + bptt - 1) / bptt;
}

int recur_lm_segment(const recur_lm_stream *s, int64_t start, int bptt, const int32_t **inputs,
                     const int32_t **targets)
{
    if (bptt < 1 || start < 0 || start >= s->steps - 1)
        return 0;
    int64_t T = s->steps - 1 - start;
    if (T > bptt)
        T = bptt;
    *inputs = s->data + start * s->B;
    *targets = s->data + (start + 1) * s->B;
    return (int)T;
}
