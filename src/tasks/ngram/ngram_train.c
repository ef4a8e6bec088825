/*
 * ngram_train.c - training of interpolated modified Kneser-Ney word n-gram
 * models (Chen & Goodman 1998) with sorted, streamed counting, written as an
 * ARPA backoff file.
 *
 * Model, for an order-k n-gram h w (context h of k-1 words, h' = h without
 * its first word):
 *
 *   a(h w)  = raw count c(h w)              if k = N or h w starts with <s>
 *           = |{v : c(v h w) > 0}|          otherwise (continuation count)
 *   D(a)    = 0, D1, D2, D3+ for a = 0, 1, 2, >= 3, per order, from the
 *             counts of counts n1..n4 of a at that order:
 *             Y = n1 / (n1 + 2 n2), D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2,
 *             D3+ = 3 - 4Y n4/n3
 *   p(w|h)  = (a(h w) - D(a(h w))) / S(h) + g(h) p(w|h')
 *   g(h)    = (D1 N1(h) + D2 N2(h) + D3+ N3+(h)) / S(h)
 *             S(h) = sum_x a(h x), Ni(h) = |{x : a(h x) = i}|, N3+ likewise
 *   p(w|h)  = p(w|h') when S(h) = 0 (h never seen as a context), and below
 *             the unigrams p(w|) interpolates with 1/|V|, |V| the distinct
 *             predicted words (every word and </s>; <s> is never predicted).
 *
 * An ARPA file stores log10 p(w|h) for every n-gram seen in training and
 * log10 g(h) as the backoff weight of each context h; since a(h w) = 0 for
 * unseen w, backoff evaluation (p(w|h) = g(h) p(w|h') when h w is absent)
 * gives exactly the interpolated probability.
 *
 * Pipeline (every stage streams; only the vocabulary and the continuations
 * of one context are held in memory):
 *  1. Count: for every position i >= 1 of "<s> w1 .. wm </s>" emit the
 *     longest n-gram ending there (N words, or fewer starting at <s>) into an
 *     external sort keyed by (length, words last-first), summing counts.
 *     The N-grams are the top order's counts; the shorter ones are exactly
 *     the n-grams that start with <s> at lower orders, which keep raw counts.
 *  2. Adjust, k = N-1 .. 1: the distinct (k+1)-grams, sorted last-first
 *     ("suffix order"), list each k-gram's left extensions next to each
 *     other, so continuation counts are group sizes; merged with the
 *     <s>-initial k-grams they give a(.) of order k, still in suffix order.
 *     Counts of counts -> discounts.
 *  3. Estimate, k = 1 .. N: sort order k by (context last-first, word),
 *     which groups each context; compute S(h), g(h) and the discounted
 *     part; sort back into suffix order, where the lower-order n-gram h' w
 *     of each h w comes in the same order as the final order-(k-1) file, and
 *     interpolate by a merge.  The contexts come out in suffix order too, so
 *     order k-1's section of the ARPA file (probabilities + backoffs) is a
 *     merge as well.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "base/internal.h"
#include "ngram_internal.h"

#define DEFAULT_MEMORY (256u * 1024u * 1024u)

void recur_ngram_train_config_default(recur_ngram_train_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->order = 3;
    cfg->memory_bytes = 0;
    cfg->tmp_dir = NULL;
    cfg->discount_fallback = 0;
    cfg->fallback[0] = 0.5;
    cfg->fallback[1] = 1.0;
    cfg->fallback[2] = 1.5;
}

typedef struct trainer {
    int N;
    const recur_ngram_train_config *cfg;
    size_t mem;
    const char *dir;
    recur_error *err;
    recur_ngram_train_stats *stats;
    ng_vocab vocab;
    ng_recfile raw[RECUR_NGRAM_MAX_ORDER + 1];   /* [k]: top n-grams of length k */
    ng_recfile level[RECUR_NGRAM_MAX_ORDER + 1]; /* [k]: adjusted counts of order k */
    double D[RECUR_NGRAM_MAX_ORDER + 1][3];
    int64_t V;                                   /* predicted vocabulary */
    FILE *arpa;
    const char *arpa_tmp;
} trainer;

