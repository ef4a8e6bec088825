/*
 * classify_train.c - `recur classify train TRAIN DEV [TEST]`: trains a
 * sentence classifier (recur_classify.h) on the library's trainer.
 *
 * What is particular to classification lives here: the data and model
 * options, the vocabulary and label set of TRAIN, class weights, pretrained
 * word vectors, and the final scoring of the best model on DEV and TEST.
 * The loop, checkpoints, resumption, limits and progress are the trainer's;
 * the options every `recur TASK train` shares are in train_options.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli_fail.h"
#include "classify.h"

static const char *CMD = "recur classify train";

typedef struct cls_train_opts {
    train_opts train;
    const char *format;
    long long classes;
    int phrases, lower;
    long long min_count, max_vocab;
    const char *embeddings;
    const char *cell;
    long long layers, hidden, embed, attention_size;
    int bidirectional;
    const char *pool;
    double dropout, dropout_embed;
    long long batch;
    const char *class_weights;
} cls_train_opts;

static void defaults(cls_train_opts *o)
{
    memset(o, 0, sizeof *o);
    train_opts_defaults(&o->train);
    o->format = "tsv";
    o->classes = 2;
    o->min_count = 1;
    o->embeddings = "";
    o->cell = "lstm";
    o->layers = 1;
    o->hidden = 150;
    o->embed = 300;
    o->bidirectional = 1;
    o->pool = "max";
    o->dropout = 0.5;
    o->dropout_embed = 0.5;
    o->batch = 32;
    o->class_weights = "none";
    o->train.optim = "adam";
    o->train.lr = 1e-3;
    o->train.clip = 5;
    o->train.epochs = 10;
    o->train.early_stop = 3;
    o->train.out_dir = "classify-run";
}

static int table(cls_train_opts *o, cli_opt *t)
{
    int n = 0;
    t[n++] = CLI_CHOICE("format", &o->format, "input: label<TAB>text lines, or Stanford Sentiment Treebank trees", "tsv|sst");
    t[n++] = CLI_INT("classes", &o->classes, "K", "SST: 5 (root label) or 2 (neutral dropped, 0-1 negative, 3-4 positive)", 2, 5);
    t[n++] = CLI_FLAG("phrases", &o->phrases, "SST: every labelled sub-tree of TRAIN an example too (each phrase once)");
    t[n++] = CLI_FLAG("lower", &o->lower, "lower-case ASCII letters of the words");
    t[n++] = CLI_INT("min-count", &o->min_count, "N", "words seen fewer times in TRAIN become <unk>", 1, 1e15);
    t[n++] = CLI_INT("max-vocab", &o->max_vocab, "N", "most frequent words kept, <unk> and <eos> included, 0: all", 0, 1 << 24);
    t[n++] = CLI_STR("embeddings", &o->embeddings, "FILE", "word vectors (GloVe text, word2vec text or binary) to start the embedding from", "none");
    t[n++] = CLI_CHOICE("cell", &o->cell, "recurrent cell", "lstm|gru|rnn-tanh|rnn-relu");
    t[n++] = CLI_INT("layers", &o->layers, "N", "recurrent layers", 1, RECUR_MAX_LAYERS);
    t[n++] = CLI_INT("hidden", &o->hidden, "N", "hidden units per layer and direction", 1, 1 << 20);
    t[n++] = CLI_INT("embed", &o->embed, "N", "embedding size", 1, 1 << 20);
    t[n++] = CLI_FLAG("bidirectional", &o->bidirectional, "read each sentence both ways (--no-bidirectional: forward only)");
    t[n++] = CLI_CHOICE("pool", &o->pool, "sentence vector: final states, mean, max over time or learned attention", "last|mean|max|attention");
    t[n++] = CLI_INT("attention-size", &o->attention_size, "A", "attention's hidden size, 0: the stack's output width", 0, 1 << 20);
    t[n++] = CLI_DBL("dropout", &o->dropout, "P", "dropout between layers and on the sentence vector", 0, 0.99, 0);
    t[n++] = CLI_DBL("dropout-embed", &o->dropout_embed, "P", "dropout on the word embeddings", 0, 0.99, 0);
    t[n++] = CLI_INT("batch", &o->batch, "B", "sentences per batch (of similar length)", 1, 1 << 16);
    t[n++] = CLI_STR("class-weights", &o->class_weights, "W", "loss weights: none, balanced (n / (K n_k)), or w1,w2,... in label order", NULL);
    n += train_opts_rows(&o->train, t + n);
    t[n] = CLI_END;
    return n;
}

static void read_config(const cls_train_opts *o, int phrases, recur_cls_read_config *rc)
{
    recur_cls_read_config_default(rc);
    rc->format = !strcmp(o->format, "sst") ? RECUR_CLS_SST : RECUR_CLS_TSV;
    rc->lower = o->lower;
    rc->classes = (int)o->classes;
    rc->phrases = phrases;
}

static int model_config(const cls_train_opts *o, int V, int K, recur_cls_model_config *c)
{
    memset(c, 0, sizeof *c);
    recur_model_config_default(&c->base);
    c->base.vocab_size = V;
    c->base.embed_size = (int)o->embed;
    c->base.rnn.cell = !strcmp(o->cell, "gru")        ? RECUR_CELL_GRU
                       : !strcmp(o->cell, "rnn-tanh") ? RECUR_CELL_RNN_TANH
                       : !strcmp(o->cell, "rnn-relu") ? RECUR_CELL_RNN_RELU
                                                      : RECUR_CELL_LSTM;
    c->base.rnn.hidden_size = (int)o->hidden;
    c->base.rnn.num_layers = (int)o->layers;
    c->base.rnn.bidirectional = o->bidirectional;
    c->base.rnn.dropout = (float)o->dropout;
    c->base.dropout_embed = (float)o->dropout_embed;
    c->pool = (recur_cls_pool)recur_cls_pool_parse(o->pool);
    c->classes = K;
    c->attention_size = (int)o->attention_size;
    return 0;
}

/* The class weights of the option, in label order (NULL for none). */
static int class_weights(const char *spec, const recur_cls_dataset *train, json_t *labels, double **out)
{
    *out = NULL;
    if (!strcmp(spec, "none"))
        return 0;
    const int K = (int)json_array_size(labels);
    double *w = calloc((size_t)K, sizeof *w);
    if (!w)
        return cli_fail(CMD, "out of memory");
    if (!strcmp(spec, "balanced")) {
        const size_t n = recur_cls_dataset_size(train);
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < K; k++)
                if (!strcmp(recur_cls_dataset_label(train, i), json_string_value(json_array_get(labels, k))))
                    w[k] += 1;
        for (int k = 0; k < K; k++)
            w[k] = w[k] > 0 ? (double)n / (K * w[k]) : 1.0;
    } else {
        const char *p = spec;
        for (int k = 0; k < K; k++) {
            char *end;
            w[k] = strtod(p, &end);
            if (end == p || !(w[k] > 0) || !isfinite(w[k]) || (k < K - 1 ? *end != ',' : *end != '\0')) {
                free(w);
                return cli_fail(CMD, "--class-weights '%s': expected none, balanced or %d positive numbers separated by commas",
                            spec, K);
            }
            p = end + 1;
        }
    }
    *out = w;
    return 0;
}

