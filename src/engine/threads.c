/* threads.c - the worker pool of threads.h: persistent threads woken by a
 * generation counter and a sense-reversing barrier.  Every wait spins
 * briefly, then sleeps on a futex: on a machine shared with other work a
 * thread that keeps spinning steals the core its partner needs. */
#define _GNU_SOURCE
#include <cblas.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "recur.h"
#include "threads.h"

#define MAX_THREADS RECUR_MAX_THREADS
#define SPIN 2000 /* pause loops before a wait sleeps (tens of microseconds) */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void futex_wait(atomic_int *addr, int val)
{
    syscall(SYS_futex, (int *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_int *addr) { syscall(SYS_futex, (int *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0); }

/* Waits until *addr != val: spins, then sleeps, counted in *sleepers so the
 * writer knows to wake it. */
static void wait_change(atomic_int *addr, int val, atomic_int *sleepers)
{
    for (int i = 0; i < SPIN; i++) {
        if (atomic_load_explicit(addr, memory_order_acquire) != val)
            return;
        cpu_relax();
    }
    atomic_fetch_add(sleepers, 1);
    while (atomic_load(addr) == val)
        futex_wait(addr, val);
    atomic_fetch_sub(sleepers, 1);
}

/* Changes *addr to val and wakes its sleepers. */
static void publish(atomic_int *addr, int val, atomic_int *sleepers)
{
    atomic_store(addr, val);
    if (atomic_load(sleepers))
        futex_wake(addr);
}

static struct {
    pthread_mutex_t mu;         /* guards starting workers */
    int started;                /* workers running */
    int size;                   /* wanted threads, caller included */
    atomic_int gen, gen_sleepers;   /* bumped for every job */
    atomic_int done, done_sleepers; /* workers finished with the current job */
    atomic_flag busy;           /* a job is running */
    par_fn fn;
    void *ctx;
    void *context;              /* the caller's par_context, the workers' for the job */
    int nt;
    int workers;                /* workers taking part in the current job's count */
    atomic_int arrived, sense, sense_sleepers; /* barrier */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .busy = ATOMIC_FLAG_INIT};

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Per-thread state lives in pthread keys, not in _Thread_local variables: a
 * library with a TLS segment costs its size on every thread of the host
 * program, recur's or not, and fails thread creation with small stacks.
 * in_key: non-NULL while the thread runs a par_run function.  scratch_key:
 * the thread's scratch (par_scratch), made on first use, freed at its exit. */
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static pthread_key_t in_key, scratch_key, context_key;
static int keys_ok;

static void init_keys(void)
{
    if (pthread_key_create(&in_key, NULL) != 0)
        return;
    if (pthread_key_create(&scratch_key, free) != 0) {
        pthread_key_delete(in_key);
        return;
    }
    if (pthread_key_create(&context_key, NULL) != 0) {
        pthread_key_delete(in_key);
        pthread_key_delete(scratch_key);
        return;
    }
    keys_ok = 1;
}

/* Marks the calling thread as inside a run (or not); returns the old mark. */
static void *set_inside(void *mark)
{
    pthread_once(&keys_once, init_keys);
    if (!keys_ok)
        return NULL;
    void *was = pthread_getspecific(in_key);
    pthread_setspecific(in_key, mark);
    return was;
}

int par_inside(void)
{
    pthread_once(&keys_once, init_keys);
    return keys_ok && pthread_getspecific(in_key) != NULL;
}

void *par_context(void)
{
    pthread_once(&keys_once, init_keys);
    return keys_ok ? pthread_getspecific(context_key) : NULL;
}

void *par_set_context(void *c)
{
    pthread_once(&keys_once, init_keys);
    if (!keys_ok)
        return NULL;
    void *was = pthread_getspecific(context_key);
    pthread_setspecific(context_key, c);
    return was;
}

void *par_scratch(void)
{
    pthread_once(&keys_once, init_keys);
    if (!keys_ok)
        return NULL;
    void *p = pthread_getspecific(scratch_key);
    if (!p) {
        if (posix_memalign(&p, 64, PAR_SCRATCH_BYTES) != 0)
            return NULL;
        if (pthread_setspecific(scratch_key, p) != 0) {
            free(p);
            return NULL;
        }
    }
    return p;
}

/* generation at each worker's creation: it waits for the next one (reading
 * the counter in the new thread could miss a job posted meanwhile) */
static int start_gen[MAX_THREADS];

static void *worker(void *arg)
{
    int tid = (int)(long)arg;
    int seen = start_gen[tid];
    for (;;) {
        wait_change(&pool.gen, seen, &pool.gen_sleepers);
        seen = atomic_load(&pool.gen);
        if (tid < pool.nt) {
            set_inside(&pool);
            pthread_setspecific(context_key, pool.context);
            pool.fn(pool.ctx, tid, pool.nt);
            pthread_setspecific(context_key, NULL);
            set_inside(NULL);
        }
        /* read before counting in: once all are in, the caller returns and
         * another application thread may post the next job */
        const int workers = pool.workers;
        int d = atomic_fetch_add(&pool.done, 1) + 1;
        if (d == workers && atomic_load(&pool.done_sleepers))
            futex_wake(&pool.done);
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

/* Starts workers up to size - 1; returns how many run. */
static int ensure_workers(int size)
{
    pthread_mutex_lock(&pool.mu);
    while (pool.started < size - 1) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        start_gen[pool.started + 1] = atomic_load(&pool.gen);
        int ok = pthread_create(&t, &at, worker, (void *)(long)(pool.started + 1)) == 0;
        pthread_attr_destroy(&at);
        if (!ok)
            break;
        pool.started++;
    }
    int n = pool.started;
    pthread_mutex_unlock(&pool.mu);
    return n;
}

static void run_alone(par_fn fn, void *ctx)
{
    void *was = set_inside(&pool);
    fn(ctx, 0, 1);
    set_inside(was);
}

void par_run(int want, par_fn fn, void *ctx)
{
    int size = par_num_threads();
    int nt = want <= 0 || want > size ? size : want;
    if (nt <= 1 || par_inside() || atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) {
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
    pool.context = par_context();
    pool.nt = nt;
    pool.workers = workers;
    atomic_store(&pool.arrived, 0);
    atomic_store(&pool.done, 0);
    publish(&pool.gen, atomic_load(&pool.gen) + 1, &pool.gen_sleepers);
    set_inside(&pool);
    fn(ctx, 0, nt);
    set_inside(NULL);
    for (int d; (d = atomic_load(&pool.done)) < workers;)
        wait_change(&pool.done, d, &pool.done_sleepers);
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}

void par_run_work(double work, par_fn fn, void *ctx) { par_run(work >= PAR_MIN_WORK ? 0 : 1, fn, ctx); }

void par_barrier(int nt)
{
    if (nt <= 1)
        return;
    int s = atomic_load(&pool.sense);
    if (atomic_fetch_add(&pool.arrived, 1) == nt - 1) {
        atomic_store(&pool.arrived, 0);
        publish(&pool.sense, !s, &pool.sense_sleepers);
        return;
    }
    wait_change(&pool.sense, s, &pool.sense_sleepers);
}
