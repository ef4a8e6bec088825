/*
 * lm_train.c - `recur lm train TRAIN VALID [TEST]`: trains a word or
 * character language model as Zaremba et al. (2014) do, on the library's
 * trainer (recur_train.h) with its language-model task (recur_lm_task).
 *
 * What is particular to language models lives here: the presets, the model
 * and vocabulary options, reading and encoding the texts, and the final
 * scoring of the best model on VALID and TEST by the convention of
 * `recur lm eval` (one stream from a zero state).  The loop, checkpoints,
 * resumption, limits and progress are the trainer's; the options they share
 * with every `recur TASK train` are in train_options.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli_fail.h"
#include "lm.h"

int lm_cmd_train(int argc, char **argv);

static const char *CMD = "recur lm train";

/* ---- defaults and presets ---------------------------------------------- */

void lm_train_defaults(lm_train_opts *o)
{
    memset(o, 0, sizeof *o);
    train_opts_defaults(&o->train);
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
    o->loss_scale = "steps";
    o->bptt = 20;
    o->batch = 20;
    o->valid_streams = 1;
    /* Zaremba's small model: SGD lr 1 halved each epoch after 4, 13 epochs, clip 5 */
    o->train.optim = "sgd";
    o->train.lr = 1;
    o->train.schedule = "decay";
    o->train.decay = 0.5;
    o->train.decay_start = 4;
    o->train.clip = 5;
    o->train.epochs = 13;
    o->train.out_dir = "lm-run";
    o->train_path = o->valid_path = o->test_path = "";
}

int lm_train_preset(lm_train_opts *o, const char *name)
{
    lm_train_opts d;
    lm_train_defaults(&d);
    /* model and optimisation settings only: files and session options stay */
    d.train.out_dir = o->train.out_dir;
    d.train.metrics = o->train.metrics;
    d.train.progress = o->train.progress;
    d.train.threads = o->train.threads;
    d.train.max_steps = o->train.max_steps;
    d.train.time_limit = o->train.time_limit;
    d.valid_streams = o->valid_streams;
    if (!strcmp(name, "zaremba-small")) {
        /* 2x200 LSTM, bptt 20, batch 20, SGD lr 1 halved each epoch after 4, 13 epochs */
    } else if (!strcmp(name, "zaremba-medium")) {
        d.hidden = 650;
        d.dropout = 0.5;
        d.init_scale = 0.05;
        d.train.epochs = 39;
        d.train.decay = 1 / 1.2;
        d.train.decay_start = 6;
        d.bptt = 35;
    } else if (!strcmp(name, "zaremba-large")) {
        d.hidden = 1500;
        d.dropout = 0.65;
        d.init_scale = 0.04;
        d.train.epochs = 55;
        d.train.decay = 1 / 1.15;
        d.train.decay_start = 14;
        d.train.clip = 10;
        d.bptt = 35;
    } else if (!strcmp(name, "char-rnn")) {
        /* in the spirit of Karpathy's char-rnn: 2-layer LSTM, Adam, mean loss */
        d.level = "char";
        d.hidden = 512;
        d.embed = 64;
        d.dropout = 0.25;
        d.init_scale = 0.08;
        d.train.optim = "adam";
        d.train.lr = 0.002;
        d.train.decay = 0.97;
        d.train.decay_start = 10;
        d.loss_scale = "mean";
        d.bptt = 100;
        d.batch = 32;
        d.train.epochs = 30;
    } else {
        return 1;
    }
    d.preset = name;
    *o = d;
    return 0;
}

#define PRESETS "zaremba-small|zaremba-medium|zaremba-large|char-rnn"

