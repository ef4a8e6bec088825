/*
 * speed.c - recur side of bench/speed.py: one configuration, timed.
 *
 * The model is [embedding] -> LSTM/GRU/RNN stack -> linear decoder ->
 * softmax cross-entropy, as bench/speed_torch.py builds it, and one of three
 * modes is timed:
 *   train     zero_grad, forward, backward, SGD step with clipping at 5; the
 *             recurrent state is carried from one batch to the next unless
 *             the stack is bidirectional
 *   score     forward with the loss, no dropout, no backward
 *   generate  batch 1, one token at a time, argmax of the logits: through a
 *             recur_stepper (--stepper 1, the default), or recur_forward with
 *             T = B = 1 and the state carried through h0/c0 (--stepper 0)
 * Prints one JSON line: tokens per second (median of the timed steps after
 * warm-up), the number of timed steps, and peak memory: the process's peak
 * resident set (VmHWM) at the end less its resident set at the start, MiB.
 *
 * usage: speed --mode train|score|generate --cell lstm|gru|rnn_tanh
 *              --vocab V --embed E --hidden H --layers L --bidir 0|1 --out O
 *              --batch B --steps T [--dropout p] [--threads n] [--warmup n]
 *              [--min-iters n] [--min-time s] [--max-iters n] [--stepper 0|1]
 *              [--precision fp32|bf16|int8]   (train, score: the products,
 *              fp32 or bf16; generate: the stepper's weights, any of them)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recur.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* the greedy choice of generation: the first largest logit */
static int32_t argmax(const recur_real *z, int n)
{
    int best = 0;
    for (int k = 1; k < n; k++)
        if (z[k] > z[best])
            best = k;
    return best;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "speed: %s: %s\n", what, msg);
    exit(1);
}