/* ---- 1. counting ---- */

static recur_status count_corpus(trainer *t, const char *path)
{
    recur_error *err = t->err;
    int N = t->N, width = N + 3;
    FILE *f = fopen(path, "r");
    if (!f)
        return recur_error_set(err, RECUR_ERR_IO, "ngram train: cannot open corpus %s: %s", path, strerror(errno));
    ng_sorter sorter;
    recur_status st = ng_sorter_init(&sorter, width, N + 1, N + 1, t->mem, t->dir, "n-gram counts", err);
    if (st) {
        fclose(f);
        return st;
    }
    char *line = NULL;
    size_t line_cap = 0;
    ng_tokens tok = {0};
    uint32_t *sent = NULL;
    size_t sent_cap = 0;
    uint32_t rec[RECUR_NGRAM_MAX_ORDER + 3];
    int64_t lineno = 0;
    for (;;) {
        errno = 0;
        int nul;
        long got = ng_read_line(f, &line, &line_cap, &nul);
        if (got < 0) {
            st = recur_error_set(err, RECUR_ERR_IO, "ngram train: reading %s after line %lld: %s", path,
                                 (long long)lineno, strerror(errno));
            goto done;
        }
        if (got == 0)
            break;
        lineno++;
        if ((st = ng_check_line("ngram train", path, (long long)lineno, line, (size_t)got, nul, err)))
            goto done;
        if ((st = ng_tokenize(&tok, line, err)) ||
            (st = ng_check_tokens("ngram train", path, (long long)lineno, &tok, err)))
            goto done;
        if (tok.n + 2 > sent_cap) {
            size_t cap = (tok.n + 2) * 2;
            uint32_t *s = realloc(sent, cap * sizeof *s);
            if (!s) {
                st = recur_error_set(err, RECUR_ERR_NOMEM, "ngram train: out of memory for line %lld of %s",
                                     (long long)lineno, path);
                goto done;
            }
            sent = s;
            sent_cap = cap;
        }
        sent[0] = NG_BOS;
        for (size_t i = 0; i < tok.n; i++) {
            int32_t id = ng_vocab_find(&t->vocab, tok.tok[i], tok.len[i]);
            if (id < 0 && (st = ng_vocab_add(&t->vocab, tok.tok[i], tok.len[i], &id, err)))
                goto done;
            sent[i + 1] = (uint32_t)id;
        }
        size_t m = tok.n;
        sent[m + 1] = NG_EOS;
        for (size_t i = 1; i <= m + 1; i++) {
            int L = (int)(i + 1 < (size_t)N ? i + 1 : (size_t)N);
            memset(rec, 0, sizeof rec);
            rec[0] = (uint32_t)L;
            for (int j = 0; j < L; j++)
                rec[1 + j] = sent[i - (size_t)j];
            ng_put_u64(rec + N + 1, 1);
            if ((st = ng_sorter_add(&sorter, rec, err)))
                goto done;
        }
        t->stats->sentences++;
        t->stats->tokens += (int64_t)m;
    }
    if (t->stats->sentences == 0) {
        st = recur_error_set(err, RECUR_ERR_FORMAT, "ngram train: corpus %s has no lines", path);
        goto done;
    }
    if ((st = ng_sorter_finish(&sorter, err)))
        goto done;
    /* Split the sorted stream by length into one file per order. */
    for (int k = 1; k <= N; k++)
        if ((st = ng_recfile_open(&t->raw[k], k + 2, k == N ? "top-order counts" : "<s> n-gram counts",
                                  t->dir, err)))
            goto done;
    const uint32_t *r;
    int more;
    uint32_t out[RECUR_NGRAM_MAX_ORDER + 2];
    while ((more = ng_sorter_next(&sorter, &r, err)) == 1) {
        int L = (int)r[0];
        memcpy(out, r + 1, (size_t)L * sizeof *out);
        memcpy(out + L, r + N + 1, 2 * sizeof *out);
        if ((st = ng_recfile_put(&t->raw[L], out, err)))
            goto done;
    }
    if (more < 0)
        st = err->status;

done:
    t->stats->runs_spilled += sorter.spilled;
    ng_sorter_free(&sorter);
    ng_tokens_free(&tok);
    free(sent);
    free(line);
    fclose(f);
    return st;
}

