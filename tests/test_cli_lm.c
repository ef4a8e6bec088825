/*
 * test_cli_lm.c - the `recur lm` commands end to end, run as a user would:
 * the built program (beside this test: BUILD/recur, or $RECUR_BIN) on small
 * corpora written to a temporary folder.  Checks exit codes and messages:
 * --help lists every option with a default; impossible options, empty,
 * binary and invalid UTF-8 files, a validation file with no known token, a
 * model file of another task or a newer format version, a prime outside the
 * vocabulary, a diverging run; training, evaluation (the token-count
 * convention) and sampling at word and character level; --max-steps then
 * --resume reproducing an uninterrupted run; Ctrl-C writing a resumable
 * checkpoint and exiting 130; and what a careless user does to a run folder
 * (a failing run over an earlier model, two runs in one folder, SIGTERM, an
 * output that is an input, a resumed run given other files, a folder that
 * cannot be written, Ctrl-C during the final scoring).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "recur.h"

/* what recur_checkpoint_save says when it fails */
static recur_error save_err;

extern char **environ;

static char g_bin[4096];
static char g_dir[256];
static char g_out[8192], g_err[8192];

/* Paths inside the temporary folder; kept until teardown. */
static char *g_paths[4096];
static int g_npaths;

static char *path_in(const char *name)
{
    char *p = malloc(strlen(g_dir) + strlen(name) + 2);
    assert_non_null(p);
    sprintf(p, "%s/%s", g_dir, name);
    assert_true(g_npaths < 4096);
    g_paths[g_npaths++] = p;
    return p;
}

static void write_file(const char *name, const char *data, size_t n)
{
    FILE *f = fopen(path_in(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* The file's text, or its last cap - 1 bytes when longer. */
static void slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        fseek(f, size > (long)cap - 1 ? size - ((long)cap - 1) : 0, SEEK_SET);
    }
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Starts the program with args (NULL-terminated); output to the files
 * out and err in the temporary folder. */
static pid_t start_to(const char *const *args, const char *out, const char *err)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = g_bin;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, path_in(out), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, path_in(err), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, g_bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    return pid;
}

static pid_t start(const char *const *args) { return start_to(args, "stdout.txt", "stderr.txt"); }

/* Waits for a program started with start_to; g_out/g_err get its output. */
static int finish_from(pid_t pid, const char *out, const char *err)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    slurp(path_in(out), g_out, sizeof g_out);
    slurp(path_in(err), g_err, sizeof g_err);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

static int finish(pid_t pid) { return finish_from(pid, "stdout.txt", "stderr.txt"); }

/* Runs `recur ARGS...` and returns its exit status; g_out/g_err hold output. */
static int run(const char *a0, ...)
{
    const char *args[64];
    int n = 0;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && n < 63; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return finish(start(args));
}

static void expect_err(int rc, int want, const char *needle)
{
    if (rc != want || !strstr(g_err, needle)) {
        fprintf(stderr, "expected exit %d and '%s' in stderr; got exit %d, stderr:\n%s\n", want,
                needle, rc, g_err);
        fail();
    }
}

/* A small word corpus from a tiny grammar, deterministic. */
static void make_word_corpus(const char *name, int lines, unsigned seed)
{
    static const char *subj[] = {"the cat", "a dog", "the man", "my friend", "the bird"};
    static const char *verb[] = {"sees", "likes", "eats", "finds", "follows"};
    static const char *obj[] = {"the fish", "a ball", "the tree", "some bread", "the house"};
    char *buf = malloc((size_t)lines * 64);
    size_t n = 0;
    unsigned x = seed;
    for (int i = 0; i < lines; i++) {
        x = x * 1103515245u + 12345u;
        unsigned a = (x >> 16) % 5;
        x = x * 1103515245u + 12345u;
        unsigned b = (x >> 16) % 5;
        x = x * 1103515245u + 12345u;
        unsigned c = (x >> 16) % 5;
        n += (size_t)sprintf(buf + n, "%s %s %s\n", subj[a], verb[b], obj[c]);
    }
    write_file(name, buf, n);
    free(buf);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/recur_test_cli_lm_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    make_word_corpus("train.txt", 600, 1);
    make_word_corpus("valid.txt", 60, 2);
    make_word_corpus("test.txt", 60, 3);
    /* character corpus: UTF-8 with accents */
    char buf[20000];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)sprintf(buf + n, "caf\xC3\xA9 au lait %d, cr\xC3\xA8me br\xC3\xBBl\xC3\xA9" "e\n", i % 7);
    write_file("ctrain.txt", buf, n);
    write_file("cvalid.txt", buf, 330); /* 10 lines of 33 bytes */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < g_npaths; i++)
        free(g_paths[i]);
    g_npaths = 0;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_help(void **state)
{
    (void)state;
    assert_int_equal(run("lm", "--help", NULL), 0);
    assert_non_null(strstr(g_out, "train"));
    static const char *cmds[] = {"train", "eval", "sample", "demo"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(run("lm", cmds[i], "--help", NULL), 0);
        /* every option line carries its default */
        int options = 0;
        for (char *l = strstr(g_out, "\n  --"); l; l = strstr(l + 1, "\n  --")) {
            char *e = strchr(l + 1, '\n');
            char *next = e ? strstr(e, "\n  --") : NULL;
            char line[2048];
            size_t len = (next ? (size_t)(next - l) : strlen(l));
            if (len >= sizeof line)
                len = sizeof line - 1;
            memcpy(line, l, len);
            line[len] = '\0';
            if (strstr(line, "--help"))
                continue;
            if (!strstr(line, "(default: ")) {
                fprintf(stderr, "option without a default in `lm %s --help`: %s\n", cmds[i], line);
                fail();
            }
            options++;
        }
        assert_true(options > 0);
    }
    assert_int_equal(run("lm", "frobnicate", NULL), 2);
    assert_int_equal(run("lm", NULL), 2);
}

