/*
 * recur.h - the public API of librecur: recurrent neural networks in C11.
 *
 * Conventions
 *  - Every fallible call returns a recur_status; RECUR_OK is 0.  The handle it
 *    was called on keeps a message that says what went wrong and where
 *    (recur_model_errmsg, recur_run_errmsg, recur_optim_errmsg).  Calls that
 *    create a handle take a recur_error to fill instead.
 *  - The library never exits, aborts or writes to stdout on user input.
 *  - Tensors are dense, row-major.  Sequences are time-major: (T, B, features).
 *  - Weight names, shapes and gate orders are PyTorch's (i,f,g,o for LSTM,
 *    r,z,n for GRU), so checkpoints load into torch.nn.LSTM/GRU/RNN.
 *  - recur_real is float; a build with -DRECUR_DOUBLE makes it double (the
 *    test suite uses that build for finite-difference gradient checks).
 *
 * Lifetimes
 *  - Runs, steppers and optimisers keep a pointer to the model they were
 *    made for, and a sub-model belongs to its composite: free them before
 *    the model.  A trainer keeps its model and task; an LM task its model,
 *    vocabulary and id arrays; a model file owns its model and vocabulary.
 *  - Pointers a handle returns (recur_run_outputs, _logits, _hn, _cn, _d_*;
 *    recur_stepper_logits, _outputs, _h, _c) stay valid until the next
 *    forward, backward, feed or reset on that handle, or its free.  Message
 *    strings (*_errmsg) until the next call on that handle.
 *  - The model's random generator advances in recur_model_create and the
 *    init calls, recur_model_uniform, and recur_forward with training = 1 and
 *    a dropout above 0 (its masks); nothing else draws from it.  Samplers
 *    have their own.
 *
 * Threads
 *  - There is no global state but the thread pool (recur_set_num_threads)
 *    and OpenBLAS's thread count, so different handles may be used on
 *    different threads at once; one handle must not be used by two threads
 *    at the same time.
 *  - Several runs or steppers may read one model at once from several
 *    threads (recur_forward with training = 0, recur_stepper_feed): they
 *    only read its weights (tests/test_concurrency.c checks the results
 *    under ThreadSanitizer).  Calls that write a model (recur_backward into
 *    its gradients, recur_forward with training = 1 when it draws dropout
 *    masks, optimiser steps, clipping, zero_grad, init, seed, loading)
 *    need it to themselves.
 *  - A call made while the pool is busy with another application thread's
 *    call runs on its calling thread alone: the same results, more slowly.
 */
#ifndef RECUR_H
#define RECUR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the public API: librecur.so is built with -fvisibility=hidden, so
 * only what carries RECUR_API is exported (under the version node of
 * src/librecur.map). */
#if defined(__GNUC__) || defined(__clang__)
#define RECUR_API __attribute__((visibility("default")))
#else
#define RECUR_API
#endif

/* The version of this header; recur_version() gives the library's, which
 * differs when a program runs against another build of librecur.so. */
#define RECUR_VERSION_MAJOR 0
#define RECUR_VERSION_MINOR 2
#define RECUR_VERSION_PATCH 0
#define RECUR_VERSION "0.2.0" /* "MAJOR.MINOR.PATCH" */
/* Version of the checkpoint layout written into __metadata__ "recur.format". */
#define RECUR_FORMAT_VERSION 1

#ifdef RECUR_DOUBLE
typedef double recur_real;
#else
typedef float recur_real;
#endif

typedef enum recur_status {
    RECUR_OK = 0,
    RECUR_ERR_ARG,       /* invalid argument, option or configuration */
    RECUR_ERR_NOMEM,     /* allocation failed or a size overflowed */
    RECUR_ERR_IO,        /* open, read, write, fsync or rename failed */
    RECUR_ERR_FORMAT,    /* malformed, truncated or corrupt file */
    RECUR_ERR_MISMATCH,  /* file does not fit the configuration or task */
    RECUR_ERR_VERSION,   /* file written by a newer format version */
    RECUR_ERR_NONFINITE, /* NaN or Inf in a loss or gradient: step refused */
    RECUR_ERR_STATE,     /* call out of order (backward before forward, ...) */
    RECUR_ERR_INTERRUPTED /* stopped on request (Ctrl-C) */
} recur_status;

/* A short constant name for a status ("invalid argument", ...). */
RECUR_API const char *recur_status_str(recur_status s);

/* The version of the library running ("0.2.0"), RECUR_VERSION as it was
 * built. */
RECUR_API const char *recur_version(void);

/* The precision guard.  The library is built for float (librecur.a, .so)
 * or, with -DRECUR_DOUBLE, for double (librecur64.a); each build defines one
 * marker, recur_abi_float32 or recur_abi_float64, and every file that
 * includes this header refers to the marker of its own recur_real.  A
 * program compiled for one precision and linked with the other build fails
 * to link, with an undefined reference naming the marker it lacks, instead
 * of passing floats where doubles are read. */
#ifdef RECUR_DOUBLE
#define RECUR_ABI_MARKER recur_abi_float64
#else
#define RECUR_ABI_MARKER recur_abi_float32
#endif
RECUR_API extern const int RECUR_ABI_MARKER;
#if defined(__GNUC__) || defined(__clang__)
#if defined(__has_attribute)
#if __has_attribute(retain)
#define RECUR_RETAIN_ retain, /* kept under -Wl,--gc-sections too */
#endif
#endif
#ifndef RECUR_RETAIN_
#define RECUR_RETAIN_
#endif
static const int *const recur_abi_guard_ __attribute__((RECUR_RETAIN_ used)) = &RECUR_ABI_MARKER;
#endif

/* Where creating or loading calls report errors (no handle exists yet). */
typedef struct recur_error {
    recur_status status;
    char msg[512];
} recur_error;

/* Threads of recur's own pool (matrix products, element-wise kernels, the two
 * directions of a bidirectional layer).  <= 0 keeps the default: OpenBLAS's
 * thread count at recur's first call (OPENBLAS_NUM_THREADS if set, else the
 * number of cores).
 *
 * OpenBLAS's thread count is process-wide, and recur sets it to 1 at its
 * first call (and at every recur_set_num_threads) without restoring it:
 * recur splits the products over its own pool, each part a single-threaded
 * OpenBLAS call, and OpenBLAS's threads would fight the pool's for the
 * cores.  Setting and restoring it around each call would race with the
 * pool's threads and with the host's own OpenBLAS calls, and cost a lock in
 * the time loop.  A program that wants OpenBLAS threaded for its own
 * products calls openblas_set_num_threads after recur's calls; recur stays
 * correct, but its products made while the count is above 1 are slower. */
