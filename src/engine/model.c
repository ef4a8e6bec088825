/*
 * model.c - the model's configuration, its parameter table and buffers, and
 * initialisation.
 *
 * Tensors are registered in PyTorch's state_dict order (embedding, then for
 * each layer and direction weight_ih, weight_hh, bias_ih, bias_hh[, weight_hr],
 * then decoder), each a view into one buffer.  A tied decoder.weight is an
 * alias entry: same offset as embedding.weight, counted once.
 */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"
#include "gemm_bf16.h"
#include "threads.h"

void recur_model_config_default(recur_model_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->rnn.cell = RECUR_CELL_LSTM;
    cfg->rnn.gru_form = RECUR_GRU_RESET_AFTER;
    cfg->rnn.num_layers = 1;
}

static int cell_gates(recur_cell c) { return c == RECUR_CELL_LSTM ? 4 : c == RECUR_CELL_GRU ? 3 : 1; }

/* Largest width we accept for any dimension: keeps every size product far
 * from overflow on 64-bit size_t and int indexing inside products. */
#define MAX_DIM (1 << 24)

recur_status recur_model_config_check(const recur_model_config *cfg, char *msg)
{
    const recur_stack_config *s = &cfg->rnn;
    if (s->cell < RECUR_CELL_RNN_TANH || s->cell > RECUR_CELL_GRU)
        return recur_seterr(msg, RECUR_ERR_ARG, "config: unknown cell type %d", (int)s->cell);
    if (s->gru_form != RECUR_GRU_RESET_AFTER && s->gru_form != RECUR_GRU_RESET_BEFORE)
        return recur_seterr(msg, RECUR_ERR_ARG, "config: unknown GRU form %d", (int)s->gru_form);
    if (s->hidden_size <= 0 || s->hidden_size > MAX_DIM)
        return recur_seterr(msg, RECUR_ERR_ARG, "config: hidden size %d must be in 1..%d", s->hidden_size, MAX_DIM);
    if (s->num_layers <= 0 || s->num_layers > RECUR_MAX_LAYERS)
        return recur_seterr(msg, RECUR_ERR_ARG, "config: layers %d must be in 1..%d", s->num_layers, RECUR_MAX_LAYERS);
    if (s->bidirectional != 0 && s->bidirectional != 1)
        return recur_seterr(msg, RECUR_ERR_ARG, "config: bidirectional must be 0 or 1, got %d", s->bidirectional);
    if (s->residual != 0 && s->residual != 1)
        return recur_seterr(msg, RECUR_ERR_ARG, "config: residual must be 0 or 1, got %d", s->residual);
    if (s->proj_size < 0 || (s->proj_size > 0 && s->cell != RECUR_CELL_LSTM))
        return recur_seterr(msg, RECUR_ERR_ARG, "config: projection size %d needs an LSTM and must be >= 0", s->proj_size);
    if (s->proj_size >= s->hidden_size)
        return recur_seterr(msg, RECUR_ERR_ARG, "config: projection size %d must be smaller than hidden size %d",
                            s->proj_size, s->hidden_size);
    if (!(s->dropout >= 0 && s->dropout < 1) || !(cfg->dropout_embed >= 0 && cfg->dropout_embed < 1) ||
        !(cfg->dropout_output >= 0 && cfg->dropout_output < 1))
        return recur_seterr(msg, RECUR_ERR_ARG, "config: dropout probabilities must be in [0, 1)");
    if (cfg->vocab_size < 0 || cfg->vocab_size > MAX_DIM || cfg->output_size < 0 || cfg->output_size > MAX_DIM)
        return recur_seterr(msg, RECUR_ERR_ARG, "config: vocabulary %d and output %d must be in 0..%d",
                            cfg->vocab_size, cfg->output_size, MAX_DIM);
    int in0 = cfg->vocab_size > 0 ? cfg->embed_size : s->input_size;
    if (in0 <= 0 || in0 > MAX_DIM)
        return recur_seterr(msg, RECUR_ERR_ARG, "config: %s %d must be in 1..%d",
                            cfg->vocab_size > 0 ? "embedding size" : "input size", in0, MAX_DIM);
    if (cfg->vocab_size > 0 && s->input_size != 0 && s->input_size != cfg->embed_size)
        return recur_seterr(msg, RECUR_ERR_ARG, "config: input size %d differs from embedding size %d",
                            s->input_size, cfg->embed_size);
    /* Residual connections join layers k >= 1, whose input and output widths
     * are both D*R, so they never need a width check. */
    int R = s->proj_size > 0 ? s->proj_size : s->hidden_size;
    int out = (s->bidirectional + 1) * R;
    if (cfg->tied) {
        if (cfg->vocab_size <= 0 || cfg->output_size != cfg->vocab_size)
            return recur_seterr(msg, RECUR_ERR_ARG, "config: tied embeddings need output size %d = vocabulary %d",
                                cfg->output_size, cfg->vocab_size);
        if (cfg->embed_size != out)
            return recur_seterr(msg, RECUR_ERR_ARG,
                                "config: tied embeddings need embedding size %d = recurrent output width %d",
                                cfg->embed_size, out);
    }
    return RECUR_OK;
}