static void test_bad_options(void **state)
{
    (void)state;
    const char *tr = path_in("train.txt"), *va = path_in("valid.txt"), *out = path_in("bad");
    expect_err(run("lm", "train", tr, va, "--bogus", "1", NULL), 2, "unknown option '--bogus'");
    expect_err(run("lm", "train", tr, va, "--hidden", "0", NULL), 2, "--hidden");
    expect_err(run("lm", "train", tr, va, "--layers", "-2", NULL), 2, "--layers");
    expect_err(run("lm", "train", tr, va, "--bptt", "x", NULL), 2, "--bptt: 'x' is not an integer");
    expect_err(run("lm", "train", tr, va, "--dropout", "1.5", NULL), 2, "--dropout");
    expect_err(run("lm", "train", tr, va, "--lr", "0", NULL), 2, "--lr");
    expect_err(run("lm", "train", tr, va, "--cell", "tree", NULL), 2, "--cell: 'tree' is not one of");
    expect_err(run("lm", "train", tr, va, "--preset", "huge", NULL), 2, "--preset");
    expect_err(run("lm", "train", tr, NULL), 2, "validation file");
    expect_err(run("lm", "train", tr, va, "--out", out, "--tied", "--embed", "7", NULL), 1, "--tied");
    expect_err(run("lm", "train", tr, va, "--out", out, "--cell", "gru", "--proj", "4", NULL), 1,
               "--proj");
    expect_err(run("lm", "train", tr, va, "--out", out, "--forget-bias", "abc", NULL), 1,
               "--forget-bias");
    expect_err(run("lm", "sample", "x.safetensors", "--temperature", "-1", NULL), 2,
               "--temperature");
    expect_err(run("lm", "sample", "x.safetensors", "--top-p", "0", NULL), 2, "--top-p");
    expect_err(run("lm", "sample", "x.safetensors", "--top-p", "1.01", NULL), 2, "--top-p");
    expect_err(run("lm", "sample", "x.safetensors", "--length", "0", NULL), 2, "--length");
    expect_err(run("lm", "eval", "x.safetensors", NULL), 2, "text file");
}

