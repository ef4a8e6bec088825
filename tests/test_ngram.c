/*
 * test_ngram.c - the n-gram baseline against definitions, not against itself.
 *
 *  - A hand computation: "a b" with order 2 and discounts 0.5/1/1.5, every
 *    probability worked out on paper (see test_hand_bigram).
 *  - A brute-force reference written here from the definitions of
 *    interpolated modified Kneser-Ney (Chen & Goodman 1998): raw counts by
 *    scanning every position, continuation counts by listing left
 *    extensions, discounts from counts of counts, and the recursive
 *    interpolated formula evaluated directly (no backoff form, no sorting).
 *    For orders 1..6 on a generated corpus, every probability p(w | h) for
 *    every word w and every context h met in training and held-out text must
 *    equal the trained model's, read back from its ARPA file and scored by
 *    backoff evaluation; and they must sum to 1 over the vocabulary.
 *  - ARPA round trips (train -> load -> save is byte-identical), the external
 *    sort (a tiny memory budget, many spilled runs and merge passes, gives
 *    the same file), files in SRILM's/KenLM's style with and without <unk>,
 *    and malformed files rejected with the right line number.
 *  - The `recur ngram` program beside the test (build/recur): --help lists
 *    every option, bad options exit 2 naming the option, failures exit 1
 *    naming the file and line.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "recur.h"

static char tmpdir[64];

static void path_in_tmp(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ------------------------------------------------------------------------ */
/* The reference: modified Kneser-Ney straight from the definitions.        */

#define RMAXW 64
#define RMAXN 6
#define RBOS 0
#define RANY -1

typedef struct rgram {
    int w[RMAXN];
    long c; /* raw count: occurrences in the padded sentences */
    long a; /* the count the formulas use (raw or continuation) */
} rgram;

typedef struct ref_model {
    int N;
    char words[RMAXW][16];
    int nw;            /* words[0] = "<s>", words[1] = "</s>" */
    rgram *g[RMAXN + 1];
    int ng[RMAXN + 1];
    double D[RMAXN + 1][3];
    int fallback_used[RMAXN + 1];
    int V;             /* predicted vocabulary: every word but <s> */
} ref_model;

static int ref_word(ref_model *r, const char *w)
{
    for (int i = 0; i < r->nw; i++)
        if (!strcmp(r->words[i], w))
            return i;
    assert_true(r->nw < RMAXW);
    assert_true(strlen(w) < 16);
    strcpy(r->words[r->nw], w);
    return r->nw++;
}

static rgram *ref_find(const ref_model *r, int k, const int *w)
{
    for (int i = 0; i < r->ng[k]; i++)
        if (!memcmp(r->g[k][i].w, w, (size_t)k * sizeof *w))
            return &r->g[k][i];
    return NULL;
}

/* Splits text into sentences of word ids, each padded <s> .. </s>. */
static int ref_sentences(ref_model *r, const char *text, int sent[][40], int *len, int max)
{
    int n = 0;
    char *copy = strdup(text), *next;
    /* every line is a sentence, an empty one included */
    for (char *line = copy; *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : line + strlen(line);
        if (nl)
            *nl = '\0';
        assert_true(n < max);
        int m = 0;
        sent[n][m++] = RBOS;
        char *s2 = NULL;
        for (char *w = strtok_r(line, " ", &s2); w; w = strtok_r(NULL, " ", &s2)) {
            assert_true(m < 38);
            sent[n][m++] = ref_word(r, w);
        }
        sent[n][m++] = 1;
        len[n++] = m;
    }
    free(copy);
    return n;
}

static void ref_build(ref_model *r, const char *corpus, int N, const double fallback[3])
{
    memset(r, 0, sizeof *r);
    r->N = N;
    ref_word(r, "<s>");
    ref_word(r, "</s>");
    static int sent[400][40];
    static int len[400];
    int ns = ref_sentences(r, corpus, sent, len, 400);
    /* Raw counts of every n-gram of every order, by scanning positions. */
    for (int k = 1; k <= N; k++) {
        r->g[k] = calloc(20000, sizeof(rgram));
        assert_non_null(r->g[k]);
        for (int s = 0; s < ns; s++)
            for (int i = 0; i + k <= len[s]; i++) {
                rgram *g = ref_find(r, k, &sent[s][i]);
                if (!g) {
                    assert_true(r->ng[k] < 20000);
                    g = &r->g[k][r->ng[k]++];
                    memcpy(g->w, &sent[s][i], (size_t)k * sizeof(int));
                }
                g->c++;
            }
    }
    /* The counts the formulas use. */
    for (int k = 1; k <= N; k++)
        for (int i = 0; i < r->ng[k]; i++) {
            rgram *g = &r->g[k][i];
            if (k == N || g->w[0] == RBOS) {
                g->a = g->c;
            } else {
                /* distinct v with c(v g) > 0 */
                g->a = 0;
                for (int j = 0; j < r->ng[k + 1]; j++)
                    if (!memcmp(r->g[k + 1][j].w + 1, g->w, (size_t)k * sizeof(int)))
                        g->a++;
            }
        }
    /* Discounts from counts of counts; the 1-gram <s> is no event. */
    for (int k = 1; k <= N; k++) {
        long n[5] = {0};
        for (int i = 0; i < r->ng[k]; i++) {
            rgram *g = &r->g[k][i];
            if (k == 1 && g->w[0] == RBOS)
                continue;
            if (g->a >= 1 && g->a <= 4)
                n[g->a]++;
        }
        int ok = n[1] && n[2] && n[3] && n[4];
        if (ok) {
            double Y = (double)n[1] / (double)(n[1] + 2 * n[2]);
            r->D[k][0] = 1 - 2 * Y * (double)n[2] / (double)n[1];
            r->D[k][1] = 2 - 3 * Y * (double)n[3] / (double)n[2];
            r->D[k][2] = 3 - 4 * Y * (double)n[4] / (double)n[3];
            for (int i = 0; i < 3; i++)
                ok = ok && r->D[k][i] >= 0 && r->D[k][i] <= i + 1;
        }
        if (!ok) {
            r->fallback_used[k] = 1;
            for (int i = 0; i < 3; i++)
                r->D[k][i] = fallback[i];
        }
    }
    r->V = 0;
    for (int i = 0; i < r->ng[1]; i++)
        if (r->g[1][i].w[0] != RBOS)
            r->V++;
}

