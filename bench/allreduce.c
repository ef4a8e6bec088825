/*
 * allreduce.c - the time of one sum over the ranks of a buffer of N reals,
 * the trainer's gradient reduction (train/parallel.h), for bench/mpi.sh's
 * cost model.  Run under mpirun: `mpirun -np 2 build/bench/allreduce N
 * [REPEATS]`.  The ranks run back to back after two unmeasured rounds, so
 * the mean over REPEATS is the reduction itself, without waiting for a
 * slower rank.  Rank 0 prints one JSON line: ranks, reals, bytes, seconds
 * per reduction and the bus bandwidth 2 (R - 1) / R * bytes / seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "recur_train.h"
#include "base/internal.h"
#include "train/parallel.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: allreduce N [REPEATS]\n");
        return 2;
    }
    size_t n = (size_t)strtoull(argv[1], NULL, 10);
    int reps = argc > 2 ? atoi(argv[2]) : 10;
    char msg[RECUR_ERRMSG_LEN];
    recur_real *buf = calloc(n ? n : 1, sizeof *buf);
    if (!buf || reps < 1 || par_init(msg) != RECUR_OK) {
        fprintf(stderr, "allreduce: %s\n", buf ? msg : "out of memory");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = (recur_real)1e-3 * (recur_real)(i % 97);
    for (int w = 0; w < 2; w++)
        if (par_sum_real(buf, n, msg) != RECUR_OK)
            goto fail;
    double t0 = now();
    for (int r = 0; r < reps; r++)
        if (par_sum_real(buf, n, msg) != RECUR_OK)
            goto fail;
    double s = (now() - t0) / reps;
    int R = recur_parallel_size();
    double bytes = (double)n * sizeof *buf;
    if (recur_parallel_rank() == 0)
        printf("{\"ranks\":%d,\"reals\":%zu,\"bytes\":%.0f,\"seconds\":%.6g,\"bus_gbit_s\":%.4g}\n",
               R, n, bytes, s, R > 1 ? 2.0 * (R - 1) / R * bytes * 8 / s / 1e9 : 0.0);
    free(buf);
    recur_parallel_finalize();
    return 0;
fail:
    fprintf(stderr, "allreduce: %s\n", msg);
    return 1;
}
