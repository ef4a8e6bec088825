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
 */
#ifndef RECUR_H
#define RECUR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RECUR_VERSION "0.1.0"
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
const char *recur_status_str(recur_status s);

/* Where creating or loading calls report errors (no handle exists yet). */
typedef struct recur_error {
    recur_status status;
    char msg[512];
} recur_error;

/* Number of threads for matrix products (OpenBLAS).  <= 0 keeps the default. */
void recur_set_num_threads(int n);

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
void recur_model_config_default(recur_model_config *cfg);

/* ------------------------------------------------------------------------ */
/* Model: parameters and their gradients in one buffer each                  */

typedef struct recur_model recur_model;

recur_status recur_model_create(recur_model **out, const recur_model_config *cfg,
                                uint64_t seed, recur_error *err);
void recur_model_free(recur_model *m);
const char *recur_model_errmsg(const recur_model *m);
const recur_model_config *recur_model_get_config(const recur_model *m);

/* Initialisation.  default: PyTorch's (RNN weights U(+-1/sqrt(H)), embedding
 * N(0,1), decoder U(+-1/sqrt(in))).  uniform: every parameter U(+-scale). */
recur_status recur_model_init_default(recur_model *m);
recur_status recur_model_init_uniform(recur_model *m, double scale);
/* Sets the LSTM forget-gate biases: b_if = value, b_hf = 0. */
recur_status recur_model_set_forget_bias(recur_model *m, double value);

typedef struct recur_tensor_info {
    const char *name;    /* "rnn.weight_ih_l0", "embedding.weight", ... */
    int ndim;
    int64_t shape[4];
    size_t offset;       /* into recur_model_params(); tied tensors share it */
    size_t numel;
    recur_real *data;
    recur_real *grad;
} recur_tensor_info;

int recur_model_num_tensors(const recur_model *m);
recur_status recur_model_tensor(const recur_model *m, int index, recur_tensor_info *info);
recur_status recur_model_find_tensor(const recur_model *m, const char *name, recur_tensor_info *info);
size_t recur_model_num_params(const recur_model *m); /* distinct scalars */
recur_real *recur_model_params(recur_model *m);
recur_real *recur_model_grads(recur_model *m);
void recur_model_zero_grad(recur_model *m);

/* The model's random generator (initialisation, dropout, sampling). */
void recur_model_seed(recur_model *m, uint64_t seed);
/* Uniform double in [0, 1) from the model's generator. */
double recur_model_uniform(recur_model *m);

/* ------------------------------------------------------------------------ */
/* Running: forward and backward through time                               */

/* Per-run state: activations kept for backward, sized for max_T x max_B.  A
 * run reads the model's weights and adds into the model's gradients. */
typedef struct recur_run recur_run;

recur_status recur_run_create(recur_run **out, recur_model *m, int max_T, int max_B,
                              recur_error *err);
void recur_run_free(recur_run *r);
const char *recur_run_errmsg(const recur_run *r);

typedef struct recur_batch {
    int T, B;
    const int32_t *tokens;      /* (T, B) ids, models with an embedding */
    const recur_real *inputs;   /* (T, B, input_size), models without */
    const int32_t *lengths;     /* (B), 1..T each; NULL: every sequence has T steps */
    const int32_t *targets;     /* (T, B) class ids, -1 = no target; NULL: no loss */
    const recur_real *h0;       /* (L*D, B, P or H), NULL: zeros; index l*D + d */
    const recur_real *c0;       /* (L*D, B, H), LSTM only, NULL: zeros */
} recur_batch;

/* Runs the model.  training = 1 applies dropout.  With targets and a decoder,
 * *loss (may be NULL) receives the mean cross-entropy (nats) over steps with a
 * target inside their sequence, and *count (may be NULL) that number. */
recur_status recur_forward(recur_run *r, const recur_batch *batch, int training,
                           double *loss, int64_t *count);

/* Outputs of the last forward.  Steps past a sequence's length are zero. */
const recur_real *recur_run_outputs(const recur_run *r);   /* (T, B, D*P) last layer */
const recur_real *recur_run_logits(const recur_run *r);    /* (T, B, O), decoder only */
const recur_real *recur_run_hn(const recur_run *r);        /* (L*D, B, P) final states */
const recur_real *recur_run_cn(const recur_run *r);        /* (L*D, B, H) LSTM only */

/* Backpropagates through the last forward, adding parameter gradients into
 * recur_model_grads().  The gradient is that of
 *     loss_scale * mean_loss + <d_outputs, outputs> + <d_hn, hn> + <d_cn, cn>
 * where mean_loss counts only with targets; any d_ may be NULL (zero). */
