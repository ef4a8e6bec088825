/*
 * speed_tag.c - recur side of the tagger section of bench/speed.py: the
 * BiLSTM-CRF entity tagger of `recur tag train` (character BiLSTM 25+25,
 * word embedding 100, capitalisation embedding 10, word BiLSTM 100+100,
 * dropout 0.5, CRF) on CoNLL-2003, timed as bench/speed_tag_torch.py times
 * the same model in PyTorch:
 *   train  batches of 10 sentences of similar lengths: zero grads, forward,
 *          CRF loss, backward, clipping at 5, SGD step with momentum 0.9
 *   tag    the development file in batches of 64 sentences: forward and
 *          Viterbi decoding (after one untimed pass)
 * Prints one JSON line: training and tagging sentences per second (training
 * over the steps after warm-up until --min-time, tagging over whole passes
 * of the file) and the peak memory growth in MiB.
 *
 * usage: speed_tag TRAIN DEV [--threads n] [--min-time s] [--crf 0|1] [--chars 0|1]
 *                  [--tag-time s]
 * (--tag-time: tag for s seconds instead of min-time / 2, e.g. to profile
 * tagging after a short --min-time of training)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recur_tag.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    size_t n = strlen(field);
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            v = atol(line + n + 1);
            break;
        }
    fclose(f);
    return v;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "speed_tag: %s: %s\n", what, msg);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        die("usage", "speed_tag TRAIN DEV [--threads n] [--min-time s] [--crf 0|1] [--chars 0|1] [--tag-time s]");
    int threads = 1, crf = 1, chars = 1;
    double min_time = 10, tag_time = -1;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--min-time"))
            min_time = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--crf"))
            crf = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--chars"))
            chars = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tag-time"))
            tag_time = atof(argv[i + 1]);
        else
            die("unknown option", argv[i]);
    }
    long rss0 = status_kib("VmRSS");
    recur_set_num_threads(threads);
    recur_error err = {0};
    recur_tag_read_config rc;
    recur_tag_read_config_default(&rc);
    rc.tag_column = 4;
    recur_tag_corpus *train, *dev;
    if (recur_tag_corpus_read(&train, argv[1], &rc, &err) || recur_tag_corpus_read(&dev, argv[2], &rc, &err))
        die("reading", err.msg);
    recur_tagger_config c;
    recur_tagger_config_default(&c);
    c.caps_dim = 10;
    c.crf = crf;
    c.char_hidden = chars ? 25 : 0;
    recur_tag_task *task;
    if (recur_tag_task_create(&task, &c, train, dev, NULL, 10, 1, &err))
        die("task", err.msg);
    recur_model *m = recur_tag_task_model(task);
    recur_task k = recur_tag_task_callbacks(task);
    recur_optim_config oc;
    recur_optim_config_default(&oc, RECUR_OPTIM_SGD);
    oc.momentum = 0.9;
    oc.clip = 5;
    recur_optim *opt;
    if (recur_optim_create(&opt, m, &oc, &err))
        die("optimiser", err.msg);
    char msg[512];
    if (k.epoch_begin(k.ctx, 1, 0, msg))
        die("epoch", msg);
    const int64_t steps = k.epoch_steps(k.ctx);
    const int warmup = 5;
    int64_t sentences = 0, step = 0;
    double t0 = 0;
    for (;; step++) {
        if (step == warmup) {
            t0 = now();
            sentences = 0;
        }
        if (step % steps == 0 && step > 0 && k.epoch_begin(k.ctx, 1 + step / steps, 0, msg))
            die("epoch", msg);
        recur_model_zero_grad(m);
        double loss;
        int64_t count;
        if (k.step(k.ctx, 1, step % steps, &loss, &count, msg))
            die("step", msg);
        if (recur_optim_step(opt, 0.015, NULL, NULL))
            die("optimiser", recur_optim_errmsg(opt));
        sentences += count;
        if (step >= warmup && now() - t0 >= min_time)
            break;
    }
    double train_s = (double)sentences / (now() - t0);
    /* tagging: the model through its file, as `recur tag predict` loads it */
    char path[] = "/tmp/speed_tag_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        die("temporary file", path);
    recur_train_state ts;
    memset(&ts, 0, sizeof ts);
    if (recur_checkpoint_save(m, NULL, NULL, path, k.extra_config, k.meta, k.n_meta, &err))
        die("saving", err.msg);
    recur_tagger *tg;
    if (recur_tagger_open(&tg, path, &err))
        die("tagger", err.msg);
    remove(path);
    /* one untimed pass: buffers sized and touched (the PyTorch side does the same) */
    recur_conlleval *warm;
    recur_conlleval_create(&warm, &err);
    if (recur_tagger_eval_corpus(tg, dev, warm))
        die("tagging", recur_tagger_errmsg(tg));
    recur_conlleval_free(warm);
    int64_t tagged = 0;
    double t1 = now();
    do {
        recur_conlleval *e;
        recur_conlleval_create(&e, &err);
        if (recur_tagger_eval_corpus(tg, dev, e))
            die("tagging", recur_tagger_errmsg(tg));
        recur_conlleval_free(e);
        tagged += recur_tag_corpus_sentences(dev);
    } while (now() - t1 < (tag_time >= 0 ? tag_time : min_time / 2));
    double tag_s = (double)tagged / (now() - t1);
    long peak = status_kib("VmHWM");
    printf("{\"train_sent_s\": %.2f, \"tag_sent_s\": %.2f, \"steps\": %lld, \"peak_mib\": %.1f}\n", train_s,
           tag_s, (long long)(step - warmup + 1), (double)(peak - rss0) / 1024.0);
    recur_tagger_free(tg);
    recur_optim_free(opt);
    recur_tag_task_free(task);
    recur_tag_corpus_free(train);
    recur_tag_corpus_free(dev);
    return 0;
}
