/*
 * ngram.c - `recur ngram`: word n-gram baselines from the shell.
 *
 *   recur ngram train --order N TRAIN -o MODEL.arpa
 *       interpolated modified Kneser-Ney, written as an ARPA file
 *   recur ngram eval [--sentences] MODEL.arpa FILE...
 *       perplexity counted like word-level `recur lm eval`: every word and
 *       every </s> predicted, <s> never; reads recur's, SRILM's and KenLM's
 *       ARPA files
 *
 * Options are strict: unknown options, missing or malformed values and
 * missing operands are errors that name the option, with exit status 2.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "recur.h"

int cli_ngram(int argc, char **argv);

#define DEFAULT_MEMORY_MB 256

static void usage_train(FILE *out)
{
    fprintf(out,
            "usage: recur ngram train [--order N] [OPTIONS] TRAIN -o MODEL.arpa\n\n"
            "Counts word n-grams of TRAIN (whitespace-separated words, one sentence a line,\n"
            "read as <s> w1 .. wn </s>) and writes an interpolated modified Kneser-Ney\n"
            "model (Chen & Goodman 1998) in ARPA format.  No count cutoffs.  Counting\n"
            "sorts in memory-bounded runs that spill to temporary files.\n\n"
            "options:\n"
            "  --order N                  n-gram order, 1..%d (default: 3)\n"
            "  -o, --output PATH          the ARPA file to write (required)\n"
            "  --memory MB                sort buffers, in MiB (default: %d)\n"
            "  --tmpdir DIR               where sorted runs spill (default: $TMPDIR or /tmp)\n"
            "  --discount-fallback        when an order's discounts cannot be estimated from\n"
            "                             its counts of counts, use the fallback discounts\n"
            "                             instead of failing (default: off)\n"
            "  --fallback-discounts D1,D2,D3\n"
            "                             the fallback discounts; implies --discount-fallback\n"
            "                             (default: 0.5,1,1.5)\n"
            "  -q, --quiet                print nothing on success (default: off)\n"
            "  -h, --help                 print this help and exit\n",
            RECUR_NGRAM_MAX_ORDER, DEFAULT_MEMORY_MB);
}

static void usage_eval(FILE *out)
{
    fprintf(out,
            "usage: recur ngram eval [OPTIONS] MODEL.arpa FILE...\n\n"
            "Perplexity of each FILE (one sentence a line) under an ARPA backoff model.\n"
            "Every word and every </s> is predicted, <s> never, as word-level\n"
            "`recur lm eval` counts.  Words not in the model are scored as <unk> when the\n"
            "model has <unk>; otherwise they are left out of the perplexity and counted\n"
            "as OOVs (SRILM's and KenLM's convention).  Probabilities are log10.\n\n"
            "options:\n"
            "  --sentences                also print each sentence's log10 probability\n"
            "                             (default: off)\n"
            "  -h, --help                 print this help and exit\n");
}

/* A usage error: the message, a pointer to --help, exit status 2. */
__attribute__((format(printf, 2, 3))) static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "recur ngram %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (try recur ngram %s --help)\n", cmd);
    va_end(ap);
    return 2;
}

/* The value of an option given as "--opt VALUE" or "--opt=VALUE". */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *matched)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    *matched = 0;
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=') {
        *matched = 1;
        return a + n + 1;
    }
    if (a[n] != '\0')
        return NULL;
    *matched = 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static int parse_discounts(const char *s, double d[3])
{
    char *end;
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        errno = 0;
        d[i] = strtod(p, &end);
        if (end == p || errno || !isfinite(d[i]))
            return 0;
        if (i < 2) {
            if (*end != ',')
                return 0;
            p = end + 1;
        } else if (*end) {
            return 0;
        }
    }
    return 1;
}