static void test_bad_files(void **state)
{
    (void)state;
    const char *va = path_in("valid.txt"), *out = path_in("badf");
    write_file("empty.txt", "", 0);
    write_file("binary.txt", "abc\0\x01\x02", 6);
    write_file("badutf8.txt", "ok line\nbad \xE2\x28\xA1 here\n", 21);
    write_file("unknown.txt", "zebra quokka\nwombat\n", 20);
    expect_err(run("lm", "train", path_in("empty.txt"), va, "--out", out, NULL), 1, "empty");
    expect_err(run("lm", "train", path_in("binary.txt"), va, "--out", out, NULL), 1, "binary");
    expect_err(run("lm", "train", path_in("badutf8.txt"), va, "--out", out, "--level", "char", NULL), 1,
               "invalid UTF-8 at byte offset 12");
    expect_err(run("lm", "train", path_in("train.txt"), path_in("unknown.txt"), "--out", out, NULL), 1,
               "no token of this file is in the training vocabulary");
    expect_err(run("lm", "train", path_in("missing.txt"), va, "--out", out, NULL), 1, "missing.txt");
}

/* The number after "key": in a JSON text (0 when absent: fails the checks). */
static double json_num(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    return p ? atof(p + strlen(pat)) : 0;
}

static void test_word_end_to_end(void **state)
{
    (void)state;
    const char *out = path_in("word");
    char model[600];
    snprintf(model, sizeof model, "%s/best.safetensors", out);
    int rc = run("lm", "train", path_in("train.txt"), path_in("valid.txt"), path_in("test.txt"),
                 "--out", out, "--hidden", "16", "--layers", "1", "--epochs", "2", "--bptt", "8",
                 "--batch", "4", "--progress", "log", "--threads", "1", NULL);
    if (rc != 0)
        fprintf(stderr, "%s\n", g_err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(g_out, "test "));
    assert_non_null(strstr(g_err, "epoch 2 done"));
    /* a second training into the same folder needs --resume or --force */
    expect_err(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", out, NULL), 1,
               "--resume");
    /* metrics: JSON lines of both kinds */
    char metrics[8192], mpath[600];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", out);
    slurp(mpath, metrics, sizeof metrics);
    assert_non_null(strstr(metrics, "\"type\":\"log\""));
    assert_non_null(strstr(metrics, "\"type\":\"epoch\""));

    /* eval: every token predicted once (60 lines of 5 words and <eos>) */
    assert_int_equal(run("lm", "eval", "--json", model, path_in("test.txt"), NULL), 0);
    assert_non_null(strstr(g_out, "\"tokens\":360"));
    assert_non_null(strstr(g_out, "\"predicted\":360"));
    assert_non_null(strstr(g_out, "\"oov\":0"));
    /* the grammar is easy: well below a uniform guess over ~19 tokens */
    char *p = strstr(g_out, "\"perplexity\":");
    assert_non_null(p);
    assert_true(atof(p + 13) < 12);

    /* interpolation with an n-gram model: lambda 1 is the RNN alone, lambda 0
     * the n-gram model alone, and the tuned mixture is no worse than either */
    double rnn_ppl = atof(p + 13);

    /* the same number through the library: the file says its task */
    recur_model_file *mf;
    recur_error err = {0};
    assert_int_equal(recur_model_file_open(&mf, model, NULL, &err), RECUR_OK);
    assert_string_equal(recur_model_file_task(mf), "lm");
    assert_int_equal(recur_model_file_level(mf), RECUR_LEVEL_WORD);
    char *text;
    size_t len, oov = 1;
    assert_int_equal(recur_text_read(path_in("test.txt"), &text, &len, &err), RECUR_OK);
    double nll;
    int64_t count;
    assert_int_equal(recur_lm_eval_text(recur_model_file_model(mf), recur_model_file_vocab(mf),
                                        text, len, "test.txt", &nll, &count, &oov, &err),
                     RECUR_OK);
    assert_int_equal(count, 360);
    assert_int_equal(oov, 0);
    assert_true(fabs(exp(nll / (double)count) - rnn_ppl) <= 1e-6 * rnn_ppl);
    free(text);
    recur_model_file_close(mf);
    assert_int_equal(recur_model_file_open(&mf, model, "tagger", &err), RECUR_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, "a model for task 'lm'"));
    const char *arpa = path_in("kn3.arpa");
    assert_int_equal(run("ngram", "train", "--order", "3", "--discount-fallback", "-q", path_in("train.txt"),
                         "-o", arpa, NULL), 0);
    assert_int_equal(run("ngram", "eval", arpa, path_in("test.txt"), NULL), 0);
    char *q = strstr(g_out, "perplexity ");
    assert_non_null(q);
    double ng_ppl = atof(q + 11);
    assert_int_equal(run("lm", "eval", "--json", "--interpolate", arpa, "--lambda", "1", model,
                         path_in("test.txt"), NULL), 0);
    assert_true(fabs(json_num(g_out, "perplexity") - rnn_ppl) <= 1e-9 * rnn_ppl);
    assert_int_equal(run("lm", "eval", "--json", "--interpolate", arpa, "--lambda", "0", model,
                         path_in("test.txt"), NULL), 0);
    assert_true(fabs(json_num(g_out, "perplexity") - ng_ppl) <= 1e-3);
    assert_int_equal(run("lm", "eval", "--json", "--interpolate", arpa, "--tune-lambda", path_in("valid.txt"),
                         model, path_in("test.txt"), NULL), 0);
    char *second = strchr(g_out, '\n'); /* line 1: the tuning on valid; line 2: the test file */
    assert_non_null(second);
    double lam = json_num(second, "lambda"), mixed = json_num(second, "perplexity");
    assert_true(lam >= 0 && lam <= 1);
    assert_true(mixed <= fmin(json_num(second, "rnn_perplexity"), json_num(second, "ngram_perplexity")) * 1.02);
    expect_err(run("lm", "eval", "--lambda", "0.5", model, path_in("test.txt"), NULL), 2, "--interpolate");
    expect_err(run("lm", "eval", "--interpolate", arpa, "--lambda", "1.5", model, path_in("test.txt"), NULL),
               2, "--lambda");
    expect_err(run("lm", "eval", "--interpolate", path_in("nowhere.arpa"), model, path_in("test.txt"), NULL),
               1, "nowhere.arpa");
    /* through the stepper: float32 weights give the batch path's number; int8
     * (which implies --stepper) moves it a little; not with an n-gram mixture */
    assert_int_equal(run("lm", "eval", "--json", "--stepper", model, path_in("test.txt"), NULL), 0);
    assert_true(fabs(json_num(g_out, "perplexity") - rnn_ppl) <= 1e-4 * rnn_ppl);
    assert_int_equal(run("lm", "eval", "--json", "--weights", "int8", model, path_in("test.txt"), NULL), 0);
    assert_true(fabs(json_num(g_out, "perplexity") - rnn_ppl) <= 0.05 * rnn_ppl);
    assert_int_equal(json_num(g_out, "predicted"), 360);
    expect_err(run("lm", "eval", "--weights", "int8", "--interpolate", arpa, model, path_in("test.txt"), NULL), 2,
               "--stepper");

    /* sampling: deterministic for a seed, streams text */
    assert_int_equal(run("lm", "sample", model, "--seed", "7", "--length", "20", NULL), 0);
    char first[8192];
    snprintf(first, sizeof first, "%s", g_out);
    assert_true(strlen(first) > 10);
    assert_int_equal(run("lm", "sample", model, "--seed", "7", "--length", "20", NULL), 0);
    assert_string_equal(first, g_out);
    assert_int_equal(run("lm", "sample", model, "--prime", "the cat", "--temperature", "0",
                         "--length", "3", NULL), 0);
    assert_true(!strncmp(g_out, "the cat ", 8));
    assert_int_equal(run("lm", "sample", model, "--prime", "the cat", "--top-k", "3", "--top-p",
                         "0.9", "--stop", "\n", "--seed", "3", NULL), 0);
    assert_int_equal(run("lm", "sample", model, "--prime", "the", "--beam", "4", "--length", "5",
                         NULL), 0);
    assert_true(!strncmp(g_out, "the ", 4));
    expect_err(run("lm", "sample", model, "--prime", "the unicorn", NULL), 1,
               "token 'unicorn' is not in the model's vocabulary");
}