/* ---- 2. adjusted counts ---- */

static recur_status estimate_discounts(trainer *t, int k, const int64_t n[5])
{
    double *D = t->D[k];
    int ok = n[1] > 0 && n[2] > 0 && n[3] > 0 && n[4] > 0;
    if (ok) {
        double Y = (double)n[1] / ((double)n[1] + 2.0 * (double)n[2]);
        D[0] = 1.0 - 2.0 * Y * (double)n[2] / (double)n[1];
        D[1] = 2.0 - 3.0 * Y * (double)n[3] / (double)n[2];
        D[2] = 3.0 - 4.0 * Y * (double)n[4] / (double)n[3];
        for (int i = 0; i < 3; i++)
            if (!(D[i] >= 0.0 && D[i] <= i + 1))
                ok = 0;
    }
    if (ok)
        return RECUR_OK;
    if (!t->cfg->discount_fallback)
        return recur_error_set(t->err, RECUR_ERR_MISMATCH,
                               "ngram train: cannot estimate the discounts of order %d from its counts of "
                               "counts n1..n4 = %lld %lld %lld %lld (the corpus is too small or too regular "
                               "for order %d); allow fallback discounts to train anyway",
                               k, (long long)n[1], (long long)n[2], (long long)n[3], (long long)n[4], k);
    for (int i = 0; i < 3; i++)
        D[i] = t->cfg->fallback[i];
    t->stats->fallback_used[k - 1] = 1;
    return RECUR_OK;
}

static void tally(int64_t n[5], uint64_t a)
{
    if (a >= 1 && a <= 4)
        n[a]++;
}

static recur_status adjust_counts(trainer *t)
{
    recur_error *err = t->err;
    int N = t->N;
    recur_status st;
    int64_t n[5] = {0};
    /* The top order keeps its raw counts. */
    t->level[N] = t->raw[N];
    memset(&t->raw[N], 0, sizeof t->raw[N]);
    t->level[N].what = "adjusted n-gram counts";
    if ((st = ng_recfile_rewind(&t->level[N], err)))
        return st;
    uint32_t r[RECUR_NGRAM_MAX_ORDER + 2];
    int got;
    while ((got = ng_recfile_get(&t->level[N], r, err)) == 1)
        tally(n, ng_get_u64(r + N));
    if (got < 0)
        return err->status;
    if ((st = estimate_discounts(t, N, n)))
        return st;

    for (int k = N - 1; k >= 1; k--) {
        ng_recfile *up = &t->level[k + 1], *raw = &t->raw[k], *out = &t->level[k];
        if ((st = ng_recfile_open(out, k + 2, "adjusted n-gram counts", t->dir, err)))
            return st;
        if ((st = ng_recfile_rewind(up, err)) || (st = ng_recfile_rewind(raw, err)))
            return st;
        memset(n, 0, sizeof n);
        /* cont: the current group of (k+1)-grams sharing their last k words. */
        uint32_t cur[RECUR_NGRAM_MAX_ORDER + 2], next[RECUR_NGRAM_MAX_ORDER + 2];
        uint32_t rawrec[RECUR_NGRAM_MAX_ORDER + 2], rec[RECUR_NGRAM_MAX_ORDER + 2];
        int have_cont = ng_recfile_get(up, next, err);
        int have_raw = ng_recfile_get(raw, rawrec, err);
        if (have_cont < 0 || have_raw < 0)
            return err->status;
        int have_cur = 0;
        uint64_t cur_n = 0;
        /* Pull one continuation group into cur. */
        for (;;) {
            if (!have_cur && have_cont) {
                memcpy(cur, next, sizeof cur);
                cur_n = 0;
                while (have_cont == 1 && ng_cmp(next, cur, k) == 0) {
                    cur_n++;
                    have_cont = ng_recfile_get(up, next, err);
                }
                if (have_cont < 0)
                    return err->status;
                have_cur = 1;
            }
            if (!have_cur && !have_raw)
                break;
            int take_raw;
            if (!have_cur)
                take_raw = 1;
            else if (!have_raw)
                take_raw = 0;
            else {
                int c = ng_cmp(rawrec, cur, k);
                if (c == 0)
                    return recur_error_set(err, RECUR_ERR_STATE,
                                           "ngram train: internal error: a %d-gram is both <s>-initial "
                                           "and a continuation",
                                           k);
                take_raw = c < 0;
            }
            if (take_raw) {
                memcpy(rec, rawrec, (size_t)(k + 2) * sizeof *rec);
                have_raw = ng_recfile_get(raw, rawrec, err);
                if (have_raw < 0)
                    return err->status;
            } else {
                memcpy(rec, cur, (size_t)k * sizeof *rec);
                ng_put_u64(rec + k, cur_n);
                have_cur = 0;
            }
            tally(n, ng_get_u64(rec + k));
            if ((st = ng_recfile_put(out, rec, err)))
                return st;
        }
        ng_recfile_close(raw);
        if ((st = estimate_discounts(t, k, n)))
            return st;
    }
    t->V = t->level[1].n;
    for (int k = 1; k <= N; k++) {
        t->stats->ngrams[k - 1] = t->level[k].n + (k == 1);
        for (int i = 0; i < 3; i++)
            t->stats->discounts[k - 1][i] = t->D[k][i];
    }
    return RECUR_OK;
}

