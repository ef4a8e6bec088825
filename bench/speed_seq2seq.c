/*
 * speed_seq2seq.c - recur's side of bench/speed.py for the encoder-decoder:
 * a G2P-sized model (bidirectional LSTM encoder, LSTM decoder, general
 * attention, linear bridge, no input feeding) on synthetic batches of
 * `batch` words of `src` characters and `tgt` phonemes.
 *
 *   --mode train   zero the gradients, teacher-forced loss (label smoothing
 *                  0.1) and backward, Adam step with clipping at 5
 *   --mode decode  greedy search of the batch, always `tgt` steps and </s>
 *                  (the output bias of </s> is lowered so no word ends early)
 *   --feed 1       with input feeding (one decoder run per target step)
 *
 * Prints one JSON line as bench/speed.c does: words per second (as tok_s,
 * median of the timed steps after warm-up), steps timed, peak memory (MiB).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tasks/seq2seq/s2s_internal.h"

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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "speed_seq2seq: %s: %s\n", what, msg);
    exit(1);
}

int main(int argc, char **argv)
{
    long base_kib = status_kib("VmRSS");
    const char *mode = "train";
    int embed = 128, hidden = 256, batch = 64, src_len = 8, tgt_len = 7, vs = 28, vt = 42;
    int threads = 0, warmup = 2, min_iters = 5, max_iters = 500, feed = 0;
    double min_time = 2.0;
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die(k, "needs a value");
        if (!strcmp(k, "--mode")) mode = v;
        else if (!strcmp(k, "--embed")) embed = atoi(v);
        else if (!strcmp(k, "--hidden")) hidden = atoi(v);
        else if (!strcmp(k, "--batch")) batch = atoi(v);
        else if (!strcmp(k, "--src")) src_len = atoi(v);
        else if (!strcmp(k, "--tgt")) tgt_len = atoi(v);
        else if (!strcmp(k, "--threads")) threads = atoi(v);
        else if (!strcmp(k, "--min-time")) min_time = atof(v);
        else if (!strcmp(k, "--min-iters")) min_iters = atoi(v);
        else if (!strcmp(k, "--max-iters")) max_iters = atoi(v);
        else if (!strcmp(k, "--warmup")) warmup = atoi(v);
        else if (!strcmp(k, "--feed")) feed = atoi(v);
        else
            die(k, "unknown option");
    }
    const int train = !strcmp(mode, "train");
    if (!train && strcmp(mode, "decode"))
        die("--mode", "must be train or decode");
    recur_set_num_threads(threads);
    /* a vocabulary of vs - 1 source characters and vt - 3 target words */
    char *pairs = malloc((size_t)(vs + vt) * 16 + 64), *p = pairs;
    for (int i = 0; i < (vs > vt ? vs : vt); i++)
        p += sprintf(p, "%c\tP%d\n", i < vs - 1 ? 'A' + (i % 26) + (i >= 26 ? 6 : 0) : 'A',
                     i < vt - 3 ? i : 0);
    recur_s2s_pairs *prs;
    recur_error err;
    if (recur_s2s_pairs_parse(&prs, pairs, strlen(pairs), "synthetic", RECUR_LEVEL_CHAR,
                              RECUR_LEVEL_WORD, 0, &err))
        die("pairs", err.msg);
    recur_s2s_config c;
    recur_s2s_config_default(&c);
    c.source_embed = c.target_embed = embed;
    c.encoder_hidden = c.decoder_hidden = hidden;
    c.dropout = 0.2f;
    c.input_feeding = feed;
    recur_s2s *s;
    if (recur_s2s_create(&s, &c, prs, 1, &err))
        die("model", err.msg);
    recur_s2s_pairs_free(prs);
    const int V = s->V, VS = s->src->n, B = batch, S = src_len, T = tgt_len + 1;
    int32_t *src = malloc((size_t)S * B * sizeof *src), *sl = malloc((size_t)B * sizeof *sl);
    int32_t *tin = malloc((size_t)T * B * sizeof *tin), *tout = malloc((size_t)T * B * sizeof *tout);
    int32_t *tl = malloc((size_t)B * sizeof *tl);
    uint64_t seed = 7;
    for (int b = 0; b < B; b++) {
        sl[b] = S;
        tl[b] = T;
        for (int i = 0; i < S; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            src[i * B + b] = 1 + (int32_t)((seed >> 33) % (uint64_t)(VS - 1));
        }
        for (int i = 0; i < T; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int32_t y = 3 + (int32_t)((seed >> 33) % (uint64_t)(V - 3));
            tout[i * B + b] = i < T - 1 ? y : S2S_EOS;
            tin[i * B + b] = i == 0 ? S2S_BOS : tout[(i - 1) * B + b];
        }
    }
    s2s_work *w = NULL;
    recur_optim *o = NULL;
    s2s_decoder *d = NULL;
    recur_s2s_decode_config dc;
    recur_s2s_decode_config_default(&dc);
    dc.max_len_ratio = 0;
    dc.max_len_extra = tgt_len;
    const int32_t **srcs = malloc((size_t)B * sizeof *srcs);
    int32_t *rows = malloc((size_t)B * S * sizeof *rows);
    int *lens = malloc((size_t)B * sizeof *lens);
    recur_s2s_result *res = calloc((size_t)B, sizeof *res);
    if (train) {
        recur_optim_config oc;
        recur_optim_config_default(&oc, RECUR_OPTIM_ADAM);
        oc.clip = 5;
        if (s2s_work_create(&w, s, S, T, B, &err) || recur_optim_create(&o, s->m, &oc, &err))
            die("setup", err.msg);
    } else {
        s->out_b.w[S2S_EOS] = -100; /* every word runs tgt steps */
        if (s2s_decoder_create(&d, s, B, S, 1, &err))
            die("setup", err.msg);
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < S; i++)
                rows[b * S + i] = src[i * B + b];
            srcs[b] = rows + b * S;
            lens[b] = S;
        }
    }
    s2s_batch bt = {B, S, T, src, sl, tin, tout, tl};
    double *times = malloc((size_t)max_iters * sizeof *times);
    int n_times = 0;
    double start = 0;
    char msg[512];
    for (int it = -warmup;; it++) {
        if (it == 0)
            start = now();
        if (it >= 0 && (n_times >= max_iters || (n_times >= min_iters && now() - start >= min_time)))
            break;
        double t0 = now();
        if (train) {
            double nll;
            int64_t count;
            recur_model_zero_grad(s->m);
            if (s2s_batch_loss(s, w, &bt, 1, 1, 0.1, &nll, &count, msg))
                die("step", msg);
            if (recur_optim_step(o, 1e-3, NULL, NULL))
                die("optimiser", recur_optim_errmsg(o));
        } else {
            if (s2s_decode_many(d, srcs, lens, B, &dc, res, &err))
                die("decode", err.msg);
            if (res[0].hyps[0].n != tgt_len)
                die("decode", "a word ended early");
            for (int b = 0; b < B; b++)
                recur_s2s_result_clear(&res[b]);
        }
        if (it >= 0)
            times[n_times++] = now() - t0;
    }
    qsort(times, (size_t)n_times, sizeof *times, cmp_double);
    double med = times[n_times / 2];
    printf("{\"tok_s\": %.3f, \"iters\": %d, \"peak_mib\": %.3f}\n", (double)B / med, n_times,
           (double)(status_kib("VmHWM") - base_kib) / 1024.0);
    free(times);
    free(src);
    free(sl);
    free(tin);
    free(tout);
    free(tl);
    free(srcs);
    free(rows);
    free(lens);
    free(res);
    free(pairs);
    s2s_work_free(w);
    s2s_decoder_free(d);
    recur_optim_free(o);
    recur_s2s_free(s);
    return 0;
}