/* The most threads the pool runs (larger counts are refused by the CLI). */
#define RECUR_MAX_THREADS 64
RECUR_API void recur_set_num_threads(int n);

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */

typedef enum recur_cell {
    RECUR_CELL_RNN_TANH = 0,
    RECUR_CELL_RNN_RELU,
    RECUR_CELL_LSTM,
    RECUR_CELL_GRU
} recur_cell;

/* Where the GRU's reset gate acts.  RESET_AFTER is PyTorch's and cuDNN's
 * n = tanh(W_in x + b_in + r*(W_hn h + b_hn)); RESET_BEFORE is Cho et al.
 * 2014's n = tanh(W_in x + b_in + W_hn (r*h) + b_hn).  Same tensors. */
typedef enum recur_gru_form {
    RECUR_GRU_RESET_AFTER = 0,
    RECUR_GRU_RESET_BEFORE
} recur_gru_form;

/* The deepest stack a model may have. */
#define RECUR_MAX_LAYERS 64

typedef struct recur_stack_config {
    recur_cell cell;
    recur_gru_form gru_form;
    int input_size;    /* features per step into layer 0 (set from embed_size when the model has an embedding) */
    int hidden_size;   /* H */
    int proj_size;     /* LSTM only: P < H, 0 for none */
    int num_layers;
    int bidirectional; /* 0 or 1 */
    int residual;      /* 1: out_{k+1} = rnn_{k+1}(in_{k+1}) + out_k for k >= 0 (needs equal widths) */
    float dropout;     /* inverted dropout on the input of layers 1..L-1, training only */
} recur_stack_config;

/* A model is [embedding] -> recurrent stack -> [decoder].
 *  vocab_size > 0: inputs are token ids through embedding.weight [V, E].
 *  vocab_size = 0: inputs are float vectors of rnn.input_size.
 *  output_size > 0: decoder.weight [O, D*P], decoder.bias [O], softmax
 *  cross-entropy against per-step targets; 0: the stack's outputs are the
 *  result (encoder use).  tied: decoder.weight is embedding.weight (needs
 *  O == V and E == D*P). */
typedef struct recur_model_config {
    int vocab_size;
    int embed_size;
    recur_stack_config rnn;
    int output_size;
    int tied;
    float dropout_embed;  /* on the embedding output, training only */
    float dropout_output; /* on the stack output before the decoder, training only */
} recur_model_config;

/* Fills a config with defaults: LSTM, 1 layer, no embedding/decoder. */
RECUR_API void recur_model_config_default(recur_model_config *cfg);

/* ------------------------------------------------------------------------ */
/* Model: parameters and their gradients in one buffer each                  */

typedef struct recur_model recur_model;

RECUR_API recur_status recur_model_create(recur_model **out, const recur_model_config *cfg,
                                uint64_t seed, recur_error *err);
RECUR_API void recur_model_free(recur_model *m);
RECUR_API const char *recur_model_errmsg(const recur_model *m);
RECUR_API const recur_model_config *recur_model_get_config(const recur_model *m);

/* Initialisation.  default: PyTorch's (RNN weights U(+-1/sqrt(H)), embedding
 * N(0,1), decoder U(+-1/sqrt(in))).  uniform: every parameter U(+-scale). */
RECUR_API recur_status recur_model_init_default(recur_model *m);
RECUR_API recur_status recur_model_init_uniform(recur_model *m, double scale);
/* Sets the LSTM forget-gate biases: b_if = value, b_hf = 0. */
RECUR_API recur_status recur_model_set_forget_bias(recur_model *m, double value);

typedef struct recur_tensor_info {
    const char *name;    /* "rnn.weight_ih_l0", "embedding.weight", ... */
    int ndim;
    int64_t shape[4];
    size_t offset;       /* into recur_model_params(); tied tensors share it */
    size_t numel;
    recur_real *data;
    recur_real *grad;
} recur_tensor_info;

RECUR_API int recur_model_num_tensors(const recur_model *m);
RECUR_API recur_status recur_model_tensor(const recur_model *m, int index, recur_tensor_info *info);
RECUR_API recur_status recur_model_find_tensor(const recur_model *m, const char *name, recur_tensor_info *info);
RECUR_API size_t recur_model_num_params(const recur_model *m); /* distinct scalars */
RECUR_API recur_real *recur_model_params(recur_model *m);
RECUR_API recur_real *recur_model_grads(recur_model *m);
RECUR_API void recur_model_zero_grad(recur_model *m);

/* The model's random generator (initialisation, dropout, sampling). */
RECUR_API void recur_model_seed(recur_model *m, uint64_t seed);
/* Uniform double in [0, 1) from the model's generator. */
RECUR_API double recur_model_uniform(recur_model *m);

/* Precision of the matrix products.  RECUR_PRECISION_BF16 (training and
 * scoring): recur_forward and recur_backward multiply in bfloat16 with
 * float32 sums (AMX tiles or AVX512-BF16 where the CPU has them, else a
 * portable path with the same rounding); weights, gradients, optimiser state
 * and all element-wise work stay float32, and the weights are rounded and
 * packed once per forward pass (once per optimiser step).  Float builds
 * only.  RECUR_PRECISION_INT8 is for a stepper's weights
 * (recur_stepper_set_weights), not for a model's products. */
typedef enum {
    RECUR_PRECISION_FP32 = 0,
    RECUR_PRECISION_BF16 = 1,
    RECUR_PRECISION_INT8 = 2
} recur_precision;
/* RECUR_ERR_ARG for INT8, or BF16 in the double build.  A composite's
 * sub-models follow it. */
RECUR_API recur_status recur_model_set_precision(recur_model *m, recur_precision p);
RECUR_API recur_precision recur_model_precision(const recur_model *m);
/* "fp32", "bf16", "int8"; parse: RECUR_ERR_ARG for anything else. */
RECUR_API const char *recur_precision_name(recur_precision p);
RECUR_API recur_status recur_precision_parse(const char *s, recur_precision *out);
/* The kernel bfloat16 products run on here: "amx", "avx512bf16" or
 * "portable" (RECUR_BF16=portable|avx512bf16 in the environment lowers it). */