/* ---- 3. estimation and the ARPA file ---- */

static recur_status arpa_error(trainer *t)
{
    return recur_error_set(t->err, RECUR_ERR_IO, "ngram train: writing %s: %s", t->arpa_tmp, strerror(errno));
}

/* log10 of a probability or weight; -99 stands for zero, as in SRILM. */
static double lg(double x) { return x > 0 ? log10(x) : -99.0; }

/* Writes "logp<TAB>w1 .. wk[<TAB>logbo]" for a record stored last-first. */
static int write_entry(trainer *t, const uint32_t *words, int k, double logp, int has_bo, double logbo)
{
    if (fprintf(t->arpa, "%.9g\t", logp) < 0)
        return -1;
    for (int j = k - 1; j >= 0; j--) {
        if (fputs(t->vocab.words[words[j]], t->arpa) < 0)
            return -1;
        if (j > 0 && fputc(' ', t->arpa) == EOF)
            return -1;
    }
    if (has_bo && fprintf(t->arpa, "\t%.9g", logbo) < 0)
        return -1;
    return fputc('\n', t->arpa) == EOF ? -1 : 0;
}

/* Section k of the ARPA file from final[k] (words last-first, p) and, for
 * k < N, the backoff weights gam (context last-first, g) of order k+1. */
