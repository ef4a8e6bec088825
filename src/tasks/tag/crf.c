/* crf.c - the linear-chain CRF: forward-backward, Viterbi, scheme masks (crf.h). */
#include <math.h>
#include <string.h>

#include "tasks/tag/crf.h"

#define OK_T(c, i, j) (!(c)->allowed || (c)->allowed[(size_t)(i) * (c)->K + (j)])
#define OK_S(c, j) (!(c)->allowed_start || (c)->allowed_start[j])
#define OK_E(c, j) (!(c)->allowed_end || (c)->allowed_end[j])

size_t crf_work_size(int K, int T) { return 2 * (size_t)T * K + (size_t)K * K + 4 * (size_t)K; }

/* E[i][j] = exp(trans_ij - cmax_j) where allowed, else 0 */
static void exp_transitions(const crf_view *c, double *E, double *cmax)
{
    const int K = c->K;
    for (int j = 0; j < K; j++) {
        double m = -INFINITY;
        for (int i = 0; i < K; i++)
            if (OK_T(c, i, j) && c->trans[i * K + j] > m)
                m = c->trans[i * K + j];
        cmax[j] = isfinite(m) ? m : 0;
    }
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++)
            E[i * K + j] = OK_T(c, i, j) ? exp(c->trans[i * K + j] - cmax[j]) : 0;
}

static double vmax(const double *x, int K)
{
    double m = -INFINITY;
    for (int k = 0; k < K; k++)
        if (x[k] > m)
            m = x[k];
    return m;
}

/* alpha (T x K) in log space; returns log Z */
static double forward(const crf_view *c, const recur_real *emit, size_t stride, int T, double *alpha,
                      const double *E, const double *cmax, double *p, double *s)
{
    const int K = c->K;
    for (int j = 0; j < K; j++)
        alpha[j] = OK_S(c, j) ? (double)c->start[j] + emit[j] : -INFINITY;
    for (int t = 1; t < T; t++) {
        const double *prev = alpha + (size_t)(t - 1) * K;
        double *cur = alpha + (size_t)t * K;
        const recur_real *e = emit + (size_t)t * stride;
        double m = vmax(prev, K);
        for (int i = 0; i < K; i++)
            p[i] = exp(prev[i] - m);
        memset(s, 0, (size_t)K * sizeof *s);
        for (int i = 0; i < K; i++) {
            if (p[i] == 0)
                continue;
            const double *Ei = E + (size_t)i * K;
            for (int j = 0; j < K; j++)
                s[j] += p[i] * Ei[j];
        }
        for (int j = 0; j < K; j++)
            cur[j] = s[j] > 0 ? m + cmax[j] + log(s[j]) + e[j] : -INFINITY;
    }
    const double *last = alpha + (size_t)(T - 1) * K;
    for (int j = 0; j < K; j++)
        s[j] = OK_E(c, j) ? last[j] + c->end[j] : -INFINITY;
    double m = vmax(s, K), z = 0;
    for (int j = 0; j < K; j++)
        z += exp(s[j] - m);
    return m + log(z);
}

double crf_log_partition(const crf_view *c, const recur_real *emit, size_t stride, int T,
                         double *work)
{
    const int K = c->K;
    double *alpha = work, *E = alpha + 2 * (size_t)T * K, *cmax = E + (size_t)K * K;
    exp_transitions(c, E, cmax);
    return forward(c, emit, stride, T, alpha, E, cmax, cmax + K, cmax + 2 * K);
}

double crf_score(const crf_view *c, const recur_real *emit, size_t stride, int T, const int32_t *tags)
{
    const int K = c->K;
    if (!OK_S(c, tags[0]) || !OK_E(c, tags[T - 1]))
        return -INFINITY;
    double s = (double)c->start[tags[0]] + emit[tags[0]] + c->end[tags[T - 1]];
    for (int t = 1; t < T; t++) {
        if (!OK_T(c, tags[t - 1], tags[t]))
            return -INFINITY;
        s += (double)c->trans[tags[t - 1] * K + tags[t]] + emit[(size_t)t * stride + tags[t]];
    }
    return s;
}