static void ref_free(ref_model *r)
{
    for (int k = 0; k <= RMAXN; k++)
        free(r->g[k]);
}

static double ref_disc(const ref_model *r, int k, long a)
{
    return a == 0 ? 0.0 : r->D[k][a >= 3 ? 2 : a - 1];
}

/* p(w | h) for a context h of hlen words (hlen <= N-1), by the recursion. */
static double ref_p(const ref_model *r, const int *h, int hlen, int w)
{
    int k = hlen + 1;
    double S = 0, n[4] = {0}, a_hw = 0;
    for (int i = 0; i < r->ng[k]; i++) {
        const rgram *g = &r->g[k][i];
        if (memcmp(g->w, h, (size_t)hlen * sizeof(int)) != 0)
            continue;
        if (k == 1 && g->w[0] == RBOS)
            continue;
        S += (double)g->a;
        n[g->a >= 3 ? 3 : g->a]++;
        if (g->w[hlen] == w)
            a_hw = (double)g->a;
    }
    if (S == 0) /* an unseen context: the lower order alone */
        return ref_p(r, h + 1, hlen - 1, w);
    double gamma = (r->D[k][0] * n[1] + r->D[k][1] * n[2] + r->D[k][2] * n[3]) / S;
    double lower = k == 1 ? 1.0 / r->V : ref_p(r, h + 1, hlen - 1, w);
    return (a_hw - ref_disc(r, k, (long)a_hw)) / S + gamma * lower;
}

/* ------------------------------------------------------------------------ */
/* Corpora                                                                   */

/* Sentences of up to 8 words w0..w{V-1}: with probability alpha/1000 a word
 * follows the previous one along a short chain (repeated n-grams), else it
 * is drawn with P(w{V-1-j}) ~ 2j+1 (a long tail of rare words).  Seed 4,
 * V = 40, alpha = 300, 120 sentences makes counts of counts n1..n4 from which
 * every order of a trigram model estimates valid discounts. */
static uint64_t lcg(uint64_t s) { return s * 6364136223846793005ull + 1442695040888963407ull; }

static char *gen_corpus(unsigned seed, int n_sent, int V, int alpha)
{
    size_t cap = (size_t)n_sent * 48 + 1, used = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    uint64_t s = (uint64_t)seed * 2654435761ull + 12345u;
    for (int i = 0; i < n_sent; i++) {
        s = lcg(s);
        int len = (int)((s >> 33) % 9), prev = (int)((s >> 40) % 4);
        for (int j = 0; j < len; j++) {
            s = lcg(s);
            int r = (int)((s >> 33) % 1000), w;
            if (r < alpha)
                w = (prev * 2 + r % 3) % V;
            else
                w = V - 1 - (int)floor(sqrt((double)((s >> 20) % (uint64_t)(V * V))));
            used += (size_t)snprintf(text + used, cap - used, "%sw%d", j ? " " : "", w);
            prev = w;
        }
        used += (size_t)snprintf(text + used, cap - used, "\n");
    }
    return text;
}

/* The first n lines of text with their words reversed: only known words,
 * in orders mostly unseen. */
static char *reversed_lines(const char *text, int n)
{
    char *out = calloc(strlen(text) + 1, 1), *copy = strdup(text);
    assert_non_null(out);
    assert_non_null(copy);
    char *line = copy;
    for (int i = 0; i < n && *line; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        char *words[16];
        int k = 0;
        char *save = NULL;
        for (char *w = strtok_r(line, " ", &save); w && k < 16; w = strtok_r(NULL, " ", &save))
            words[k++] = w;
        for (int j = k - 1; j >= 0; j--) {
            strcat(out, words[j]);
            if (j)
                strcat(out, " ");
        }
        strcat(out, "\n");
        line = nl + 1;
    }
    free(copy);
    return out;
}

