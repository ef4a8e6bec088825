/*
 * fail_rank.c - a data-parallel job in which one rank fails (run by
 * tests/mpi/data_parallel.sh under mpirun -np 2): a toy sequence-labelling
 * task whose rank 1 fails at step 3 (mode "step") or in the evaluation
 * (mode "eval"), or a task that does not split its batches (mode
 * "nosplit").  Every rank must get the failing rank's message from the
 * trainer and return; each prints "rank R of N: MESSAGE" and exits 1.
 *
 * usage: fail_rank OUT step|eval|nosplit
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recur_train.h"

enum { N = 16, T = 5, B = 4, F = 3, C = 2 };

typedef struct toy {
    recur_model *m;
    recur_run *run;
    const char *mode;
    int rank;
    int64_t first, share; /* this rank's share of each batch of B */
    recur_real x[N][T][F];
    int32_t y[N][T];
} toy;

/* A callback's message (512 bytes), as the library's tasks write it. */
static recur_status seterr(char *msg, recur_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static recur_status seterr(char *msg, recur_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, 512, fmt, ap);
    va_end(ap);
    return st;
}

static int64_t toy_steps(void *ctx)
{
    (void)ctx;
    return N / B;
}

static recur_status toy_step(void *ctx, int64_t epoch, int64_t index, double *loss_sum,
                             int64_t *count, char *msg)
{
    (void)epoch;
    toy *t = ctx;
    if (!strcmp(t->mode, "step") && t->rank == 1 && index == 2)
        return seterr(msg, RECUR_ERR_FORMAT, "line 17 of the toy data on rank 1 is malformed");
    recur_real x[T][B][F];
    int32_t y[T][B];
    for (int k = 0; k < T; k++)
        for (int b = 0; b < t->share; b++) {
            int i = (int)(index * B + t->first + b);
            memcpy(x[k][b], t->x[i][k], sizeof x[k][b]);
            y[k][b] = t->y[i][k];
        }
    /* time-major (T, share) with the batch's stride of `share` */
    recur_real xs[T * B * F];
    int32_t ys[T * B];
    for (int k = 0; k < T; k++)
        for (int b = 0; b < t->share; b++) {
            memcpy(xs + ((size_t)k * t->share + b) * F, x[k][b], sizeof x[k][b]);
            ys[k * t->share + b] = y[k][b];
        }
    recur_batch bt = {.T = T, .B = (int)t->share, .inputs = xs, .targets = ys};
    double loss;
    int64_t n;
    recur_status st = recur_forward(t->run, &bt, 1, &loss, &n);
    if (st == RECUR_OK)
        st = recur_backward(t->run, (double)n / (double)(T * B), NULL, NULL, NULL);
    if (st != RECUR_OK)
        return seterr(msg, st, "%s", recur_run_errmsg(t->run));
    *loss_sum = loss * (double)n;
    *count = n;
    return RECUR_OK;
}

static recur_status toy_evaluate(void *ctx, recur_eval *ev, char *msg)
{
    toy *t = ctx;
    int failed = !strcmp(t->mode, "eval") && t->rank == 1;
    double v[3] = {1.0, 1.0, failed};
    recur_error err = {0};
    if (recur_parallel_sum(v, 3, &err) != RECUR_OK)
        return seterr(msg, err.status, "%s", err.msg);
    if (failed)
        return seterr(msg, RECUR_ERR_IO, "the toy development data on rank 1 is unreadable");
    if (v[2] > 0)
        return seterr(msg, RECUR_ERR_STATE, "%s", RECUR_PARALLEL_PEER_FAILED);
    ev->decisive = recur_eval_add(ev, "loss", v[0] / v[1]);
    ev->higher_better = 0;
    return RECUR_OK;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fail_rank OUT step|eval|nosplit\n");
        return 2;
    }
    static toy t;
    t.mode = argv[2];
    t.rank = recur_parallel_rank();
    recur_parallel_share(B, &t.first, &t.share);
    uint64_t s = 99;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < T; k++) {
            for (int f = 0; f < F; f++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                t.x[i][k][f] = (recur_real)((double)(s >> 11) / 9007199254740992.0 - 0.5);
            }
            t.y[i][k] = t.x[i][k][0] > 0;
        }
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.rnn.cell = RECUR_CELL_GRU;
    cfg.rnn.input_size = F;
    cfg.rnn.hidden_size = 8;
    cfg.output_size = C;
    recur_error err = {0};
    if (recur_model_create(&t.m, &cfg, 7, &err) != RECUR_OK || recur_model_init_default(t.m) ||
        recur_run_create(&t.run, t.m, T, B, &err) != RECUR_OK) {
        fprintf(stderr, "fail_rank: %s\n", err.msg);
        return 2;
    }
    recur_task task = {0};
    task.ctx = &t;
    task.unit = "step";
    task.epoch_steps = toy_steps;
    task.step = toy_step;
    task.evaluate = toy_evaluate;
    task.ranks = strcmp(t.mode, "nosplit") ? recur_parallel_size() : 0;
    recur_trainer_config tc;
    recur_trainer_config_default(&tc);
    tc.out_dir = argv[1];
    tc.epochs = 2;
    tc.progress = RECUR_PROGRESS_NONE;
    recur_trainer *tr = NULL;
    const char *why = NULL;
    if (recur_trainer_create(&tr, t.m, &task, &tc, &err) != RECUR_OK)
        why = err.msg;
    else if (recur_trainer_run(tr) != RECUR_OK)
        why = recur_trainer_errmsg(tr);
    int rc = 0;
    if (why) {
        fprintf(stderr, "rank %d of %d: %s\n", t.rank, recur_parallel_size(), why);
        rc = 1;
    }
    recur_trainer_free(tr);
    recur_run_free(t.run);
    recur_model_free(t.m);
    recur_parallel_finalize(); /* the failure is every rank's: all end MPI together */
    return rc;
}
