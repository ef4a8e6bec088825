/*
 * parallel.c - data parallelism's collectives (parallel.h) and the public
 * recur_parallel_* (recur_train.h): the one file that calls MPI.
 *
 * Built with -DRECUR_MPI (make MPI=1, or Open MPI detected), MPI starts on
 * the first call only in a process that mpirun started (its environment
 * says so); a process started without mpirun is one rank and never touches
 * MPI, so a recur built with MPI runs as before.  Errors return
 * (MPI_ERRORS_RETURN) instead of aborting the job from inside a library;
 * a rank that dies is mpirun's to notice: it ends the job.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "parallel.h"

#ifdef RECUR_MPI
#include <mpi.h>
#endif

static int g_state;  /* 0: not yet, 1: ready, -1: failed */
static int g_rank, g_size = 1;
static char g_error[RECUR_ERRMSG_LEN];

/* The number of processes mpirun (Open MPI, or a PMI launcher) started, 0
 * when not started by one. */
static int launched_size(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return atoi(v);
    }
    return getenv("PMIX_RANK") ? 2 : 0;
}

#ifdef RECUR_MPI

static int g_mpi; /* MPI_Init was called (and MPI_Finalize not yet) */

#define REAL_MPI (sizeof(recur_real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT)
/* Elements per call: MPI counts are int. */
#define CHUNK ((size_t)1 << 28)

static recur_status mpi_fail(int rc, const char *what, char *msg)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error %d", rc);
    return recur_seterr(msg, RECUR_ERR_IO, "MPI %s: %s", what, text);
}

recur_status par_init(char *msg)
{
    if (g_state == 0) {
        g_state = 1;
        if (launched_size() > 0) {
            int provided = 0;
            int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
            if (rc != MPI_SUCCESS) {
                mpi_fail(rc, "init", g_error);
                g_state = -1;
            } else {
                g_mpi = 1;
                MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
                MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
                MPI_Comm_size(MPI_COMM_WORLD, &g_size);
            }
        }
    }
    if (g_state < 0)
        return recur_seterr(msg, RECUR_ERR_IO, "%s", g_error);
    return RECUR_OK;
}

int recur_parallel_available(void) { return 1; }

void recur_parallel_finalize(void)
{
    int done = 0;
    if (g_mpi && MPI_Finalized(&done) == MPI_SUCCESS && !done)
        MPI_Finalize();
    g_mpi = 0;
}

recur_status par_sum_real(recur_real *buf, size_t n, char *msg)
{
    for (size_t i = 0; g_size > 1 && i < n; i += CHUNK) {
        int k = (int)(n - i < CHUNK ? n - i : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + i, k, REAL_MPI, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "allreduce", msg);
    }
    return RECUR_OK;
}

recur_status par_sum_doubles(double *v, int n, char *msg)
{
    if (g_size < 2)
        return RECUR_OK;
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? RECUR_OK : mpi_fail(rc, "allreduce", msg);
}

recur_status par_broadcast_bytes(void *buf, size_t n, char *msg)
{
    for (size_t i = 0; g_size > 1 && i < n; i += CHUNK) {
        int k = (int)(n - i < CHUNK ? n - i : CHUNK);
        int rc = MPI_Bcast((char *)buf + i, k, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "broadcast", msg);
    }
    return RECUR_OK;
}

recur_status par_same_u64(uint64_t x, int *same, char *msg)
{
    *same = 1;
    if (g_size < 2)
        return RECUR_OK;
    uint64_t lo_hi[2] = {x, ~x};
    int rc = MPI_Allreduce(MPI_IN_PLACE, lo_hi, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "allreduce", msg);
    *same = lo_hi[0] == x && lo_hi[1] == ~x; /* the largest and the smallest are x */
    return RECUR_OK;
}

recur_status par_agree(recur_status st, char *errmsg)
{
    if (g_size < 2)
        return st;
    /* the lowest failing rank, one with a cause of its own before one that
     * only saw another's failure */
    int key = st == RECUR_OK ? 2 * g_size
                             : g_rank + (strstr(errmsg, RECUR_PARALLEL_PEER_FAILED) ? g_size : 0);
    int rc = MPI_Allreduce(MPI_IN_PLACE, &key, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "allreduce", errmsg);
    if (key == 2 * g_size)
        return RECUR_OK;
    int first = key % g_size;
    /* the failing rank's status and message, to everyone */
    struct {
        int st;
        char msg[RECUR_ERRMSG_LEN];
    } w;
    memset(&w, 0, sizeof w);
    w.st = (int)st;
    snprintf(w.msg, sizeof w.msg, "%s", errmsg);
    rc = MPI_Bcast(&w, (int)sizeof w, MPI_BYTE, first, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "broadcast", errmsg);
    w.msg[sizeof w.msg - 1] = '\0';
    /* a failure on every rank (a bad setting) needs no rank named */
    int failed = st != RECUR_OK && !strstr(errmsg, RECUR_PARALLEL_PEER_FAILED);
    rc = MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS && failed == g_size)
        return recur_seterr(errmsg, (recur_status)w.st, "%s", w.msg);
    char text[RECUR_ERRMSG_LEN];
    snprintf(text, sizeof text, "%s", w.msg);
    return recur_seterr(errmsg, (recur_status)w.st, "rank %d: %s", first, text);
}