/* ------------------------------------------------------------------------ */

static const double FALLBACK[3] = {0.5, 1.0, 1.5};

static void train_or_fail(const char *corpus_path, const char *arpa, int order, size_t mem, int fallback,
                          recur_ngram_train_stats *stats)
{
    recur_ngram_train_config cfg;
    recur_ngram_train_config_default(&cfg);
    cfg.order = order;
    cfg.memory_bytes = mem;
    cfg.tmp_dir = tmpdir;
    cfg.discount_fallback = fallback;
    recur_error err;
    recur_status st = recur_ngram_train(corpus_path, arpa, &cfg, stats, &err);
    if (st != RECUR_OK)
        fail_msg("train: %s", err.msg);
}

static recur_ngram *load_or_fail(const char *arpa)
{
    recur_ngram *m = NULL;
    recur_error err;
    if (recur_ngram_load(&m, arpa, &err) != RECUR_OK)
        fail_msg("load: %s", err.msg);
    return m;
}

/* Compares the model with the reference on every context of the sentences
 * in text, for every word; checks that each distribution sums to 1. */
static void compare_with_reference(const recur_ngram *m, ref_model *r, const char *text, int *n_contexts)
{
    static int sent[400][40];
    static int len[400];
    int ns = ref_sentences(r, text, sent, len, 400);
    int V = recur_ngram_vocab_size(m);
    /* model id of each reference word */
    int32_t ids[RMAXW];
    for (int i = 0; i < r->nw; i++)
        ids[i] = recur_ngram_word_id(m, r->words[i]);
    for (int s = 0; s < ns; s++) {
        recur_ngram_state st;
        recur_ngram_begin(m, &st);
        for (int i = 1; i < len[s]; i++) {
            int hlen = i < r->N - 1 ? i : r->N - 1;
            const int *h = &sent[s][i - hlen];
            double sum = 0;
            for (int32_t w = 0; w < V; w++) {
                if (w == recur_ngram_bos(m))
                    continue;
                int rw = -1;
                for (int j = 0; j < r->nw; j++)
                    if (!strcmp(r->words[j], recur_ngram_word(m, w)))
                        rw = j;
                assert_true(rw >= 0);
                recur_ngram_state copy = st;
                double lp = recur_ngram_score(m, &copy, w);
                double want = log10(ref_p(r, h, hlen, rw));
                if (fabs(lp - want) > 1e-7)
                    fail_msg("order %d, sentence %d position %d, word '%s': model log10 p %.12f, reference %.12f",
                             r->N, s, i, r->words[rw], lp, want);
                sum += pow(10.0, lp);
            }
            if (fabs(sum - 1.0) > 1e-6)
                fail_msg("order %d, sentence %d position %d: probabilities sum to %.12f", r->N, s, i, sum);
            (*n_contexts)++;
            int32_t next = ids[sent[s][i]];
            assert_true(next >= 0);
            recur_ngram_score(m, &st, next);
        }
    }
}

/* ------------------------------------------------------------------------ */

/* "a b", order 2, D = 0.5, 1, 1.5 (counts of counts cannot give discounts:
 * n2 = 0).  Bigrams <s> a, a b, b </s> once each; continuation counts of a,
 * b, </s> are 1 each, V = 3.
 *   unigrams: S = 3, p(w) = (1 - 0.5)/3 + g/3 with g = 0.5*3/3 = 0.5: 1/3
 *   after a: S = 1, g = 0.5: p(b|a) = 0.5 + 0.5/3 = 2/3, p(a|a) = 1/6
 *   likewise p(a|<s>) = p(</s>|b) = 2/3, the others 1/6. */