/* The option table over o; returns the number of entries (NULL-terminated). */
static int train_table(lm_train_opts *o, cli_opt *t)
{
    int n = 0;
    t[n++] = CLI_CHOICE("preset", &o->preset, "settings to start from (options given override them)", PRESETS);
    t[n++] = CLI_CHOICE("level", &o->level, "tokens: whitespace-separated words (<eos> per line) or characters", "word|char");
    t[n++] = CLI_INT("max-vocab", &o->max_vocab, "N", "most frequent tokens kept, <unk> and <eos> included, 0: all", 0, 1 << 24);
    t[n++] = CLI_INT("min-count", &o->min_count, "N", "tokens seen fewer times become <unk>", 1, 1e15);
    t[n++] = CLI_CHOICE("cell", &o->cell, "recurrent cell", "lstm|gru|rnn-tanh|rnn-relu");
    t[n++] = CLI_CHOICE("gru-form", &o->gru_form, "GRU reset gate after (PyTorch) or before (Cho et al.) the recurrent product", "reset-after|reset-before");
    t[n++] = CLI_INT("layers", &o->layers, "N", "recurrent layers", 1, RECUR_MAX_LAYERS);
    t[n++] = CLI_INT("hidden", &o->hidden, "N", "hidden units per layer", 1, 1 << 20);
    t[n++] = CLI_INT("embed", &o->embed, "N", "embedding size, 0: the recurrent output width", 0, 1 << 20);
    t[n++] = CLI_INT("proj", &o->proj, "N", "LSTM projection size (LSTMP), 0: none", 0, 1 << 20);
    t[n++] = CLI_FLAG("residual", &o->residual, "residual connections between layers");
    t[n++] = CLI_FLAG("tied", &o->tied, "decoder shares the embedding (Press & Wolf 2017)");
    t[n++] = CLI_DBL("dropout", &o->dropout, "P", "dropout on embedding output, between layers and before the decoder", 0, 0.99, 0);
    t[n++] = CLI_DBL("init-scale", &o->init_scale, "S", "uniform init in [-S, S], 0: PyTorch's default init", 0, 100, 0);
    t[n++] = CLI_STR("forget-bias", &o->forget_bias, "B", "LSTM forget-gate bias after init", "unchanged");
    t[n++] = CLI_CHOICE("loss-scale", &o->loss_scale, "steps: loss summed over the bptt steps, mean over streams (Zaremba); mean: mean over both", "steps|mean");
    t[n++] = CLI_INT("bptt", &o->bptt, "T", "steps per segment (truncated BPTT)", 1, 1 << 20);
    t[n++] = CLI_INT("batch", &o->batch, "B", "parallel streams", 1, 1 << 20);
    t[n++] = CLI_INT("valid-streams", &o->valid_streams, "N", "score validation after each epoch as N pieces side by side (faster; the final summary always reads one stream)", 1, 1 << 16);
    n += train_opts_rows(&o->train, t + n);
    t[n] = CLI_END;
    return n;
}

/* LM settings a resumed run may change besides the trainer's. */
static const char *const LM_RESUMABLE[] = {"valid-streams", NULL};

/* ---- the model ------------------------------------------------------------ */

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
        return cli_fail(CMD, "--proj %lld: a projection needs --cell lstm", o->proj);
    if (o->proj > 0 && o->proj >= o->hidden)
        return cli_fail(CMD, "--proj %lld must be smaller than --hidden %lld", o->proj, o->hidden);
    cfg->rnn.proj_size = (int)o->proj;
    cfg->rnn.residual = o->residual;
    int width = (int)(o->proj > 0 ? o->proj : o->hidden);
    int embed = (int)(o->embed > 0 ? o->embed : width);
    if (o->tied && embed != width)
        return cli_fail(CMD, "--tied needs --embed %d equal to the recurrent output width %d (--%s)",
                    embed, width, o->proj > 0 ? "proj" : "hidden");
    if (o->forget_bias && *o->forget_bias) {
        char *end;
        double fb = strtod(o->forget_bias, &end);
        if (*end || !isfinite(fb))
            return cli_fail(CMD, "--forget-bias: '%s' is not a finite number", o->forget_bias);
        if (cfg->rnn.cell != RECUR_CELL_LSTM)
            return cli_fail(CMD, "--forget-bias needs --cell lstm");
    }
    cfg->embed_size = embed;
    cfg->tied = o->tied;
    cfg->rnn.dropout = (float)o->dropout;
    cfg->dropout_embed = (float)o->dropout;
    cfg->dropout_output = (float)o->dropout;
    return 0;
}