RECUR_API const char *recur_bf16_kernel(void);

/* ------------------------------------------------------------------------ */
/* Composite models: a task's further tensors in the same buffer             */

/* A tagger, classifier or encoder-decoder needs more than one recurrent
 * stack: a CRF's transitions, an output or attention layer, a character
 * RNN, an encoder.  A composite model keeps them all in the one parameter
 * and gradient buffer, so clipping, optimisers, checkpoints and the trainer
 * treat them as one model.  A part is either
 *  - a tensor the task computes with itself (ndim 1..4, named as PyTorch
 *    would name the module's parameter: "crf.transitions", "out.weight"), or
 *  - a whole model (model != NULL), whose tensors are named
 *    "<name>.<its name>" ("char_rnn.rnn.weight_ih_l0"): a PyTorch module
 *    holding it as a submodule loads the file with the same names.
 * The first model (cfg) keeps its unprefixed names.  Sub-models share the
 * composite's random generator (dropout), so a resumed run draws the same
 * masks. */
#define RECUR_MAX_PARTS 32

typedef struct recur_part {
    const char *name;                /* a tensor's full name, or a sub-model's prefix */
    const recur_model_config *model; /* non-NULL: a sub-model */
    int ndim;                        /* a tensor: 1..4 */
    int64_t shape[4];
    double init; /* a tensor's initialisation: U(-init, init); 0: zeros */
} recur_part;

RECUR_API recur_status recur_model_create_composite(recur_model **out, const recur_model_config *cfg,
                                                    const recur_part *parts, int n_parts, uint64_t seed,
                                                    recur_error *err);
/* A sub-model: a recur_model that reads and writes the composite's buffers
 * (runs, steppers, recur_model_find_tensor with its own names).  Owned by
 * the composite; NULL when there is no sub-model of that name. */
RECUR_API recur_model *recur_model_submodel(recur_model *m, const char *name);
RECUR_API int recur_model_num_parts(const recur_model *m);

/* ------------------------------------------------------------------------ */
/* Running: forward and backward through time                               */

/* Per-run state: activations kept for backward, sized for max_T x max_B.  A
 * run reads the model's weights and adds into the model's gradients. */
typedef struct recur_run recur_run;

RECUR_API recur_status recur_run_create(recur_run **out, recur_model *m, int max_T, int max_B,
                              recur_error *err);
RECUR_API void recur_run_free(recur_run *r);
RECUR_API const char *recur_run_errmsg(const recur_run *r);

/* For inference with weights that stay fixed (sampling, generation): on = 1
 * computes, for every token v, the first layer's input product e_v W_ih^T
 * (V x gates*H values per direction), and forward passes with training = 0
 * then read it instead of multiplying: a step of a small batch reads a
 * quarter less memory in a 2-layer model.  The results are those of the
 * product (identical for a batch of one).  The weights must not change
 * while it is on: call it again after a change, or with on = 0 to free it.
 * Needs a model with an embedding. */
RECUR_API recur_status recur_run_cache_input_projection(recur_run *r, int on);
/* The same for a model with float inputs whose first `cols` input columns
 * are, at every active step, a row of `rows` (V x cols, e.g. a word
 * embedding the caller concatenates with other features): computes the
 * first layer's product of every row with those columns of W_ih (V x
 * gates*H values per direction), and forward passes with training = 0
 * whose batch gives `tokens` (the row of each step, 0..V-1; ignored on
 * padding) read it and multiply only the other columns; a batch without
 * tokens, a training pass or a bfloat16 pass multiplies all of them.  The
 * results are those of the product up to rounding (the sum over the
 * columns splits in two).  As above, the weights must not change while it
 * is on; rows NULL frees it. */
RECUR_API recur_status recur_run_cache_input_prefix(recur_run *r, const recur_real *rows, int V, int cols);

/* Data parallelism: the run's batches are streams [first, first + B) of a
 * global batch of `total` streams that several processes share (total 0:
 * the batch is the whole batch, the default).  Dropout then draws each
 * stream's mask as a run over the global batch would, so N processes that
 * each run their share draw together exactly what one process draws. */
RECUR_API recur_status recur_run_set_batch_share(recur_run *r, int first, int total);

typedef struct recur_batch {
    int T, B;
    const int32_t *tokens;      /* (T, B) ids: models with an embedding, or a prefix table's rows */
    const recur_real *inputs;   /* (T, B, input_size), models without */
    const int32_t *lengths;     /* (B), 0..T each (0: states pass through); NULL: all T */
    const int32_t *targets;     /* (T, B) class ids, -1 = no target; NULL: no loss */
    const recur_real *h0;       /* (L*D, B, P or H), NULL: zeros; index l*D + d */
    const recur_real *c0;       /* (L*D, B, H), LSTM only, NULL: zeros */
} recur_batch;

/* Runs the model.  training = 1 applies dropout.  With targets and a decoder,
 * *loss (may be NULL) receives the mean cross-entropy (nats) over steps with a
 * target inside their sequence, and *count (may be NULL) that number. */
RECUR_API recur_status recur_forward(recur_run *r, const recur_batch *batch, int training,
                           double *loss, int64_t *count);

/* Outputs of the last forward.  Steps past a sequence's length are zero. */
RECUR_API const recur_real *recur_run_outputs(const recur_run *r);   /* (T, B, D*P) last layer */
RECUR_API const recur_real *recur_run_logits(const recur_run *r);    /* (T, B, O), decoder only */
RECUR_API const recur_real *recur_run_hn(const recur_run *r);        /* (L*D, B, P) final states */
RECUR_API const recur_real *recur_run_cn(const recur_run *r);        /* (L*D, B, H) LSTM only */

/* Backpropagates through the last forward, adding parameter gradients into
 * recur_model_grads().  The gradient is that of
 *     loss_scale * mean_loss + <d_outputs, outputs> + <d_hn, hn> + <d_cn, cn>
 * where mean_loss counts only with targets; any d_ may be NULL (zero). */
RECUR_API recur_status recur_backward(recur_run *r, double loss_scale, const recur_real *d_outputs,
                            const recur_real *d_hn, const recur_real *d_cn);

