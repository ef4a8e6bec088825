/*
 * lm_task.c - language-model training as a trainer task (recur_train.h),
 * as Zaremba et al. (2014) train: the training ids cut into B parallel
 * streams read in segments of bptt steps; each segment starts from the
 * previous one's final state (truncated BPTT), each epoch from zeros.  The
 * loss scale: with loss_scale_steps the gradient is that of the loss summed
 * over the segment's steps and averaged over the streams (Zaremba's scale);
 * otherwise the mean over both (PyTorch's word_language_model).
 *
 * Evaluation scores the validation ids by the convention of `recur lm eval`
 * (recur_lm_eval_ids), read as valid_streams pieces side by side.  The state
 * carried between segments is the task's resumption state: a run stopped
 * inside an epoch goes on bit for bit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/base64.h"
#include "base/internal.h"
#include "recur_train.h"

struct recur_lm_task {
    recur_model *m;
    const recur_vocab *vocab;
    recur_lm_task_config cfg;
    recur_lm_stream stream;
    const int32_t *valid;
    size_t n_valid;
    recur_run *run;
    recur_real *h, *c; /* carried state (L, B, R) and (L, B, H) */
    size_t hn, cn;
    int lstm;
};

void recur_lm_task_config_default(recur_lm_task_config *c)
{
    c->bptt = 20;
    c->batch = 20;
    c->loss_scale_steps = 1;
    c->valid_streams = 1;
}

recur_status recur_lm_task_create(recur_lm_task **out, recur_model *m, const recur_vocab *v,
                                  const int32_t *train, size_t n_train, const int32_t *valid,
                                  size_t n_valid, const recur_lm_task_config *cfg,
                                  recur_error *err)
{
    *out = NULL;
    const recur_model_config *mc = recur_model_get_config(m);
    if (cfg->bptt < 1 || cfg->batch < 1 || cfg->valid_streams < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "lm task: bptt, batch and valid_streams must be >= 1");
    if (mc->vocab_size != recur_vocab_size(v) || mc->output_size != mc->vocab_size ||
        mc->rnn.bidirectional)
        return recur_error_set(err, RECUR_ERR_MISMATCH,
                               "lm task: the model is not a unidirectional language model over "
                               "the vocabulary's %d tokens",
                               recur_vocab_size(v));
    recur_lm_task *t = calloc(1, sizeof *t);
    if (!t)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    t->m = m;
    t->vocab = v;
    t->cfg = *cfg;
    t->valid = valid;
    t->n_valid = n_valid;
    recur_status st = recur_lm_batchify(&t->stream, train, n_train, cfg->batch, err);
    if (st != RECUR_OK)
        goto fail;
    const int L = mc->rnn.num_layers, H = mc->rnn.hidden_size;
    const int R = mc->rnn.proj_size > 0 ? mc->rnn.proj_size : H;
    t->lstm = mc->rnn.cell == RECUR_CELL_LSTM;
    t->hn = (size_t)L * (size_t)cfg->batch * (size_t)R;
    t->cn = (size_t)L * (size_t)cfg->batch * (size_t)H;
    t->h = calloc(t->hn, sizeof *t->h);
    t->c = calloc(t->cn, sizeof *t->c);
    if (!t->h || !t->c) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = recur_run_create(&t->run, m, cfg->bptt, cfg->batch, err)) != RECUR_OK)
        goto fail;
    *out = t;
    return RECUR_OK;
fail:
    recur_lm_task_free(t);
    return st;
}

void recur_lm_task_free(recur_lm_task *t)
{
    if (!t)
        return;
    recur_run_free(t->run);
    recur_lm_stream_free(&t->stream);
    free(t->h);
    free(t->c);
    free(t);
}

int64_t recur_lm_task_segments(const recur_lm_task *t)
{
    return recur_lm_num_segments(&t->stream, t->cfg.bptt);
}

const recur_lm_stream *recur_lm_task_stream(const recur_lm_task *t) { return &t->stream; }

static int64_t lm_epoch_steps(void *ctx) { return recur_lm_task_segments(ctx); }

static recur_status lm_epoch_begin(void *ctx, int64_t epoch, int64_t first, char *msg)
{
    (void)epoch;
    (void)msg;
    recur_lm_task *t = ctx;
    if (first == 0) {
        memset(t->h, 0, t->hn * sizeof *t->h);
        memset(t->c, 0, t->cn * sizeof *t->c);
    }
    return RECUR_OK;
}

