/*
 * lm_train.c - `recur lm train TRAIN VALID [TEST]`: trains a word or
 * character language model as Zaremba et al. (2014) do.
 *
 * The training stream is cut into --batch parallel streams read in segments
 * of --bptt steps; each segment starts from the previous one's final state
 * (truncated BPTT), and each epoch from zeros.  Loss scale: with
 * --loss-scale steps (the default) the gradient is that of the loss summed
 * over the segment's steps and averaged over the streams, Zaremba's scale, to
 * which his lr 1 and clip 5 apply; --loss-scale mean averages over steps too
 * (PyTorch's word_language_model: its lr 20 and clip 0.25 are Zaremba's
 * values at this scale for bptt 20).
 *
 * After each epoch: validation perplexity (one stream from a zero state, the
 * convention of `recur lm eval`), the learning-rate schedule, OUT/best.safetensors
 * when validation improved, and OUT/last.safetensors with the optimiser and
 * the position in the data, from which --resume continues exactly.  Ctrl-C,
 * --time-limit and --max-steps also write OUT/last.safetensors mid-epoch,
 * with the carried hidden state, so a resumed run goes on bit for bit.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "lm.h"

int lm_cmd_train(int argc, char **argv);

static const char *CMD = "recur lm train";

/* ---- defaults and presets ---------------------------------------------- */

void lm_train_defaults(lm_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->preset = "zaremba-small";
    o->level = "word";
    o->max_vocab = 0;
    o->min_count = 1;
    o->cell = "lstm";
    o->gru_form = "reset-after";
    o->layers = 2;
    o->hidden = 200;
    o->embed = 0;
    o->proj = 0;
    o->dropout = 0;
    o->init_scale = 0.1;
    o->forget_bias = "";
    o->optim = "sgd";
    o->lr = 1;
    o->schedule = "decay";
    o->decay = 0.5;
    o->decay_start = 4;
    o->patience = 0;
    o->clip = 5;
    o->loss_scale = "steps";
    o->bptt = 20;
    o->batch = 20;
    o->epochs = 13;
    o->seed = 1;
    o->out_dir = "lm-run";
    o->metrics = "";
    o->progress = "auto";
    o->valid_streams = 1;
    o->train_path = o->valid_path = o->test_path = "";
}

int lm_train_preset(lm_train_opts *o, const char *name)
{
    lm_train_opts d;
    lm_train_defaults(&d);
    /* model and optimisation settings only: files and session options stay */
    d.out_dir = o->out_dir;
    d.metrics = o->metrics;
    d.progress = o->progress;
    d.threads = o->threads;
    d.valid_streams = o->valid_streams;
    if (!strcmp(name, "zaremba-small")) {
        /* 2x200 LSTM, bptt 20, batch 20, SGD lr 1 halved each epoch after 4, 13 epochs */
    } else if (!strcmp(name, "zaremba-medium")) {
        d.hidden = 650;
        d.dropout = 0.5;
        d.init_scale = 0.05;
        d.epochs = 39;
        d.decay = 1 / 1.2;
        d.decay_start = 6;
        d.bptt = 35;
    } else if (!strcmp(name, "zaremba-large")) {
        d.hidden = 1500;
        d.dropout = 0.65;
        d.init_scale = 0.04;
        d.epochs = 55;
        d.decay = 1 / 1.15;
        d.decay_start = 14;
        d.clip = 10;
        d.bptt = 35;
    } else if (!strcmp(name, "char-rnn")) {
        /* in the spirit of Karpathy's char-rnn: 2-layer LSTM, Adam, mean loss */
        d.level = "char";
        d.hidden = 512;
        d.embed = 64;
        d.dropout = 0.25;
        d.init_scale = 0.08;
        d.optim = "adam";
        d.lr = 0.002;
        d.decay = 0.97;
        d.decay_start = 10;
        d.loss_scale = "mean";
        d.bptt = 100;
        d.batch = 32;
        d.epochs = 30;
    } else {
        return 1;
    }
    d.preset = name;
    *o = d;
    return 0;
}

#define PRESETS "zaremba-small|zaremba-medium|zaremba-large|char-rnn"

