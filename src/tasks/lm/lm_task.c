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
 *
 * On several ranks (recur_train.h) rank r reads streams [first, first + B_r)
 * of the B: the data order of one process with the same global batch.  Its
 * gradient is scaled by B_r / B, so the ranks' gradients sum to the one
 * process's; dropout is drawn by each stream's place in the global batch
 * (recur_run_set_batch_share).  Validation splits its valid_streams pieces
 * over the ranks (with one piece, the default, rank 0 scores it and the
 * others wait) and sums the log-likelihoods.  The carried state in the
 * checkpoint is that of all B streams, gathered from the ranks.
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
    recur_lm_stream stream; /* all B streams */
    recur_lm_stream share;  /* this rank's streams [first, first + share.B) */
    int first, ranks;
    const int32_t *valid;
    size_t n_valid;
    int32_t *eval_ids;      /* what recur_lm_eval_ids scores: <eos> + valid for words */
    size_t n_eval;
    recur_run *run;
    recur_real *h, *c; /* carried state (L, B_r, R) and (L, B_r, H) of this rank's streams */
    size_t hn, cn;
    int L, R, H;
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
    recur_status st = recur_parallel_init(err);
    if (st != RECUR_OK)
        goto fail;
    t->ranks = recur_parallel_size();
    if (cfg->batch < t->ranks) {
        st = recur_error_set(err, RECUR_ERR_ARG,
                             "lm task: %d streams cannot be shared by %d ranks: --batch must be "
                             "at least the number of ranks",
                             cfg->batch, t->ranks);
        goto fail;
    }
    if ((st = recur_lm_batchify(&t->stream, train, n_train, cfg->batch, err)) != RECUR_OK)
        goto fail;
    int64_t first, share;
    recur_parallel_share(cfg->batch, &first, &share);
    t->first = (int)first;
    t->share.B = (int)share;
    t->share.steps = t->stream.steps;
    t->share.data = malloc((size_t)t->share.steps * (size_t)share * sizeof *t->share.data);
    /* what recur_lm_eval_ids scores: a word model's first context is <eos> */
    int words = recur_vocab_level(v) != RECUR_LEVEL_CHAR;
    t->n_eval = n_valid + (size_t)words;
    t->eval_ids = malloc((t->n_eval ? t->n_eval : 1) * sizeof *t->eval_ids);
    if (!t->share.data || !t->eval_ids) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int64_t s = 0; s < t->share.steps; s++)
        memcpy(t->share.data + s * share, t->stream.data + s * cfg->batch + first,
               (size_t)share * sizeof *t->share.data);
    if (words)
        t->eval_ids[0] = recur_vocab_eos(v);
    if (n_valid)
        memcpy(t->eval_ids + words, valid, n_valid * sizeof *valid);
    const int L = mc->rnn.num_layers, H = mc->rnn.hidden_size;
    const int R = mc->rnn.proj_size > 0 ? mc->rnn.proj_size : H;
    t->L = L;
    t->R = R;
    t->H = H;
    t->lstm = mc->rnn.cell == RECUR_CELL_LSTM;
    t->hn = (size_t)L * (size_t)share * (size_t)R;
    t->cn = (size_t)L * (size_t)share * (size_t)H;
    t->h = calloc(t->hn, sizeof *t->h);
    t->c = calloc(t->cn, sizeof *t->c);
    if (!t->h || !t->c) {
        st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = recur_run_create(&t->run, m, cfg->bptt, t->share.B, err)) != RECUR_OK)
        goto fail;
    if (t->ranks > 1 && recur_run_set_batch_share(t->run, t->first, cfg->batch) != RECUR_OK) {
        st = recur_error_set(err, RECUR_ERR_ARG, "%s", recur_run_errmsg(t->run));
        goto fail;
    }
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
    free(t->share.data);
    free(t->eval_ids);
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
    int Tn = recur_lm_segment(&t->share, seg * t->cfg.bptt, t->cfg.bptt, &in, &tg);
    recur_batch b = {0};
    b.T = Tn;
    b.B = t->share.B;
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
    /* this rank's part of the global batch's mean: n of its Tn B targets
     * (exactly 1 on one rank) */
    double scale = (t->cfg.loss_scale_steps ? (double)Tn : 1.0) *
                   ((double)n / ((double)Tn * (double)t->cfg.batch));
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
    /* the pieces of recur_lm_score_streams, this rank's share of them: a
     * run of whole pieces is scored as recur_lm_score_streams scores them */
    size_t S = (size_t)t->cfg.valid_streams;
    if (S > t->n_eval / 2)
        S = t->n_eval / 2;
    if (S < 1)
        S = 1;
    size_t len = t->n_eval / S, rem = t->n_eval % S;
    int64_t p0, pc;
    recur_parallel_share((int64_t)S, &p0, &pc);
    size_t lo = (size_t)p0 * len + ((size_t)p0 < rem ? (size_t)p0 : rem);
    size_t hi = (size_t)(p0 + pc) * len + ((size_t)(p0 + pc) < rem ? (size_t)(p0 + pc) : rem);
    double nll = 0;
    int64_t count = 0;
    recur_status st = RECUR_OK;
    if (pc > 0)
        st = recur_lm_score_streams(t->m, t->eval_ids + lo, hi - lo, (int)pc, 256, &nll, &count,
                                    &err);
    /* every rank sums, a failed one too, so none waits for a missing sum */
    double v[3] = {nll, (double)count, st != RECUR_OK};
    recur_status rs = recur_parallel_sum(v, 3, st == RECUR_OK ? &err : &(recur_error){0});
    if (st != RECUR_OK)
        return recur_seterr(msg, st, "%s", err.msg);
    if (rs != RECUR_OK)
        return recur_seterr(msg, rs, "%s", err.msg);
    if (v[2] > 0) /* another rank failed: its message is the trainer's */
        return recur_seterr(msg, RECUR_ERR_STATE, "%s", RECUR_PARALLEL_PEER_FAILED);
    nll = v[0];
    count = (int64_t)v[1];
    double loss = nll / (double)count;
    ev->decisive = recur_eval_add(ev, "loss", loss);
    ev->higher_better = 0;
    recur_eval_add(ev, "ppl", exp(loss));
    return RECUR_OK;
}

