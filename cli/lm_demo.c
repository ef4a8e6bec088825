/*
 * lm_demo.c - `recur lm demo`: the embedded default.  Trains a small
 * character-level LSTM on the fortune cookies of Debian's `fortunes` package
 * (/usr/share/games/fortunes: the plain-text files, not the .dat indexes or
 * .u8 copies; the `%` lines between fortunes become blank lines), for a fixed
 * time (two minutes by default), then prints samples at a few temperatures.
 * Every 200th fortune is held out for validation.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lm.h"
#include "strbuf.h"

int lm_cmd_demo(int argc, char **argv);

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

/* Splits one fortune file into fortunes; each goes to train or valid. */
static int add_file(const char *text, size_t len, strbuf *train, strbuf *valid, long *count)
{
    size_t i = 0, start = 0;
    while (i <= len) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        int sep = (e - i == 1 && text[i] == '%') || e == len;
        if (sep) {
            size_t end = e == len ? len : i;
            if (end > start) {
                strbuf *dst = (++*count % 200 == 0) ? valid : train;
                if (strbuf_add(dst, text + start, end - start) ||
                    (text[end - 1] != '\n' && strbuf_add(dst, "\n", 1)) || strbuf_add(dst, "\n", 1))
                    return -1;
            }
            start = e + 1;
        }
        i = e + 1;
    }
    return 0;
}

int lm_cmd_demo(int argc, char **argv)
{
    const char *cmd = "recur lm demo";
    const char *dir = "/usr/share/games/fortunes", *out = "lm-demo", *progress = "auto";
    double seconds = 110;
    long long threads = 0, seed = 1, hidden = 256, length = 300;
    cli_opt opts[] = {
        CLI_STR("fortunes", &dir, "DIR", "folder of the fortunes package's files", NULL),
        CLI_DUR("time", &seconds, "TIME", "training time: seconds, or 90s, 2m"),
        CLI_INT("hidden", &hidden, "N", "LSTM hidden units", 8, 4096),
        CLI_INT("length", &length, "N", "characters per sample", 1, 1000000),
        CLI_STR("out", &out, "DIR", "folder for the model (best.safetensors) and metrics", NULL),
        CLI_INT("seed", &seed, "S", "seed of training and sampling", 1, 9.2e18),
        CLI_THREADS(&threads),
        CLI_CHOICE("progress", &progress, "live line on a terminal, log lines otherwise", "auto|live|log|none"),
        CLI_END,
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse(cmd, "[OPTIONS]\n\nTrains a character model on Debian's fortunes (apt-get install fortunes)\n"
                           "for about two minutes and prints samples at temperatures 0.5, 0.8 and 1\n"
                           "(top-p 0.95, each from a blank line, where fortunes start).",
                      opts, argc, argv, pos, 0, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (seconds <= 0) {
        fprintf(stderr, "%s: --time must be positive\n", cmd);
        return 2;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: %s: cannot open the fortunes folder (install Debian's `fortunes` "
                        "package, or give --fortunes DIR)\n", cmd, dir);
        return 1;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || has_suffix(e->d_name, ".dat") || has_suffix(e->d_name, ".u8"))
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 64;
            char **nb = realloc(names, cap * sizeof *nb);
            if (!nb)
                break;
            names = nb;
        }
        names[nn] = strdup(e->d_name);
        if (names[nn])
            nn++;
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof *names, cmp_str);
    strbuf train = {0}, valid = {0};
    long fortunes = 0;
    int files = 0;
    for (size_t i = 0; i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        recur_error err = {0};
        char *text;
        size_t len;
        if (recur_text_read(path, &text, &len, &err) != RECUR_OK) {
            fprintf(stderr, "%s: skipping %s\n", cmd, err.msg);
            continue;
        }
        if (add_file(text, len, &train, &valid, &fortunes)) {
            free(text);
            fprintf(stderr, "%s: out of memory\n", cmd);
            rc = 1;
            goto done;
        }
        free(text);
        files++;
    }
    if (train.n < 10000 || valid.n < 100) {
        fprintf(stderr, "%s: %s: too little fortune text found (%zu bytes in %d files)\n", cmd,
                dir, train.n, files);
        rc = 1;
        goto done;
    }
    fprintf(stderr, "%s: %d files, %ld fortunes: %zu bytes to train on, %zu to validate\n", cmd,
            files, fortunes, train.n, valid.n);

    lm_train_opts o;
    lm_train_defaults(&o);
    o.preset = "char-rnn";
    o.level = "char";
    o.layers = 1;
    o.hidden = hidden;
    o.embed = 32;
    o.dropout = 0;
    o.init_scale = 0.08;
    o.train.optim = "adam";
    o.train.lr = 0.004;
    o.train.schedule = "constant";
    o.train.clip = 1;
    o.loss_scale = "mean";
    o.bptt = 64;
    o.batch = 32;
    o.train.epochs = 100;
    o.train.time_limit = seconds;
    o.train.seed = seed;
    o.train.threads = threads;
    o.train.out_dir = out;
    o.train.progress = progress;
    o.train.force = 1;
    o.valid_streams = 8;
    o.train_path = "fortunes (train)";
    o.valid_path = "fortunes (valid)";
    lm_text tr = {"fortunes (train)", train.s, train.n, 0};
    lm_text va = {"fortunes (valid)", valid.s, valid.n, 0};
    rc = lm_train_texts(&o, &tr, &va, NULL);
    if (rc)
        goto done;
    char best[4096];
    snprintf(best, sizeof best, "%s/best.safetensors", out);
    lm_file f;
    if (lm_file_load(best, &f)) {
        rc = 1;
        goto done;
    }
    double temps[3] = {0.5, 0.8, 1.0};
    for (int k = 0; k < 3 && !rc; k++) {
        /* from a blank line, where fortunes start; top-p keeps the rare
         * characters of the ASCII-art files from derailing a sample */
        printf("\n--- temperature %.1f, top-p 0.95 ---", temps[k]);
        fflush(stdout);
        lm_gen_opts g = {"\n\n", length, temps[k], 0, 0.95, (uint64_t)seed + (uint64_t)k, NULL, 0, RECUR_PRECISION_FP32};
        rc = lm_generate(f.model, f.vocab, &g, stdout);
    }
    printf("\n(the model is %s: try `recur lm sample %s --temperature 0.7`)\n", best, best);
    lm_file_close(&f);
done:
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    strbuf_free(&train);
    strbuf_free(&valid);
    return rc;
}
