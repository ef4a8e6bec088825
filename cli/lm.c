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

#include "commands.h"
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

int cli_lm(int argc, char **argv)
{
    static const cli_subcommand cmds[] = {
        {"train", lm_cmd_train, "train a model: recur lm train TRAIN VALID [TEST]"},
        {"eval", lm_cmd_eval, "perplexity of text files: recur lm eval MODEL FILE..."},
        {"score", lm_cmd_score, "log-probability of each line: recur lm score MODEL [FILE|-]"},
        {"rescore", lm_cmd_rescore, "re-rank n-best lists: recur lm rescore MODEL NBEST"},
        {"sample", lm_cmd_sample, "generate text: recur lm sample MODEL"},
        {"demo", lm_cmd_demo, "train a small character model on the fortunes package and sample it"},
        {"cells", lm_cmd_cells, "an HTML page of what single LSTM cells track: recur lm cells MODEL TEXT"},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("recur lm", "language models over words or characters (see docs/lm.md)", cmds, argc, argv);
}
