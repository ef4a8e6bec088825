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

#include "internal.h"

/* Sum of squares in double, in blocks, so the norm of millions of floats
 * does not lose the small ones. */
static double grad_sq_norm(const recur_real *g, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n;) {
        double part = 0;
        size_t end = i + 4096 < n ? i + 4096 : n;
        for (; i < end; i++)
            part += (double)g[i] * (double)g[i];
        total += part;
    }
    return total;
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
        recur_real s = (recur_real)(max_norm / nrm);
        for (size_t i = 0; i < m->n_params; i++)
            m->grads[i] *= s;
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
        const recur_real mom = (recur_real)o->cfg.momentum, rate = (recur_real)lr, dec = (recur_real)wd;
        for (size_t i = 0; i < n; i++) {
            recur_real d = g[i] + dec * p[i];
            if (o->m) {
                o->m[i] = o->steps == 1 ? d : mom * o->m[i] + d;
                d = o->m[i];
            }
            p[i] -= rate * d;
        }
        return RECUR_OK;
    }
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2;
    const double bc1 = 1 - pow(b1, (double)o->steps), bc2 = 1 - pow(b2, (double)o->steps);
    const recur_real step_size = (recur_real)(lr / bc1), sbc2 = (recur_real)sqrt(bc2);
    const recur_real eps = (recur_real)o->cfg.eps, rb1 = (recur_real)b1, rb2 = (recur_real)b2;
    const int adamw = o->cfg.kind == RECUR_OPTIM_ADAMW;
    const recur_real shrink = (recur_real)(1 - lr * wd), l2 = (recur_real)(adamw ? 0 : wd);
    for (size_t i = 0; i < n; i++) {
        if (adamw)
            p[i] *= shrink;
        recur_real d = g[i] + l2 * p[i];
        o->m[i] = rb1 * o->m[i] + (1 - rb1) * d;
        o->v[i] = rb2 * o->v[i] + (1 - rb2) * d * d;
        p[i] -= step_size * o->m[i] / (R_SQRT(o->v[i]) / sbc2 + eps);
    }
    return RECUR_OK;
}
