/*
 * checkpoint.c - models and training state in safetensors files.
 *
 * Tensor names are PyTorch's (embedding.weight, rnn.weight_ih_l0, ...,
 * decoder.weight, decoder.bias), all F32, so the file loads into torch with
 * load_state_dict.  __metadata__ holds:
 *   recur.format  the layout version (RECUR_FORMAT_VERSION)
 *   recur.config  a JSON object: the model configuration, plus the
 *                 application's keys (task, level, ...) merged in
 *   recur.train   (training checkpoints) optimiser configuration and step,
 *                 the train state and the model's random state, as JSON
 * and a training checkpoint adds the optimiser's moments as tensors
 * optimizer.m.<name> and optimizer.v.<name> (drop keys starting with
 * "optimizer." before load_state_dict).
 *
 * Loading validates everything: the safetensors structure (safetensors.c),
 * the format version, the configuration's keys and ranges, and every tensor's
 * name, dtype and shape against that configuration; nothing missing, nothing
 * extra.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "engine/model_internal.h"

struct recur_checkpoint {
    st_file file;
    recur_model_config cfg;
    model_part parts[RECUR_MAX_PARTS]; /* a composite model's parts */
    int n_parts;
    json_t *train; /* parsed recur.train, NULL for a plain model file */
    char path[256];
};

static const char *cell_names[] = {"rnn_tanh", "rnn_relu", "lstm", "gru"};
static const char *gru_forms[] = {"reset_after", "reset_before"};

/* The model configuration as a JSON object (new reference). */
static json_t *config_to_json(const recur_model_config *c)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:b, s:b, s:f, s:i, s:i, s:i, s:b, s:f, s:f}",
                     "cell", cell_names[c->rnn.cell], "gru_form", gru_forms[c->rnn.gru_form],
                     "input_size", c->rnn.input_size, "hidden_size", c->rnn.hidden_size,
                     "proj_size", c->rnn.proj_size, "num_layers", c->rnn.num_layers,
                     "bidirectional", c->rnn.bidirectional, "residual", c->rnn.residual,
                     "dropout", (double)c->rnn.dropout, "vocab_size", c->vocab_size,
                     "embed_size", c->embed_size, "output_size", c->output_size, "tied", c->tied,
                     "dropout_embed", (double)c->dropout_embed, "dropout_output", (double)c->dropout_output);
}

/* A composite's parts: [{"name", "shape", "init"} for a tensor, {"name",
 * "model": {...}} for a sub-model], in order (new reference). */
static json_t *parts_to_json(const model_part *parts, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        const model_part *p = &parts[i];
        json_t *o;
        if (p->is_model) {
            o = json_pack("{s:s, s:o}", "name", p->name, "model", config_to_json(&p->cfg));
        } else {
            json_t *shape = json_array();
            for (int k = 0; k < p->ndim; k++)
                json_array_append_new(shape, json_integer(p->shape[k]));
            o = json_pack("{s:s, s:o, s:f}", "name", p->name, "shape", shape, "init", p->init);
        }
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int get_int(json_t *o, const char *key, int *out, char *msg)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1 << 24)) {
        snprintf(msg, RECUR_ERRMSG_LEN, "recur.config: \"%s\" must be an integer in 0..%d", key, 1 << 24);
        return 0;
    }
    *out = (int)json_integer_value(v);
    return 1;
}

static int get_bool(json_t *o, const char *key, int *out, char *msg)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_boolean(v)) {
        snprintf(msg, RECUR_ERRMSG_LEN, "recur.config: \"%s\" must be true or false", key);
        return 0;
    }
    *out = json_is_true(v);
    return 1;
}

static int get_prob(json_t *o, const char *key, float *out, char *msg)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) < 1)) {
        snprintf(msg, RECUR_ERRMSG_LEN, "recur.config: \"%s\" must be a number in [0, 1)", key);
        return 0;
    }
    *out = (float)json_number_value(v);
    return 1;
}

static int get_enum(json_t *o, const char *key, const char **names, int n, int *out, char *msg)
{
    const char *s = json_string_value(json_object_get(o, key));
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 1;
        }
    snprintf(msg, RECUR_ERRMSG_LEN, "recur.config: \"%s\" must be one of %s%s%s%s%s%s%s", key, names[0],
             n > 1 ? ", " : "", n > 1 ? names[1] : "", n > 2 ? ", " : "", n > 2 ? names[2] : "",
             n > 3 ? ", " : "", n > 3 ? names[3] : "");
    return 0;
}