static recur_status lm_step(void *ctx, int64_t epoch, int64_t seg, double *loss_sum,
                            int64_t *count, char *msg)
{
    (void)epoch;
    recur_lm_task *t = ctx;
    const int32_t *in, *tg;
    int Tn = recur_lm_segment(&t->stream, seg * t->cfg.bptt, t->cfg.bptt, &in, &tg);
    recur_batch b = {0};
    b.T = Tn;
    b.B = t->cfg.batch;
    b.tokens = in;
    b.targets = tg;
    b.h0 = seg == 0 ? NULL : t->h;
    b.c0 = seg == 0 || !t->lstm ? NULL : t->c;
    double loss;
    int64_t n;
    recur_status st = recur_forward(t->run, &b, 1, &loss, &n);
    if (st == RECUR_ERR_NONFINITE)
        return recur_seterr(msg, st, "the loss is not finite (%g)", loss);
    if (st != RECUR_OK)
        return recur_seterr(msg, st, "%s", recur_run_errmsg(t->run));
    memcpy(t->h, recur_run_hn(t->run), t->hn * sizeof *t->h);
    if (t->lstm)
        memcpy(t->c, recur_run_cn(t->run), t->cn * sizeof *t->c);
    double scale = t->cfg.loss_scale_steps ? (double)Tn : 1.0;
    if ((st = recur_backward(t->run, scale, NULL, NULL, NULL)) != RECUR_OK)
        return recur_seterr(msg, st, "%s", recur_run_errmsg(t->run));
    *loss_sum = loss * (double)n;
    *count = n;
    return RECUR_OK;
}

static recur_status lm_evaluate(void *ctx, recur_eval *ev, char *msg)
{
    recur_lm_task *t = ctx;
    recur_error err = {0};
    double nll;
    int64_t count;
    recur_status st = recur_lm_eval_ids(t->m, t->vocab, t->valid, t->n_valid,
                                        t->cfg.valid_streams, &nll, &count, &err);
    if (st != RECUR_OK)
        return recur_seterr(msg, st, "%s", err.msg);
    double loss = nll / (double)count;
    ev->decisive = recur_eval_add(ev, "loss", loss);
    ev->higher_better = 0;
    recur_eval_add(ev, "ppl", exp(loss));
    return RECUR_OK;
}

static recur_status lm_save_state(void *ctx, char **json, char *msg)
{
    recur_lm_task *t = ctx;
    char *hb = base64_encode(t->h, t->hn * sizeof *t->h);
    char *cb = t->lstm ? base64_encode(t->c, t->cn * sizeof *t->c) : NULL;
    json_t *j = hb && (cb || !t->lstm) ? json_pack("{s:s,s:s?}", "h", hb, "c", cb) : NULL;
    *json = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    free(hb);
    free(cb);
    return *json ? RECUR_OK : recur_seterr(msg, RECUR_ERR_NOMEM, "out of memory");
}

static recur_status lm_load_state(void *ctx, const char *json, char *msg)
{
    recur_lm_task *t = ctx;
    json_error_t je;
    json_t *j = json_loads(json, 0, &je);
    const char *hb = json_string_value(json_object_get(j, "h"));
    const char *cb = json_string_value(json_object_get(j, "c"));
    int bad = !hb || base64_decode(hb, t->h, t->hn * sizeof *t->h) ||
              (t->lstm && (!cb || base64_decode(cb, t->c, t->cn * sizeof *t->c)));
    json_decref(j);
    if (bad)
        return recur_seterr(msg, RECUR_ERR_FORMAT,
                            "the carried state is missing or does not fit the run");
    return RECUR_OK;
}

static void lm_format_epoch(void *ctx, double train_loss, const recur_eval *ev, char *buf,
                            size_t n)
{
    recur_lm_task *t = ctx;
    double v = ev->m[0].value;
    int k = 0;
    if (recur_vocab_level(t->vocab) == RECUR_LEVEL_CHAR) {
        if (!isnan(train_loss))
            k = snprintf(buf, n, "train %.4f nats/char | ", train_loss);
        snprintf(buf + k, n - (size_t)k, "valid %.4f nats/char, %.4f bits/char, ppl %.3f", v,
                 v / log(2.0), exp(v));
    } else {
        if (!isnan(train_loss))
            k = snprintf(buf, n, "train ppl %.2f | ", exp(train_loss));
        snprintf(buf + k, n - (size_t)k, "valid ppl %.2f (%.4f nats/token)", exp(v), v);
    }
}

recur_task recur_lm_task_callbacks(recur_lm_task *t)
{
    recur_task k;
    memset(&k, 0, sizeof k);
    k.ctx = t;
    k.unit = "token";
    k.loss_is_nll = 1;
    k.epoch_steps = lm_epoch_steps;
    k.epoch_begin = lm_epoch_begin;
    k.step = lm_step;
    k.evaluate = lm_evaluate;
    k.save_state = lm_save_state;
    k.load_state = lm_load_state;
    k.format_epoch = lm_format_epoch;
    k.extra_config = recur_lm_extra_config(recur_vocab_level(t->vocab));
    return k;
}
