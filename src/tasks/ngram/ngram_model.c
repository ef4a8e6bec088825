/*
 * ngram_model.c - ARPA backoff models: a strict reader, token-by-token
 * scoring and perplexity of a text file.
 *
 * ARPA format (as SRILM and KenLM write it):
 *
 *   \data\
 *   ngram 1=<count>
 *   ...
 *   \1-grams:
 *   <log10 p>  <w1>  [<log10 backoff>]
 *   ...
 *   \N-grams:
 *   <log10 p>  <w1> .. <wN>
 *   \end\
 *
 * Backoff evaluation: p(w|h) = p(h w) when h w is listed, else
 * bo(h) p(w|h') with h' = h without its first word, and bo(h) = 1 when h is
 * not listed (or has no weight).  Lines before \data\ are ignored, as the
 * format allows; everything else must be exactly right.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "base/internal.h"
#include "ngram_internal.h"

typedef struct ng_level {
    int64_t n, cap, declared;
    uint32_t *words;  /* n*k ids, first word first */
    double *logp;
    double *bo;       /* log10 backoff, 0 when absent */
    uint8_t *has_bo;  /* 1: the file gave a backoff weight (kept for saving) */
    uint32_t *slots;  /* k >= 2: entry index + 1, 0 empty */
    size_t mask;
} ng_level;

struct recur_ngram {
    int order;
    ng_vocab vocab;
    int32_t bos, eos, unk;
    ng_level lv[RECUR_NGRAM_MAX_ORDER + 1];
};

static uint64_t hash_ids(const uint32_t *w, int k)
{
    uint64_t h = 0x9e3779b97f4a7c15ull * (uint64_t)(k + 1);
    for (int i = 0; i < k; i++) {
        h ^= w[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h;
}

/* Entry index of the k-gram w (k >= 2), -1 when absent. */
static int64_t find(const recur_ngram *m, const uint32_t *w, int k)
{
    const ng_level *L = &m->lv[k];
    if (!L->slots)
        return -1;
    size_t i = (size_t)hash_ids(w, k) & L->mask;
    for (;;) {
        uint32_t s = L->slots[i];
        if (!s)
            return -1;
        if (memcmp(L->words + (size_t)(s - 1) * (size_t)k, w, (size_t)k * sizeof *w) == 0)
            return (int64_t)s - 1;
        i = (i + 1) & L->mask;
    }
}

static void place(ng_level *L, int k, uint32_t idx)
{
    size_t i = (size_t)hash_ids(L->words + (size_t)idx * (size_t)k, k) & L->mask;
    while (L->slots[i])
        i = (i + 1) & L->mask;
    L->slots[i] = idx + 1;
}

/* Room for one more entry at order k; the hash stays at most half full. */
static recur_status grow(ng_level *L, int k, recur_error *err)
{
    if (L->n == L->cap) {
        if (L->cap >= (int64_t)UINT32_MAX / 2)
            return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: more than %u %d-grams", UINT32_MAX / 2, k);
        int64_t cap = L->cap ? 2 * L->cap : 1024;
        uint32_t *w = realloc(L->words, (size_t)cap * (size_t)k * sizeof *w);
        if (w)
            L->words = w;
        double *p = realloc(L->logp, (size_t)cap * sizeof *p);
        if (p)
            L->logp = p;
        double *b = realloc(L->bo, (size_t)cap * sizeof *b);
        if (b)
            L->bo = b;
        uint8_t *h = realloc(L->has_bo, (size_t)cap * sizeof *h);
        if (h)
            L->has_bo = h;
        if (!w || !p || !b || !h)
            return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for %lld %d-grams",
                                   (long long)cap, k);
        L->cap = cap;
    }
    if (k >= 2 && (size_t)(L->n + 1) * 2 > (L->slots ? L->mask + 1 : 0)) {
        size_t ns = L->slots ? 2 * (L->mask + 1) : 2048;
        uint32_t *s = calloc(ns, sizeof *s);
        if (!s)
            return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for the index of %d-grams", k);
        free(L->slots);
        L->slots = s;
        L->mask = ns - 1;
        for (int64_t i = 0; i < L->n; i++)
            place(L, k, (uint32_t)i);
    }
    return RECUR_OK;
}

void recur_ngram_free(recur_ngram *m)
{
    if (!m)
        return;
    for (int k = 0; k <= RECUR_NGRAM_MAX_ORDER; k++) {
        free(m->lv[k].words);
        free(m->lv[k].logp);
        free(m->lv[k].bo);
        free(m->lv[k].has_bo);
        free(m->lv[k].slots);
    }
    ng_vocab_free(&m->vocab);
    free(m);
}

/* ---- reading ---- */

typedef struct reader {
    FILE *f;
    const char *path;
    char *line;
    size_t cap;
    int64_t lineno;
    recur_error *err;
} reader;

/* Next line with trailing whitespace removed: 1, 0 at end of file, -1 error. */
static int next_line(reader *r)
{
    errno = 0;
    int nul;
    long n = ng_read_line(r->f, &r->line, &r->cap, &nul);
    if (n < 0) {
        recur_error_set(r->err, RECUR_ERR_IO, "%s line %lld: read error: %s", r->path,
                        (long long)r->lineno + 1, strerror(errno));
        return -1;
    }
    if (n == 0)
        return 0;
    r->lineno++;
    if (nul) {
        recur_error_set(r->err, RECUR_ERR_FORMAT, "%s line %lld: contains a NUL byte", r->path,
                        (long long)r->lineno);
        return -1;
    }
    while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r' || r->line[n - 1] == ' ' ||
                     r->line[n - 1] == '\t'))
        r->line[--n] = '\0';
    return 1;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return 0;
    return 1;
}

