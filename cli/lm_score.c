/*
 * lm_score.c - `recur lm score MODEL [FILE|-]`: one line in, one line out.
 * Each line is scored on its own from a fresh state, as `recur lm eval`
 * scores a file holding just that line (recur_lm_encode_line): its
 * log-probability, the tokens predicted and the perplexity.  Lines are
 * gathered into blocks and scored `--batch` side by side
 * (recur_lm_score_batch); a block ends early when no more input is waiting,
 * so an interactive line is answered at once, and output keeps input order.
 * With --interpolate ARPA each token's probability is mixed with the n-gram
 * model's as in `recur lm eval` (lm_interp.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "line_reader.h"
#include "lm.h"

int lm_cmd_score(int argc, char **argv);

static const char *cmd = "recur lm score";

int lm_check_line(const char *c, const char *where, long long lineno, const char *line, size_t len)
{
    const char *nul = memchr(line, '\0', len);
    if (nul) {
        fprintf(stderr, "%s: %s:%lld: binary data (a NUL byte at column %zu); expected UTF-8 text\n", c,
                where, lineno, (size_t)(nul - line) + 1);
        return 1;
    }
    size_t bad;
    if (!recur_utf8_valid(line, len, &bad)) {
        fprintf(stderr, "%s: %s:%lld: invalid UTF-8 at column %zu (byte 0x%02X)\n", c, where, lineno,
                bad + 1, (unsigned)(unsigned char)line[bad]);
        return 1;
    }
    return 0;
}

static void set_nomem(recur_error *err)
{
    err->status = RECUR_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "out of memory");
}

int lm_score_texts(const lm_scorer *s, const char *const *lines, const size_t *lens, size_t n,
                   const char *const *names, lm_line_score *out, recur_error *err)
{
    int32_t **ids = calloc(n ? n : 1, sizeof *ids);
    size_t *nids = calloc(n ? n : 1, sizeof *nids);
    double *lp = malloc((n ? n : 1) * sizeof *lp), *tok_lp = NULL, *ng_lp = NULL;
    int rc = 1;
    if (!ids || !nids || !lp) {
        set_nomem(err);
        goto done;
    }
    size_t total = 0, longest = 0;
    for (size_t i = 0; i < n; i++) {
        size_t oov;
        if (recur_lm_encode_line(s->f->vocab, lines[i], lens[i], names[i], &ids[i], &nids[i], &oov, err) !=
            RECUR_OK)
            goto done;
        out[i].tokens = (int64_t)nids[i] - 1;
        out[i].oov = (int64_t)oov;
        total += nids[i] - 1;
        longest = nids[i] > longest ? nids[i] : longest;
    }
    if (s->ng && (!(tok_lp = malloc((total ? total : 1) * sizeof *tok_lp)) ||
                  !(ng_lp = malloc(longest * sizeof *ng_lp)))) {
        set_nomem(err);
        goto done;
    }
    /* lambda 0 is the n-gram model alone: the RNN need not run */
    int rnn = !s->ng || s->lambda > 0;
    if (rnn && recur_lm_score_batch(s->f->model, (const int32_t *const *)ids, nids, n, s->batch, lp, tok_lp,
                                    err) != RECUR_OK)
        goto done;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        out[i].rnn = out[i].logprob = rnn ? lp[i] : NAN;
        out[i].ngram = 0;
        if (s->ng) { /* the tokens after the first context, as in recur lm eval */
            size_t k = nids[i] - 1;
            lm_interp_ngram_logprobs(s->f->vocab, s->ng, ids[i] + 1, k, ng_lp);
            out[i].ngram = 0;
            for (size_t t = 0; t < k; t++)
                out[i].ngram += ng_lp[t];
            out[i].logprob = rnn ? -lm_interp_nll(tok_lp + off, ng_lp, k, s->lambda) : out[i].ngram;
            off += k;
        }
    }
    rc = 0;