static void test_char_end_to_end(void **state)
{
    (void)state;
    const char *out = path_in("char");
    char model[600];
    snprintf(model, sizeof model, "%s/best.safetensors", out);
    int rc = run("lm", "train", path_in("ctrain.txt"), path_in("cvalid.txt"), "--level", "char",
                 "--out", out, "--hidden", "24", "--layers", "1", "--epochs", "1", "--bptt", "16",
                 "--batch", "8", "--optim", "adam", "--lr", "0.01", "--loss-scale", "mean",
                 "--progress", "none", "--threads", "1", NULL);
    if (rc != 0)
        fprintf(stderr, "%s\n", g_err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(g_out, "bits/char"));
    /* eval: the first character is context, every later one predicted */
    write_file("c5.txt", "caf\xC3\xA9\n", 6); /* 5 characters */
    assert_int_equal(run("lm", "eval", "--json", model, path_in("c5.txt"), NULL), 0);
    assert_non_null(strstr(g_out, "\"tokens\":5"));
    assert_non_null(strstr(g_out, "\"predicted\":4"));
    assert_int_equal(run("lm", "sample", model, "--prime", "caf\xC3\xA9", "--length", "30",
                         "--seed", "2", NULL), 0);
    assert_true(!strncmp(g_out, "caf\xC3\xA9", 5));
    expect_err(run("lm", "sample", model, "--prime", "caf\xE2\x82\xAC", NULL), 1,
               "character '\xE2\x82\xAC' is not in the model's vocabulary");
    expect_err(run("lm", "sample", model, "--prime", "caf\xC3", NULL), 1, "invalid UTF-8");
    write_file("cbad.txt", "ab\xFF", 3);
    expect_err(run("lm", "eval", model, path_in("cbad.txt"), NULL), 1, "byte offset 2");
}