/* A log10 value: a finite number, or -inf (zero). */
static int parse_log(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end != '\0' || isnan(x) || (isinf(x) && x > 0))
        return 0;
    if (errno == ERANGE && isinf(x))
        return 0;
    *v = x;
    return 1;
}

/* "ngram K=COUNT" with K and COUNT decimal (overflow is an error). */
static int parse_count_line(const char *s, int *k, long long *n)
{
    if (strncmp(s, "ngram", 5) != 0 || (s[5] != ' ' && s[5] != '\t'))
        return 0;
    s += 5;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return 0;
    char *end;
    errno = 0;
    long kk = strtol(s, &end, 10);
    if (errno || *end != '=' || kk > 1000000)
        return 0;
    s = end + 1;
    if (*s < '0' || *s > '9')
        return 0;
    long long nn = strtoll(s, &end, 10);
    if (errno || *end != '\0')
        return 0;
    *k = (int)kk;
    *n = nn;
    return 1;
}

/* Parses "\k-grams:"; returns k or 0. */
static int section_header(const char *s)
{
    if (s[0] != '\\')
        return 0;
    char *end;
    errno = 0;
    long k = strtol(s + 1, &end, 10);
    if (end == s + 1 || errno || strcmp(end, "-grams:") != 0 || k < 1 || k > 1000000)
        return 0;
    return (int)k;
}