static void test_hand_bigram(void **state)
{
    (void)state;
    char corpus[256], arpa[256];
    path_in_tmp(corpus, sizeof corpus, "hand.txt");
    path_in_tmp(arpa, sizeof arpa, "hand.arpa");
    write_file(corpus, "a b\n");

    recur_ngram_train_config cfg;
    recur_ngram_train_config_default(&cfg);
    cfg.order = 2;
    cfg.tmp_dir = tmpdir;
    recur_error err;
    assert_int_equal(recur_ngram_train(corpus, arpa, &cfg, NULL, &err), RECUR_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, "discounts of order 2"));
    assert_int_equal(access(arpa, F_OK), -1); /* nothing half-written */

    recur_ngram_train_stats stats;
    train_or_fail(corpus, arpa, 2, 0, 1, &stats);
    assert_int_equal(stats.vocab_size, 3);
    assert_int_equal(stats.ngrams[0], 4); /* <s> a b </s> */
    assert_int_equal(stats.ngrams[1], 3);
    assert_int_equal(stats.fallback_used[0], 1);
    assert_int_equal(stats.fallback_used[1], 1);

    recur_ngram *m = load_or_fail(arpa);
    int32_t a = recur_ngram_word_id(m, "a"), b = recur_ngram_word_id(m, "b"), e = recur_ngram_eos(m);
    assert_true(a >= 0 && b >= 0);
    struct {
        int32_t ctx, w;
        double p;
    } cases[] = {
        {-1, a, 2.0 / 3}, {-1, b, 1.0 / 6}, {-1, e, 1.0 / 6}, /* after <s> */
        {a, b, 2.0 / 3},  {a, a, 1.0 / 6},  {a, e, 1.0 / 6},
        {b, e, 2.0 / 3},  {b, a, 1.0 / 6},  {b, b, 1.0 / 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        recur_ngram_state st;
        recur_ngram_begin(m, &st);
        if (cases[i].ctx >= 0) {
            st.len = 1;
            st.words[0] = cases[i].ctx;
        }
        assert_float_equal(recur_ngram_score(m, &st, cases[i].w), log10(cases[i].p), 1e-8);
    }
    /* A unigram model on the same text: p(w) = 1/3 each. */
    train_or_fail(corpus, arpa, 1, 0, 1, &stats);
    recur_ngram_free(m);
    m = load_or_fail(arpa);
    recur_ngram_state st;
    recur_ngram_begin(m, &st);
    assert_int_equal(st.len, 0);
    assert_float_equal(recur_ngram_score(m, &st, recur_ngram_word_id(m, "b")), log10(1.0 / 3), 1e-8);

    /* Perplexity of the text under the bigram model: three tokens at 2/3. */
    train_or_fail(corpus, arpa, 2, 0, 1, &stats);
    recur_ngram_free(m);
    m = load_or_fail(arpa);
    recur_ngram_eval_result res;
    assert_int_equal(recur_ngram_eval_file(m, corpus, NULL, NULL, &res, &err), RECUR_OK);
    assert_int_equal(res.sentences, 1);
    assert_int_equal(res.words, 2);
    assert_int_equal(res.predicted, 3);
    assert_int_equal(res.oovs, 0);
    assert_float_equal(res.log10_prob, 3 * log10(2.0 / 3), 1e-8);
    assert_float_equal(res.perplexity, 1.5, 1e-8);
    recur_ngram_free(m);
}

static void test_orders_match_reference(void **state)
{
    (void)state;
    char corpus[256], arpa[256];
    path_in_tmp(corpus, sizeof corpus, "gen.txt");
    path_in_tmp(arpa, sizeof arpa, "gen.arpa");
    char *train = gen_corpus(4, 120, 40, 300);
    char *held = reversed_lines(train, 40);
    write_file(corpus, train);
    for (int N = 1; N <= 6; N++) {
        recur_ngram_train_stats stats;
        train_or_fail(corpus, arpa, N, 0, 1, &stats);
        ref_model r;
        ref_build(&r, train, N, FALLBACK);
        for (int k = 1; k <= N; k++) {
            assert_int_equal(stats.fallback_used[k - 1], r.fallback_used[k]);
            for (int i = 0; i < 3; i++)
                assert_float_equal(stats.discounts[k - 1][i], r.D[k][i], 1e-12);
            /* every n-gram of the padded sentences is listed, <s> included */
            assert_int_equal(stats.ngrams[k - 1], r.ng[k]);
        }
        /* The estimated discounts are exercised, not only the fallback. */
        if (N <= 3)
            for (int k = 1; k <= N; k++)
                assert_int_equal(stats.fallback_used[k - 1], 0);
        assert_int_equal(stats.vocab_size, r.V);
        recur_ngram *m = load_or_fail(arpa);
        assert_int_equal(recur_ngram_order(m), N);
        int contexts = 0;
        compare_with_reference(m, &r, train, &contexts);
        compare_with_reference(m, &r, held, &contexts);
        assert_true(contexts > 400);
        recur_ngram_free(m);
        ref_free(&r);
    }
    free(train);
    free(held);
}

/* train -> load -> save gives the same bytes; the saved file loads and
 * scores the same. */