static void test_foreign_files(void **state)
{
    (void)state;
    /* a model file of another task, made with the library */
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.vocab_size = 5;
    cfg.output_size = 5;
    cfg.embed_size = 4;
    cfg.rnn.hidden_size = 4;
    recur_model *m;
    recur_error err = {0};
    assert_int_equal(recur_model_create(&m, &cfg, 1, &err), RECUR_OK);
    assert_int_equal(recur_model_init_default(m), RECUR_OK);
    const char *tagger = path_in("tagger.safetensors");
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, tagger, "{\"task\":\"tagger\"}", NULL, 0, &save_err),
                     RECUR_OK);
    expect_err(run("lm", "eval", tagger, path_in("test.txt"), NULL), 1,
               "a model for task 'tagger', not a language model");
    const char *notask = path_in("notask.safetensors");
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, notask, NULL, NULL, 0, &save_err), RECUR_OK);
    expect_err(run("lm", "sample", notask, NULL), 1, "not a language model");
    recur_model_free(m);

    /* a newer format version: patch recur.format in a real model file */
    char src[600];
    snprintf(src, sizeof src, "%s/word/best.safetensors", g_dir);
    FILE *f = fopen(src, "rb");
    if (!f) {
        fprintf(stderr, "SKIP newer-version check: %s missing (word test failed?)\n", src);
        return;
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *k = memmem(buf, n, "\"recur.format\":\"1\"", 18);
    assert_non_null(k);
    k[16] = '9';
    write_file("newer.safetensors", buf, n);
    expect_err(run("lm", "eval", path_in("newer.safetensors"), path_in("test.txt"), NULL), 1,
               "newer");
    write_file("garbage.safetensors", "not a model at all", 18);
    expect_err(run("lm", "eval", path_in("garbage.safetensors"), path_in("test.txt"), NULL), 1,
               "garbage.safetensors");
}

/* The last "epoch N done" line's validation part. */
static void last_valid(const char *err, char *out, size_t n)
{
    const char *p = NULL, *q = err;
    while ((q = strstr(q, "valid ppl")))
        p = q++;
    assert_non_null(p);
    size_t k = strcspn(p, "|");
    snprintf(out, n, "%.*s", (int)k, p);
}