static recur_status parse(recur_ngram *m, reader *r, ng_tokens *tok)
{
    recur_error *err = r->err;
    const char *path = r->path;
    recur_status st;
    int got;
    /* Anything before \data\ is a comment. */
    while ((got = next_line(r)) == 1 && strcmp(r->line, "\\data\\") != 0)
        ;
    if (got < 0)
        return err->status;
    if (got == 0)
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s: no \\data\\ line: not an ARPA file", path);
    /* Counts. */
    int order = 0;
    int section = 0;
    while ((got = next_line(r)) == 1) {
        if (blank(r->line))
            continue;
        if (r->line[0] == '\\') {
            section = section_header(r->line);
            break;
        }
        int k;
        long long n;
        if (!parse_count_line(r->line, &k, &n))
            return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: expected 'ngram K=COUNT', found '%.60s'",
                                   path, (long long)r->lineno, r->line);
        if (k != order + 1)
            return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: count of %d-grams where %d-grams were due",
                                   path, (long long)r->lineno, k, order + 1);
        if (k > RECUR_NGRAM_MAX_ORDER)
            return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: order %d exceeds the supported %d", path,
                                   (long long)r->lineno, k, RECUR_NGRAM_MAX_ORDER);
        if (n < 0 || n >= (long long)UINT32_MAX / 2)
            return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: %d-gram count %lld out of range", path,
                                   (long long)r->lineno, k, n);
        m->lv[k].declared = n;
        order = k;
    }
    if (got < 0)
        return err->status;
    if (order == 0)
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: \\data\\ declares no n-gram counts", path,
                               (long long)r->lineno);
    if (got == 0)
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: end of file: missing \\1-grams: section", path,
                               (long long)r->lineno);
    m->order = order;

    for (int k = 1; k <= order; k++) {
        /* r->line holds the line that ended the previous part. */
        if (section != k) {
            if (strcmp(r->line, "\\end\\") == 0)
                return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: \\end\\ before the \\%d-grams: section",
                                       path, (long long)r->lineno, k);
            return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: expected \\%d-grams:, found '%.60s'", path,
                                   (long long)r->lineno, k, r->line);
        }
        ng_level *L = &m->lv[k];
        section = 0;
        while ((got = next_line(r)) == 1) {
            if (blank(r->line))
                continue;
            if (r->line[0] == '\\') {
                section = section_header(r->line);
                break;
            }
            if ((st = ng_tokenize(tok, r->line, err)))
                return st;
            if (tok->n != (size_t)k + 1 && tok->n != (size_t)k + 2)
                return recur_error_set(err, RECUR_ERR_FORMAT,
                                       "%s line %lld: a %d-gram entry is a log10 probability, %d word%s and an "
                                       "optional backoff weight, but the line has %zu fields",
                                       path, (long long)r->lineno, k, k, k > 1 ? "s" : "", tok->n);
            if (tok->n == (size_t)k + 2 && k == order)
                return recur_error_set(err, RECUR_ERR_FORMAT,
                                       "%s line %lld: %d fields: a backoff weight on a top-order %d-gram (or a "
                                       "%d-gram in the %d-gram section)",
                                       path, (long long)r->lineno, k + 2, k, k + 1, k);
            double lp, bo = 0.0;
            if (!parse_log(tok->tok[0], &lp) || lp > 0.0)
                return recur_error_set(err, RECUR_ERR_FORMAT,
                                       "%s line %lld: '%.40s' is not a log10 probability (a number <= 0)", path,
                                       (long long)r->lineno, tok->tok[0]);
            if (tok->n == (size_t)k + 2 && !parse_log(tok->tok[k + 1], &bo))
                return recur_error_set(err, RECUR_ERR_FORMAT,
                                       "%s line %lld: '%.40s' is not a log10 backoff weight (or the entry has "
                                       "%d words, not %d)",
                                       path, (long long)r->lineno, tok->tok[k + 1], k + 1, k);
            if (L->n >= L->declared)
                return recur_error_set(err, RECUR_ERR_FORMAT,
                                       "%s line %lld: more %d-grams than the %lld declared in \\data\\", path,
                                       (long long)r->lineno, k, (long long)L->declared);
            if ((st = grow(L, k, err)))
                return st;
            uint32_t *w = L->words + (size_t)L->n * (size_t)k;
            for (int j = 0; j < k; j++) {
                int32_t id = ng_vocab_find(&m->vocab, tok->tok[1 + j], tok->len[1 + j]);
                if (k == 1) {
                    if (id >= 0)
                        return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: 1-gram '%.60s' listed twice",
                                               path, (long long)r->lineno, tok->tok[1]);
                    if ((st = ng_vocab_add(&m->vocab, tok->tok[1], tok->len[1], &id, err)))
                        return st;
                } else if (id < 0) {
                    return recur_error_set(err, RECUR_ERR_FORMAT,
                                           "%s line %lld: word '%.60s' of a %d-gram is not among the 1-grams", path,
                                           (long long)r->lineno, tok->tok[1 + j], k);
                }
                w[j] = (uint32_t)id;
            }
            if (k >= 2 && find(m, w, k) >= 0)
                return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: %d-gram listed twice", path,
                                       (long long)r->lineno, k);
            L->logp[L->n] = lp;
            L->bo[L->n] = bo;
            L->has_bo[L->n] = tok->n == (size_t)k + 2;
            if (k >= 2)
                place(L, k, (uint32_t)L->n);
            L->n++;
        }
        if (got < 0)
            return err->status;
        if (L->n != L->declared)
            return recur_error_set(err, RECUR_ERR_FORMAT,
                                   "%s line %lld: the \\%d-grams: section has %lld entries but \\data\\ declared %lld",
                                   path, (long long)r->lineno, k, (long long)L->n, (long long)L->declared);
        if (got == 0)
            return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: end of file: missing %s", path,
                                   (long long)r->lineno, k < order ? "further n-gram sections" : "\\end\\");
    }
    if (strcmp(r->line, "\\end\\") != 0) {
        if (section > 0)
            return recur_error_set(err, RECUR_ERR_FORMAT,
                                   "%s line %lld: a \\%d-grams: section, but \\data\\ declares order %d", path,
                                   (long long)r->lineno, section, order);
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s line %lld: expected \\end\\, found '%.60s'", path,
                               (long long)r->lineno, r->line);
    }
    m->bos = ng_vocab_find(&m->vocab, NG_BOS_WORD, strlen(NG_BOS_WORD));
    m->eos = ng_vocab_find(&m->vocab, NG_EOS_WORD, strlen(NG_EOS_WORD));
    m->unk = ng_vocab_find(&m->vocab, NG_UNK_WORD, strlen(NG_UNK_WORD));
    if (m->bos < 0 || m->eos < 0)
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s: the 1-grams lack %s", path,
                               m->bos < 0 ? NG_BOS_WORD : NG_EOS_WORD);
    return RECUR_OK;
}