int main(int argc, char **argv)
{
    long base_kib = status_kib("VmRSS");
    const char *mode = "train", *cell = "lstm", *precision = "fp32";
    int vocab = 0, embed = 0, hidden = 0, layers = 2, bidir = 0, out = 0, batch = 0, steps = 0;
    int threads = 0, warmup = 2, min_iters = 5, max_iters = 500, use_stepper = 1;
    double dropout = 0, min_time = 2.0;
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "speed: option %s needs a value\n", k);
            return 2;
        }
        if (!strcmp(k, "--mode")) mode = v;
        else if (!strcmp(k, "--cell")) cell = v;
        else if (!strcmp(k, "--vocab")) vocab = atoi(v);
        else if (!strcmp(k, "--embed")) embed = atoi(v);
        else if (!strcmp(k, "--hidden")) hidden = atoi(v);
        else if (!strcmp(k, "--layers")) layers = atoi(v);
        else if (!strcmp(k, "--bidir")) bidir = atoi(v);
        else if (!strcmp(k, "--out")) out = atoi(v);
        else if (!strcmp(k, "--batch")) batch = atoi(v);
        else if (!strcmp(k, "--steps")) steps = atoi(v);
        else if (!strcmp(k, "--dropout")) dropout = atof(v);
        else if (!strcmp(k, "--threads")) threads = atoi(v);
        else if (!strcmp(k, "--warmup")) warmup = atoi(v);
        else if (!strcmp(k, "--min-iters")) min_iters = atoi(v);
        else if (!strcmp(k, "--min-time")) min_time = atof(v);
        else if (!strcmp(k, "--max-iters")) max_iters = atoi(v);
        else if (!strcmp(k, "--stepper")) use_stepper = atoi(v);
        else if (!strcmp(k, "--precision")) precision = v;
        else {
            fprintf(stderr, "speed: unknown option %s\n", k);
            return 2;
        }
    }
    int train = !strcmp(mode, "train"), gen = !strcmp(mode, "generate");
    if (!train && !gen && strcmp(mode, "score"))
        die("--mode", "must be train, score or generate");
    if (max_iters < 1 || min_iters < 1 || min_iters > max_iters)
        die("--min-iters/--max-iters", "need 1 <= min <= max");
    recur_precision prec;
    if (recur_precision_parse(precision, &prec))
        die("--precision", "must be fp32, bf16 or int8");
    recur_set_num_threads(threads);

    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.rnn.cell = !strcmp(cell, "gru") ? RECUR_CELL_GRU : !strcmp(cell, "rnn_tanh") ? RECUR_CELL_RNN_TANH
                                                                                        : RECUR_CELL_LSTM;
    cfg.vocab_size = vocab;
    cfg.embed_size = embed;
    cfg.rnn.hidden_size = hidden;
    cfg.rnn.num_layers = layers;
    cfg.rnn.bidirectional = bidir;
    cfg.rnn.dropout = (float)dropout;
    cfg.dropout_embed = (float)dropout;
    cfg.dropout_output = (float)dropout;
    cfg.output_size = out;
    recur_error err;
    recur_model *m;
    recur_run *r;
    int T = gen ? 1 : steps, B = gen ? 1 : batch;
    if (recur_model_create(&m, &cfg, 1, &err) || recur_run_create(&r, m, T, B, &err))
        die("setup", err.msg);
    /* generation with fixed weights: the first layer's input products from a
     * table (what recur lm sample does for a character model) */
    if (gen && !use_stepper && recur_run_cache_input_projection(r, 1))
        die("cache", recur_run_errmsg(r));
    if (!gen && recur_model_set_precision(m, prec))
        die("--precision", recur_model_errmsg(m));
    recur_stepper *stp = NULL;
    if (gen && use_stepper && recur_stepper_create(&stp, m, &err))
        die("stepper", err.msg);
    if (gen && prec != RECUR_PRECISION_FP32 && (!stp || recur_stepper_set_weights(stp, prec)))
        die("--precision", stp ? recur_stepper_errmsg(stp) : "quantised weights need the stepper");
    recur_optim *o = NULL;
    recur_optim_config oc;
    recur_optim_config_default(&oc, RECUR_OPTIM_SGD);
    oc.clip = 5;
    if (train && recur_optim_create(&o, m, &oc, &err))
        die("optimiser", err.msg);

    const int LD = layers * (bidir ? 2 : 1), lstm = cfg.rnn.cell == RECUR_CELL_LSTM;
    size_t ns = (size_t)LD * B * hidden;
    recur_real *h = calloc(ns, sizeof *h), *c = calloc(ns, sizeof *c);
    int32_t *x = malloc((size_t)T * B * sizeof *x), *y = malloc((size_t)T * B * sizeof *y);
    uint64_t seed = 2;
    for (int i = 0; i < T * B; i++) {
        x[i] = (int32_t)(lcg(&seed) % (uint64_t)vocab);
        y[i] = (int32_t)(lcg(&seed) % (uint64_t)out);
    }
    recur_batch bt = {.T = T, .B = B, .tokens = x, .targets = gen ? NULL : y};
    int carry = !bidir, first = 1;

    double *times = malloc((size_t)max_iters * sizeof *times);
    int n_times = 0;
    double start = 0;
    for (int it = -warmup;; it++) {
        if (it == 0)
            start = now();
        if (it >= 0 && (n_times >= max_iters || (n_times >= min_iters && now() - start >= min_time)))
            break;
        double t0 = now();
        if (gen && stp) {
            for (int s = 0; s < steps; s++) {
                if (recur_stepper_feed(stp, x[0]))
                    die("stepper", recur_stepper_errmsg(stp));
                x[0] = argmax(recur_stepper_logits(stp), out);
            }
        } else if (gen) {
            for (int s = 0; s < steps; s++) {
                bt.h0 = first ? NULL : h;
                bt.c0 = first || !lstm ? NULL : c;
                if (recur_forward(r, &bt, 0, NULL, NULL))
                    die("forward", recur_run_errmsg(r));
                memcpy(h, recur_run_hn(r), ns * sizeof *h);
                if (lstm)
                    memcpy(c, recur_run_cn(r), ns * sizeof *c);
                x[0] = argmax(recur_run_logits(r), out);
                first = 0;
            }
        } else {
            bt.h0 = carry && !first ? h : NULL;
            bt.c0 = carry && !first && lstm ? c : NULL;
            if (train)
                recur_model_zero_grad(m);
            if (recur_forward(r, &bt, train, NULL, NULL))
                die("forward", recur_run_errmsg(r));
            if (train && recur_backward(r, 1.0, NULL, NULL, NULL))
                die("backward", recur_run_errmsg(r));
            if (train && recur_optim_step(o, 0.01, NULL, NULL))
                die("optimiser", recur_optim_errmsg(o));
            if (carry) {
                memcpy(h, recur_run_hn(r), ns * sizeof *h);
                if (lstm)
                    memcpy(c, recur_run_cn(r), ns * sizeof *c);
            }
            first = 0;
        }
        if (it >= 0)
            times[n_times++] = now() - t0;
    }
    qsort(times, n_times, sizeof *times, cmp_double);
    double med = times[n_times / 2];
    long peak_kib = status_kib("VmHWM");
    printf("{\"tok_s\": %.3f, \"iters\": %d, \"peak_mib\": %.3f}\n", (double)steps * (gen ? 1 : B) / med, n_times,
           (peak_kib - base_kib) / 1024.0);
    free(times);
    free(h);
    free(c);
    free(x);
    free(y);
    recur_optim_free(o);
    recur_stepper_free(stp);
    recur_run_free(r);
    recur_model_free(m);
    return 0;
}
