/*
 * nbest_tune.c - word error rate of a chosen hypothesis and the exact line
 * searches of minimum error rate training over the LM weight and the length
 * bonus of `recur lm rescore --tune`.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nbest_tune.h"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == '\n'; }

typedef struct word {
    const char *p;
    size_t n;
} word;

/* the words of s[0..len) into a malloc'd array; -1 when out of memory */
static long long split_words(const char *s, size_t len, word **out)
{
    size_t cap = 16, n = 0;
    word *w = malloc(cap * sizeof *w);
    if (!w)
        return -1;
    for (size_t i = 0; i < len;) {
        while (i < len && is_space(s[i]))
            i++;
        if (i == len)
            break;
        size_t j = i;
        while (j < len && !is_space(s[j]))
            j++;
        if (n == cap) {
            word *g = realloc(w, 2 * cap * sizeof *w);
            if (!g) {
                free(w);
                return -1;
            }
            w = g;
            cap *= 2;
        }
        w[n].p = s + i;
        w[n].n = j - i;
        n++;
        i = j;
    }
    *out = w;
    return (long long)n;
}

long long nbest_word_edits(const char *hyp, size_t hyp_len, const char *ref, size_t ref_len,
                           long long *ref_words)
{
    word *h = NULL, *r = NULL;
    long long nh = split_words(hyp, hyp_len, &h), nr = split_words(ref, ref_len, &r);
    long long *row = nh >= 0 && nr >= 0 ? malloc((size_t)(nr + 1) * sizeof *row) : NULL;
    long long d = -1;
    if (row) {
        /* row[j]: edits turning the first i hypothesis words into r[0..j) */
        for (long long j = 0; j <= nr; j++)
            row[j] = j;
        for (long long i = 1; i <= nh; i++) {
            long long diag = row[0];
            row[0] = i;
            for (long long j = 1; j <= nr; j++) {
                long long up = row[j];
                int same = h[i - 1].n == r[j - 1].n && !memcmp(h[i - 1].p, r[j - 1].p, h[i - 1].n);
                long long best = diag + !same;
                if (up + 1 < best)
                    best = up + 1;
                if (row[j - 1] + 1 < best)
                    best = row[j - 1] + 1;
                diag = up;
                row[j] = best;
            }
        }
        d = row[nr];
        if (ref_words)
            *ref_words = nr;
    }
    free(row);
    free(h);
    free(r);
    return d;
}

static size_t chosen(const nbest_tune_set *t, size_t g, double w, double b)
{
    size_t best = t->start[g];
    double bv = -INFINITY;
    for (size_t h = t->start[g]; h < t->start[g + 1]; h++) {
        double v = t->score[h] + w * t->lm[h] + b * t->words[h];
        if (v > bv) {
            bv = v;
            best = h;
        }
    }
    return best;
}

long long nbest_errors(const nbest_tune_set *t, double w, double b)
{
    long long e = 0;
    for (size_t g = 0; g < t->groups; g++)
        e += t->edits[chosen(t, g, w, b)];
    return e;
}

typedef struct change {
    double x;
    long long delta; /* edits after x less edits before */
} change;

static int by_x(const void *a, const void *b)
{
    const change *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

/* Along x in [lo, hi], hypothesis h scores c[h] + x * s[h].  Returns the x
 * chosen (see nbest_tune.h) and its errors in *err; NAN when out of memory. */
static double line_search(const nbest_tune_set *t, const double *c, const double *s, double lo, double hi,
                          double cur, long long *err)
{
    size_t cap = 64, nc = 0;
    change *ch = malloc(cap * sizeof *ch);
    if (!ch)
        return NAN;
    long long base = 0;
    for (size_t g = 0; g < t->groups; g++) {
        size_t a = t->start[g], z = t->start[g + 1];
        if (a == z)
            continue;
        /* the upper envelope from lo: at a tie the steeper line wins, as it
         * leads just after the tie */
        size_t top = a;
        for (size_t h = a + 1; h < z; h++) {
            double v = c[h] + lo * s[h], tv = c[top] + lo * s[top];
            if (v > tv || (v == tv && s[h] > s[top]))
                top = h;
        }
        base += t->edits[top];
        double x = lo;
        for (;;) {
            size_t next = top;
            double nx = INFINITY;
            for (size_t h = a; h < z; h++)
                if (s[h] > s[top]) {
                    double xc = (c[top] - c[h]) / (s[h] - s[top]);
                    if (xc > x && (xc < nx || (xc == nx && s[h] > s[next]))) {
                        nx = xc;
                        next = h;
                    }
                }
            if (next == top || nx >= hi)
                break;
            if (nc == cap) {
                change *g2 = realloc(ch, 2 * cap * sizeof *ch);
                if (!g2) {
                    free(ch);
                    return NAN;
                }
                ch = g2;
                cap *= 2;
            }
            ch[nc].x = nx;
            ch[nc].delta = t->edits[next] - t->edits[top];
            nc++;
            top = next;
            x = nx;
        }
    }
    qsort(ch, nc, sizeof *ch, by_x);
    /* the pieces between consecutive change points: keep the best, nearest cur */
    long long e = base, best_e = -1;
    double best_x = cur, best_dist = INFINITY;
    size_t i = 0;
    double left = lo;
    for (;;) {
        double right = i < nc ? ch[i].x : hi;
        double x;
        if (cur >= left && cur <= right)
            x = cur;
        else if (left == lo && right < hi)
            x = right - fmin(1.0, (right - left) / 2);
        else if (right == hi && left > lo)
            x = left + fmin(1.0, (right - left) / 2);
        else
            x = (left + right) / 2;
        double dist = fabs(x - cur);
        if (right > left && (best_e < 0 || e < best_e || (e == best_e && dist < best_dist))) {
            best_e = e;
            best_x = x;
            best_dist = dist;
        }
        if (i == nc)
            break;
        left = ch[i].x; /* every change at this point at once */
        while (i < nc && ch[i].x == left)
            e += ch[i++].delta;
    }
    if (best_e < 0) { /* lo == hi */
        best_e = base;
        best_x = lo;
    }
    free(ch);
    *err = best_e;
    return best_x;
}

long long nbest_tune(const nbest_tune_set *t, double *w, double *b)
{
    size_t n = t->start[t->groups];
    double *c = malloc((n ? n : 1) * sizeof *c);
    if (!c)
        return -1;
    long long e = nbest_errors(t, *w, *b);
    for (int round = 0; round < 20; round++) {
        long long e0 = e, ew, eb;
        for (size_t h = 0; h < n; h++)
            c[h] = t->score[h] + *b * t->words[h];
        double nw = line_search(t, c, t->lm, 0, NBEST_MAX_WEIGHT, *w, &ew);
        if (isnan(nw))
            break;
        *w = nw;
        for (size_t h = 0; h < n; h++)
            c[h] = t->score[h] + *w * t->lm[h];
        double nb = line_search(t, c, t->words, -NBEST_MAX_BONUS, NBEST_MAX_BONUS, *b, &eb);
        if (isnan(nb))
            break;
        *b = nb;
        e = nbest_errors(t, *w, *b);
        if (e >= e0)
            break;
    }
    free(c);
    return nbest_errors(t, *w, *b);
}
