/*
 * task_file.c - the model files of recur's tasks.  Every file `recur`
 * writes is a checkpoint whose recur.config names its task ("task":"lm")
 * beside the model's configuration; a task adds what it needs to read its
 * inputs and outputs (a language model: "level" in recur.config and the
 * vocabulary as the JSON array recur.vocab).  Opening a file here checks all
 * of that, so a C program learns the task of any file and gets a model that
 * scores exactly as the command line does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/internal.h"

struct recur_model_file {
    recur_checkpoint *ckpt;
    recur_model *model;
    recur_vocab *vocab;
    recur_lm_level level;
    char task[64];
};

const char *recur_lm_extra_config(recur_lm_level level)
{
    return level == RECUR_LEVEL_CHAR ? "{\"task\":\"lm\",\"level\":\"char\"}"
                                     : "{\"task\":\"lm\",\"level\":\"word\"}";
}

void recur_model_file_close(recur_model_file *f)
{
    if (!f)
        return;
    recur_model_free(f->model);
    recur_vocab_free(f->vocab);
    recur_checkpoint_close(f->ckpt);
    free(f);
}

/* A message that names the file once (msg may be err->msg). */
static recur_status file_err(recur_error *err, recur_status st, const char *path, const char *msg)
{
    char copy[sizeof err->msg];
    snprintf(copy, sizeof copy, "%s", msg);
    if (strstr(copy, path))
        return recur_error_set(err, st, "%s", copy);
    return recur_error_set(err, st, "%s: %s", path, copy);
}

static recur_status open_lm(recur_model_file *f, json_t *cfg, const char *path, recur_error *err)
{
    const char *level = json_string_value(json_object_get(cfg, "level"));
    int lv = recur_lm_level_parse(level);
    if (lv < 0)
        return recur_error_set(err, RECUR_ERR_FORMAT,
                               "%s: recur.config level '%s' is not word or char", path,
                               level ? level : "(missing)");
    f->level = (recur_lm_level)lv;
    recur_status st = recur_vocab_from_json(&f->vocab, f->level,
                                            recur_checkpoint_meta(f->ckpt, "recur.vocab"), err);
    if (st != RECUR_OK)
        return file_err(err, st, path, err->msg);
    const recur_model_config *mc = recur_checkpoint_config(f->ckpt);
    if (mc->vocab_size != recur_vocab_size(f->vocab) || mc->output_size != mc->vocab_size)
        return recur_error_set(err, RECUR_ERR_MISMATCH,
                               "%s: the vocabulary has %d tokens but the model's embedding has "
                               "%d rows and its decoder %d classes",
                               path, recur_vocab_size(f->vocab), mc->vocab_size, mc->output_size);
    if (mc->rnn.bidirectional)
        return recur_error_set(err, RECUR_ERR_MISMATCH,
                               "%s: a bidirectional model cannot be a language model", path);
    return RECUR_OK;
}

/* The tasks whose files recur reads.  A task other than "lm" checks its own
 * metadata (vocabularies, labels) in its own open function over the
 * checkpoint (recur_model_file_checkpoint); here its model is loaded. */
static int task_known(const char *task)
{
    static const char *const known[] = {"lm", "tag", "classify", "seq2seq"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(task, known[i]))
            return 1;
    return 0;
}

recur_status recur_model_file_open(recur_model_file **out, const char *path,
                                   const char *expect_task, recur_error *err)
{
    *out = NULL;
    recur_model_file *f = calloc(1, sizeof *f);
    if (!f)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    json_t *cfg = NULL;
    recur_status st = recur_checkpoint_open(&f->ckpt, path, err);
    if (st != RECUR_OK) {
        file_err(err, st, path, err->msg);
        goto fail;
    }
    const char *text = recur_checkpoint_meta(f->ckpt, "recur.config");
    json_error_t je;
    cfg = text ? json_loads(text, 0, &je) : NULL;
    const char *task = json_string_value(json_object_get(cfg, "task"));
    if (!task) {
        st = recur_error_set(err, RECUR_ERR_MISMATCH,
                             "%s: not a model of a recur task (recur.config has no \"task\")%s",
                             path, expect_task && !strcmp(expect_task, "lm")
                                       ? ": not a language model" : "");
        goto fail;
    }
    snprintf(f->task, sizeof f->task, "%s", task);
    if (expect_task && strcmp(task, expect_task) != 0) {
        st = recur_error_set(err, RECUR_ERR_MISMATCH, "%s: a model for task '%s', not %s ('%s')",
                             path, task,
                             !strcmp(expect_task, "lm") ? "a language model" : "the task asked for",
                             expect_task);
        goto fail;
    }
    if (!strcmp(task, "lm")) {
        if ((st = open_lm(f, cfg, path, err)) != RECUR_OK)
            goto fail;
    } else if (!task_known(task)) {
        st = recur_error_set(err, RECUR_ERR_MISMATCH,
                             "%s: a model for task '%s', which recur %s does not know", path,
                             task, RECUR_VERSION);
        goto fail;
    }
    if ((st = recur_checkpoint_load_model(f->ckpt, &f->model, err)) != RECUR_OK) {
        file_err(err, st, path, err->msg);
        goto fail;
    }
    json_decref(cfg);
    *out = f;
    return RECUR_OK;
fail:
    json_decref(cfg);
    recur_model_file_close(f);
    return st;
}

const char *recur_model_file_task(const recur_model_file *f) { return f->task; }
recur_model *recur_model_file_model(recur_model_file *f) { return f->model; }
const recur_vocab *recur_model_file_vocab(const recur_model_file *f) { return f->vocab; }
recur_lm_level recur_model_file_level(const recur_model_file *f) { return f->level; }
recur_checkpoint *recur_model_file_checkpoint(recur_model_file *f) { return f->ckpt; }

/* ---- the scoring convention of `recur lm eval` ------------------------------------------- */

recur_status recur_lm_eval_ids(recur_model *m, const recur_vocab *v, const int32_t *ids,
                               size_t n, int streams, double *nll, int64_t *count,
                               recur_error *err)
{
    const int chunk = 256;
    if (recur_vocab_level(v) == RECUR_LEVEL_CHAR)
        return recur_lm_score_streams(m, ids, n, streams, chunk, nll, count, err);
    /* word level: <eos> is the first context, so every id is predicted */
    int32_t *buf = malloc((n + 1) * sizeof *buf);
    if (!buf)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    buf[0] = recur_vocab_eos(v);
    memcpy(buf + 1, ids, n * sizeof *buf);
    recur_status st = recur_lm_score_streams(m, buf, n + 1, streams, chunk, nll, count, err);
    free(buf);
    return st;
}

recur_status recur_lm_eval_text(recur_model *m, const recur_vocab *v, const char *text,
                                size_t len, const char *name, double *nll, int64_t *count,
                                size_t *n_oov, recur_error *err)
{
    int32_t *ids = NULL;
    size_t n = 0;
    recur_status st = recur_text_check(text, len, name, err);
    if (st == RECUR_OK)
        st = recur_corpus_encode(v, text, len, name, 0, &ids, &n, n_oov, err);
    if (st == RECUR_OK && recur_vocab_level(v) == RECUR_LEVEL_CHAR && n < 2)
        st = recur_error_set(err, RECUR_ERR_ARG,
                             "%s: a character-level evaluation needs at least 2 characters", name);
    if (st == RECUR_OK)
        st = recur_lm_eval_ids(m, v, ids, n, 1, nll, count, err);
    free(ids);
    return st;
}