static void test_arpa_round_trip(void **state)
{
    (void)state;
    char corpus[256], a1[256], a2[256];
    path_in_tmp(corpus, sizeof corpus, "rt.txt");
    path_in_tmp(a1, sizeof a1, "rt1.arpa");
    path_in_tmp(a2, sizeof a2, "rt2.arpa");
    char *train = gen_corpus(3, 150, 40, 300);
    write_file(corpus, train);
    free(train);
    recur_ngram_train_stats stats;
    train_or_fail(corpus, a1, 4, 0, 1, &stats);
    recur_ngram *m1 = load_or_fail(a1);
    for (int k = 1; k <= 4; k++)
        assert_int_equal(recur_ngram_count(m1, k), stats.ngrams[k - 1]);
    recur_error err;
    assert_int_equal(recur_ngram_save(m1, a2, &err), RECUR_OK);
    size_t n1, n2;
    char *t1 = read_file(a1, &n1), *t2 = read_file(a2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    free(t1);
    free(t2);
    recur_ngram *m2 = load_or_fail(a2);
    assert_int_equal(recur_ngram_vocab_size(m1), recur_ngram_vocab_size(m2));
    recur_ngram_state s1, s2;
    recur_ngram_begin(m1, &s1);
    recur_ngram_begin(m2, &s2);
    for (int i = 0; i < 200; i++) {
        int32_t w = (int32_t)((i * 7 + 3) % recur_ngram_vocab_size(m1));
        assert_true(recur_ngram_score(m1, &s1, w) == recur_ngram_score(m2, &s2, w));
    }
    recur_ngram_free(m1);
    recur_ngram_free(m2);
}

/* A memory budget of a few kilobytes forces hundreds of sorted runs and
 * merge passes; the model must not change. */
static void test_external_sort(void **state)
{
    (void)state;
    char corpus[256], a1[256], a2[256];
    path_in_tmp(corpus, sizeof corpus, "big.txt");
    path_in_tmp(a1, sizeof a1, "big1.arpa");
    path_in_tmp(a2, sizeof a2, "big2.arpa");
    char *train = gen_corpus(5, 1500, 40, 300);
    write_file(corpus, train);
    free(train);
    recur_ngram_train_stats s1, s2;
    train_or_fail(corpus, a1, 5, 0, 1, &s1);
    train_or_fail(corpus, a2, 5, 4096, 1, &s2);
    assert_int_equal(s1.runs_spilled, 0);
    assert_true(s2.runs_spilled > 64); /* more than one merge pass's fan-in */
    size_t n1, n2;
    char *t1 = read_file(a1, &n1), *t2 = read_file(a2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    free(t1);
    free(t2);
}

/* A file as SRILM and KenLM write them: text before \data\, <unk>, -99 for
 * <s>, blank lines; scored by hand with backoff evaluation. */
static const char *FOREIGN =
    "This file was written by hand in the style of ngram-count and lmplz.\n"
    "\n"
    "\\data\\\n"
    "ngram 1=5\n"
    "ngram 2=3\n"
    "\n"
    "\\1-grams:\n"
    "-1.0\t<unk>\t0\n"
    "-99\t<s>\t-0.30103\n"
    "-0.5\ta\t-0.2\n"
    "-0.7\tb\t-0.1\n"
    "-0.6\t</s>\n"
    "\n"
    "\\2-grams:\n"
    "-0.25\t<s> a\n"
    "-0.3 a b\n"
    "-0.4\tb </s>\n"
    "\n"
    "\\end\\\n";

static void on_sentence(void *ctx, int64_t line, double lp, int64_t predicted, int64_t oovs)
{
    double *acc = ctx;
    acc[0] += lp;
    acc[1] += (double)predicted;
    acc[2] += (double)oovs;
    acc[3] = (double)line;
}

static void test_foreign_arpa(void **state)
{
    (void)state;
    char arpa[256], text[256];
    path_in_tmp(arpa, sizeof arpa, "foreign.arpa");
    path_in_tmp(text, sizeof text, "foreign.txt");
    write_file(arpa, FOREIGN);
    recur_ngram *m = load_or_fail(arpa);
    assert_int_equal(recur_ngram_order(m), 2);
    assert_int_equal(recur_ngram_vocab_size(m), 5);
    assert_int_equal(recur_ngram_unk(m), recur_ngram_word_id(m, "<unk>"));
    assert_int_equal(recur_ngram_map(m, "zebra"), recur_ngram_unk(m));
    assert_int_equal(recur_ngram_word_id(m, "zebra"), -1);
    /* "a b": listed all the way; "b a": backoffs of <s>, b, a; "zebra":
     * <unk> after <s>, then </s> after <unk> (backoff 0). */
    write_file(text, "a b\nb a\nzebra\n");
    double want = (-0.25 - 0.3 - 0.4) + ((-0.30103 - 0.7) + (-0.1 - 0.5) + (-0.2 - 0.6)) +
                  ((-0.30103 - 1.0) + (0.0 - 0.6));
    double acc[4] = {0};
    recur_ngram_eval_result res;
    recur_error err;
    assert_int_equal(recur_ngram_eval_file(m, text, on_sentence, acc, &res, &err), RECUR_OK);
    assert_int_equal(res.sentences, 3);
    assert_int_equal(res.words, 5);
    assert_int_equal(res.oovs, 1);
    assert_int_equal(res.predicted, 8); /* <unk> is scored */
    assert_float_equal(res.log10_prob, want, 1e-12);
    assert_float_equal(res.perplexity, pow(10.0, -want / 8), 1e-9);
    assert_float_equal(acc[0], want, 1e-12);
    assert_float_equal(acc[1], 8, 0);
    assert_float_equal(acc[2], 1, 0);
    assert_float_equal(acc[3], 3, 0);
    recur_ngram_free(m);

    /* Without <unk>, an OOV word is left out and the context restarts. */
    char *no_unk = strdup(FOREIGN);
    char *p = strstr(no_unk, "ngram 1=5");
    p[8] = '4';
    p = strstr(no_unk, "-1.0\t<unk>\t0\n");
    memmove(p, p + strlen("-1.0\t<unk>\t0\n"), strlen(p + strlen("-1.0\t<unk>\t0\n")) + 1);
    write_file(arpa, no_unk);
    free(no_unk);
    m = load_or_fail(arpa);
    assert_int_equal(recur_ngram_unk(m), -1);
    assert_int_equal(recur_ngram_map(m, "zebra"), -1);
    write_file(text, "a zebra b\n");
    /* a after <s>; zebra excluded; b with no context: p(b); </s> after b */
    want = -0.25 + -0.7 + -0.4;
    assert_int_equal(recur_ngram_eval_file(m, text, NULL, NULL, &res, &err), RECUR_OK);
    assert_int_equal(res.oovs, 1);
    assert_int_equal(res.predicted, 3);
    assert_float_equal(res.log10_prob, want, 1e-12);
    recur_ngram_state st;
    recur_ngram_begin(m, &st);
    assert_true(isinf(recur_ngram_score(m, &st, -1)));
    assert_int_equal(st.len, 0);
    recur_ngram_free(m);
}

typedef struct bad_case {
    const char *what;
    const char *text;
    const char *expect; /* a piece of the message, with the line */
} bad_case;

static void test_malformed_arpa(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"empty", "", "no \\data\\"},
        {"no counts", "\\data\\\n\\1-grams:\n-1 a\n\\end\\\n", "line 2: \\data\\ declares no n-gram counts"},
        {"bad count line", "\\data\\\nngram 1 = x\n", "line 2: expected 'ngram K=COUNT'"},
        {"counts out of order", "\\data\\\nngram 2=1\n", "line 2: count of 2-grams where 1-grams were due"},
        {"fewer entries than declared",
         "\\data\\\nngram 1=3\n\n\\1-grams:\n-99 <s>\n-1 </s>\n\n\\end\\\n",
         "line 8: the \\1-grams: section has 2 entries but \\data\\ declared 3"},
        {"more entries than declared", "\\data\\\nngram 1=1\n\\1-grams:\n-99 <s>\n-1 </s>\n\\end\\\n",
         "line 5: more 1-grams than the 1 declared"},
        {"bad probability", "\\data\\\nngram 1=2\n\\1-grams:\n-99 <s>\n-1.x </s>\n\\end\\\n",
         "line 5: '-1.x' is not a log10 probability"},
        {"positive probability", "\\data\\\nngram 1=2\n\\1-grams:\n-99 <s>\n0.5 </s>\n\\end\\\n",
         "line 5: '0.5' is not a log10 probability"},
        {"nan", "\\data\\\nngram 1=2\n\\1-grams:\n-99 <s>\nnan </s>\n\\end\\\n", "line 5: 'nan'"},
        {"bad backoff", "\\data\\\nngram 1=2\nngram 2=1\n\\1-grams:\n-99 <s> zz\n-1 </s>\n\\2-grams:\n-1 <s> </s>\n\\end\\\n",
         "line 5: 'zz' is not a log10 backoff weight"},
        {"missing section",
         "\\data\\\nngram 1=2\nngram 2=1\n\\1-grams:\n-99 <s>\n-1 </s>\n\n\\end\\\n",
         "line 8: \\end\\ before the \\2-grams: section"},
        {"sections swapped",
         "\\data\\\nngram 1=2\nngram 2=1\n\\2-grams:\n-1 <s> </s>\n",
         "line 4: expected \\1-grams:, found '\\2-grams:'"},
        {"missing end", "\\data\\\nngram 1=2\n\\1-grams:\n-99 <s>\n-1 </s>\n", "line 5: end of file: missing \\end\\"},
        {"section beyond the order", "\\data\\\nngram 1=2\n\\1-grams:\n-99 <s>\n-1 </s>\n\\2-grams:\n\\end\\\n",
         "line 6: a \\2-grams: section, but \\data\\ declares order 1"},
        {"trigram in the bigram section",
         "\\data\\\nngram 1=3\nngram 2=1\nngram 3=0\n\\1-grams:\n-99 <s> -0.5\n-1 a -0.5\n-1 </s>\n\\2-grams:\n-1 <s> a </s>\n\\3-grams:\n\\end\\\n",
         "line 10: '</s>' is not a log10 backoff weight (or the entry has 3 words, not 2)"},
        {"trigram in the top-order bigram section",
         "\\data\\\nngram 1=3\nngram 2=1\n\\1-grams:\n-99 <s> -0.5\n-1 a -0.5\n-1 </s>\n\\2-grams:\n-1 <s> a </s>\n\\end\\\n",
         "line 9: 4 fields: a backoff weight on a top-order 2-gram (or a 3-gram in the 2-gram section)"},
        {"unigram in the bigram section",
         "\\data\\\nngram 1=2\nngram 2=1\n\\1-grams:\n-99 <s>\n-1 </s>\n\\2-grams:\n-1 </s>\n\\end\\\n",
         "line 8: a 2-gram entry is a log10 probability, 2 words and an optional backoff weight, but the line has 2 fields"},
        {"backoff on the top order",
         "\\data\\\nngram 1=2\nngram 2=1\n\\1-grams:\n-99 <s>\n-1 </s>\n\\2-grams:\n-1 <s> </s> -0.1\n\\end\\\n",
         "line 8: 4 fields: a backoff weight on a top-order 2-gram"},
        {"duplicate unigram", "\\data\\\nngram 1=3\n\\1-grams:\n-99 <s>\n-1 </s>\n-1 </s>\n\\end\\\n",
         "line 6: 1-gram '</s>' listed twice"},
        {"duplicate bigram",
         "\\data\\\nngram 1=2\nngram 2=2\n\\1-grams:\n-99 <s>\n-1 </s>\n\\2-grams:\n-1 <s> </s>\n-2 <s> </s>\n\\end\\\n",
         "line 9: 2-gram listed twice"},
        {"unknown word", "\\data\\\nngram 1=2\nngram 2=1\n\\1-grams:\n-99 <s>\n-1 </s>\n\\2-grams:\n-1 <s> b\n\\end\\\n",
         "line 8: word 'b' of a 2-gram is not among the 1-grams"},
        {"no <s>", "\\data\\\nngram 1=1\n\\1-grams:\n-1 </s>\n\\end\\\n", "the 1-grams lack <s>"},
    };
    char arpa[256];
    path_in_tmp(arpa, sizeof arpa, "bad.arpa");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_file(arpa, cases[i].text);
        recur_ngram *m = (recur_ngram *)1;
        recur_error err;
        recur_status st = recur_ngram_load(&m, arpa, &err);
        if (st != RECUR_ERR_FORMAT || m != NULL || !strstr(err.msg, cases[i].expect))
            fail_msg("%s: status %d, message '%s', expected '%s'", cases[i].what, (int)st, err.msg, cases[i].expect);
    }
    recur_ngram *m;
    recur_error err;
    path_in_tmp(arpa, sizeof arpa, "does-not-exist.arpa");
    assert_int_equal(recur_ngram_load(&m, arpa, &err), RECUR_ERR_IO);
    assert_non_null(strstr(err.msg, "does-not-exist.arpa"));
}