/* One model configuration from its JSON object. */
static recur_status config_from_object(json_t *o, recur_model_config *c, char *msg)
{
    recur_model_config_default(c);
    int cell = 0, form = 0;
    int ok = get_enum(o, "cell", cell_names, 4, &cell, msg) && get_enum(o, "gru_form", gru_forms, 2, &form, msg) &&
             get_int(o, "input_size", &c->rnn.input_size, msg) && get_int(o, "hidden_size", &c->rnn.hidden_size, msg) &&
             get_int(o, "proj_size", &c->rnn.proj_size, msg) && get_int(o, "num_layers", &c->rnn.num_layers, msg) &&
             get_bool(o, "bidirectional", &c->rnn.bidirectional, msg) && get_bool(o, "residual", &c->rnn.residual, msg) &&
             get_prob(o, "dropout", &c->rnn.dropout, msg) && get_int(o, "vocab_size", &c->vocab_size, msg) &&
             get_int(o, "embed_size", &c->embed_size, msg) && get_int(o, "output_size", &c->output_size, msg) &&
             get_bool(o, "tied", &c->tied, msg) && get_prob(o, "dropout_embed", &c->dropout_embed, msg) &&
             get_prob(o, "dropout_output", &c->dropout_output, msg);
    if (!ok)
        return RECUR_ERR_FORMAT;
    c->rnn.cell = (recur_cell)cell;
    c->rnn.gru_form = (recur_gru_form)form;
    char inner[RECUR_ERRMSG_LEN];
    if (recur_model_config_check(c, inner))
        return recur_seterr(msg, RECUR_ERR_FORMAT, "recur.config: %s", inner);
    return RECUR_OK;
}

/* The "parts" array of a composite model (absent: none). */
static recur_status parts_from_json(json_t *a, model_part *parts, int *n, char *msg)
{
    *n = 0;
    if (!a)
        return RECUR_OK;
    if (!json_is_array(a) || json_array_size(a) > RECUR_MAX_PARTS)
        return recur_seterr(msg, RECUR_ERR_FORMAT, "recur.config: \"parts\" must be an array of at most %d parts",
                            RECUR_MAX_PARTS);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        model_part *p = &parts[i];
        memset(p, 0, sizeof *p);
        const char *name = json_string_value(json_object_get(o, "name"));
        if (!json_is_object(o) || !name || !*name || strlen(name) >= RECUR_MAX_NAME - 1)
            return recur_seterr(msg, RECUR_ERR_FORMAT, "recur.config: part %zu needs a \"name\" of 1..%d characters", i,
                                RECUR_MAX_NAME - 2);
        snprintf(p->name, sizeof p->name, "%s", name);
        json_t *model = json_object_get(o, "model"), *shape = json_object_get(o, "shape");
        if (model) {
            char inner[RECUR_ERRMSG_LEN];
            p->is_model = 1;
            if (!json_is_object(model) || config_from_object(model, &p->cfg, inner))
                return recur_seterr(msg, RECUR_ERR_FORMAT, "part '%s': %s", name,
                                    json_is_object(model) ? inner : "\"model\" is not an object");
        } else {
            json_t *init = json_object_get(o, "init");
            if (!json_is_array(shape) || json_array_size(shape) < 1 || json_array_size(shape) > 4 || !json_is_number(init))
                return recur_seterr(msg, RECUR_ERR_FORMAT,
                                    "recur.config: part '%s' needs a \"shape\" of 1..4 integers and an \"init\"", name);
            p->ndim = (int)json_array_size(shape);
            for (int k = 0; k < p->ndim; k++) {
                json_t *d = json_array_get(shape, k);
                if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > (1 << 24))
                    return recur_seterr(msg, RECUR_ERR_FORMAT, "recur.config: part '%s': dimension %d must be in 1..%d",
                                        name, k, 1 << 24);
                p->shape[k] = json_integer_value(d);
            }
            p->init = json_number_value(init);
        }
        *n = (int)i + 1;
    }
    return RECUR_OK;
}