static size_t add_tensor_nd(recur_model *m, const char *name, int ndim, const int64_t *shape, int part)
{
    tensor_entry *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < 4; i++) {
        t->shape[i] = i < ndim ? shape[i] : 0;
        if (i < ndim)
            t->numel *= (size_t)shape[i];
    }
    t->offset = m->n_params;
    t->part = part;
    m->n_params += t->numel;
    return t->offset;
}

static size_t add_tensor(recur_model *m, const char *name, int ndim, int64_t d0, int64_t d1)
{
    int64_t shape[2] = {d0, d1};
    return add_tensor_nd(m, name, ndim, shape, -1);
}

static int tensors_needed(const recur_model_config *cfg) { return 3 + cfg->rnn.num_layers * 2 * 5; }

/* Registers the tensors of [embedding] -> stack -> [decoder] in m's table
 * (PyTorch's state_dict order); no buffer yet. */
static void build_tables(recur_model *m, const recur_model_config *cfg)
{
    m->cfg = *cfg;
    const recur_stack_config *s = &m->cfg.rnn;
    m->gates = cell_gates(s->cell);
    m->state = s->proj_size > 0 ? s->proj_size : s->hidden_size;
    m->dirs = s->bidirectional ? 2 : 1;
    m->out_width = m->dirs * m->state;
    int H = s->hidden_size, G = m->gates * H;

    if (cfg->vocab_size > 0)
        m->emb_w = add_tensor(m, "embedding.weight", 2, cfg->vocab_size, cfg->embed_size);
    char name[RECUR_MAX_NAME];
    for (int l = 0; l < s->num_layers; l++) {
        int in = l == 0 ? s->input_size : m->out_width;
        for (int d = 0; d < m->dirs; d++) {
            const char *suf = d ? "_reverse" : "";
            cell_params *c = &m->cells[l][d];
            c->in = in;
            snprintf(name, sizeof name, "rnn.weight_ih_l%d%s", l, suf);
            c->w_ih = add_tensor(m, name, 2, G, in);
            snprintf(name, sizeof name, "rnn.weight_hh_l%d%s", l, suf);
            c->w_hh = add_tensor(m, name, 2, G, m->state);
            snprintf(name, sizeof name, "rnn.bias_ih_l%d%s", l, suf);
            c->b_ih = add_tensor(m, name, 1, G, 0);
            snprintf(name, sizeof name, "rnn.bias_hh_l%d%s", l, suf);
            c->b_hh = add_tensor(m, name, 1, G, 0);
            if (s->proj_size > 0) {
                snprintf(name, sizeof name, "rnn.weight_hr_l%d%s", l, suf);
                c->w_hr = add_tensor(m, name, 2, s->proj_size, H);
            }
        }
    }
    if (cfg->output_size > 0) {
        if (cfg->tied) {
            tensor_entry *t = &m->tensors[m->n_tensors++];
            *t = m->tensors[0];
            snprintf(t->name, sizeof t->name, "decoder.weight");
            t->alias = 1;
            m->dec_w = m->emb_w;
        } else {
            m->dec_w = add_tensor(m, "decoder.weight", 2, cfg->output_size, m->out_width);
        }
        m->dec_b = add_tensor(m, "decoder.bias", 1, cfg->output_size, 0);
    }
}