static int file_readable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

/* Encodes a text; counts OOV; refuses a text with no known token. */
static int encode_text(const recur_vocab *v, lm_text *x, int32_t **ids, size_t *n, size_t *oov)
{
    recur_error err = {0};
    if (recur_corpus_encode(v, x->text, x->len, x->name, 0, ids, n, oov, &err) != RECUR_OK)
        return cli_fail(CMD, "%s", err.msg);
    int32_t eos = recur_vocab_eos(v), unk = recur_vocab_unk(v);
    size_t known = 0;
    for (size_t i = 0; i < *n; i++)
        if ((*ids)[i] != eos && ((*ids)[i] != unk || *oov == 0))
            known++;
    if (known == 0) {
        free(*ids);
        *ids = NULL;
        return cli_fail(CMD, "%s: no %s of this file is in the training vocabulary", x->name,
                    recur_vocab_level(v) == RECUR_LEVEL_CHAR ? "character" : "token");
    }
    return 0;
}

static char *settings_text(const lm_train_opts *o_in, size_t train_tokens)
{
    lm_train_opts o = *o_in;
    cli_opt tab[64];
    train_table(&o, tab);
    json_t *j = json_object();
    json_object_set_new(j, "options", train_settings_json(tab));
    json_object_set_new(j, "train", json_string(o.train_path ? o.train_path : ""));
    json_object_set_new(j, "valid", json_string(o.valid_path ? o.valid_path : ""));
    json_object_set_new(j, "test", json_string(o.test_path ? o.test_path : ""));
    json_object_set_new(j, "train_tokens", json_integer((json_int_t)train_tokens));
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return text;
}

static int new_model(const lm_train_opts *o, const recur_vocab *v, recur_model **m)
{
    recur_model_config cfg;
    recur_error err = {0};
    if (build_config(o, recur_vocab_size(v), &cfg))
        return 1;
    if (recur_model_create(m, &cfg, (uint64_t)o->train.seed, &err) != RECUR_OK)
        return cli_fail(CMD, "model: %s", err.msg);
    recur_status st = o->init_scale > 0 ? recur_model_init_uniform(*m, o->init_scale)
                                        : recur_model_init_default(*m);
    if (st == RECUR_OK && o->forget_bias && *o->forget_bias && cfg.rnn.cell == RECUR_CELL_LSTM)
        st = recur_model_set_forget_bias(*m, strtod(o->forget_bias, NULL));
    if (st != RECUR_OK)
        return cli_fail(CMD, "model: %s", recur_model_errmsg(*m));
    return 0;
}

/* The best model's figures on VALID and TEST, read as one stream. */
static int final_scores(const char *best, const lm_text *valid, const int32_t *valid_ids,
                        size_t n_valid, const lm_text *test, const int32_t *test_ids,
                        size_t n_test, size_t oov_test, double seconds)
{
    lm_file bf;
    if (lm_file_load(best, &bf))
        return 1;
    recur_error err = {0};
    double vnll, tnll = 0;
    int64_t vcount, tcount = 0;
    int bad = recur_lm_eval_ids(bf.model, bf.vocab, valid_ids, n_valid, 1, &vnll, &vcount,
                                &err) != RECUR_OK ||
              (test && recur_lm_eval_ids(bf.model, bf.vocab, test_ids, n_test, 1, &tnll, &tcount,
                                         &err) != RECUR_OK);
    int chr = bf.level == RECUR_LEVEL_CHAR;
    lm_file_close(&bf);
    if (bad)
        return cli_fail(CMD, "%s", err.msg);
    if (train_stop_signal) {
        fprintf(stderr, "%s: interrupted during the final scoring: %s is complete (score it with "
                        "recur lm eval)\n",
                CMD, best);
        return 128 + (int)train_stop_signal;
    }
    const char *unit = chr ? "char" : "token";
    double vl = vnll / (double)vcount, tl = tcount ? tnll / (double)tcount : NAN;
    printf("model      %s\n", best);
    printf("valid      %s: %lld %ss predicted, %.4f nats/%s, perplexity %.3f\n", valid->name,
           (long long)vcount, unit, vl, unit, exp(vl));
    if (chr)
        printf("valid      %.4f bits/char\n", vl / log(2.0));
    if (test) {
        printf("test       %s: %lld %ss predicted, %zu oov, %.4f nats/%s, perplexity %.3f\n",
               test->name, (long long)tcount, unit, oov_test, tl, unit, exp(tl));
        if (chr)
            printf("test       %.4f bits/char\n", tl / log(2.0));
    }
    printf("time       %.1f s training in this run\n", seconds);
    fflush(stdout);
    return 0;
}