/* The option table over o; returns the number of entries (NULL-terminated). */
static int train_table(lm_train_opts *o, lm_opt *t)
{
    int n = 0;
    t[n++] = LM_CHOICE("preset", &o->preset, "settings to start from (options given override them)", PRESETS);
    t[n++] = LM_CHOICE("level", &o->level, "tokens: whitespace-separated words (<eos> per line) or characters", "word|char");
    t[n++] = LM_INT("max-vocab", &o->max_vocab, "N", "most frequent tokens kept, <unk> and <eos> included, 0: all", 0, 1 << 24);
    t[n++] = LM_INT("min-count", &o->min_count, "N", "tokens seen fewer times become <unk>", 1, 1e15);
    t[n++] = LM_CHOICE("cell", &o->cell, "recurrent cell", "lstm|gru|rnn-tanh|rnn-relu");
    t[n++] = LM_CHOICE("gru-form", &o->gru_form, "GRU reset gate after (PyTorch) or before (Cho et al.) the recurrent product", "reset-after|reset-before");
    t[n++] = LM_INT("layers", &o->layers, "N", "recurrent layers", 1, 64);
    t[n++] = LM_INT("hidden", &o->hidden, "N", "hidden units per layer", 1, 1 << 20);
    t[n++] = LM_INT("embed", &o->embed, "N", "embedding size, 0: the recurrent output width", 0, 1 << 20);
    t[n++] = LM_INT("proj", &o->proj, "N", "LSTM projection size (LSTMP), 0: none", 0, 1 << 20);
    t[n++] = LM_FLAG("residual", &o->residual, "residual connections between layers");
    t[n++] = LM_FLAG("tied", &o->tied, "decoder shares the embedding (Press & Wolf 2017)");
    t[n++] = LM_DBL("dropout", &o->dropout, "P", "dropout on embedding output, between layers and before the decoder", 0, 0.99, 0);
    t[n++] = LM_DBL("init-scale", &o->init_scale, "S", "uniform init in [-S, S], 0: PyTorch's default init", 0, 100, 0);
    t[n++] = LM_STR("forget-bias", &o->forget_bias, "B", "LSTM forget-gate bias after init", "unchanged");
    t[n++] = LM_CHOICE("optim", &o->optim, "optimiser", "sgd|adam|adamw");
    t[n++] = LM_DBL("lr", &o->lr, "LR", "learning rate", 0, 1e6, 1);
    t[n++] = LM_DBL("momentum", &o->momentum, "M", "SGD momentum", 0, 0.999999, 0);
    t[n++] = LM_DBL("weight-decay", &o->weight_decay, "W", "weight decay (L2; decoupled with adamw)", 0, 1e3, 0);
    t[n++] = LM_CHOICE("schedule", &o->schedule, "decay: lr * decay^(epoch - decay-start) after decay-start; plateau: lr * decay when validation stalls", "decay|plateau|constant");
    t[n++] = LM_DBL("decay", &o->decay, "F", "learning-rate factor of the schedule, in (0, 1]", 0, 1, 1);
    t[n++] = LM_INT("decay-start", &o->decay_start, "E", "last epoch at the initial rate (schedule decay)", 0, 1e9);
    t[n++] = LM_INT("patience", &o->patience, "N", "epochs without improvement before a decay (schedule plateau)", 0, 1e9);
    t[n++] = LM_DBL("clip", &o->clip, "C", "max global gradient norm at the loss scale, 0: no clipping", 0, 1e12, 0);
    t[n++] = LM_CHOICE("loss-scale", &o->loss_scale, "steps: loss summed over the bptt steps, mean over streams (Zaremba); mean: mean over both", "steps|mean");
    t[n++] = LM_INT("bptt", &o->bptt, "T", "steps per segment (truncated BPTT)", 1, 1 << 20);
    t[n++] = LM_INT("batch", &o->batch, "B", "parallel streams", 1, 1 << 20);
    t[n++] = LM_INT("epochs", &o->epochs, "N", "epochs in all", 1, 1e9);
    t[n++] = LM_INT("max-steps", &o->max_steps, "N", "stop (resumably) after N steps in this run, 0: no limit", 0, 1e15);
    t[n++] = LM_DUR("time-limit", &o->time_limit, "TIME", "stop (resumably) after TIME: seconds, or 90s, 15m, 2h; 0: none");
    t[n++] = LM_INT("seed", &o->seed, "S", "seed of initialisation and dropout", 0, 9.2e18);
    t[n++] = LM_INT("threads", &o->threads, "N", "threads for matrix products, 0: OpenBLAS's choice", 0, 4096);
    t[n++] = LM_STR("out", &o->out_dir, "DIR", "folder for best.safetensors, last.safetensors, metrics.jsonl", NULL);
    t[n++] = LM_STR("metrics", &o->metrics, "FILE", "metrics (JSON Lines)", "OUT/metrics.jsonl");
    t[n++] = LM_CHOICE("progress", &o->progress, "live line on a terminal, log lines otherwise", "auto|live|log|none");
    t[n++] = LM_INT("log-every", &o->log_every, "N", "steps between log lines and metrics rows, 0: ten per epoch", 0, 1e15);
    t[n++] = LM_INT("valid-streams", &o->valid_streams, "N", "score validation after each epoch as N pieces side by side (faster; the final summary always reads one stream)", 1, 1 << 16);
    t[n++] = LM_FLAG("resume", &o->resume, "continue the run in OUT from last.safetensors");
    t[n++] = LM_FLAG("force", &o->force, "start anew even if OUT holds a run");
    t[n] = LM_END;
    return n;
}

/* Options a resumed run may change; the rest must match the stored run. */
static int resumable_change(const char *name)
{
    static const char *ok[] = {"epochs",    "max-steps",     "time-limit", "threads",
                               "out",       "metrics",       "progress",   "log-every",
                               "resume",    "valid-streams", "force",      NULL};
    for (int i = 0; ok[i]; i++)
        if (!strcmp(name, ok[i]))
            return 1;
    return 0;
}

/* Settings not stored with a run (session only). */
static int session_only(const char *name)
{
    return !strcmp(name, "resume") || !strcmp(name, "force") || !strcmp(name, "threads") ||
           !strcmp(name, "out") || !strcmp(name, "metrics") || !strcmp(name, "progress") ||
           !strcmp(name, "max-steps") || !strcmp(name, "time-limit");
}

/* ---- base64 for the carried state ----------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const void *data, size_t n)
{
    const unsigned char *d = data;
    char *out = malloc(4 * ((n + 2) / 3) + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)d[i + 1] << 8;
        if (i + 2 < n)
            v |= d[i + 2];
        *p++ = B64[(v >> 18) & 63];
        *p++ = B64[(v >> 12) & 63];
        *p++ = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        *p++ = i + 2 < n ? B64[v & 63] : '=';
    }
    *p = '\0';
    return out;
}

/* Decodes exactly n bytes; returns 0 on success. */
static int b64_decode(const char *s, void *out, size_t n)
{
    unsigned char *o = out;
    size_t len = strlen(s), k = 0;
    if (len != 4 * ((n + 2) / 3))
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        unsigned v = 0;
        for (int j = 0; j < 4; j++) {
            const char *q = strchr(B64, s[i + j]);
            unsigned x = 0;
            if (s[i + j] == '=')
                x = 0;
            else if (q && s[i + j])
                x = (unsigned)(q - B64);
            else
                return -1;
            v = (v << 6) | x;
        }
        for (int j = 0; j < 3 && k < n; j++)
            o[k++] = (unsigned char)(v >> (16 - 8 * j));
    }
    return 0;
}

