/*
 * s2s_model.c - the encoder-decoder as one composite model, and its file.
 *
 * The first model is the decoder stack: with input feeding it reads float
 * vectors [target embedding; last attentional vector], so its embedding is
 * the tensor part target_embedding.weight; without, it is an ordinary
 * embedding model (embedding.weight).  The encoder is the sub-model
 * "encoder" (encoder.embedding.weight, encoder.rnn.*).  The bridge,
 * attention, combination and output layers are tensor parts named as the
 * nn.Linear modules of docs/seq2seq.md.  recur.config carries the settings
 * ("task":"seq2seq" and the object "seq2seq": levels, attention, ...);
 * __metadata__ the two
 * vocabularies as JSON arrays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tasks/seq2seq/s2s_internal.h"

void recur_s2s_config_default(recur_s2s_config *c)
{
    memset(c, 0, sizeof *c);
    c->source_level = RECUR_LEVEL_CHAR;
    c->target_level = RECUR_LEVEL_WORD;
    c->cell = RECUR_CELL_LSTM;
    c->source_embed = 128;
    c->target_embed = 128;
    c->encoder_layers = 1;
    c->encoder_hidden = 256;
    c->bidirectional = 1;
    c->decoder_layers = 1;
    c->decoder_hidden = 256;
    c->attention = "general";
    c->attention_size = 0;
    c->input_feeding = 0;
    c->bridge = "auto";
    c->dropout = 0.2f;
    c->init_scale = 0.1;
}

static int att_kind(const char *a)
{
    static const char *const names[] = {"none", "dot", "general", "additive"};
    for (int i = 0; i < 4; i++)
        if (a && !strcmp(a, names[i]))
            return i;
    return -1;
}

static const char *cell_name(recur_cell c)
{
    return c == RECUR_CELL_LSTM ? "lstm" : c == RECUR_CELL_GRU ? "gru"
                                       : c == RECUR_CELL_RNN_RELU ? "rnn-relu" : "rnn-tanh";
}

static int cell_parse(const char *s)
{
    static const char *const names[] = {"rnn-tanh", "rnn-relu", "lstm", "gru"};
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, names[i]))
            return i;
    return -1;
}

/* Resolves the settings into sizes; a message for contradictory ones. */
static recur_status resolve(recur_s2s *s, recur_error *err)
{
    const recur_s2s_config *c = &s->cfg;
    if (c->encoder_layers < 1 || c->decoder_layers < 1 || c->encoder_hidden < 1 ||
        c->decoder_hidden < 1 || c->source_embed < 1 || c->target_embed < 1 ||
        c->attention_size < 0)
        return recur_error_set(err, RECUR_ERR_ARG, "seq2seq: sizes and layers must be >= 1");
    if (!(c->dropout >= 0 && c->dropout < 1))
        return recur_error_set(err, RECUR_ERR_ARG, "seq2seq: dropout %g outside [0, 1)",
                               (double)c->dropout);
    s->att = att_kind(c->attention);
    if (s->att < 0)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "seq2seq: attention '%s' is not none, dot, general or additive",
                               c->attention ? c->attention : "(null)");
    s->lstm = c->cell == RECUR_CELL_LSTM;
    s->Le = c->encoder_layers;
    s->De = c->bidirectional ? 2 : 1;
    s->He = c->encoder_hidden;
    s->Ws = s->De * s->He;
    s->Ld = c->decoder_layers;
    s->Hd = c->decoder_hidden;
    s->E = c->target_embed;
    s->A = c->attention_size > 0 ? c->attention_size : s->Hd;
    s->feed = c->input_feeding;
    if (s->feed && s->att == S2S_ATT_NONE)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "seq2seq: input feeding needs attention (the fed vector is the "
                               "attentional one)");
    if (s->att == S2S_ATT_DOT && s->Ws != s->Hd)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "seq2seq: dot attention needs the encoder's output width %d "
                               "(directions x hidden) equal to the decoder's hidden size %d "
                               "(use general)",
                               s->Ws, s->Hd);
    const char *b = c->bridge ? c->bridge : "auto";
    if (!strcmp(b, "auto"))
        s->bridge = s->De == 1 && s->He == s->Hd ? S2S_BRIDGE_COPY : S2S_BRIDGE_LINEAR;
    else if (!strcmp(b, "linear"))
        s->bridge = S2S_BRIDGE_LINEAR;
    else if (!strcmp(b, "copy")) {
        if (s->De != 1 || s->He != s->Hd)
            return recur_error_set(err, RECUR_ERR_ARG,
                                   "seq2seq: bridge copy needs a unidirectional encoder with "
                                   "the decoder's hidden size");
        s->bridge = S2S_BRIDGE_COPY;
    } else if (!strcmp(b, "zero"))
        s->bridge = S2S_BRIDGE_ZERO;
    else
        return recur_error_set(err, RECUR_ERR_ARG,
                               "seq2seq: bridge '%s' is not auto, linear, copy or zero", b);
    return RECUR_OK;
}