/* Gradients with respect to the inputs of the last backward. */
RECUR_API const recur_real *recur_run_d_inputs(const recur_run *r); /* (T, B, input_size), float-input models */
RECUR_API const recur_real *recur_run_d_h0(const recur_run *r);     /* (L*D, B, P) */
RECUR_API const recur_real *recur_run_d_c0(const recur_run *r);     /* (L*D, B, H) */

/* ------------------------------------------------------------------------ */
/* Stepping: one token at a time, batch 1 (sampling, generation)            */

/* A stepper feeds a unidirectional model with an embedding one token at a
 * time and keeps its state between tokens: recur_forward with T = B = 1 and
 * the state carried, with the same results, laid out for speed (a batch of
 * one reads every weight once per token, so it runs at the speed the
 * weights stream in: each thread keeps the same weight rows at every token,
 * the rows stream in alternating order so that each token starts on what
 * the last left in cache, and character models read layer 0's input side
 * from a table of e_v W_ih^T).  It reads the model's weights in place: they
 * must not change while the stepper exists.  The state starts at zeros. */
typedef struct recur_stepper recur_stepper;

RECUR_API recur_status recur_stepper_create(recur_stepper **out, const recur_model *m, recur_error *err);
RECUR_API void recur_stepper_free(recur_stepper *s);
RECUR_API const char *recur_stepper_errmsg(const recur_stepper *s);
/* Sets the state: h0 (L, P or H) and c0 (L, H, LSTM only), laid out as
 * recur_batch's h0 and c0 with B = 1; NULL: zeros.  A non-finite value is
 * RECUR_ERR_NONFINITE (message on s) and leaves the state as it was. */
RECUR_API recur_status recur_stepper_reset(recur_stepper *s, const recur_real *h0, const recur_real *c0);
/* Feeds one token id and moves the state on; an id outside the vocabulary
 * is RECUR_ERR_ARG and changes nothing. */
RECUR_API recur_status recur_stepper_feed(recur_stepper *s, int32_t token);
/* After a feed: the decoder's logits (O; NULL without a decoder), the last
 * layer's output (P or H), the states (L, P or H) and cell states (L, H;
 * NULL unless LSTM).  Valid until the next feed or reset. */
RECUR_API const recur_real *recur_stepper_logits(const recur_stepper *s);
RECUR_API const recur_real *recur_stepper_outputs(const recur_stepper *s);
RECUR_API const recur_real *recur_stepper_h(const recur_stepper *s);
RECUR_API const recur_real *recur_stepper_c(const recur_stepper *s);
/* The weights the stepper multiplies with: FP32 (the model's, the default),
 * BF16 (each rounded to bfloat16) or INT8 (one scale per output row: max
 * |row| / 127); a copy made now from the model's weights, at a half or a
 * quarter of their bytes, which a batch-1 step is bound by.  The sums and
 * the state stay float32, and layer 0's input table of a character model
 * stays float32.  Float builds only (RECUR_ERR_ARG in the double build).
 * Call again after the model's weights change. */
RECUR_API recur_status recur_stepper_set_weights(recur_stepper *s, recur_precision p);
RECUR_API recur_precision recur_stepper_weights(const recur_stepper *s);

/* ------------------------------------------------------------------------ */
/* Training                                                                  */

/* Gradient-norm clipping (Pascanu et al. 2013): one global L2 norm over every
 * parameter; if norm >= max_norm, every gradient is scaled by max_norm/norm.
 * *norm gets the pre-clip norm.  Non-finite norm: RECUR_ERR_NONFINITE, grads
 * untouched.  max_norm <= 0 only measures. */
RECUR_API recur_status recur_clip_grad_norm(recur_model *m, double max_norm, double *norm, int *clipped);

typedef enum recur_optim_kind {
    RECUR_OPTIM_SGD = 0,
    RECUR_OPTIM_ADAM,
    RECUR_OPTIM_ADAMW
} recur_optim_kind;

typedef struct recur_optim_config {
    recur_optim_kind kind;
    double momentum;     /* SGD */
    double weight_decay; /* SGD and Adam: L2 added to the gradient; AdamW: decoupled */
    double beta1, beta2, eps; /* Adam, AdamW */
    double clip;         /* max global gradient norm, <= 0: no clipping */
} recur_optim_config;

RECUR_API void recur_optim_config_default(recur_optim_config *cfg, recur_optim_kind kind);

typedef struct recur_optim recur_optim;

RECUR_API recur_status recur_optim_create(recur_optim **out, recur_model *m, const recur_optim_config *cfg,
                                recur_error *err);
RECUR_API void recur_optim_free(recur_optim *o);
RECUR_API const char *recur_optim_errmsg(const recur_optim *o);

/* One update with learning rate lr from the model's gradients: clip, then
 * step (PyTorch's SGD/Adam/AdamW update rules).  A non-finite gradient
 * returns RECUR_ERR_NONFINITE and leaves parameters and state unchanged.
 * grad_norm and clipped (may be NULL) report the pre-clip norm.  Gradients
 * are left as they are (call recur_model_zero_grad). */
RECUR_API recur_status recur_optim_step(recur_optim *o, double lr, double *grad_norm, int *clipped);
RECUR_API int64_t recur_optim_steps(const recur_optim *o);

/* Learning-rate schedules, epoch-based (epochs count from 1). */
typedef enum recur_sched_kind {
    RECUR_SCHED_CONSTANT = 0,
    RECUR_SCHED_DECAY_AFTER, /* lr0 * decay^max(0, epoch - start) (Zaremba et al. 2014) */
    RECUR_SCHED_PLATEAU      /* lr *= decay after more than patience epochs without an improvement by threshold (ReduceLROnPlateau) */
} recur_sched_kind;

typedef struct recur_schedule {
    recur_sched_kind kind;
    double lr0, decay, threshold, min_lr;
    int start, patience;
    /* state */
    int epoch;        /* epochs finished */
    double lr;        /* rate for the next epoch */
    double best;      /* best validation loss seen (plateau) */
    int bad_epochs;
} recur_schedule;

RECUR_API void recur_schedule_init(recur_schedule *s, recur_sched_kind kind, double lr0, double decay,
                         int start_or_patience);
