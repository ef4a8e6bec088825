/*
 * speed_classify.c - recur's side of bench/speed.py's classifier section:
 * sentences per second of training and of prediction for a sentence
 * classifier on real sentences (SST-2's training sentences, whose lengths
 * and vocabulary are what the benchmark is about).
 *
 *   train    the task's steps as the trainer takes them: batches of
 *            similar length (recur_cls_task), forward, backward, Adam with
 *            clipping at 5; dropout as given
 *   predict  the same sentences classified in length order, batches of 64,
 *            through the library's classifier (recur_classifier_classify:
 *            words as strings, the model from its file)
 *
 * usage: speed_classify --data SST_TRAIN [--cell lstm] [--embed 300]
 *        [--hidden 150] [--layers 1] [--bidir 1] [--pool max] [--batch 32]
 *        [--dropout 0.5] [--threads N] [--min-time S]
 * Prints one JSON line: {"train_s":..,"predict_s":..,"peak_mib":..}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "recur_classify.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':')
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "speed_classify: %s: %s\n", what, msg);
    exit(1);
}

int main(int argc, char **argv)
{
    const char *data = NULL, *cell = "lstm", *pool = "max";
    int embed = 300, hidden = 150, layers = 1, bidir = 1, batch = 32, threads = 0;
    double dropout = 0.5, min_time = 1.5;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--data")) data = v;
        else if (!strcmp(k, "--cell")) cell = v;
        else if (!strcmp(k, "--pool")) pool = v;
        else if (!strcmp(k, "--embed")) embed = atoi(v);
        else if (!strcmp(k, "--hidden")) hidden = atoi(v);
        else if (!strcmp(k, "--layers")) layers = atoi(v);
        else if (!strcmp(k, "--bidir")) bidir = atoi(v);
        else if (!strcmp(k, "--batch")) batch = atoi(v);
        else if (!strcmp(k, "--dropout")) dropout = atof(v);
        else if (!strcmp(k, "--threads")) threads = atoi(v);
        else if (!strcmp(k, "--min-time")) min_time = atof(v);
        else die(k, "unknown option");
    }
    if (!data)
        die("--data", "needed (SST train.txt)");
    recur_set_num_threads(threads);
    recur_error err = {0};
    recur_cls_read_config rc;
    recur_cls_read_config_default(&rc);
    rc.format = RECUR_CLS_SST;
    rc.classes = 2;
    recur_cls_dataset *d;
    if (recur_cls_dataset_read(&d, data, &rc, &err))
        die(data, err.msg);
    recur_vocab *v;
    char *labels;
    if (recur_cls_dataset_vocab(d, 1, 0, &v, &err) || recur_cls_dataset_labels_json(d, &rc, &labels, &err))
        die(data, err.msg);
    long base_kib = status_kib("VmRSS");
    recur_cls_model_config mc;
    memset(&mc, 0, sizeof mc);
    recur_model_config_default(&mc.base);
    mc.base.vocab_size = recur_vocab_size(v);
    mc.base.embed_size = embed;
    mc.base.rnn.cell = !strcmp(cell, "gru") ? RECUR_CELL_GRU : !strcmp(cell, "rnn_tanh") ? RECUR_CELL_RNN_TANH
                                                                                       : RECUR_CELL_LSTM;
    mc.base.rnn.hidden_size = hidden;
    mc.base.rnn.num_layers = layers;
    mc.base.rnn.bidirectional = bidir;
    mc.base.rnn.dropout = (float)dropout;
    mc.base.dropout_embed = (float)dropout;
    mc.pool = (recur_cls_pool)recur_cls_pool_parse(pool);
    mc.classes = 2;
    recur_model *m;
    if ((int)mc.pool < 0)
        die("--pool", pool);
    if (recur_cls_model_create(&m, &mc, 1, &err))
        die("model", err.msg);
    recur_cls_task_config tc = {.pool = mc.pool, .batch = batch, .dropout = (float)dropout, .seed = 1};
    recur_cls_task *task;
    /* the development set is the training set: prediction reads every sentence */
    if (recur_cls_task_create(&task, m, v, labels, d, d, &tc, &err))
        die("task", err.msg);
    recur_task k = recur_cls_task_callbacks(task);
    recur_optim_config oc;
    recur_optim_config_default(&oc, RECUR_OPTIM_ADAM);
    oc.clip = 5;
    recur_optim *o;
    if (recur_optim_create(&o, m, &oc, &err))
        die("optim", err.msg);
    char msg[512];
    const int64_t nb = recur_cls_task_batches(task);
    /* training: after 5 warm-up batches, whole batches until min_time has passed */
    k.epoch_begin(k.ctx, 1, 0, msg);
    int64_t sentences = 0, step = 0;
    double t0 = 0;
    for (;; step++) {
        if (step == 5)
            t0 = now();
        if (step % nb == 0 && step)
            k.epoch_begin(k.ctx, 1 + step / nb, 0, msg);
        double loss;
        int64_t count;
        recur_model_zero_grad(m);
        if (k.step(k.ctx, 1, step % nb, &loss, &count, msg) || recur_optim_step(o, 1e-3, NULL, NULL))
            die("step", msg);
        if (step >= 5)
            sentences += count;
        if (step >= 5 && now() - t0 >= min_time)
            break;
    }
    double train_s = (double)sentences / (now() - t0);
    /* prediction: the model from its file, every sentence in length order
     * in batches of 64, as many passes as min_time needs after one warm-up */
    char dir[] = "/tmp/recur_speed_classifyXXXXXX", path[256];
    if (!mkdtemp(dir))
        die("mkdtemp", "failed");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    char *vj = NULL, *extra = recur_cls_extra_config(mc.pool, &rc);
    if (recur_vocab_to_json(v, &vj, &err))
        die("vocab", err.msg);
    recur_meta_entry meta[2] = {{"recur.vocab", vj}, {"recur.labels", labels}};
    recur_classifier *cl;
    if (recur_checkpoint_save(m, NULL, NULL, path, extra, meta, 2, &err) || recur_classifier_open(&cl, path, 64, &err))
        die("classifier", err.msg);
    unlink(path);
    rmdir(dir);
    const size_t n = recur_cls_dataset_size(d);
    size_t *order = malloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) /* insertion sort by length: stable, n is small */
        for (size_t j = i; j > 0 && recur_cls_dataset_length(d, order[j - 1]) > recur_cls_dataset_length(d, order[j]); j--) {
            size_t x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    const char **words = malloc(64 * 256 * sizeof *words);
    const char *const *sent[64];
    int lens[64];
    double probs[64 * 2];
    int passes = -1;
    t0 = 0;
    while (passes < 1 || now() - t0 < min_time) {
        if (passes++ == 0)
            t0 = now();
        for (size_t s0 = 0; s0 < n; s0 += 64) {
            int B = (int)(n - s0 < 64 ? n - s0 : 64);
            for (int b = 0; b < B; b++) {
                size_t i = order[s0 + (size_t)b];
                lens[b] = recur_cls_dataset_length(d, i);
                if (lens[b] > 256)
                    die("sentence", "longer than 256 words");
                for (int k = 0; k < lens[b]; k++)
                    words[b * 256 + k] = recur_cls_dataset_word(d, i, k);
                sent[b] = words + b * 256;
            }
            if (recur_classifier_classify(cl, sent, lens, B, probs, NULL))
                die("classify", recur_classifier_errmsg(cl));
        }
    }
    double predict_s = (double)passes * (double)n / (now() - t0);
    recur_classifier_free(cl);
    free(order);
    free(words);
    free(vj);
    free(extra);
    printf("{\"train_s\": %.1f, \"predict_s\": %.1f, \"peak_mib\": %.1f, \"sentences\": %zu}\n", train_s,
           predict_s, (double)(status_kib("VmHWM") - base_kib) / 1024.0, recur_cls_dataset_size(d));
    recur_optim_free(o);
    recur_cls_task_free(task);
    recur_model_free(m);
    recur_vocab_free(v);
    recur_cls_dataset_free(d);
    free(labels);
    return 0;
}
