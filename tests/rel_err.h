/*
 * rel_err.h - the error metric the equivalence tests share (test_input_cache,
 * test_stepper): max over i of |a - b| / (|b| + 0.1 max|b|), so an element
 * near zero is judged against the array's scale; NaN anywhere counts as
 * infinite.
 */
#ifndef RECUR_TEST_REL_ERR_H
#define RECUR_TEST_REL_ERR_H

#include <math.h>
#include <stddef.h>

#include "recur.h"

static inline double rel_err(const recur_real *a, const recur_real *b, size_t n)
{
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)b[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (fabs((double)b[i]) + 0.1 * scale + 1e-30);
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

#endif