/* A model configuration made ready: layer 0 reads the embedding. */
static recur_status prepare_config(recur_model_config *cfg, char *msg)
{
    if (cfg->vocab_size > 0 && cfg->rnn.input_size == 0)
        cfg->rnn.input_size = cfg->embed_size;
    recur_status st = recur_model_config_check(cfg, msg);
    if (!st && tensors_needed(cfg) > RECUR_MAX_TENSORS)
        st = recur_seterr(msg, RECUR_ERR_ARG, "config: too many layers");
    return st;
}

static int name_taken(const recur_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return 1;
    return 0;
}

/* Checks part i and registers its tensors in m's table (and a sub-model's
 * own table in its view). */
static recur_status add_part(recur_model *m, model_part *p, int index, char *msg)
{
    size_t len = strlen(p->name);
    if (len == 0 || len >= RECUR_MAX_NAME - 1)
        return recur_seterr(msg, RECUR_ERR_ARG, "part %d: name must have 1..%d characters", index, RECUR_MAX_NAME - 2);
    if (!p->is_model) {
        if (p->ndim < 1 || p->ndim > 4)
            return recur_seterr(msg, RECUR_ERR_ARG, "part '%s': %d dimensions, expected 1..4", p->name, p->ndim);
        double numel = 1;
        for (int i = 0; i < p->ndim; i++) {
            if (p->shape[i] < 1 || p->shape[i] > MAX_DIM)
                return recur_seterr(msg, RECUR_ERR_ARG, "part '%s': dimension %d is %lld, expected 1..%d", p->name, i,
                                    (long long)p->shape[i], MAX_DIM);
            numel *= (double)p->shape[i];
        }
        if (numel > (double)MAX_DIM * 64)
            return recur_seterr(msg, RECUR_ERR_ARG, "part '%s': %.0f values, more than %d", p->name, numel, MAX_DIM * 64);
        if (!(p->init >= 0) || !isfinite(p->init))
            return recur_seterr(msg, RECUR_ERR_ARG, "part '%s': init scale must be finite and >= 0", p->name);
        if (name_taken(m, p->name))
            return recur_seterr(msg, RECUR_ERR_ARG, "part '%s': the model already has a tensor of that name", p->name);
        if (m->n_tensors >= RECUR_MAX_TENSORS)
            return recur_seterr(msg, RECUR_ERR_ARG, "part '%s': more than %d tensors in all", p->name, RECUR_MAX_TENSORS);
        p->offset = add_tensor_nd(m, p->name, p->ndim, p->shape, index);
        p->numel = m->tensors[m->n_tensors - 1].numel;
        return RECUR_OK;
    }
    char inner[RECUR_ERRMSG_LEN];
    if (prepare_config(&p->cfg, inner))
        return recur_seterr(msg, RECUR_ERR_ARG, "part '%s': %s", p->name, inner);
    recur_model *v = recur_alloc(1, sizeof *v);
    if (v && !(v->errmsg = recur_alloc(RECUR_ERRMSG_LEN, 1))) {
        recur_free(v);
        v = NULL;
    }
    if (!v)
        return recur_seterr(msg, RECUR_ERR_NOMEM, "out of memory for part '%s'", p->name);
    build_tables(v, &p->cfg);
    v->is_view = 1;
    v->rng = m->rng;
    p->view = v;
    if (m->n_tensors + v->n_tensors > RECUR_MAX_TENSORS)
        return recur_seterr(msg, RECUR_ERR_ARG, "part '%s': more than %d tensors in all", p->name, RECUR_MAX_TENSORS);
    p->offset = m->n_params;
    p->numel = v->n_params;
    for (int i = 0; i < v->n_tensors; i++) {
        tensor_entry t = v->tensors[i];
        char full[2 * RECUR_MAX_NAME + 2];
        snprintf(full, sizeof full, "%s.%s", p->name, t.name);
        if (strlen(full) >= RECUR_MAX_NAME)
            return recur_seterr(msg, RECUR_ERR_ARG, "part '%s': tensor name '%s' is longer than %d characters", p->name,
                                full, RECUR_MAX_NAME - 1);
        if (name_taken(m, full))
            return recur_seterr(msg, RECUR_ERR_ARG, "part '%s': the model already has a tensor named '%s'", p->name, full);
        memcpy(t.name, full, strlen(full) + 1); /* fits: checked above */
        t.offset += p->offset;
        t.part = index;
        m->tensors[m->n_tensors++] = t;
    }
    m->n_params += v->n_params;
    return RECUR_OK;
}

