/*
 * recur_train.h - the trainer of librecur: one training loop for every task.
 *
 * A task says how to take one training step (draw its batch, run forward and
 * backward, return the loss) and how to evaluate on development data (named
 * metrics, one of which decides "best").  The trainer owns the rest: the
 * optimiser step with global-norm clipping, learning-rate schedules with
 * warm-up, early stopping, best and last checkpoints written atomically,
 * exact resumption, step and time limits, a clean stop on request, refusal of
 * non-finite losses, the progress line and the metrics file (JSON Lines).
 *
 * The run folder OUT holds
 *   best.safetensors   the model with the best development metric so far
 *   last.safetensors   the model, optimiser, train state and the task's
 *                      state: `resume` continues from it bit for bit
 *   metrics.jsonl      a row per log interval and per epoch (unless
 *                      metrics_path names another file)
 *   .lock              held (fcntl) while a trainer runs in OUT
 *
 * The library installs no signal handler: a program stops a run by setting
 * the flag it passed as stop_flag (from its own SIGINT/SIGTERM handler), and
 * the trainer writes last.safetensors and returns RECUR_ERR_INTERRUPTED.
 */
#ifndef RECUR_TRAIN_H
#define RECUR_TRAIN_H

#include <signal.h>
#include <stdio.h>

#include "recur.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- what a task reports ------------------------------------------------ */

#define RECUR_MAX_METRICS 16

typedef struct recur_metric {
    char name[32]; /* "loss", "ppl", "f1", "accuracy", ... */
    double value;
} recur_metric;

/* An evaluation on development data. */
typedef struct recur_eval {
    int n;
    recur_metric m[RECUR_MAX_METRICS];
    int decisive;      /* index of the metric that decides best, early stopping, plateau */
    int higher_better; /* 1 for accuracy or F1, 0 for a loss */
} recur_eval;

/* Adds a metric; returns its index, or -1 when the table is full. */
RECUR_API int recur_eval_add(recur_eval *e, const char *name, double value);

/* The task: callbacks over the task's own context.  Messages are written
 * into msg (512 bytes) when a callback fails. */
typedef struct recur_task {
    void *ctx;
    const char *unit;  /* what a step's count counts ("token", "char", "sentence") */
    int loss_is_nll;   /* 1: losses are nats per unit, so perplexity is shown */
    /* Steps in every epoch (at least 1). */
    int64_t (*epoch_steps)(void *ctx);
    /* Before step `first` of epoch `epoch` (1-based) is taken: first is 0 at
     * an epoch's start, or the position a resumed run continues from (after
     * load_state).  Deterministic orders (shuffles) derive from the epoch. */
    recur_status (*epoch_begin)(void *ctx, int64_t epoch, int64_t first, char *msg);
    /* Step `index` of the epoch: gradients are zeroed before the call; the
     * task adds its gradients into the model's (recur_backward) and returns
     * the summed loss over *count units.  A non-finite loss is
     * RECUR_ERR_NONFINITE. */
    recur_status (*step)(void *ctx, int64_t epoch, int64_t index, double *loss_sum,
                         int64_t *count, char *msg);
    /* Evaluation on development data with the model as it is. */
    recur_status (*evaluate)(void *ctx, recur_eval *out, char *msg);
    /* Optional: the state a run stopped inside an epoch needs beyond the
     * model and optimiser (a carried hidden state), as a malloc'd JSON text,
     * and its restoration.  NULL: the task keeps no such state. */
    recur_status (*save_state)(void *ctx, char **json, char *msg);
    recur_status (*load_state)(void *ctx, const char *json, char *msg);
    /* Optional: the epoch summary after "epoch N done in T: " (NULL: the
     * train loss and every metric). */
    void (*format_epoch)(void *ctx, double train_loss, const recur_eval *ev, char *buf,
                         size_t n);
    /* What every model file of the run carries: a JSON object merged into
     * recur.config ({"task":"lm",...}, see recur_task_file_open) and further
     * __metadata__ entries (vocabularies, the run's settings). */
    const char *extra_config;
    const recur_meta_entry *meta;
    int n_meta;
    /* Data parallelism (see "data parallelism" below): the number of ranks
     * the task splits each step's global batch over, recur_parallel_size()
     * at its creation.  0 or 1: a task that does not split; the trainer
     * refuses it on more than one rank (each rank would add the gradient of
     * the whole batch). */
    int ranks;
} recur_task;

/* ---- data parallelism ------------------------------------------------------- */