static recur_status write_section(trainer *t, int k, ng_recfile *fin, ng_recfile *gam)
{
    recur_error *err = t->err;
    recur_status st;
    if (fprintf(t->arpa, "\n\\%d-grams:\n", k) < 0)
        return arpa_error(t);
    if ((st = ng_recfile_rewind(fin, err)) || (gam && (st = ng_recfile_rewind(gam, err))))
        return st;
    uint32_t p[RECUR_NGRAM_MAX_ORDER + 2], g[RECUR_NGRAM_MAX_ORDER + 2];
    int hp = ng_recfile_get(fin, p, err);
    int hg = gam ? ng_recfile_get(gam, g, err) : 0;
    if (hp < 0 || hg < 0)
        return err->status;
    if (k == 1) {
        /* <s> is a 1-gram that is never predicted: log10 p = -99 (SRILM's
         * and KenLM's spelling of zero); its backoff is g(<s>). */
        uint32_t bos = NG_BOS;
        int has_bo = hg == 1 && g[0] == NG_BOS;
        if (write_entry(t, &bos, 1, -99.0, has_bo, has_bo ? lg(ng_get_f64(g + 1)) : 0.0))
            return arpa_error(t);
        if (has_bo && (hg = ng_recfile_get(gam, g, err)) < 0)
            return err->status;
    }
    while (hp == 1) {
        int has_bo = 0;
        if (hg == 1) {
            int c = ng_cmp(g, p, k);
            if (c < 0)
                return recur_error_set(err, RECUR_ERR_STATE,
                                       "ngram train: internal error: a context of order %d has no n-gram", k);
            has_bo = c == 0;
        }
        if (write_entry(t, p, k, lg(ng_get_f64(p + k)), has_bo, has_bo ? lg(ng_get_f64(g + k)) : 0.0))
            return arpa_error(t);
        if (has_bo && (hg = ng_recfile_get(gam, g, err)) < 0)
            return err->status;
        if ((hp = ng_recfile_get(fin, p, err)) < 0)
            return err->status;
    }
    if (hg == 1)
        return recur_error_set(err, RECUR_ERR_STATE,
                               "ngram train: internal error: a context of order %d has no n-gram", k);
    return RECUR_OK;
}

typedef struct member {
    uint32_t w;
    uint64_t a;
} member;