double crf_nll(const crf_view *c, const recur_real *emit, size_t stride, int T, const int32_t *gold,
               double scale, recur_real *d_emit, recur_real *d_trans, recur_real *d_start,
               recur_real *d_end, double *work)
{
    const int K = c->K;
    double *alpha = work, *beta = alpha + (size_t)T * K, *E = beta + (size_t)T * K;
    double *cmax = E + (size_t)K * K, *p = cmax + K, *s = p + K, *q = s + K;
    exp_transitions(c, E, cmax);
    double logz = forward(c, emit, stride, T, alpha, E, cmax, p, s);
    double gold_score = crf_score(c, emit, stride, T, gold);
    if (!isfinite(gold_score))
        return INFINITY;
    if (!d_emit)
        return logz - gold_score;
    /* beta_t[i] = log sum_j exp(trans_ij + emit_{t+1,j} + beta_{t+1,j}) */
    double *bl = beta + (size_t)(T - 1) * K;
    for (int i = 0; i < K; i++)
        bl[i] = OK_E(c, i) ? (double)c->end[i] : -INFINITY;
    for (int t = T - 2; t >= 0; t--) {
        const double *next = beta + (size_t)(t + 1) * K;
        const recur_real *e = emit + (size_t)(t + 1) * stride;
        for (int j = 0; j < K; j++)
            q[j] = cmax[j] + e[j] + next[j];
        double m = vmax(q, K);
        for (int j = 0; j < K; j++)
            q[j] = exp(q[j] - m);
        double *cur = beta + (size_t)t * K;
        for (int i = 0; i < K; i++) {
            const double *Ei = E + (size_t)i * K;
            double acc = 0;
            for (int j = 0; j < K; j++)
                acc += Ei[j] * q[j];
            cur[i] = acc > 0 ? m + log(acc) : -INFINITY;
        }
    }
    /* unary marginals minus the gold indicator */
    for (int t = 0; t < T; t++) {
        recur_real *de = d_emit + (size_t)t * stride;
        const double *a = alpha + (size_t)t * K, *b = beta + (size_t)t * K;
        for (int j = 0; j < K; j++) {
            double pm = exp(a[j] + b[j] - logz);
            if (t == 0)
                d_start[j] += (recur_real)(scale * pm);
            if (t == T - 1)
                d_end[j] += (recur_real)(scale * pm);
            de[j] += (recur_real)(scale * pm);
        }
        de[gold[t]] -= (recur_real)scale;
    }
    d_start[gold[0]] -= (recur_real)scale;
    d_end[gold[T - 1]] -= (recur_real)scale;
    /* pairwise marginals: a_i E_ij b_j exp(ma + mb - logZ) */
    for (int t = 1; t < T; t++) {
        const double *a = alpha + (size_t)(t - 1) * K, *b = beta + (size_t)t * K;
        const recur_real *e = emit + (size_t)t * stride;
        double ma = vmax(a, K);
        for (int j = 0; j < K; j++)
            q[j] = cmax[j] + e[j] + b[j];
        double mb = vmax(q, K);
        double f = scale * exp(ma + mb - logz);
        for (int j = 0; j < K; j++)
            q[j] = exp(q[j] - mb) * f;
        for (int i = 0; i < K; i++) {
            double ai = exp(a[i] - ma);
            if (ai == 0)
                continue;
            const double *Ei = E + (size_t)i * K;
            recur_real *dt = d_trans + (size_t)i * K;
            for (int j = 0; j < K; j++)
                dt[j] += (recur_real)(ai * Ei[j] * q[j]);
        }
        d_trans[gold[t - 1] * K + gold[t]] -= (recur_real)scale;
    }
    return logz - gold_score;
}

double crf_viterbi(const crf_view *c, const recur_real *emit, size_t stride, int T, int32_t *best,
                   double *work, int32_t *bp)
{
    const int K = c->K;
    double *d = work, *nd = work + K, *tr = work + 2 * K;
    /* forbidden transitions as -inf: a sum with one never wins, as a
     * skipped one never did; the loops then run over j for each i, the
     * first best i kept as before */
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++)
            tr[i * K + j] = OK_T(c, i, j) ? (double)c->trans[i * K + j] : -INFINITY;
    for (int j = 0; j < K; j++)
        d[j] = OK_S(c, j) ? (double)c->start[j] + emit[j] : -INFINITY;
    for (int t = 1; t < T; t++) {
        const recur_real *e = emit + (size_t)t * stride;
        int32_t *b = bp + (size_t)t * K;
        double *m = nd;
        for (int j = 0; j < K; j++) {
            m[j] = -INFINITY;
            b[j] = 0;
        }
        for (int i = 0; i < K; i++) {
            const double di = d[i], *row = tr + (size_t)i * K;
            if (di == -INFINITY) /* no sum from it can win */
                continue;
            for (int j = 0; j < K; j++) {
                double v = di + row[j];
                if (v > m[j]) {
                    m[j] = v;
                    b[j] = i;
                }
            }
        }
        for (int j = 0; j < K; j++)
            nd[j] = m[j] + e[j];
        double *tmp = d;
        d = nd;
        nd = tmp;
    }
    double m = -INFINITY;
    int arg = 0;
    for (int j = 0; j < K; j++) {
        double v = OK_E(c, j) ? d[j] + c->end[j] : -INFINITY;
        if (v > m) {
            m = v;
            arg = j;
        }
    }
    best[T - 1] = arg;
    for (int t = T - 1; t > 0; t--)
        best[t - 1] = bp[(size_t)t * K + best[t]];
    return m;
}

void crf_scheme_masks(const char *const *labels, int K, int chunked, unsigned char *allowed,
                      unsigned char *allowed_start, unsigned char *allowed_end)
{
    for (int i = 0; i < K; i++) {
        allowed_start[i] = allowed_end[i] = 1;
        for (int j = 0; j < K; j++)
            allowed[i * K + j] = 1;
    }
    if (!chunked)
        return;
    /* IOBES: B- and I- must be followed by I- or E- of their type; I- and E-
     * must follow B- or I- of their type */
    for (int i = 0; i < K; i++) {
        char pi = labels[i][0];
        const char *ti = pi == 'O' ? "" : labels[i] + 2;
        if (pi == 'I' || pi == 'E')
            allowed_start[i] = 0;
        if (pi == 'B' || pi == 'I')
            allowed_end[i] = 0;
        for (int j = 0; j < K; j++) {
            char pj = labels[j][0];
            const char *tj = pj == 'O' ? "" : labels[j] + 2;
            int open = pi == 'B' || pi == 'I';
            int cont = pj == 'I' || pj == 'E';
            int ok = open ? cont && !strcmp(ti, tj) : !cont;
            allowed[i * K + j] = (unsigned char)ok;
        }
    }
}