static const char *bridge_name(int b)
{
    return b == S2S_BRIDGE_COPY ? "copy" : b == S2S_BRIDGE_LINEAR ? "linear" : "zero";
}

/* The model configurations and parts of s's settings (after resolve). */
static int model_layout(const recur_s2s *s, recur_model_config *dec, recur_model_config *enc,
                        recur_part *parts)
{
    const recur_s2s_config *c = &s->cfg;
    recur_model_config_default(enc);
    enc->vocab_size = s->src->n;
    enc->embed_size = c->source_embed;
    enc->rnn.cell = c->cell;
    enc->rnn.hidden_size = s->He;
    enc->rnn.num_layers = s->Le;
    enc->rnn.bidirectional = c->bidirectional;
    enc->rnn.dropout = c->dropout;
    enc->dropout_embed = c->dropout;
    recur_model_config_default(dec);
    dec->rnn.cell = c->cell;
    dec->rnn.hidden_size = s->Hd;
    dec->rnn.num_layers = s->Ld;
    dec->rnn.dropout = c->dropout;
    if (s->feed) {
        dec->vocab_size = 0;
        dec->rnn.input_size = s->E + s->Hd;
    } else {
        dec->vocab_size = s->tgt->n;
        dec->embed_size = s->E;
        dec->dropout_embed = c->dropout;
    }
    const double u = s->cfg.init_scale;
    int n = 0;
    parts[n++] = (recur_part){.name = "encoder", .model = enc};
    if (s->feed)
        parts[n++] = (recur_part){.name = "target_embedding.weight", .ndim = 2, .shape = {s->tgt->n, s->E}, .init = u};
    if (s->bridge == S2S_BRIDGE_LINEAR) {
        parts[n++] = (recur_part){.name = "bridge.weight", .ndim = 2, .shape = {s->Hd, s->Ws}, .init = u};
        parts[n++] = (recur_part){.name = "bridge.bias", .ndim = 1, .shape = {s->Hd}, .init = u};
        if (s->lstm) {
            parts[n++] = (recur_part){.name = "bridge_c.weight", .ndim = 2, .shape = {s->Hd, s->Ws}, .init = u};
            parts[n++] = (recur_part){.name = "bridge_c.bias", .ndim = 1, .shape = {s->Hd}, .init = u};
        }
    }
    if (s->att == S2S_ATT_GENERAL)
        parts[n++] = (recur_part){.name = "attention.weight", .ndim = 2, .shape = {s->Hd, s->Ws}, .init = u};
    if (s->att == S2S_ATT_ADDITIVE) {
        parts[n++] = (recur_part){.name = "attention.query.weight", .ndim = 2, .shape = {s->A, s->Hd}, .init = u};
        parts[n++] = (recur_part){.name = "attention.key.weight", .ndim = 2, .shape = {s->A, s->Ws}, .init = u};
        parts[n++] = (recur_part){.name = "attention.key.bias", .ndim = 1, .shape = {s->A}, .init = u};
        parts[n++] = (recur_part){.name = "attention.v.weight", .ndim = 2, .shape = {1, s->A}, .init = u};
    }
    if (s->att != S2S_ATT_NONE)
        parts[n++] = (recur_part){.name = "attention_combine.weight", .ndim = 2, .shape = {s->Hd, s->Ws + s->Hd}, .init = u};
    parts[n++] = (recur_part){.name = "out.weight", .ndim = 2, .shape = {s->tgt->n, s->Hd}, .init = u};
    parts[n++] = (recur_part){.name = "out.bias", .ndim = 1, .shape = {s->tgt->n}, .init = u};
    return n;
}

