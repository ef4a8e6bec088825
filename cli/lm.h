/*
 * lm.h - shared pieces of the `recur lm` commands (cli/lm*.c):
 * loading language-model files, text generation and training.
 */
#ifndef RECUR_CLI_LM_H
#define RECUR_CLI_LM_H

#include <stdint.h>
#include <stdio.h>

#include "recur.h"

#include "options.h"
#include "train_options.h"

/* ---- model files -------------------------------------------------------- */

typedef struct lm_file {
    recur_model_file *file; /* owns the rest */
    recur_model *model;
    const recur_vocab *vocab;
    recur_lm_level level;
    recur_checkpoint *ckpt; /* kept open: resumption reads it again */
} lm_file;

/* Opens a language-model file: checks that it is one (recur.config task
 * "lm"), reads its level and vocabulary and creates the model.  Prints the
 * error naming the file and returns non-zero on failure. */
int lm_file_load(const char *path, lm_file *f);
void lm_file_close(lm_file *f);

/* <eos> followed by ids[0..n) (malloc'd), the word-level first context of
 * `recur lm eval`; NULL with err set when out of memory. */
int32_t *lm_prefix_eos(const recur_vocab *v, const int32_t *ids, size_t n, recur_error *err);

/* ---- generation ----------------------------------------------------------- */

typedef struct lm_gen_opts {
    const char *prime; /* UTF-8; "" for none */
    long long length;  /* tokens to generate */
    double temperature;
    long long top_k;
    double top_p;
    uint64_t seed;
    const char *stop;  /* NULL or "" for none */
    long long beam;    /* 0: sample */
    recur_precision weights; /* the stepper's (sampling); beam search: FP32 or BF16 products */
} lm_gen_opts;

/* Generates text after the prime and writes prime and continuation to out
 * as they come (fflush after each token).  Returns 0, or prints an error
 * and returns non-zero. */
int lm_generate(recur_model *m, const recur_vocab *v, const lm_gen_opts *g, FILE *out);

/* ---- training ------------------------------------------------------------- */

typedef struct lm_text {
    const char *name; /* for messages */
    char *text;       /* NULL when absent */
    size_t len;
    int is_file;      /* read from the file `name` (a resumed run checks it) */
} lm_text;

typedef struct lm_train_opts {
    const char *preset;
    const char *level;
    long long max_vocab, min_count;
    const char *cell, *gru_form;
    long long layers, hidden, embed, proj;
    int residual, tied;
    double dropout, init_scale;
    const char *forget_bias; /* "" or a number: set only when given */
    const char *loss_scale;
    long long bptt, batch, valid_streams;
    train_opts train;        /* the trainer's options */
    const char *train_path, *valid_path, *test_path; /* recorded for --resume */
} lm_train_opts;

void lm_train_defaults(lm_train_opts *o);
/* Applies a preset by name; returns non-zero for an unknown one. */
int lm_train_preset(lm_train_opts *o, const char *name);

/* Trains from texts already read.  Returns the process exit status: 0 done,
 * 1 error (printed), 130 interrupted (resumable checkpoint written). */
int lm_train_texts(const lm_train_opts *o, lm_text *train, lm_text *valid, lm_text *test);

/* ---- interpolation with an n-gram model (lm_interp.c) ---- */
/* ln p of each of the n tokens ids[0..n) under the RNN (first context <eos>)
 * and under the n-gram model (sentences restart after <eos>); 0 or 1. */
int lm_interp_logprobs(recur_model *m, const recur_vocab *v, const recur_ngram *ng,
                       const int32_t *ids, size_t n, double *lp_rnn, double *lp_ng,
                       recur_error *err);
/* The n-gram half alone: ln p of each of ids[0..n) (word ids of v; <eos>
 * is </s>, after which a new sentence starts at <s>). */
void lm_interp_ngram_logprobs(const recur_vocab *v, const recur_ngram *ng, const int32_t *ids,
                              size_t n, double *lp_ng);
/* Negative log-likelihood (nats) of lambda * p_rnn + (1 - lambda) * p_ngram. */
double lm_interp_nll(const double *lp_rnn, const double *lp_ng, size_t n, double lambda);
/* The lambda in [0, 1] that minimises lm_interp_nll (golden section). */
double lm_interp_tune(const double *lp_rnn, const double *lp_ng, size_t n);

/* ---- sentence scoring (lm_score.c), shared with lm_rescore.c ---- */

typedef struct lm_scorer {
    lm_file *f;
    const recur_ngram *ng; /* NULL: the RNN alone */
    double lambda;         /* the RNN's weight in the mixture with ng */
    int batch;             /* sentences side by side */
} lm_scorer;

typedef struct lm_line_score {
    double logprob;        /* ln p of the line (the mixture with an n-gram model) */
    double rnn, ngram;     /* ln p under each model alone (ngram: with ng only;
                              rnn: NAN when lambda is 0, the RNN not run) */
    int64_t tokens, oov;   /* predicted tokens; <unk> substitutions */
} lm_line_score;

/* Scores lines[i] (lens[i] bytes, valid UTF-8 without '\n' or NUL) as
 * recur_lm_encode_line reads them, in batches; names[i] for messages.
 * 0, or 1 with err set. */
int lm_score_texts(const lm_scorer *s, const char *const *lines, const size_t *lens, size_t n,
                   const char *const *names, lm_line_score *out, recur_error *err);

/* 0 when line[0..len) is UTF-8 without NUL; else 1 after printing
 * "cmd: where:LINE: ..." with the column. */
int lm_check_line(const char *cmd, const char *where, long long lineno, const char *line,
                  size_t len);

#endif
