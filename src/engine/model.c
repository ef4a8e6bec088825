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

static size_t add_tensor(recur_model *m, const char *name, int ndim, int64_t d0, int64_t d1)
{
    tensor_entry *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim > 1 ? d1 : 0;
    t->numel = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1);
    t->offset = m->n_params;
    m->n_params += t->numel;
    return t->offset;
}

recur_status recur_model_create(recur_model **out, const recur_model_config *cfg_in, uint64_t seed,
                                recur_error *err)
{
    *out = NULL;
    char msg[RECUR_ERRMSG_LEN];
    recur_model_config cfg = *cfg_in;
    if (cfg.vocab_size > 0 && cfg.rnn.input_size == 0)
        cfg.rnn.input_size = cfg.embed_size;
    recur_status st = recur_model_config_check(&cfg, msg);
    if (st)
        return recur_error_set(err, st, "%s", msg);
    int tensors_needed = 3 + cfg.rnn.num_layers * 2 * 5;
    if (tensors_needed > RECUR_MAX_TENSORS)
        return recur_error_set(err, RECUR_ERR_ARG, "config: too many layers");

    recur_model *m = recur_alloc(1, sizeof *m);
    if (!m)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory creating a model");
    m->cfg = cfg;
    const recur_stack_config *s = &cfg.rnn;
    m->gates = cell_gates(s->cell);
    m->state = s->proj_size > 0 ? s->proj_size : s->hidden_size;
    m->dirs = s->bidirectional ? 2 : 1;
    m->out_width = m->dirs * m->state;
    int H = s->hidden_size, G = m->gates * H;

    if (cfg.vocab_size > 0)
        m->emb_w = add_tensor(m, "embedding.weight", 2, cfg.vocab_size, cfg.embed_size);
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
    if (cfg.output_size > 0) {
        if (cfg.tied) {
            tensor_entry *t = &m->tensors[m->n_tensors++];
            *t = m->tensors[0];
            snprintf(t->name, sizeof t->name, "decoder.weight");
            t->alias = 1;
            m->dec_w = m->emb_w;
        } else {
            m->dec_w = add_tensor(m, "decoder.weight", 2, cfg.output_size, m->out_width);
        }
        m->dec_b = add_tensor(m, "decoder.bias", 1, cfg.output_size, 0);
    }
    m->params = recur_alloc(m->n_params, sizeof(recur_real));
    m->grads = recur_alloc(m->n_params, sizeof(recur_real));
    if (!m->params || !m->grads) {
        recur_model_free(m);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory for %zu parameters", m->n_params);
    }
    rng_seed(&m->rng, seed);
    recur_model_init_default(m);
    *out = m;
    return RECUR_OK;
}

void recur_model_free(recur_model *m)
{
    if (!m)
        return;
    recur_free(m->params);
    recur_free(m->grads);
    recur_free(m);
}

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
        return recur_seterr((char *)m->errmsg, RECUR_ERR_ARG, "tensor index %d out of range 0..%d", index,
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
    return recur_seterr((char *)m->errmsg, RECUR_ERR_ARG, "no tensor named '%s' in this model", name);
}

void recur_model_seed(recur_model *m, uint64_t seed) { rng_seed(&m->rng, seed); }
double recur_model_uniform(recur_model *m) { return rng_uniform(&m->rng); }

static void fill_uniform(recur_model *m, size_t off, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        m->params[off + i] = (recur_real)((2.0 * rng_uniform(&m->rng) - 1.0) * scale);
}

recur_status recur_model_init_default(recur_model *m)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const tensor_entry *t = &m->tensors[i];
        if (t->alias)
            continue;
        if (!strcmp(t->name, "embedding.weight")) {
            for (size_t k = 0; k < t->numel; k++)
                m->params[t->offset + k] = (recur_real)rng_normal(&m->rng);
        } else if (!strncmp(t->name, "decoder.", 8)) {
            fill_uniform(m, t->offset, t->numel, 1.0 / sqrt((double)m->out_width));
        } else {
            fill_uniform(m, t->offset, t->numel, 1.0 / sqrt((double)m->cfg.rnn.hidden_size));
        }
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