/* Points t at a tensor part, checking its shape. */
static recur_status bind_one(recur_s2s *s, s2s_tensor *t, const char *name, int64_t d0,
                             int64_t d1, recur_error *err)
{
    recur_tensor_info info;
    if (recur_model_find_tensor(s->m, name, &info) != RECUR_OK)
        return recur_error_set(err, RECUR_ERR_MISMATCH, "the model has no tensor %s", name);
    int64_t numel = d1 > 0 ? d0 * d1 : d0;
    if (info.shape[0] != d0 || (int64_t)info.numel != numel)
        return recur_error_set(err, RECUR_ERR_MISMATCH,
                               "tensor %s has %lld values, the settings say %lld", name,
                               (long long)info.numel, (long long)numel);
    t->w = info.data;
    t->g = info.grad;
    return RECUR_OK;
}

static recur_status bind(recur_s2s *s, recur_error *err)
{
    s->enc = recur_model_submodel(s->m, "encoder");
    if (!s->enc)
        return recur_error_set(err, RECUR_ERR_MISMATCH, "the model has no encoder");
    const recur_model_config *ec = recur_model_get_config(s->enc);
    const recur_model_config *dc = recur_model_get_config(s->m);
    if (ec->vocab_size != s->src->n || ec->rnn.hidden_size != s->He ||
        ec->rnn.num_layers != s->Le || ec->rnn.bidirectional != (s->De == 2) ||
        ec->rnn.cell != s->cfg.cell || ec->rnn.proj_size != 0 || ec->output_size != 0)
        return recur_error_set(err, RECUR_ERR_MISMATCH,
                               "the encoder does not fit the settings or the source vocabulary");
    if (dc->rnn.hidden_size != s->Hd || dc->rnn.num_layers != s->Ld || dc->rnn.bidirectional ||
        dc->rnn.cell != s->cfg.cell || dc->rnn.proj_size != 0 || dc->output_size != 0 ||
        (s->feed ? dc->vocab_size != 0 || dc->rnn.input_size != s->E + s->Hd
                 : dc->vocab_size != s->tgt->n || dc->embed_size != s->E))
        return recur_error_set(err, RECUR_ERR_MISMATCH,
                               "the decoder does not fit the settings or the target vocabulary");
    recur_status st = RECUR_OK;
    const int64_t V = s->tgt->n;
    if (s->feed)
        st = bind_one(s, &s->emb_t, "target_embedding.weight", V, s->E, err);
    if (!st && s->bridge == S2S_BRIDGE_LINEAR) {
        st = bind_one(s, &s->bridge_w, "bridge.weight", s->Hd, s->Ws, err);
        if (!st)
            st = bind_one(s, &s->bridge_b, "bridge.bias", s->Hd, 0, err);
        if (!st && s->lstm)
            st = bind_one(s, &s->bridge_cw, "bridge_c.weight", s->Hd, s->Ws, err);
        if (!st && s->lstm)
            st = bind_one(s, &s->bridge_cb, "bridge_c.bias", s->Hd, 0, err);
    }
    if (!st && s->att == S2S_ATT_GENERAL)
        st = bind_one(s, &s->att_w, "attention.weight", s->Hd, s->Ws, err);
    if (!st && s->att == S2S_ATT_ADDITIVE) {
        st = bind_one(s, &s->att_q, "attention.query.weight", s->A, s->Hd, err);
        if (!st)
            st = bind_one(s, &s->att_k, "attention.key.weight", s->A, s->Ws, err);
        if (!st)
            st = bind_one(s, &s->att_kb, "attention.key.bias", s->A, 0, err);
        if (!st)
            st = bind_one(s, &s->att_v, "attention.v.weight", 1, s->A, err);
    }
    if (!st && s->att != S2S_ATT_NONE)
        st = bind_one(s, &s->comb_w, "attention_combine.weight", s->Hd, s->Ws + s->Hd, err);
    if (!st)
        st = bind_one(s, &s->out_w, "out.weight", V, s->Hd, err);
    if (!st)
        st = bind_one(s, &s->out_b, "out.bias", V, 0, err);
    return st;
}

static char *vocab_json(const recur_s2s_vocab *v)
{
    json_t *a = json_array();
    for (int32_t i = 0; i < v->n; i++)
        json_array_append_new(a, json_string(v->tok[i]));
    char *t = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return t;
}

