/*
 * lm.c - `recur lm`: language models from the shell.  Dispatches to train,
 * eval, score, rescore, sample and demo, and holds what they share: the strict option parser
 * (unknown options and malformed or out-of-range values are errors naming
 * the option; --help lists every option with its default), the loading of
 * language-model files (task, level and vocabulary from __metadata__), and
 * the scoring convention of `recur lm eval`.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lm.h"

int cli_lm(int argc, char **argv);
int lm_cmd_train(int argc, char **argv);
int lm_cmd_eval(int argc, char **argv);
int lm_cmd_sample(int argc, char **argv);
int lm_cmd_demo(int argc, char **argv);
int lm_cmd_score(int argc, char **argv);
int lm_cmd_rescore(int argc, char **argv);
int lm_cmd_cells(int argc, char **argv);

/* ---- model files ------------------------------------------------------- */

void lm_file_close(lm_file *f)
{
    recur_model_file_close(f->file);
    memset(f, 0, sizeof *f);
}

int lm_file_load(const char *path, lm_file *f)
{
    memset(f, 0, sizeof *f);
    recur_error err = {0};
    if (recur_model_file_open(&f->file, path, "lm", &err) != RECUR_OK) {
        fprintf(stderr, "recur lm: %s\n", err.msg);
        return 1;
    }
    f->model = recur_model_file_model(f->file);
    f->vocab = recur_model_file_vocab(f->file);
    f->level = recur_model_file_level(f->file);
    f->ckpt = recur_model_file_checkpoint(f->file);
    return 0;
}

int32_t *lm_prefix_eos(const recur_vocab *v, const int32_t *ids, size_t n, recur_error *err)
{
    int32_t *buf = malloc((n + 1) * sizeof *buf);
    if (!buf) {
        err->status = RECUR_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return NULL;
    }
    buf[0] = recur_vocab_eos(v);
    memcpy(buf + 1, ids, n * sizeof *buf);
    return buf;
}

/* ---- dispatch ----------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: recur lm COMMAND [OPTIONS] [ARGS]\n\n"
            "language models over words or characters (see docs/lm.md)\n\n"
            "commands:\n"
            "  train    train a model: recur lm train TRAIN VALID [TEST]\n"
            "  eval     perplexity of text files: recur lm eval MODEL FILE...\n"
            "  score    log-probability of each line: recur lm score MODEL [FILE|-]\n"
            "  rescore  re-rank n-best lists: recur lm rescore MODEL NBEST\n"
            "  sample   generate text: recur lm sample MODEL\n"
            "  demo     train a small character model on the fortunes package and sample it\n"
            "  cells    an HTML page of what single LSTM cells track: recur lm cells MODEL TEXT\n\n"
            "`recur lm COMMAND --help` lists each command's options and defaults.\n");
}

int cli_lm(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(c, "train"))
        return lm_cmd_train(argc - 1, argv + 1);
    if (!strcmp(c, "eval"))
        return lm_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(c, "score"))
        return lm_cmd_score(argc - 1, argv + 1);
    if (!strcmp(c, "rescore"))
        return lm_cmd_rescore(argc - 1, argv + 1);
    if (!strcmp(c, "sample"))
        return lm_cmd_sample(argc - 1, argv + 1);
    if (!strcmp(c, "demo"))
        return lm_cmd_demo(argc - 1, argv + 1);
    if (!strcmp(c, "cells"))
        return lm_cmd_cells(argc - 1, argv + 1);
    fprintf(stderr, "recur lm: unknown command '%s' (try recur lm --help)\n", c);
    return 2;
}
