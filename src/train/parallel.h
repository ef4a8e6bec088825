/*
 * parallel.h - the trainer's collectives over the ranks of an MPI job (not
 * installed; the public part is recur_parallel_* in recur_train.h).
 *
 * parallel.c is the one file that calls MPI.  Built without MPI (or started
 * without mpirun) there is one rank and every collective is the identity,
 * so the trainer calls them unconditionally.  Every function here is a
 * collective: all ranks call it in the same order.  Failures of MPI itself
 * come back as RECUR_ERR_IO with MPI's message (MPI_ERRORS_RETURN).
 */
#ifndef RECUR_TRAIN_PARALLEL_H
#define RECUR_TRAIN_PARALLEL_H

#include <stddef.h>

#include "recur_train.h"

/* MPI_Init on the first call when started by mpirun; the error (a message
 * into msg) when that fails or when a build without MPI is one of several
 * processes mpirun started.  Later calls return the first call's result. */
recur_status par_init(char *msg);

/* buf[0..n) summed over the ranks, in place, on every rank. */
recur_status par_sum_real(recur_real *buf, size_t n, char *msg);
recur_status par_sum_doubles(double *v, int n, char *msg);

/* buf[0..n) of rank 0 on every rank. */
recur_status par_broadcast_real(recur_real *buf, size_t n, char *msg);
recur_status par_broadcast_bytes(void *buf, size_t n, char *msg);

/* Is x the same on every rank? */
recur_status par_same_u64(uint64_t x, int *same, char *msg);

/* Every rank's status: RECUR_OK when all are OK; otherwise the status of
 * the lowest failing rank, and on every rank errmsg becomes that rank's
 * message, prefixed "rank R: " unless every rank failed.  errmsg holds
 * this rank's message on entry (RECUR_ERRMSG_LEN). */
recur_status par_agree(recur_status st, char *errmsg);

#endif
