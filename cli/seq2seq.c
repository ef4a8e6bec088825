/*
 * seq2seq.c - `recur seq2seq`: encoder-decoder models from the shell.
 *
 *   train TRAIN DEV [TEST]   trains on pairs source<TAB>target, early
 *                            stopping on DEV's word error rate; TEST is
 *                            scored with the best model at the end
 *   decode MODEL [FILE|-]    one source a line -> source<TAB>target
 *                            (n-best: source<TAB>target<TAB>logprob)
 *   eval MODEL FILE          word and token error rates, n-best oracle
 *
 * The loop, checkpoints, resumption and limits are the trainer's
 * (recur_train.h); the model, decoding and scoring are the library's
 * (recur_seq2seq.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli_fail.h"
#include "commands.h"
#include "recur_seq2seq.h"
#include "train_options.h"

int cli_seq2seq(int argc, char **argv);

static const char *cmd_name = "recur seq2seq";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- decoding options (decode, eval, the end of train) ---- */

typedef struct decode_opts {
    long long beam, nbest, batch, max_len_extra;
    double alpha, max_len_ratio;
} decode_opts;

static void decode_defaults(decode_opts *o, long long beam)
{
    o->beam = beam;
    o->nbest = 1;
    o->batch = 64;
    o->max_len_extra = 10;
    o->alpha = 1.0;
    o->max_len_ratio = 2;
}

static int decode_rows(decode_opts *o, cli_opt *t, const char *beam_name)
{
    int n = 0;
    t[n++] = CLI_INT(beam_name, &o->beam, "K", "beam width, 1: greedy search", 1, 4096);
    t[n++] = CLI_INT("nbest", &o->nbest, "N", "hypotheses per source (<= beam), each with its log-probability", 1, 4096);
    t[n++] = CLI_DBL("length-alpha", &o->alpha, "A", "beam ranks by logprob / length^A (length counts </s>), 0: none", 0, 10, 0);
    t[n++] = CLI_DBL("max-len-ratio", &o->max_len_ratio, "R", "at most R x source length + max-len-extra output tokens", 0, 1000, 0);
    t[n++] = CLI_INT("max-len-extra", &o->max_len_extra, "N", "see max-len-ratio", 0, 100000);
    t[n++] = CLI_INT("decode-batch", &o->batch, "N", "sources decoded side by side", 1, 65536);
    return n;
}

static void decode_config(const decode_opts *o, recur_s2s_decode_config *dc)
{
    recur_s2s_decode_config_default(dc);
    dc->beam = (int)o->beam;
    dc->nbest = (int)o->nbest;
    dc->length_alpha = o->alpha;
    dc->max_len_ratio = o->max_len_ratio;
    dc->max_len_extra = (int)o->max_len_extra;
    dc->batch = (int)o->batch;
}

/* ---- train ---- */

typedef struct s2s_train_opts {
    train_opts train;
    const char *source_level, *target_level, *cell, *attention, *bridge;
    long long embed, enc_layers, dec_layers, hidden, attention_size, batch, max_dev, dev_beam;
    int bidirectional, feed;
    double dropout, init_scale, label_smoothing;
    decode_opts test;
} s2s_train_opts;

static void train_defaults(s2s_train_opts *o)
{
    memset(o, 0, sizeof *o);
    train_opts_defaults(&o->train);
    o->train.optim = "adam";
    o->train.lr = 1e-3;
    o->train.clip = 5;
    o->train.epochs = 30;
    o->train.early_stop = 4;
    o->train.out_dir = "seq2seq-run";
    o->source_level = "char";
    o->target_level = "word";
    o->cell = "lstm";
    o->attention = "general";
    o->bridge = "auto";
    o->embed = 128;
    o->enc_layers = 1;
    o->dec_layers = 1;
    o->hidden = 256;
    o->bidirectional = 1;
    o->dropout = 0.2;
    o->init_scale = 0.1;
    o->label_smoothing = 0.1;
    o->batch = 64;
    o->dev_beam = 1;
    decode_defaults(&o->test, 5);
}