int lm_train_texts(const lm_train_opts *o, lm_text *train, lm_text *valid, lm_text *test)
{
    const recur_lm_level level = (recur_lm_level)recur_lm_level_parse(o->level);
    char last_path[4200];
    snprintf(last_path, sizeof last_path, "%s/last.safetensors", o->train.out_dir);
    int rc = 1;
    recur_error err = {0};
    recur_checkpoint *ck = NULL;
    recur_vocab *vocab = NULL;
    recur_model *m = NULL;
    recur_lm_task *task = NULL;
    recur_trainer *tr = NULL;
    char *vocab_json = NULL, *settings = NULL;
    int32_t *train_ids = NULL, *valid_ids = NULL, *test_ids = NULL;
    size_t n_train = 0, n_valid = 0, n_test = 0, oov_valid = 0, oov_test = 0, oov_train = 0;
    recur_set_num_threads((int)o->train.threads);
    if (recur_parallel_init(&err) != RECUR_OK) { /* MPI, when mpirun started this process */
        cli_fail(CMD, "%s", err.msg);
        goto done;
    }

    /* Everything is checked and built before the run folder is touched. */
    if (o->train.resume) {
        /* the vocabulary and the model of the run (the trainer restores the rest) */
        if (recur_checkpoint_open(&ck, last_path, &err) != RECUR_OK) {
            cli_fail(CMD, "--resume: %s", err.msg);
            goto done;
        }
        if (recur_vocab_from_json(&vocab, level, recur_checkpoint_meta(ck, "recur.vocab"),
                                  &err) != RECUR_OK ||
            recur_checkpoint_load_model(ck, &m, &err) != RECUR_OK) {
            cli_fail(CMD, "--resume: %s: %s", last_path, err.msg);
            goto done;
        }
        recur_checkpoint_close(ck);
        ck = NULL;
    } else if (recur_vocab_create(&vocab, level, &err) != RECUR_OK ||
               recur_vocab_count_text(vocab, train->text, train->len, train->name, &err) !=
                   RECUR_OK ||
               recur_vocab_finish(vocab, o->max_vocab, o->min_count, &err) != RECUR_OK) {
        cli_fail(CMD, "%s: %s", train->name, err.msg);
        goto done;
    }
    if (recur_vocab_to_json(vocab, &vocab_json, &err) != RECUR_OK) {
        cli_fail(CMD, "%s", err.msg);
        goto done;
    }
    if (encode_text(vocab, train, &train_ids, &n_train, &oov_train) ||
        encode_text(vocab, valid, &valid_ids, &n_valid, &oov_valid) ||
        (test && encode_text(vocab, test, &test_ids, &n_test, &oov_test)))
        goto done;
    if (level == RECUR_LEVEL_CHAR && (n_valid < 2 || (test && n_test < 2))) {
        cli_fail(CMD, "%s: a character-level evaluation file needs at least 2 characters",
             n_valid < 2 ? valid->name : test->name);
        goto done;
    }
    if (!m && new_model(o, vocab, &m))
        goto done;
    recur_lm_task_config lc;
    recur_lm_task_config_default(&lc);
    lc.bptt = (int)o->bptt;
    lc.batch = (int)o->batch;
    lc.loss_scale_steps = !strcmp(o->loss_scale, "steps");
    lc.valid_streams = (int)o->valid_streams;
    if (recur_lm_task_create(&task, m, vocab, train_ids, n_train, valid_ids, n_valid, &lc,
                             &err) != RECUR_OK) {
        cli_fail(CMD, "%s: %s (--batch %lld)", train->name, err.msg, o->batch);
        goto done;
    }
    settings = settings_text(o, n_train);
    if (!settings) {
        cli_fail(CMD, "out of memory");
        goto done;
    }
    recur_meta_entry meta[2] = {{"recur.vocab", vocab_json}, {"recur.lm.train", settings}};
    recur_task tk = recur_lm_task_callbacks(task);
    tk.meta = meta;
    tk.n_meta = 2;
    recur_input_file inputs[3] = {{"TRAIN", train->name}, {"VALID", valid->name},
                                  {"TEST", test ? test->name : ""}};
    recur_trainer_config tc;
    train_opts_config(&o->train, &tc);
    tc.inputs = inputs;
    tc.n_inputs = train->is_file ? (test ? 3 : 2) : 0;
    train_signals_install();
    if (recur_trainer_create(&tr, m, &tk, &tc, &err) != RECUR_OK) {
        /* every rank has the failure (the first failing rank's message): rank 0 says it */
        if (recur_parallel_rank() == 0)
            fprintf(stderr, "%s: %s\n", CMD, err.msg);
        goto done;
    }

    const recur_model_config *cfg = recur_model_get_config(m);
    const recur_lm_stream *stream = recur_lm_task_stream(task);
    const int64_t nseg = recur_lm_task_segments(task);
    const char *unit = level == RECUR_LEVEL_CHAR ? "char" : "token";
    recur_trainer_message(tr,
                          "%s level, vocabulary %d; train %zu %ss (%d streams x %lld steps, %lld "
                          "segments of %lld), valid %zu (%zu oov)%s",
                          o->level, recur_vocab_size(vocab), n_train, unit, stream->B,
                          (long long)stream->steps, (long long)nseg, o->bptt, n_valid, oov_valid,
                          test ? ", test given" : "");
    recur_trainer_message(tr,
                          "model %s %dx%d%s, embedding %d%s%s, dropout %g: %zu parameters; %s lr "
                          "%g, clip %g at loss scale '%s'",
                          cfg->rnn.cell == RECUR_CELL_LSTM ? "lstm"
                          : cfg->rnn.cell == RECUR_CELL_GRU ? "gru"
                                                            : o->cell,
                          cfg->rnn.num_layers, cfg->rnn.hidden_size,
                          cfg->rnn.proj_size ? " (projected)" : "", cfg->embed_size,
                          cfg->tied ? ", tied" : "", cfg->rnn.residual ? ", residual" : "",
                          (double)cfg->rnn.dropout, recur_model_num_params(m), o->train.optim,
                          o->train.lr, o->train.clip, o->loss_scale);
    const recur_train_state *ts = recur_trainer_state(tr);
    if (o->train.resume)
        recur_trainer_message(tr, "resuming at epoch %lld, segment %lld of %lld (step %lld)",
                              (long long)ts->epoch + 1, (long long)ts->position, (long long)nseg,
                              (long long)ts->step);
    const int rank = recur_parallel_rank(), ranks = recur_parallel_size();
    if (ranks > 1)
        recur_trainer_message(tr, "data parallel: %d ranks share the %lld streams (%lld to %lld each)",
                              ranks, o->batch, o->batch / ranks, (o->batch + ranks - 1) / ranks);
    recur_status st = recur_trainer_run(tr);
    if (ranks > 1)
        recur_trainer_message(tr, "data parallel: %.3f s of %.3f s training in the sums over "
                                  "the ranks (%.1f%%)",
                              recur_trainer_reduce_seconds(tr), recur_trainer_seconds(tr),
                              100.0 * recur_trainer_reduce_seconds(tr) /
                                  (recur_trainer_seconds(tr) > 0 ? recur_trainer_seconds(tr) : 1));
    if (st != RECUR_OK) {
        /* the trainer's failures are every rank's: rank 0 says it */
        if (st != RECUR_ERR_INTERRUPTED && rank == 0)
            fprintf(stderr, "%s: %s\n", CMD, recur_trainer_errmsg(tr));
        rc = train_exit_status(st);
        goto done;
    }
    if (rank != 0) { /* the results are rank 0's to report */
        rc = 0;
        goto done;
    }
    double seconds = recur_trainer_seconds(tr);
    char best[4200];
    snprintf(best, sizeof best, "%s", recur_trainer_best_path(tr));
    int has_best = recur_trainer_has_best(tr);
    recur_trainer_free(tr); /* the lock is not needed to read the results */
    tr = NULL;
    if (!has_best) {
        fprintf(stderr, "%s: no epoch finished and no model was kept%s\n", CMD,
                file_readable(best) ? " (best.safetensors is an earlier run's, left as it was)"
                                    : "");
        rc = 0;
        goto done;
    }
    rc = final_scores(best, valid, valid_ids, n_valid, test, test_ids, n_test, oov_test, seconds);
done:
    train_signals_restore();
    recur_trainer_free(tr);
    recur_checkpoint_close(ck);
    recur_lm_task_free(task);
    free(train_ids);
    free(valid_ids);
    free(test_ids);
    recur_model_free(m);
    recur_vocab_free(vocab);
    free(vocab_json);
    free(settings);
    return rc;
}