static void test_resume_exact(void **state)
{
    (void)state;
    const char *common[] = {"--hidden", "12", "--layers", "2", "--epochs", "2", "--bptt", "5",
                            "--batch", "6", "--dropout", "0.3", "--decay-start", "1",
                            "--progress", "log", "--threads", "1", NULL};
    const char *args[64];
    int n;
#define ARGS(...)                                                                    \
    do {                                                                             \
        const char *pre[] = {__VA_ARGS__, NULL};                                     \
        n = 0;                                                                       \
        for (int i = 0; pre[i]; i++)                                                 \
            args[n++] = pre[i];                                                      \
        for (int i = 0; common[i]; i++)                                              \
            args[n++] = common[i];                                                   \
        args[n] = NULL;                                                              \
    } while (0)
    ARGS("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", path_in("ra"));
    assert_int_equal(finish(start(args)), 0);
    char want[256], got[256];
    last_valid(g_err, want, sizeof want);
    ARGS("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", path_in("rb"),
         "--max-steps", "17");
    assert_int_equal(finish(start(args)), 0);
    assert_non_null(strstr(g_err, "--max-steps reached"));
    ARGS("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", path_in("rb"),
         "--max-steps", "60", "--resume");
    assert_int_equal(finish(start(args)), 0);
    /* the stored settings and files are used; a changed model option is refused */
    expect_err(run("lm", "train", "--out", path_in("rb"), "--resume", "--hidden", "13", NULL), 1,
               "--hidden 13 differs");
    assert_int_equal(run("lm", "train", "--out", path_in("rb"), "--resume", "--progress", "log",
                         NULL), 0);
    last_valid(g_err, got, sizeof got);
    assert_string_equal(want, got);
#undef ARGS
}

static void test_nonfinite(void **state)
{
    (void)state;
    expect_err(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out",
                   path_in("nan"), "--cell", "rnn-relu", "--hidden", "16", "--init-scale", "50",
                   "--lr", "1e6", "--clip", "0", "--progress", "none", NULL),
               1, "not finite");
}

static void test_sigint(void **state)
{
    (void)state;
    const char *out = path_in("sig");
    const char *args[] = {"lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", out,
                          "--hidden", "32", "--epochs", "100000", "--bptt", "5", "--batch", "2",
                          "--progress", "log", "--log-every", "1", "--threads", "1", NULL};
    pid_t pid = start(args);
    char metrics[600];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", out);
    /* wait until training steps are being logged */
    struct stat st;
    for (int i = 0; i < 600; i++) {
        if (stat(metrics, &st) == 0 && st.st_size > 0)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGINT);
    int rc = finish(pid);
    if (rc != 130)
        fprintf(stderr, "%s\n", g_err);
    assert_int_equal(rc, 130);
    if (!strstr(g_err, "last.safetensors written"))
        fprintf(stderr, "%s\n", g_err);
    assert_non_null(strstr(g_err, "last.safetensors written"));
    /* resumable: one more step and stop */
    assert_int_equal(run("lm", "train", "--out", out, "--resume", "--max-steps", "1", "--progress",
                         "none", NULL), 0);
}

/* The demo on a made-up fortunes folder: .dat and .u8 files ignored, %
 * separators stripped, samples printed. */
static void test_demo(void **state)
{
    (void)state;
    const char *dir = path_in("fortunes");
    assert_int_equal(mkdir(dir, 0777), 0);
    char *buf = malloc(1 << 16);
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        n += (size_t)sprintf(buf + n, "A fortune numbered %d says hello.\n\t-- Someone\n%%\n", i);
    write_file("fortunes/sayings", buf, n);
    write_file("fortunes/sayings.dat", "\0\0\x02\xff", 4);
    write_file("fortunes/sayings.u8", "\xff\xfe", 2);
    free(buf);
    int rc = run("lm", "demo", "--fortunes", dir, "--time", "1", "--hidden", "16", "--length",
                 "40", "--out", path_in("demo"), "--progress", "none", "--threads", "1", NULL);
    if (rc != 0)
        fprintf(stderr, "%s\n", g_err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(g_err, "1 files, 1000 fortunes"));
    assert_non_null(strstr(g_out, "--- temperature 0.5"));
    assert_non_null(strstr(g_out, "--- temperature 1.0"));
    assert_null(strstr(g_out, "%\n"));
    expect_err(run("lm", "demo", "--fortunes", path_in("nowhere"), NULL), 1, "fortunes");
}

