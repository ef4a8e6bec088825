/*
 * lstm_speed.c - forward+backward throughput of a recurrent stack (float
 * inputs, the gradient of a random linear function of the outputs), as
 * tokens (steps x sequences) per second: the median of timed iterations
 * after warm-up.  Run beside bench/lstm_speed_torch.py by bench/first_speed.sh.
 *
 * usage: lstm_speed [--cell lstm|gru|rnn_tanh] [--hidden 512] [--layers 2]
 *                   [--batch 32] [--steps 64] [--iters 20] [--warmup 3] [--threads 0]
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

int main(int argc, char **argv)
{
    int hidden = 512, layers = 2, batch = 32, steps = 64, iters = 20, warmup = 3, threads = 0;
    recur_cell cell = RECUR_CELL_LSTM;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "lstm_speed: option %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--cell")) {
            cell = !strcmp(v, "gru") ? RECUR_CELL_GRU : !strcmp(v, "rnn_tanh") ? RECUR_CELL_RNN_TANH : RECUR_CELL_LSTM;
            if (cell == RECUR_CELL_LSTM && strcmp(v, "lstm")) {
                fprintf(stderr, "lstm_speed: unknown cell %s\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--hidden")) hidden = atoi(v);
        else if (!strcmp(a, "--layers")) layers = atoi(v);
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--iters")) iters = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else {
            fprintf(stderr, "lstm_speed: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (iters < 1 || iters > 10000) {
        fprintf(stderr, "lstm_speed: --iters must be in 1..10000\n");
        return 2;
    }
    recur_set_num_threads(threads);
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.rnn.cell = cell;
    cfg.rnn.input_size = hidden;
    cfg.rnn.hidden_size = hidden;
    cfg.rnn.num_layers = layers;
    recur_error err;
    recur_model *m;
    recur_run *r;
    if (recur_model_create(&m, &cfg, 1, &err) || recur_run_create(&r, m, steps, batch, &err)) {
        fprintf(stderr, "lstm_speed: %s\n", err.msg);
        return 1;
    }
    size_t n = (size_t)steps * batch * hidden;
    float *x = malloc(n * sizeof *x), *dy = malloc(n * sizeof *dy);
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
        dy[i] = (float)((i * 40503u) % 1000) / 1000.0f - 0.5f;
    }
    recur_batch bt = {.T = steps, .B = batch, .inputs = x};
    double *times = malloc(iters * sizeof *times);
    for (int it = -warmup; it < iters; it++) {
        double t0 = now();
        recur_model_zero_grad(m);
        if (recur_forward(r, &bt, 1, NULL, NULL) || recur_backward(r, 0, dy, NULL, NULL)) {
            fprintf(stderr, "lstm_speed: %s\n", recur_run_errmsg(r));
            return 1;
        }
        if (it >= 0)
            times[it] = now() - t0;
    }
    qsort(times, iters, sizeof *times, cmp_double);
    double med = times[iters / 2];
    printf("%.1f\n", (double)steps * batch / med);
    free(times);
    free(x);
    free(dy);
    recur_run_free(r);
    recur_model_free(m);
    return 0;
}