static char *settings_text(const cls_train_opts *o_in, const char *const pos[3])
{
    cls_train_opts o = *o_in;
    cli_opt tab[64];
    table(&o, tab);
    json_t *j = json_object();
    json_object_set_new(j, "options", train_settings_json(tab));
    json_object_set_new(j, "train", json_string(pos[0]));
    json_object_set_new(j, "dev", json_string(pos[1]));
    json_object_set_new(j, "test", json_string(pos[2] ? pos[2] : ""));
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return text;
}

/* The best model's accuracy on a data set, as `recur classify eval` counts it. */
static int final_score(recur_classifier *c, const char *role, const recur_cls_dataset *d, const char *path)
{
    const int K = recur_classifier_num_classes(c);
    int64_t *conf = calloc((size_t)K * (size_t)K, sizeof *conf);
    if (!conf)
        return cli_fail(CMD, "out of memory");
    if (recur_classifier_confusion(c, d, conf) != RECUR_OK) {
        free(conf);
        return cli_fail(CMD, "%s", recur_classifier_errmsg(c));
    }
    int64_t right = 0, n = 0;
    for (int k = 0; k < K; k++)
        for (int j = 0; j < K; j++) {
            n += conf[(size_t)k * K + j];
            right += k == j ? conf[(size_t)k * K + j] : 0;
        }
    printf("%-10s %s: %lld sentences, accuracy %.2f%%, macro-F1 %.4f\n", role, path, (long long)n,
           100.0 * (double)right / (double)n, cls_cli_macro_f1(conf, K));
    free(conf);
    return 0;
}

