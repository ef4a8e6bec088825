/*
 * longrange.c - the adding problem and the copy task as trainer tasks
 * (recur_longrange.h).  Every training batch is drawn from a generator
 * seeded by (seed, epoch, step): the task carries no state between steps,
 * so a resumed run draws what the uninterrupted one would have.  The
 * adding problem's output layer (out.weight, out.bias) lives in the
 * composite model's buffer; the task computes it and its gradient here and
 * hands the stack the gradient of its last output (recur_backward's
 * d_outputs).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "recur_longrange.h"

struct recur_longrange_task {
    recur_model *m;
    recur_longrange_config cfg;
    int T, R, lstm;
    recur_run *run;
    recur_real *x, *y, *yt, *d_out; /* adding: inputs (T, B, 2), predictions and targets (B), d_outputs (T, B, R) */
    int32_t *tok, *tgt;          /* copy: (T, B) */
    recur_real *vx, *vy;         /* the validation set, (T, V, 2) / (V) */
    int32_t *vtok, *vtgt;        /* (T, V) */
    recur_tensor_info w, bias;   /* adding's output layer */
    char extra[256];
};

void recur_longrange_config_default(recur_longrange_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = RECUR_LONGRANGE_ADDING;
    c->delay = 50;
    c->batch = 32;
    c->epoch_steps = 100;
    c->valid_size = 512;
    c->copy_length = 10;
    c->copy_symbols = 8;
    c->seed = 1;
}

/* ---- data ----------------------------------------------------------------- */

void recur_adding_layout(int T, int B, int b, const double *values, int m1, int m2,
                         recur_real *inputs, recur_real *target)
{
    for (int t = 0; t < T; t++) {
        recur_real *x = inputs + ((size_t)t * (size_t)B + (size_t)b) * 2;
        x[0] = (recur_real)values[t];
        x[1] = (recur_real)(t == m1 || t == m2);
    }
    /* the sum of the values as stored, so that a float target is exact */
    *target = (recur_real)((double)(recur_real)values[m1] + (double)(recur_real)values[m2]);
}

void recur_adding_generate(uint64_t seed, int T, int B, recur_real *inputs, recur_real *targets)
{
    recur_rng r;
    rng_seed(&r, seed);
    double *v = malloc((size_t)T * sizeof *v);
    double stack_v[256];
    if (!v) /* a small T never gets here; a large one without memory uses a short buffer */
        v = T <= 256 ? stack_v : NULL;
    if (!v)
        return;
    const int half = T / 2;
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++)
            v[t] = rng_uniform(&r);
        int m1 = (int)(rng_uniform(&r) * half);
        int m2 = half + (int)(rng_uniform(&r) * (T - half));
        recur_adding_layout(T, B, b, v, m1, m2, inputs, targets + b);
    }
    if (v != stack_v)
        free(v);
}

void recur_copy_layout(int delay, int K, int S, int B, int b, const int32_t *symbols,
                       int32_t *tokens, int32_t *targets)
{
    const int T = delay + 2 * K;
    for (int t = 0; t < T; t++) {
        int32_t in = 0, out = -1;
        if (t < K)
            in = symbols[t];
        else if (t == K + delay - 1)
            in = S + 1; /* the delimiter: recall now */
        if (t >= K + delay)
            out = symbols[t - K - delay];
        tokens[(size_t)t * (size_t)B + (size_t)b] = in;
        targets[(size_t)t * (size_t)B + (size_t)b] = out;
    }
}

void recur_copy_generate(uint64_t seed, int delay, int K, int S, int B, int32_t *tokens,
                         int32_t *targets)
{
    recur_rng r;
    rng_seed(&r, seed);
    int32_t sym[64];
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < K && k < 64; k++)
            sym[k] = 1 + (int32_t)(rng_uniform(&r) * S);
        recur_copy_layout(delay, K, S, B, b, sym, tokens, targets);
    }
}