/* Started by `mpirun -np N` (a librecur built with Open MPI), the trainer
 * trains one model on N processes, its ranks: every rank holds the model,
 * takes its share of each step's global batch, and the gradients (with the
 * loss and its count) are summed over the ranks before the optimiser step
 * (clipping included), so every rank takes the same step.  Checkpoints,
 * progress and metrics come from rank 0.  A process started without mpirun
 * is one rank, as is every process of a build without MPI.
 *
 * A task that splits its batches (ranks > 1 in recur_task) follows these
 * rules, all ranks reading the same data:
 *  - step: the task runs forward and backward on its share of the global
 *    batch (recur_parallel_share) and scales its gradient as its part of
 *    the global batch's loss, so the sum over the ranks is the gradient one
 *    process computes for the whole batch (a mean over the batch divides
 *    by the global batch's count, not the share's: recur_backward's
 *    loss_scale times share/global).  loss_sum and count are the share's;
 *    the trainer sums them.  Dropout: recur_run_set_batch_share makes each
 *    rank draw its streams' masks as one process draws them.
 *  - evaluate: each rank scores its share of the development data and
 *    sums what adds up (losses, counts, true positives) with
 *    recur_parallel_sum before computing metrics; every rank must return
 *    the same metrics.  A task may also score everything on each rank.
 *  - save_state / load_state are called on every rank: save_state returns
 *    the state of all ranks (gathered with recur_parallel_allgather; rank
 *    0's text is written), load_state takes this rank's share of it.
 * The collectives must be called by every rank in the same order. */

/* The message of a task's error when its sum showed that another rank
 * failed (a flag summed with the values): the trainer then reports that
 * rank's own message. */
#define RECUR_PARALLEL_PEER_FAILED "failed on another rank"

/* This process's rank (0-based) and the number of ranks.  The first call
 * starts MPI in a process mpirun started. */
RECUR_API int recur_parallel_rank(void);
RECUR_API int recur_parallel_size(void);
/* The same start, with its error (MPI failed to start, or a build without
 * MPI started by mpirun as one of several processes). */
RECUR_API recur_status recur_parallel_init(recur_error *err);
/* 1 when the library was built with MPI. */
RECUR_API int recur_parallel_available(void);
/* This rank's share of n items: [*first, *first + *count), in rank order,
 * sizes differing by at most one. */
RECUR_API void recur_parallel_share(int64_t n, int64_t *first, int64_t *count);
/* v[0..n) summed over the ranks, in place, the same on every rank. */
RECUR_API recur_status recur_parallel_sum(double *v, int n, recur_error *err);
/* Every rank's `bytes` bytes (may differ between ranks) into all[], in rank
 * order, on every rank; all_bytes is all's size. */
RECUR_API recur_status recur_parallel_allgather(const void *mine, size_t bytes, void *all,
                                                size_t all_bytes, recur_error *err);
/* Ends MPI (MPI_Finalize) when it was started: a program calls it before it
 * exits normally, on every rank; after a failure that not every rank shares,
 * a rank exits non-zero without it, and mpirun ends the job. */
RECUR_API void recur_parallel_finalize(void);

/* ---- the trainer ------------------------------------------------------------ */

typedef enum recur_progress_mode {
    RECUR_PROGRESS_AUTO = 0, /* a live line on a terminal, log lines otherwise */
    RECUR_PROGRESS_LIVE,
    RECUR_PROGRESS_LOG,
    RECUR_PROGRESS_NONE
} recur_progress_mode;

typedef struct recur_input_file {
    const char *role; /* for messages: "TRAIN", "VALID", "TEST" */
    const char *path;
} recur_input_file;

typedef struct recur_trainer_config {
    recur_optim_config optim; /* kind, momentum, weight decay, clip (max global norm) */
    double lr;
    recur_sched_kind schedule;
    double decay;        /* factor of the decay and plateau schedules, in (0, 1] */
    int decay_start;     /* DECAY_AFTER: last epoch at the initial rate */
    int patience;        /* PLATEAU: epochs without improvement before a decay */
    int64_t warmup_steps; /* linear warm-up over the first N steps, 0: none */
    int64_t epochs;
    int early_stop;      /* stop after N epochs without improvement, 0: never */
    int64_t max_steps;   /* stop (resumably) after N steps of this call, 0: none */
    double time_limit;   /* stop (resumably) after this many seconds, 0: none */
    const char *out_dir;
    const char *metrics_path; /* NULL or "": OUT/metrics.jsonl */
    int resume;          /* continue the run in OUT from last.safetensors */
    int force;           /* start anew in an OUT that holds a run */
    /* Files the run reads, each with its role ("TRAIN", "VALID", ...): no
     * output may be one of them, and a resumed run must read the same files
     * (same role, path, size and contents) as the run it continues. */
    const recur_input_file *inputs;
    int n_inputs;
    recur_progress_mode progress;
    FILE *log;           /* progress and messages; NULL: stderr */
    int64_t log_every;   /* steps between log lines and metrics rows, 0: ten per epoch */
    const volatile sig_atomic_t *stop_flag; /* non-zero: stop at the next step */
    recur_precision precision; /* the model's products (recur_model_set_precision): FP32 or BF16 */
} recur_trainer_config;