static recur_status estimate(trainer *t)
{
    recur_error *err = t->err;
    int N = t->N;
    recur_status st = RECUR_OK;
    ng_recfile fin_prev = {0}, fin = {0}, gam = {0};
    ng_sorter by_ctx = {0}, by_suffix = {0};
    member *grp = NULL;
    size_t grp_cap = 0;

    for (int k = 1; k <= N; k++) {
        const double *D = t->D[k];
        ng_recfile *lv = &t->level[k];
        /* (a) context order: [context last-first, word, a] */
        if ((st = ng_sorter_init(&by_ctx, k + 2, k, -1, t->mem / 2, t->dir, "n-grams by context", err)))
            goto done;
        if ((st = ng_recfile_rewind(lv, err)))
            goto done;
        uint32_t r[RECUR_NGRAM_MAX_ORDER + 4], c[RECUR_NGRAM_MAX_ORDER + 4];
        int got;
        while ((got = ng_recfile_get(lv, r, err)) == 1) {
            memcpy(c, r + 1, (size_t)(k - 1) * sizeof *c);
            c[k - 1] = r[0];
            memcpy(c + k, r + k, 2 * sizeof *c);
            if ((st = ng_sorter_add(&by_ctx, c, err)))
                goto done;
        }
        if (got < 0 || (st = ng_sorter_finish(&by_ctx, err))) {
            st = err->status;
            goto done;
        }
        ng_recfile_close(lv);
        /* (b) per context: S(h), g(h), discounted parts, in suffix order */
        if ((st = ng_sorter_init(&by_suffix, k + 4, k, -1, t->mem / 2, t->dir, "n-grams by suffix", err)))
            goto done;
        if (k >= 2 && (st = ng_recfile_open(&gam, k + 1, "backoff weights", t->dir, err)))
            goto done;
        const uint32_t *x;
        int more = ng_sorter_next(&by_ctx, &x, err);
        uint32_t ctx[RECUR_NGRAM_MAX_ORDER + 2];
        while (more == 1) {
            memcpy(ctx, x, (size_t)(k - 1) * sizeof *ctx);
            size_t n_grp = 0;
            uint64_t S = 0, cnt[4] = {0};
            while (more == 1 && ng_cmp(x, ctx, k - 1) == 0) {
                if (n_grp == grp_cap) {
                    size_t cap = grp_cap ? 2 * grp_cap : 1024;
                    member *g = realloc(grp, cap * sizeof *g);
                    if (!g) {
                        st = recur_error_set(err, RECUR_ERR_NOMEM,
                                             "ngram train: out of memory for the continuations of a context");
                        goto done;
                    }
                    grp = g;
                    grp_cap = cap;
                }
                grp[n_grp].w = x[k - 1];
                grp[n_grp].a = ng_get_u64(x + k);
                S += grp[n_grp].a;
                cnt[grp[n_grp].a >= 3 ? 3 : grp[n_grp].a]++;
                n_grp++;
                more = ng_sorter_next(&by_ctx, &x, err);
            }
            double g = (D[0] * (double)cnt[1] + D[1] * (double)cnt[2] + D[2] * (double)cnt[3]) / (double)S;
            for (size_t i = 0; i < n_grp; i++) {
                uint64_t a = grp[i].a;
                double u = ((double)a - D[a >= 3 ? 2 : a - 1]) / (double)S;
                r[0] = grp[i].w;
                memcpy(r + 1, ctx, (size_t)(k - 1) * sizeof *r);
                ng_put_f64(r + k, u);
                ng_put_f64(r + k + 2, g);
                if ((st = ng_sorter_add(&by_suffix, r, err)))
                    goto done;
            }
            /* Order 1 has one context, the empty one: its weight goes to the
             * uniform distribution through p_low = 1/|V| below. */
            if (k >= 2) {
                memcpy(r, ctx, (size_t)(k - 1) * sizeof *r);
                ng_put_f64(r + k - 1, g);
                if ((st = ng_recfile_put(&gam, r, err)))
                    goto done;
            }
        }
        if (more < 0 || (st = ng_sorter_finish(&by_suffix, err))) {
            st = err->status;
            goto done;
        }
        t->stats->runs_spilled += by_ctx.spilled;
        ng_sorter_free(&by_ctx);
        /* (c) interpolate with order k-1 by a merge in suffix order */
        if ((st = ng_recfile_open(&fin, k + 2, "probabilities", t->dir, err)))
            goto done;
        uint32_t low[RECUR_NGRAM_MAX_ORDER + 2];
        int have_low = 0;
        if (k >= 2) {
            if ((st = ng_recfile_rewind(&fin_prev, err)))
                goto done;
            if ((have_low = ng_recfile_get(&fin_prev, low, err)) < 0) {
                st = err->status;
                goto done;
            }
        }
        while ((more = ng_sorter_next(&by_suffix, &x, err)) == 1) {
            double p_low;
            if (k == 1) {
                p_low = 1.0 / (double)t->V;
            } else {
                while (have_low == 1 && ng_cmp(low, x, k - 1) < 0)
                    have_low = ng_recfile_get(&fin_prev, low, err);
                if (have_low < 0) {
                    st = err->status;
                    goto done;
                }
                if (have_low != 1 || ng_cmp(low, x, k - 1) != 0) {
                    st = recur_error_set(err, RECUR_ERR_STATE,
                                         "ngram train: internal error: a %d-gram lacks its lower-order n-gram", k);
                    goto done;
                }
                p_low = ng_get_f64(low + k - 1);
            }
            double p = ng_get_f64(x + k) + ng_get_f64(x + k + 2) * p_low;
            memcpy(r, x, (size_t)k * sizeof *r);
            ng_put_f64(r + k, p);
            if ((st = ng_recfile_put(&fin, r, err)))
                goto done;
        }
        if (more < 0) {
            st = err->status;
            goto done;
        }
        t->stats->runs_spilled += by_suffix.spilled;
        ng_sorter_free(&by_suffix);
        /* (d) order k-1 is complete now that its backoff weights are known */
        if (k >= 2) {
            if ((st = write_section(t, k - 1, &fin_prev, &gam)))
                goto done;
            ng_recfile_close(&gam);
            ng_recfile_close(&fin_prev);
        }
        fin_prev = fin;
        memset(&fin, 0, sizeof fin);
    }
    st = write_section(t, N, &fin_prev, NULL);

done:
    ng_sorter_free(&by_ctx);
    ng_sorter_free(&by_suffix);
    ng_recfile_close(&fin_prev);
    ng_recfile_close(&fin);
    ng_recfile_close(&gam);
    free(grp);
    return st;
}