/* ---- the command --------------------------------------------------------- */

static int read_text(const char *path, lm_text *x)
{
    recur_error err = {0};
    x->name = path;
    x->is_file = 1;
    if (recur_text_read(path, &x->text, &x->len, &err) != RECUR_OK)
        return cli_fail(CMD, "%s", err.msg);
    return 0;
}

static void defaults_any(void *o) { lm_train_defaults(o); }
static void table_any(void *o, cli_opt *t) { train_table(o, t); }
static train_opts *common_any(void *o) { return &((lm_train_opts *)o)->train; }

int lm_cmd_train(int argc, char **argv)
{
    static const char *const files[3] = {"train", "valid", "test"};
    static const train_cmd cmd = {
        .name = "recur lm train",
        .usage = "[OPTIONS] TRAIN VALID [TEST]\n\n"
                 "Trains a language model on the text file TRAIN, validating on VALID after\n"
                 "each epoch; TEST (optional) is scored with the best model at the end.",
        .record = "recur.lm.train",
        .file_names = files,
        .second_file = "validation",
        .resumable = LM_RESUMABLE,
        .opts_size = sizeof(lm_train_opts),
        .defaults = defaults_any,
        .table = table_any,
        .common = common_any,
    };
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
    const char *pos[3];
    int npos;
    json_t *stored; /* the resumed run's settings point into it */
    int rc = train_cmd_parse(&cmd, &o, argc, argv, pos, &npos, &stored);
    if (rc < 0) {
        o.train_path = pos[0];
        o.valid_path = pos[1];
        o.test_path = npos > 2 ? pos[2] : "";
        lm_text train = {0}, valid = {0}, test = {0};
        if (read_text(pos[0], &train) || read_text(pos[1], &valid) || (npos > 2 && read_text(pos[2], &test)))
            rc = 1;
        else
            rc = lm_train_texts(&o, &train, &valid, npos > 2 ? &test : NULL);
        free(train.text);
        free(valid.text);
        free(test.text);
    }
    json_decref(stored);
    return rc;
}