done:
    if (ids)
        for (size_t i = 0; i < n; i++)
            free(ids[i]);
    free(ids);
    free(nids);
    free(lp);
    free(tok_lp);
    free(ng_lp);
    return rc;
}

typedef struct score_out {
    int json, log10, interp;
    double lambda;
} score_out;

static void print_score(const score_out *o, long long lineno, const lm_line_score *r)
{
    double k = o->log10 ? 1 / log(10.0) : 1;
    double ppl = r->tokens > 0 ? exp(-r->logprob / (double)r->tokens) : NAN;
    if (!o->json) {
        printf("%.6f\t%lld\t%.4f\n", r->logprob * k, (long long)r->tokens, ppl);
        return;
    }
    json_t *j = json_pack("{s:I,s:f,s:s,s:I,s:I}", "line", (json_int_t)lineno, "logprob", r->logprob * k, "base",
                          o->log10 ? "10" : "e", "tokens", (json_int_t)r->tokens, "oov", (json_int_t)r->oov);
    if (j)
        json_object_set_new(j, "perplexity", isfinite(ppl) ? json_real(ppl) : json_null());
    if (j && o->interp) {
        json_object_set_new(j, "rnn_logprob", isfinite(r->rnn) ? json_real(r->rnn * k) : json_null());
        json_object_set_new(j, "ngram_logprob", isfinite(r->ngram) ? json_real(r->ngram * k) : json_null());
        json_object_set_new(j, "lambda", json_real(o->lambda));
    }
    char *js = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    if (js)
        printf("%s\n", js);
    free(js);
    json_decref(j);
}

typedef struct block {
    char **lines;
    char **names;
    size_t *lens;
    lm_line_score *res;
    size_t n, cap;
    long long first_line;
} block;

static void block_clear(block *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->lines[i]);
        free(b->names[i]);
    }
    b->n = 0;
}

static int block_add(block *b, const char *where, long long lineno, const char *line, size_t len)
{
    char name[64];
    int k = snprintf(name, sizeof name, "%s:%lld", where, lineno);
    char *copy = malloc(len + 1), *nm = malloc((size_t)k + 1);
    if (!copy || !nm) {
        free(copy);
        free(nm);
        return 1;
    }
    memcpy(copy, line, len);
    copy[len] = '\0';
    memcpy(nm, name, (size_t)k + 1);
    if (b->n == 0)
        b->first_line = lineno;
    b->lines[b->n] = copy;
    b->names[b->n] = nm;
    b->lens[b->n] = len;
    b->n++;
    return 0;
}

