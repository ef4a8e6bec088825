/*
 * lm.h - shared pieces of the `recur lm` commands (cli/lm*.c): a strict
 * table-driven option parser with generated --help, loading language-model
 * files, text generation, training, and progress reporting.
 */
#ifndef RECUR_CLI_LM_H
#define RECUR_CLI_LM_H

#include <stdint.h>
#include <stdio.h>

#include "recur.h"

/* ---- options ---------------------------------------------------------- */

typedef enum lm_opt_kind {
    OPT_INT,    /* long long *; range min..max */
    OPT_DOUBLE, /* double *;   range min..max (min_open: > min) */
    OPT_STRING, /* const char ** */
    OPT_CHOICE, /* const char **; value one of choices ("a|b|c") */
    OPT_FLAG,   /* int *: --name sets 1, --no-name sets 0 */
    OPT_DURATION /* double * seconds: 90, 90s, 15m, 2h */
} lm_opt_kind;

typedef struct lm_opt {
    const char *name; /* without the leading "--" */
    lm_opt_kind kind;
    void *dst;
    const char *arg;     /* metavariable in --help ("N", "FILE") */
    const char *help;
    const char *choices; /* OPT_CHOICE */
    double min, max;     /* OPT_INT / OPT_DOUBLE ranges */
    int min_open;        /* OPT_DOUBLE: min itself is refused */
    const char *default_text; /* shown instead of the current value, if set */
    int given;           /* set by the parser */
} lm_opt;

/* Table rows (designated initialisers; the rest zero). */
#define LM_INT(n, d, a, h, lo, hi) \
    ((lm_opt){.name = (n), .kind = OPT_INT, .dst = (d), .arg = (a), .help = (h), .min = (lo), .max = (hi)})
#define LM_DBL(n, d, a, h, lo, hi, open) \
    ((lm_opt){.name = (n), .kind = OPT_DOUBLE, .dst = (d), .arg = (a), .help = (h), .min = (lo), \
              .max = (hi), .min_open = (open)})
#define LM_CHOICE(n, d, h, c) ((lm_opt){.name = (n), .kind = OPT_CHOICE, .dst = (d), .help = (h), .choices = (c)})
#define LM_FLAG(n, d, h) ((lm_opt){.name = (n), .kind = OPT_FLAG, .dst = (d), .help = (h)})
#define LM_STR(n, d, a, h, def) \
    ((lm_opt){.name = (n), .kind = OPT_STRING, .dst = (d), .arg = (a), .help = (h), .default_text = (def)})
#define LM_DUR(n, d, a, h) ((lm_opt){.name = (n), .kind = OPT_DURATION, .dst = (d), .arg = (a), .help = (h)})
#define LM_END ((lm_opt){.name = NULL})

/* Parses argv[first..argc): "--name VALUE", "--name=VALUE", flags; the rest
 * positional (into pos, at most max_pos; "--" ends options).  Prints the
 * error (naming the option) to stderr and returns 2 on a bad command line,
 * 1 after printing --help to stdout (caller exits 0), 0 when parsed. */
int lm_parse(const char *cmd, const char *usage, lm_opt *opts, int argc, char **argv,
             const char **pos, int max_pos, int *n_pos);
/* Prints usage and every option with its default. */
void lm_print_help(FILE *out, const char *cmd, const char *usage, const lm_opt *opts);
lm_opt *lm_find_opt(lm_opt *opts, const char *name);
/* Sets an option from text as the parser does (2 after printing an error). */
int lm_opt_set(const char *cmd, lm_opt *o, const char *value);
/* The option's value as text that lm_opt_set reads back exactly. */
void lm_opt_format(const lm_opt *o, char *buf, size_t n);

/* ---- model files -------------------------------------------------------- */

typedef struct lm_file {
    recur_model *model;
    recur_vocab *vocab;
    recur_lm_level level;
    recur_checkpoint *ckpt; /* kept open: resumption reads it again */
} lm_file;

/* Opens a language-model file: checks that it is one (recur.config task
 * "lm"), reads its level and vocabulary and creates the model.  Prints the
 * error naming the file and returns non-zero on failure. */