recur_status recur_ngram_load(recur_ngram **out, const char *arpa_path, recur_error *err)
{
    recur_error local;
    if (!err)
        err = &local;
    err->status = RECUR_OK;
    err->msg[0] = '\0';
    if (!out || !arpa_path)
        return recur_error_set(err, RECUR_ERR_ARG, "ngram load: output and path are required");
    *out = NULL;
    recur_ngram *m = calloc(1, sizeof *m);
    if (!m)
        return recur_error_set(err, RECUR_ERR_NOMEM, "ngram load: out of memory");
    recur_status st = ng_vocab_init(&m->vocab, err);
    if (st) {
        free(m);
        return st;
    }
    reader r = {0};
    r.path = arpa_path;
    r.err = err;
    r.f = fopen(arpa_path, "r");
    if (!r.f) {
        st = recur_error_set(err, RECUR_ERR_IO, "ngram load: cannot open %s: %s", arpa_path, strerror(errno));
        recur_ngram_free(m);
        return st;
    }
    ng_tokens tok = {0};
    st = parse(m, &r, &tok);
    ng_tokens_free(&tok);
    free(r.line);
    fclose(r.f);
    if (st) {
        recur_ngram_free(m);
        return st;
    }
    *out = m;
    return RECUR_OK;
}

/* ---- writing ---- */