/* ---- the trainer ------------------------------------------------------------ */

static volatile sig_atomic_t g_interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

typedef struct trainer {
    const lm_train_opts *o;
    recur_lm_level level;
    recur_vocab *vocab;
    char *vocab_json, *train_json;
    recur_model *m;
    recur_optim *opt;
    recur_run *run;
    recur_train_state ts;
    recur_real *h, *c; /* carried state (L, B, R) and (L, B, H) */
    size_t hn, cn;
    int lstm;
    double epoch_nll;     /* summed nats of the current epoch so far */
    int64_t epoch_count;
    double elapsed_before; /* training seconds of earlier sessions */
    char last_path[4096], best_path[4096], metrics_path[4096];
    lm_progress *prog;
} trainer;

static int fail(trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(trainer *t, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (t)
        lm_progress_clear(t->prog);
    fprintf(stderr, "%s: %s\n", CMD, buf);
    return 1;
}

static int save(trainer *t, const char *path, int with_train, double elapsed)
{
    recur_meta_entry meta[3];
    int n = 0;
    meta[n++] = (recur_meta_entry){"recur.vocab", t->vocab_json};
    meta[n++] = (recur_meta_entry){"recur.lm.train", t->train_json};
    char *resume = NULL;
    if (with_train) {
        char *hb = b64_encode(t->h, t->hn * sizeof *t->h);
        char *cb = t->lstm ? b64_encode(t->c, t->cn * sizeof *t->c) : NULL;
        json_t *r = json_pack("{s:s,s:s?,s:i,s:f,s:I,s:f}", "h", hb ? hb : "", "c", cb,
                              "real_size", (int)sizeof(recur_real), "epoch_nll", t->epoch_nll,
                              "epoch_count", (json_int_t)t->epoch_count, "elapsed_s", elapsed);
        resume = r ? json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
        json_decref(r);
        free(hb);
        free(cb);
        if (!resume)
            return fail(t, "out of memory writing %s", path);
        meta[n++] = (recur_meta_entry){"recur.lm.resume", resume};
    }
    recur_status st = recur_checkpoint_save(t->m, with_train ? t->opt : NULL,
                                            with_train ? &t->ts : NULL, path,
                                            lm_extra_config(t->level), meta, n);
    free(resume);
    if (st != RECUR_OK)
        return fail(t, "%s: %s", path, recur_model_errmsg(t->m));
    return 0;
}

/* Validation loss (nats per predicted token). */
static int validate(trainer *t, const int32_t *ids, size_t n, double *loss)
{
    recur_error err = {0};
    double nll;
    int64_t count;
    if (lm_score_ids_streams(t->m, t->vocab, ids, n, (int)t->o->valid_streams, &nll, &count,
                             &err))
        return fail(t, "validation: %s", err.msg);
    *loss = nll / (double)count;
    if (!isfinite(*loss))
        return fail(t, "validation loss is not finite (%g): training diverged; try a lower --lr "
                       "or --clip",
                    *loss);
    return 0;
}

static int build_config(const lm_train_opts *o, int V, recur_model_config *cfg)
{
    recur_model_config_default(cfg);
    cfg->vocab_size = V;
    cfg->output_size = V;
    if (!strcmp(o->cell, "lstm"))
        cfg->rnn.cell = RECUR_CELL_LSTM;
    else if (!strcmp(o->cell, "gru"))
        cfg->rnn.cell = RECUR_CELL_GRU;
    else if (!strcmp(o->cell, "rnn-relu"))
        cfg->rnn.cell = RECUR_CELL_RNN_RELU;
    else
        cfg->rnn.cell = RECUR_CELL_RNN_TANH;
    cfg->rnn.gru_form = !strcmp(o->gru_form, "reset-before") ? RECUR_GRU_RESET_BEFORE
                                                             : RECUR_GRU_RESET_AFTER;
    cfg->rnn.num_layers = (int)o->layers;
    cfg->rnn.hidden_size = (int)o->hidden;
    if (o->proj > 0 && cfg->rnn.cell != RECUR_CELL_LSTM)
        return fail(NULL, "--proj %lld: a projection needs --cell lstm", o->proj);
    if (o->proj > 0 && o->proj >= o->hidden)
        return fail(NULL, "--proj %lld must be smaller than --hidden %lld", o->proj, o->hidden);
    cfg->rnn.proj_size = (int)o->proj;
    cfg->rnn.residual = o->residual;
    int width = (int)(o->proj > 0 ? o->proj : o->hidden);
    int embed = (int)(o->embed > 0 ? o->embed : width);
    if (o->tied && embed != width)
        return fail(NULL, "--tied needs --embed %d equal to the recurrent output width %d (--%s)",
                    embed, width, o->proj > 0 ? "proj" : "hidden");
    if (o->forget_bias && *o->forget_bias) {
        char *end;
        double fb = strtod(o->forget_bias, &end);
        if (*end || !isfinite(fb))
            return fail(NULL, "--forget-bias: '%s' is not a finite number", o->forget_bias);
        if (cfg->rnn.cell != RECUR_CELL_LSTM)
            return fail(NULL, "--forget-bias needs --cell lstm");
    }
    cfg->embed_size = embed;
    cfg->tied = o->tied;
    cfg->rnn.dropout = (float)o->dropout;
    cfg->dropout_embed = (float)o->dropout;
    cfg->dropout_output = (float)o->dropout;
    return 0;
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char keep = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            buf[i] = keep;
        }
    }
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Encodes a text; counts OOV; refuses a text with no known token. */
static int encode_text(trainer *t, lm_text *x, int32_t **ids, size_t *n, size_t *oov)
{
    recur_error err = {0};
    if (recur_corpus_encode(t->vocab, x->text, x->len, x->name, 0, ids, n, oov, &err) != RECUR_OK)
        return fail(t, "%s", err.msg);
    int32_t eos = recur_vocab_eos(t->vocab), unk = recur_vocab_unk(t->vocab);
    size_t known = 0;
    for (size_t i = 0; i < *n; i++)
        if ((*ids)[i] != eos && ((*ids)[i] != unk || *oov == 0))
            known++;
    if (known == 0) {
        free(*ids);
        *ids = NULL;
        return fail(t, "%s: no %s of this file is in the training vocabulary", x->name,
                    t->level == RECUR_LEVEL_CHAR ? "character" : "token");
    }
    return 0;
}