recur_status recur_parallel_allgather(const void *mine, size_t bytes, void *all, size_t all_bytes,
                                      recur_error *err)
{
    char msg[RECUR_ERRMSG_LEN];
    recur_status st = par_init(msg);
    if (st != RECUR_OK)
        return recur_error_set(err, st, "%s", msg);
    if (g_size < 2) {
        if (bytes > all_bytes)
            return recur_error_set(err, RECUR_ERR_ARG, "allgather: %zu bytes into %zu", bytes,
                                   all_bytes);
        memmove(all, mine, bytes);
        return RECUR_OK;
    }
    if (bytes > INT_MAX)
        return recur_error_set(err, RECUR_ERR_ARG, "allgather: %zu bytes from one rank", bytes);
    int *counts = malloc(2 * (size_t)g_size * sizeof *counts);
    if (!counts)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    int *displs = counts + g_size, mine_n = (int)bytes;
    int rc = MPI_Allgather(&mine_n, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    size_t total = 0;
    for (int r = 0; rc == MPI_SUCCESS && r < g_size; r++) {
        displs[r] = (int)total;
        total += (size_t)counts[r];
    }
    if (rc == MPI_SUCCESS && (total > all_bytes || total > INT_MAX)) {
        free(counts);
        return recur_error_set(err, RECUR_ERR_ARG, "allgather: %zu bytes into %zu", total,
                               all_bytes);
    }
    if (rc == MPI_SUCCESS)
        rc = MPI_Allgatherv(mine, mine_n, MPI_BYTE, all, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    free(counts);
    if (rc != MPI_SUCCESS) {
        mpi_fail(rc, "allgather", msg);
        return recur_error_set(err, RECUR_ERR_IO, "%s", msg);
    }
    return RECUR_OK;
}

#else /* one process: every collective is the identity */

recur_status par_init(char *msg)
{
    if (g_state == 0) {
        g_state = 1;
        int n = launched_size();
        if (n > 1) {
            snprintf(g_error, sizeof g_error,
                     "started by mpirun as one of %d processes, but this recur was built without "
                     "MPI: each would train alone; build with Open MPI (make MPI=1)",
                     n);
            g_state = -1;
        }
    }
    if (g_state < 0)
        return recur_seterr(msg, RECUR_ERR_ARG, "%s", g_error);
    return RECUR_OK;
}

int recur_parallel_available(void) { return 0; }
void recur_parallel_finalize(void) {}

recur_status par_sum_real(recur_real *buf, size_t n, char *msg)
{
    (void)buf, (void)n, (void)msg;
    return RECUR_OK;
}

recur_status par_sum_doubles(double *v, int n, char *msg)
{
    (void)v, (void)n, (void)msg;
    return RECUR_OK;
}

recur_status par_broadcast_bytes(void *buf, size_t n, char *msg)
{
    (void)buf, (void)n, (void)msg;
    return RECUR_OK;
}

recur_status par_same_u64(uint64_t x, int *same, char *msg)
{
    (void)x, (void)msg;
    *same = 1;
    return RECUR_OK;
}

recur_status par_agree(recur_status st, char *errmsg)
{
    (void)errmsg;
    return st;
}

recur_status recur_parallel_allgather(const void *mine, size_t bytes, void *all, size_t all_bytes,
                                      recur_error *err)
{
    char msg[RECUR_ERRMSG_LEN];
    recur_status st = par_init(msg);
    if (st != RECUR_OK)
        return recur_error_set(err, st, "%s", msg);
    if (bytes > all_bytes)
        return recur_error_set(err, RECUR_ERR_ARG, "allgather: %zu bytes into %zu", bytes,
                               all_bytes);
    memmove(all, mine, bytes);
    return RECUR_OK;
}

#endif

recur_status par_broadcast_real(recur_real *buf, size_t n, char *msg)
{
    return par_broadcast_bytes(buf, n * sizeof *buf, msg);
}

/* ---- the public part (recur_train.h) -------------------------------------------- */

int recur_parallel_rank(void)
{
    char msg[RECUR_ERRMSG_LEN];
    return par_init(msg) == RECUR_OK ? g_rank : 0;
}

int recur_parallel_size(void)
{
    char msg[RECUR_ERRMSG_LEN];
    return par_init(msg) == RECUR_OK ? g_size : 1;
}

recur_status recur_parallel_init(recur_error *err)
{
    char msg[RECUR_ERRMSG_LEN];
    recur_status st = par_init(msg);
    return st == RECUR_OK ? RECUR_OK : recur_error_set(err, st, "%s", msg);
}

void recur_parallel_share(int64_t n, int64_t *first, int64_t *count)
{
    int rank = recur_parallel_rank(), size = recur_parallel_size();
    int64_t lo = n * rank / size, hi = n * (rank + 1) / size;
    *first = lo;
    *count = hi - lo;
}

recur_status recur_parallel_sum(double *v, int n, recur_error *err)
{
    char msg[RECUR_ERRMSG_LEN];
    recur_status st = par_init(msg);
    if (st == RECUR_OK)
        st = par_sum_doubles(v, n, msg);
    return st == RECUR_OK ? RECUR_OK : recur_error_set(err, st, "%s", msg);
}
