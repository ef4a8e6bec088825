/*
 * test_tag_crf_f64.c - the tagger's linear-chain CRF (src/tasks/tag/crf.c)
 * in the double build, against brute force:
 *
 *  partition   log Z equals the log-sum-exp of the scores of every tag
 *              sequence, enumerated (K^T of them), with and without the
 *              IOBES constraints (then only allowed sequences count).
 *  gradient    d NLL / d emissions, transitions, start and end by central
 *              finite differences (1e-6 relative); a forbidden transition
 *              gets no gradient.
 *  viterbi     returns the enumerated argmax and its score; under the
 *              constraints no forbidden sequence is ever returned, even
 *              when its emissions are by far the best.
 *  masks       the IOBES masks forbid exactly what the scheme forbids.
 *  scale       large emissions (|e| ~ 300) do not overflow the scaled sums.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tag/crf.h"

static uint64_t rng_state = 88172645463325252ull;
static double urand(void) /* [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1.0p-52 - 1.0;
}

static const char *IOBES5[] = {"B-PER", "E-PER", "I-PER", "O", "S-PER"};
static const char *IOBES9[] = {"B-LOC", "B-PER", "E-LOC", "E-PER", "I-LOC", "I-PER", "O", "S-LOC", "S-PER"};

typedef struct problem {
    int K, T;
    double emit[8 * 9], trans[81], start[9], end[9];
    unsigned char allowed[81], as[9], ae[9];
    crf_view v;
} problem;

static void make(problem *p, int K, int T, const char **labels, double scale)
{
    p->K = K;
    p->T = T;
    for (int i = 0; i < T * K; i++)
        p->emit[i] = scale * urand();
    for (int i = 0; i < K * K; i++)
        p->trans[i] = urand();
    for (int i = 0; i < K; i++) {
        p->start[i] = urand();
        p->end[i] = urand();
    }
    if (labels)
        crf_scheme_masks(labels, K, 1, p->allowed, p->as, p->ae);
    p->v = (crf_view){K, p->trans, p->start, p->end, labels ? p->allowed : NULL,
                      labels ? p->as : NULL, labels ? p->ae : NULL};
}

/* every sequence: log-sum-exp of scores, the best and its score */
static double enumerate(const problem *p, int32_t *best, double *best_score)
{
    int32_t tags[8];
    long total = 1;
    for (int t = 0; t < p->T; t++)
        total *= p->K;
    double m = -INFINITY, z = 0;
    *best_score = -INFINITY;
    double *scores = malloc((size_t)total * sizeof *scores);
    for (long code = 0; code < total; code++) {
        long c = code;
        for (int t = 0; t < p->T; t++) {
            tags[t] = (int32_t)(c % p->K);
            c /= p->K;
        }
        double s = crf_score(&p->v, p->emit, (size_t)p->K, p->T, tags);
        scores[code] = s;
        if (s > m)
            m = s;
        if (s > *best_score) {
            *best_score = s;
            memcpy(best, tags, (size_t)p->T * sizeof *tags);
        }
    }
    for (long code = 0; code < total; code++)
        z += exp(scores[code] - m);
    free(scores);
    return m + log(z);
}

static double work[4096];
static int32_t bp[1024];

static void check_partition_and_viterbi(int K, int T, const char **labels, double scale)
{
    problem p;
    make(&p, K, T, labels, scale);
    int32_t best[8], vit[8];
    double best_score;
    double logz = enumerate(&p, best, &best_score);
    double z = crf_log_partition(&p.v, p.emit, (size_t)K, T, work);
    assert_true(fabs(z - logz) <= 1e-10 * fmax(1, fabs(logz)));
    double vs = crf_viterbi(&p.v, p.emit, (size_t)K, T, vit, work, bp);
    assert_true(fabs(vs - best_score) <= 1e-10 * fmax(1, fabs(best_score)));
    assert_memory_equal(vit, best, (size_t)T * sizeof *vit);
    assert_true(isfinite(crf_score(&p.v, p.emit, (size_t)K, T, vit)));
    /* the NLL of the best path is log Z minus its score */
    double nll = crf_nll(&p.v, p.emit, (size_t)K, T, vit, 1, NULL, NULL, NULL, NULL, work);
    assert_true(fabs(nll - (logz - best_score)) <= 1e-9 * fmax(1, fabs(logz)));
}

static void test_partition_viterbi(void **state)
{
    (void)state;
    for (int T = 1; T <= 6; T++) {
        check_partition_and_viterbi(3, T, NULL, 1);
        check_partition_and_viterbi(5, T, NULL, 2);
        check_partition_and_viterbi(5, T, IOBES5, 2);
    }
    check_partition_and_viterbi(9, 4, IOBES9, 3);
    check_partition_and_viterbi(9, 5, NULL, 1);
    /* large scores: the scaled sums must not overflow */
    check_partition_and_viterbi(5, 5, IOBES5, 300);
}