/* Call after each epoch with its validation loss; updates s->lr. */
RECUR_API void recur_schedule_epoch_end(recur_schedule *s, double val_loss);

/* ------------------------------------------------------------------------ */
/* Checkpoints: safetensors with PyTorch's names                              */

/* Extra __metadata__ entries (string -> string) written with a model. */
typedef struct recur_meta_entry {
    const char *key;
    const char *value;
} recur_meta_entry;

/* What exact resumption needs beyond parameters and optimiser moments. */
typedef struct recur_train_state {
    int64_t step;
    int64_t epoch;
    int64_t position;     /* data position inside the epoch (caller's meaning) */
    recur_schedule schedule;
    /* the best validation so far as a loss, lower better: the decisive
     * metric itself (perplexity, loss, error rate), or its negation when
     * higher is better (accuracy, F1); +inf before the first evaluation */
    double best_val;
} recur_train_state;

/* Writes the model (and, if o != NULL, the optimiser's moments, its step,
 * the train state and the model's random state) atomically: a temporary file
 * in the same folder, fsync, rename.  recur.config in __metadata__ holds the
 * model configuration; extra_config (a JSON object text, may be NULL) is merged
 * into it; meta adds further entries.  What goes wrong is said in err (may
 * be NULL): a bad argument, RECUR_ERR_NOMEM, RECUR_ERR_IO naming the file. */
RECUR_API recur_status recur_checkpoint_save(const recur_model *m, const recur_optim *o,
                                   const recur_train_state *ts, const char *path,
                                   const char *extra_config, const recur_meta_entry *meta,
                                   int n_meta, recur_error *err);

/* An opened, fully validated checkpoint. */
typedef struct recur_checkpoint recur_checkpoint;

RECUR_API recur_status recur_checkpoint_open(recur_checkpoint **out, const char *path, recur_error *err);
RECUR_API void recur_checkpoint_close(recur_checkpoint *c);
/* The model configuration stored in the file. */
RECUR_API const recur_model_config *recur_checkpoint_config(const recur_checkpoint *c);
/* A __metadata__ value, NULL when absent.  "recur.config" is the JSON text. */
RECUR_API const char *recur_checkpoint_meta(const recur_checkpoint *c, const char *key);
RECUR_API int recur_checkpoint_has_train_state(const recur_checkpoint *c);
/* Creates a model from the file's configuration and weights. */
RECUR_API recur_status recur_checkpoint_load_model(recur_checkpoint *c, recur_model **out, recur_error *err);
/* Restores weights, optimiser moments and step, train state and random state
 * into an existing model and optimiser.  RECUR_ERR_MISMATCH unless the model
 * has the file's configuration (every field, and a composite's parts) and
 * the optimiser is this model's, of the file's kind and momentum. */
RECUR_API recur_status recur_checkpoint_load_train(recur_checkpoint *c, recur_model *m, recur_optim *o,
                                         recur_train_state *ts, recur_error *err);

/* ------------------------------------------------------------------------ */
/* Language-model data: vocabularies, corpora, sampling                      */
/* RECUR_LM_API_BEGIN */

/* UTF-8.  Strict (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF. */
/* Decodes the code point at s[*pos] (n bytes in all).  Returns 1 and moves
 * *pos past it, or 0 for an invalid or truncated sequence (*pos unchanged). */
RECUR_API int recur_utf8_decode(const char *s, size_t n, size_t *pos, uint32_t *cp);
/* Writes cp as 1-4 bytes into out and returns the count; 0 for a value that
 * is not a Unicode scalar value. */
RECUR_API int recur_utf8_encode(uint32_t cp, char out[4]);
/* 1 when s[0..n) is valid UTF-8; else 0 with *bad_offset (may be NULL) the
 * byte offset of the first byte of the first invalid sequence. */
RECUR_API int recur_utf8_valid(const char *s, size_t n, size_t *bad_offset);

/* Token level of a language model. */
typedef enum recur_lm_level {
    RECUR_LEVEL_WORD = 0, /* whitespace-separated words, <eos> at each line end */
    RECUR_LEVEL_CHAR      /* Unicode code points, '\n' included */
} recur_lm_level;

/* "word" / "char"; parse returns -1 for anything else. */
RECUR_API const char *recur_lm_level_name(recur_lm_level level);
RECUR_API int recur_lm_level_parse(const char *name);

/* Reads a whole text file: an error naming the file for one that cannot be
 * read, is empty, holds a NUL byte (binary) or invalid UTF-8 (with the byte
 * offset, line and column).  *text (NUL-terminated, free() it). */
RECUR_API recur_status recur_text_read(const char *path, char **text, size_t *len, recur_error *err);
/* The same checks on text in memory; name is used in messages. */
RECUR_API recur_status recur_text_check(const char *text, size_t len, const char *name, recur_error *err);

#define RECUR_TOKEN_UNK "<unk>"
#define RECUR_TOKEN_EOS "<eos>"

/* A vocabulary: tokens (UTF-8 strings) with ids 0..size-1 and counts.  Word
 * vocabularies always hold <eos> and <unk>; character vocabularies hold <unk>
 * (never a single code point, so it cannot clash with a character). */
typedef struct recur_vocab recur_vocab;

RECUR_API recur_status recur_vocab_create(recur_vocab **out, recur_lm_level level, recur_error *err);
RECUR_API void recur_vocab_free(recur_vocab *v);
RECUR_API recur_lm_level recur_vocab_level(const recur_vocab *v);
RECUR_API int32_t recur_vocab_size(const recur_vocab *v);
/* Adds tok[0..len) if new and adds n to its count; *id (may be NULL) gets
 * its id.  RECUR_ERR_NOMEM (message on v) when memory runs out. */
RECUR_API recur_status recur_vocab_add(recur_vocab *v, const char *tok, size_t len, int64_t n, int32_t *id);
RECUR_API const char *recur_vocab_errmsg(const recur_vocab *v);
/* The id of tok[0..len), -1 when absent. */
RECUR_API int32_t recur_vocab_find(const recur_vocab *v, const char *tok, size_t len);
RECUR_API const char *recur_vocab_token(const recur_vocab *v, int32_t id); /* NULL out of range */
RECUR_API int64_t recur_vocab_count(const recur_vocab *v, int32_t id);
RECUR_API int32_t recur_vocab_unk(const recur_vocab *v); /* -1 when absent */
RECUR_API int32_t recur_vocab_eos(const recur_vocab *v); /* -1 when absent (character level) */