static recur_status config_from_json(const char *text, recur_model_config *c, model_part *parts, int *n_parts,
                                     char *msg)
{
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return recur_seterr(msg, RECUR_ERR_FORMAT, "recur.config is not a JSON object (%s, column %d)",
                            je.text, je.column);
    }
    recur_status st = config_from_object(o, c, msg);
    if (!st)
        st = parts_from_json(json_object_get(o, "parts"), parts, n_parts, msg);
    json_decref(o);
    return st;
}

/* The config JSON text with the application's keys merged in (malloc'd). */
static char *config_text(const recur_model *m, const char *extra, char *msg, recur_status *why)
{
    *why = RECUR_ERR_NOMEM;
    json_t *o = config_to_json(&m->cfg);
    if (o && m->n_parts > 0 && json_object_set_new(o, "parts", parts_to_json(m->parts, m->n_parts))) {
        json_decref(o);
        o = NULL;
    }
    if (!o) {
        snprintf(msg, RECUR_ERRMSG_LEN, "out of memory writing recur.config");
        return NULL;
    }
    if (extra) {
        json_error_t je;
        json_t *e = json_loads(extra, 0, &je);
        if (!json_is_object(e)) {
            *why = RECUR_ERR_ARG;
            snprintf(msg, RECUR_ERRMSG_LEN, "extra configuration is not a JSON object: %s", je.text);
            json_decref(e);
            json_decref(o);
            return NULL;
        }
        const char *key;
        json_t *val;
        json_object_foreach(e, key, val) {
            if (json_object_get(o, key) || !strcmp(key, "parts")) {
                *why = RECUR_ERR_ARG;
                snprintf(msg, RECUR_ERRMSG_LEN, "extra configuration key \"%s\" is a model key", key);
                json_decref(e);
                json_decref(o);
                return NULL;
            }
            json_object_set(o, key, val);
        }
        json_decref(e);
    }
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!s)
        snprintf(msg, RECUR_ERRMSG_LEN, "out of memory writing recur.config");
    return s;
}

static recur_status add_f32(st_writer *w, const char *name, const tensor_entry *t, const recur_real *data)
{
#ifdef RECUR_DOUBLE
    return st_writer_add_f32_from_double(w, name, t->ndim, t->shape, data);
#else
    return st_writer_add(w, name, ST_F32, t->ndim, t->shape, data);
#endif
}

static json_t *number_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static char *train_text(const recur_model *m, const recur_optim *o, const recur_train_state *ts)
{
    char rng[4][20];
    for (int i = 0; i < 4; i++)
        snprintf(rng[i], sizeof rng[i], "%016" PRIx64, m->rng->s[i]);
    const recur_schedule *s = &ts->schedule;
    json_t *j = json_pack(
        "{s:{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:I}, s:I, s:I, s:I, s:o, s:[s,s,s,s],"
        " s:{s:i, s:f, s:f, s:f, s:f, s:i, s:i, s:i, s:f, s:o, s:i}}",
        "optimizer", "kind", (int)o->cfg.kind, "momentum", o->cfg.momentum, "weight_decay", o->cfg.weight_decay,
        "beta1", o->cfg.beta1, "beta2", o->cfg.beta2, "eps", o->cfg.eps, "clip", o->cfg.clip, "steps",
        (json_int_t)o->steps, "step", (json_int_t)ts->step, "epoch", (json_int_t)ts->epoch, "position",
        (json_int_t)ts->position, "best_val", number_or_null(ts->best_val), "rng", rng[0], rng[1], rng[2], rng[3],
        "schedule", "kind", (int)s->kind, "lr0", s->lr0, "decay", s->decay, "threshold", s->threshold, "min_lr",
        s->min_lr, "start", s->start, "patience", s->patience, "epoch", s->epoch, "lr", s->lr, "best",
        number_or_null(s->best), "bad_epochs", s->bad_epochs);
    if (!j)
        return NULL;
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    return text;
}