/* The file's entries: recur.config settings and the vocabularies. */
static recur_status describe(recur_s2s *s, recur_error *err)
{
    const recur_s2s_config *c = &s->cfg;
    json_t *j = json_pack("{s:s,s:{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:b,s:i,s:i,s:s,s:i,s:b,s:s,s:f}}",
                          "task", "seq2seq", "seq2seq", "source_level", recur_lm_level_name(c->source_level),
                          "target_level", recur_lm_level_name(c->target_level), "cell",
                          cell_name(c->cell), "source_embed", c->source_embed, "target_embed",
                          c->target_embed, "encoder_layers", c->encoder_layers, "encoder_hidden",
                          c->encoder_hidden, "bidirectional", c->bidirectional, "decoder_layers",
                          c->decoder_layers, "decoder_hidden", c->decoder_hidden, "attention",
                          c->attention, "attention_size", s->A, "input_feeding",
                          c->input_feeding, "bridge", bridge_name(s->bridge), "dropout",
                          (double)c->dropout);
    s->extra_config = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    s->src_json = vocab_json(s->src);
    s->tgt_json = vocab_json(s->tgt);
    if (!s->extra_config || !s->src_json || !s->tgt_json)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    s->meta[0] = (recur_meta_entry){"recur.seq2seq.source_vocab", s->src_json};
    s->meta[1] = (recur_meta_entry){"recur.seq2seq.target_vocab", s->tgt_json};
    return RECUR_OK;
}

void recur_s2s_free(recur_s2s *s)
{
    if (!s)
        return;
    if (s->file)
        recur_model_file_close(s->file);
    else
        recur_model_free(s->m);
    recur_s2s_vocab_free(s->src);
    recur_s2s_vocab_free(s->tgt);
    free(s->extra_config);
    free(s->src_json);
    free(s->tgt_json);
    free(s);
}

typedef struct vocab_fill {
    recur_s2s_vocab *v;
    int fail;
} vocab_fill;

static int fill_token(void *ctx, const char *tok, size_t len)
{
    vocab_fill *f = ctx;
    if (s2s_vocab_add(f->v, tok, len) < 0)
        return f->fail = 1;
    return 0;
}

recur_status recur_s2s_create(recur_s2s **out, const recur_s2s_config *cfg,
                              const recur_s2s_pairs *train, uint64_t seed, recur_error *err)
{
    *out = NULL;
    recur_s2s *s = calloc(1, sizeof *s);
    if (!s)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    s->cfg = *cfg;
    recur_status st = resolve(s, err);
    if (st)
        goto fail;
    if (s2s_vocab_new(&s->src, cfg->source_level, 0) || s2s_vocab_new(&s->tgt, cfg->target_level, 1)) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    vocab_fill fs = {s->src, 0}, ft = {s->tgt, 0};
    for (size_t i = 0; i < recur_s2s_pairs_sources(train); i++) {
        const char *x = recur_s2s_pairs_source(train, i);
        s2s_tokenize(cfg->source_level, x, strlen(x), fill_token, &fs);
        for (int k = 0; k < recur_s2s_pairs_num_targets(train, i); k++) {
            const char *y = recur_s2s_pairs_target(train, i, k);
            s2s_tokenize(cfg->target_level, y, strlen(y), fill_token, &ft);
        }
    }
    if (fs.fail || ft.fail) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    s->V = s->tgt->n;
    recur_model_config dec, enc;
    recur_part parts[16];
    int n = model_layout(s, &dec, &enc, parts);
    if ((st = recur_model_create_composite(&s->m, &dec, parts, n, seed, err)) != RECUR_OK)
        goto fail;
    if ((st = recur_model_init_uniform(s->m, cfg->init_scale)) != RECUR_OK) {
        st = recur_error_set(err, st, "%s", recur_model_errmsg(s->m));
        goto fail;
    }
    if ((st = bind(s, err)) || (st = describe(s, err)))
        goto fail;
    s->cfg.bridge = bridge_name(s->bridge);
    *out = s;
    return RECUR_OK;
fail:
    recur_s2s_free(s);
    return st;
}

/* ---- reading a file's settings and vocabularies ---- */