/* ---- what a careless user does to a run folder ------------------------------------- */

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Waits (up to 20 s) until the file exists and is not empty. */
static void wait_for_file(const char *path)
{
    for (int i = 0; i < 1000 && file_size(path) <= 0; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(file_size(path) > 0);
}

/* A run that fails on its own options leaves the model of the earlier run. */
static void test_failed_run_keeps_best(void **state)
{
    (void)state;
    const char *out = path_in("keep");
    assert_int_equal(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", out,
                         "--hidden", "8", "--layers", "1", "--epochs", "1", "--progress", "none",
                         NULL),
                     0);
    char best[600];
    snprintf(best, sizeof best, "%s/best.safetensors", out);
    long size = file_size(best);
    assert_true(size > 0);
    expect_err(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", out,
                   "--force", "--hidden", "8", "--proj", "300", NULL),
               1, "--proj 300");
    assert_int_equal(file_size(best), size);
    expect_err(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", out,
                   "--force", "--min-count", "100000", NULL),
               1, "train.txt");
    assert_int_equal(file_size(best), size);
    /* a run stopped before its first epoch ends keeps the old model and says whose it is */
    assert_int_equal(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", out,
                         "--force", "--hidden", "8", "--max-steps", "1", "--progress", "none",
                         NULL),
                     0);
    assert_non_null(strstr(g_err, "an earlier run's"));
    assert_int_equal(file_size(best), size);
}

/* Two runs in one folder at once: the second is refused and names the first. */
static void test_folder_lock_and_sigterm(void **state)
{
    (void)state;
    const char *out = path_in("busy");
    const char *args[] = {"lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", out,
                          "--hidden", "32", "--epochs", "100000", "--bptt", "5", "--batch", "2",
                          "--progress", "log", "--log-every", "1", "--threads", "1", NULL};
    pid_t first = start_to(args, "busy.out", "busy.err");
    char metrics[600];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", out);
    wait_for_file(metrics);
    char want[64];
    snprintf(want, sizeof want, "in use by another run (process %ld)", (long)first);
    expect_err(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", out,
                   "--force", "--hidden", "8", NULL),
               1, want);
    char last[600];
    snprintf(last, sizeof last, "%s/last.safetensors", out);
    wait_for_file(last); /* --resume reads the run's settings from it first */
    expect_err(run("lm", "train", "--out", out, "--resume", NULL), 1, "in use by another run");
    /* SIGTERM stops the first as Ctrl-C does: a resumable checkpoint, 128 + 15 */
    kill(first, SIGTERM);
    int rc = finish_from(first, "busy.out", "busy.err");
    if (rc != 143)
        fprintf(stderr, "%s\n", g_err);
    assert_int_equal(rc, 143);
    assert_non_null(strstr(g_err, "last.safetensors written"));
    assert_int_equal(run("lm", "train", "--out", out, "--resume", "--max-steps", "1",
                         "--progress", "none", NULL),
                     0);
}

/* An output that is an input is refused before anything is written. */
static void test_output_is_input(void **state)
{
    (void)state;
    const char *train = path_in("train.txt");
    long size = file_size(train);
    expect_err(run("lm", "train", train, path_in("valid.txt"), "--out", path_in("clash"),
                   "--metrics", train, NULL),
               1, "refusing to overwrite an input");
    assert_int_equal(file_size(train), size);
    /* the input reached through another name */
    expect_err(run("lm", "train", train, path_in("valid.txt"), "--out", path_in("clash"),
                   "--metrics", path_in("clash/../train.txt"), NULL),
               1, "refusing to overwrite an input");
    assert_int_equal(file_size(train), size);
}

