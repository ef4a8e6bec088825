/*
 * optim.c - gradient-norm clipping and the optimisers, as flat loops over
 * the one parameter buffer.  Update rules follow PyTorch's:
 *   SGD:   g += wd*p;  buf = momentum*buf + g (buf = g on the first step);
 *          p -= lr * (momentum ? buf : g)
 *   Adam:  g += wd*p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *          p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   AdamW: p *= 1 - lr*wd, then Adam without the L2 term.
 * A step whose gradient is not finite is refused before anything changes.
 */
#include <string.h>

#include "model_internal.h"
#include "simd.h"
#include "threads.h"

/* Sum of squares in double, in blocks of 4096, so the norm of millions of
 * floats does not lose the small ones.  The blocks are grouped into at most
 * NORM_GROUPS groups of equal size, summed on recur's threads; the groups'
 * sums are added in order, so the norm does not depend on the threads. */
#define NORM_BLOCK 4096
#define NORM_GROUPS 1024

typedef struct norm_job {
    const recur_real *g;
    size_t n, group; /* elements per group, a multiple of NORM_BLOCK */
    int groups;
    double *sums;
} norm_job;

static void norm_part(void *ctx, int tid, int nt)
{
    const norm_job *j = ctx;
    int lo, hi;
    par_split(j->groups, tid, nt, 1, &lo, &hi);
    for (int k = lo; k < hi; k++) {
        size_t a = (size_t)k * j->group, b = a + j->group < j->n ? a + j->group : j->n;
        double part = 0;
        for (size_t i = a; i < b; i += NORM_BLOCK)
            part += vec_sumsq(j->g + i, b - i < NORM_BLOCK ? b - i : NORM_BLOCK);
        j->sums[k] = part;
    }
}

static double grad_sq_norm(const recur_real *g, size_t n)
{
    double sums[NORM_GROUPS];
    size_t blocks = (n + NORM_BLOCK - 1) / NORM_BLOCK;
    size_t per = (blocks + NORM_GROUPS - 1) / NORM_GROUPS;
    if (per == 0)
        return 0;
    norm_job j = {g, n, per * NORM_BLOCK, (int)((blocks + per - 1) / per), sums};
    par_run_work((double)n, norm_part, &j);
    double total = 0;
    for (int k = 0; k < j.groups; k++)
        total += sums[k];
    return total;
}

/* The optimiser's element-wise updates on recur's threads, in ranges of
 * whole cache lines. */
typedef struct update_job {
    recur_optim *o;
    recur_real *p, *g;
    size_t n;
    int kind, first;
    recur_real a[9];
} update_job;

static void update_part(void *ctx, int tid, int nt)
{
    const update_job *j = ctx;
    int units = (int)((j->n + 4095) / 4096), lo, hi;
    par_split(units, tid, nt, 1, &lo, &hi);
    size_t a = (size_t)lo * 4096, b = (size_t)hi * 4096 < j->n ? (size_t)hi * 4096 : j->n;
    if (b <= a)
        return;
    if (j->kind == 0)
        vec_scale(j->g + a, j->a[0], b - a);
    else if (j->kind == 1)
        k_sgd(j->p + a, j->g + a, j->o->m ? j->o->m + a : NULL, b - a, j->a[0], j->a[1], j->a[2], j->first);
    else
        k_adam(j->p + a, j->g + a, j->o->m + a, j->o->v + a, b - a, j->a[0], j->a[1], j->a[2], j->a[3], j->a[4],
               j->a[5], j->a[6]);
}

recur_status recur_clip_grad_norm(recur_model *m, double max_norm, double *norm, int *clipped)
{
    double nrm = sqrt(grad_sq_norm(m->grads, m->n_params));
    if (norm)
        *norm = nrm;
    if (clipped)
        *clipped = 0;
    if (!isfinite(nrm))
        return recur_seterr(m->errmsg, RECUR_ERR_NONFINITE, "gradient norm is not finite (%g): step refused", nrm);
    if (max_norm > 0 && nrm >= max_norm) {
        update_job j = {NULL, m->params, m->grads, m->n_params, 0, 0, {(recur_real)(max_norm / nrm)}};
        par_run_work((double)j.n, update_part, &j);
        if (clipped)
            *clipped = 1;
    }
    return RECUR_OK;
}

