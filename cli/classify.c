/*
 * classify.c - `recur classify`: sentence classification from the shell.
 * Dispatches to train (classify_train.c), predict (a label and the class
 * probabilities for each line, streaming) and eval (accuracy, per-class
 * precision/recall/F1, macro-F1 and the confusion matrix).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli_fail.h"
#include "commands.h"
#include "classify.h"

int cli_classify(int argc, char **argv);

double cls_cli_macro_f1(const int64_t *conf, int K)
{
    double sum = 0;
    for (int k = 0; k < K; k++) {
        int64_t tp = conf[(size_t)k * K + k], gold = 0, pred = 0;
        for (int j = 0; j < K; j++) {
            gold += conf[(size_t)k * K + j];
            pred += conf[(size_t)j * K + k];
        }
        double p = pred ? (double)tp / (double)pred : 0, r = gold ? (double)tp / (double)gold : 0;
        sum += p + r > 0 ? 2 * p * r / (p + r) : 0;
    }
    return sum / K;
}

/* ---- predict ---------------------------------------------------------------------- */

/* Lines of a batch: each line's text and its words (pointers into it). */
typedef struct pending {
    char *text;
    size_t cap;
    const char **words;
    int n, wcap;
    long long line;
} pending;

static int split_words(pending *p)
{
    p->n = 0;
    for (char *s = p->text; *s;) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
            *s++ = '\0';
        if (!*s)
            break;
        if (p->n == p->wcap) {
            int nc = p->wcap ? 2 * p->wcap : 64;
            const char **w = realloc(p->words, (size_t)nc * sizeof *w);
            if (!w)
                return -1;
            p->words = w;
            p->wcap = nc;
        }
        p->words[p->n++] = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\v' && *s != '\f')
            s++;
    }
    return 0;
}

static void print_result(recur_classifier *c, const pending *p, int b, const double *probs, int best,
                         int json, int explain)
{
    const int K = recur_classifier_num_classes(c);
    const int att = explain && recur_classifier_pool(c) == RECUR_POOL_ATTENTION;
    if (json) {
        json_t *o = json_object(), *pr = json_object();
        json_object_set_new(o, "label", json_string(recur_classifier_label(c, best)));
        for (int k = 0; k < K; k++)
            json_object_set_new(pr, recur_classifier_label(c, k), json_real(probs[(size_t)b * K + k]));
        json_object_set_new(o, "probs", pr);
        if (att) {
            json_t *a = json_array();
            for (int t = 0; t < p->n; t++)
                json_array_append_new(a, json_pack("[s,f]", p->words[t], recur_classifier_attention(c, b, t)));
            json_object_set_new(o, "attention", a);
        }
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (s)
            puts(s);
        free(s);
        json_decref(o);
        return;
    }
    fputs(recur_classifier_label(c, best), stdout);
    for (int k = 0; k < K; k++)
        printf("\t%.6f", probs[(size_t)b * K + k]);
    if (att) {
        putchar('\t');
        for (int t = 0; t < p->n; t++)
            printf("%s%s:%.4f", t ? " " : "", p->words[t], recur_classifier_attention(c, b, t));
    }
    putchar('\n');
}