recur_status recur_checkpoint_save(const recur_model *m, const recur_optim *o, const recur_train_state *ts,
                                   const char *path, const char *extra_config, const recur_meta_entry *meta,
                                   int n_meta, recur_error *err)
{
    if (!path || !*path)
        return recur_error_set(err, RECUR_ERR_ARG, "checkpoint: empty path");
    if (o && (!ts || o->model != m))
        return recur_error_set(err, RECUR_ERR_ARG, "checkpoint: a training checkpoint needs the model's optimiser and a train state");
    char msg[RECUR_ERRMSG_LEN];
    recur_status why = RECUR_ERR_ARG;
    char *cfg = config_text(m, extra_config, msg, &why);
    if (!cfg)
        return recur_error_set(err, why, "checkpoint %s: %s", path, msg);
    st_writer *w = st_writer_new();
    recur_status st = w ? RECUR_OK : RECUR_ERR_NOMEM;
    char fmt[16];
    snprintf(fmt, sizeof fmt, "%d", RECUR_FORMAT_VERSION);
    if (!st)
        st = st_writer_meta(w, "format", "pt");
    if (!st)
        st = st_writer_meta(w, "recur.format", fmt);
    if (!st)
        st = st_writer_meta(w, "recur.config", cfg);
    for (int i = 0; !st && i < n_meta; i++) {
        if (!strcmp(meta[i].key, "recur.format") || !strcmp(meta[i].key, "recur.config") ||
            !strcmp(meta[i].key, "recur.train") || !strcmp(meta[i].key, "format")) {
            free(cfg);
            st_writer_free(w);
            return recur_error_set(err, RECUR_ERR_ARG, "checkpoint: metadata key \"%s\" is reserved", meta[i].key);
        }
        st = st_writer_meta(w, meta[i].key, meta[i].value);
    }
    free(cfg);
    for (int i = 0; !st && i < m->n_tensors; i++)
        st = add_f32(w, m->tensors[i].name, &m->tensors[i], m->params + m->tensors[i].offset);
    if (!st && o) {
        char *train = train_text(m, o, ts);
        st = train ? st_writer_meta(w, "recur.train", train) : RECUR_ERR_NOMEM;
        free(train);
        char name[RECUR_MAX_NAME + 16];
        for (int i = 0; !st && i < m->n_tensors; i++) {
            const tensor_entry *t = &m->tensors[i];
            if (t->alias)
                continue;
            if (o->m) {
                snprintf(name, sizeof name, "optimizer.m.%s", t->name);
                st = add_f32(w, name, t, o->m + t->offset);
            }
            if (!st && o->v) {
                snprintf(name, sizeof name, "optimizer.v.%s", t->name);
                st = add_f32(w, name, t, o->v + t->offset);
            }
        }
    }
    if (st) {
        recur_error_set(err, st, "checkpoint %s: %s", path, w ? st_writer_errmsg(w) : "out of memory");
        st_writer_free(w);
        return st;
    }
    st = st_writer_commit(w, path, msg, sizeof msg);
    st_writer_free(w);
    if (st)
        return recur_error_set(err, st, "%s", msg);
    return RECUR_OK;
}

void recur_checkpoint_close(recur_checkpoint *c)
{
    if (!c)
        return;
    st_free(&c->file);
    json_decref(c->train);
    free(c);
}

const recur_model_config *recur_checkpoint_config(const recur_checkpoint *c) { return &c->cfg; }
const char *recur_checkpoint_meta(const recur_checkpoint *c, const char *key) { return st_meta(&c->file, key); }
int recur_checkpoint_has_train_state(const recur_checkpoint *c) { return c->train != NULL; }

/* Checks one tensor of the file against the model's table entry. */
static recur_status check_tensor(const recur_checkpoint *c, const char *name, const tensor_entry *t, char *msg)
{
    const st_tensor *f = st_find(&c->file, name);
    if (!f)
        return recur_seterr(msg, RECUR_ERR_MISMATCH, "%s: tensor '%s' is missing", c->path, name);
    if (f->dtype != ST_F32)
        return recur_seterr(msg, RECUR_ERR_MISMATCH, "%s: tensor '%s' has dtype %s, expected F32", c->path, name,
                            st_dtype_name(f->dtype));
    int same = f->ndim == t->ndim;
    for (int i = 0; same && i < t->ndim; i++)
        same = f->shape[i] == t->shape[i];
    if (!same) {
        char want[64], got[96];
        int n = snprintf(want, sizeof want, "[");
        for (int i = 0; i < t->ndim && n < 50; i++)
            n += snprintf(want + n, sizeof want - n, "%s%" PRId64, i ? ", " : "", t->shape[i]);
        snprintf(want + n, sizeof want - n, "]");
        n = snprintf(got, sizeof got, "[");
        for (int i = 0; i < f->ndim && n < 80; i++)
            n += snprintf(got + n, sizeof got - n, "%s%" PRId64, i ? ", " : "", f->shape[i]);
        snprintf(got + n, sizeof got - n, "]");
        return recur_seterr(msg, RECUR_ERR_MISMATCH, "%s: tensor '%s': expected shape %s, got %s", c->path, name,
                            want, got);
    }
    return RECUR_OK;
}

