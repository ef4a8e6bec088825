/*
 * internal.h - helpers every part of librecur uses (not installed): error
 * messages, the random generator, checked allocation, the precision macros.
 */
#ifndef RECUR_INTERNAL_H
#define RECUR_INTERNAL_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "recur.h"

#ifdef RECUR_DOUBLE
#define R_EXP exp
#define R_TANH tanh
#define R_LOG log
#define R_SQRT sqrt
#else
#define R_EXP expf
#define R_TANH tanhf
#define R_LOG logf
#define R_SQRT sqrtf
#endif

#define RECUR_ERRMSG_LEN 512

/* ---- errors ---- */
/* Formats a message into buf (RECUR_ERRMSG_LEN bytes) and returns st. */
recur_status recur_seterr(char *buf, recur_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
recur_status recur_seterr_v(char *buf, recur_status st, const char *fmt, va_list ap);
/* Copies into a recur_error (NULL allowed) and returns st. */
recur_status recur_error_set(recur_error *err, recur_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- random numbers: xoshiro256** seeded through splitmix64 ---- */
typedef struct recur_rng {
    uint64_t s[4];
} recur_rng;

void rng_seed(recur_rng *r, uint64_t seed);
uint64_t rng_next(recur_rng *r);
double rng_uniform(recur_rng *r);            /* [0, 1) with 53 bits */
double rng_normal(recur_rng *r);             /* N(0, 1), Box-Muller, no cached value */

/* ---- checked allocation ---- */
/* calloc of n*size bytes, 64-byte aligned, NULL on overflow or failure. */
void *recur_alloc(size_t n, size_t size);
void recur_free(void *p);
/* a*b with overflow detection: returns 0 and sets *ok = 0 on overflow. */
size_t recur_mul(size_t a, size_t b, int *ok);

#endif