/* The carried state (L, B, W) of all B streams from every rank's
 * (L, B_r, W): gathered as rank blocks, then each layer's rows in stream
 * order. */
static recur_status gather_state(const recur_lm_task *t, const recur_real *mine, int W,
                                 recur_real **full, recur_error *err)
{
    const size_t L = (size_t)t->L, B = (size_t)t->cfg.batch, w = (size_t)W;
    recur_real *blocks = malloc(L * B * w * sizeof *blocks);
    *full = malloc(L * B * w * sizeof **full);
    recur_status st = blocks && *full ? RECUR_OK
                                      : recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    if (st == RECUR_OK)
        st = recur_parallel_allgather(mine, L * (size_t)t->share.B * w * sizeof *mine, blocks,
                                      L * B * w * sizeof *blocks, err);
    for (int r = 0, size = recur_parallel_size(); st == RECUR_OK && r < size; r++) {
        size_t lo = B * (size_t)r / (size_t)size, n = B * (size_t)(r + 1) / (size_t)size - lo;
        const recur_real *blk = blocks + L * lo * w; /* rank r's block follows the lower ranks' */
        for (size_t l = 0; l < L; l++)
            memcpy(*full + (l * B + lo) * w, blk + l * n * w, n * w * sizeof *blk);
    }
    free(blocks);
    if (st != RECUR_OK) {
        free(*full);
        *full = NULL;
    }
    return st;
}

static recur_status lm_save_state(void *ctx, char **json, char *msg)
{
    recur_lm_task *t = ctx;
    *json = NULL;
    recur_error err = {0};
    recur_real *h = NULL, *c = NULL;
    const size_t B = (size_t)t->cfg.batch, L = (size_t)t->L;
    if (gather_state(t, t->h, t->R, &h, &err) != RECUR_OK ||
        (t->lstm && gather_state(t, t->c, t->H, &c, &err) != RECUR_OK)) {
        free(h);
        return recur_seterr(msg, err.status ? err.status : RECUR_ERR_NOMEM, "%s", err.msg);
    }
    char *hb = base64_encode(h, L * B * (size_t)t->R * sizeof *h);
    char *cb = t->lstm ? base64_encode(c, L * B * (size_t)t->H * sizeof *c) : NULL;
    json_t *j = hb && (cb || !t->lstm) ? json_pack("{s:s,s:s?}", "h", hb, "c", cb) : NULL;
    *json = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    free(hb);
    free(cb);
    free(h);
    free(c);
    return *json ? RECUR_OK : recur_seterr(msg, RECUR_ERR_NOMEM, "out of memory");
}

/* This rank's streams of a carried state (L, B, W) of all B streams. */
static void take_share(const recur_lm_task *t, const recur_real *full, int W, recur_real *mine)
{
    const size_t B = (size_t)t->cfg.batch, n = (size_t)t->share.B, w = (size_t)W;
    for (size_t l = 0; l < (size_t)t->L; l++)
        memcpy(mine + l * n * w, full + (l * B + (size_t)t->first) * w, n * w * sizeof *mine);
}

static recur_status lm_load_state(void *ctx, const char *json, char *msg)
{
    recur_lm_task *t = ctx;
    const size_t B = (size_t)t->cfg.batch, L = (size_t)t->L;
    const size_t hn = L * B * (size_t)t->R, cn = L * B * (size_t)t->H;
    recur_real *h = malloc(hn * sizeof *h), *c = malloc(cn * sizeof *c);
    json_error_t je;
    json_t *j = json_loads(json, 0, &je);
    const char *hb = json_string_value(json_object_get(j, "h"));
    const char *cb = json_string_value(json_object_get(j, "c"));
    int nomem = !h || !c;
    int bad = nomem || !hb || base64_decode(hb, h, hn * sizeof *h) ||
              (t->lstm && (!cb || base64_decode(cb, c, cn * sizeof *c)));
    if (!bad) {
        take_share(t, h, t->R, t->h);
        if (t->lstm)
            take_share(t, c, t->H, t->c);
    }
    json_decref(j);
    free(h);
    free(c);
    if (nomem)
        return recur_seterr(msg, RECUR_ERR_NOMEM, "out of memory");
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
    k.ranks = t->ranks;
    return k;
}
