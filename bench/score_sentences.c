/*
 * score_sentences.c - recur side of the sentence-scoring rows of
 * bench/speed.py: every line of a text file scored on its own from a fresh
 * state (recur_lm_score_batch), `--batch` lines side by side (1: one line
 * at a time), as bench/score_sentences_torch.py does with PyTorch.
 *
 * Words get ids by first appearance (the model is randomly initialised, so
 * only the shapes matter); each line is <eos> + its words + <eos>, id 0
 * being <eos>.  Whole passes over the file are timed until --min-time has
 * passed (at least --min-iters passes, after one warm-up pass over the
 * first 64 lines); prints one JSON line: sentences per second (median
 * pass), tokens predicted per second, passes, and the summed
 * log-probability of the last pass (the two sides' random weights differ,
 * so only its order of magnitude compares).
 *
 * usage: score_sentences --text FILE --vocab V --embed E --hidden H
 *            --layers L --batch B [--threads n] [--min-time s] [--min-iters n]
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

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "score_sentences: %s: %s\n", what, msg);
    exit(1);
}

/* words by first appearance: a linear-probing table of (word, id) */
typedef struct table {
    char **keys;
    int32_t *ids;
    size_t cap;
    int32_t next;
} table;

static int32_t word_id(table *t, const char *w, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)w[i]) * 1099511628211ull;
    for (size_t i = h % t->cap;; i = (i + 1) % t->cap) {
        if (!t->keys[i]) {
            t->keys[i] = strndup(w, n);
            t->ids[i] = t->next++;
            return t->ids[i];
        }
        if (strlen(t->keys[i]) == n && !memcmp(t->keys[i], w, n))
            return t->ids[i];
    }
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int vocab = 10000, embed = 200, hidden = 200, layers = 2, batch = 64, threads = 0, min_iters = 1;
    double min_time = 2.0;
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die(k, "needs a value");
        if (!strcmp(k, "--text")) path = v;
        else if (!strcmp(k, "--vocab")) vocab = atoi(v);
        else if (!strcmp(k, "--embed")) embed = atoi(v);
        else if (!strcmp(k, "--hidden")) hidden = atoi(v);
        else if (!strcmp(k, "--layers")) layers = atoi(v);
        else if (!strcmp(k, "--batch")) batch = atoi(v);
        else if (!strcmp(k, "--threads")) threads = atoi(v);
        else if (!strcmp(k, "--min-time")) min_time = atof(v);
        else if (!strcmp(k, "--min-iters")) min_iters = atoi(v);
        else die(k, "unknown option");
    }
    if (!path)
        die("--text", "missing");
    recur_set_num_threads(threads);
    recur_error err = {0};
    char *text;
    size_t len;
    if (recur_text_read(path, &text, &len, &err))
        die("text", err.msg);
    table t = {calloc(1 << 20, sizeof(char *)), calloc(1 << 20, sizeof(int32_t)), 1 << 20, 1};
    size_t n = 0, cap = 1024, ids_cap = 1 << 16, n_ids = 0, predicted = 0;
    size_t *start = malloc(cap * sizeof *start), *lens = malloc(cap * sizeof *lens);
    int32_t *all = malloc(ids_cap * sizeof *all);
    if (!t.keys || !t.ids || !start || !lens || !all)
        die("setup", "out of memory");
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        if (n == cap) {
            cap *= 2;
            start = realloc(start, cap * sizeof *start);
            lens = realloc(lens, cap * sizeof *lens);
        }
        if (n_ids + (e - i) + 2 > ids_cap) {
            ids_cap = 2 * (n_ids + (e - i) + 2);
            all = realloc(all, ids_cap * sizeof *all);
        }
        if (!start || !lens || !all)
            die("setup", "out of memory");
        start[n] = n_ids;
        all[n_ids++] = 0;
        for (size_t j = i; j < e;) {
            while (j < e && text[j] == ' ')
                j++;
            size_t w = j;
            while (j < e && text[j] != ' ')
                j++;
            if (j > w) {
                int32_t id = word_id(&t, text + w, j - w);
                if (id >= vocab)
                    die("--vocab", "the text has more distinct words");
                all[n_ids++] = id;
            }
        }
        all[n_ids++] = 0;
        lens[n] = n_ids - start[n];
        predicted += lens[n] - 1;
        n++;
        i = e + 1;
    }
    const int32_t **seqs = malloc(n * sizeof *seqs);
    double *lp = malloc(n * sizeof *lp);
    if (!seqs || !lp)
        die("setup", "out of memory");
    for (size_t i = 0; i < n; i++)
        seqs[i] = all + start[i];

    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.vocab_size = cfg.output_size = vocab;
    cfg.embed_size = embed;
    cfg.rnn.hidden_size = hidden;
    cfg.rnn.num_layers = layers;
    recur_model *m;
    if (recur_model_create(&m, &cfg, 1, &err))
        die("model", err.msg);
    if (recur_lm_score_batch(m, seqs, lens, n < 64 ? n : 64, batch, lp, NULL, &err)) /* warm-up */
        die("score", err.msg);
    double times[1000], sum = 0;
    int passes = 0;
    double t_start = now();
    while (passes < 1000 && (passes < min_iters || now() - t_start < min_time)) {
        double t0 = now();
        if (recur_lm_score_batch(m, seqs, lens, n, batch, lp, NULL, &err))
            die("score", err.msg);
        times[passes++] = now() - t0;
    }
    sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += lp[i];
    qsort(times, (size_t)passes, sizeof *times, cmp_double);
    double med = times[passes / 2];
    printf("{\"sent_s\": %.3f, \"tok_s\": %.3f, \"passes\": %d, \"sentences\": %zu, \"logprob\": %.6f}\n",
           (double)n / med, (double)predicted / med, passes, n, sum);
    recur_model_free(m);
    for (size_t i = 0; i < t.cap; i++)
        free(t.keys[i]);
    free(t.keys);
    free(t.ids);
    free(start);
    free(lens);
    free(all);
    free(seqs);
    free(lp);
    free(text);
    return 0;
}
