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
/* every tensor of the deepest bidirectional projected stack, and parts */
#define RECUR_MAX_TENSORS 1024
#define RECUR_MAX_NAME 64

typedef struct tensor_entry {
    char name[RECUR_MAX_NAME];
    int ndim;
    int64_t shape[4];
    size_t offset;
    size_t numel;
    int alias; /* 1: a view of another entry's storage (tied decoder) */
    int part;  /* -1: the first model's own; else the index of its composite part */
} tensor_entry;

/* Offsets of one layer-direction's tensors in the parameter buffer. */
typedef struct cell_params {
    size_t w_ih, w_hh, b_ih, b_hh, w_hr; /* w_hr only with a projection */
    int in;                               /* input width */
} cell_params;


/* One part of a composite model (recur_part, copied). */
typedef struct model_part {
    char name[RECUR_MAX_NAME];
    int is_model;
    recur_model_config cfg; /* is_model */
    int ndim;
    int64_t shape[4];
    double init;
    size_t offset, numel;   /* in the composite's buffer */
    recur_model *view;      /* is_model: the sub-model over that range */
} model_part;

struct recur_model {
    recur_model_config cfg;
    char *errmsg;   /* RECUR_ERRMSG_LEN bytes of its own: calls on a const model (a
                     * tensor lookup) report there without writing the struct */
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
    recur_rng *rng;        /* rng_own, or the composite's for a sub-model */
    recur_rng rng_own;
    model_part *parts;     /* a composite's parts (n_parts of them) */
    int n_parts;
    int is_view;           /* a sub-model: its buffers belong to the composite */
    recur_precision precision; /* of the products of its runs */
};

recur_status recur_model_config_check(const recur_model_config *cfg, char *msg);
/* Creates a model with parts (n_parts may be 0); what recur_model_create
 * and recur_model_create_composite do, and what checkpoints load. */
recur_status model_create_parts(recur_model **out, const recur_model_config *cfg, const model_part *parts,
                                int n_parts, uint64_t seed, recur_error *err);

/* The log-sum-exp of each row of the last forward's logits, (T, B): with
 * recur_run_logits, ln p(v) = logits[v] - lse without a second pass over V
 * (per-sentence scoring, src/tasks/lm/score_lines.c). */
const double *recur_run_row_lse(const recur_run *r);

/* For inference with weights that stay fixed, like
 * recur_run_cache_input_projection: on = 1 packs every layer's W_hh for the
 * forward product once (the float AVX-512 kernel; nothing without it), and
 * forward passes with training = 0 use that packing instead of packing at
 * every pass (a pass of one step, as in decoding, packed as many weights as
 * it multiplied).  The results are identical.  The weights must not change
 * while it is on: call it again after a change, or with on = 0 to free it. */
recur_status run_freeze_recurrent(recur_run *r, int on);

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
