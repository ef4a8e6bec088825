/*
 * model_internal.h - the layout of a model and an optimiser, shared inside
 * the engine and with the checkpoint code that saves them (not installed).
 *
 * Memory follows llm.c: one buffer holds every parameter, each tensor a view
 * at an offset; gradients and optimiser moments use the same layout, so
 * clipping, optimisers and checkpoints are flat loops.  Weights (recur_model)
 * are kept apart from per-run activations (recur_run).
 */
#ifndef RECUR_MODEL_INTERNAL_H
#define RECUR_MODEL_INTERNAL_H

#include "base/internal.h"

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

/* The log-sum-exp of each row of the last forward's logits, (T, B): with
 * recur_run_logits, ln p(v) = logits[v] - lse without a second pass over V
 * (per-sentence scoring, src/tasks/lm/score_lines.c). */
const double *recur_run_row_lse(const recur_run *r);

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