static int train_table(s2s_train_opts *o, cli_opt *t)
{
    int n = 0;
    t[n++] = CLI_CHOICE("source-level", &o->source_level, "source tokens: characters or whitespace-separated words", "char|word");
    t[n++] = CLI_CHOICE("target-level", &o->target_level, "target tokens: characters or whitespace-separated words", "char|word");
    t[n++] = CLI_CHOICE("cell", &o->cell, "recurrent cell of encoder and decoder", "lstm|gru|rnn-tanh|rnn-relu");
    t[n++] = CLI_INT("embed", &o->embed, "N", "embedding size of both sides", 1, 1 << 20);
    t[n++] = CLI_INT("hidden", &o->hidden, "N", "hidden units per layer and direction (encoder), per layer (decoder)", 1, 1 << 20);
    t[n++] = CLI_INT("encoder-layers", &o->enc_layers, "N", "encoder layers", 1, RECUR_MAX_LAYERS);
    t[n++] = CLI_INT("decoder-layers", &o->dec_layers, "N", "decoder layers", 1, RECUR_MAX_LAYERS);
    t[n++] = CLI_FLAG("bidirectional", &o->bidirectional, "bidirectional encoder (--no-bidirectional: forward only)");
    t[n++] = CLI_CHOICE("attention", &o->attention, "score of attention over the encoder's states (Luong 2015 dot/general, Bahdanau 2015 additive)", "none|dot|general|additive");
    t[n++] = CLI_INT("attention-size", &o->attention_size, "N", "additive attention's hidden width, 0: --hidden", 0, 1 << 20);
    t[n++] = CLI_FLAG("input-feeding", &o->feed, "feed the last attentional vector into the decoder (Luong 2015; step-by-step training, slower)");
    t[n++] = CLI_CHOICE("bridge", &o->bridge, "decoder's initial state: copy where sizes match else linear (auto), linear, copy, zero", "auto|linear|copy|zero");
    t[n++] = CLI_DBL("dropout", &o->dropout, "P", "dropout on embeddings, between layers and on the attentional vector", 0, 0.99, 0);
    t[n++] = CLI_DBL("init-scale", &o->init_scale, "S", "uniform init in [-S, S]", 0, 100, 1);
    t[n++] = CLI_DBL("label-smoothing", &o->label_smoothing, "E", "label smoothing of the training loss", 0, 0.99, 0);
    t[n++] = CLI_INT("batch", &o->batch, "B", "pairs per step, batched by length", 1, 1 << 20);
    t[n++] = CLI_INT("max-dev", &o->max_dev, "N", "score only the first N sources of DEV after each epoch, 0: all", 0, 1e15);
    t[n++] = CLI_INT("dev-beam", &o->dev_beam, "K", "beam of the per-epoch DEV decoding, 1: greedy", 1, 4096);
    n += decode_rows(&o->test, t + n, "beam");
    n += train_opts_rows(&o->train, t + n);
    t[n] = CLI_END;
    return n;
}

static const char *const S2S_RESUMABLE[] = {"max-dev", "dev-beam", "beam", "nbest", "length-alpha",
                                            "max-len-ratio", "max-len-extra", "decode-batch", NULL};

static int parse_cell(const char *c)
{
    return !strcmp(c, "lstm") ? RECUR_CELL_LSTM : !strcmp(c, "gru") ? RECUR_CELL_GRU
                                              : !strcmp(c, "rnn-relu") ? RECUR_CELL_RNN_RELU
                                                                       : RECUR_CELL_RNN_TANH;
}

static void model_config(const s2s_train_opts *o, recur_s2s_config *c)
{
    recur_s2s_config_default(c);
    c->source_level = (recur_lm_level)recur_lm_level_parse(o->source_level);
    c->target_level = (recur_lm_level)recur_lm_level_parse(o->target_level);
    c->cell = (recur_cell)parse_cell(o->cell);
    c->source_embed = c->target_embed = (int)o->embed;
    c->encoder_layers = (int)o->enc_layers;
    c->decoder_layers = (int)o->dec_layers;
    c->encoder_hidden = c->decoder_hidden = (int)o->hidden;
    c->bidirectional = o->bidirectional;
    c->attention = o->attention;
    c->attention_size = (int)o->attention_size;
    c->input_feeding = o->feed;
    c->bridge = o->bridge;
    c->dropout = (float)o->dropout;
    c->init_scale = o->init_scale;
}

typedef struct score_line {
    const char *what;
    recur_s2s_score sc;
    double seconds;
} score_line;

static int score_file(recur_s2s *s, const recur_s2s_pairs *p, const decode_opts *d,
                      score_line *out)
{
    recur_s2s_decode_config dc;
    decode_config(d, &dc);
    recur_error err = {0};
    memset(&out->sc, 0, sizeof out->sc);
    double t0 = now();
    if (recur_s2s_evaluate(s, p, &dc, 0, &out->sc, NULL, NULL, &err))
        return cli_fail(cmd_name, "%s", err.msg);
    out->seconds = now() - t0;
    return 0;
}

