/*
 * lm_rescore.c - `recur lm rescore MODEL NBEST`: re-ranks n-best lists
 * (`id<TAB>score<TAB>text`, several lines per id) by
 *
 *     score + W * LM log-probability + B * words
 *
 * with each text scored as `recur lm score` scores a line (lm_score.c).
 * Output: every id's hypotheses best first, ids in order of first
 * appearance, as `id<TAB>total<TAB>text`.  --tune REFERENCES (`id<TAB>text`)
 * chooses W and B by the word error rate of each id's top hypothesis
 * (nbest_tune.c) and ranks with them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lm.h"
#include "nbest_tune.h"

int lm_cmd_rescore(int argc, char **argv);

static const char *cmd = "recur lm rescore";

typedef struct hyp {
    const char *id, *text; /* into the file's text, NUL-terminated in place */
    size_t text_len;
    double score, lm, words, total;
    long long line, edits;
    size_t group;
} hyp;

typedef struct ref {
    const char *id, *text;
    size_t text_len;
} ref;

/* Splits text into lines in place (NUL for each '\n'); a last line without
 * '\n' counts, an empty remainder does not. */
static size_t split_lines(char *text, size_t len, char ***lines, size_t **lens)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    if (len > 0 && text[len - 1] != '\n')
        n++;
    *lines = malloc((n ? n : 1) * sizeof **lines);
    *lens = malloc((n ? n : 1) * sizeof **lens);
    if (!*lines || !*lens)
        return (size_t)-1;
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len && k < n; i++)
        if (i == len || text[i] == '\n') {
            (*lines)[k] = text + start;
            (*lens)[k] = i - start;
            if (i < len)
                text[i] = '\0';
            k++;
            start = i + 1;
        }
    return n;
}

static double count_words(const char *s, size_t n)
{
    double w = 0;
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        int sp = s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v';
        w += !sp && !in;
        in = !sp;
    }
    return w;
}

/* id<TAB>score<TAB>text; 0, or 1 after printing the error with the line. */
static int parse_hyp(const char *path, long long lineno, char *line, size_t len, hyp *h)
{
    char *tab1 = memchr(line, '\t', len);
    if (!tab1) {
        fprintf(stderr, "%s: %s:%lld: expected id<TAB>score<TAB>text, found no tab\n", cmd, path, lineno);
        return 1;
    }
    char *tab2 = memchr(tab1 + 1, '\t', len - (size_t)(tab1 + 1 - line));
    if (!tab2) {
        fprintf(stderr, "%s: %s:%lld: expected id<TAB>score<TAB>text, found one tab (no text after the score)\n",
                cmd, path, lineno);
        return 1;
    }
    if (tab1 == line) {
        fprintf(stderr, "%s: %s:%lld: empty id\n", cmd, path, lineno);
        return 1;
    }
    *tab1 = *tab2 = '\0';
    char *end;
    h->score = strtod(tab1 + 1, &end);
    if (end == tab1 + 1 || *end != '\0' || !isfinite(h->score)) {
        fprintf(stderr, "%s: %s:%lld: score '%s' is not a finite number\n", cmd, path, lineno, tab1 + 1);
        return 1;
    }
    h->id = line;
    h->text = tab2 + 1;
    h->text_len = len - (size_t)(tab2 + 1 - line);
    h->line = lineno;
    h->words = count_words(h->text, h->text_len);
    return 0;
}

static int by_id(const void *a, const void *b)
{
    const hyp *const *x = a, *const *y = b;
    int c = strcmp((*x)->id, (*y)->id);
    return c ? c : ((*x)->line > (*y)->line) - ((*x)->line < (*y)->line);
}

/* groups in order of first appearance; inside, input order */
static int by_group(const void *a, const void *b)
{
    const hyp *x = a, *y = b;
    if (x->group != y->group)
        return x->group > y->group ? 1 : -1;
    return (x->line > y->line) - (x->line < y->line);
}

