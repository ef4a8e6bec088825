/*
 * tag_train.c - `recur tag train TRAIN DEV [TEST]`: trains a bidirectional
 * LSTM-CRF tagger on CoNLL column files with the library's trainer and its
 * tagging task (recur_tag.h), then scores the best model on DEV and TEST.
 * The defaults are the entity tagger of Lample et al. (2016) with
 * capitalisation features: character BiLSTM 25+25, word BiLSTM 100+100,
 * dropout 0.5, CRF, SGD lr 0.015 with momentum 0.9 and decay, clip 5.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli_fail.h"
#include "recur_tag.h"
#include "tag.h"
#include "train_options.h"

static const char *CMD = "recur tag train";

typedef struct tag_train_opts {
    train_opts train;
    long long word_column, tag_column, max_length, batch;
    const char *scheme;
    long long word_dim, min_count, char_dim, char_hidden, max_word_chars, caps_dim;
    long long hidden, layers;
    int lowercase;
    double unk_replace, dropout;
    const char *cell, *output, *embeddings;
} tag_train_opts;

static void defaults(tag_train_opts *o)
{
    memset(o, 0, sizeof *o);
    train_opts_defaults(&o->train);
    recur_tagger_config c;
    recur_tagger_config_default(&c);
    o->word_column = 1;
    o->tag_column = 0;
    o->max_length = 1000;
    o->batch = 10;
    o->scheme = "auto";
    o->word_dim = c.word_dim;
    o->lowercase = c.lowercase;
    o->min_count = c.min_count;
    o->unk_replace = c.unk_replace;
    o->char_dim = c.char_dim;
    o->char_hidden = c.char_hidden;
    o->max_word_chars = c.max_word_chars;
    o->caps_dim = 10;
    o->cell = "lstm";
    o->hidden = c.hidden;
    o->layers = c.layers;
    o->dropout = c.dropout;
    o->output = "crf";
    o->embeddings = "";
    o->train.optim = "sgd";
    o->train.lr = 0.015;
    o->train.momentum = 0.9;
    o->train.schedule = "decay";
    o->train.decay = 0.95;
    o->train.decay_start = 1;
    o->train.clip = 5;
    o->train.epochs = 50;
    o->train.early_stop = 10;
    o->train.out_dir = "tag-run";
}

static int table(tag_train_opts *o, cli_opt *t)
{
    int n = 0;
    t[n++] = CLI_INT("word-column", &o->word_column, "N", "column of the words (1-based)", 1, 64);
    t[n++] = CLI_INT("tag-column", &o->tag_column, "N", "column of the tags (1-based), 0: the last (CoNLL-2003: 2 POS, 4 NER)", 0, 64);
    t[n++] = CLI_CHOICE("scheme", &o->scheme, "tag scheme of the files (auto: detected from TRAIN; trained in iobes, written back in this one)", "auto|plain|iob1|iob2|iobes");
    t[n++] = CLI_INT("max-length", &o->max_length, "N", "longest sentence accepted, in tokens", 1, 1 << 24);
    t[n++] = CLI_INT("batch", &o->batch, "B", "sentences per batch (of similar lengths)", 1, 1 << 16);
    t[n++] = CLI_INT("word-dim", &o->word_dim, "N", "word embedding size (with --embeddings: the file's)", 1, 1 << 16);
    t[n++] = CLI_FLAG("lowercase", &o->lowercase, "look words up lower-cased, digits as 0 (--no-lowercase: as written)");
    t[n++] = CLI_INT("min-count", &o->min_count, "N", "training words seen fewer times are <unk>", 1, 1e9);
    t[n++] = CLI_DBL("unk-replace", &o->unk_replace, "P", "training singletons read as <unk> with probability P", 0, 1, 0);
    t[n++] = CLI_INT("char-dim", &o->char_dim, "N", "character embedding size", 1, 1 << 16);
    t[n++] = CLI_INT("char-hidden", &o->char_hidden, "N", "character BiLSTM size per direction, 0: no character features", 0, 1 << 16);
    t[n++] = CLI_INT("max-word-chars", &o->max_word_chars, "N", "characters of a word read by the character BiLSTM", 1, 1 << 16);
    t[n++] = CLI_INT("caps-dim", &o->caps_dim, "N", "capitalisation feature embedding size, 0: none", 0, 1 << 16);
    t[n++] = CLI_CHOICE("cell", &o->cell, "word-level recurrent cell", "lstm|gru|rnn-tanh|rnn-relu");
    t[n++] = CLI_INT("hidden", &o->hidden, "N", "word-level hidden units per direction", 1, 1 << 20);
    t[n++] = CLI_INT("layers", &o->layers, "N", "word-level bidirectional layers", 1, RECUR_MAX_LAYERS);
    t[n++] = CLI_DBL("dropout", &o->dropout, "P", "dropout on the stack's input and output and between layers", 0, 0.99, 0);
    t[n++] = CLI_CHOICE("output", &o->output, "linear-chain CRF or softmax per token", "crf|softmax");
    t[n++] = CLI_STR("embeddings", &o->embeddings, "FILE", "pretrained word vectors (GloVe text, word2vec text or binary)", "none");
    n += train_opts_rows(&o->train, t + n);
    t[n] = CLI_END;
    return n;
}

static char *settings_text(const tag_train_opts *o_in, const char *const *paths, int npaths)
{
    tag_train_opts o = *o_in;
    cli_opt tab[64];
    table(&o, tab);
    json_t *j = json_object();
    json_object_set_new(j, "options", train_settings_json(tab));
    json_t *files = json_array();
    for (int i = 0; i < npaths; i++)
        json_array_append_new(files, json_string(paths[i]));
    json_object_set_new(j, "files", files);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return text;
}

static void print_scores(const char *what, const recur_conlleval *e, int plain, int full)
{
    recur_conlleval_result r;
    recur_conlleval_result_get(e, &r);
    if (plain)
        printf("%-5s accuracy %.2f%% (%lld tokens)\n", what, r.accuracy, (long long)r.tokens);
    else
        printf("%-5s F1 %.2f  precision %.2f%%  recall %.2f%%  accuracy %.2f%% (%lld tokens, %lld "
               "entities)\n",
               what, r.overall.f1, r.overall.precision, r.overall.recall, r.accuracy,
               (long long)r.tokens, (long long)r.overall.gold);
    if (full && !plain) {
        char *rep = recur_conlleval_report(e);
        if (rep)
            fputs(rep, stdout);
        free(rep);
    }
}

static int final_scores(const char *best, const recur_tag_corpus *dev, const recur_tag_corpus *test,
                        double seconds)
{
    recur_error err = {0};
    recur_tagger *tg = NULL;
    if (recur_tagger_open(&tg, best, &err) != RECUR_OK)
        return cli_fail(CMD, "%s", err.msg);
    int plain = recur_tagger_scheme(tg) == RECUR_TAGS_PLAIN;
    const recur_tag_corpus *cs[2] = {dev, test};
    const char *names[2] = {"dev", "test"};
    printf("model %s\n", best);
    for (int k = 0; k < 2; k++) {
        if (!cs[k])
            continue;
        recur_conlleval *e = NULL;
        if (recur_conlleval_create(&e, &err) != RECUR_OK ||
            recur_tagger_eval_corpus(tg, cs[k], e) != RECUR_OK) {
            int rc = cli_fail(CMD, "%s", e ? recur_tagger_errmsg(tg) : err.msg);
            recur_conlleval_free(e);
            recur_tagger_free(tg);
            return rc;
        }
        print_scores(names[k], e, plain, k == 1);
        recur_conlleval_free(e);
    }
    printf("time  %.1f s training in this run\n", seconds);
    fflush(stdout);
    recur_tagger_free(tg);
    return 0;
}

static int run(tag_train_opts *o, const char *const *paths, int npaths)
{
    int rc = 1;
    recur_error err = {0};
    recur_tag_corpus *cs[3] = {NULL, NULL, NULL};
    recur_tag_task *task = NULL;
    recur_trainer *tr = NULL;
    char *settings = NULL;
    recur_set_num_threads((int)o->train.threads);
    recur_tag_read_config rc_cfg;
    recur_tag_read_config_default(&rc_cfg);
    rc_cfg.word_column = (int)o->word_column;
    rc_cfg.tag_column = (int)o->tag_column;
    rc_cfg.max_length = (int)o->max_length;
    rc_cfg.scheme = !strcmp(o->scheme, "auto") ? -1 : recur_tag_scheme_parse(o->scheme);
    /* dev and test are read in the scheme found in TRAIN */
    for (int k = 0; k < npaths; k++) {
        if (recur_tag_corpus_read(&cs[k], paths[k], &rc_cfg, &err) != RECUR_OK) {
            cli_fail(CMD, "%s", err.msg);
            goto done;
        }
        rc_cfg.scheme = (int)recur_tag_corpus_scheme(cs[0]);
    }
    char last[4200];
    snprintf(last, sizeof last, "%s/last.safetensors", o->train.out_dir);
    recur_status st;
    if (o->train.resume) {
        st = recur_tag_task_open(&task, last, cs[0], cs[1], (int)o->batch, &err);
    } else {
        recur_tagger_config c;
        recur_tagger_config_default(&c);
        c.word_dim = (int)o->word_dim;
        c.lowercase = o->lowercase;
        c.min_count = (int)o->min_count;
        c.unk_replace = o->unk_replace;
        c.char_dim = (int)o->char_dim;
        c.char_hidden = (int)o->char_hidden;
        c.max_word_chars = (int)o->max_word_chars;
        c.caps_dim = (int)o->caps_dim;
        c.cell = !strcmp(o->cell, "gru")        ? RECUR_CELL_GRU
                 : !strcmp(o->cell, "rnn-tanh") ? RECUR_CELL_RNN_TANH
                 : !strcmp(o->cell, "rnn-relu") ? RECUR_CELL_RNN_RELU
                                                : RECUR_CELL_LSTM;
        c.hidden = (int)o->hidden;
        c.layers = (int)o->layers;
        c.dropout = o->dropout;
        c.crf = !strcmp(o->output, "crf");
        c.embeddings = o->embeddings && *o->embeddings ? o->embeddings : NULL;
        st = recur_tag_task_create(&task, &c, cs[0], cs[1], cs[2], (int)o->batch,
                                   (uint64_t)o->train.seed, &err);
    }
    if (st != RECUR_OK) {
        cli_fail(CMD, "%s", err.msg);
        goto done;
    }
    settings = settings_text(o, paths, npaths);
    if (!settings) {
        cli_fail(CMD, "out of memory");
        goto done;
    }
    recur_task tk = recur_tag_task_callbacks(task);
    recur_meta_entry meta[8];
    for (int i = 0; i < tk.n_meta; i++)
        meta[i] = tk.meta[i];
    meta[tk.n_meta] = (recur_meta_entry){"recur.tag.train", settings};
    tk.meta = meta;
    tk.n_meta++;
    recur_input_file inputs[3] = {{"TRAIN", paths[0]}, {"DEV", paths[1]}, {"TEST", npaths > 2 ? paths[2] : ""}};
    recur_trainer_config tc;
    train_opts_config(&o->train, &tc);
    tc.inputs = inputs;
    tc.n_inputs = npaths;
    train_signals_install();
    if (recur_trainer_create(&tr, recur_tag_task_model(task), &tk, &tc, &err) != RECUR_OK) {
        cli_fail(CMD, "%s", err.msg);
        goto done;
    }
    int nw, nc, nl, np;
    recur_tag_task_sizes(task, &nw, &nc, &nl, &np);
    recur_trainer_message(tr, "%s: %lld sentences, %lld tokens, %s tags; dev %lld sentences%s",
                          paths[0], (long long)recur_tag_corpus_sentences(cs[0]),
                          (long long)recur_tag_corpus_tokens(cs[0]),
                          recur_tag_scheme_name(recur_tag_corpus_scheme(cs[0])),
                          (long long)recur_tag_corpus_sentences(cs[1]), cs[2] ? ", test given" : "");
    recur_trainer_message(tr, "vocabulary %d words (%d pretrained), %d characters, %d labels; model %zu "
                              "parameters (%s output); %s lr %g, batch %lld",
                          nw, np, nc, nl, recur_model_num_params(recur_tag_task_model(task)), o->output,
                          o->train.optim, o->train.lr, o->batch);
    st = recur_trainer_run(tr);
    if (st != RECUR_OK) {
        if (st != RECUR_ERR_INTERRUPTED)
            cli_fail(CMD, "%s", recur_trainer_errmsg(tr));
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
        fprintf(stderr, "%s: no epoch finished and no model was kept\n", CMD);
        rc = 0;
        goto done;
    }
    rc = final_scores(best, cs[1], cs[2], seconds);