static int save_entries(const recur_ngram *m, FILE *f)
{
    if (fprintf(f, "\\data\\\n") < 0)
        return -1;
    for (int k = 1; k <= m->order; k++)
        if (fprintf(f, "ngram %d=%lld\n", k, (long long)m->lv[k].n) < 0)
            return -1;
    for (int k = 1; k <= m->order; k++) {
        const ng_level *L = &m->lv[k];
        if (fprintf(f, "\n\\%d-grams:\n", k) < 0)
            return -1;
        for (int64_t e = 0; e < L->n; e++) {
            if (fprintf(f, "%.9g\t", L->logp[e]) < 0)
                return -1;
            for (int j = 0; j < k; j++)
                if (fputs(m->vocab.words[L->words[(size_t)e * (size_t)k + (size_t)j]], f) < 0 ||
                    (j + 1 < k && fputc(' ', f) == EOF))
                    return -1;
            if (L->has_bo[e] && fprintf(f, "\t%.9g", L->bo[e]) < 0)
                return -1;
            if (fputc('\n', f) == EOF)
                return -1;
        }
    }
    return fprintf(f, "\n\\end\\\n") < 0 ? -1 : 0;
}

recur_status recur_ngram_save(const recur_ngram *m, const char *arpa_path, recur_error *err)
{
    recur_error local;
    if (!err)
        err = &local;
    err->status = RECUR_OK;
    err->msg[0] = '\0';
    if (!m || !arpa_path)
        return recur_error_set(err, RECUR_ERR_ARG, "ngram save: model and path are required");
    atomic_file af;
    char msg[RECUR_ERRMSG_LEN];
    recur_status st = atomic_file_open(&af, arpa_path, msg, sizeof msg);
    if (st != RECUR_OK)
        return recur_error_set(err, st, "ngram save: %s", msg);
    if (save_entries(m, af.f) != 0) {
        st = recur_error_set(err, RECUR_ERR_IO, "ngram save: writing %s: %s", af.tmp, strerror(errno));
        atomic_file_abort(&af);
        return st;
    }
    if ((st = atomic_file_commit(&af, msg, sizeof msg)) != RECUR_OK)
        return recur_error_set(err, st, "ngram save: %s", msg);
    return RECUR_OK;
}

/* ---- queries ---- */

int recur_ngram_order(const recur_ngram *m) { return m->order; }
int32_t recur_ngram_vocab_size(const recur_ngram *m) { return m->vocab.n; }

int64_t recur_ngram_count(const recur_ngram *m, int order)
{
    return order >= 1 && order <= m->order ? m->lv[order].n : 0;
}

int32_t recur_ngram_word_id(const recur_ngram *m, const char *word)
{
    return word ? ng_vocab_find(&m->vocab, word, strlen(word)) : -1;
}

int32_t recur_ngram_map(const recur_ngram *m, const char *word)
{
    int32_t id = recur_ngram_word_id(m, word);
    return id >= 0 ? id : m->unk;
}

const char *recur_ngram_word(const recur_ngram *m, int32_t id)
{
    return id >= 0 && id < m->vocab.n ? m->vocab.words[id] : NULL;
}

int32_t recur_ngram_bos(const recur_ngram *m) { return m->bos; }
int32_t recur_ngram_eos(const recur_ngram *m) { return m->eos; }
int32_t recur_ngram_unk(const recur_ngram *m) { return m->unk; }

void recur_ngram_begin(const recur_ngram *m, recur_ngram_state *st)
{
    memset(st, 0, sizeof *st);
    if (m->order >= 2) {
        st->words[0] = m->bos;
        st->len = 1;
    }
}

