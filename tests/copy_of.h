/*
 * copy_of.h - a test's copy of a run's output (librecur's buffers are
 * overwritten by the next pass), for comparing two runs afterwards.
 * Include after <cmocka.h>.
 */
#ifndef RECUR_TESTS_COPY_OF_H
#define RECUR_TESTS_COPY_OF_H

#include <stdlib.h>
#include <string.h>

#include "recur.h"

/* n values of p (zeros when p is NULL: an output the run did not make) */
static inline recur_real *copy_of(const recur_real *p, size_t n)
{
    recur_real *q = malloc((n ? n : 1) * sizeof *q);
    assert_non_null(q);
    if (p)
        memcpy(q, p, n * sizeof *q);
    else
        memset(q, 0, n * sizeof *q);
    return q;
}

#endif