int lm_file_load(const char *path, lm_file *f);
void lm_file_close(lm_file *f);

/* The JSON text merged into recur.config: {"task":"lm","level":...}. */
const char *lm_extra_config(recur_lm_level level);

/* Negative log-likelihood of a text file's ids under the convention of
 * `recur lm eval`: word level prepends <eos> as the first context (every id
 * predicted); character level predicts every id but the first. */
/* <eos> followed by ids[0..n) (malloc'd), the word-level first context; NULL
 * with err set when out of memory. */
int32_t *lm_prefix_eos(const recur_vocab *v, const int32_t *ids, size_t n, recur_error *err);
int lm_score_ids(recur_model *m, const recur_vocab *v, const int32_t *ids, size_t n,
                 double *nll, int64_t *count, recur_error *err);
/* The same read as `streams` pieces side by side (recur_lm_score_streams):
 * faster, slightly different; 1 is lm_score_ids. */
int lm_score_ids_streams(recur_model *m, const recur_vocab *v, const int32_t *ids, size_t n,
                         int streams, double *nll, int64_t *count, recur_error *err);

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
    const char *optim;
    double lr, momentum, weight_decay;
    const char *schedule;
    double decay;
    long long decay_start, patience;
    double clip;
    const char *loss_scale;
    long long bptt, batch, epochs, max_steps;
    double time_limit;
    long long seed, threads;
    const char *out_dir, *metrics, *progress;
    long long log_every, valid_streams;
    int resume, force;
    const char *train_path, *valid_path, *test_path; /* recorded for --resume */
} lm_train_opts;

void lm_train_defaults(lm_train_opts *o);
/* Applies a preset by name; returns non-zero for an unknown one. */
int lm_train_preset(lm_train_opts *o, const char *name);

/* Trains from texts already read.  Returns the process exit status: 0 done,
 * 1 error (printed), 130 interrupted (resumable checkpoint written). */
int lm_train_texts(const lm_train_opts *o, lm_text *train, lm_text *valid, lm_text *test);

/* ---- progress ------------------------------------------------------------- */

typedef struct lm_progress lm_progress;

/* mode: "auto" (live line on a terminal, log lines otherwise), "live",
 * "log", "none".  metrics_path: JSON Lines file appended to, NULL for none. */
lm_progress *lm_progress_new(const char *mode, const char *metrics_path, int append,
                             char *errbuf, size_t errlen);
void lm_progress_free(lm_progress *p);
/* A snapshot during an epoch.  final: also a log line / metrics row. */
typedef struct lm_stats {
    int64_t epoch, epochs, step;
    double epoch_frac;   /* 0..1 inside the epoch */
    double tokens_per_s, loss, lr, grad_norm, clipped_share;
    double elapsed, eta;  /* seconds */
} lm_stats;
void lm_progress_update(lm_progress *p, const lm_stats *s, int log_row);
/* An epoch summary line and metrics row. */
void lm_progress_epoch(lm_progress *p, int64_t epoch, double train_loss, double valid_loss,
                       double lr, double elapsed, int best, const char *unit_name,
                       int char_level);
/* A message line (clears the live line first). */
void lm_progress_msg(lm_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends a live line (before an error message). */
void lm_progress_clear(lm_progress *p);

/* Monotonic seconds. */
double lm_now(void);


/* ---- interpolation with an n-gram model (lm_interp.c) ---- */
/* ln p of each of the n tokens ids[0..n) under the RNN (first context <eos>)
 * and under the n-gram model (sentences restart after <eos>); 0 or 1. */
int lm_interp_logprobs(recur_model *m, const recur_vocab *v, const recur_ngram *ng,
                       const int32_t *ids, size_t n, double *lp_rnn, double *lp_ng,
                       recur_error *err);
/* Negative log-likelihood (nats) of lambda * p_rnn + (1 - lambda) * p_ngram. */
double lm_interp_nll(const double *lp_rnn, const double *lp_ng, size_t n, double lambda);
/* The lambda in [0, 1] that minimises lm_interp_nll (golden section). */
double lm_interp_tune(const double *lp_rnn, const double *lp_ng, size_t n);

#endif