recur_status model_create_parts(recur_model **out, const recur_model_config *cfg_in, const model_part *parts,
                                int n_parts, uint64_t seed, recur_error *err)
{
    *out = NULL;
    char msg[RECUR_ERRMSG_LEN];
    recur_model_config cfg = *cfg_in;
    recur_status st = prepare_config(&cfg, msg);
    if (st)
        return recur_error_set(err, st, "%s", msg);
    if (n_parts < 0 || n_parts > RECUR_MAX_PARTS)
        return recur_error_set(err, RECUR_ERR_ARG, "a model has 0..%d parts, not %d", RECUR_MAX_PARTS, n_parts);

    recur_model *m = recur_alloc(1, sizeof *m);
    if (m && !(m->errmsg = recur_alloc(RECUR_ERRMSG_LEN, 1))) {
        recur_free(m);
        m = NULL;
    }
    if (!m)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory creating a model");
    m->rng = &m->rng_own;
    build_tables(m, &cfg);
    if (n_parts > 0) {
        m->parts = recur_alloc((size_t)n_parts, sizeof *m->parts);
        if (!m->parts) {
            recur_model_free(m);
            return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory creating a model");
        }
    }
    for (int i = 0; i < n_parts; i++) {
        m->parts[i] = parts[i];
        m->parts[i].view = NULL;
        m->n_parts = i + 1;
        st = add_part(m, &m->parts[i], i, msg);
        if (st) {
            recur_model_free(m);
            return recur_error_set(err, st, "%s", msg);
        }
    }
    m->params = recur_alloc(m->n_params, sizeof(recur_real));
    m->grads = recur_alloc(m->n_params, sizeof(recur_real));
    if (!m->params || !m->grads) {
        recur_model_free(m);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory for %zu parameters", m->n_params);
    }
    for (int i = 0; i < m->n_parts; i++)
        if (m->parts[i].view) {
            m->parts[i].view->params = m->params + m->parts[i].offset;
            m->parts[i].view->grads = m->grads + m->parts[i].offset;
        }
    rng_seed(m->rng, seed);
    recur_model_init_default(m);
    *out = m;
    return RECUR_OK;
}

recur_status recur_model_create(recur_model **out, const recur_model_config *cfg, uint64_t seed, recur_error *err)
{
    return model_create_parts(out, cfg, NULL, 0, seed, err);
}