/* central differences of the NLL against the analytic gradient */
static void check_gradient(int K, int T, const char **labels)
{
    problem p;
    make(&p, K, T, labels, 1.5);
    int32_t gold[8], dummy[8];
    double bs;
    enumerate(&p, dummy, &bs);
    /* a gold path: allowed, not the best, so that the gradient is not tiny */
    for (;;) {
        for (int t = 0; t < T; t++)
            gold[t] = (int32_t)((urand() + 1) * 0.5 * K) % K;
        if (isfinite(crf_score(&p.v, p.emit, (size_t)K, T, gold)))
            break;
    }
    double d_emit[72] = {0}, d_trans[81] = {0}, d_start[9] = {0}, d_end[9] = {0};
    const double scale = 0.7;
    crf_nll(&p.v, p.emit, (size_t)K, T, gold, scale, d_emit, d_trans, d_start, d_end, work);
    double *params[4] = {p.emit, p.trans, p.start, p.end};
    double *grads[4] = {d_emit, d_trans, d_start, d_end};
    int sizes[4] = {T * K, K * K, K, K};
    const double h = 1e-5;
    double worst = 0, gmax = 0;
    for (int g = 0; g < 4; g++)
        for (int i = 0; i < sizes[g]; i++) {
            double keep = params[g][i];
            params[g][i] = keep + h;
            double up = crf_nll(&p.v, p.emit, (size_t)K, T, gold, 1, NULL, NULL, NULL, NULL, work);
            params[g][i] = keep - h;
            double down = crf_nll(&p.v, p.emit, (size_t)K, T, gold, 1, NULL, NULL, NULL, NULL, work);
            params[g][i] = keep;
            double num = scale * (up - down) / (2 * h);
            worst = fmax(worst, fabs(num - grads[g][i]));
            gmax = fmax(gmax, fabs(num));
            if (g == 1 && labels && !p.allowed[i])
                assert_true(grads[g][i] == 0); /* forbidden: no gradient */
        }
    assert_true(gmax > 0.05);
    if (worst > 1e-6 * gmax)
        fail_msg("K %d T %d: gradient off by %g (scale %g)", K, T, worst, gmax);
}

static void test_gradient(void **state)
{
    (void)state;
    for (int T = 1; T <= 6; T++) {
        check_gradient(4, T, NULL);
        check_gradient(5, T, IOBES5);
    }
    check_gradient(9, 7, IOBES9);
    check_gradient(9, 8, NULL);
}

static void test_constraints(void **state)
{
    (void)state;
    unsigned char a[81], s[9], e[9];
    crf_scheme_masks(IOBES9, 9, 1, a, s, e);
    /* labels: 0 B-LOC 1 B-PER 2 E-LOC 3 E-PER 4 I-LOC 5 I-PER 6 O 7 S-LOC 8 S-PER */
    assert_true(a[0 * 9 + 4] && a[0 * 9 + 2] && a[4 * 9 + 4] && a[4 * 9 + 2]); /* B-LOC I-LOC, E-LOC */
    assert_false(a[0 * 9 + 5] || a[0 * 9 + 3] || a[0 * 9 + 6] || a[0 * 9 + 0]); /* B-LOC then I-PER, E-PER, O, B */
    assert_false(a[6 * 9 + 4] || a[6 * 9 + 2]);                                /* O then I-, E- */
    assert_true(a[6 * 9 + 0] && a[6 * 9 + 7] && a[2 * 9 + 1] && a[8 * 9 + 6]); /* O B, O S, E B, S O */
    assert_false(a[2 * 9 + 4] || a[7 * 9 + 2]);                                /* E-LOC I-LOC, S-LOC E-LOC */
    assert_true(s[0] && s[6] && s[7] && !s[2] && !s[4]);                       /* no start inside a chunk */
    assert_true(e[2] && e[6] && e[8] && !e[0] && !e[5]);                       /* no end inside a chunk */
    /* emissions that favour the forbidden "O I-LOC E-LOC" never win */
    problem p;
    make(&p, 9, 3, IOBES9, 0.1);
    p.emit[0 * 9 + 6] += 50;
    p.emit[1 * 9 + 4] += 50;
    p.emit[2 * 9 + 2] += 50;
    int32_t best[3];
    crf_viterbi(&p.v, p.emit, 9, 3, best, work, bp);
    assert_true(isfinite(crf_score(&p.v, p.emit, 9, 3, best)));
    int32_t bad[3] = {6, 4, 2};
    assert_true(crf_score(&p.v, p.emit, 9, 3, bad) == -INFINITY);
    assert_true(crf_nll(&p.v, p.emit, 9, 3, bad, 1, NULL, NULL, NULL, NULL, work) == INFINITY);
    /* without masks the same emissions choose it */
    p.v.allowed = p.v.allowed_start = p.v.allowed_end = NULL;
    crf_viterbi(&p.v, p.emit, 9, 3, best, work, bp);
    assert_memory_equal(best, bad, sizeof bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_viterbi),
        cmocka_unit_test(test_gradient),
        cmocka_unit_test(test_constraints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