/* A resumed run reads the files of the run it continues. */
static void test_resume_other_files(void **state)
{
    (void)state;
    const char *out = path_in("rfiles");
    assert_int_equal(run("lm", "train", path_in("train.txt"), path_in("valid.txt"),
                         path_in("test.txt"), "--out", out, "--hidden", "8", "--max-steps", "3",
                         "--progress", "none", NULL),
                     0);
    expect_err(run("lm", "train", path_in("train.txt"), path_in("test.txt"), path_in("test.txt"),
                   "--out", out, "--resume", NULL),
               1, "VALID is");
    expect_err(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), path_in("valid.txt"),
                   "--out", out, "--resume", NULL),
               1, "TEST is");
    expect_err(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", out,
                   "--resume", NULL),
               1, "--resume");
    /* the same file, changed since */
    make_word_corpus("valid2.txt", 60, 2);
    assert_int_equal(run("lm", "train", path_in("train.txt"), path_in("valid2.txt"), "--out",
                         path_in("rfiles2"), "--hidden", "8", "--max-steps", "3", "--progress",
                         "none", NULL),
                     0);
    make_word_corpus("valid2.txt", 61, 2);
    expect_err(run("lm", "train", "--out", path_in("rfiles2"), "--resume", NULL), 1,
               "changed since");
    assert_int_equal(run("lm", "train", "--out", out, "--resume", "--max-steps", "1",
                         "--progress", "none", NULL),
                     0);
}

/* A folder that cannot be written is found before any training. */
static void test_unwritable_out(void **state)
{
    (void)state;
    /* /proc refuses new files even to root */
    expect_err(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out", "/proc",
                   "--progress", "log", NULL),
               1, "/proc");
    assert_null(strstr(g_err, "epoch"));
    expect_err(run("lm", "train", path_in("train.txt"), path_in("valid.txt"), "--out",
                   path_in("metricsbad"), "--metrics", "/proc/recur-metrics.jsonl", "--progress",
                   "log", NULL),
               1, "/proc/recur-metrics.jsonl");
    assert_null(strstr(g_err, "epoch"));
}

/* Ctrl-C during the final scoring of VALID and TEST stops the run. */
static void test_sigint_final_scoring(void **state)
{
    (void)state;
    make_word_corpus("bigtest.txt", 150000, 4);
    const char *out = path_in("sigfinal");
    const char *args[] = {"lm", "train", path_in("train.txt"), path_in("valid.txt"),
                          path_in("bigtest.txt"), "--out", out, "--hidden", "64", "--epochs", "1",
                          "--progress", "log", "--threads", "1", NULL};
    pid_t pid = start_to(args, "sf.out", "sf.err");
    char err[600];
    snprintf(err, sizeof err, "%s/sf.err", g_dir);
    for (int i = 0; i < 3000; i++) {
        slurp(err, g_err, sizeof g_err);
        if (strstr(g_err, "epoch 1 done"))
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGINT);
    int rc = finish_from(pid, "sf.out", "sf.err");
    if (rc != 130)
        fprintf(stderr, "%s\n", g_err);
    assert_int_equal(rc, 130);
    assert_non_null(strstr(g_err, "interrupted during the final scoring"));
    assert_null(strstr(g_out, "test "));
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *env = getenv("RECUR_BIN");
    if (env && *env) {
        snprintf(g_bin, sizeof g_bin, "%s", env);
    } else {
        /* BUILD/tests/test_cli_lm -> BUILD/recur */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", argv[0]);
        char *d = dirname(dirname(tmp));
        snprintf(g_bin, sizeof g_bin, "%s/recur", d);
    }
    /* a sanitizer report in the program must not pass for an expected exit 1 */
    setenv("ASAN_OPTIONS", "exitcode=99", 0);
    if (access(g_bin, X_OK) != 0) {
        fprintf(stderr, "test_cli_lm: %s is not an executable (build it, or set RECUR_BIN)\n", g_bin);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),           cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_bad_files),      cmocka_unit_test(test_word_end_to_end),
        cmocka_unit_test(test_char_end_to_end), cmocka_unit_test(test_foreign_files),
        cmocka_unit_test(test_resume_exact),   cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_sigint),         cmocka_unit_test(test_demo),
        cmocka_unit_test(test_failed_run_keeps_best),
        cmocka_unit_test(test_folder_lock_and_sigterm),
        cmocka_unit_test(test_output_is_input),
        cmocka_unit_test(test_resume_other_files),
        cmocka_unit_test(test_unwritable_out),
        cmocka_unit_test(test_sigint_final_scoring),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