static void print_score(const char *role, const char *name, const score_line *l, long long beam)
{
    printf("%-5s %s: %lld words, %s: WER %.2f%%, token error rate %.2f%%, %.0f words/s\n", role,
           name, (long long)l->sc.words, beam > 1 ? "beam" : "greedy", recur_s2s_wer(&l->sc),
           recur_s2s_ter(&l->sc), (double)l->sc.words / (l->seconds > 0 ? l->seconds : 1e-9));
}

static int final_scores(const char *best, const s2s_train_opts *o, const char *dev_path,
                        const recur_s2s_pairs *dev, const char *test_path,
                        const recur_s2s_pairs *test, double seconds)
{
    recur_s2s *s;
    recur_error err = {0};
    if (recur_s2s_open(&s, best, &err))
        return cli_fail(cmd_name, "%s", err.msg);
    decode_opts greedy = o->test;
    greedy.beam = 1;
    greedy.nbest = 1;
    score_line l;
    printf("model %s\n", best);
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        const decode_opts *d = pass == 0 ? &greedy : &o->test;
        if (pass == 1 && o->test.beam == 1)
            break;
        if (!(rc = score_file(s, dev, d, &l)))
            print_score("dev", dev_path, &l, d->beam);
        if (!rc && test && !(rc = score_file(s, test, d, &l)))
            print_score("test", test_path, &l, d->beam);
        fflush(stdout);
    }
    printf("time  %.1f s training in this run\n", seconds);
    recur_s2s_free(s);
    return rc;
}

static char *settings_text(s2s_train_opts *o, const char *train, const char *dev, const char *test)
{
    s2s_train_opts c = *o;
    cli_opt tab[96];
    train_table(&c, tab);
    json_t *j = json_object();
    json_object_set_new(j, "options", train_settings_json(tab));
    json_object_set_new(j, "train", json_string(train));
    json_object_set_new(j, "dev", json_string(dev));
    json_object_set_new(j, "test", json_string(test ? test : ""));
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return text;
}

