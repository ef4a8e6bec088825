/*
 * trainer.c - one training loop for every task (recur_train.h).
 *
 * An epoch is the task's steps in order; each step zeroes the gradients,
 * lets the task add its own, and takes the optimiser step (clipping
 * included) at the schedule's rate times the warm-up factor.  After each
 * epoch: evaluation, the schedule, best.safetensors when the decisive metric
 * improved, last.safetensors with everything exact resumption needs, early
 * stopping.  A stop inside an epoch (request, step or time limit) writes
 * last.safetensors with the task's state, so a resumed run goes on bit for
 * bit.
 *
 * The trainer's own resumption state is the __metadata__ entry
 * "recur.trainer" of last.safetensors: the running sums of the epoch's loss,
 * training seconds so far, early stopping's count, whether best.safetensors
 * belongs to the run, the fingerprints of the input files and the task's
 * state.
 *
 * On several ranks (recur_train.h, "data parallelism") every rank runs this
 * loop in step: the task's step on its share, then one small sum (loss,
 * count, and flags for a failure, a stop request and the time limit, so all
 * ranks decide alike) and, when no rank failed, the sum of the flat
 * gradient buffer, then the optimiser step.  Rank 0 alone touches OUT; each
 * checkpoint, evaluation and the setup end with every rank's status
 * (par_agree), so a failure on one rank ends every rank with its message
 * instead of leaving the others waiting in a collective.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/internal.h"
#include "engine/model_internal.h"
#include "parallel.h"
#include "progress.h"
#include "recur_train.h"
#include "run_dir.h"

#define PATH_LEN 4200

struct recur_trainer {
    recur_trainer_config cfg;
    recur_task task;
    recur_model *m;
    recur_optim *opt;
    recur_train_state ts;
    char errmsg[RECUR_ERRMSG_LEN];
    char out_dir[PATH_LEN], best_path[PATH_LEN], last_path[PATH_LEN], metrics_path[PATH_LEN];
    int lock_fd;
    progress *prog;
    json_t *inputs;     /* [{role, path, size, hash}] */
    double epoch_loss;  /* summed loss of the current epoch so far */
    int64_t epoch_count;
    double elapsed_before; /* training seconds of earlier calls */
    int bad_epochs;     /* epochs since the best (early stopping) */
    int has_best;       /* best.safetensors holds a model of this run */
    recur_stop_reason reason;
    double seconds;
    int rank, size;     /* data parallelism: this process's rank, and their number */
    double reduce_s;    /* seconds of this run call in the sums over the ranks */
};

int recur_eval_add(recur_eval *e, const char *name, double value)
{
    if (e->n >= RECUR_MAX_METRICS)
        return -1;
    snprintf(e->m[e->n].name, sizeof e->m[e->n].name, "%s", name);
    e->m[e->n].value = value;
    return e->n++;
}

void recur_trainer_config_default(recur_trainer_config *c)
{
    memset(c, 0, sizeof *c);
    recur_optim_config_default(&c->optim, RECUR_OPTIM_SGD);
    c->lr = 1;
    c->schedule = RECUR_SCHED_CONSTANT;
    c->decay = 1;
    c->epochs = 1;
    c->progress = RECUR_PROGRESS_AUTO;
}

const char *recur_trainer_errmsg(const recur_trainer *t) { return t ? t->errmsg : "no trainer"; }
const recur_train_state *recur_trainer_state(const recur_trainer *t) { return &t->ts; }
int recur_trainer_has_best(const recur_trainer *t) { return t->has_best; }
const char *recur_trainer_best_path(const recur_trainer *t) { return t->best_path; }
const char *recur_trainer_last_path(const recur_trainer *t) { return t->last_path; }
double recur_trainer_seconds(const recur_trainer *t) { return t->seconds; }
recur_stop_reason recur_trainer_stop_reason(const recur_trainer *t) { return t->reason; }
double recur_trainer_reduce_seconds(const recur_trainer *t) { return t->reduce_s; }

double recur_trainer_lr(const recur_trainer *t)
{
    double lr = t->ts.schedule.lr;
    if (t->cfg.warmup_steps > 0 && t->ts.step < t->cfg.warmup_steps)
        lr *= (double)(t->ts.step + 1) / (double)t->cfg.warmup_steps;
    return lr;
}