done:
    train_signals_restore();
    recur_trainer_free(tr);
    recur_tag_task_free(task);
    for (int k = 0; k < 3; k++)
        recur_tag_corpus_free(cs[k]);
    free(settings);
    return rc;
}

static const char *const TAG_RESUMABLE[] = {NULL};

static void defaults_any(void *o) { defaults(o); }
static void table_any(void *o, cli_opt *t) { table(o, t); }
static train_opts *common_any(void *o) { return &((tag_train_opts *)o)->train; }

int tag_cmd_train(int argc, char **argv)
{
    static const char *const files[3] = {"train", "dev", "test"};
    static const train_cmd cmd = {
        .name = "recur tag train",
        .usage = "[OPTIONS] TRAIN DEV [TEST]\n\n"
                 "Trains a tagger on the CoNLL column file TRAIN, choosing the model by its\n"
                 "score on DEV after each epoch (F1 of chunks, accuracy for plain labels);\n"
                 "TEST (optional) is scored with the best model at the end.",
        .record = "recur.tag.train",
        .file_names = files,
        .second_file = "development",
        .resumable = TAG_RESUMABLE,
        .opts_size = sizeof(tag_train_opts),
        .defaults = defaults_any,
        .table = table_any,
        .common = common_any,
    };
    tag_train_opts o;
    defaults(&o);
    const char *pos[3];
    int npos;
    json_t *stored;
    int rc = train_cmd_parse(&cmd, &o, argc, argv, pos, &npos, &stored);
    if (rc < 0)
        rc = run(&o, pos, npos);
    json_decref(stored);
    return rc;
}