static int run_train(s2s_train_opts *o, const char *train_path, const char *dev_path,
                     const char *test_path)
{
    const recur_lm_level sl = (recur_lm_level)recur_lm_level_parse(o->source_level);
    const recur_lm_level tl = (recur_lm_level)recur_lm_level_parse(o->target_level);
    recur_error err = {0};
    recur_s2s_pairs *train = NULL, *dev = NULL, *test = NULL;
    recur_s2s *s = NULL;
    recur_s2s_task *task = NULL;
    recur_trainer *tr = NULL;
    char *settings = NULL;
    int rc = 1;
    recur_set_num_threads((int)o->train.threads);
    if (recur_s2s_pairs_read(&train, train_path, sl, tl, 0, &err) ||
        recur_s2s_pairs_read(&dev, dev_path, sl, tl, 0, &err) ||
        (test_path && recur_s2s_pairs_read(&test, test_path, sl, tl, 0, &err))) {
        cli_fail(cmd_name, "%s", err.msg);
        goto done;
    }
    if (o->train.resume) {
        char last[4200];
        snprintf(last, sizeof last, "%s/last.safetensors", o->train.out_dir);
        recur_checkpoint *ck;
        if (recur_checkpoint_open(&ck, last, &err) ||
            recur_s2s_from_checkpoint(&s, ck, &err)) {
            cli_fail(cmd_name, "--resume: %s", err.msg);
            goto done;
        }
        recur_checkpoint_close(ck);
    } else {
        recur_s2s_config c;
        model_config(o, &c);
        if (recur_s2s_create(&s, &c, train, (uint64_t)o->train.seed, &err)) {
            cli_fail(cmd_name, "%s", err.msg);
            goto done;
        }
    }
    recur_s2s_task_config tc;
    recur_s2s_task_config_default(&tc);
    tc.batch = (int)o->batch;
    tc.label_smoothing = o->label_smoothing;
    tc.max_dev = (int)o->max_dev;
    tc.seed = (uint64_t)o->train.seed;
    tc.eval.beam = (int)o->dev_beam;
    tc.eval.length_alpha = o->test.alpha;
    tc.eval.max_len_ratio = o->test.max_len_ratio;
    tc.eval.max_len_extra = (int)o->test.max_len_extra;
    tc.eval.batch = (int)o->test.batch;
    if (recur_s2s_task_create(&task, s, train, dev, &tc, &err)) {
        cli_fail(cmd_name, "%s", err.msg);
        goto done;
    }
    settings = settings_text(o, train_path, dev_path, test_path);
    int n_meta;
    const recur_meta_entry *mm = recur_s2s_meta(s, &n_meta);
    recur_meta_entry meta[3] = {mm[0], mm[1], {"recur.seq2seq.train", settings ? settings : "{}"}};
    recur_task tk = recur_s2s_task_callbacks(task);
    tk.meta = meta;
    tk.n_meta = 3;
    recur_input_file inputs[3] = {{"TRAIN", train_path}, {"DEV", dev_path}, {"TEST", test_path ? test_path : ""}};
    recur_trainer_config cfg;
    train_opts_config(&o->train, &cfg);
    cfg.inputs = inputs;
    cfg.n_inputs = test_path ? 3 : 2;
    train_signals_install();
    if (recur_trainer_create(&tr, recur_s2s_model(s), &tk, &cfg, &err)) {
        cli_fail(cmd_name, "%s", err.msg);
        goto done;
    }
    const recur_s2s_config *c = recur_s2s_get_config(s);
    recur_trainer_message(tr, "%zu pairs (%zu sources) to train, %zu dev sources%s; vocabularies %d source, %d target",
                          recur_s2s_pairs_count(train), recur_s2s_pairs_sources(train),
                          recur_s2s_pairs_sources(dev), test ? ", test given" : "",
                          recur_s2s_vocab_size(recur_s2s_source_vocab(s)),
                          recur_s2s_vocab_size(recur_s2s_target_vocab(s)));
    recur_trainer_message(tr, "model %s: encoder %dx%d%s, decoder %dx%d, attention %s%s, bridge %s, dropout %g: %zu parameters; %s lr %g, batch %lld",
                          o->cell, c->encoder_layers, c->encoder_hidden, c->bidirectional ? " bidirectional" : "",
                          c->decoder_layers, c->decoder_hidden, c->attention,
                          c->input_feeding ? " with input feeding" : "", c->bridge, (double)c->dropout,
                          recur_model_num_params(recur_s2s_model(s)), o->train.optim, o->train.lr, o->batch);
    recur_status st = recur_trainer_run(tr);
    if (st) {
        if (st != RECUR_ERR_INTERRUPTED)
            cli_fail(cmd_name, "%s", recur_trainer_errmsg(tr));
        rc = train_exit_status(st);
        goto done;
    }
    double seconds = recur_trainer_seconds(tr);
    char best[4200];
    snprintf(best, sizeof best, "%s", recur_trainer_best_path(tr));
    int has_best = recur_trainer_has_best(tr);
    recur_trainer_free(tr);
    tr = NULL;
    if (!has_best) {
        fprintf(stderr, "%s train: no epoch finished and no model was kept\n", cmd_name);
        rc = 0;
        goto done;
    }
    rc = final_scores(best, o, dev_path, dev, test_path, test, seconds);
done:
    train_signals_restore();
    recur_trainer_free(tr);
    recur_s2s_task_free(task);
    recur_s2s_free(s);
    recur_s2s_pairs_free(train);
    recur_s2s_pairs_free(dev);
    recur_s2s_pairs_free(test);
    free(settings);
    return rc;
}

static void train_defaults_any(void *o) { train_defaults(o); }
static void train_table_any(void *o, cli_opt *t) { train_table(o, t); }
static train_opts *train_common_any(void *o) { return &((s2s_train_opts *)o)->train; }

static int cmd_train(int argc, char **argv)
{
    static const char *const files[3] = {"train", "dev", "test"};
    static const train_cmd cmd = {
        .name = "recur seq2seq train",
        .usage = "[OPTIONS] TRAIN DEV [TEST]\n\n"
                                 "Trains an encoder-decoder on pairs source<TAB>target (one a line; further\n"
                                 "tab-separated targets or lines with the same source are further references),\n"
                                 "early stopping on DEV's word error rate; TEST is scored with the best model.",
        .record = "recur.seq2seq.train",
        .file_names = files,
        .second_file = "development",
        .resumable = S2S_RESUMABLE,
        .opts_size = sizeof(s2s_train_opts),
        .defaults = train_defaults_any,
        .table = train_table_any,
        .common = train_common_any,
    };
    cmd_name = cmd.name;
    s2s_train_opts o;
    train_defaults(&o);
    const char *pos[3];
    int npos;
    json_t *stored;
    int rc = train_cmd_parse(&cmd, &o, argc, argv, pos, &npos, &stored);
    if (rc < 0 && o.test.nbest > o.test.beam)
        rc = cli_fail(cmd_name, "--nbest %lld exceeds --beam %lld", o.test.nbest, o.test.beam);
    if (rc < 0)
        rc = run_train(&o, pos[0], pos[1], npos > 2 ? pos[2] : NULL);
    json_decref(stored);
    return rc;
}