recur_status recur_model_create_composite(recur_model **out, const recur_model_config *cfg, const recur_part *parts,
                                          int n_parts, uint64_t seed, recur_error *err)
{
    *out = NULL;
    if (n_parts < 0 || n_parts > RECUR_MAX_PARTS || (n_parts > 0 && !parts))
        return recur_error_set(err, RECUR_ERR_ARG, "a model has 0..%d parts, not %d", RECUR_MAX_PARTS, n_parts);
    model_part spec[RECUR_MAX_PARTS];
    for (int i = 0; i < n_parts; i++) {
        model_part *p = &spec[i];
        memset(p, 0, sizeof *p);
        if (!parts[i].name || strlen(parts[i].name) >= RECUR_MAX_NAME - 1)
            return recur_error_set(err, RECUR_ERR_ARG, "part %d: name must have 1..%d characters", i, RECUR_MAX_NAME - 2);
        snprintf(p->name, sizeof p->name, "%s", parts[i].name);
        p->is_model = parts[i].model != NULL;
        if (p->is_model)
            p->cfg = *parts[i].model;
        p->ndim = parts[i].ndim;
        for (int k = 0; k < 4; k++)
            p->shape[k] = k < parts[i].ndim ? parts[i].shape[k] : 0;
        p->init = parts[i].init;
    }
    return model_create_parts(out, cfg, spec, n_parts, seed, err);
}

void recur_model_free(recur_model *m)
{
    if (!m || m->is_view)
        return;
    for (int i = 0; i < m->n_parts; i++)
        if (m->parts[i].view) {
            recur_free(m->parts[i].view->errmsg);
            recur_free(m->parts[i].view);
        }
    recur_free(m->parts);
    recur_free(m->params);
    recur_free(m->grads);
    recur_free(m->errmsg);
    recur_free(m);
}

recur_model *recur_model_submodel(recur_model *m, const char *name)
{
    for (int i = 0; m && name && i < m->n_parts; i++)
        if (m->parts[i].is_model && !strcmp(m->parts[i].name, name))
            return m->parts[i].view;
    return NULL;
}

int recur_model_num_parts(const recur_model *m) { return m->n_parts; }

const char *recur_model_errmsg(const recur_model *m) { return m ? m->errmsg : "no model"; }
const recur_model_config *recur_model_get_config(const recur_model *m) { return &m->cfg; }
int recur_model_num_tensors(const recur_model *m) { return m->n_tensors; }
size_t recur_model_num_params(const recur_model *m) { return m->n_params; }
recur_real *recur_model_params(recur_model *m) { return m->params; }
recur_real *recur_model_grads(recur_model *m) { return m->grads; }

typedef struct zero_job {
    recur_real *p;
    size_t n;
} zero_job;

static void zero_part(void *ctx, int tid, int nt)
{
    const zero_job *j = ctx;
    size_t lo = j->n * (size_t)tid / (size_t)nt, hi = j->n * (size_t)(tid + 1) / (size_t)nt;
    memset(j->p + lo, 0, (hi - lo) * sizeof(recur_real));
}

/* on recur's threads: a large model's gradient is tens of megabytes */
void recur_model_zero_grad(recur_model *m)
{
    zero_job j = {m->grads, m->n_params};
    par_run_work((double)m->n_params / 8, zero_part, &j);
}

static void fill_info(const recur_model *m, const tensor_entry *t, recur_tensor_info *info)
{
    info->name = t->name;
    info->ndim = t->ndim;
    for (int i = 0; i < 4; i++)
        info->shape[i] = i < t->ndim ? t->shape[i] : 0;
    info->offset = t->offset;
    info->numel = t->numel;
    info->data = m->params + t->offset;
    info->grad = m->grads + t->offset;
}

recur_status recur_model_tensor(const recur_model *m, int index, recur_tensor_info *info)
{
    if (index < 0 || index >= m->n_tensors)
        return recur_seterr(m->errmsg, RECUR_ERR_ARG, "tensor index %d out of range 0..%d", index,
                            m->n_tensors - 1);
    fill_info(m, &m->tensors[index], info);
    return RECUR_OK;
}

recur_status recur_model_find_tensor(const recur_model *m, const char *name, recur_tensor_info *info)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) {
            fill_info(m, &m->tensors[i], info);
            return RECUR_OK;
        }
    return recur_seterr(m->errmsg, RECUR_ERR_ARG, "no tensor named '%s' in this model", name);
}

void recur_model_seed(recur_model *m, uint64_t seed) { rng_seed(m->rng, seed); }
double recur_model_uniform(recur_model *m) { return rng_uniform(m->rng); }