/* recur.train must hold every field load_train restores, with its type and
 * range: a damaged entry must not resume silently with a step count of 0 or
 * a learning rate of 0.  Returns NULL when valid, else what is wrong. */
static const char *train_problem(json_t *t)
{
    json_t *o = json_object_get(t, "optimizer"), *s = json_object_get(t, "schedule");
    json_t *rng = json_object_get(t, "rng");
    if (!json_is_object(o) || !json_is_object(s))
        return "needs \"optimizer\" and \"schedule\" objects";
    if (!json_is_array(rng) || json_array_size(rng) != 4)
        return "\"rng\" must be an array of 4 words";
    for (size_t i = 0; i < 4; i++) {
        const char *h = json_string_value(json_array_get(rng, i));
        if (!h || strlen(h) != 16 || strspn(h, "0123456789abcdefABCDEF") != 16)
            return "\"rng\" words must be 16 hex digits each";
    }
    static const char *const counts[] = {"step", "epoch", "position"};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(t, counts[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return "\"step\", \"epoch\" and \"position\" must be integers >= 0";
    }
    json_t *kind = json_object_get(o, "kind"), *steps = json_object_get(o, "steps");
    json_t *mom = json_object_get(o, "momentum");
    if (!json_is_integer(kind) || json_integer_value(kind) < RECUR_OPTIM_SGD || json_integer_value(kind) > RECUR_OPTIM_ADAMW)
        return "optimizer \"kind\" must be 0 (SGD), 1 (Adam) or 2 (AdamW)";
    if (!json_is_number(mom) || !(json_number_value(mom) >= 0 && json_number_value(mom) < 1))
        return "optimizer \"momentum\" must be a number in [0, 1)";
    if (!json_is_integer(steps) || json_integer_value(steps) < 0)
        return "optimizer \"steps\" must be an integer >= 0";
    json_t *best = json_object_get(t, "best_val");
    if (!json_is_number(best) && !json_is_null(best))
        return "\"best_val\" must be a number or null";
    json_t *sk = json_object_get(s, "kind");
    if (!json_is_integer(sk) || json_integer_value(sk) < RECUR_SCHED_CONSTANT || json_integer_value(sk) > RECUR_SCHED_PLATEAU)
        return "schedule \"kind\" must be 0, 1 or 2";
    static const char *const reals[] = {"lr0", "decay", "threshold", "min_lr", "lr"};
    for (int i = 0; i < 5; i++)
        if (!json_is_number(json_object_get(s, reals[i])))
            return "schedule \"lr0\", \"decay\", \"threshold\", \"min_lr\" and \"lr\" must be numbers";
    static const char *const ints[] = {"start", "patience", "epoch", "bad_epochs"};
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(s, ints[i]);
        if (!json_is_integer(v) || json_integer_value(v) < -(1 << 30) || json_integer_value(v) > (1 << 30))
            return "schedule \"start\", \"patience\", \"epoch\" and \"bad_epochs\" must be integers";
    }
    best = json_object_get(s, "best");
    if (!json_is_number(best) && !json_is_null(best))
        return "schedule \"best\" must be a number or null";
    return NULL;
}

/* Scalars in the tensors a (checked) configuration implies, tied decoder
 * counted once; in double, exact far past any file size (every size is at
 * most 2^24, at most RECUR_MAX_LAYERS layers). */
static double model_numel(const recur_model_config *c)
{
    const recur_stack_config *s = &c->rnn;
    const double H = s->hidden_size, P = s->proj_size, R = P > 0 ? P : H, D = s->bidirectional ? 2 : 1;
    const double G = (s->cell == RECUR_CELL_LSTM ? 4 : s->cell == RECUR_CELL_GRU ? 3 : 1) * H;
    const double in0 = c->vocab_size > 0 ? c->embed_size : s->input_size;
    double n = c->vocab_size > 0 ? (double)c->vocab_size * c->embed_size : 0;
    for (int l = 0; l < s->num_layers; l++)
        n += D * (G * ((l ? D * R : in0) + R + 2) + P * H);
    if (c->output_size > 0)
        n += (double)c->output_size * (c->tied ? 1 : D * R + 1);
    return n;
}

