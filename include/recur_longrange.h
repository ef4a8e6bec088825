/*
 * recur_longrange.h - the classic long-range tasks as trainer tasks: the
 * adding problem (Hochreiter & Schmidhuber 1997) and the copy task (Arjovsky
 * et al. 2016), each at a chosen delay.  Data are drawn fresh for every
 * step from a generator seeded by (seed, epoch, step), so a run needs no
 * data files and a resumed run draws exactly what it would have; the
 * validation set is fixed by the seed.
 *
 * Adding, delay N: N steps of two inputs (a value U[0,1), a marker 0 or 1);
 * exactly two markers, the first in the first half (steps 0..floor(N/2)-1),
 * the second in the rest; the target, read after the last step, is
 * the sum of the two marked values.  The model is the recurrent stack plus
 * a linear output out.weight [1, H], out.bias [1] (a composite model), the
 * loss the squared error; predicting 1 always gives a mean squared error
 * of 1/6, and the task counts as solved below 0.01.
 *
 * Copy, delay N: K symbols drawn from 1..S, N-1 blanks (0), a delimiter
 * (S+1), then K blanks during which the model must output the K symbols in
 * order: N + 2K steps, targets only on the last K (cross-entropy over the
 * S+2 classes).  Guessing gives an accuracy of 1/S; solved at 0.99 or more.
 */
#ifndef RECUR_LONGRANGE_H
#define RECUR_LONGRANGE_H

#include "recur_train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum recur_longrange_kind {
    RECUR_LONGRANGE_ADDING = 0,
    RECUR_LONGRANGE_COPY
} recur_longrange_kind;

/* The adding problem's thresholds of "solved". */
#define RECUR_ADDING_SOLVED_MSE 0.01
#define RECUR_COPY_SOLVED_ACCURACY 0.99

/* One adding sequence into column b of a batch of B: inputs (T, B, 2) get
 * (values[t], 1 at m1 and m2 else 0), *target the sum values[m1] + values[m2]. */
RECUR_API void recur_adding_layout(int T, int B, int b, const double *values, int m1, int m2,
                                   recur_real *inputs, recur_real *target);
/* A batch of B adding sequences of T >= 2 steps drawn from seed. */
RECUR_API void recur_adding_generate(uint64_t seed, int T, int B, recur_real *inputs, recur_real *targets);

/* One copy sequence into column b: tokens and targets are (delay + 2K, B);
 * targets -1 but on the last K steps. */
RECUR_API void recur_copy_layout(int delay, int K, int S, int B, int b, const int32_t *symbols,
                                 int32_t *tokens, int32_t *targets);
/* A batch of B copy sequences drawn from seed. */
RECUR_API void recur_copy_generate(uint64_t seed, int delay, int K, int S, int B, int32_t *tokens,
                                   int32_t *targets);

typedef struct recur_longrange_config {
    recur_longrange_kind kind;
    int delay;          /* N >= 2 for adding, >= 1 for copy */
    int batch;          /* sequences per step */
    int64_t epoch_steps;
    int valid_size;     /* validation sequences */
    int copy_length;    /* K (copy) */
    int copy_symbols;   /* S (copy) */
    uint64_t seed;      /* data: training batches and the validation set */
} recur_longrange_config;

RECUR_API void recur_longrange_config_default(recur_longrange_config *cfg);

/* The model configuration a task of this kind trains, with the given cell
 * and sizes: float inputs of 2 (adding) or tokens over S+2 symbols with an
 * embedding of `embed` and a decoder (copy). */
RECUR_API void recur_longrange_model_config(const recur_longrange_config *cfg, recur_cell cell,
                                            int hidden, int layers, int embed,
                                            recur_model_config *out);
/* Creates the model: for adding, a composite of that stack and the output
 * layer (out.weight U(+-1/sqrt(H)), out.bias 0); for copy, the stack alone.
 * The recurrent weights: U(+-init_scale), or PyTorch's default for 0. */
RECUR_API recur_status recur_longrange_model_create(recur_model **out, const recur_longrange_config *cfg,
                                                    recur_cell cell, int hidden, int layers, int embed,
                                                    double init_scale, uint64_t seed, recur_error *err);

typedef struct recur_longrange_task recur_longrange_task;

/* The task keeps a pointer to m (made by recur_longrange_model_create or
 * loaded from its file). */
RECUR_API recur_status recur_longrange_task_create(recur_longrange_task **out, recur_model *m,
                                                   const recur_longrange_config *cfg, recur_error *err);
RECUR_API void recur_longrange_task_free(recur_longrange_task *t);
/* The callbacks, with extra_config {"task":"adding"|"copy","delay":N,...}.
 * Evaluation: "mse" (adding, decisive, lower better), or "loss" and
 * "accuracy" (copy, accuracy decisive, higher better). */
RECUR_API recur_task recur_longrange_task_callbacks(recur_longrange_task *t);

#ifdef __cplusplus
}
#endif
#endif /* RECUR_LONGRANGE_H */