static void test_train_errors(void **state)
{
    (void)state;
    char corpus[256], arpa[256];
    path_in_tmp(corpus, sizeof corpus, "err.txt");
    path_in_tmp(arpa, sizeof arpa, "err.arpa");
    recur_ngram_train_config cfg;
    recur_ngram_train_config_default(&cfg);
    cfg.tmp_dir = tmpdir;
    cfg.discount_fallback = 1;
    recur_error err;

    write_file(corpus, "a b\nc <s> d\n");
    assert_int_equal(recur_ngram_train(corpus, arpa, &cfg, NULL, &err), RECUR_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "line 2: the word '<s>' is reserved"));

    write_file(corpus, "");
    assert_int_equal(recur_ngram_train(corpus, arpa, &cfg, NULL, &err), RECUR_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "has no lines"));

    write_file(corpus, "a b\n");
    cfg.order = 0;
    assert_int_equal(recur_ngram_train(corpus, arpa, &cfg, NULL, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "order 0"));
    cfg.order = RECUR_NGRAM_MAX_ORDER + 1;
    assert_int_equal(recur_ngram_train(corpus, arpa, &cfg, NULL, &err), RECUR_ERR_ARG);
    cfg.order = 2;
    cfg.fallback[1] = 2.5;
    assert_int_equal(recur_ngram_train(corpus, arpa, &cfg, NULL, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "D2"));
    cfg.fallback[1] = 1.0;

    path_in_tmp(corpus, sizeof corpus, "missing.txt");
    assert_int_equal(recur_ngram_train(corpus, arpa, &cfg, NULL, &err), RECUR_ERR_IO);
    assert_non_null(strstr(err.msg, "missing.txt"));

    /* An unwritable output leaves the error on the path. */
    path_in_tmp(corpus, sizeof corpus, "err.txt");
    assert_int_equal(recur_ngram_train(corpus, "/nonexistent-dir/x.arpa", &cfg, NULL, &err), RECUR_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.arpa"));

    /* Evaluation refuses literal boundary tokens, naming the line. */
    train_or_fail(corpus, arpa, 2, 0, 1, NULL);
    recur_ngram *m = load_or_fail(arpa);
    write_file(corpus, "a\nb </s>\n");
    recur_ngram_eval_result res;
    assert_int_equal(recur_ngram_eval_file(m, corpus, NULL, NULL, &res, &err), RECUR_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "line 2: the word '</s>' is reserved"));
    recur_ngram_free(m);
}