int lm_cmd_score(int argc, char **argv)
{
    long long threads = 0, batch = 64;
    int json = 0, log10_out = 0, summary = 0;
    const char *arpa = NULL;
    double lambda = 0.5;
    cli_opt opts[] = {
        CLI_INT("batch", &batch, "N", "sentences scored side by side", 1, 4096),
        CLI_FLAG("log10", &log10_out, "log-probabilities in base 10, not natural logarithms"),
        CLI_FLAG("json", &json, "one JSON object per line (JSON Lines) instead of tab-separated numbers"),
        CLI_STR("interpolate", &arpa, "ARPA", "mix each token's probability with this n-gram model's (word models)",
                "none"),
        CLI_DBL("lambda", &lambda, "L", "weight of the RNN in the mixture, in [0, 1]", 0, 1, 0),
        CLI_FLAG("summary", &summary, "after the last line, the totals on standard error"),
        CLI_THREADS(&threads),
        CLI_END,
    };
    const char *pos[4];
    int npos;
    int rc = cli_parse(cmd, "[OPTIONS] MODEL [FILE|-]\n\n"
                            "Scores each line of FILE (default: standard input) on its own and prints, in\n"
                            "input order, its log-probability, tokens predicted and perplexity, tab-separated.\n"
                            "Word level predicts the words and the line's <eos> after <eos>; character level\n"
                            "the characters and the final newline after a newline.",
                       opts, argc, argv, pos, 4, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos < 1 || npos > 2) {
        fprintf(stderr, "%s: needs a model file and at most one text file (try %s --help)\n", cmd, cmd);
        return 2;
    }
    if (opts[4].given && !arpa) {
        fprintf(stderr, "%s: --lambda needs --interpolate\n", cmd);
        return 2;
    }
    const char *path = npos == 2 ? pos[1] : "-";
    const char *where = strcmp(path, "-") ? path : "stdin";
    recur_set_num_threads((int)threads);
    lm_file f;
    if (lm_file_load(pos[0], &f))
        return 1;
    recur_ngram *ng = NULL;
    if (arpa) {
        recur_error err = {0};
        if (f.level == RECUR_LEVEL_CHAR) {
            fprintf(stderr, "%s: --interpolate needs a word model; %s is a character model\n", cmd, pos[0]);
            lm_file_close(&f);
            return 2;
        }
        if (recur_ngram_load(&ng, arpa, &err) != RECUR_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.msg);
            lm_file_close(&f);
            return 1;
        }
    }
    line_reader rd;
    if (line_reader_open(&rd, cmd, path)) {
        recur_ngram_free(ng);
        lm_file_close(&f);
        return 1;
    }
    /* a block of many batches, so sorting by length leaves little padding */
    block b = {0};
    b.cap = (size_t)batch * 16;
    b.lines = malloc(b.cap * sizeof *b.lines);
    b.names = malloc(b.cap * sizeof *b.names);
    b.lens = malloc(b.cap * sizeof *b.lens);
    b.res = malloc(b.cap * sizeof *b.res);
    int status = 0;
    if (!b.lines || !b.names || !b.lens || !b.res) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        status = 1;
    }
    lm_scorer sc = {&f, ng, lambda, (int)batch};
    score_out so = {json, log10_out, ng != NULL, lambda};
    long long lines = 0, tokens = 0, oov = 0;
    double total = 0;
    int done = status;
    while (!done) {
        while (b.n < b.cap) {
            if (b.n > 0 && !line_reader_ready(&rd))
                break; /* answer what came before waiting for more */
            const char *line;
            size_t len;
            int got = line_reader_next(&rd, cmd, where, &line, &len);
            if (got <= 0) {
                status = got < 0;
                done = 1;
                break;
            }
            if (lm_check_line(cmd, where, rd.lineno, line, len)) {
                status = 1;
                done = 1;
                break;
            }
            if (block_add(&b, where, rd.lineno, line, len)) {
                fprintf(stderr, "%s: out of memory\n", cmd);
                status = 1;
                done = 1;
                break;
            }
        }
        if (b.n == 0)
            break;
        /* the lines before a bad one are still answered */
        recur_error err = {0};
        if (lm_score_texts(&sc, (const char *const *)b.lines, b.lens, b.n, (const char *const *)b.names, b.res,
                           &err)) {
            fprintf(stderr, "%s: %s\n", cmd, err.msg);
            status = 1;
            block_clear(&b);
            break;
        }
        for (size_t i = 0; i < b.n; i++) {
            print_score(&so, b.first_line + (long long)i, &b.res[i]);
            lines++;
            tokens += b.res[i].tokens;
            oov += b.res[i].oov;
            total += b.res[i].logprob;
        }
        fflush(stdout);
        block_clear(&b);
    }
    if (summary && status == 0) {
        double k = log10_out ? 1 / log(10.0) : 1;
        fprintf(stderr, "%s: %lld lines, %lld tokens, %lld oov, logprob %.6f (%s), perplexity %.4f\n", where, lines,
                tokens, oov, total * k, log10_out ? "log10" : "ln", tokens ? exp(-total / (double)tokens) : NAN);
    }
    free(b.lines);
    free(b.names);
    free(b.lens);
    free(b.res);
    line_reader_close(&rd);
    recur_ngram_free(ng);
    lm_file_close(&f);
    return status;
}