static int cmd_predict(int argc, char **argv)
{
    const char *CMD = "recur classify predict";
    int json = 0, explain = 0;
    long long batch = 0, threads = 0;
    cli_opt tab[] = {
        CLI_FLAG("json", &json, "JSON Lines ({\"label\":..,\"probs\":{..}}) instead of TSV"),
        CLI_FLAG("explain", &explain, "attention pooling: each word's weight too"),
        CLI_INT("batch", &batch, "N", "lines classified together, 0: 32 from a file, 1 from standard input (streaming)", 0, 4096),
        CLI_THREADS(&threads),
        CLI_END,
    };
    const char *pos[2];
    int npos;
    int rc = cli_parse(CMD, "[OPTIONS] MODEL [FILE|-]\n\n"
                            "Classifies each line of FILE (standard input for - or none): the label, then the\n"
                            "probability of each class in label order (TSV after a header line), or JSON Lines.",
                       tab, argc, argv, pos, 2, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos < 1) {
        fprintf(stderr, "%s: needs a model file (try %s --help)\n", CMD, CMD);
        return 2;
    }
    const char *path = npos > 1 ? pos[1] : "-";
    const int from_stdin = !strcmp(path, "-");
    const int B = batch > 0 ? (int)batch : from_stdin ? 1 : 32;
    recur_set_num_threads((int)threads);
    recur_error err = {0};
    recur_classifier *c = NULL;
    if (recur_classifier_open(&c, pos[0], B, &err))
        return cli_fail(CMD, "%s", err.msg);
    if (explain && recur_classifier_pool(c) != RECUR_POOL_ATTENTION) {
        const char *pool = recur_cls_pool_name(recur_classifier_pool(c)); /* a constant string */
        recur_classifier_free(c);
        return cli_fail(CMD, "--explain needs a model with attention pooling (this one pools by %s)", pool);
    }
    FILE *in = from_stdin ? stdin : fopen(path, "rb");
    if (!in) {
        recur_classifier_free(c);
        return cli_fail(CMD, "%s: cannot open", path);
    }
    const char *name = from_stdin ? "(stdin)" : path;
    const int K = recur_classifier_num_classes(c);
    pending *p = calloc((size_t)B, sizeof *p);
    double *probs = malloc((size_t)B * (size_t)K * sizeof *probs);
    int *best = malloc((size_t)B * sizeof *best);
    const char **words[4096];
    int lens[4096];
    rc = 0;
    if (!p || !probs || !best) {
        rc = cli_fail(CMD, "out of memory");
        goto done;
    }
    if (!json) {
        fputs("label", stdout);
        for (int k = 0; k < K; k++)
            printf("\t%s", recur_classifier_label(c, k));
        if (explain)
            fputs("\tattention", stdout);
        putchar('\n');
    }
    long long line = 0;
    for (int eof = 0; !eof;) {
        int nb = 0;
        while (nb < B) {
            ssize_t got = getline(&p[nb].text, &p[nb].cap, in);
            if (got < 0) {
                eof = 1;
                break;
            }
            line++;
            if (got > 0 && p[nb].text[got - 1] == '\n')
                p[nb].text[got - 1] = '\0';
            if (split_words(&p[nb])) {
                rc = cli_fail(CMD, "out of memory");
                goto done;
            }
            if (p[nb].n == 0) {
                rc = cli_fail(CMD, "%s:%lld: empty line (a sentence needs a word)", name, line);
                goto done;
            }
            p[nb].line = line;
            words[nb] = p[nb].words;
            lens[nb] = p[nb].n;
            nb++;
        }
        if (ferror(in)) {
            rc = cli_fail(CMD, "%s: read error", name);
            goto done;
        }
        if (nb == 0)
            break;
        if (recur_classifier_classify(c, (const char *const *const *)words, lens, nb, probs, best)) {
            rc = cli_fail(CMD, "%s:%lld: %s", name, p[0].line, recur_classifier_errmsg(c));
            goto done;
        }
        for (int b = 0; b < nb; b++)
            print_result(c, &p[b], b, probs, best[b], json, explain);
        if (fflush(stdout)) {
            rc = cli_fail(CMD, "cannot write the output");
            goto done;
        }
    }
done:
    if (!from_stdin)
        fclose(in);
    for (int b = 0; p && b < B; b++) {
        free(p[b].text);
        free(p[b].words);
    }
    free(p);
    free(probs);
    free(best);
    recur_classifier_free(c);
    return rc;
}

/* ---- eval ------------------------------------------------------------------------------ */