static json_t *options_json(const lm_train_opts *o_in, size_t train_tokens)
{
    lm_train_opts o = *o_in;
    lm_opt tab[64];
    train_table(&o, tab);
    json_t *j = json_object();
    json_t *opts = json_object();
    for (lm_opt *p = tab; p->name; p++) {
        if (session_only(p->name))
            continue;
        char buf[256];
        lm_opt_format(p, buf, sizeof buf);
        json_object_set_new(opts, p->name, json_string(buf));
    }
    json_object_set_new(j, "options", opts);
    json_object_set_new(j, "train", json_string(o.train_path ? o.train_path : ""));
    json_object_set_new(j, "valid", json_string(o.valid_path ? o.valid_path : ""));
    json_object_set_new(j, "test", json_string(o.test_path ? o.test_path : ""));
    json_object_set_new(j, "train_tokens", json_integer((json_int_t)train_tokens));
    return j;
}

static void estimate(const trainer *t, lm_stats *s, int64_t seg, int64_t nseg, int64_t epoch,
                     double sec_per_seg, double valid_s, double session_s)
{
    const lm_train_opts *o = t->o;
    double segs_left = (double)(nseg - seg - 1) + (double)(o->epochs - epoch) * (double)nseg;
    double eta = segs_left * sec_per_seg + valid_s * (double)(o->epochs - epoch + 1);
    if (o->time_limit > 0 && o->time_limit - session_s < eta)
        eta = o->time_limit - session_s + valid_s;
    s->eta = eta;
}