static void fill_uniform(recur_model *m, size_t off, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        m->params[off + i] = (recur_real)((2.0 * rng_uniform(m->rng) - 1.0) * scale);
}

recur_status recur_model_init_default(recur_model *m)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const tensor_entry *t = &m->tensors[i];
        if (t->alias || t->part >= 0)
            continue;
        if (!strcmp(t->name, "embedding.weight")) {
            for (size_t k = 0; k < t->numel; k++)
                m->params[t->offset + k] = (recur_real)rng_normal(m->rng);
        } else if (!strncmp(t->name, "decoder.", 8)) {
            fill_uniform(m, t->offset, t->numel, 1.0 / sqrt((double)m->out_width));
        } else {
            fill_uniform(m, t->offset, t->numel, 1.0 / sqrt((double)m->cfg.rnn.hidden_size));
        }
    }
    /* parts in their order, each by its own rule */
    for (int i = 0; i < m->n_parts; i++) {
        const model_part *p = &m->parts[i];
        if (p->is_model)
            recur_model_init_default(p->view);
        else
            fill_uniform(m, p->offset, p->numel, p->init);
    }
    return RECUR_OK;
}

recur_status recur_model_init_uniform(recur_model *m, double scale)
{
    if (!(scale >= 0) || !isfinite(scale))
        return recur_seterr(m->errmsg, RECUR_ERR_ARG, "init scale %g must be finite and >= 0", scale);
    fill_uniform(m, 0, m->n_params, scale);
    return RECUR_OK;
}

recur_status recur_model_set_forget_bias(recur_model *m, double value)
{
    if (m->cfg.rnn.cell != RECUR_CELL_LSTM)
        return recur_seterr(m->errmsg, RECUR_ERR_ARG, "forget-gate bias needs an LSTM");
    int H = m->cfg.rnn.hidden_size;
    for (int l = 0; l < m->cfg.rnn.num_layers; l++)
        for (int d = 0; d < m->dirs; d++) {
            const cell_params *c = &m->cells[l][d];
            for (int j = 0; j < H; j++) {
                m->params[c->b_ih + H + j] = (recur_real)value;
                m->params[c->b_hh + H + j] = 0;
            }
        }
    return RECUR_OK;
}

recur_status recur_model_set_precision(recur_model *m, recur_precision p)
{
    if (p != RECUR_PRECISION_FP32 && p != RECUR_PRECISION_BF16)
        return recur_seterr(m->errmsg, RECUR_ERR_ARG, "precision: a model's products run in fp32 or bf16, not %s",
                            recur_precision_name(p));
#ifdef RECUR_DOUBLE
    if (p != RECUR_PRECISION_FP32)
        return recur_seterr(m->errmsg, RECUR_ERR_ARG, "precision: bf16 products need the float build");
#endif
    m->precision = p;
    for (int i = 0; i < m->n_parts; i++)
        if (m->parts[i].view)
            m->parts[i].view->precision = p;
    return RECUR_OK;
}

recur_precision recur_model_precision(const recur_model *m) { return m->precision; }

const char *recur_precision_name(recur_precision p)
{
    return p == RECUR_PRECISION_FP32 ? "fp32" : p == RECUR_PRECISION_BF16 ? "bf16" : p == RECUR_PRECISION_INT8 ? "int8"
                                                                                                            : "unknown";
}

recur_status recur_precision_parse(const char *s, recur_precision *out)
{
    static const recur_precision all[] = {RECUR_PRECISION_FP32, RECUR_PRECISION_BF16, RECUR_PRECISION_INT8};
    for (size_t i = 0; s && i < sizeof all / sizeof *all; i++)
        if (!strcmp(s, recur_precision_name(all[i]))) {
            *out = all[i];
            return RECUR_OK;
        }
    return RECUR_ERR_ARG;
}

const char *recur_bf16_kernel(void) { return bf16_kernel_name(bf16_kernel_best()); }
