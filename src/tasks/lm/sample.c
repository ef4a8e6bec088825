/*
 * sample.c - drawing tokens from a language model's logits: temperature,
 * top-k (Fan et al. 2018) and nucleus / top-p (Holtzman et al. 2020)
 * truncation, greedy decoding at temperature 0.
 *
 *   p_i = exp((l_i - max l) / T) / sum_j exp((l_j - max l) / T)
 * then, with tokens ranked by p (ties: lower id first), keep the first k,
 * then the shortest prefix of those whose renormalised mass reaches top_p,
 * and renormalise what is kept.  The sampler owns a xoshiro256** generator,
 * so a seed gives the same text on every machine.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

typedef struct ranked {
    double p;
    int32_t id;
} ranked;

static int by_prob(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static recur_status check_params(int V, double temperature, int top_k, double top_p,
                                 recur_error *err)
{
    if (V < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "sampling: vocabulary size %d must be positive", V);
    if (!(temperature >= 0) || !isfinite(temperature))
        return recur_error_set(err, RECUR_ERR_ARG,
                               "sampling: temperature %g must be a finite number >= 0", temperature);
    if (top_k < 0)
        return recur_error_set(err, RECUR_ERR_ARG, "sampling: top-k %d must be >= 0 (0: no limit)",
                               top_k);
    if (!(top_p > 0 && top_p <= 1))
        return recur_error_set(err, RECUR_ERR_ARG, "sampling: top-p %g must be in (0, 1]", top_p);
    return RECUR_OK;
}

/* The distribution into probs[V]; rank[V] is scratch. */
static recur_status distribution(const recur_real *logits, int V, double temperature, int top_k,
                                 double top_p, double *probs, ranked *rank, recur_error *err)
{
    int arg = 0;
    double mx = logits[0];
    for (int i = 0; i < V; i++) {
        if (!isfinite((double)logits[i]))
            return recur_error_set(err, RECUR_ERR_NONFINITE,
                                   "sampling: logit %d is not finite (%g)", i, (double)logits[i]);
        if (logits[i] > mx) {
            mx = logits[i];
            arg = i;
        }
    }
    if (temperature == 0 || top_k == 1) {
        memset(probs, 0, (size_t)V * sizeof *probs);
        probs[arg] = 1;
        return RECUR_OK;
    }
    double sum = 0;
    for (int i = 0; i < V; i++) {
        probs[i] = exp(((double)logits[i] - mx) / temperature);
        sum += probs[i];
    }
    for (int i = 0; i < V; i++)
        probs[i] /= sum;
    int k = (top_k > 0 && top_k < V) ? top_k : V;
    if (k == V && top_p >= 1)
        return RECUR_OK;
    for (int i = 0; i < V; i++)
        rank[i] = (ranked){probs[i], i};
    qsort(rank, (size_t)V, sizeof *rank, by_prob);
    double mass_k = 0;
    for (int i = 0; i < k; i++)
        mass_k += rank[i].p;
    int keep = k;
    if (top_p < 1) {
        double cum = 0;
        for (keep = 0; keep < k;) {
            cum += rank[keep].p / mass_k;
            keep++;
            if (cum >= top_p)
                break;
        }
    }
    double kept = 0;
    for (int i = 0; i < keep; i++)
        kept += rank[i].p;
    memset(probs, 0, (size_t)V * sizeof *probs);
    for (int i = 0; i < keep; i++)
        probs[rank[i].id] = rank[i].p / kept;
    return RECUR_OK;
}

recur_status recur_sample_distribution(const recur_real *logits, int V, double temperature,
                                       int top_k, double top_p, double *probs, recur_error *err)
{
    recur_status st = check_params(V, temperature, top_k, top_p, err);
    if (st != RECUR_OK)
        return st;
    ranked *rank = malloc((size_t)V * sizeof *rank);
    if (!rank)
        return recur_error_set(err, RECUR_ERR_NOMEM, "sampling: out of memory");
    st = distribution(logits, V, temperature, top_k, top_p, probs, rank, err);
    free(rank);
    return st;
}

struct recur_sampler {
    int V;
    double temperature, top_p;
    int top_k;
    recur_rng rng;
    double *probs;
    ranked *rank;
    recur_error err;
};

recur_status recur_sampler_create(recur_sampler **out, int V, double temperature, int top_k,
                                  double top_p, uint64_t seed, recur_error *err)
{
    *out = NULL;
    recur_status st = check_params(V, temperature, top_k, top_p, err);
    if (st != RECUR_OK)
        return st;
    recur_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->probs = malloc((size_t)V * sizeof *s->probs);
        s->rank = malloc((size_t)V * sizeof *s->rank);
    }
    if (!s || !s->probs || !s->rank) {
        recur_sampler_free(s);
        return recur_error_set(err, RECUR_ERR_NOMEM, "sampling: out of memory");
    }
    s->V = V;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    rng_seed(&s->rng, seed);
    *out = s;
    return RECUR_OK;
}

void recur_sampler_free(recur_sampler *s)
{
    if (!s)
        return;
    free(s->probs);
    free(s->rank);
    free(s);
}

const char *recur_sampler_errmsg(const recur_sampler *s) { return s ? s->err.msg : ""; }

recur_status recur_sampler_next(recur_sampler *s, const recur_real *logits, int32_t *token)
{
    *token = -1;
    recur_status st = distribution(logits, s->V, s->temperature, s->top_k, s->top_p, s->probs, s->rank, &s->err);
    if (st != RECUR_OK)
        return st;
    double u = rng_uniform(&s->rng), cum = 0;
    int32_t last = -1;
    for (int i = 0; i < s->V; i++) {
        if (s->probs[i] <= 0)
            continue;
        cum += s->probs[i];
        last = i;
        if (u < cum) {
            *token = i;
            return RECUR_OK;
        }
    }
    *token = last; /* rounding left u just above the total */
    return RECUR_OK;
}