/* ---- decode ---- */

typedef struct out_ctx {
    recur_s2s *s;
    int nbest;
} out_ctx;

static void print_result(recur_s2s *s, const char *source, const recur_s2s_result *r, int nbest)
{
    for (int k = 0; k < r->n; k++) {
        char *t = recur_s2s_target_text(s, r->hyps[k].ids, r->hyps[k].n);
        if (nbest > 1)
            printf("%s\t%s\t%.4f\n", source, t ? t : "", r->hyps[k].logprob);
        else
            printf("%s\t%s\n", source, t ? t : "");
        free(t);
    }
}

/* The front decode and eval share: the decoding options and --threads,
 * at least min_pos files (`need` names them in the message), --nbest within
 * --beam, the threads set.  Returns -1 to go on, else the exit status. */
static int decode_cmd_parse(const char *usage, int min_pos, const char *need, decode_opts *d, int argc, char **argv,
                            const char *pos[2], int *npos)
{
    decode_defaults(d, 1);
    long long threads = 0;
    cli_opt tab[16];
    int n = decode_rows(d, tab, "beam");
    tab[n++] = CLI_THREADS(&threads);
    tab[n] = CLI_END;
    int rc = cli_parse(cmd_name, usage, tab, argc, argv, pos, 2, npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (*npos < min_pos) {
        fprintf(stderr, "%s: needs %s (try --help)\n", cmd_name, need);
        return 2;
    }
    if (d->nbest > d->beam)
        return cli_fail(cmd_name, "--nbest %lld exceeds --beam %lld", d->nbest, d->beam);
    recur_set_num_threads((int)threads);
    return -1;
}

static int cmd_decode(int argc, char **argv)
{
    decode_opts d;
    const char *pos[2];
    int npos;
    cmd_name = "recur seq2seq decode";
    int rc = decode_cmd_parse("[OPTIONS] MODEL [FILE|-]\n\n"
                              "Decodes one source a line (a line's first tab-separated field) from FILE or\n"
                              "standard input, printing source<TAB>target as each batch is done (with\n"
                              "--nbest N > 1: N lines source<TAB>target<TAB>logprob per source).",
                              1, "a model file", &d, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    const char *in_name = npos > 1 && strcmp(pos[1], "-") ? pos[1] : "(stdin)";
    FILE *in = npos > 1 && strcmp(pos[1], "-") ? fopen(pos[1], "rb") : stdin;
    if (!in)
        return cli_fail(cmd_name, "%s: cannot open", pos[1]);
    recur_s2s *s;
    recur_error err = {0};
    if (recur_s2s_open(&s, pos[0], &err)) {
        if (in != stdin)
            fclose(in);
        return cli_fail(cmd_name, "%s", err.msg);
    }
    recur_s2s_decode_config dc;
    decode_config(&d, &dc);
    /* interactive input is decoded line by line */
    const int G = isatty(fileno(in)) ? 1 : (int)d.batch;
    char **lines = calloc((size_t)G, sizeof *lines);
    int32_t **ids = calloc((size_t)G, sizeof *ids);
    int *len = calloc((size_t)G, sizeof *len);
    recur_s2s_result *res = calloc((size_t)G, sizeof *res);
    char *buf = NULL;
    size_t cap = 0;
    long long line_no = 0;
    int m = 0, eof = 0;
    rc = !lines || !ids || !len || !res ? cli_fail(cmd_name, "out of memory") : 0;
    while (!rc && !eof) {
        ssize_t got = getline(&buf, &cap, in);
        if (got < 0)
            eof = 1;
        else {
            line_no++;
            size_t l = (size_t)got;
            while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
                buf[--l] = 0;
            char *tab = memchr(buf, '\t', l);
            if (tab) {
                *tab = 0;
                l = (size_t)(tab - buf);
            }
            size_t bad;
            if (memchr(buf, 0, l) || !recur_utf8_valid(buf, l, &bad)) {
                rc = cli_fail(cmd_name, "%s:%lld: not valid UTF-8 text", in_name, line_no);
                break;
            }
            if (recur_s2s_encode_source(s, buf, l, &ids[m], &len[m], NULL, &err)) {
                rc = cli_fail(cmd_name, "%s:%lld: %s", in_name, line_no, err.msg);
                break;
            }
            if (len[m] == 0) { /* an empty line: nothing to decode */
                free(ids[m]);
                ids[m] = NULL;
                continue;
            }
            if (!(lines[m] = strdup(buf))) {
                rc = cli_fail(cmd_name, "out of memory");
                break;
            }
            m++;
        }
        if (m > 0 && (m == G || eof)) {
            if (recur_s2s_decode_ids(s, (const int32_t *const *)ids, len, m, &dc, res, &err)) {
                rc = cli_fail(cmd_name, "%s", err.msg);
                break;
            }
            for (int i = 0; i < m; i++) {
                print_result(s, lines[i], &res[i], dc.nbest);
                recur_s2s_result_clear(&res[i]);
                free(lines[i]);
                free(ids[i]);
                lines[i] = NULL;
                ids[i] = NULL;
            }
            fflush(stdout);
            m = 0;
        }
    }
    for (int i = 0; lines && ids && i < G; i++) {
        free(lines[i]);
        free(ids[i]);
    }
    free(lines);
    free(ids);
    free(len);
    free(res);
    free(buf);
    if (in != stdin)
        fclose(in);
    recur_s2s_free(s);
    if (!rc && ferror(stdout))
        rc = cli_fail(cmd_name, "writing the output failed");
    return rc;
}

/* ---- eval ---- */

static int cmd_eval(int argc, char **argv)
{
    decode_opts d;
    const char *pos[2];
    int npos;
    cmd_name = "recur seq2seq eval";
    int rc = decode_cmd_parse("[OPTIONS] MODEL FILE\n\n"
                              "Scores MODEL on FILE (source<TAB>reference[<TAB>reference...]; lines with the\n"
                              "same source add references): word error rate (the 1-best is not a\n"
                              "reference), token error rate (edit distance to the closest reference over\n"
                              "its length) and the n-best oracle's accuracy.",
                              2, "a model file and a file to score", &d, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    recur_s2s *s;
    recur_error err = {0};
    if (recur_s2s_open(&s, pos[0], &err))
        return cli_fail(cmd_name, "%s", err.msg);
    const recur_s2s_config *c = recur_s2s_get_config(s);
    recur_s2s_pairs *p;
    if (recur_s2s_pairs_read(&p, pos[1], c->source_level, c->target_level, 0, &err)) {
        recur_s2s_free(s);
        return cli_fail(cmd_name, "%s", err.msg);
    }
    score_line l;
    rc = score_file(s, p, &d, &l);
    if (!rc) {
        printf("model        %s\n", pos[0]);
        printf("file         %s: %lld sources, %zu references\n", pos[1], (long long)l.sc.words,
               recur_s2s_pairs_count(p));
        printf("decoding     %s\n", d.beam > 1 ? "beam search" : "greedy");
        if (d.beam > 1)
            printf("beam         %lld, n-best %lld, length alpha %g\n", d.beam, d.nbest, d.alpha);
        printf("WER          %.2f%% (%lld of %lld wrong)\n", recur_s2s_wer(&l.sc),
               (long long)l.sc.word_errors, (long long)l.sc.words);
        printf("token error  %.2f%% (%lld edits over %lld reference tokens)\n",
               recur_s2s_ter(&l.sc), (long long)l.sc.token_edits, (long long)l.sc.ref_tokens);
        printf("oracle       %.2f%% of sources have a reference among the %lld-best\n",
               recur_s2s_oracle(&l.sc), d.nbest);
        printf("speed        %.1f s, %.0f sources/s\n", l.seconds,
               (double)l.sc.words / (l.seconds > 0 ? l.seconds : 1e-9));
    }
    recur_s2s_pairs_free(p);
    recur_s2s_free(s);
    return rc;
}

int cli_seq2seq(int argc, char **argv)
{
    static const cli_subcommand cmds[] = {
        {"train", cmd_train, "train on source<TAB>target pairs: recur seq2seq train TRAIN DEV [TEST]"},
        {"decode", cmd_decode, "one source a line to source<TAB>target: recur seq2seq decode MODEL [FILE|-]"},
        {"eval", cmd_eval, "word and token error rates, n-best oracle: recur seq2seq eval MODEL FILE"},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("recur seq2seq",
                        "encoder-decoders over characters or words, e.g. spelling to pronunciation (see docs/seq2seq.md)",
                        cmds, argc, argv);
}