static double config_numel(const recur_checkpoint *c)
{
    double n = model_numel(&c->cfg);
    for (int i = 0; i < c->n_parts; i++) {
        const model_part *p = &c->parts[i];
        if (p->is_model) {
            n += model_numel(&p->cfg);
        } else {
            double k = 1;
            for (int d = 0; d < p->ndim; d++)
                k *= (double)p->shape[d];
            n += k;
        }
    }
    return n;
}

static recur_status copy_tensor(const recur_checkpoint *c, const char *name, recur_real *dst, size_t n, char *msg)
{
    const st_tensor *f = st_find(&c->file, name);
#ifdef RECUR_DOUBLE
    return st_copy_to_double(f, dst, n, msg, RECUR_ERRMSG_LEN);
#else
    return st_copy_to_float(f, dst, n, msg, RECUR_ERRMSG_LEN);
#endif
}

recur_status recur_checkpoint_open(recur_checkpoint **out, const char *path, recur_error *err)
{
    *out = NULL;
    recur_checkpoint *c = calloc(1, sizeof *c);
    if (!c)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory opening %s", path);
    snprintf(c->path, sizeof c->path, "%s", path);
    char msg[RECUR_ERRMSG_LEN];
    recur_status st = st_read_file(path, &c->file, msg, sizeof msg);
    if (st) {
        free(c);
        return recur_error_set(err, st, "%s", msg);
    }
    const char *fmt = st_meta(&c->file, "recur.format");
    const char *cfg = st_meta(&c->file, "recur.config");
    char *end = NULL;
    long version = fmt ? strtol(fmt, &end, 10) : 0;
    if (!fmt || !cfg) {
        st = recur_seterr(msg, RECUR_ERR_FORMAT, "%s: not a recur model (no recur.format/recur.config metadata)", path);
    } else if (strspn(fmt, "0123456789") != strlen(fmt) || !*fmt || *end || version < 1) {
        st = recur_seterr(msg, RECUR_ERR_FORMAT, "%s: recur.format \"%s\" is not a positive integer", path, fmt);
    } else if (version > RECUR_FORMAT_VERSION) {
        st = recur_seterr(msg, RECUR_ERR_VERSION, "%s: format version %ld is newer than this recur's %d; upgrade recur",
                          path, version, RECUR_FORMAT_VERSION);
    } else {
        char inner[RECUR_ERRMSG_LEN];
        st = config_from_json(cfg, &c->cfg, c->parts, &c->n_parts, inner);
        if (st)
            recur_seterr(msg, st, "%s: %s", path, inner);
    }
    const char *train = st ? NULL : st_meta(&c->file, "recur.train");
    if (train) {
        json_error_t je;
        c->train = json_loads(train, 0, &je);
        const char *why = NULL;
        if (!json_is_object(c->train))
            st = recur_seterr(msg, RECUR_ERR_FORMAT, "%s: recur.train is not a JSON object", path);
        else if ((why = train_problem(c->train)))
            st = recur_seterr(msg, RECUR_ERR_FORMAT, "%s: recur.train: %s", path, why);
    }
    /* A configuration that needs more F32 data than the file holds is
     * refused before a model of its size is allocated and initialised: a
     * few hundred bytes of header must not cost gigabytes. */
    if (!st && 4 * config_numel(c) > (double)c->file.size)
        st = recur_seterr(msg, RECUR_ERR_MISMATCH,
                          "%s: the configuration needs %.0f parameters (%.0f bytes of F32), more than the file's %zu bytes",
                          path, config_numel(c), 4 * config_numel(c), c->file.size);
    /* every tensor expected by the configuration, and nothing else */
    recur_model *shape = NULL;
    if (!st) {
        recur_error e2;
        st = model_create_parts(&shape, &c->cfg, c->parts, c->n_parts, 0, &e2);
        if (st)
            recur_seterr(msg, st, "%s: %s", path, e2.msg);
    }
    int expected = 0;
    for (int i = 0; !st && i < shape->n_tensors; i++) {
        const tensor_entry *t = &shape->tensors[i];
        st = check_tensor(c, t->name, t, msg);
        expected++;
        char name[RECUR_MAX_NAME + 16];
        if (!st && c->train && !t->alias) {
            json_t *okind = json_object_get(json_object_get(c->train, "optimizer"), "kind");
            int kind = (int)json_integer_value(okind);
            double mom = json_number_value(json_object_get(json_object_get(c->train, "optimizer"), "momentum"));
            if (kind != RECUR_OPTIM_SGD || mom > 0) {
                snprintf(name, sizeof name, "optimizer.m.%s", t->name);
                st = check_tensor(c, name, t, msg);
                expected++;
            }
            if (!st && kind != RECUR_OPTIM_SGD) {
                snprintf(name, sizeof name, "optimizer.v.%s", t->name);
                st = check_tensor(c, name, t, msg);
                expected++;
            }
        }
    }
    if (!st && c->file.n_tensors != expected) {
        for (int i = 0; i < c->file.n_tensors; i++) {
            const char *n = c->file.tensors[i].name;
            int known = 0;
            for (int k = 0; k < shape->n_tensors && !known; k++) {
                const char *tn = shape->tensors[k].name;
                known = !strcmp(n, tn) ||
                        (c->train && !strncmp(n, "optimizer.", 10) && strlen(n) > 12 && !strcmp(n + 12, tn));
            }
            if (!known) {
                st = recur_seterr(msg, RECUR_ERR_MISMATCH, "%s: unexpected tensor '%s' for this configuration", path, n);
                break;
            }
        }
        if (!st)
            st = recur_seterr(msg, RECUR_ERR_MISMATCH, "%s: %d tensors, expected %d", path, c->file.n_tensors, expected);
    }
    if (!st && shape->cfg.tied) {
        const st_tensor *a = st_find(&c->file, "embedding.weight"), *b = st_find(&c->file, "decoder.weight");
        if (memcmp(a->data, b->data, a->nbytes) != 0)
            st = recur_seterr(msg, RECUR_ERR_MISMATCH, "%s: tied model, but decoder.weight differs from embedding.weight", path);
    }
    recur_model_free(shape);
    if (st) {
        recur_checkpoint_close(c);
        return recur_error_set(err, st, "%s", msg);
    }
    *out = c;
    return RECUR_OK;
}