void recur_optim_config_default(recur_optim_config *cfg, recur_optim_kind kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->eps = 1e-8;
}

recur_status recur_optim_create(recur_optim **out, recur_model *m, const recur_optim_config *cfg,
                                recur_error *err)
{
    *out = NULL;
    if (cfg->kind < RECUR_OPTIM_SGD || cfg->kind > RECUR_OPTIM_ADAMW)
        return recur_error_set(err, RECUR_ERR_ARG, "optimiser: unknown kind %d", (int)cfg->kind);
    if (!(cfg->momentum >= 0 && cfg->momentum < 1) || !(cfg->weight_decay >= 0) || !isfinite(cfg->weight_decay))
        return recur_error_set(err, RECUR_ERR_ARG, "optimiser: momentum must be in [0, 1) and weight decay >= 0");
    if (cfg->kind != RECUR_OPTIM_SGD &&
        (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) || !(cfg->eps > 0)))
        return recur_error_set(err, RECUR_ERR_ARG, "optimiser: Adam needs betas in [0, 1) and eps > 0");
    if (!isfinite(cfg->clip))
        return recur_error_set(err, RECUR_ERR_ARG, "optimiser: clipping threshold must be finite");
    recur_optim *o = recur_alloc(1, sizeof *o);
    if (!o)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory creating an optimiser");
    o->cfg = *cfg;
    o->model = m;
    int need_m = cfg->kind != RECUR_OPTIM_SGD || cfg->momentum > 0;
    if (need_m)
        o->m = recur_alloc(m->n_params, sizeof(recur_real));
    if (cfg->kind != RECUR_OPTIM_SGD)
        o->v = recur_alloc(m->n_params, sizeof(recur_real));
    if ((need_m && !o->m) || (cfg->kind != RECUR_OPTIM_SGD && !o->v)) {
        recur_optim_free(o);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory for optimiser state");
    }
    *out = o;
    return RECUR_OK;
}

void recur_optim_free(recur_optim *o)
{
    if (!o)
        return;
    recur_free(o->m);
    recur_free(o->v);
    recur_free(o);
}

const char *recur_optim_errmsg(const recur_optim *o) { return o ? o->errmsg : "no optimiser"; }
int64_t recur_optim_steps(const recur_optim *o) { return o->steps; }

recur_status recur_optim_step(recur_optim *o, double lr, double *grad_norm, int *clipped)
{
    recur_model *mdl = o->model;
    if (!(lr >= 0) || !isfinite(lr))
        return recur_seterr(o->errmsg, RECUR_ERR_ARG, "learning rate %g must be finite and >= 0", lr);
    recur_status st = recur_clip_grad_norm(mdl, o->cfg.clip, grad_norm, clipped);
    if (st)
        return recur_seterr(o->errmsg, st, "%s", mdl->errmsg);
    const size_t n = mdl->n_params;
    recur_real *p = mdl->params, *g = mdl->grads;
    const double wd = o->cfg.weight_decay;
    o->steps++;
    if (o->cfg.kind == RECUR_OPTIM_SGD) {
        update_job j = {o, p, g, n, 1, o->steps == 1, {(recur_real)lr, (recur_real)o->cfg.momentum, (recur_real)wd}};
        par_run_work((double)j.n, update_part, &j);
        return RECUR_OK;
    }
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2;
    const double bc1 = 1 - pow(b1, (double)o->steps), bc2 = 1 - pow(b2, (double)o->steps);
    const recur_real step_size = (recur_real)(lr / bc1), sbc2 = (recur_real)sqrt(bc2);
    const recur_real eps = (recur_real)o->cfg.eps, rb1 = (recur_real)b1, rb2 = (recur_real)b2;
    const int adamw = o->cfg.kind == RECUR_OPTIM_ADAMW;
    const recur_real shrink = adamw ? (recur_real)(1 - lr * wd) : 1, l2 = (recur_real)(adamw ? 0 : wd);
    update_job j = {o, p, g, n, 2, 0, {shrink, l2, rb1, rb2, step_size, sbc2, eps}};
    par_run_work((double)j.n, update_part, &j);
    return RECUR_OK;
}