static int cmd_eval(int argc, char **argv)
{
    const char *CMD = "recur classify eval";
    const char *format = "model";
    int json = 0;
    long long threads = 0;
    cli_opt tab[] = {
        CLI_CHOICE("format", &format, "the file's format: the model's training format, TSV or SST trees", "model|tsv|sst"),
        CLI_FLAG("json", &json, "the figures as one JSON object"),
        CLI_THREADS(&threads),
        CLI_END,
    };
    const char *pos[2];
    int npos;
    int rc = cli_parse(CMD, "[OPTIONS] MODEL FILE\n\n"
                            "Scores the classifier on a labelled file: accuracy, per-class precision, recall\n"
                            "and F1, macro-F1 and the confusion matrix (rows: gold, columns: predicted).\n"
                            "SST trees are read as in training (root labels, the model's classes).",
                       tab, argc, argv, pos, 2, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos < 2) {
        fprintf(stderr, "%s: needs a model file and a labelled file (try %s --help)\n", CMD, CMD);
        return 2;
    }
    recur_set_num_threads((int)threads);
    recur_error err = {0};
    recur_classifier *c = NULL;
    recur_cls_dataset *d = NULL;
    int64_t *conf = NULL;
    if (recur_classifier_open(&c, pos[0], 64, &err))
        return cli_fail(CMD, "%s", err.msg);
    recur_cls_read_config rc_read = *recur_classifier_read_config(c);
    rc_read.phrases = 0;
    if (strcmp(format, "model"))
        rc_read.format = !strcmp(format, "sst") ? RECUR_CLS_SST : RECUR_CLS_TSV;
    if (rc_read.format == RECUR_CLS_SST && rc_read.classes != 2 && rc_read.classes != 5) {
        rc = cli_fail(CMD, "%s: an SST file needs a model of 2 or 5 SST classes", pos[1]);
        goto done;
    }
    if (recur_cls_dataset_read(&d, pos[1], &rc_read, &err)) {
        rc = cli_fail(CMD, "%s", err.msg);
        goto done;
    }
    const int K = recur_classifier_num_classes(c);
    conf = calloc((size_t)K * (size_t)K, sizeof *conf);
    if (!conf) {
        rc = cli_fail(CMD, "out of memory");
        goto done;
    }
    if (recur_classifier_confusion(c, d, conf)) {
        rc = cli_fail(CMD, "%s", recur_classifier_errmsg(c));
        goto done;
    }
    int64_t n = 0, right = 0;
    for (int k = 0; k < K; k++)
        for (int j = 0; j < K; j++) {
            n += conf[(size_t)k * K + j];
            right += k == j ? conf[(size_t)k * K + j] : 0;
        }
    const double acc = (double)right / (double)n, macro = cls_cli_macro_f1(conf, K);
    json_t *jo = json ? json_pack("{s:s,s:s,s:I,s:f,s:f}", "model", pos[0], "file", pos[1], "sentences",
                                  (json_int_t)n, "accuracy", acc, "macro_f1", macro)
                      : NULL;
    json_t *jclasses = json ? json_array() : NULL, *jconf = json ? json_array() : NULL;
    if (!json) {
        printf("model      %s\nfile       %s: %lld sentences\naccuracy   %.2f%%\nmacro-F1   %.4f\n\n", pos[0], pos[1],
               (long long)n, 100 * acc, macro);
        printf("%-12s %9s %9s %9s %9s\n", "class", "precision", "recall", "F1", "support");
    }
    for (int k = 0; k < K; k++) {
        int64_t tp = conf[(size_t)k * K + k], gold = 0, pred = 0;
        for (int j = 0; j < K; j++) {
            gold += conf[(size_t)k * K + j];
            pred += conf[(size_t)j * K + k];
        }
        double p = pred ? (double)tp / (double)pred : 0, r = gold ? (double)tp / (double)gold : 0;
        double f = p + r > 0 ? 2 * p * r / (p + r) : 0;
        if (json) {
            json_array_append_new(jclasses, json_pack("{s:s,s:f,s:f,s:f,s:I}", "label", recur_classifier_label(c, k),
                                                      "precision", p, "recall", r, "f1", f, "support", (json_int_t)gold));
            json_t *row = json_array();
            for (int j = 0; j < K; j++)
                json_array_append_new(row, json_integer((json_int_t)conf[(size_t)k * K + j]));
            json_array_append_new(jconf, row);
        } else {
            printf("%-12s %9.4f %9.4f %9.4f %9lld\n", recur_classifier_label(c, k), p, r, f, (long long)gold);
        }
    }
    if (json) {
        json_object_set_new(jo, "classes", jclasses);
        json_object_set_new(jo, "confusion", jconf);
        char *s = json_dumps(jo, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (s)
            puts(s);
        free(s);
        json_decref(jo);
    } else {
        printf("\nconfusion (rows: gold, columns: predicted)\n%-12s", "");
        for (int j = 0; j < K; j++)
            printf(" %9.9s", recur_classifier_label(c, j));
        putchar('\n');
        for (int k = 0; k < K; k++) {
            printf("%-12s", recur_classifier_label(c, k));
            for (int j = 0; j < K; j++)
                printf(" %9lld", (long long)conf[(size_t)k * K + j]);
            putchar('\n');
        }
    }
    if (fflush(stdout))
        rc = cli_fail(CMD, "cannot write the output");
done:
    free(conf);
    recur_cls_dataset_free(d);
    recur_classifier_free(c);
    return rc;
}

/* ---- dispatch --------------------------------------------------------------------------- */

int cli_classify(int argc, char **argv)
{
    static const cli_subcommand cmds[] = {
        {"train", classify_cmd_train, "train a classifier: recur classify train TRAIN DEV [TEST]"},
        {"predict", cmd_predict, "label each line: recur classify predict MODEL [FILE|-]"},
        {"eval", cmd_eval, "accuracy, per-class P/R/F1, confusion: recur classify eval MODEL FILE"},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("recur classify",
                        "sentence classification with a (bidirectional) recurrent network (see docs/classify.md)", cmds,
                        argc, argv);
}