static recur_status vocab_from_json(recur_s2s_vocab **out, recur_lm_level level, int target,
                                    const char *text, const char *what, recur_error *err)
{
    json_error_t je;
    json_t *a = text ? json_loads(text, 0, &je) : NULL;
    recur_status st = RECUR_OK;
    if (!json_is_array(a) || json_array_size(a) < (target ? 3u : 1u)) {
        st = recur_error_set(err, RECUR_ERR_FORMAT, "the %s vocabulary is missing or not a JSON array", what);
        goto done;
    }
    recur_s2s_vocab *v;
    if (s2s_vocab_new(&v, level, target)) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto done;
    }
    *out = v;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *t = json_string_value(json_array_get(a, i));
        if (!t || !*t) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "the %s vocabulary's entry %zu is not a non-empty string", what, i);
            goto done;
        }
        if ((int32_t)i < v->n) { /* the specials, in their places */
            if (strcmp(t, v->tok[i])) {
                st = recur_error_set(err, RECUR_ERR_FORMAT, "the %s vocabulary's entry %zu is '%s', not '%s'", what, i, t, v->tok[i]);
                goto done;
            }
            continue;
        }
        if (recur_s2s_vocab_find(v, t, strlen(t)) >= 0) {
            st = recur_error_set(err, RECUR_ERR_FORMAT, "the %s vocabulary holds '%s' twice", what, t);
            goto done;
        }
        if (s2s_vocab_add(v, t, strlen(t)) < 0) {
            st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
done:
    json_decref(a);
    return st;
}