static int cmd_train(int argc, char **argv)
{
    recur_ngram_train_config cfg;
    recur_ngram_train_config_default(&cfg);
    const char *output = NULL, *corpus = NULL;
    int quiet = 0;
    long mb = DEFAULT_MEMORY_MB;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int m;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage_train(stdout);
            return 0;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!strcmp(a, "--discount-fallback")) {
            cfg.discount_fallback = 1;
            continue;
        }
        if (!strcmp(a, "-o")) {
            if (i + 1 >= argc)
                return usage_error("train", "option %s needs a value", a);
            output = argv[++i];
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--output", &m)) || m) {
            if (!v)
                return usage_error("train", "option %s needs a value", "--output");
            output = v;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--order", &m)) || m) {
            if (!v)
                return usage_error("train", "option --order needs a value");
            long o;
            if (!parse_long(v, 1, RECUR_NGRAM_MAX_ORDER, &o))
                return usage_error("train", "--order: '%s' is not an integer in 1..%d", v,
                            RECUR_NGRAM_MAX_ORDER);
            cfg.order = (int)o;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--memory", &m)) || m) {
            if (!v)
                return usage_error("train", "option --memory needs a value");
            if (!parse_long(v, 1, 1L << 20, &mb))
                return usage_error("train", "--memory: '%s' is not a number of MiB in 1..1048576", v);
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--tmpdir", &m)) || m) {
            if (!v || !*v)
                return usage_error("train", "option %s needs a directory", "--tmpdir");
            cfg.tmp_dir = v;
            continue;
        }
        if ((v = opt_value(argc, argv, &i, "--fallback-discounts", &m)) || m) {
            if (!v)
                return usage_error("train", "option --fallback-discounts needs a value");
            if (!parse_discounts(v, cfg.fallback))
                return usage_error("train", "--fallback-discounts: '%s' is not three numbers D1,D2,D3", v);
            cfg.discount_fallback = 1;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0')
            return usage_error("train", "unknown option '%s'", a);
        if (corpus)
            return usage_error("train", "one training file expected, got '%s' and '%s'", corpus, a);
        corpus = a;
    }
    if (!corpus)
        return usage_error("train", "the training file is missing");
    if (!output)
        return usage_error("train", "-o MODEL.arpa is required");
    cfg.memory_bytes = (size_t)mb << 20;

    recur_ngram_train_stats stats;
    recur_error err;
    if (recur_ngram_train(corpus, output, &cfg, &stats, &err) != RECUR_OK) {
        fprintf(stderr, "recur: %s\n", err.msg);
        return 1;
    }
    if (quiet)
        return 0;
    printf("%s: %lld sentences, %lld words, vocabulary %lld (words + </s>)\n", corpus,
           (long long)stats.sentences, (long long)stats.tokens, (long long)stats.vocab_size);
    printf("%-6s %12s %10s %10s %10s\n", "order", "n-grams", "D1", "D2", "D3+");
    for (int k = 0; k < stats.order; k++)
        printf("%-6d %12lld %10.6f %10.6f %10.6f%s\n", k + 1, (long long)stats.ngrams[k], stats.discounts[k][0],
               stats.discounts[k][1], stats.discounts[k][2], stats.fallback_used[k] ? "  (fallback)" : "");
    if (stats.runs_spilled)
        printf("sorted runs spilled to disk: %lld\n", (long long)stats.runs_spilled);
    printf("wrote %s\n", output);
    return 0;
}

static void print_sentence(void *ctx, int64_t line, double log10_prob, int64_t predicted, int64_t oovs)
{
    (void)ctx;
    printf("%lld\t%.6f\t%lld\t%lld\n", (long long)line, log10_prob, (long long)predicted, (long long)oovs);
}

static int cmd_eval(int argc, char **argv)
{
    int sentences = 0;
    const char *model = NULL;
    const char **files = calloc((size_t)argc, sizeof *files);
    int n_files = 0;
    if (!files) {
        fprintf(stderr, "recur ngram eval: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage_eval(stdout);
            free(files);
            return 0;
        }
        if (!strcmp(a, "--sentences")) {
            sentences = 1;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            free(files);
            return usage_error("eval", "unknown option '%s'", a);
        }
        if (!model)
            model = a;
        else
            files[n_files++] = a;
    }
    if (!model || n_files == 0) {
        free(files);
        return usage_error("eval", "%s", model ? "no text file to evaluate" : "MODEL.arpa and a text file are required");
    }
    recur_ngram *m;
    recur_error err;
    if (recur_ngram_load(&m, model, &err) != RECUR_OK) {
        fprintf(stderr, "recur: %s\n", err.msg);
        free(files);
        return 1;
    }
    int unk = recur_ngram_unk(m) >= 0;
    printf("model %s: order %d, %d words%s\n", model, recur_ngram_order(m), (int)recur_ngram_vocab_size(m),
           unk ? ", has <unk>: OOVs are scored as <unk>" : ", no <unk>: OOVs are left out of the perplexity");
    int rc = 0;
    for (int f = 0; f < n_files; f++) {
        recur_ngram_eval_result r;
        if (sentences)
            printf("# %s\n# line\tlog10_prob\tpredicted\toovs\n", files[f]);
        if (recur_ngram_eval_file(m, files[f], sentences ? print_sentence : NULL, NULL, &r, &err) != RECUR_OK) {
            fflush(stdout);
            fprintf(stderr, "recur: %s\n", err.msg);
            rc = 1;
            break;
        }
        printf("%s: %lld sentences, %lld words, %lld OOVs%s\n", files[f], (long long)r.sentences,
               (long long)r.words, (long long)r.oovs, r.oovs ? (unk ? " (scored as <unk>)" : " (excluded)") : "");
        printf("%s: predicted %lld (words + </s>%s), log10 prob %.4f, %.6f nats/tok, perplexity %.3f\n", files[f],
               (long long)r.predicted, r.oovs && !unk ? " - OOVs" : "", r.log10_prob,
               -r.log10_prob * log(10.0) / (double)r.predicted, r.perplexity);
    }
    recur_ngram_free(m);
    free(files);
    return rc;
}

int cli_ngram(int argc, char **argv)
{
    static const cli_subcommand cmds[] = {
        {"train", cmd_train, "train an interpolated modified Kneser-Ney model, write it as ARPA"},
        {"eval", cmd_eval, "perplexity of text files under an ARPA model (recur's, SRILM's, KenLM's)"},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("recur ngram", "n-gram language models (see docs/ngram.md)", cmds, argc, argv);
}
