/*
 * test_threads.c - recur's per-thread state costs nothing on the host's
 * threads:
 *   - the program (which links librecur.a) has no TLS segment: recur has no
 *     _Thread_local/__thread variable, whose size every thread of a host
 *     program would pay, recur's or not;
 *   - a thread created with a small stack runs a product on recur's own
 *     AVX-512 kernel (with 1.3 MiB of packing buffers in static TLS, such a
 *     thread could not even be created);
 *   - par_scratch gives each thread its own 64-byte aligned block, the same
 *     one at every call;
 *   - OpenBLAS's thread count as recur.h documents it: the pool's default
 *     size is the count at recur's first call, which sets it to 1; recur
 *     leaves a count the host sets later alone.
 */
#define _GNU_SOURCE
#include <link.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cblas.h>
#include <cmocka.h>

#include "engine/gemm.h"
#include "engine/threads.h"

static int count_tls(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    if (info->dlpi_name[0] == '\0') /* the program itself, not a shared library */
        for (int i = 0; i < info->dlpi_phnum; i++)
            if (info->dlpi_phdr[i].p_type == PT_TLS)
                (*(int *)data)++;
    return 0;
}

static void test_no_tls_segment(void **state)
{
    (void)state;
    int tls = 0;
    dl_iterate_phdr(count_tls, &tls);
    assert_int_equal(tls, 0);
}

enum { M = 50, N = 70, K = 90 };

typedef struct product {
    float a[M * K], b[K * N], c[M * N];
    double want[M * N];
} product;

static void *multiply(void *arg)
{
    product *p = arg;
    recur_gemm(0, 0, M, N, K, 1, p->a, K, p->b, N, 0, p->c, N);
    return NULL;
}

static void test_small_stack(void **state)
{
    (void)state;
    product *p = malloc(sizeof *p);
    assert_non_null(p);
    for (int i = 0; i < M * K; i++)
        p->a[i] = (float)((i * 7 % 13) - 6) / 8;
    for (int i = 0; i < K * N; i++)
        p->b[i] = (float)((i * 5 % 11) - 5) / 4;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)p->a[i * K + k] * p->b[k * N + j];
            p->want[i * N + j] = s;
        }
    pthread_attr_t at;
    pthread_t t;
    assert_int_equal(pthread_attr_init(&at), 0);
    assert_int_equal(pthread_attr_setstacksize(&at, 128 * 1024), 0);
    assert_int_equal(pthread_create(&t, &at, multiply, p), 0);
    pthread_attr_destroy(&at);
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int i = 0; i < M * N; i++) /* multiples of 1/32 below 100: exact in float, any order */
        assert_true(p->c[i] == (float)p->want[i]);
    free(p);
}

/* Runs first: no recur call has been made yet. */
static void test_openblas_threads(void **state)
{
    (void)state;
    openblas_set_num_threads(3);
    product *p = malloc(sizeof *p);
    assert_non_null(p);
    for (int i = 0; i < M * K; i++)
        p->a[i] = 1;
    for (int i = 0; i < K * N; i++)
        p->b[i] = 0.5f;
    multiply(p);
    assert_int_equal(openblas_get_num_threads(), 1);
    assert_int_equal(par_num_threads(), 3);
    openblas_set_num_threads(2); /* the host's own choice, kept */
    multiply(p);
    assert_int_equal(openblas_get_num_threads(), 2);
    for (int i = 0; i < M * N; i++)
        assert_true(p->c[i] == K * 0.5f);
    free(p);
}

static void *scratch_of_thread(void *arg)
{
    (void)arg;
    return par_scratch();
}

static void test_scratch(void **state)
{
    (void)state;
    void *mine = par_scratch();
    assert_non_null(mine);
    assert_true((uintptr_t)mine % 64 == 0);
    assert_ptr_equal(par_scratch(), mine);
    assert_true(GEMM_SCRATCH_FLOATS * sizeof(float) <= PAR_SCRATCH_BYTES);
    pthread_t t;
    void *theirs;
    assert_int_equal(pthread_create(&t, NULL, scratch_of_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &theirs), 0);
    /* freed at the thread's exit, so only compare the addresses */
    assert_non_null(theirs);
    assert_true((uintptr_t)theirs % 64 == 0);
    assert_ptr_not_equal(theirs, mine);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openblas_threads),
        cmocka_unit_test(test_no_tls_segment),
        cmocka_unit_test(test_small_stack),
        cmocka_unit_test(test_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