RECUR_API void recur_trainer_config_default(recur_trainer_config *cfg);

typedef struct recur_trainer recur_trainer;

/* Validates the configuration and prepares OUT before any training: creates
 * the folder, takes its lock (RECUR_ERR_STATE naming the process that holds
 * it), refuses an OUT holding a run without resume or force, outputs that
 * are inputs, and a folder or metrics file that cannot be written.  With
 * resume, restores the optimiser, train state, random state and the task's
 * state from OUT/last.safetensors into the model (whose weights the caller
 * loaded from that file).  Nothing in OUT is replaced until a new model is
 * written.  The trainer keeps pointers to m and task until freed. */
RECUR_API recur_status recur_trainer_create(recur_trainer **out, recur_model *m, const recur_task *task,
                                  const recur_trainer_config *cfg, recur_error *err);
/* Releases the lock.  Safe on NULL. */
RECUR_API void recur_trainer_free(recur_trainer *t);
RECUR_API const char *recur_trainer_errmsg(const recur_trainer *t);

/* Why a run returned. */
typedef enum recur_stop_reason {
    RECUR_STOP_NONE = 0,
    RECUR_STOP_EPOCHS,      /* every epoch done */
    RECUR_STOP_EARLY,       /* early stopping */
    RECUR_STOP_MAX_STEPS,   /* max_steps reached: last.safetensors resumes */
    RECUR_STOP_TIME_LIMIT,  /* time_limit reached: last.safetensors resumes */
    RECUR_STOP_REQUESTED,   /* stop_flag set: last.safetensors resumes */
    RECUR_STOP_ERROR
} recur_stop_reason;

/* Trains until the epochs are done, early stopping, a limit or a stop
 * request.  RECUR_OK for the first four reasons, RECUR_ERR_INTERRUPTED after
 * a stop request (last.safetensors written), or an error (non-finite loss
 * with the epoch and step named, a failed write, a task's error). */
RECUR_API recur_status recur_trainer_run(recur_trainer *t);
RECUR_API recur_stop_reason recur_trainer_stop_reason(const recur_trainer *t);

/* The state of the run (also after create with resume). */
RECUR_API const recur_train_state *recur_trainer_state(const recur_trainer *t);
/* 1 when OUT/best.safetensors holds a model of this run. */
RECUR_API int recur_trainer_has_best(const recur_trainer *t);
RECUR_API const char *recur_trainer_best_path(const recur_trainer *t);
RECUR_API const char *recur_trainer_last_path(const recur_trainer *t);
/* Training seconds of this call of run. */
RECUR_API double recur_trainer_seconds(const recur_trainer *t);
/* The learning rate of the next step as the trainer applies it: the
 * schedule's rate times the warm-up factor min(1, (s + 1) / warmup_steps)
 * for the run's s-th step (0-based). */
RECUR_API double recur_trainer_lr(const recur_trainer *t);

/* Seconds of this call of run spent summing over the ranks (the loss and
 * gradient reductions, waiting for the slowest rank included); 0 on one
 * rank. */
RECUR_API double recur_trainer_reduce_seconds(const recur_trainer *t);

/* Prints a message line on the trainer's log (clearing a live line). */
RECUR_API void recur_trainer_message(recur_trainer *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- language-model training as a task --------------------------------------- */

/* Zaremba et al. (2014): the training ids cut into `batch` parallel streams
 * read in segments of `bptt` steps, the state carried from segment to
 * segment (truncated BPTT) and reset each epoch; evaluation by
 * recur_lm_eval_ids on the validation ids. */
typedef struct recur_lm_task recur_lm_task;

typedef struct recur_lm_task_config {
    int bptt, batch;
    int loss_scale_steps; /* 1: the loss summed over a segment's steps, mean over streams
                             (Zaremba's scale); 0: the mean over both */
    int valid_streams;    /* validation read as N pieces side by side */
} recur_lm_task_config;

RECUR_API void recur_lm_task_config_default(recur_lm_task_config *cfg);
/* The task keeps pointers to m, v, train and valid until freed. */
RECUR_API recur_status recur_lm_task_create(recur_lm_task **out, recur_model *m, const recur_vocab *v,
                                  const int32_t *train, size_t n_train, const int32_t *valid,
                                  size_t n_valid, const recur_lm_task_config *cfg,
                                  recur_error *err);
RECUR_API void recur_lm_task_free(recur_lm_task *t);
/* The callbacks for recur_trainer_create, with the file convention's
 * extra_config set; add meta (recur.vocab at least) before use. */
RECUR_API recur_task recur_lm_task_callbacks(recur_lm_task *t);
RECUR_API int64_t recur_lm_task_segments(const recur_lm_task *t);
RECUR_API const recur_lm_stream *recur_lm_task_stream(const recur_lm_task *t);

#ifdef __cplusplus
}
#endif
#endif /* RECUR_TRAIN_H */