/* ------------------------------------------------------------------------ */
/* The command line: build/recur (or build-san/recur) beside build/tests/.   */

static char recur_bin[600];

/* Runs "recur ARGS" with stdout and stderr to files; returns the exit code. */
static int run_cli(const char *args, char **out, char **errtext)
{
    char o[256], e[256], cmd[2048];
    path_in_tmp(o, sizeof o, "cli.out");
    path_in_tmp(e, sizeof e, "cli.err");
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", recur_bin, args, o, e);
    int rc = system(cmd);
    assert_true(rc != -1 && WIFEXITED(rc));
    size_t n;
    *out = read_file(o, &n);
    *errtext = read_file(e, &n);
    return WEXITSTATUS(rc);
}

static void expect_cli(const char *args, int code, const char *in_stdout, const char *in_stderr)
{
    char *out, *err;
    int rc = run_cli(args, &out, &err);
    if (rc != code || (in_stdout && !strstr(out, in_stdout)) || (in_stderr && !strstr(err, in_stderr)))
        fail_msg("recur %s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwanted '%s' / '%s'", args, rc, code, out, err,
                 in_stdout ? in_stdout : "", in_stderr ? in_stderr : "");
    free(out);
    free(err);
}

static void test_cli(void **state)
{
    (void)state;
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    assert_non_null(slash);
    *slash = '\0'; /* .../build/tests */
    snprintf(recur_bin, sizeof recur_bin, "%s/../recur", exe);
    if (access(recur_bin, X_OK) != 0)
        skip(); /* the program is built by `make`; this test only runs beside it */

    char corpus[256], arpa[256], bad[256], args[1400];
    path_in_tmp(corpus, sizeof corpus, "cli.txt");
    path_in_tmp(arpa, sizeof arpa, "cli.arpa");
    path_in_tmp(bad, sizeof bad, "bad.arpa");
    write_file(corpus, "a b\n");

    /* --help lists every option with its default */
    static const char *train_opts[] = {"--order N", "-o, --output PATH", "--memory MB", "--tmpdir DIR",
                                       "--discount-fallback", "--fallback-discounts D1,D2,D3", "-q, --quiet",
                                       "-h, --help"};
    char *out, *err;
    assert_int_equal(run_cli("ngram train --help", &out, &err), 0);
    for (size_t i = 0; i < sizeof train_opts / sizeof *train_opts; i++)
        if (!strstr(out, train_opts[i]))
            fail_msg("train --help lacks %s", train_opts[i]);
    assert_true(strstr(out, "(default: 3)") && strstr(out, "(default: 256)") && strstr(out, "(default: 0.5,1,1.5)"));
    free(out);
    free(err);
    expect_cli("ngram eval --help", 0, "--sentences", NULL);
    expect_cli("ngram --help", 0, "train", NULL);

    /* usage errors: exit 2, naming the option */
    expect_cli("ngram train --order 3 --bogus x -o y", 2, NULL, "unknown option '--bogus'");
    expect_cli("ngram train --order 0 x -o y", 2, NULL, "--order: '0' is not an integer in 1..");
    expect_cli("ngram train --order 3 x", 2, NULL, "-o MODEL.arpa is required");
    expect_cli("ngram train --order", 2, NULL, "option --order needs a value");
    expect_cli("ngram train --order 2 --memory lots x -o y", 2, NULL, "--memory: 'lots'");
    expect_cli("ngram train --order 2 --fallback-discounts 1,2 x -o y", 2, NULL, "--fallback-discounts: '1,2'");
    expect_cli("ngram eval --sentences", 2, NULL, "MODEL.arpa and a text file are required");
    expect_cli("ngram eval --frob m t", 2, NULL, "unknown option '--frob'");
    expect_cli("ngram sing", 2, NULL, "unknown command 'sing'");

    /* failures: exit 1, naming the file (and line) */
    snprintf(args, sizeof args, "ngram train --order 2 '%s/none.txt' -o '%s'", tmpdir, arpa);
    expect_cli(args, 1, NULL, "none.txt: No such file");
    snprintf(args, sizeof args, "ngram train --order 2 '%s' -o '%s'", corpus, arpa);
    expect_cli(args, 1, NULL, "discounts of order 2");
    write_file(bad, "\\data\\\nngram 1=2\n\\1-grams:\n-99 <s>\n-1 </s>\n");
    snprintf(args, sizeof args, "ngram eval '%s' '%s'", bad, corpus);
    expect_cli(args, 1, NULL, "bad.arpa line 5: end of file: missing \\end\\");

    /* and a working round: train, then evaluate with per-sentence output */
    snprintf(args, sizeof args, "ngram train --order 2 --discount-fallback --tmpdir '%s' '%s' -o '%s'", tmpdir,
             corpus, arpa);
    expect_cli(args, 0, "(fallback)", NULL);
    snprintf(args, sizeof args, "ngram eval --sentences '%s' '%s'", arpa, corpus);
    expect_cli(args, 0, "perplexity 1.500", NULL);
    expect_cli(args, 0, "1\t-0.528274\t3\t0", NULL); /* 3 log10(2/3) */
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/recur-test-ngram-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    static const char *names[] = {"hand.txt", "hand.arpa", "gen.txt", "gen.arpa", "rt.txt", "rt1.arpa",
                                  "rt2.arpa", "big.txt", "big1.arpa", "big2.arpa", "foreign.arpa",
                                  "foreign.txt", "bad.arpa", "err.txt", "err.arpa", "cli.txt", "cli.arpa",
                                  "cli.out", "cli.err"};
    char p[256];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        path_in_tmp(p, sizeof p, names[i]);
        unlink(p);
    }
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_bigram),
        cmocka_unit_test(test_orders_match_reference),
        cmocka_unit_test(test_arpa_round_trip),
        cmocka_unit_test(test_external_sort),
        cmocka_unit_test(test_foreign_arpa),
        cmocka_unit_test(test_malformed_arpa),
        cmocka_unit_test(test_train_errors),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests_name("ngram", tests, setup, teardown);
}
