/*
 * internal.h - structures and helpers shared inside librecur (not installed).
 *
 * Memory follows llm.c: one buffer holds every parameter, each tensor a view
 * at an offset; gradients and optimiser moments use the same layout, so
 * clipping, optimisers and checkpoints are flat loops.  Weights (recur_model)
 * are kept apart from per-run activations (recur_run).
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

/* ---- matrix products (the one place that calls BLAS) ----
 * C (M x N) = alpha * op(A) * op(B) + beta * C, row-major. */
void recur_gemm(int trans_a, int trans_b, int M, int N, int K, recur_real alpha,
                const recur_real *A, int lda, const recur_real *B, int ldb, recur_real beta,
                recur_real *C, int ldc);

/* ---- the model ---- */
#define RECUR_MAX_TENSORS 256
#define RECUR_MAX_NAME 64

typedef struct tensor_entry {
    char name[RECUR_MAX_NAME];
    int ndim;
    int64_t shape[4];
    size_t offset;
    size_t numel;
    int alias; /* 1: a view of another entry's storage (tied decoder) */
} tensor_entry;

/* Offsets of one layer-direction's tensors in the parameter buffer. */
typedef struct cell_params {
    size_t w_ih, w_hh, b_ih, b_hh, w_hr; /* w_hr only with a projection */
    int in;                               /* input width */
} cell_params;

#define RECUR_MAX_LAYERS 64

struct recur_model {
    recur_model_config cfg;
    char errmsg[RECUR_ERRMSG_LEN];
    int gates;      /* 1, 3 or 4 */
    int state;      /* R: width of the recurrent state and output (P or H) */
    int dirs;       /* 1 or 2 */
    int out_width;  /* D * R */
    tensor_entry tensors[RECUR_MAX_TENSORS];
    int n_tensors;
    cell_params cells[RECUR_MAX_LAYERS][2];
    size_t emb_w, dec_w, dec_b;
    size_t n_params;
    recur_real *params;
    recur_real *grads;
    recur_rng rng;
};

recur_status recur_model_config_check(const recur_model_config *cfg, char *msg);

/* ---- optimiser internals needed by checkpoints ---- */
struct recur_optim {
    recur_optim_config cfg;
    recur_model *model;
    char errmsg[RECUR_ERRMSG_LEN];
    int64_t steps;
    recur_real *m;    /* momentum buffer (SGD) or first moment (Adam) */
    recur_real *v;    /* second moment (Adam) */
    recur_real *scratch;
};

#endif