/* best first; ties in input order */
static int by_total(const void *a, const void *b)
{
    const hyp *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int by_ref_id(const void *a, const void *b) { return strcmp(((const ref *)a)->id, ((const ref *)b)->id); }

/* Sorts hyps into groups, one per id, in order of first appearance (inside
 * a group, input order); returns the group count with the offsets in
 * *start (groups + 1, malloc'd), or (size_t)-1 when out of memory. */
static size_t group_hyps(hyp *h, size_t n, size_t **start)
{
    hyp **p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++)
        p[i] = &h[i];
    qsort(p, n, sizeof *p, by_id);
    /* an id's key is its first line: the first of its run */
    size_t groups = 0;
    for (size_t i = 0; i < n; i++) {
        int fresh = i == 0 || strcmp(p[i]->id, p[i - 1]->id);
        groups += fresh;
        p[i]->group = fresh ? (size_t)p[i]->line : p[i - 1]->group;
    }
    free(p);
    qsort(h, n, sizeof *h, by_group);
    *start = malloc((groups + 1) * sizeof **start);
    if (!*start)
        return (size_t)-1;
    size_t g = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || h[i].group != h[i - 1].group)
            (*start)[g++] = i;
    (*start)[groups] = n;
    for (size_t k = 0; k < groups; k++)
        for (size_t i = (*start)[k]; i < (*start)[k + 1]; i++)
            h[i].group = k;
    return groups;
}