static recur_status load_params(recur_checkpoint *c, recur_model *m, char *msg)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const tensor_entry *t = &m->tensors[i];
        if (t->alias)
            continue;
        recur_status st = copy_tensor(c, t->name, m->params + t->offset, t->numel, msg);
        if (st)
            return st;
    }
    return RECUR_OK;
}

recur_status recur_checkpoint_load_model(recur_checkpoint *c, recur_model **out, recur_error *err)
{
    *out = NULL;
    recur_model *m;
    recur_status st = model_create_parts(&m, &c->cfg, c->parts, c->n_parts, 0, err);
    if (st)
        return st;
    char msg[RECUR_ERRMSG_LEN];
    st = load_params(c, m, msg);
    if (st) {
        recur_model_free(m);
        return recur_error_set(err, st, "%s: %s", c->path, msg);
    }
    *out = m;
    return RECUR_OK;
}

static int same_config(const recur_model_config *a, const recur_model_config *b)
{
    return a->vocab_size == b->vocab_size && a->embed_size == b->embed_size && a->output_size == b->output_size &&
           a->tied == b->tied && a->dropout_embed == b->dropout_embed && a->dropout_output == b->dropout_output &&
           a->rnn.cell == b->rnn.cell && a->rnn.gru_form == b->rnn.gru_form && a->rnn.input_size == b->rnn.input_size &&
           a->rnn.hidden_size == b->rnn.hidden_size && a->rnn.proj_size == b->rnn.proj_size &&
           a->rnn.num_layers == b->rnn.num_layers && a->rnn.bidirectional == b->rnn.bidirectional &&
           a->rnn.residual == b->rnn.residual && a->rnn.dropout == b->rnn.dropout;
}

static double num_or_inf(json_t *v) { return json_is_number(v) ? json_number_value(v) : INFINITY; }