/* Counts every token of text into v (tokenised as recur_corpus_encode does);
 * name is used in messages. */
RECUR_API recur_status recur_vocab_count_text(recur_vocab *v, const char *text, size_t len,
                                    const char *name, recur_error *err);
/* Fixes the vocabulary after counting: ids ordered by count, highest first,
 * ties by first appearance; only tokens seen at least min_count times, at most
 * max_size tokens in all (0: no limit), specials included.  <eos> (word level)
 * is always kept; <unk> is kept where the text has it, else appended last. */
RECUR_API recur_status recur_vocab_finish(recur_vocab *v, int64_t max_size, int64_t min_count,
                                recur_error *err);

/* The vocabulary as a JSON array of its tokens in id order (malloc'd text). */
RECUR_API recur_status recur_vocab_to_json(const recur_vocab *v, char **json, recur_error *err);
/* Reads such an array strictly: non-empty strings only, no duplicates, <eos>
 * in a word vocabulary, one code point per token (or <unk>) at character
 * level.  <unk> may be absent from a hand-made file: unknown tokens are then
 * errors when encoding. */
RECUR_API recur_status recur_vocab_from_json(recur_vocab **out, recur_lm_level level, const char *json,
                                   recur_error *err);

/* Flags of recur_corpus_encode. */
#define RECUR_ENCODE_STRICT 1       /* a token outside the vocabulary is an error */
#define RECUR_ENCODE_NO_FINAL_EOS 2 /* no <eos> after a last line without '\n' */

/* Turns text into ids.  Word level: each line split on ASCII whitespace, then
 * <eos> (a last line without '\n' gets one too, unless NO_FINAL_EOS; an empty
 * last segment gets none).  Character level: one id per code point.  Tokens
 * outside the vocabulary become <unk> and are counted in *n_oov (may be NULL),
 * or with STRICT fail with the token, line and byte offset.  *ids: malloc'd. */
RECUR_API recur_status recur_corpus_encode(const recur_vocab *v, const char *text, size_t len,
                                 const char *name, int flags, int32_t **ids, size_t *n,
                                 size_t *n_oov, recur_error *err);

/* Batching of Zaremba et al. (2014): the id stream cut into B contiguous
 * streams of `steps` ids each (the remainder dropped), stored time-major:
 * data[t*B + b] = ids[b*steps + t].  A segment read from step s feeds
 * data[s..s+T) and predicts data[s+1..s+T+1); the hidden state of one segment
 * starts the next (truncated BPTT). */
typedef struct recur_lm_stream {
    int32_t *data; /* (steps, B) */
    int64_t steps;
    int B;
} recur_lm_stream;

/* Needs at least 2 steps per stream (an error otherwise). */
RECUR_API recur_status recur_lm_batchify(recur_lm_stream *s, const int32_t *ids, size_t n, int B,
                               recur_error *err);
RECUR_API void recur_lm_stream_free(recur_lm_stream *s);
/* Number of segments of at most bptt steps: ceil((steps - 1) / bptt). */
RECUR_API int64_t recur_lm_num_segments(const recur_lm_stream *s, int bptt);
/* The segment from step `start`: returns T = min(bptt, steps - 1 - start)
 * (0 past the end) and points inputs/targets at (T, B) ids inside data. */
RECUR_API int recur_lm_segment(const recur_lm_stream *s, int64_t start, int bptt, const int32_t **inputs,
                     const int32_t **targets);

/* The distribution a sampler draws from, into probs[V]: softmax(logits / T)
 * cut to the top_k most likely tokens (0: all) and then to the smallest set of
 * most likely tokens whose mass reaches top_p (1: all), renormalised.
 * temperature 0: all mass on the argmax (the lowest id on ties).  Errors for
 * temperature < 0, top_k < 0, top_p outside (0, 1], non-finite logits. */
RECUR_API recur_status recur_sample_distribution(const recur_real *logits, int V, double temperature,
                                       int top_k, double top_p, double *probs, recur_error *err);

/* A sampler owns its random generator and scratch space. */
typedef struct recur_sampler recur_sampler;

RECUR_API recur_status recur_sampler_create(recur_sampler **out, int V, double temperature, int top_k,
                                  double top_p, uint64_t seed, recur_error *err);
RECUR_API void recur_sampler_free(recur_sampler *s);
/* Draws an id from logits[V] into *token.  RECUR_ERR_NONFINITE (with the
 * message on s, *token = -1) for non-finite logits. */
RECUR_API recur_status recur_sampler_next(recur_sampler *s, const recur_real *logits, int32_t *token);
RECUR_API const char *recur_sampler_errmsg(const recur_sampler *s);

/* Language-model helpers over a model with an embedding and a decoder. */

/* Negative log-likelihood of ids[1..n) given what precedes each, reading the
 * stream as one sequence from a zero state in segments of `chunk` steps (the
 * state carried across them).  *nll: summed nats; *count = n - 1. */
RECUR_API recur_status recur_lm_score(recur_model *m, const int32_t *ids, size_t n, int chunk,
                            double *nll, int64_t *count, recur_error *err);

/* As recur_lm_score, and logp[i - 1] = ln p(ids[i] | ids[0..i)) for each of
 * the n - 1 predicted ids (for token-by-token interpolation with an n-gram
 * model); *nll (may be NULL) the summed negative log-likelihood. */
RECUR_API recur_status recur_lm_token_logprobs(recur_model *m, const int32_t *ids, size_t n, int chunk,
                                     double *logp, double *nll, recur_error *err);

/* The same over `streams` contiguous pieces of ids read side by side, each
 * from a zero state with its first id as context only (*count = n - pieces):
 * a faster estimate for validation during training.  streams = 1 is
 * recur_lm_score. */
RECUR_API recur_status recur_lm_score_streams(recur_model *m, const int32_t *ids, size_t n, int streams,
                                    int chunk, double *nll, int64_t *count, recur_error *err);

/* Beam search for the most likely continuation of prime[0..n_prime)
 * (n_prime >= 1): keeps the `beam` best hypotheses by total log-probability
 * and returns the best after `length` tokens, or the best finished one when
 * stop_id >= 0 ends hypotheses (stop_id included).  out holds `length` ids;
 * *n_out gets the count, *logprob (may be NULL) its log-probability. */