/* Reads a whole text file and splits it into lines; 0, or 1 after printing. */
static int read_lines(const char *path, char **text, char ***lines, size_t **lens, size_t *n)
{
    recur_error err = {0};
    size_t len;
    *lines = NULL;
    *lens = NULL;
    if (recur_text_read(path, text, &len, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
        return 1;
    }
    *n = split_lines(*text, len, lines, lens);
    if (*n == (size_t)-1) {
        fprintf(stderr, "%s: %s: out of memory\n", cmd, path);
        return 1;
    }
    return 0;
}

/* id<TAB>text lines into refs sorted by id; 0, or 1 after printing. */
static int read_refs(const char *path, char **text, ref **refs, size_t *n)
{
    char **lines;
    size_t *lens;
    *refs = NULL;
    if (read_lines(path, text, &lines, &lens, n)) {
        free(lines);
        free(lens);
        return 1;
    }
    int rc = 0;
    *refs = malloc((*n ? *n : 1) * sizeof **refs);
    if (!*refs) {
        fprintf(stderr, "%s: %s: out of memory\n", cmd, path);
        rc = 1;
    }
    for (size_t i = 0; !rc && i < *n; i++) {
        char *tab = memchr(lines[i], '\t', lens[i]);
        if (!tab) {
            fprintf(stderr, "%s: %s:%zu: expected id<TAB>text, found no tab\n", cmd, path, i + 1);
            rc = 1;
        } else if (tab == lines[i]) {
            fprintf(stderr, "%s: %s:%zu: empty id\n", cmd, path, i + 1);
            rc = 1;
        } else {
            *tab = '\0';
            (*refs)[i] = (ref){lines[i], tab + 1, lens[i] - (size_t)(tab + 1 - lines[i])};
        }
    }
    if (!rc) {
        qsort(*refs, *n, sizeof **refs, by_ref_id);
        for (size_t i = 1; i < *n; i++)
            if (!strcmp((*refs)[i].id, (*refs)[i - 1].id)) {
                fprintf(stderr, "%s: %s: id '%s' has more than one reference\n", cmd, path, (*refs)[i].id);
                rc = 1;
                break;
            }
    }
    free(lines);
    free(lens);
    return rc;
}

/* Each hypothesis' edits against its id's reference; 0, or 1 after printing. */
static int attach_edits(const char *path, hyp *h, size_t n, const ref *refs, size_t nr, long long *ref_words,
                        const size_t *start, size_t groups)
{
    *ref_words = 0;
    for (size_t g = 0; g < groups; g++) {
        ref key = {h[start[g]].id, NULL, 0};
        const ref *r = bsearch(&key, refs, nr, sizeof *refs, by_ref_id);
        if (!r) {
            fprintf(stderr, "%s: %s: no reference for id '%s'\n", cmd, path, key.id);
            return 1;
        }
        for (size_t i = start[g]; i < start[g + 1] && i < n; i++) {
            long long rw;
            h[i].edits = nbest_word_edits(h[i].text, h[i].text_len, r->text, r->text_len, &rw);
            if (h[i].edits < 0) {
                fprintf(stderr, "%s: out of memory\n", cmd);
                return 1;
            }
            if (i == start[g])
                *ref_words += rw;
        }
    }
    return 0;
}

static void print_hyp(const hyp *h, size_t rank, int json)
{
    if (!json) {
        printf("%s\t%.6f\t%.*s\n", h->id, h->total, (int)h->text_len, h->text);
        return;
    }
    json_t *j = json_pack("{s:s,s:I,s:f,s:f,s:f,s:I,s:s%}", "id", h->id, "rank", (json_int_t)rank, "total", h->total,
                          "score", h->score, "lm", h->lm, "words", (json_int_t)h->words, "text", h->text,
                          h->text_len);
    char *js = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    if (js)
        printf("%s\n", js);
    free(js);
    json_decref(j);
}

int lm_cmd_rescore(int argc, char **argv)
{
    long long threads = 0, batch = 64;
    int json = 0, log10_lm = 0, best_only = 0;
    const char *arpa = NULL, *tune = NULL;
    double lambda = 0.5, weight = 1, bonus = 0;
    cli_opt opts[] = {
        CLI_DBL("weight", &weight, "W", "weight of the LM log-probability", 0, NBEST_MAX_WEIGHT, 0),
        CLI_DBL("length-bonus", &bonus, "B", "added per word of a hypothesis", -NBEST_MAX_BONUS, NBEST_MAX_BONUS, 0),
        CLI_STR("tune", &tune, "REFERENCES",
                "choose --weight and --length-bonus minimising the word error rate against these "
                "id<TAB>text lines (from the given values)",
                "none"),
        CLI_FLAG("log10", &log10_lm, "the LM log-probability in base 10, not natural logarithms"),
        CLI_FLAG("best", &best_only, "only each id's top hypothesis"),
        CLI_FLAG("json", &json, "one JSON object per hypothesis (JSON Lines)"),
        CLI_STR("interpolate", &arpa, "ARPA", "mix each token's probability with this n-gram model's (word models)",
                "none"),
        CLI_DBL("lambda", &lambda, "L", "weight of the RNN in the mixture, in [0, 1] (0: the n-gram model alone)", 0,
                1, 0),
        CLI_INT("batch", &batch, "N", "sentences scored side by side", 1, 4096),
        CLI_THREADS(&threads),
        CLI_END,
    };
    const char *pos[4];
    int npos;
    int rc = cli_parse(cmd, "[OPTIONS] MODEL NBEST\n\n"
                            "NBEST holds id<TAB>score<TAB>text lines, several per id.  Prints each id's\n"
                            "hypotheses best first by score + W * LM log-probability + B * words, as\n"
                            "id<TAB>total<TAB>text, ids in order of first appearance.",
                       opts, argc, argv, pos, 4, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos != 2) {
        fprintf(stderr, "%s: needs a model file and an n-best file (try %s --help)\n", cmd, cmd);
        return 2;
    }
    if (opts[7].given && !arpa) {
        fprintf(stderr, "%s: --lambda needs --interpolate\n", cmd);
        return 2;
    }
    const char *path = pos[1];
    recur_set_num_threads((int)threads);
    char *text = NULL, *ref_text = NULL, **lines = NULL;
    size_t *lens = NULL, *start = NULL, n = 0, groups = 0, nr = 0;
    hyp *h = NULL;
    ref *refs = NULL;
    lm_line_score *res = NULL;
    const char **texts = NULL, **names = NULL;
    char *name_buf = NULL;
    recur_ngram *ng = NULL;
    lm_file f;
    int status = 1, loaded = 0;
    if (read_lines(path, &text, &lines, &lens, &n))
        goto done;
    h = calloc(n ? n : 1, sizeof *h);
    if (!h)
        goto oom;
    for (size_t i = 0; i < n; i++)
        if (lm_check_line(cmd, path, (long long)i + 1, lines[i], lens[i]) ||
            parse_hyp(path, (long long)i + 1, lines[i], lens[i], &h[i]))
            goto done;
    if ((groups = group_hyps(h, n, &start)) == (size_t)-1)
        goto oom;
    long long ref_words = 0;
    if (tune && (read_refs(tune, &ref_text, &refs, &nr) ||
                 attach_edits(tune, h, n, refs, nr, &ref_words, start, groups)))
        goto done;
    if (lm_file_load(pos[0], &f))
        goto done;
    loaded = 1;
    if (arpa) {
        recur_error err = {0};
        if (f.level == RECUR_LEVEL_CHAR) {
            fprintf(stderr, "%s: --interpolate needs a word model; %s is a character model\n", cmd, pos[0]);
            status = 2;
            goto done;
        }
        if (recur_ngram_load(&ng, arpa, &err) != RECUR_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.msg);
            goto done;
        }
    }
    res = malloc((n ? n : 1) * sizeof *res);
    texts = malloc((n ? n : 1) * sizeof *texts);
    names = malloc((n ? n : 1) * sizeof *names);
    size_t *tl = malloc((n ? n : 1) * sizeof *tl);
    const size_t name_len = 64;
    name_buf = malloc((n ? n : 1) * name_len);
    if (!res || !texts || !names || !tl || !name_buf) {
        free(tl);
        goto oom;
    }
    for (size_t i = 0; i < n; i++) {
        texts[i] = h[i].text;
        tl[i] = h[i].text_len;
        snprintf(name_buf + i * name_len, name_len, "%s:%lld", path, h[i].line);
        names[i] = name_buf + i * name_len;
    }
    lm_scorer sc = {&f, ng, lambda, (int)batch};
    recur_error err = {0};
    int bad = lm_score_texts(&sc, texts, tl, n, names, res, &err);
    free(tl);
    if (bad) {
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
        goto done;
    }
    double k = log10_lm ? 1 / log(10.0) : 1;
    double *sc_v = malloc((n ? n : 1) * sizeof *sc_v), *lm_v = malloc((n ? n : 1) * sizeof *lm_v),
           *wd_v = malloc((n ? n : 1) * sizeof *wd_v);
    long long *ed_v = malloc((n ? n : 1) * sizeof *ed_v);
    if (!sc_v || !lm_v || !wd_v || !ed_v) {
        free(sc_v);
        free(lm_v);
        free(wd_v);
        free(ed_v);
        goto oom;
    }
    for (size_t i = 0; i < n; i++) {
        h[i].lm = res[i].logprob * k;
        sc_v[i] = h[i].score;
        lm_v[i] = h[i].lm;
        wd_v[i] = h[i].words;
        ed_v[i] = h[i].edits;
    }
    if (tune) {
        nbest_tune_set ts = {groups, start, sc_v, lm_v, wd_v, ed_v};
        long long e_alone = nbest_errors(&ts, 0, 0), e_start = nbest_errors(&ts, weight, bonus);
        long long oracle = 0;
        for (size_t g = 0; g < groups; g++) {
            long long m = ed_v[start[g]];
            for (size_t i = start[g]; i < start[g + 1]; i++)
                m = ed_v[i] < m ? ed_v[i] : m;
            oracle += m;
        }
        long long e = nbest_tune(&ts, &weight, &bonus);
        if (e < 0) {
            free(sc_v);
            free(lm_v);
            free(wd_v);
            free(ed_v);
            goto oom;
        }
        double rw = ref_words > 0 ? (double)ref_words : 1;
        fprintf(stderr,
                "%s: tuned on %s (%zu ids, %lld reference words): weight %.4f, length bonus %.4f: "
                "WER %.2f%% (recogniser alone %.2f%%, at the start %.2f%%, oracle %.2f%%)\n",
                cmd, tune, groups, ref_words, weight, bonus, 100.0 * (double)e / rw, 100.0 * (double)e_alone / rw,
                100.0 * (double)e_start / rw, 100.0 * (double)oracle / rw);
    }
    free(sc_v);
    free(lm_v);
    free(wd_v);
    free(ed_v);
    for (size_t i = 0; i < n; i++)
        h[i].total = h[i].score + weight * h[i].lm + bonus * h[i].words;
    for (size_t g = 0; g < groups; g++) {
        qsort(h + start[g], start[g + 1] - start[g], sizeof *h, by_total);
        for (size_t i = start[g]; i < start[g + 1] && (!best_only || i == start[g]); i++)
            print_hyp(&h[i], i - start[g] + 1, json);
    }
    fflush(stdout);
    status = 0;
    goto done;
oom:
    fprintf(stderr, "%s: out of memory\n", cmd);
done:
    free(res);
    free(texts);
    free(names);
    free(name_buf);
    free(h);
    free(start);
    free(refs);
    free(lines);
    free(lens);
    free(text);
    free(ref_text);
    recur_ngram_free(ng);
    if (loaded)
        lm_file_close(&f);
    return status;
}
