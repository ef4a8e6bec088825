/* threads.c - the worker pool of threads.h: persistent threads woken by a
 * generation counter, spinning for a while before they sleep on a condition
 * variable, and a sense-reversing barrier. */
#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "threads.h"

#define MAX_THREADS 64
#define SPIN_WAKE 200000 /* pause loops before a worker sleeps (~0.1-1 ms) */
#define SPIN_YIELD 4000  /* pause loops in a barrier before yielding the core */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;                /* workers running */
    int size;                   /* wanted threads, caller included */
    atomic_uint gen;            /* bumped for every job */
    atomic_int done;            /* workers finished with the current job */
    int sleeping;               /* under mu */
    atomic_flag busy;           /* a job is running */
    par_fn fn;
    void *ctx;
    int nt;
    /* barrier */
    atomic_int arrived;
    atomic_int sense;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .busy = ATOMIC_FLAG_INIT};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Thread_local int run_nt; /* threads of the run this thread is in, 0 outside */

static void worker_run(int tid)
{
    if (tid < pool.nt) {
        run_nt = pool.nt;
        pool.fn(pool.ctx, tid, pool.nt);
        run_nt = 0;
    }
    atomic_fetch_add_explicit(&pool.done, 1, memory_order_acq_rel);
}

/* generation at each worker's creation: it waits for the next one (reading
 * the counter in the new thread could miss a job posted meanwhile) */
static unsigned start_gen[MAX_THREADS];

static void *worker(void *arg)
{
    int tid = (int)(long)arg;
    unsigned seen = start_gen[tid];
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool.gen, memory_order_acquire)) == seen) {
            if (++spins < SPIN_WAKE) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&pool.mu);
            pool.sleeping++;
            while (atomic_load_explicit(&pool.gen, memory_order_acquire) == seen)
                pthread_cond_wait(&pool.cv, &pool.mu);
            pool.sleeping--;
            pthread_mutex_unlock(&pool.mu);
            spins = 0;
        }
        seen = g;
        worker_run(tid);
    }
    return NULL;
}

static void init_size(void)
{
    if (pool.size <= 0) {
        int n = openblas_get_num_threads();
        pool.size = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
    }
    openblas_set_num_threads(1);
}

int par_num_threads(void)
{
    pthread_once(&once, init_size);
    return pool.size;
}

void par_set_num_threads(int n)
{
    pthread_once(&once, init_size);
    if (n <= 0)
        return;
    pool.size = n > MAX_THREADS ? MAX_THREADS : n;
    openblas_set_num_threads(1);
}

int par_inside(void) { return run_nt > 0; }

/* Starts workers up to size - 1; returns how many run. */
static int ensure_workers(int size)
{
    while (pool.started < size - 1) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        start_gen[pool.started + 1] = atomic_load_explicit(&pool.gen, memory_order_acquire);
        int ok = pthread_create(&t, &at, worker, (void *)(long)(pool.started + 1)) == 0;
        pthread_attr_destroy(&at);
        if (!ok)
            break;
        pool.started++;
    }
    return pool.started;
}

static void run_alone(par_fn fn, void *ctx)
{
    int was = run_nt;
    run_nt = 1;
    fn(ctx, 0, 1);
    run_nt = was;
}

void par_run(int want, par_fn fn, void *ctx)
{
    int size = par_num_threads();
    int nt = want <= 0 || want > size ? size : want;
    if (nt <= 1 || run_nt || atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) {
        run_alone(fn, ctx);
        return;
    }
    int workers = ensure_workers(size);
    if (nt > workers + 1)
        nt = workers + 1;
    if (nt <= 1) {
        atomic_flag_clear_explicit(&pool.busy, memory_order_release);
        run_alone(fn, ctx);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.nt = nt;
    atomic_store_explicit(&pool.arrived, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool.gen, 1, memory_order_acq_rel);
    pthread_mutex_lock(&pool.mu);
    if (pool.sleeping)
        pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    run_nt = nt;
    fn(ctx, 0, nt);
    run_nt = 0;
    int spins = 0;
    while (atomic_load_explicit(&pool.done, memory_order_acquire) < workers)
        if (++spins < SPIN_YIELD)
            cpu_relax();
        else
            sched_yield();
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}

void par_barrier(void)
{
    int nt = run_nt;
    if (nt <= 1)
        return;
    int s = atomic_load_explicit(&pool.sense, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&pool.arrived, 1, memory_order_acq_rel) == nt - 1) {
        atomic_store_explicit(&pool.arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&pool.sense, !s, memory_order_release);
        return;
    }
    int spins = 0;
    while (atomic_load_explicit(&pool.sense, memory_order_acquire) == s)
        if (++spins < SPIN_YIELD)
            cpu_relax();
        else
            sched_yield();
}