int lm_train_texts(const lm_train_opts *o, lm_text *train, lm_text *valid, lm_text *test)
{
    trainer T = {0};
    trainer *t = &T;
    t->o = o;
    t->level = (recur_lm_level)recur_lm_level_parse(o->level);
    int rc = 1;
    recur_error err = {0};
    recur_checkpoint *ck = NULL;
    int32_t *train_ids = NULL, *valid_ids = NULL, *test_ids = NULL;
    size_t n_train = 0, n_valid = 0, n_test = 0, oov_valid = 0, oov_test = 0, oov_train = 0;
    recur_lm_stream stream = {0};
    json_t *resume_j = NULL;
    struct sigaction sa_old, sa_new;
    int handler_set = 0;
    recur_set_num_threads((int)o->threads);

    snprintf(t->last_path, sizeof t->last_path, "%s/last.safetensors", o->out_dir);
    snprintf(t->best_path, sizeof t->best_path, "%s/best.safetensors", o->out_dir);
    if (o->metrics && *o->metrics)
        snprintf(t->metrics_path, sizeof t->metrics_path, "%s", o->metrics);
    else
        snprintf(t->metrics_path, sizeof t->metrics_path, "%s/metrics.jsonl", o->out_dir);
    if (mkdir_p(o->out_dir) != 0)
        return fail(NULL, "--out %s: cannot create the folder: %s", o->out_dir, strerror(errno));
    if (!o->resume && !o->force && file_exists(t->last_path))
        return fail(NULL,
                    "--out %s already holds a run (last.safetensors): continue it with --resume, "
                    "start anew with --force, or choose another --out",
                    o->out_dir);

    if (!o->resume && file_exists(t->best_path) && remove(t->best_path) != 0)
        return fail(NULL, "%s: cannot remove the old best model: %s", t->best_path,
                    strerror(errno));

    /* vocabulary: from the run when resuming, else from the training text */
    if (o->resume) {
        if (recur_checkpoint_open(&ck, t->last_path, &err) != RECUR_OK) {
            fail(NULL, "--resume: %s", err.msg);
            goto done;
        }
        if (!recur_checkpoint_has_train_state(ck)) {
            fail(NULL, "--resume: %s holds no training state", t->last_path);
            goto done;
        }
        if (recur_vocab_from_json(&t->vocab, t->level, recur_checkpoint_meta(ck, "recur.vocab"),
                                  &err) != RECUR_OK) {
            fail(NULL, "--resume: %s: %s", t->last_path, err.msg);
            goto done;
        }
    } else {
        if (recur_vocab_create(&t->vocab, t->level, &err) != RECUR_OK ||
            recur_vocab_count_text(t->vocab, train->text, train->len, train->name, &err) !=
                RECUR_OK ||
            recur_vocab_finish(t->vocab, o->max_vocab, o->min_count, &err) != RECUR_OK) {
            fail(NULL, "%s: %s", train->name, err.msg);
            goto done;
        }
    }
    if (recur_vocab_to_json(t->vocab, &t->vocab_json, &err) != RECUR_OK) {
        fail(NULL, "%s", err.msg);
        goto done;
    }
    if (encode_text(t, train, &train_ids, &n_train, &oov_train) ||
        encode_text(t, valid, &valid_ids, &n_valid, &oov_valid) ||
        (test && encode_text(t, test, &test_ids, &n_test, &oov_test)))
        goto done;
    if (t->level == RECUR_LEVEL_CHAR && (n_valid < 2 || (test && n_test < 2))) {
        fail(NULL, "%s: a character-level evaluation file needs at least 2 characters",
             n_valid < 2 ? valid->name : test->name);
        goto done;
    }
    if (ck) {
        json_error_t je;
        const char *tj = recur_checkpoint_meta(ck, "recur.lm.train");
        json_t *j = tj ? json_loads(tj, 0, &je) : NULL;
        json_int_t stored = json_integer_value(json_object_get(j, "train_tokens"));
        json_decref(j);
        if (stored != (json_int_t)n_train) {
            fail(NULL, "--resume: %s has %zu tokens but the run was trained on %lld: not the same "
                       "training data",
                 train->name, n_train, (long long)stored);
            goto done;
        }
    }
    if (recur_lm_batchify(&stream, train_ids, n_train, (int)o->batch, &err) != RECUR_OK) {
        fail(NULL, "%s: %s (--batch %lld)", train->name, err.msg, o->batch);
        goto done;
    }
    {
        json_t *tj = options_json(o, n_train);
        t->train_json = tj ? json_dumps(tj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(tj);
        if (!t->train_json) {
            fail(NULL, "out of memory");
            goto done;
        }
    }

    /* model and optimiser */
    recur_model_config cfg;
    if (o->resume) {
        if (recur_checkpoint_load_model(ck, &t->m, &err) != RECUR_OK) {
            fail(NULL, "--resume: %s: %s", t->last_path, err.msg);
            goto done;
        }
        cfg = *recur_model_get_config(t->m);
    } else {
        if (build_config(o, recur_vocab_size(t->vocab), &cfg))
            goto done;
        if (recur_model_create(&t->m, &cfg, (uint64_t)o->seed, &err) != RECUR_OK) {
            fail(NULL, "model: %s", err.msg);
            goto done;
        }
        recur_status st = o->init_scale > 0 ? recur_model_init_uniform(t->m, o->init_scale)
                                            : recur_model_init_default(t->m);
        if (st == RECUR_OK && o->forget_bias && *o->forget_bias &&
            cfg.rnn.cell == RECUR_CELL_LSTM)
            st = recur_model_set_forget_bias(t->m, strtod(o->forget_bias, NULL));
        if (st != RECUR_OK) {
            fail(NULL, "model: %s", recur_model_errmsg(t->m));
            goto done;
        }
    }
    recur_optim_config oc;
    recur_optim_kind ok = !strcmp(o->optim, "adam")    ? RECUR_OPTIM_ADAM
                          : !strcmp(o->optim, "adamw") ? RECUR_OPTIM_ADAMW
                                                       : RECUR_OPTIM_SGD;
    recur_optim_config_default(&oc, ok);
    oc.momentum = o->momentum;
    oc.weight_decay = o->weight_decay;
    oc.clip = o->clip;
    if (recur_optim_create(&t->opt, t->m, &oc, &err) != RECUR_OK) {
        fail(NULL, "optimiser: %s", err.msg);
        goto done;
    }
    const int L = cfg.rnn.num_layers, H = cfg.rnn.hidden_size;
    const int R = cfg.rnn.proj_size > 0 ? cfg.rnn.proj_size : H, B = (int)o->batch;
    t->lstm = cfg.rnn.cell == RECUR_CELL_LSTM;
    t->hn = (size_t)L * B * R;
    t->cn = (size_t)L * B * H;
    t->h = calloc(t->hn, sizeof *t->h);
    t->c = calloc(t->cn, sizeof *t->c);
    if (!t->h || !t->c) {
        fail(NULL, "out of memory");
        goto done;
    }
    if (recur_run_create(&t->run, t->m, (int)o->bptt, B, &err) != RECUR_OK) {
        fail(NULL, "%s", err.msg);
        goto done;
    }
    recur_sched_kind sk = !strcmp(o->schedule, "plateau")  ? RECUR_SCHED_PLATEAU
                          : !strcmp(o->schedule, "constant") ? RECUR_SCHED_CONSTANT
                                                             : RECUR_SCHED_DECAY_AFTER;
    memset(&t->ts, 0, sizeof t->ts);
    recur_schedule_init(&t->ts.schedule, sk, o->lr, o->decay,
                        (int)(sk == RECUR_SCHED_PLATEAU ? o->patience : o->decay_start));
    t->ts.best_val = INFINITY;
    if (o->resume) {
        if (recur_checkpoint_load_train(ck, t->m, t->opt, &t->ts, &err) != RECUR_OK) {
            fail(NULL, "--resume: %s: %s", t->last_path, err.msg);
            goto done;
        }
        json_error_t je;
        const char *rj = recur_checkpoint_meta(ck, "recur.lm.resume");
        resume_j = rj ? json_loads(rj, 0, &je) : NULL;
        const char *hb = json_string_value(json_object_get(resume_j, "h"));
        const char *cb = json_string_value(json_object_get(resume_j, "c"));
        json_int_t rs = json_integer_value(json_object_get(resume_j, "real_size"));
        if (!resume_j || !hb || rs != (json_int_t)sizeof(recur_real) ||
            b64_decode(hb, t->h, t->hn * sizeof *t->h) ||
            (t->lstm && (!cb || b64_decode(cb, t->c, t->cn * sizeof *t->c)))) {
            fail(NULL, "--resume: %s: recur.lm.resume is missing or does not fit the run",
                 t->last_path);
            goto done;
        }
        t->epoch_nll = json_real_value(json_object_get(resume_j, "epoch_nll"));
        t->epoch_count = json_integer_value(json_object_get(resume_j, "epoch_count"));
        t->elapsed_before = json_real_value(json_object_get(resume_j, "elapsed_s"));
        if (t->ts.position < 0 || t->ts.position > recur_lm_num_segments(&stream, (int)o->bptt)) {
            fail(NULL, "--resume: %s: data position %lld outside the training data", t->last_path,
                 (long long)t->ts.position);
            goto done;
        }
        recur_checkpoint_close(ck);
        ck = NULL;
    }

    char perr[256];
    t->prog = lm_progress_new(o->progress, t->metrics_path, o->resume, perr, sizeof perr);
    if (!t->prog) {
        fail(NULL, "%s", perr);
        goto done;
    }

    const int64_t nseg = recur_lm_num_segments(&stream, (int)o->bptt);
    const char *unit = t->level == RECUR_LEVEL_CHAR ? "char" : "token";
    lm_progress_msg(t->prog,
                    "%s level, vocabulary %d; train %zu %ss (%d streams x %lld steps, %lld "
                    "segments of %lld), valid %zu (%zu oov)%s",
                    o->level, recur_vocab_size(t->vocab), n_train, unit, B,
                    (long long)stream.steps, (long long)nseg, o->bptt, n_valid, oov_valid,
                    test ? ", test given" : "");
    lm_progress_msg(t->prog,
                    "model %s %lldx%lld%s, embedding %d%s%s, dropout %g: %zu parameters; %s lr %g, "
                    "clip %g at loss scale '%s'",
                    recur_model_get_config(t->m)->rnn.cell == RECUR_CELL_LSTM  ? "lstm"
                    : recur_model_get_config(t->m)->rnn.cell == RECUR_CELL_GRU ? "gru"
                                                                               : o->cell,
                    (long long)L, (long long)H, cfg.rnn.proj_size ? " (projected)" : "",
                    cfg.embed_size, cfg.tied ? ", tied" : "", cfg.rnn.residual ? ", residual" : "",
                    (double)cfg.rnn.dropout, recur_model_num_params(t->m), o->optim, o->lr,
                    o->clip, o->loss_scale);
    if (o->resume)
        lm_progress_msg(t->prog, "resuming at epoch %lld, segment %lld of %lld (step %lld)",
                        (long long)t->ts.epoch + 1, (long long)t->ts.position, (long long)nseg,
                        (long long)t->ts.step);

    g_interrupted = 0;
    memset(&sa_new, 0, sizeof sa_new);
    sa_new.sa_handler = on_sigint;
    sigemptyset(&sa_new.sa_mask);
    sa_new.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the program at once */
    if (sigaction(SIGINT, &sa_new, &sa_old) == 0)
        handler_set = 1;

    const double t0 = lm_now();
    double train_s = 0, valid_s = 0;
    int64_t segs_session = 0, steps_session = 0;
    int64_t log_every = o->log_every > 0 ? o->log_every : (nseg >= 10 ? nseg / 10 : 1);
    const char *stop_reason = NULL;
    int stopped_mid = 0;
    for (int64_t epoch = t->ts.epoch + 1; epoch <= o->epochs; epoch++) {
        int64_t seg0 = 0;
        if (epoch == t->ts.epoch + 1 && t->ts.position > 0) {
            seg0 = t->ts.position;
        } else {
            t->epoch_nll = 0;
            t->epoch_count = 0;
        }
        const double lr = t->ts.schedule.lr;
        double iv_nll = 0, iv_gn = 0, iv_t0 = lm_now();
        int64_t iv_count = 0, iv_steps = 0, iv_clipped = 0;
        for (int64_t seg = seg0; seg < nseg; seg++) {
            double s0 = lm_now();
            const int32_t *in, *tg;
            int Tn = recur_lm_segment(&stream, seg * o->bptt, (int)o->bptt, &in, &tg);
            recur_batch b = {0};
            b.T = Tn;
            b.B = B;
            b.tokens = in;
            b.targets = tg;
            b.h0 = seg == 0 ? NULL : t->h;
            b.c0 = seg == 0 || !t->lstm ? NULL : t->c;
            recur_model_zero_grad(t->m);
            double loss;
            int64_t count;
            recur_status st = recur_forward(t->run, &b, 1, &loss, &count);
            if (st == RECUR_ERR_NONFINITE) {
                fail(t, "epoch %lld, step %lld: the loss is not finite (%g): training diverged; "
                        "try a lower --lr or a --clip",
                     (long long)epoch, (long long)t->ts.step + 1, loss);
                goto done;
            }
            if (st != RECUR_OK) {
                fail(t, "%s", recur_run_errmsg(t->run));
                goto done;
            }
            memcpy(t->h, recur_run_hn(t->run), t->hn * sizeof *t->h);
            if (t->lstm)
                memcpy(t->c, recur_run_cn(t->run), t->cn * sizeof *t->c);
            double scale = !strcmp(o->loss_scale, "steps") ? (double)Tn : 1.0;
            if ((st = recur_backward(t->run, scale, NULL, NULL, NULL)) != RECUR_OK) {
                fail(t, "%s", recur_run_errmsg(t->run));
                goto done;
            }
            double gn = 0;
            int clipped = 0;
            st = recur_optim_step(t->opt, lr, &gn, &clipped);
            if (st == RECUR_ERR_NONFINITE) {
                fail(t, "epoch %lld, step %lld: %s: training diverged; try a lower --lr or a "
                        "--clip",
                     (long long)epoch, (long long)t->ts.step + 1, recur_optim_errmsg(t->opt));
                goto done;
            }
            if (st != RECUR_OK) {
                fail(t, "%s", recur_optim_errmsg(t->opt));
                goto done;
            }
            t->ts.step++;
            t->ts.position = seg + 1;
            t->ts.epoch = epoch - 1;
            t->epoch_nll += loss * (double)count;
            t->epoch_count += count;
            iv_nll += loss * (double)count;
            iv_count += count;
            iv_gn += gn;
            iv_clipped += clipped;
            iv_steps++;
            segs_session++;
            steps_session++;
            double now = lm_now();
            train_s += now - s0;
            int log_row = (seg + 1) % log_every == 0 || seg + 1 == nseg;
            lm_stats s = {0};
            s.epoch = epoch;
            s.epochs = o->epochs;
            s.step = t->ts.step;
            s.epoch_frac = (double)(seg + 1) / (double)nseg;
            s.tokens_per_s = (double)iv_count / (now - iv_t0 > 1e-9 ? now - iv_t0 : 1e-9);
            s.loss = iv_nll / (double)iv_count;
            s.lr = lr;
            s.grad_norm = iv_gn / (double)iv_steps;
            s.clipped_share = (double)iv_clipped / (double)iv_steps;
            s.elapsed = t->elapsed_before + (now - t0);
            estimate(t, &s, seg, nseg, epoch, train_s / (double)segs_session, valid_s,
                     now - t0);
            lm_progress_update(t->prog, &s, log_row);
            if (log_row) {
                iv_nll = iv_gn = 0;
                iv_count = iv_steps = iv_clipped = 0;
                iv_t0 = lm_now();
            }
            if (g_interrupted) {
                stop_reason = "interrupted";
                break;
            }
            if (o->max_steps > 0 && steps_session >= o->max_steps) {
                stop_reason = "--max-steps reached";
                break;
            }
            if (o->time_limit > 0 && now - t0 >= o->time_limit) {
                stop_reason = "--time-limit reached";
                break;
            }
        }
        double elapsed = t->elapsed_before + (lm_now() - t0);
        if (stop_reason && t->ts.position < nseg) {
            /* mid-epoch: a resumable checkpoint with the carried state */
            stopped_mid = 1;
            if (save(t, t->last_path, 1, elapsed))
                goto done;
            lm_progress_msg(t->prog, "%s at epoch %lld, segment %lld of %lld: %s written (continue "
                                     "with --resume)",
                            stop_reason, (long long)epoch, (long long)t->ts.position,
                            (long long)nseg, t->last_path);
            break;
        }
        /* the epoch is complete */
        double v0 = lm_now(), vloss;
        if (validate(t, valid_ids, n_valid, &vloss))
            goto done;
        valid_s = lm_now() - v0;
        int best = vloss < t->ts.best_val;
        if (best) {
            t->ts.best_val = vloss;
            if (save(t, t->best_path, 0, elapsed))
                goto done;
        }
        double train_loss = t->epoch_count ? t->epoch_nll / (double)t->epoch_count : NAN;
        recur_schedule_epoch_end(&t->ts.schedule, vloss);
        t->ts.epoch = epoch;
        t->ts.position = 0;
        t->epoch_nll = 0;
        t->epoch_count = 0;
        memset(t->h, 0, t->hn * sizeof *t->h);
        memset(t->c, 0, t->cn * sizeof *t->c);
        elapsed = t->elapsed_before + (lm_now() - t0);
        if (save(t, t->last_path, 1, elapsed))
            goto done;
        lm_progress_epoch(t->prog, epoch, train_loss, vloss, lr, elapsed, best, unit,
                          t->level == RECUR_LEVEL_CHAR);
        if (stop_reason)
            break;
        if (g_interrupted) {
            stop_reason = "interrupted";
            break;
        }
    }
    if (stop_reason && !strcmp(stop_reason, "interrupted")) {
        if (!stopped_mid)
            lm_progress_msg(t->prog, "interrupted: %s written (continue with --resume)",
                            t->last_path);
        rc = 130;
        goto done;
    }
    if (stopped_mid && !strcmp(stop_reason, "--time-limit reached")) {
        /* The time is up: the model as it is competes for best.  (Not after
         * --max-steps, a pause: a run resumed from there stays exactly the
         * uninterrupted run, best model included.) */
        double vloss;
        if (validate(t, valid_ids, n_valid, &vloss))
            goto done;
        lm_progress_msg(t->prog, "valid at the stop: %.4f nats/%s (ppl %.3f)", vloss, unit,
                        exp(vloss));
        if (vloss < t->ts.best_val) {
            t->ts.best_val = vloss;
            if (save(t, t->best_path, 0, t->elapsed_before + (lm_now() - t0)))
                goto done;
            /* the best value lives in the train state too */
            if (save(t, t->last_path, 1, t->elapsed_before + (lm_now() - t0)))
                goto done;
        }
    }
    lm_progress_free(t->prog);
    t->prog = NULL;

    /* results: the best model on validation (and test) */
    if (!file_exists(t->best_path)) {
        fprintf(stderr, "%s: no epoch finished and no model was kept\n", CMD);
        rc = 0;
        goto done;
    }
    lm_file bf;
    if (lm_file_load(t->best_path, &bf))
        goto done;
    double vnll, tnll = 0;
    int64_t vcount, tcount = 0;
    if (lm_score_ids(bf.model, bf.vocab, valid_ids, n_valid, &vnll, &vcount, &err) ||
        (test && lm_score_ids(bf.model, bf.vocab, test_ids, n_test, &tnll, &tcount, &err))) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        lm_file_close(&bf);
        goto done;
    }
    lm_file_close(&bf);
    double vl = vnll / (double)vcount, tl = tcount ? tnll / (double)tcount : NAN;
    int chr = t->level == RECUR_LEVEL_CHAR;
    printf("model      %s\n", t->best_path);
    printf("valid      %s: %lld %ss predicted, %.4f nats/%s%s, perplexity %.3f\n", valid->name,
           (long long)vcount, unit, vl, unit, "", exp(vl));
    if (chr)
        printf("valid      %.4f bits/char\n", vl / log(2.0));
    if (test) {
        printf("test       %s: %lld %ss predicted, %zu oov, %.4f nats/%s, perplexity %.3f\n",
               test->name, (long long)tcount, unit, oov_test, tl, unit, exp(tl));
        if (chr)
            printf("test       %.4f bits/char\n", tl / log(2.0));
    }
    printf("time       %.1f s training in this run\n", lm_now() - t0);
    fflush(stdout);
    rc = 0;
done:
    if (handler_set)
        sigaction(SIGINT, &sa_old, NULL);
    lm_progress_free(t->prog);
    json_decref(resume_j);
    recur_checkpoint_close(ck);
    recur_lm_stream_free(&stream);
    free(train_ids);
    free(valid_ids);
    free(test_ids);
    free(t->h);
    free(t->c);
    recur_run_free(t->run);
    recur_optim_free(t->opt);
    recur_model_free(t->m);
    recur_vocab_free(t->vocab);
    free(t->vocab_json);
    free(t->train_json);
    return rc;
}

