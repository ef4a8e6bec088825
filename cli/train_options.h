/*
 * train_options.h - what every `recur TASK train` shares: the options of the
 * trainer (optimiser, schedule, limits, run folder, progress), the rules of
 * a resumed run's settings, and the signals that stop a run.
 */
#ifndef RECUR_CLI_TRAIN_OPTIONS_H
#define RECUR_CLI_TRAIN_OPTIONS_H

#include <signal.h>

#include <jansson.h>

#include "options.h"
#include "recur_train.h"

typedef struct train_opts {
    const char *optim;
    double lr, momentum, weight_decay;
    const char *schedule;
    double decay;
    long long decay_start, patience, warmup;
    double clip;
    long long epochs, early_stop, max_steps;
    double time_limit;
    long long seed, threads;
    const char *out_dir, *metrics, *progress, *precision;
    long long log_every;
    int resume, force;
} train_opts;

/* Defaults: SGD lr 1, constant rate, clip 5, 10 epochs, OUT "run". */
void train_opts_defaults(train_opts *o);
/* Appends the trainer's rows to t; returns how many. */
int train_opts_rows(train_opts *o, cli_opt *t);
/* Settings not stored with a run (this session only). */
int train_opts_session_only(const char *name);
/* Settings a resumed run may change besides the session-only ones. */
int train_opts_resumable(const char *name);
/* The trainer's configuration from the options. */
void train_opts_config(const train_opts *o, recur_trainer_config *c);

/* The stored settings of a run: every option of tab but the session-only
 * ones, as strings. */
json_t *train_settings_json(cli_opt *tab);
/* Resumption: sets every option of `stored` (a table over fresh settings)
 * from the run's stored JSON object, then copies into it the options given
 * on this command line that a resumed run may change (the trainer's, and
 * also_resumable, NULL-terminated, may be NULL); an option given with
 * another value than the run's is an error naming both (2 after printing). */
int train_settings_resume(const char *cmd, const char *path, json_t *opts, cli_opt *given,
                          cli_opt *stored, const char *const *also_resumable);

/* A resumed run's record: the JSON object its command stored under `key`
 * ("recur.lm.train") in OUT/last.safetensors, into *stored (NULL when the
 * file has none; the caller frees it), with that file's path in path.
 * RECUR_OK, or the error of opening the file in err. */
recur_status train_stored_run(const char *out_dir, const char *key, char *path, size_t path_len,
                              json_t **stored, recur_error *err);
/* The input files of a resumed run given none, appended to pos: the
 * record's array "files", or else its entries names[0..3) that are set. */
void train_stored_files(json_t *stored, const char *const names[3], const char **pos, int *npos);

/* What a task's train command tells train_cmd_parse about itself. */
typedef struct train_cmd {
    const char *name;               /* "recur tag train" */
    const char *usage;              /* cli_parse's usage text */
    const char *record;             /* the run's record key: "recur.tag.train" */
    const char *const *file_names;  /* the record's three file entries: train, dev, test */
    const char *second_file;        /* what the second file is called: "development" */
    const char *const *resumable;   /* the task's options a resumed run may change, NULL-ended */
    size_t opts_size;               /* the task's options struct */
    void (*defaults)(void *opts);   /* its defaults */
    void (*table)(void *opts, cli_opt *tab); /* its option table (at most TRAIN_CMD_MAX_OPTS rows) */
    train_opts *(*common)(void *opts);       /* the trainer's options inside it */
} train_cmd;
#define TRAIN_CMD_MAX_OPTS 128
/* Parses a train command's arguments into opts (initialised by the caller:
 * defaults, a preset).  With --resume, opts become the stored run's, changed
 * only by the resumable options given now, and the files default to the
 * stored run's.  pos gets the (2 or 3) files; *stored the run's record, NULL
 * without --resume (json_decref it after the run: pos may point into it).
 * Returns -1 to go on, else the exit status to return. */
int train_cmd_parse(const train_cmd *c, void *opts, int argc, char **argv, const char *pos[3], int *npos,
                    json_t **stored);
/* SIGINT and SIGTERM set train_stop_signal (the trainer's stop flag) once;
 * a second one ends the program at once. */
extern volatile sig_atomic_t train_stop_signal;
void train_signals_install(void);
void train_signals_restore(void);
/* The exit status of a run that returned st: 0, 128 + the signal after a
 * stop request, 1 for an error. */
int train_exit_status(recur_status st);

#endif