recur_status recur_ngram_train(const char *corpus_path, const char *arpa_path,
                               const recur_ngram_train_config *cfg, recur_ngram_train_stats *stats,
                               recur_error *err)
{
    recur_error local;
    if (!err)
        err = &local;
    err->status = RECUR_OK;
    err->msg[0] = '\0';
    recur_ngram_train_stats local_stats;
    if (!stats)
        stats = &local_stats;
    memset(stats, 0, sizeof *stats);
    if (!corpus_path || !arpa_path || !cfg)
        return recur_error_set(err, RECUR_ERR_ARG, "ngram train: corpus, output path and config are required");
    if (cfg->order < 1 || cfg->order > RECUR_NGRAM_MAX_ORDER)
        return recur_error_set(err, RECUR_ERR_ARG, "ngram train: order %d is outside 1..%d", cfg->order,
                               RECUR_NGRAM_MAX_ORDER);
    if (cfg->discount_fallback)
        for (int i = 0; i < 3; i++)
            if (!(cfg->fallback[i] > 0.0 && cfg->fallback[i] <= i + 1))
                return recur_error_set(err, RECUR_ERR_ARG,
                                       "ngram train: fallback discount D%d%s = %g is outside (0, %d]", i + 1,
                                       i == 2 ? "+" : "", cfg->fallback[i], i + 1);
    stats->order = cfg->order;

    trainer t;
    memset(&t, 0, sizeof t);
    t.N = cfg->order;
    t.cfg = cfg;
    t.mem = cfg->memory_bytes ? cfg->memory_bytes : DEFAULT_MEMORY;
    t.dir = cfg->tmp_dir;
    t.err = err;
    t.stats = stats;
    char *arpa_buf = NULL;
    atomic_file af = {0};
    recur_status st = ng_vocab_init(&t.vocab, err);
    if (st)
        return st;
    int32_t id;
    if ((st = ng_vocab_add(&t.vocab, NG_BOS_WORD, strlen(NG_BOS_WORD), &id, err)) ||
        (st = ng_vocab_add(&t.vocab, NG_EOS_WORD, strlen(NG_EOS_WORD), &id, err)))
        goto done;

    if ((st = count_corpus(&t, corpus_path)) || (st = adjust_counts(&t)))
        goto done;
    stats->vocab_size = t.V;

    /* The ARPA file: a temporary file beside the target, renamed at the end. */
    char msg[RECUR_ERRMSG_LEN];
    if ((st = atomic_file_open(&af, arpa_path, msg, sizeof msg)) != RECUR_OK) {
        st = recur_error_set(err, st, "ngram train: %s", msg);
        goto done;
    }
    t.arpa = af.f;
    t.arpa_tmp = af.tmp;
    arpa_buf = malloc(1u << 20);
    if (arpa_buf)
        setvbuf(t.arpa, arpa_buf, _IOFBF, 1u << 20);
    if (fprintf(t.arpa, "\\data\\\n") < 0) {
        st = arpa_error(&t);
        goto done;
    }
    for (int k = 1; k <= t.N; k++)
        if (fprintf(t.arpa, "ngram %d=%lld\n", k, (long long)stats->ngrams[k - 1]) < 0) {
            st = arpa_error(&t);
            goto done;
        }
    if ((st = estimate(&t)))
        goto done;
    if (fprintf(t.arpa, "\n\\end\\\n") < 0) {
        st = arpa_error(&t);
        goto done;
    }
    t.arpa = NULL;
    if ((st = atomic_file_commit(&af, msg, sizeof msg)) != RECUR_OK)
        st = recur_error_set(err, st, "ngram train: %s", msg);

done:
    if (t.arpa)
        atomic_file_abort(&af);
    for (int k = 0; k <= RECUR_NGRAM_MAX_ORDER; k++) {
        ng_recfile_close(&t.raw[k]);
        ng_recfile_close(&t.level[k]);
    }
    free(arpa_buf);
    ng_vocab_free(&t.vocab);
    return st;
}