RECUR_API recur_status recur_lm_beam_search(recur_model *m, const int32_t *prime, int n_prime, int beam,
                                  int length, int32_t stop_id, int32_t *out, int *n_out,
                                  double *logprob, recur_error *err);
/* ------------------------------------------------------------------------ */
/* The model files of recur's tasks                                          */

/* Every model file `recur` writes is a checkpoint whose recur.config names
 * its task ("task":"lm") beside the model's configuration, plus what the
 * task needs to read its inputs: a language model ("lm") has "level"
 * ("word" or "char") in recur.config and its vocabulary as the JSON array
 * __metadata__ "recur.vocab" (ids in order).  Word-level scoring predicts
 * every token of a text, <eos> at each line end included, from <eos> as the
 * first context; character level predicts every character but the first. */
typedef struct recur_model_file recur_model_file;

/* Opens and checks a model file of any task recur knows, or of expect_task
 * only (NULL: any): the task, its settings and vocabulary, and the model.
 * A file of another task is RECUR_ERR_MISMATCH naming both tasks. */
RECUR_API recur_status recur_model_file_open(recur_model_file **out, const char *path,
                                   const char *expect_task, recur_error *err);
RECUR_API void recur_model_file_close(recur_model_file *f);
RECUR_API const char *recur_model_file_task(const recur_model_file *f);        /* "lm", ... */
RECUR_API recur_model *recur_model_file_model(recur_model_file *f);            /* owned by f */
RECUR_API const recur_vocab *recur_model_file_vocab(const recur_model_file *f); /* lm */
RECUR_API recur_lm_level recur_model_file_level(const recur_model_file *f);    /* lm */
RECUR_API recur_checkpoint *recur_model_file_checkpoint(recur_model_file *f);  /* its __metadata__ */

/* The JSON object a language model's file carries in recur.config. */
RECUR_API const char *recur_lm_extra_config(recur_lm_level level);

/* The negative log-likelihood of ids[0..n) (a text encoded with the model's
 * vocabulary) by the convention above, read as `streams` pieces side by side
 * (1: exactly `recur lm eval`; more: faster, slightly different).  *nll:
 * summed nats; *count: predicted tokens. */
RECUR_API recur_status recur_lm_eval_ids(recur_model *m, const recur_vocab *v, const int32_t *ids,
                               size_t n, int streams, double *nll, int64_t *count,
                               recur_error *err);
/* As recur_lm_eval_ids with one stream, read one token at a time by a
 * stepper whose weights are `weights` (recur_stepper_set_weights: FP32, BF16
 * or INT8): the perplexity of the model in the precision it generates in.
 * Float builds only for BF16 and INT8. */
RECUR_API recur_status recur_lm_eval_ids_stepped(const recur_model *m, const recur_vocab *v, const int32_t *ids,
                                       size_t n, recur_precision weights, double *nll, int64_t *count,
                                       recur_error *err);
/* The same for a text in memory (checked as recur_text_check does; tokens
 * outside the vocabulary become <unk>, counted in *n_oov, which may be NULL):
 * `recur lm eval`'s numbers through the library. */
RECUR_API recur_status recur_lm_eval_text(recur_model *m, const recur_vocab *v, const char *text,
                                size_t len, const char *name, double *nll, int64_t *count,
                                size_t *n_oov, recur_error *err);
/* Sentences scored one by one (n-best rescoring, filtering a corpus by
 * fluency): many short sequences, each read from a zero state on its own. */

/* The ids a line of text is scored as: the convention above applied to the
 * line as a file of its own.  Word level: <eos> (context), the line's words,
 * <eos>.  Character level: '\n' (the end of the line before, as context),
 * the line's characters, '\n'.  Every id but the first is predicted.  The
 * line must be UTF-8 without '\n' or NUL; tokens outside the vocabulary
 * become <unk>, counted in *n_oov (may be NULL).  *ids: malloc'd, *n >= 2;
 * name is used in messages. */
RECUR_API recur_status recur_lm_encode_line(const recur_vocab *v, const char *line, size_t len,
                                  const char *name, int32_t **ids, size_t *n, size_t *n_oov,
                                  recur_error *err);

/* Scores n sequences in one call: seqs[i] holds lens[i] >= 1 ids, the first
 * context only; logprob[i] = the sum over t >= 1 of ln p(ids[t] | ids[0..t)),
 * each sequence from a zero state.  Up to `batch` sequences run side by side,
 * padded (sorted by length inside the call, so little is padding); results
 * are in input order and, but for rounding, independent of the batch.
 * token_logp (may be NULL) receives each predicted token's ln p, sequence
 * after sequence (lens[i] - 1 values each). */
RECUR_API recur_status recur_lm_score_batch(recur_model *m, const int32_t *const *seqs,
                                  const size_t *lens, size_t n, int batch, double *logprob,
                                  double *token_logp, recur_error *err);

/* Lines of text (NUL-terminated, no '\n'), each encoded by
 * recur_lm_encode_line and scored by recur_lm_score_batch: logprob[i] (ln),
 * tokens[i] (predicted tokens) and n_oov[i] (<unk> substitutions); tokens
 * and n_oov may be NULL. */
RECUR_API recur_status recur_lm_score_lines(recur_model *m, const recur_vocab *v,
                                  const char *const *lines, size_t n, int batch,
                                  double *logprob, int64_t *tokens, int64_t *n_oov,
                                  recur_error *err);
/* RECUR_LM_API_END */

/* ------------------------------------------------------------------------ */
/* n-gram baseline (interpolated modified Kneser-Ney)                          */
/* RECUR_NGRAM_API_BEGIN */
/* Word n-gram language models with interpolated modified Kneser-Ney smoothing
 * (Chen & Goodman 1998), stored as ARPA backoff files (the text format of
 * SRILM and KenLM).  Text is whitespace-separated words, one sentence a line;
 * each sentence is scored as <s> w1 .. wn </s>: every word and </s> is
 * predicted, <s> never.  docs/ngram.md has the formulas and conventions. */

#define RECUR_NGRAM_MAX_ORDER 12

