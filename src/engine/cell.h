/*
 * cell.h - one direction of one recurrent layer over a whole sequence.
 *
 * Every cell runs forward in its own time order; the layer driver (layers.c)
 * feeds a backward direction each sequence reversed within its own length.
 * Step t is active for sequence b when t < len[b]; an inactive step copies the
 * state through unchanged, so padding never reaches an output, a state or a
 * gradient.  The input projection X W_ih^T (all T*B rows) and the weight
 * gradients (all steps) are single matrix products outside the time loop;
 * only the recurrent product runs per step.
 */
#ifndef RECUR_CELL_H
#define RECUR_CELL_H

#include "model_internal.h"

typedef struct dir_buf {
    recur_real *x;    /* (T, B, in) input, this direction's time order */
    recur_real *act;  /* (T, B, G*H) activated gates (LSTM i,f,g,o; GRU r,z,n) */
    recur_real *hs;   /* (T+1, B, R) states, hs[0] = h0 */
    recur_real *cs;   /* (T+1, B, H) LSTM cell states, cs[0] = c0 */
    recur_real *tc;   /* (T, B, H) LSTM tanh(c_t) */
    recur_real *m;    /* (T, B, H) LSTM with projection: o * tanh(c) */
    recur_real *aux;  /* (T, B, H) GRU: W_hn h + b_hn (reset after) or r * h (reset before) */
    recur_real *dy;   /* (T, B, R) gradient arriving at the outputs */
    recur_real *dgx;  /* (T, B, G*H) gradient of the pre-activations, input side */
    recur_real *dgh;  /* (T, B, G*H) GRU reset-after: hidden side */
    recur_real *dhs;  /* (T, B, R) LSTM with projection: total dh per step */
    recur_real *dx;   /* (T, B, in) gradient into the input */
    recur_real *dh;   /* (B, R) running dh; holds dh0 after backward */
    recur_real *dc;   /* (B, H) running dc; holds dc0 after backward */
    recur_real *tmp;  /* (B, G*H) scratch */
    recur_real *wpack; /* the run's packed W_hh (gemm.h), NULL when products are not packed */
    const recur_real *in_table; /* (V, G*H) e_v W_ih^T per token, or NULL: multiply (layer 0, inference) */
    const int32_t *in_tok;      /* (T, B) token per row of x when in_table is set, -1: none */
    int in_cols;                /* with in_table: the first in_cols columns of x the table covers */
    int packed;        /* 1 while the pass running uses wpack */
    int wpack_ready;   /* wpack already holds this layer's forward packing (run_freeze_recurrent) */
} dir_buf;

/* The forward pass packs W_hh^T when there are rows enough to pay for it
 * (a batch of one or two reads each weight once a step anyway); backward
 * always packs, since its product against W_hh itself would pack a block at
 * every step. */
static inline int pack_forward(const dir_buf *s, int B) { return s->wpack != NULL && B >= 5; }

static inline int step_active(const int32_t *len, int t, int b) { return t < len[b]; }

static inline recur_real sigm(recur_real x) { return (recur_real)1 / ((recur_real)1 + R_EXP(-x)); }

/* Gate rows whose b_hh folds into the input side's bias: all of them,
 * except in a GRU with the reset after, which keeps b_hh inside
 * r ∘ (W_hn h + b_hn) and adds it with the recurrent product. */
int cell_fold_rows(const recur_model *m);
/* bias (G*H) = b_ih + b_hh on the first cell_fold_rows rows. */
void cell_input_bias(const recur_model *m, const cell_params *p, recur_real *bias);
/* table (V, G*H): e_v W_ih^T for every token v of the embedding, each the
 * one-row product a batch of one makes (layer 0 of a model with tokens). */
void cell_input_table(const recur_model *m, const cell_params *p, recur_real *table);
/* table (V, G*H): rows (V x cols) times the first cols columns of W_ih^T,
 * one product (the input columns a float model's caller fills from a table
 * of its own, recur_run_cache_input_prefix). */
void cell_input_prefix_table(const recur_model *m, const cell_params *p, const recur_real *rows, int V, int cols,
                             recur_real *table);
/* out (T, B, G*H) = X W_ih^T + cell_input_bias for all T*B rows; uses
 * s->tmp.  With s->in_table the product of each row's first s->in_cols
 * columns is read from the table instead, and only the rest multiplied. */
void cell_input_projection(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B,
                           recur_real *out);
/* From dgx: dW_ih += dgx^T X, dx = dgx W_ih. */
void cell_input_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B);
/* db1 += column sums of X (rows x cols), and db2 too when not NULL. */
void cell_bias_backward(recur_real *db1, recur_real *db2, const recur_real *X, int rows, int cols);
/* Packs W (gates*H x R) gate by gate with gemm_pack_bt into out (float
 * builds with the AVX-512 kernel only). */
void cell_pack_gates(const recur_real *W, int gates, int H, int R, recur_real *out);
/* Packs W (K x N) with gemm_pack_b into out, for products with W itself. */
void cell_pack_b(const recur_real *W, int K, int N, recur_real *out);

void lstm_forward(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len);
void lstm_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len);
void gru_forward(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len);
void gru_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len);
void rnn_forward(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len);
void rnn_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len);

#endif