/* ---- the command --------------------------------------------------------- */

static int read_text(const char *path, lm_text *x)
{
    recur_error err = {0};
    x->name = path;
    if (recur_text_read(path, &x->text, &x->len, &err) != RECUR_OK)
        return fail(NULL, "%s", err.msg);
    return 0;
}

static int cmd_train(int argc, char **argv, json_t **stored);

int lm_cmd_train(int argc, char **argv)
{
    json_t *stored = NULL; /* the resumed run's settings point into it */
    int rc = cmd_train(argc, argv, &stored);
    json_decref(stored);
    return rc;
}

static int cmd_train(int argc, char **argv, json_t **stored)
{
    lm_train_opts o;
    lm_train_defaults(&o);
    /* a preset first, so that the options given override it */
    for (int i = 1; i < argc; i++) {
        const char *name = NULL;
        if (!strcmp(argv[i], "--preset") && i + 1 < argc)
            name = argv[i + 1];
        else if (!strncmp(argv[i], "--preset=", 9))
            name = argv[i] + 9;
        if (name && lm_train_preset(&o, name)) {
            fprintf(stderr, "%s: --preset: '%s' is not one of %s (try %s --help)\n", CMD, name,
                    PRESETS, CMD);
            return 2;
        }
    }
    lm_opt tab[64];
    train_table(&o, tab);
    const char *pos[3];
    int npos;
    int rc = lm_parse(CMD, "[OPTIONS] TRAIN VALID [TEST]\n\n"
                           "Trains a language model on the text file TRAIN, validating on VALID after\n"
                           "each epoch; TEST (optional) is scored with the best model at the end.",
                      tab, argc, argv, pos, 3, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (o.resume) {
        /* the stored run's settings, then the options a resumed run may change */
        char path[4096];
        snprintf(path, sizeof path, "%s/last.safetensors", o.out_dir);
        recur_checkpoint *ck;
        recur_error err = {0};
        if (recur_checkpoint_open(&ck, path, &err) != RECUR_OK)
            return fail(NULL, "--resume: %s", err.msg);
        json_error_t je;
        const char *tj = recur_checkpoint_meta(ck, "recur.lm.train");
        json_t *j = tj ? json_loads(tj, 0, &je) : NULL;
        *stored = j;
        json_t *opts = json_object_get(j, "options");
        if (!json_is_object(opts)) {
            recur_checkpoint_close(ck);
            return fail(NULL, "--resume: %s holds no recur.lm.train settings", path);
        }
        lm_train_opts s;
        lm_train_defaults(&s);
        lm_opt stab[64];
        train_table(&s, stab);
        const char *key;
        json_t *val;
        json_object_foreach(opts, key, val) {
            lm_opt *so = lm_find_opt(stab, key);
            if (!so || !json_is_string(val) ||
                lm_opt_set("--resume (stored settings)", so, json_string_value(val))) {
                recur_checkpoint_close(ck);
                return fail(NULL, "--resume: %s: stored setting '%s' is not valid", path, key);
            }
        }
        for (int i = 0; tab[i].name; i++) {
            if (!tab[i].given)
                continue;
            if (resumable_change(tab[i].name)) {
                /* copy the given value into the stored settings */
                char buf[4096];
                lm_opt_format(&tab[i], buf, sizeof buf);
                lm_opt_set(CMD, &stab[i], buf);
                if (tab[i].kind == OPT_STRING || tab[i].kind == OPT_CHOICE)
                    *(const char **)stab[i].dst = *(const char **)tab[i].dst;
                continue;
            }
            char a[4096], b[4096];
            lm_opt_format(&tab[i], a, sizeof a);
            lm_opt_format(&stab[i], b, sizeof b);
            if (strcmp(a, b) != 0) {
                recur_checkpoint_close(ck);
                return fail(NULL,
                            "--%s %s differs from the resumed run's %s: a resumed run keeps its "
                            "settings (only --epochs, --max-steps, --time-limit, --threads, "
                            "--metrics, --progress and --log-every may change)",
                            tab[i].name, a, b);
            }
        }
        s.resume = 1;
        s.out_dir = o.out_dir;
        static char files[3][4096];
        const char *names[3] = {"train", "valid", "test"};
        for (int k = 0; k < 3; k++) {
            const char *v = json_string_value(json_object_get(j, names[k]));
            snprintf(files[k], sizeof files[k], "%s", v ? v : "");
        }
        recur_checkpoint_close(ck);
        if (npos == 0) {
            for (int k = 0; k < 3; k++)
                if (files[k][0])
                    pos[npos++] = files[k];
        }
        o = s;
    }
    if (npos < 2) {
        fprintf(stderr, "%s: needs a training file and a validation file (try %s --help)\n", CMD,
                CMD);
        return 2;
    }
    o.train_path = pos[0];
    o.valid_path = pos[1];
    o.test_path = npos > 2 ? pos[2] : "";
    lm_text train = {0}, valid = {0}, test = {0};
    if (read_text(pos[0], &train) || read_text(pos[1], &valid) ||
        (npos > 2 && read_text(pos[2], &test))) {
        free(train.text);
        free(valid.text);
        return 1;
    }
    rc = lm_train_texts(&o, &train, &valid, npos > 2 ? &test : NULL);
    free(train.text);
    free(valid.text);
    free(test.text);
    return rc;
}