static int run(cls_train_opts *o, const char *const pos[3])
{
    char last_path[4200];
    snprintf(last_path, sizeof last_path, "%s/last.safetensors", o->train.out_dir);
    int rc = 1;
    recur_error err = {0};
    recur_cls_dataset *train = NULL, *dev = NULL, *test = NULL;
    recur_vocab *vocab = NULL;
    recur_model *m = NULL;
    recur_checkpoint *ck = NULL;
    recur_cls_task *task = NULL;
    recur_trainer *tr = NULL;
    recur_classifier *best = NULL;
    char *labels = NULL, *vocab_json = NULL, *settings = NULL, *extra = NULL;
    double *weights = NULL;
    json_t *labels_arr = NULL;
    recur_set_num_threads((int)o->train.threads);

    recur_cls_read_config rc_train, rc_eval;
    read_config(o, o->phrases, &rc_train);
    read_config(o, 0, &rc_eval);
    if (o->phrases && rc_train.format != RECUR_CLS_SST) {
        cli_fail(CMD, "--phrases needs --format sst");
        goto done;
    }
    if (rc_train.format == RECUR_CLS_SST && o->classes != 2 && o->classes != 5) {
        cli_fail(CMD, "--classes %lld: SST has 2 or 5 classes", o->classes);
        goto done;
    }
    if (recur_cls_dataset_read(&train, pos[0], &rc_train, &err) ||
        recur_cls_dataset_read(&dev, pos[1], &rc_eval, &err) ||
        (pos[2] && recur_cls_dataset_read(&test, pos[2], &rc_eval, &err))) {
        cli_fail(CMD, "%s", err.msg);
        goto done;
    }
    if (o->train.resume) {
        if (recur_checkpoint_open(&ck, last_path, &err) ||
            recur_vocab_from_json(&vocab, RECUR_LEVEL_WORD, recur_checkpoint_meta(ck, "recur.vocab"), &err) ||
            recur_checkpoint_load_model(ck, &m, &err)) {
            cli_fail(CMD, "--resume: %s", err.msg);
            goto done;
        }
        const char *l = recur_checkpoint_meta(ck, "recur.labels");
        if (!l || !(labels = strdup(l))) {
            cli_fail(CMD, "--resume: %s has no labels", last_path);
            goto done;
        }
    } else {
        if (recur_cls_dataset_vocab(train, o->min_count, o->max_vocab, &vocab, &err) ||
            recur_cls_dataset_labels_json(train, &rc_train, &labels, &err)) {
            cli_fail(CMD, "%s", err.msg);
            goto done;
        }
    }
    json_error_t je;
    labels_arr = json_loads(labels, 0, &je);
    if (recur_vocab_to_json(vocab, &vocab_json, &err)) {
        cli_fail(CMD, "%s", err.msg);
        goto done;
    }
    if (class_weights(o->class_weights, train, labels_arr, &weights))
        goto done;
    const recur_cls_pool pool = (recur_cls_pool)recur_cls_pool_parse(o->pool);
    if (!m) {
        recur_cls_model_config mc;
        model_config(o, recur_vocab_size(vocab), (int)json_array_size(labels_arr), &mc);
        if (recur_cls_model_create(&m, &mc, (uint64_t)o->train.seed, &err)) {
            cli_fail(CMD, "model: %s", err.msg);
            goto done;
        }
        /* <unk> starts at zeros: with every training word in the vocabulary it
         * is never trained, and an unseen word then adds nothing */
        recur_tensor_info emb;
        int32_t unk = recur_vocab_unk(vocab);
        if (unk >= 0 && recur_model_find_tensor(m, "embedding.weight", &emb) == RECUR_OK)
            memset(emb.data + (size_t)unk * (size_t)emb.shape[1], 0, (size_t)emb.shape[1] * sizeof *emb.data);
        if (*o->embeddings) {
            size_t found;
            if (recur_cls_load_embeddings(m, vocab, o->embeddings, o->lower, &found, &err)) {
                cli_fail(CMD, "--embeddings: %s", err.msg);
                goto done;
            }
            fprintf(stderr, "%s: %zu of %d words from %s\n", CMD, found, recur_vocab_size(vocab), o->embeddings);
        }
    }
    recur_cls_task_config tc = {.pool = pool, .batch = (int)o->batch, .dropout = (float)o->dropout,
                                .class_weights = weights, .seed = (uint64_t)o->train.seed};
    if (recur_cls_task_create(&task, m, vocab, labels, train, dev, &tc, &err)) {
        cli_fail(CMD, "%s", err.msg);
        goto done;
    }
    settings = settings_text(o, pos);
    extra = recur_cls_extra_config(pool, &rc_eval);
    if (!settings || !extra) {
        cli_fail(CMD, "out of memory");
        goto done;
    }
    recur_meta_entry meta[3] = {{"recur.vocab", vocab_json}, {"recur.labels", labels}, {"recur.classify.train", settings}};
    recur_task tk = recur_cls_task_callbacks(task);
    tk.extra_config = extra;
    tk.meta = meta;
    tk.n_meta = 3;
    recur_input_file inputs[3] = {{"TRAIN", pos[0]}, {"DEV", pos[1]}, {"TEST", pos[2] ? pos[2] : ""}};
    recur_trainer_config tcfg;
    train_opts_config(&o->train, &tcfg);
    tcfg.inputs = inputs;
    tcfg.n_inputs = pos[2] ? 3 : 2;
    train_signals_install();
    if (recur_trainer_create(&tr, m, &tk, &tcfg, &err)) {
        cli_fail(CMD, "%s", err.msg);
        goto done;
    }
    const recur_model_config *mc = recur_model_get_config(m);
    recur_trainer_message(tr, "%s, %d classes; train %zu examples%s, dev %zu, vocabulary %d; %lld batches of %lld",
                          rc_train.format == RECUR_CLS_SST ? "SST" : "TSV", (int)json_array_size(labels_arr),
                          recur_cls_dataset_size(train), o->phrases ? " (sentences and phrases)" : "",
                          recur_cls_dataset_size(dev), recur_vocab_size(vocab),
                          (long long)recur_cls_task_batches(task), o->batch);
    recur_trainer_message(tr, "model %s%s %dx%d, embedding %d, pool %s, dropout %g (embedding %g): %zu parameters; %s lr %g",
                          mc->rnn.bidirectional ? "bi" : "", o->cell, mc->rnn.num_layers, mc->rnn.hidden_size,
                          mc->embed_size, o->pool, o->dropout, o->dropout_embed, recur_model_num_params(m),
                          o->train.optim, o->train.lr);
    recur_status st = recur_trainer_run(tr);
    if (st != RECUR_OK) {
        if (st != RECUR_ERR_INTERRUPTED)
            cli_fail(CMD, "%s", recur_trainer_errmsg(tr));
        rc = train_exit_status(st);
        goto done;
    }
    double seconds = recur_trainer_seconds(tr);
    char best_path[4200];
    snprintf(best_path, sizeof best_path, "%s", recur_trainer_best_path(tr));
    int has_best = recur_trainer_has_best(tr);
    recur_trainer_free(tr);
    tr = NULL;
    if (!has_best) {
        fprintf(stderr, "%s: no epoch finished and no model was kept\n", CMD);
        rc = 0;
        goto done;
    }
    if (recur_classifier_open(&best, best_path, 64, &err)) {
        cli_fail(CMD, "%s", err.msg);
        goto done;
    }
    printf("model      %s\n", best_path);
    if (final_score(best, "dev", dev, pos[1]) || (test && final_score(best, "test", test, pos[2])))
        goto done;
    printf("time       %.1f s training in this run\n", seconds);
    fflush(stdout);
    rc = 0;
done:
    train_signals_restore();
    recur_trainer_free(tr);
    recur_classifier_free(best);
    recur_cls_task_free(task);
    recur_checkpoint_close(ck);
    recur_model_free(m);
    recur_vocab_free(vocab);
    recur_cls_dataset_free(train);
    recur_cls_dataset_free(dev);
    recur_cls_dataset_free(test);
    json_decref(labels_arr);
    free(labels);
    free(vocab_json);
    free(settings);
    free(extra);
    free(weights);
    return rc;
}

static const char *const RESUMABLE[] = {NULL};

static void defaults_any(void *o) { defaults(o); }
static void table_any(void *o, cli_opt *t) { table(o, t); }
static train_opts *common_any(void *o) { return &((cls_train_opts *)o)->train; }

int classify_cmd_train(int argc, char **argv)
{
    static const char *const files[3] = {"train", "dev", "test"};
    static const train_cmd cmd = {
        .name = "recur classify train",
        .usage = "[OPTIONS] TRAIN DEV [TEST]\n\n"
                            "Trains a sentence classifier on TRAIN, choosing the model by its accuracy\n"
                            "on DEV after each epoch; TEST (optional) is scored with the best model.",
        .record = "recur.classify.train",
        .file_names = files,
        .second_file = "development",
        .resumable = RESUMABLE,
        .opts_size = sizeof(cls_train_opts),
        .defaults = defaults_any,
        .table = table_any,
        .common = common_any,
    };
    cls_train_opts o;
    defaults(&o);
    const char *pos[3];
    int npos;
    json_t *stored;
    int rc = train_cmd_parse(&cmd, &o, argc, argv, pos, &npos, &stored);
    if (rc < 0)
        rc = run(&o, pos);
    json_decref(stored);
    return rc;
}