typedef struct recur_ngram_train_config {
    int order;                  /* 1..RECUR_NGRAM_MAX_ORDER (default 3) */
    size_t memory_bytes;        /* budget for sort buffers; 0: default 256 MiB */
    const char *tmp_dir;        /* where sorted runs spill; NULL: $TMPDIR or /tmp */
    /* Discounts come from counts of counts; when they cannot be estimated
     * (a count of counts n1..n4 is zero, or a discount falls outside
     * [0, i]) training fails unless discount_fallback is 1, in which case
     * that order uses fallback[] = D1, D2, D3+ (default 0.5, 1, 1.5). */
    int discount_fallback;
    double fallback[3];
} recur_ngram_train_config;

RECUR_API void recur_ngram_train_config_default(recur_ngram_train_config *cfg);

typedef struct recur_ngram_train_stats {
    int order;
    int64_t sentences;          /* lines of the corpus */
    int64_t tokens;             /* words, without </s> */
    int64_t vocab_size;         /* distinct words + </s> (the predicted vocabulary) */
    int64_t ngrams[RECUR_NGRAM_MAX_ORDER];      /* entries of order i+1 in the ARPA file */
    double discounts[RECUR_NGRAM_MAX_ORDER][3]; /* D1, D2, D3+ of order i+1 */
    int fallback_used[RECUR_NGRAM_MAX_ORDER];   /* 1: order i+1 used the fallback */
    int64_t runs_spilled;       /* sorted runs written to temporary files */
} recur_ngram_train_stats;

/* Trains a model of cfg->order on the text file corpus_path and writes it to
 * arpa_path atomically (temporary file, fsync, rename).  Counting streams the
 * corpus through memory-bounded sorts that spill to tmp_dir, so only the
 * vocabulary (and, per context, its continuations) must fit in memory.
 * stats may be NULL. */
RECUR_API recur_status recur_ngram_train(const char *corpus_path, const char *arpa_path,
                               const recur_ngram_train_config *cfg,
                               recur_ngram_train_stats *stats, recur_error *err);

/* A loaded backoff model; read-only after loading, so threads may share it. */
typedef struct recur_ngram recur_ngram;

/* Reads an ARPA file (recur's, SRILM's or KenLM's).  The file is checked
 * strictly: sections, declared counts, numbers, n-gram orders, duplicates and
 * words of higher orders missing from the 1-grams are errors that name the
 * line.  The model must contain <s> and </s>. */
RECUR_API recur_status recur_ngram_load(recur_ngram **out, const char *arpa_path, recur_error *err);
RECUR_API void recur_ngram_free(recur_ngram *m);
/* Writes the model as an ARPA file, atomically (temporary file, fsync,
 * rename): the n-grams in the order they were read, numbers with 9
 * significant digits, so that a file recur wrote comes back byte for byte. */
RECUR_API recur_status recur_ngram_save(const recur_ngram *m, const char *arpa_path, recur_error *err);

RECUR_API int recur_ngram_order(const recur_ngram *m);
/* Number of words (1-grams, <s> and </s> included); ids are 0..size-1. */
RECUR_API int32_t recur_ngram_vocab_size(const recur_ngram *m);
/* Number of n-grams of an order (1..order), 0 outside. */
RECUR_API int64_t recur_ngram_count(const recur_ngram *m, int order);
/* The id of a word exactly as spelled, -1 when the model lacks it. */
RECUR_API int32_t recur_ngram_word_id(const recur_ngram *m, const char *word);
/* The id to score a word with: its own id, else the id of <unk> when the
 * model has one, else -1 (out of vocabulary). */
RECUR_API int32_t recur_ngram_map(const recur_ngram *m, const char *word);
/* The spelling of an id, NULL outside 0..size-1. */
RECUR_API const char *recur_ngram_word(const recur_ngram *m, int32_t id);
RECUR_API int32_t recur_ngram_bos(const recur_ngram *m); /* <s> */
RECUR_API int32_t recur_ngram_eos(const recur_ngram *m); /* </s> */
RECUR_API int32_t recur_ngram_unk(const recur_ngram *m); /* <unk>, -1 when absent */

/* The preceding words of a sentence that matter: at most order-1 ids, the
 * most recent last.  A plain value: copy it to branch. */
typedef struct recur_ngram_state {
    int len;
    int32_t words[RECUR_NGRAM_MAX_ORDER - 1];
} recur_ngram_state;

/* Starts a sentence: the context is <s>. */
RECUR_API void recur_ngram_begin(const recur_ngram *m, recur_ngram_state *st);

/* log10 p(word | st) by ARPA backoff evaluation, then appends word to st.
 * Multiply by ln(10) for nats.  word is an id from recur_ngram_map; -1 (or
 * any id outside the vocabulary) is out of vocabulary: the result is
 * -INFINITY and st is emptied, since no n-gram of the model contains such a
 * word (backoff would skip it anyway).  Score the end of a sentence with
 * recur_ngram_eos(m). */
RECUR_API double recur_ngram_score(const recur_ngram *m, recur_ngram_state *st, int32_t word);

/* Perplexity of a text file, counted as word-level `recur lm eval` counts:
 * each line is a sentence; its words and one </s> are predicted.  Out of
 * vocabulary words are scored as <unk> when the model has <unk>; otherwise
 * they are left out of the perplexity and counted in oovs (SRILM's and
 * KenLM's convention). */
typedef struct recur_ngram_eval_result {
    int64_t sentences;
    int64_t words;       /* words in the text, </s> not included */
    int64_t oovs;        /* words not in the model (scored as <unk> if it has one) */
    int64_t predicted;   /* tokens in the perplexity: words + </s>, less excluded OOVs */
    double log10_prob;   /* sum of log10 p over the predicted tokens */
    double perplexity;   /* 10^(-log10_prob / predicted) */
} recur_ngram_eval_result;

/* Called after each sentence (line is 1-based) with its log10 probability
 * and the counts that went into it. */
typedef void (*recur_ngram_sentence_fn)(void *ctx, int64_t line, double log10_prob,
                                        int64_t predicted, int64_t oovs);

RECUR_API recur_status recur_ngram_eval_file(const recur_ngram *m, const char *text_path,
                                   recur_ngram_sentence_fn on_sentence, void *ctx,
                                   recur_ngram_eval_result *res, recur_error *err);
/* RECUR_NGRAM_API_END */

#ifdef __cplusplus
}
#endif
#endif /* RECUR_H */