recur_status recur_checkpoint_load_train(recur_checkpoint *c, recur_model *m, recur_optim *o, recur_train_state *ts,
                                         recur_error *err)
{
    if (!c->train)
        return recur_error_set(err, RECUR_ERR_MISMATCH, "%s: a model file, not a training checkpoint", c->path);
    int same = same_config(&c->cfg, &m->cfg) && c->n_parts == m->n_parts;
    for (int i = 0; same && i < c->n_parts; i++) {
        const model_part *a = &c->parts[i], *b = &m->parts[i];
        same = !strcmp(a->name, b->name) && a->is_model == b->is_model &&
               (a->is_model ? same_config(&a->cfg, &b->cfg)
                            : a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof a->shape));
    }
    if (!same || o->model != m)
        return recur_error_set(err, RECUR_ERR_MISMATCH, "%s: the checkpoint's model configuration differs from this model's", c->path);
    json_t *jo = json_object_get(c->train, "optimizer"), *js = json_object_get(c->train, "schedule");
    json_t *rng = json_object_get(c->train, "rng");
    if (!json_is_object(jo) || !json_is_object(js) || !json_is_array(rng) || json_array_size(rng) != 4)
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s: recur.train lacks optimizer, schedule or rng", c->path);
    if (json_integer_value(json_object_get(jo, "kind")) != (json_int_t)o->cfg.kind ||
        json_number_value(json_object_get(jo, "momentum")) != o->cfg.momentum)
        return recur_error_set(err, RECUR_ERR_MISMATCH, "%s: the checkpoint's optimiser differs from this one", c->path);
    uint64_t state[4];
    for (int i = 0; i < 4; i++) {
        const char *h = json_string_value(json_array_get(rng, i));
        char *end = NULL;
        if (!h || strlen(h) != 16)
            return recur_error_set(err, RECUR_ERR_FORMAT, "%s: recur.train rng word %d is not 16 hex digits", c->path, i);
        state[i] = strtoull(h, &end, 16);
        if (*end)
            return recur_error_set(err, RECUR_ERR_FORMAT, "%s: recur.train rng word %d is not 16 hex digits", c->path, i);
    }
    char msg[RECUR_ERRMSG_LEN];
    recur_status st = load_params(c, m, msg);
    char name[RECUR_MAX_NAME + 16];
    for (int i = 0; !st && i < m->n_tensors; i++) {
        const tensor_entry *t = &m->tensors[i];
        if (t->alias)
            continue;
        if (o->m) {
            snprintf(name, sizeof name, "optimizer.m.%s", t->name);
            st = copy_tensor(c, name, o->m + t->offset, t->numel, msg);
        }
        if (!st && o->v) {
            snprintf(name, sizeof name, "optimizer.v.%s", t->name);
            st = copy_tensor(c, name, o->v + t->offset, t->numel, msg);
        }
    }
    if (st)
        return recur_error_set(err, st, "%s: %s", c->path, msg);
    memcpy(m->rng->s, state, sizeof state);
    o->steps = (int64_t)json_integer_value(json_object_get(jo, "steps"));
    memset(ts, 0, sizeof *ts);
    ts->step = (int64_t)json_integer_value(json_object_get(c->train, "step"));
    ts->epoch = (int64_t)json_integer_value(json_object_get(c->train, "epoch"));
    ts->position = (int64_t)json_integer_value(json_object_get(c->train, "position"));
    ts->best_val = num_or_inf(json_object_get(c->train, "best_val"));
    recur_schedule *s = &ts->schedule;
    s->kind = (recur_sched_kind)json_integer_value(json_object_get(js, "kind"));
    s->lr0 = json_number_value(json_object_get(js, "lr0"));
    s->decay = json_number_value(json_object_get(js, "decay"));
    s->threshold = json_number_value(json_object_get(js, "threshold"));
    s->min_lr = json_number_value(json_object_get(js, "min_lr"));
    s->start = (int)json_integer_value(json_object_get(js, "start"));
    s->patience = (int)json_integer_value(json_object_get(js, "patience"));
    s->epoch = (int)json_integer_value(json_object_get(js, "epoch"));
    s->lr = json_number_value(json_object_get(js, "lr"));
    s->best = num_or_inf(json_object_get(js, "best"));
    s->bad_epochs = (int)json_integer_value(json_object_get(js, "bad_epochs"));
    return RECUR_OK;
}