/* ---- the model -------------------------------------------------------------- */

void recur_longrange_model_config(const recur_longrange_config *cfg, recur_cell cell, int hidden,
                                  int layers, int embed, recur_model_config *out)
{
    recur_model_config_default(out);
    out->rnn.cell = cell;
    out->rnn.hidden_size = hidden;
    out->rnn.num_layers = layers;
    if (cfg->kind == RECUR_LONGRANGE_ADDING) {
        out->rnn.input_size = 2;
    } else {
        out->vocab_size = cfg->copy_symbols + 2;
        out->embed_size = embed > 0 ? embed : hidden;
        out->output_size = cfg->copy_symbols + 2;
    }
}

static recur_status check_config(const recur_longrange_config *c, recur_error *err)
{
    if (c->kind == RECUR_LONGRANGE_ADDING && c->delay < 2)
        return recur_error_set(err, RECUR_ERR_ARG, "adding: the delay must be at least 2 (got %d)", c->delay);
    if (c->delay < 1 || c->delay > 1000000)
        return recur_error_set(err, RECUR_ERR_ARG, "the delay must be in 1..1000000 (got %d)", c->delay);
    if (c->batch < 1 || c->valid_size < 1 || c->epoch_steps < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "batch, validation size and steps per epoch must be >= 1");
    if (c->kind == RECUR_LONGRANGE_COPY &&
        (c->copy_length < 1 || c->copy_length > 64 || c->copy_symbols < 2 || c->copy_symbols > 1000))
        return recur_error_set(err, RECUR_ERR_ARG, "copy: the length must be in 1..64 and the symbols in 2..1000");
    return RECUR_OK;
}

recur_status recur_longrange_model_create(recur_model **out, const recur_longrange_config *cfg,
                                          recur_cell cell, int hidden, int layers, int embed,
                                          double init_scale, uint64_t seed, recur_error *err)
{
    *out = NULL;
    recur_status st = check_config(cfg, err);
    if (st != RECUR_OK)
        return st;
    recur_model_config mc;
    recur_longrange_model_config(cfg, cell, hidden, layers, embed, &mc);
    if (cfg->kind == RECUR_LONGRANGE_ADDING) {
        recur_part parts[2] = {
            {.name = "out.weight", .ndim = 2, .shape = {1, hidden}, .init = 1 / sqrt((double)hidden)},
            {.name = "out.bias", .ndim = 1, .shape = {1}, .init = 0},
        };
        st = recur_model_create_composite(out, &mc, parts, 2, seed, err);
    } else {
        st = recur_model_create(out, &mc, seed, err);
    }
    if (st != RECUR_OK)
        return st;
    /* the stack's weights; the output layer keeps its part init */
    if (cfg->kind == RECUR_LONGRANGE_COPY)
        st = init_scale > 0 ? recur_model_init_uniform(*out, init_scale) : recur_model_init_default(*out);
    else {
        for (int i = 0; i < recur_model_num_tensors(*out) && st == RECUR_OK; i++) {
            recur_tensor_info ti;
            recur_model_tensor(*out, i, &ti);
            if (strncmp(ti.name, "rnn.", 4))
                continue;
            double s = init_scale > 0 ? init_scale : 1 / sqrt((double)hidden);
            for (size_t j = 0; j < ti.numel; j++)
                ti.data[j] = (recur_real)((2 * recur_model_uniform(*out) - 1) * s);
        }
    }
    if (st != RECUR_OK) {
        recur_error_set(err, st, "%s", recur_model_errmsg(*out));
        recur_model_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- the task --------------------------------------------------------------- */

static uint64_t step_seed(uint64_t seed, int64_t epoch, int64_t index)
{
    return seed * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)epoch * 0xBF58476D1CE4E5B9ULL) ^
           ((uint64_t)index * 0x94D049BB133111EBULL + 0x2545F4914F6CDD1DULL);
}