recur_status recur_backward(recur_run *r, double loss_scale, const recur_real *d_outputs,
                            const recur_real *d_hn, const recur_real *d_cn);

/* Gradients with respect to the inputs of the last backward. */
const recur_real *recur_run_d_inputs(const recur_run *r); /* (T, B, input_size), float-input models */
const recur_real *recur_run_d_h0(const recur_run *r);     /* (L*D, B, P) */
const recur_real *recur_run_d_c0(const recur_run *r);     /* (L*D, B, H) */

/* ------------------------------------------------------------------------ */
/* Training                                                                  */

/* Gradient-norm clipping (Pascanu et al. 2013): one global L2 norm over every
 * parameter; if norm >= max_norm, every gradient is scaled by max_norm/norm.
 * *norm gets the pre-clip norm.  Non-finite norm: RECUR_ERR_NONFINITE, grads
 * untouched.  max_norm <= 0 only measures. */
recur_status recur_clip_grad_norm(recur_model *m, double max_norm, double *norm, int *clipped);

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

void recur_optim_config_default(recur_optim_config *cfg, recur_optim_kind kind);

typedef struct recur_optim recur_optim;

recur_status recur_optim_create(recur_optim **out, recur_model *m, const recur_optim_config *cfg,
                                recur_error *err);
void recur_optim_free(recur_optim *o);
const char *recur_optim_errmsg(const recur_optim *o);

/* One update with learning rate lr from the model's gradients: clip, then
 * step (PyTorch's SGD/Adam/AdamW update rules).  A non-finite gradient
 * returns RECUR_ERR_NONFINITE and leaves parameters and state unchanged.
 * grad_norm and clipped (may be NULL) report the pre-clip norm.  Gradients
 * are left as they are (call recur_model_zero_grad). */
recur_status recur_optim_step(recur_optim *o, double lr, double *grad_norm, int *clipped);
int64_t recur_optim_steps(const recur_optim *o);

/* Learning-rate schedules, epoch-based (epochs count from 1). */
typedef enum recur_sched_kind {
    RECUR_SCHED_CONSTANT = 0,
    RECUR_SCHED_DECAY_AFTER, /* lr0 * decay^max(0, epoch - start) (Zaremba et al. 2014) */
    RECUR_SCHED_PLATEAU      /* lr *= decay when validation loss fails to improve by threshold for patience epochs */
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

void recur_schedule_init(recur_schedule *s, recur_sched_kind kind, double lr0, double decay,
                         int start_or_patience);
/* Call after each epoch with its validation loss; updates s->lr. */
void recur_schedule_epoch_end(recur_schedule *s, double val_loss);

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
    double best_val;
} recur_train_state;

/* Writes the model (and, if o != NULL, the optimiser's moments, its step,
 * the train state and the model's random state) atomically: a temporary file
 * in the same folder, fsync, rename.  recur.config in __metadata__ holds the
 * model configuration; extra_config (a JSON object text, may be NULL) is merged
 * into it; meta adds further entries. */
recur_status recur_checkpoint_save(recur_model *m, const recur_optim *o,
                                   const recur_train_state *ts, const char *path,
                                   const char *extra_config, const recur_meta_entry *meta,
                                   int n_meta);

/* An opened, fully validated checkpoint. */
typedef struct recur_checkpoint recur_checkpoint;

recur_status recur_checkpoint_open(recur_checkpoint **out, const char *path, recur_error *err);
void recur_checkpoint_close(recur_checkpoint *c);
/* The model configuration stored in the file. */
const recur_model_config *recur_checkpoint_config(const recur_checkpoint *c);
/* A __metadata__ value, NULL when absent.  "recur.config" is the JSON text. */
const char *recur_checkpoint_meta(const recur_checkpoint *c, const char *key);
int recur_checkpoint_has_train_state(const recur_checkpoint *c);
/* Creates a model from the file's configuration and weights. */
recur_status recur_checkpoint_load_model(recur_checkpoint *c, recur_model **out, recur_error *err);
/* Restores optimiser moments and step, train state and random state into an
 * existing model and optimiser made with the same configuration. */
recur_status recur_checkpoint_load_train(recur_checkpoint *c, recur_model *m, recur_optim *o,
                                         recur_train_state *ts, recur_error *err);

/* ------------------------------------------------------------------------ */
/* Language-model data: vocabularies, corpora, sampling                      */
/* RECUR_LM_API_BEGIN */
/* RECUR_LM_API_END */

/* ------------------------------------------------------------------------ */
/* n-gram baseline (interpolated modified Kneser-Ney)                          */
/* RECUR_NGRAM_API_BEGIN */
/* RECUR_NGRAM_API_END */

#ifdef __cplusplus
}
#endif
#endif /* RECUR_H */