/* Settings from recur.config: every entry must be there and of its kind. */
static recur_status settings_from_json(recur_s2s *s, json_t *j, recur_error *err)
{
    recur_s2s_config *c = &s->cfg;
    recur_s2s_config_default(c);
    const char *sl = json_string_value(json_object_get(j, "source_level"));
    const char *tl = json_string_value(json_object_get(j, "target_level"));
    const char *cell = json_string_value(json_object_get(j, "cell"));
    const char *a = json_string_value(json_object_get(j, "attention"));
    const char *b = json_string_value(json_object_get(j, "bridge"));
    const char *ints[] = {"source_embed", "target_embed", "encoder_layers", "encoder_hidden",
                          "decoder_layers", "decoder_hidden", "attention_size"};
    int *dst[] = {&c->source_embed, &c->target_embed, &c->encoder_layers, &c->encoder_hidden,
                  &c->decoder_layers, &c->decoder_hidden, &c->attention_size};
    for (int i = 0; i < 7; i++) {
        json_t *v = json_object_get(j, ints[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (1 << 24))
            return recur_error_set(err, RECUR_ERR_FORMAT, "recur.config: %s is missing or not a size", ints[i]);
        *dst[i] = (int)json_integer_value(v);
    }
    json_t *bi = json_object_get(j, "bidirectional"), *fd = json_object_get(j, "input_feeding");
    if (recur_lm_level_parse(sl) < 0 || recur_lm_level_parse(tl) < 0 || cell_parse(cell) < 0 ||
        !a || !b || !json_is_boolean(bi) ||
        !json_is_boolean(fd))
        return recur_error_set(err, RECUR_ERR_FORMAT,
                               "recur.config: the seq2seq settings (levels, cell, attention, "
                               "bridge, bidirectional, input_feeding) are missing or malformed");
    c->source_level = (recur_lm_level)recur_lm_level_parse(sl);
    c->target_level = (recur_lm_level)recur_lm_level_parse(tl);
    c->cell = (recur_cell)cell_parse(cell);
    c->bidirectional = json_is_true(bi);
    c->input_feeding = json_is_true(fd);
    c->attention = att_kind(a) >= 0 ? (const char *[]){"none", "dot", "general", "additive"}[att_kind(a)] : a;
    c->bridge = !strcmp(b, "copy") ? "copy" : !strcmp(b, "linear") ? "linear" : !strcmp(b, "zero") ? "zero" : "?";
    json_t *dr = json_object_get(j, "dropout");
    c->dropout = json_is_number(dr) ? (float)json_number_value(dr) : 0;
    return resolve(s, err);
}

static recur_status from_parts(recur_s2s *s, recur_checkpoint *ck, recur_error *err)
{
    json_error_t je;
    const char *text = recur_checkpoint_meta(ck, "recur.config");
    json_t *j = text ? json_loads(text, 0, &je) : NULL;
    const char *task = json_string_value(json_object_get(j, "task"));
    recur_status st;
    if (!task || strcmp(task, "seq2seq")) {
        st = recur_error_set(err, RECUR_ERR_MISMATCH, "a model for task '%s', not seq2seq",
                             task ? task : "(none)");
        json_decref(j);
        return st;
    }
    st = settings_from_json(s, json_object_get(j, "seq2seq"), err);
    json_decref(j);
    if (!st)
        st = vocab_from_json(&s->src, s->cfg.source_level, 0,
                             recur_checkpoint_meta(ck, "recur.seq2seq.source_vocab"), "source", err);
    if (!st)
        st = vocab_from_json(&s->tgt, s->cfg.target_level, 1,
                             recur_checkpoint_meta(ck, "recur.seq2seq.target_vocab"), "target", err);
    if (!st) {
        s->V = s->tgt->n;
        st = bind(s, err);
    }
    if (!st)
        st = describe(s, err);
    return st;
}

recur_status recur_s2s_open(recur_s2s **out, const char *path, recur_error *err)
{
    *out = NULL;
    recur_s2s *s = calloc(1, sizeof *s);
    if (!s)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    recur_status st = recur_model_file_open(&s->file, path, "seq2seq", err);
    if (!st) {
        s->m = recur_model_file_model(s->file);
        st = from_parts(s, recur_model_file_checkpoint(s->file), err);
        if (st) {
            char copy[sizeof err->msg];
            snprintf(copy, sizeof copy, "%s", err->msg);
            recur_error_set(err, st, "%s: %s", path, copy);
        }
    }
    if (st) {
        recur_s2s_free(s);
        return st;
    }
    *out = s;
    return RECUR_OK;
}

recur_status recur_s2s_from_checkpoint(recur_s2s **out, recur_checkpoint *ck, recur_error *err)
{
    *out = NULL;
    recur_s2s *s = calloc(1, sizeof *s);
    if (!s)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    recur_status st = recur_checkpoint_load_model(ck, &s->m, err);
    if (!st)
        st = from_parts(s, ck, err);
    if (st) {
        recur_s2s_free(s);
        return st;
    }
    *out = s;
    return RECUR_OK;
}

const char *recur_s2s_errmsg(const recur_s2s *s) { return s->errmsg; }
recur_model *recur_s2s_model(recur_s2s *s) { return s->m; }
const recur_s2s_config *recur_s2s_get_config(const recur_s2s *s) { return &s->cfg; }
const recur_s2s_vocab *recur_s2s_source_vocab(const recur_s2s *s) { return s->src; }
const recur_s2s_vocab *recur_s2s_target_vocab(const recur_s2s *s) { return s->tgt; }
const char *recur_s2s_extra_config(const recur_s2s *s) { return s->extra_config; }
const recur_meta_entry *recur_s2s_meta(const recur_s2s *s, int *n)
{
    *n = 2;
    return s->meta;
}

/* ---- text and ids ---- */

typedef struct encode_ctx {
    const recur_s2s_vocab *v;
    int32_t *ids;
    int n, cap, unk, fail;
} encode_ctx;

static int encode_token(void *ctx, const char *tok, size_t len)
{
    encode_ctx *e = ctx;
    if (e->n == e->cap) {
        int cap = e->cap ? e->cap * 2 : 32;
        int32_t *n = realloc(e->ids, (size_t)cap * sizeof *n);
        if (!n)
            return e->fail = 1;
        e->ids = n;
        e->cap = cap;
    }
    int32_t id = recur_s2s_vocab_find(e->v, tok, len);
    if (id < 0) {
        id = S2S_SRC_UNK;
        e->unk++;
    }
    e->ids[e->n++] = id;
    return 0;
}

recur_status recur_s2s_encode_source(const recur_s2s *s, const char *text, size_t len,
                                     int32_t **ids, int *n, int *n_unk, recur_error *err)
{
    *ids = NULL;
    *n = 0;
    if (!recur_utf8_valid(text, len, NULL))
        return recur_error_set(err, RECUR_ERR_ARG, "the source is not valid UTF-8");
    encode_ctx e = {s->src, NULL, 0, 0, 0, 0};
    s2s_tokenize(s->cfg.source_level, text, len, encode_token, &e);
    if (e.fail) {
        free(e.ids);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    *ids = e.ids;
    *n = e.n;
    if (n_unk)
        *n_unk = e.unk;
    return RECUR_OK;
}

char *recur_s2s_target_text(const recur_s2s *s, const int32_t *ids, int n)
{
    size_t len = 1;
    const char *sep = s->cfg.target_level == RECUR_LEVEL_WORD ? " " : "";
    for (int i = 0; i < n; i++) {
        const char *t = recur_s2s_vocab_token(s->tgt, ids[i]);
        len += (t ? strlen(t) : 0) + 1;
    }
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    *p = 0;
    for (int i = 0; i < n; i++) {
        const char *t = recur_s2s_vocab_token(s->tgt, ids[i]);
        if (!t)
            continue;
        if (i > 0)
            p += sprintf(p, "%s", sep);
        p += sprintf(p, "%s", t);
    }
    return out;
}