double recur_ngram_score(const recur_ngram *m, recur_ngram_state *st, int32_t word)
{
    if (word < 0 || word >= m->vocab.n) {
        st->len = 0;
        return -INFINITY;
    }
    /* Only the last order-1 words of the state can matter. */
    int have = st->len < 0 ? 0 : st->len > RECUR_NGRAM_MAX_ORDER - 1 ? RECUR_NGRAM_MAX_ORDER - 1 : st->len;
    int len = have < m->order - 1 ? have : m->order - 1;
    const int32_t *ctx = st->words + (have - len);
    uint32_t g[RECUR_NGRAM_MAX_ORDER];
    double bo = 0.0, lp = 0.0;
    int found = 0;
    /* Longest listed n-gram first; every context passed over adds its
     * backoff weight. */
    for (int j = len; j >= 1 && !found; j--) {
        for (int i = 0; i < j; i++)
            g[i] = (uint32_t)ctx[len - j + i];
        g[j] = (uint32_t)word;
        int64_t e = find(m, g, j + 1);
        if (e >= 0) {
            lp = m->lv[j + 1].logp[e] + bo;
            found = 1;
            break;
        }
        int64_t c = j == 1 ? (ctx[len - 1] >= 0 && ctx[len - 1] < m->vocab.n ? ctx[len - 1] : -1) : find(m, g, j);
        if (c >= 0)
            bo += m->lv[j].bo[c];
    }
    if (!found)
        lp = m->lv[1].logp[word] + bo;
    /* The new context: the last order-1 words. */
    int keep = m->order - 1;
    if (keep > 0) {
        int32_t w[RECUR_NGRAM_MAX_ORDER];
        memcpy(w, ctx, (size_t)len * sizeof *w);
        w[len] = word;
        int n = len + 1 > keep ? keep : len + 1;
        memcpy(st->words, w + (len + 1 - n), (size_t)n * sizeof *w);
        st->len = n;
    } else {
        st->len = 0;
    }
    return lp;
}

/* ---- perplexity ---- */

recur_status recur_ngram_eval_file(const recur_ngram *m, const char *text_path, recur_ngram_sentence_fn on_sentence,
                                   void *ctx, recur_ngram_eval_result *res, recur_error *err)
{
    recur_error local;
    if (!err)
        err = &local;
    err->status = RECUR_OK;
    err->msg[0] = '\0';
    if (!m || !text_path || !res)
        return recur_error_set(err, RECUR_ERR_ARG, "ngram eval: model, text path and result are required");
    memset(res, 0, sizeof *res);
    FILE *f = fopen(text_path, "r");
    if (!f)
        return recur_error_set(err, RECUR_ERR_IO, "ngram eval: cannot open %s: %s", text_path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ng_tokens tok = {0};
    recur_status st = RECUR_OK;
    int64_t lineno = 0;
    for (;;) {
        errno = 0;
        int nul;
        long n = ng_read_line(f, &line, &cap, &nul);
        if (n < 0) {
            st = recur_error_set(err, RECUR_ERR_IO, "ngram eval: reading %s after line %lld: %s", text_path,
                                 (long long)lineno, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        lineno++;
        if ((st = ng_check_line("ngram eval", text_path, (long long)lineno, line, (size_t)n, nul, err)) ||
            (st = ng_tokenize(&tok, line, err)) ||
            (st = ng_check_tokens("ngram eval", text_path, (long long)lineno, &tok, err)))
            break;
        recur_ngram_state s;
        recur_ngram_begin(m, &s);
        double lp = 0.0;
        int64_t pred = 0, oov = 0;
        for (size_t i = 0; i < tok.n && !st; i++) {
            int32_t id = ng_vocab_find(&m->vocab, tok.tok[i], tok.len[i]);
            if (id < 0) {
                oov++;
                id = m->unk;
            }
            double x = recur_ngram_score(m, &s, id);
            if (id >= 0) {
                lp += x;
                pred++;
            }
        }
        if (st)
            break;
        lp += recur_ngram_score(m, &s, m->eos);
        pred++;
        res->sentences++;
        res->words += (int64_t)tok.n;
        res->oovs += oov;
        res->predicted += pred;
        res->log10_prob += lp;
        if (on_sentence)
            on_sentence(ctx, lineno, lp, pred, oov);
    }
    ng_tokens_free(&tok);
    free(line);
    fclose(f);
    if (st)
        return st;
    if (res->sentences == 0)
        return recur_error_set(err, RECUR_ERR_FORMAT, "ngram eval: %s has no lines", text_path);
    res->perplexity = pow(10.0, -res->log10_prob / (double)res->predicted);
    return RECUR_OK;
}
