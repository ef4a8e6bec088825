/*
 * threads.h - recur's own worker threads.
 *
 * One process-wide pool of persistent threads runs a function on n threads
 * at once (the caller is thread 0) and gives them a barrier, so a whole time
 * loop can run inside one call, its threads meeting once per step.  Idle
 * workers spin briefly, then sleep.  OpenBLAS is kept at one thread while
 * the pool has several: the pool splits the products itself, and two sets
 * of spinning threads would fight over the cores.
 *
 * A call made while the pool is busy (another thread of the application, or
 * a call from inside a running function) runs on one thread.
 */
#ifndef RECUR_THREADS_H
#define RECUR_THREADS_H

typedef void (*par_fn)(void *ctx, int tid, int nt);

/* Threads the pool will use (at least 1). */
int par_num_threads(void);
/* Sets the pool's size (1..64); 0 or less: the default, OpenBLAS's count
 * as the process started (OPENBLAS_NUM_THREADS, else the cores). */
void par_set_num_threads(int n);
/* Runs fn(ctx, tid, nt) for tid = 0..nt-1 and returns when all are done;
 * nt = min(want, pool size), want <= 0: the pool size. */
void par_run(int want, par_fn fn, void *ctx);
/* par_run on all threads when the job touches at least PAR_MIN_WORK
 * elements, else on the calling thread (waking the pool costs more). */
#define PAR_MIN_WORK 32768
void par_run_work(double work, par_fn fn, void *ctx);
/* Inside a par_run function: waits for all nt threads of the run (nt as
 * the function received it; 1: returns at once). */
void par_barrier(int nt);
/* 1 inside a par_run function (on any of its threads). */
int par_inside(void);

/* The calling thread's context: a pointer the caller of par_run sets and
 * every thread of its runs sees (the precision of a pass's products,
 * gemm_bf16.h); NULL when none.  par_set_context returns the one it
 * replaces. */
void *par_context(void);
void *par_set_context(void *c);

/* The calling thread's scratch: PAR_SCRATCH_BYTES, 64-byte aligned, the
 * same block at every call on a thread (the matrix kernels' packing buffers,
 * kept hot), made on the thread's first call and freed when it exits, so a
 * thread that never calls recur costs nothing.  NULL when out of memory. */
#define PAR_SCRATCH_BYTES ((size_t)1408 * 1024)
void *par_scratch(void);

/* [lo, hi) of n items for thread tid of nt, cut at multiples of align
 * (the last range takes the rest). */
static inline void par_split(int n, int tid, int nt, int align, int *lo, int *hi)
{
    int units = (n + align - 1) / align;
    int a = (int)((long long)units * tid / nt), b = (int)((long long)units * (tid + 1) / nt);
    *lo = a * align < n ? a * align : n;
    *hi = b * align < n ? b * align : n;
}

#endif
