/*
 * recur_inspect.h - seeing inside a model: how far gradients reach back in
 * time (vanishing and exploding gradients, measured), the largest singular
 * value of a recurrent matrix, and a whole-file atomic write for the reports
 * the tools make (SVG, CSV, HTML).
 */
#ifndef RECUR_INSPECT_H
#define RECUR_INSPECT_H

#include "recur.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes n bytes to path atomically (a temporary file beside it, fsync,
 * rename): a failure leaves an earlier file as it was.  A path that is a
 * folder, a device or a FIFO is refused. */
RECUR_API recur_status recur_file_write_atomic(const char *path, const void *data, size_t n,
                                               recur_error *err);

/* Gradient flow.  For a unidirectional model and a batch of B sequences of
 * T steps (no lengths: every sequence full), the objective J is taken at
 * the last step t = T-1 only:
 *   - a model with a decoder and batch->targets: J_b = the cross-entropy of
 *     targets[t][b] (the other steps' targets are ignored);
 *   - otherwise J_b = the sum of the last layer's outputs at step t.
 * For each layer k, each distance l = 1..max_distance (<= T) and each
 * sequence b, h_norm[(k * max_distance + l - 1) * B + b] receives
 * || dJ_b / dh_k(t-l) ||, where h_k(t-l) is the state layer k carries from
 * step t-l into step t-l+1 (l = T: the initial state), the gradient taken
 * with the upper layers' outputs at step t-l held fixed (all later paths
 * included).  For the top layer, and any one-layer model, this is the full
 * derivative.  c_norm (LSTM only, may be NULL) gets || dJ_b / dc_k(t-l) ||
 * in the same layout.
 *
 * How: a forward pass one step at a time records every layer's state, then
 * for each l a window of the last l steps starts from the state at t-l and
 * runs forward and backward (recur_run_d_h0, recur_run_d_c0): O(max_distance^2)
 * steps in all, exact through the engine's backward.  Dropout is off.  The
 * model's gradients are left as they were. */
RECUR_API recur_status recur_gradflow_measure(recur_model *m, const recur_batch *batch,
                                              int max_distance, double *h_norm, double *c_norm,
                                              recur_error *err);

/* The largest singular value of layer `layer`'s recurrent matrix
 * rnn.weight_hh_l<layer> of a plain RNN (tanh or ReLU), by power iteration
 * on W^T W to a relative change below 1e-10 (at most 10000 iterations).
 * With |f'| <= 1 it bounds how much the gradient can grow in one step:
 * ||dJ/dh(t-l-1)|| <= sigma * ||dJ/dh(t-l)|| through a one-layer RNN. */
RECUR_API recur_status recur_gradflow_spectral_norm(const recur_model *m, int layer, double *sigma,
                                                    recur_error *err);

#ifdef __cplusplus
}
#endif
#endif /* RECUR_INSPECT_H */