void recur_trainer_message(recur_trainer *t, const char *fmt, ...)
{
    if (t && t->rank != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    progress_msgv(t ? t->prog : NULL, fmt, ap);
    va_end(ap);
}

/* The decisive metric as a loss: lower is better. */
static double decisive_loss(const recur_eval *ev)
{
    double v = ev->m[ev->decisive].value;
    return ev->higher_better ? -v : v;
}

/* ---- checkpoints ------------------------------------------------------------ */

static recur_status save_here(recur_trainer *t, const char *path, int with_train)
{
    recur_meta_entry meta[RECUR_MAX_METRICS + 32];
    int n = 0;
    if (t->task.n_meta > (int)(sizeof meta / sizeof *meta) - 1)
        return recur_seterr(t->errmsg, RECUR_ERR_ARG, "the task has too many metadata entries");
    for (int i = 0; i < t->task.n_meta; i++)
        meta[n++] = t->task.meta[i];
    char *state_text = NULL, *trainer_text = NULL;
    recur_status st = RECUR_OK;
    if (with_train) {
        json_t *task_state = NULL;
        if (t->task.save_state) {
            char msg[RECUR_ERRMSG_LEN] = "";
            if ((st = t->task.save_state(t->task.ctx, &state_text, msg)) != RECUR_OK)
                return recur_seterr(t->errmsg, st, "%s: %s", path, msg);
            json_error_t je;
            task_state = state_text ? json_loads(state_text, 0, &je) : NULL;
            free(state_text);
            if (!task_state)
                return recur_seterr(t->errmsg, RECUR_ERR_ARG, "%s: the task's state is not JSON",
                                    path);
        }
        json_t *j = json_pack("{s:i,s:i,s:f,s:I,s:f,s:i,s:b,s:O,s:o}", "real_size",
                              (int)sizeof(recur_real), "ranks", t->size, "epoch_loss", t->epoch_loss,
                              "epoch_count", (json_int_t)t->epoch_count, "elapsed_s",
                              t->elapsed_before + t->seconds, "bad_epochs", t->bad_epochs,
                              "has_best", t->has_best, "inputs", t->inputs, "task_state",
                              task_state ? task_state : json_null());
        trainer_text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
        json_decref(j);
        if (!trainer_text)
            return recur_seterr(t->errmsg, RECUR_ERR_NOMEM, "%s: out of memory", path);
        meta[n++] = (recur_meta_entry){"recur.trainer", trainer_text};
    }
    recur_error err = {0};
    if (t->rank == 0)
        st = recur_checkpoint_save(t->m, with_train ? t->opt : NULL, with_train ? &t->ts : NULL,
                                   path, t->task.extra_config, meta, n, &err);
    free(trainer_text);
    if (st != RECUR_OK)
        return recur_seterr(t->errmsg, st, "%s", err.msg);
    return RECUR_OK;
}

/* FNV-1a over the weights and the random state: the ranks must agree. */
static uint64_t model_hash(const recur_model *m)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = (const unsigned char *)m->params;
    for (size_t i = 0, n = m->n_params * sizeof *m->params; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    p = (const unsigned char *)m->rng;
    for (size_t i = 0; i < sizeof *m->rng; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Rank 0 writes path; the task's state is gathered from every rank first.
 * Every rank gets the outcome, and a file is written only while all ranks
 * hold the same model (a check that costs a pass over the weights). */
static recur_status save(recur_trainer *t, const char *path, int with_train)
{
    if (t->size > 1) {
        int same = 1;
        recur_status st = par_same_u64(model_hash(t->m), &same, t->errmsg);
        if (st != RECUR_OK)
            return st;
        if (!same)
            return recur_seterr(t->errmsg, RECUR_ERR_STATE,
                                "%s: the ranks' models differ (a bug, or ranks built differently): "
                                "nothing written",
                                path);
    }
    return par_agree(save_here(t, path, with_train), t->errmsg);
}

/* ---- creation ---------------------------------------------------------------- */

static recur_status fingerprint_inputs(recur_trainer *t)
{
    t->inputs = json_array();
    if (!t->inputs)
        return recur_seterr(t->errmsg, RECUR_ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->cfg.n_inputs; i++) {
        const recur_input_file *in = &t->cfg.inputs[i];
        file_print fp;
        recur_status st = file_fingerprint(in->path, &fp, t->errmsg);
        if (st != RECUR_OK)
            return st;
        char hash[20];
        snprintf(hash, sizeof hash, "%016" PRIx64, fp.hash);
        json_t *e = json_pack("{s:s,s:s,s:I,s:s}", "role", in->role ? in->role : "", "path",
                              in->path, "size", (json_int_t)fp.size, "hash", hash);
        if (!e || json_array_append_new(t->inputs, e) != 0)
            return recur_seterr(t->errmsg, RECUR_ERR_NOMEM, "out of memory");
    }
    return RECUR_OK;
}

/* An output that is one of the inputs would destroy it. */
static recur_status check_outputs(recur_trainer *t)
{
    const char *outs[3] = {t->best_path, t->last_path, t->metrics_path};
    const char *what[3] = {"the best model", "the last checkpoint", "the metrics file"};
    for (int k = 0; k < 3; k++) {
        if (!outs[k][0])
            continue;
        for (int i = 0; i < t->cfg.n_inputs; i++)
            if (same_file(outs[k], t->cfg.inputs[i].path))
                return recur_seterr(t->errmsg, RECUR_ERR_ARG,
                                    "%s %s is the input %s (%s): refusing to overwrite an input",
                                    what[k], outs[k], t->cfg.inputs[i].role,
                                    t->cfg.inputs[i].path);
    }
    if (t->metrics_path[0] &&
        (same_file(t->metrics_path, t->best_path) || same_file(t->metrics_path, t->last_path) ||
         !strcmp(t->metrics_path, t->best_path) || !strcmp(t->metrics_path, t->last_path)))
        return recur_seterr(t->errmsg, RECUR_ERR_ARG,
                            "the metrics file %s is one of the run's model files",
                            t->metrics_path);
    return RECUR_OK;
}

/* The stored inputs must be the given ones: a different VALID would make
 * "best" compare losses across two files. */
static recur_status check_same_inputs(recur_trainer *t, json_t *stored)
{
    if (!json_is_array(stored))
        return recur_seterr(t->errmsg, RECUR_ERR_FORMAT, "%s: recur.trainer lacks the inputs",
                            t->last_path);
    size_t n = json_array_size(stored);
    for (size_t i = 0; i < json_array_size(t->inputs) || i < n; i++) {
        json_t *a = json_array_get(t->inputs, i), *b = json_array_get(stored, i);
        const char *ra = json_string_value(json_object_get(a, "role"));
        const char *rb = json_string_value(json_object_get(b, "role"));
        const char *pa = json_string_value(json_object_get(a, "path"));
        const char *pb = json_string_value(json_object_get(b, "path"));
        if (!a || !b)
            return recur_seterr(t->errmsg, RECUR_ERR_MISMATCH,
                                "--resume: the run read %s %s, this one %s %s: a resumed run "
                                "reads the files of the run it continues",
                                b ? rb : "no", b ? pb : "such file", a ? ra : "no",
                                a ? pa : "such file");
        if (!ra || !rb || strcmp(ra, rb) != 0 ||
            !json_equal(json_object_get(a, "size"), json_object_get(b, "size")) ||
            !json_equal(json_object_get(a, "hash"), json_object_get(b, "hash")))
            return recur_seterr(t->errmsg, RECUR_ERR_MISMATCH,
                                "--resume: %s is %s, but the run read %s%s: a resumed run reads "
                                "the files of the run it continues",
                                ra ? ra : "?", pa ? pa : "?", pb ? pb : "?",
                                pa && pb && !strcmp(pa, pb) ? " (changed since)" : "");
    }
    return RECUR_OK;
}

static recur_status restore(recur_trainer *t)
{
    recur_error err = {0};
    recur_checkpoint *ck = NULL;
    recur_status st = recur_checkpoint_open(&ck, t->last_path, &err);
    if (st != RECUR_OK)
        return recur_seterr(t->errmsg, st, "--resume: %s", err.msg);
    json_t *j = NULL;
    if (!recur_checkpoint_has_train_state(ck)) {
        st = recur_seterr(t->errmsg, RECUR_ERR_FORMAT, "--resume: %s holds no training state",
                          t->last_path);
        goto done;
    }
    if ((st = recur_checkpoint_load_train(ck, t->m, t->opt, &t->ts, &err)) != RECUR_OK) {
        st = recur_seterr(t->errmsg, st, "--resume: %s", err.msg);
        goto done;
    }
    json_error_t je;
    const char *text = recur_checkpoint_meta(ck, "recur.trainer");
    j = text ? json_loads(text, 0, &je) : NULL;
    json_t *rs = json_object_get(j, "real_size");
    json_t *el = json_object_get(j, "epoch_loss"), *ec = json_object_get(j, "epoch_count");
    json_t *es = json_object_get(j, "elapsed_s"), *be = json_object_get(j, "bad_epochs");
    json_t *hb = json_object_get(j, "has_best"), *rk = json_object_get(j, "ranks");
    if (!json_is_integer(rs) || !json_is_number(el) || !json_is_integer(ec) ||
        !json_is_number(es) || !json_is_integer(be) || !json_is_boolean(hb)) {
        st = recur_seterr(t->errmsg, RECUR_ERR_FORMAT,
                          "--resume: %s: recur.trainer is missing or malformed", t->last_path);
        goto done;
    }
    if (json_integer_value(rs) != (json_int_t)sizeof(recur_real)) {
        st = recur_seterr(t->errmsg, RECUR_ERR_MISMATCH,
                          "--resume: %s was written by a build with %d-byte reals, this one has %d",
                          t->last_path, (int)json_integer_value(rs), (int)sizeof(recur_real));
        goto done;
    }
    int ranks = rk ? (int)json_integer_value(rk) : 1;
    if (ranks != t->size) {
        st = recur_seterr(t->errmsg, RECUR_ERR_MISMATCH,
                          "--resume: %s was trained on %d rank%s, this run has %d: exact "
                          "resumption needs the same number (mpirun -np %d)",
                          t->last_path, ranks, ranks == 1 ? "" : "s", t->size, ranks);
        goto done;
    }
    if ((st = check_same_inputs(t, json_object_get(j, "inputs"))) != RECUR_OK)
        goto done;
    t->epoch_loss = json_number_value(el);
    t->epoch_count = json_integer_value(ec);
    t->elapsed_before = json_number_value(es);
    t->bad_epochs = (int)json_integer_value(be);
    t->has_best = json_is_true(hb);
    int64_t steps = t->task.epoch_steps(t->task.ctx);
    if (t->ts.position < 0 || t->ts.position > steps) {
        st = recur_seterr(t->errmsg, RECUR_ERR_MISMATCH,
                          "--resume: %s: position %lld outside the %lld steps of an epoch",
                          t->last_path, (long long)t->ts.position, (long long)steps);
        goto done;
    }
    json_t *ts = json_object_get(j, "task_state");
    if (t->task.load_state && json_is_null(ts) == 0) {
        char *s = json_dumps(ts, JSON_COMPACT | JSON_ENCODE_ANY);
        char msg[RECUR_ERRMSG_LEN] = "";
        st = s ? t->task.load_state(t->task.ctx, s, msg) : RECUR_ERR_NOMEM;
        free(s);
        if (st != RECUR_OK) {
            st = recur_seterr(t->errmsg, st, "--resume: %s: %s", t->last_path, msg);
            goto done;
        }
    } else if (t->task.load_state) {
        st = recur_seterr(t->errmsg, RECUR_ERR_FORMAT, "--resume: %s holds no task state",
                          t->last_path);
        goto done;
    }
done:
    json_decref(j);
    recur_checkpoint_close(ck);
    return st;
}

/* safetensors' header limit (100 MB) less room for the tensor table and
 * the trainer's own entries */
#define TRAINER_MAX_META 90000000u

static recur_status check_config(const recur_trainer_config *c, const recur_task *task, char *msg)
{
    if (!task || !task->epoch_steps || !task->step || !task->evaluate || !task->unit)
        return recur_seterr(msg, RECUR_ERR_ARG,
                            "trainer: the task needs epoch_steps, step, evaluate and a unit");
    if (!c->out_dir || !*c->out_dir)
        return recur_seterr(msg, RECUR_ERR_ARG, "trainer: no run folder (out_dir)");
    if (c->precision != RECUR_PRECISION_FP32 && c->precision != RECUR_PRECISION_BF16)
        return recur_seterr(msg, RECUR_ERR_ARG, "trainer: precision %s: fp32 or bf16",
                            recur_precision_name(c->precision));
    if (c->epochs < 1)
        return recur_seterr(msg, RECUR_ERR_ARG, "trainer: epochs %lld: at least 1",
                            (long long)c->epochs);
    if (!(c->lr >= 0) || !isfinite(c->lr))
        return recur_seterr(msg, RECUR_ERR_ARG, "trainer: learning rate %g", c->lr);
    if (c->schedule != RECUR_SCHED_CONSTANT && !(c->decay > 0 && c->decay <= 1))
        return recur_seterr(msg, RECUR_ERR_ARG, "trainer: decay %g outside (0, 1]", c->decay);
    if (c->warmup_steps < 0 || c->max_steps < 0 || c->early_stop < 0 || !(c->time_limit >= 0))
        return recur_seterr(msg, RECUR_ERR_ARG, "trainer: negative limit");
    if (c->resume && c->force)
        return recur_seterr(msg, RECUR_ERR_ARG, "--resume and --force exclude each other");
    /* Every model file carries the task's metadata in its header, which a
     * reader accepts up to 100 MB (safetensors' limit): refuse before
     * training what could never be saved. */
    size_t meta_bytes = task->extra_config ? strlen(task->extra_config) : 0;
    for (int i = 0; i < task->n_meta; i++)
        meta_bytes += strlen(task->meta[i].key) + strlen(task->meta[i].value);
    if (meta_bytes > TRAINER_MAX_META)
        return recur_seterr(msg, RECUR_ERR_ARG,
                            "trainer: the run's metadata (vocabularies, settings) is %zu bytes; a model file's "
                            "header holds at most %u, so no checkpoint could be written or read (a token or "
                            "label of absurd length in the data?)",
                            meta_bytes, (unsigned)TRAINER_MAX_META);
    return RECUR_OK;
}

/* What create does on each rank: rank 0 alone makes, locks and checks OUT
 * and opens the metrics file; every rank builds the optimiser and, with
 * resume, restores the run. */
static recur_status prepare(recur_trainer *t, const recur_trainer_config *cfg)
{
    recur_model *m = t->m;
    recur_status st = RECUR_OK;
    FILE *metrics = NULL;
    const int lead = t->rank == 0;
    /* the folder, its lock, then checks that write nothing */
    if (lead && ((st = run_dir_make(t->out_dir, t->errmsg)) != RECUR_OK ||
                 (st = run_dir_lock(t->out_dir, &t->lock_fd, t->errmsg)) != RECUR_OK))
        return st;
    if (lead && !cfg->resume && !cfg->force && file_exists(t->last_path)) {
        st = recur_seterr(t->errmsg, RECUR_ERR_STATE,
                          "%s already holds a run (last.safetensors): continue it with --resume, "
                          "start anew with --force, or choose another folder",
                          t->out_dir);
        return st;
    }
    if (cfg->resume && !file_exists(t->last_path)) {
        st = recur_seterr(t->errmsg, RECUR_ERR_STATE, "--resume: %s has no last.safetensors",
                          t->out_dir);
        return st;
    }
    if ((st = fingerprint_inputs(t)) != RECUR_OK ||
        (lead && ((st = check_outputs(t)) != RECUR_OK ||
                  (st = run_dir_check_writable(t->out_dir, t->errmsg)) != RECUR_OK)))
        return st;

    recur_error e2 = {0};
    if ((st = recur_optim_create(&t->opt, m, &cfg->optim, &e2)) != RECUR_OK) {
        recur_seterr(t->errmsg, st, "optimiser: %s", e2.msg);
        return st;
    }
    recur_schedule_init(&t->ts.schedule, cfg->schedule, cfg->lr, cfg->decay,
                        cfg->schedule == RECUR_SCHED_PLATEAU ? cfg->patience : cfg->decay_start);
    t->ts.best_val = INFINITY;
    if (cfg->resume && (st = restore(t)) != RECUR_OK)
        return st;

    /* the metrics file last: opening it for a new run empties it */
    metrics = lead ? fopen(t->metrics_path, cfg->resume ? "a" : "w") : NULL;
    if (lead && !metrics) {
        st = recur_seterr(t->errmsg, RECUR_ERR_IO, "%s: cannot open the metrics file for writing",
                          t->metrics_path);
        return st;
    }
    t->prog = progress_new(lead ? cfg->progress : RECUR_PROGRESS_NONE, cfg->log, metrics);
    if (!t->prog) {
        if (metrics)
            fclose(metrics);
        st = recur_seterr(t->errmsg, RECUR_ERR_NOMEM, "out of memory");
        return st;
    }
    return RECUR_OK;
}

recur_status recur_trainer_create(recur_trainer **out, recur_model *m, const recur_task *task,
                                  const recur_trainer_config *cfg, recur_error *err)
{
    *out = NULL;
    char msg[RECUR_ERRMSG_LEN];
    recur_status st = check_config(cfg, task, msg);
    if (st != RECUR_OK)
        return recur_error_set(err, st, "%s", msg);
    recur_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    t->cfg = *cfg;
    t->task = *task;
    t->m = m;
    if ((st = recur_model_set_precision(m, cfg->precision)) != RECUR_OK) {
        recur_error_set(err, st, "%s", recur_model_errmsg(m));
        free(t);
        return st;
    }
    t->lock_fd = -1;
    snprintf(t->out_dir, sizeof t->out_dir, "%s", cfg->out_dir);
    t->cfg.out_dir = t->out_dir;
    snprintf(t->best_path, sizeof t->best_path, "%s/best.safetensors", cfg->out_dir);
    snprintf(t->last_path, sizeof t->last_path, "%s/last.safetensors", cfg->out_dir);
    if (cfg->metrics_path && *cfg->metrics_path)
        snprintf(t->metrics_path, sizeof t->metrics_path, "%s", cfg->metrics_path);
    else
        snprintf(t->metrics_path, sizeof t->metrics_path, "%s/metrics.jsonl", cfg->out_dir);
    t->cfg.metrics_path = t->metrics_path;
    recur_status prep = par_init(t->errmsg);
    t->rank = recur_parallel_rank();
    t->size = recur_parallel_size();
    if (prep == RECUR_OK && t->size > 1 && task->ranks != t->size)
        prep = recur_seterr(t->errmsg, RECUR_ERR_ARG,
                            "this task splits its batches over %d rank%s, the job has %d: a task "
                            "must take its share of each batch (recur_train.h)",
                            task->ranks > 1 ? task->ranks : 1, task->ranks > 1 ? "s" : "",
                            t->size);
    if (prep == RECUR_OK)
        prep = prepare(t, cfg);
    /* every rank goes on, or every rank stops with the first failure */
    if ((st = par_agree(prep, t->errmsg)) != RECUR_OK)
        goto fail;
    /* one model on every rank: rank 0's weights and random state (dropout) */
    if ((st = par_broadcast_real(m->params, m->n_params, t->errmsg)) != RECUR_OK ||
        (st = par_broadcast_bytes(m->rng, sizeof *m->rng, t->errmsg)) != RECUR_OK)
        goto fail;
    *out = t;
    return RECUR_OK;
fail:
    recur_error_set(err, st, "%s", t->errmsg);
    recur_trainer_free(t);
    return st;
}

void recur_trainer_free(recur_trainer *t)
{
    if (!t)
        return;
    progress_free(t->prog);
    recur_optim_free(t->opt);
    json_decref(t->inputs);
    run_dir_unlock(t->lock_fd);
    free(t);
}

/* ---- the loop ------------------------------------------------------------------ */

static int stop_requested(const recur_trainer *t)
{
    return t->cfg.stop_flag && *t->cfg.stop_flag;
}

/* Is flag set on any rank? (A stop request reaches the ranks at different
 * steps: they must stop at the same one.) */
static int any_rank(recur_trainer *t, int flag)
{
    double v = flag;
    return par_sum_doubles(&v, 1, t->errmsg) == RECUR_OK ? v > 0 : flag;
}

static recur_status evaluate_here(recur_trainer *t, recur_eval *ev)
{
    memset(ev, 0, sizeof *ev);
    char msg[RECUR_ERRMSG_LEN] = "";
    recur_status st = t->task.evaluate(t->task.ctx, ev, msg);
    if (st != RECUR_OK)
        return recur_seterr(t->errmsg, st, "evaluation: %s", msg);
    if (ev->n < 1 || ev->decisive < 0 || ev->decisive >= ev->n)
        return recur_seterr(t->errmsg, RECUR_ERR_ARG, "evaluation: no decisive metric");
    if (!isfinite(ev->m[ev->decisive].value))
        return recur_seterr(t->errmsg, RECUR_ERR_NONFINITE,
                            "evaluation: %s is not finite (%g): training diverged; try a lower "
                            "learning rate or gradient clipping",
                            ev->m[ev->decisive].name, ev->m[ev->decisive].value);
    return RECUR_OK;
}

static recur_status evaluate(recur_trainer *t, recur_eval *ev)
{
    return par_agree(evaluate_here(t, ev), t->errmsg);
}

static void estimate(const recur_trainer *t, progress_stats *s, int64_t index, int64_t nsteps,
                     int64_t epoch, double sec_per_step, double eval_s, double session_s)
{
    double left = (double)(nsteps - index - 1) + (double)(t->cfg.epochs - epoch) * (double)nsteps;
    double eta = left * sec_per_step + eval_s * (double)(t->cfg.epochs - epoch + 1);
    if (t->cfg.time_limit > 0 && t->cfg.time_limit - session_s < eta)
        eta = t->cfg.time_limit - session_s + eval_s;
    s->eta = eta;
}

/* A metrics row that could not be written ends the run: its rows would be lost. */
static recur_status metrics_written(recur_trainer *t)
{
    int e = progress_metrics_errno(t->prog);
    if (!e)
        return RECUR_OK;
    return recur_seterr(t->errmsg, RECUR_ERR_IO, "cannot write the metrics file %s: %s (training stopped)",
                        t->metrics_path, strerror(e));
}

/* The end of a complete epoch: evaluation, schedule, best, last, early stop.
 * *stop is set when early stopping fires. */
static recur_status end_epoch(recur_trainer *t, int64_t epoch, double lr, double t0,
                              double *eval_s, int *stop)
{
    double v0 = progress_now();
    recur_eval ev;
    recur_status st = evaluate(t, &ev);
    if (st != RECUR_OK)
        return st;
    *eval_s = progress_now() - v0;
    double key = decisive_loss(&ev);
    int best = key < t->ts.best_val;
    t->seconds = progress_now() - t0;
    if (best) {
        t->ts.best_val = key;
        t->bad_epochs = 0;
        if ((st = save(t, t->best_path, 0)) != RECUR_OK)
            return st;
        t->has_best = 1;
    } else {
        t->bad_epochs++;
    }
    double train_loss = t->epoch_count ? t->epoch_loss / (double)t->epoch_count : NAN;
    recur_schedule_epoch_end(&t->ts.schedule, key);
    t->ts.epoch = epoch;
    t->ts.position = 0;
    t->epoch_loss = 0;
    t->epoch_count = 0;
    t->seconds = progress_now() - t0;
    if ((st = save(t, t->last_path, 1)) != RECUR_OK)
        return st;
    progress_epoch(t->prog, &t->task, epoch, train_loss, &ev, lr,
                   t->elapsed_before + t->seconds, best);
    if ((st = metrics_written(t)) != RECUR_OK)
        return st;
    if (t->cfg.early_stop > 0 && t->bad_epochs >= t->cfg.early_stop) {
        recur_trainer_message(t, "early stop: %d epochs without improvement", t->bad_epochs);
        *stop = 1;
    }
    return RECUR_OK;
}

/* The step's sums over the ranks, and what every rank must decide alike:
 * a failure on any rank (st, with errmsg holding this rank's message),
 * a stop request, the time limit.  Then, when no rank failed, the gradients. */
static recur_status reduce_step(recur_trainer *t, recur_status st, double *loss_sum,
                                int64_t *count, int *stop, int *time_up)
{
    if (t->size < 2)
        return st;
    double s0 = progress_now();
    double v[5] = {*loss_sum, (double)*count, st != RECUR_OK, *stop, *time_up};
    recur_status rs = par_sum_doubles(v, 5, t->errmsg);
    if (rs == RECUR_OK && v[2] > 0)
        rs = par_agree(st, t->errmsg);
    if (rs == RECUR_OK) {
        *loss_sum = v[0];
        *count = (int64_t)v[1];
        *stop = v[3] > 0;
        *time_up = v[4] > 0;
        rs = par_sum_real(recur_model_grads(t->m), recur_model_num_params(t->m), t->errmsg);
    }
    t->reduce_s += progress_now() - s0;
    return rs;
}

/* A non-finite loss or gradient at the step being taken. */
static void diverged(recur_trainer *t, int64_t epoch, const char *what)
{
    recur_seterr(t->errmsg, RECUR_ERR_NONFINITE,
                 "epoch %lld, step %lld: %s: training diverged; try a lower learning rate or "
                 "gradient clipping",
                 (long long)epoch, (long long)t->ts.step + 1, what);
}

recur_status recur_trainer_run(recur_trainer *t)
{
    const double t0 = progress_now();
    const int64_t nsteps = t->task.epoch_steps(t->task.ctx);
    char msg[RECUR_ERRMSG_LEN];
    recur_status st = RECUR_OK;
    double step_s = 0, eval_s = 0;
    int64_t steps_run = 0;
    int64_t log_every = t->cfg.log_every > 0 ? t->cfg.log_every : (nsteps >= 10 ? nsteps / 10 : 1);
    t->reason = RECUR_STOP_NONE;
    t->seconds = 0;
    t->reduce_s = 0;
    if (nsteps < 1) {
        t->reason = RECUR_STOP_ERROR;
        return recur_seterr(t->errmsg, RECUR_ERR_ARG, "the task has no training steps");
    }
    if (t->cfg.early_stop > 0 && t->bad_epochs >= t->cfg.early_stop) {
        t->reason = RECUR_STOP_EARLY;
        return RECUR_OK;
    }
    for (int64_t epoch = t->ts.epoch + 1; epoch <= t->cfg.epochs && !t->reason; epoch++) {
        int64_t first = 0;
        if (epoch == t->ts.epoch + 1 && t->ts.position > 0) {
            first = t->ts.position;
        } else {
            t->epoch_loss = 0;
            t->epoch_count = 0;
        }
        msg[0] = '\0';
        st = t->task.epoch_begin ? t->task.epoch_begin(t->task.ctx, epoch, first, msg) : RECUR_OK;
        if (st != RECUR_OK)
            recur_seterr(t->errmsg, st, "epoch %lld: %s", (long long)epoch, msg);
        if ((st = par_agree(st, t->errmsg)) != RECUR_OK)
            goto error;
        const double epoch_lr = recur_trainer_lr(t);
        double iv_loss = 0, iv_gn = 0, iv_t0 = progress_now();
        int64_t iv_count = 0, iv_steps = 0, iv_clipped = 0;
        for (int64_t index = first; index < nsteps; index++) {
            double s0 = progress_now();
            recur_model_zero_grad(t->m);
            double loss_sum = 0;
            int64_t count = 0;
            msg[0] = '\0';
            st = t->task.step(t->task.ctx, epoch, index, &loss_sum, &count, msg);
            if (st == RECUR_ERR_NONFINITE)
                diverged(t, epoch, msg[0] ? msg : "the loss is not finite");
            else if (st != RECUR_OK)
                recur_seterr(t->errmsg, st, "epoch %lld, step %lld: %s", (long long)epoch,
                             (long long)t->ts.step + 1, msg);
            int stop = stop_requested(t);
            int time_up = t->cfg.time_limit > 0 && progress_now() - t0 >= t->cfg.time_limit;
            if ((st = reduce_step(t, st, &loss_sum, &count, &stop, &time_up)) != RECUR_OK)
                goto error;
            const double lr = recur_trainer_lr(t);
            double gn = 0;
            int clipped = 0;
            st = recur_optim_step(t->opt, lr, &gn, &clipped);
            if (st == RECUR_ERR_NONFINITE) {
                diverged(t, epoch, recur_optim_errmsg(t->opt));
                goto error;
            }
            if (st != RECUR_OK) {
                recur_seterr(t->errmsg, st, "%s", recur_optim_errmsg(t->opt));
                goto error;
            }
            t->ts.step++;
            t->ts.position = index + 1;
            t->ts.epoch = epoch - 1;
            t->epoch_loss += loss_sum;
            t->epoch_count += count;
            iv_loss += loss_sum;
            iv_count += count;
            iv_gn += gn;
            iv_clipped += clipped;
            iv_steps++;
            steps_run++;
            double now = progress_now();
            step_s += now - s0;
            int log_row = (index + 1) % log_every == 0 || index + 1 == nsteps;
            progress_stats s = {0};
            s.epoch = epoch;
            s.epochs = t->cfg.epochs;
            s.step = t->ts.step;
            s.epoch_frac = (double)(index + 1) / (double)nsteps;
            s.units_per_s = (double)iv_count / (now - iv_t0 > 1e-9 ? now - iv_t0 : 1e-9);
            s.loss = iv_count ? iv_loss / (double)iv_count : NAN;
            s.lr = lr;
            s.grad_norm = iv_gn / (double)iv_steps;
            s.clipped_share = (double)iv_clipped / (double)iv_steps;
            s.elapsed = t->elapsed_before + (now - t0);
            estimate(t, &s, index, nsteps, epoch, step_s / (double)steps_run, eval_s, now - t0);
            progress_update(t->prog, &t->task, &s, log_row);
            if (log_row && (st = metrics_written(t)) != RECUR_OK)
                goto error;
            if (log_row) {
                iv_loss = iv_gn = 0;
                iv_count = iv_steps = iv_clipped = 0;
                iv_t0 = progress_now();
            }
            if (t->size < 2) { /* one rank decides after the step, several at their sum */
                stop = stop_requested(t);
                time_up = t->cfg.time_limit > 0 && now - t0 >= t->cfg.time_limit;
            }
            if (stop)
                t->reason = RECUR_STOP_REQUESTED;
            else if (t->cfg.max_steps > 0 && steps_run >= t->cfg.max_steps)
                t->reason = RECUR_STOP_MAX_STEPS;
            else if (time_up)
                t->reason = RECUR_STOP_TIME_LIMIT;
            if (t->reason)
                break;
        }
        if (t->reason && t->ts.position < nsteps) {
            /* inside an epoch: a resumable checkpoint with the task's state */
            t->seconds = progress_now() - t0;
            if ((st = save(t, t->last_path, 1)) != RECUR_OK)
                goto error;
            static const char *why[] = {"", "", "", "--max-steps reached", "--time-limit reached",
                                        "interrupted"};
            recur_trainer_message(t,
                                  "%s at epoch %lld, step %lld of %lld: %s written (continue with "
                                  "--resume)",
                                  why[t->reason], (long long)epoch, (long long)t->ts.position,
                                  (long long)nsteps, t->last_path);
            break;
        }
        int early = 0;
        if ((st = end_epoch(t, epoch, epoch_lr, t0, &eval_s, &early)) != RECUR_OK)
            goto error;
        if (!t->reason && any_rank(t, stop_requested(t)))
            t->reason = RECUR_STOP_REQUESTED;
        if (t->reason == RECUR_STOP_REQUESTED)
            recur_trainer_message(t, "interrupted: %s written (continue with --resume)",
                                  t->last_path);
        if (!t->reason && early)
            t->reason = RECUR_STOP_EARLY;
    }
    if (t->reason == RECUR_STOP_TIME_LIMIT && t->ts.position > 0) {
        /* The time is up: the model as it is competes for best.  (Not after
         * max_steps, a pause: a run resumed from there stays exactly the
         * uninterrupted run, best model included.) */
        recur_eval ev;
        if ((st = evaluate(t, &ev)) != RECUR_OK)
            goto error;
        char text[512];
        if (t->task.format_epoch) {
            t->task.format_epoch(t->task.ctx, NAN, &ev, text, sizeof text);
        } else {
            snprintf(text, sizeof text, "%s %.4f", ev.m[ev.decisive].name,
                     ev.m[ev.decisive].value);
        }
        recur_trainer_message(t, "at the stop: %s", text);
        double key = decisive_loss(&ev);
        if (key < t->ts.best_val) {
            t->ts.best_val = key;
            t->seconds = progress_now() - t0;
            if ((st = save(t, t->best_path, 0)) != RECUR_OK)
                goto error;
            t->has_best = 1;
            /* the best value lives in the train state too */
            if ((st = save(t, t->last_path, 1)) != RECUR_OK)
                goto error;
        }
    }
    if (!t->reason)
        t->reason = RECUR_STOP_EPOCHS;
    t->seconds = progress_now() - t0;
    progress_clear(t->prog);
    return t->reason == RECUR_STOP_REQUESTED ? RECUR_ERR_INTERRUPTED : RECUR_OK;
error:
    t->reason = RECUR_STOP_ERROR;
    t->seconds = progress_now() - t0;
    progress_clear(t->prog);
    return st;
}