void recur_longrange_task_free(recur_longrange_task *t)
{
    if (!t)
        return;
    recur_run_free(t->run);
    free(t->x);
    free(t->y);
    free(t->yt);
    free(t->d_out);
    free(t->tok);
    free(t->tgt);
    free(t->vx);
    free(t->vy);
    free(t->vtok);
    free(t->vtgt);
    free(t);
}

recur_status recur_longrange_task_create(recur_longrange_task **out, recur_model *m,
                                         const recur_longrange_config *cfg, recur_error *err)
{
    *out = NULL;
    recur_status st = check_config(cfg, err);
    if (st != RECUR_OK)
        return st;
    const recur_model_config *mc = recur_model_get_config(m);
    const int adding = cfg->kind == RECUR_LONGRANGE_ADDING;
    if (mc->rnn.bidirectional ||
        (adding ? mc->vocab_size != 0 || mc->rnn.input_size != 2 || mc->output_size != 0
                : mc->vocab_size != cfg->copy_symbols + 2 || mc->output_size != cfg->copy_symbols + 2))
        return recur_error_set(err, RECUR_ERR_MISMATCH, "%s task: the model does not fit the task",
                               adding ? "adding" : "copy");
    recur_longrange_task *t = calloc(1, sizeof *t);
    if (!t)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    t->m = m;
    t->cfg = *cfg;
    t->T = adding ? cfg->delay : cfg->delay + 2 * cfg->copy_length;
    t->R = mc->rnn.proj_size > 0 ? mc->rnn.proj_size : mc->rnn.hidden_size;
    const size_t T = (size_t)t->T, B = (size_t)cfg->batch, V = (size_t)cfg->valid_size;
    int ok;
    if (adding) {
        ok = recur_model_find_tensor(m, "out.weight", &t->w) == RECUR_OK &&
             recur_model_find_tensor(m, "out.bias", &t->bias) == RECUR_OK && t->w.numel == (size_t)t->R;
        if (!ok) {
            recur_longrange_task_free(t);
            return recur_error_set(err, RECUR_ERR_MISMATCH,
                                   "adding task: the model has no output layer out.weight [1, %d], out.bias [1]", t->R);
        }
        t->x = malloc(T * B * 2 * sizeof *t->x);
        t->y = malloc(B * sizeof *t->y);
        t->yt = malloc(B * sizeof *t->yt);
        t->d_out = calloc(T * B * (size_t)t->R, sizeof *t->d_out);
        t->vx = malloc(T * V * 2 * sizeof *t->vx);
        t->vy = malloc(V * sizeof *t->vy);
        ok = t->x && t->y && t->yt && t->d_out && t->vx && t->vy;
    } else {
        t->tok = malloc(T * B * sizeof *t->tok);
        t->tgt = malloc(T * B * sizeof *t->tgt);
        t->vtok = malloc(T * V * sizeof *t->vtok);
        t->vtgt = malloc(T * V * sizeof *t->vtgt);
        ok = t->tok && t->tgt && t->vtok && t->vtgt;
    }
    if (!ok) {
        recur_longrange_task_free(t);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    /* the validation set: its own seed, fixed for the run */
    uint64_t vseed = step_seed(cfg->seed, -1, -1);
    if (adding)
        recur_adding_generate(vseed, t->T, cfg->valid_size, t->vx, t->vy);
    else
        recur_copy_generate(vseed, cfg->delay, cfg->copy_length, cfg->copy_symbols, cfg->valid_size,
                            t->vtok, t->vtgt);
    if ((st = recur_run_create(&t->run, m, t->T, cfg->batch, err)) != RECUR_OK) {
        recur_longrange_task_free(t);
        return st;
    }
    if (adding)
        snprintf(t->extra, sizeof t->extra, "{\"task\":\"adding\",\"delay\":%d}", cfg->delay);
    else
        snprintf(t->extra, sizeof t->extra, "{\"task\":\"copy\",\"delay\":%d,\"copy_length\":%d,\"copy_symbols\":%d}",
                 cfg->delay, cfg->copy_length, cfg->copy_symbols);
    *out = t;
    return RECUR_OK;
}

static int64_t lr_epoch_steps(void *ctx) { return ((recur_longrange_task *)ctx)->cfg.epoch_steps; }

static recur_status lr_epoch_begin(void *ctx, int64_t epoch, int64_t first, char *msg)
{
    (void)ctx;
    (void)epoch;
    (void)first;
    (void)msg;
    return RECUR_OK;
}

/* Adding: the forward pass over B sequences of x and the prediction of
 * each from the last step's output, into y. */
static recur_status adding_forward(recur_longrange_task *t, const recur_real *x, int B, int training,
                                   recur_real *y, char *msg)
{
    recur_batch bt = {.T = t->T, .B = B, .inputs = x};
    recur_status st = recur_forward(t->run, &bt, training, NULL, NULL);
    if (st != RECUR_OK)
        return recur_seterr(msg, st, "%s", recur_run_errmsg(t->run));
    const recur_real *h = recur_run_outputs(t->run) + (size_t)(t->T - 1) * (size_t)B * (size_t)t->R;
    for (int b = 0; b < B; b++) {
        double s = t->bias.data[0];
        for (int j = 0; j < t->R; j++)
            s += (double)t->w.data[j] * (double)h[(size_t)b * t->R + j];
        y[b] = (recur_real)s;
    }
    return RECUR_OK;
}

static recur_status lr_step(void *ctx, int64_t epoch, int64_t index, double *loss_sum,
                            int64_t *count, char *msg)
{
    recur_longrange_task *t = ctx;
    const int B = t->cfg.batch;
    const uint64_t seed = step_seed(t->cfg.seed, epoch, index);
    recur_status st;
    if (t->cfg.kind == RECUR_LONGRANGE_ADDING) {
        recur_adding_generate(seed, t->T, B, t->x, t->yt);
        if ((st = adding_forward(t, t->x, B, 1, t->y, msg)) != RECUR_OK)
            return st;
        const recur_real *h = recur_run_outputs(t->run) + (size_t)(t->T - 1) * (size_t)B * (size_t)t->R;
        recur_real *dh = t->d_out + (size_t)(t->T - 1) * (size_t)B * (size_t)t->R;
        double sum = 0;
        for (int b = 0; b < B; b++) {
            double e = (double)t->y[b] - (double)t->yt[b];
            sum += e * e;
            double g = 2 * e / B; /* d mean / d y_b */
            t->bias.grad[0] += (recur_real)g;
            for (int j = 0; j < t->R; j++) {
                t->w.grad[j] += (recur_real)(g * (double)h[(size_t)b * t->R + j]);
                dh[(size_t)b * t->R + j] = (recur_real)(g * (double)t->w.data[j]);
            }
        }
        if (!isfinite(sum))
            return recur_seterr(msg, RECUR_ERR_NONFINITE, "the loss is not finite (%g)", sum);
        if ((st = recur_backward(t->run, 0, t->d_out, NULL, NULL)) != RECUR_OK)
            return recur_seterr(msg, st, "%s", recur_run_errmsg(t->run));
        *loss_sum = sum;
        *count = B;
        return RECUR_OK;
    }
    recur_copy_generate(seed, t->cfg.delay, t->cfg.copy_length, t->cfg.copy_symbols, B, t->tok, t->tgt);
    recur_batch bt = {.T = t->T, .B = B, .tokens = t->tok, .targets = t->tgt};
    double loss = 0;
    int64_t n = 0;
    st = recur_forward(t->run, &bt, 1, &loss, &n);
    if (st == RECUR_ERR_NONFINITE || (st == RECUR_OK && !isfinite(loss)))
        return recur_seterr(msg, RECUR_ERR_NONFINITE, "the loss is not finite (%g)", loss);
    if (st != RECUR_OK)
        return recur_seterr(msg, st, "%s", recur_run_errmsg(t->run));
    if ((st = recur_backward(t->run, 1, NULL, NULL, NULL)) != RECUR_OK)
        return recur_seterr(msg, st, "%s", recur_run_errmsg(t->run));
    *loss_sum = loss * (double)n;
    *count = n;
    return RECUR_OK;
}

static recur_status lr_evaluate(void *ctx, recur_eval *ev, char *msg)
{
    recur_longrange_task *t = ctx;
    const int V = t->cfg.valid_size, Bmax = t->cfg.batch, T = t->T;
    ev->higher_better = t->cfg.kind == RECUR_LONGRANGE_COPY;
    if (t->cfg.kind == RECUR_LONGRANGE_ADDING) {
        double sum = 0;
        for (int s = 0; s < V; s += Bmax) {
            int B = V - s < Bmax ? V - s : Bmax;
            /* the chunk's inputs, (T, B, 2), out of the (T, V, 2) set */
            for (int tt = 0; tt < T; tt++)
                memcpy(t->x + (size_t)tt * B * 2, t->vx + ((size_t)tt * V + s) * 2, (size_t)B * 2 * sizeof *t->x);
            recur_status st = adding_forward(t, t->x, B, 0, t->y, msg);
            if (st != RECUR_OK)
                return st;
            for (int b = 0; b < B; b++) {
                double e = (double)t->y[b] - (double)t->vy[s + b];
                sum += e * e;
            }
        }
        ev->decisive = recur_eval_add(ev, "mse", sum / V);
        return RECUR_OK;
    }
    double loss_sum = 0;
    int64_t n_all = 0, right = 0;
    const int O = t->cfg.copy_symbols + 2;
    for (int s = 0; s < V; s += Bmax) {
        int B = V - s < Bmax ? V - s : Bmax;
        for (int tt = 0; tt < T; tt++) {
            memcpy(t->tok + (size_t)tt * B, t->vtok + (size_t)tt * V + s, (size_t)B * sizeof *t->tok);
            memcpy(t->tgt + (size_t)tt * B, t->vtgt + (size_t)tt * V + s, (size_t)B * sizeof *t->tgt);
        }
        recur_batch bt = {.T = T, .B = B, .tokens = t->tok, .targets = t->tgt};
        double loss = 0;
        int64_t n = 0;
        recur_status st = recur_forward(t->run, &bt, 0, &loss, &n);
        if (st != RECUR_OK)
            return recur_seterr(msg, st, "%s", recur_run_errmsg(t->run));
        loss_sum += loss * (double)n;
        n_all += n;
        const recur_real *z = recur_run_logits(t->run);
        for (size_t i = 0; i < (size_t)T * (size_t)B; i++) {
            if (t->tgt[i] < 0)
                continue;
            int best = 0;
            for (int o = 1; o < O; o++)
                if (z[i * O + o] > z[i * O + best])
                    best = o;
            right += best == t->tgt[i];
        }
    }
    recur_eval_add(ev, "loss", loss_sum / (double)n_all);
    ev->decisive = recur_eval_add(ev, "accuracy", (double)right / (double)n_all);
    return RECUR_OK;
}

recur_task recur_longrange_task_callbacks(recur_longrange_task *t)
{
    recur_task k;
    memset(&k, 0, sizeof k);
    k.ctx = t;
    k.unit = t->cfg.kind == RECUR_LONGRANGE_ADDING ? "sequence" : "symbol";
    k.loss_is_nll = 0;
    k.epoch_steps = lr_epoch_steps;
    k.epoch_begin = lr_epoch_begin;
    k.step = lr_step;
    k.evaluate = lr_evaluate;
    k.extra_config = t->extra;
    return k;
}
