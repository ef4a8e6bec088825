/*
 * run.c - per-run state and the whole model's forward and backward pass:
 * embedding -> dropout -> recurrent layers (directions, residuals, dropout
 * between layers) -> dropout -> decoder -> softmax cross-entropy.
 *
 * A backward direction sees each sequence reversed within its own length
 * (gather before, scatter after), so it starts at that sequence's last token
 * and the cells only ever run forward in their own time.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cell.h"
#include "dropout.h"
#include "gemm.h"
#include "gemm_bf16.h"
#include "simd.h"
#include "threads.h"

struct recur_run {
    recur_model *m;
    char errmsg[RECUR_ERRMSG_LEN];
    int max_T, max_B;
    int T, B, training, ready; /* ready: a forward is waiting for its backward */
    int32_t *len;              /* (B) */
    int32_t *tokens;           /* (T, B) copy, models with an embedding */
    int32_t *targets;          /* (T, B) copy, -1 where no target counts */
    dir_buf dirs[RECUR_MAX_LAYERS][2];
    recur_real *layer_in[RECUR_MAX_LAYERS];   /* (T, B, in_l) after dropout */
    const recur_real *x_in[RECUR_MAX_LAYERS]; /* layer l's input: layer_in[l], or layer_out[l-1] when no dropout applies */
    recur_real *in_mask[RECUR_MAX_LAYERS];    /* (T, B, in_l) dropout scale, NULL: none */
    recur_real *layer_out[RECUR_MAX_LAYERS];  /* (T, B, D*R) with the residual added */
    recur_real *dec_in, *dec_mask;            /* (T, B, D*R) */
    const recur_real *dec_x;                  /* the decoder's input: dec_in, or the last layer_out without dropout */
    recur_real *logits, *dlogits;             /* (T, B, O) */
    double *lse;                              /* (T, B) log-sum-exp per row */
    recur_real *rowmax;                       /* (T, B) largest logit per row */
    recur_real *dout, *dout_prev, *din;       /* gradient buffers */
    recur_real *hn, *cn, *dh0, *dc0;          /* (L*D, B, R or H) */
    recur_real *d_inputs;                     /* (T, B, in_0) */
    recur_real *wpack[2];                     /* packed W_hh of the layer running, per direction (gemm.h) */
    recur_real *in_table[2];                  /* (V, G) layer 0's e_v W_ih^T per direction, or NULL */
    int32_t *tok_rev;                         /* (T, B) tokens reversed within lengths, with in_table */
    recur_real *wfrozen[RECUR_MAX_LAYERS][2]; /* forward-packed W_hh per layer-direction (run_freeze_recurrent), or NULL */
    int in_cols, in_V;                        /* with in_table: layer 0's input columns it covers, its rows */
    int table_pass;                           /* this forward reads in_table */
    int has_targets;
    int share_first, share_total; /* the batch is streams [first, first + B) of share_total; 0: all */
    int64_t count;
    double loss;
    bf16_products bf16; /* the weights packed for a pass in bfloat16 */
    int bf16_pass;      /* the last forward ran in bfloat16: its backward does too */
};

static int max_int(int a, int b) { return a > b ? a : b; }

/* The run's buffers: zeroed and 64-byte aligned like recur_alloc, but from
 * calloc, which leaves large blocks to fresh (untouched) pages; a buffer
 * that a pass never writes (the backward's, when a run only scores or
 * generates) then costs no memory.  The block calloc returned is kept just
 * below the aligned address. */
static void *run_alloc(size_t n, size_t size)
{
    int ok = 1;
    size_t bytes = recur_mul(n, size, &ok);
    if (!ok || bytes > SIZE_MAX - 128)
        return NULL;
    char *raw = calloc(bytes + 64, 1);
    if (!raw)
        return NULL;
    char *p = (char *)(((uintptr_t)raw + 64) & ~(uintptr_t)63);
    memcpy(p - sizeof raw, &raw, sizeof raw);
    return p;
}

static void run_free(void *p)
{
    if (!p)
        return;
    char *raw;
    memcpy(&raw, (char *)p - sizeof raw, sizeof raw);
    free(raw);
}

recur_status recur_run_create(recur_run **out, recur_model *m, int max_T, int max_B, recur_error *err)
{
    *out = NULL;
    if (max_T <= 0 || max_B <= 0 || max_T > (1 << 20) || max_B > (1 << 20))
        return recur_error_set(err, RECUR_ERR_ARG, "run: max steps %d and max batch %d must be in 1..%d",
                               max_T, max_B, 1 << 20);
    {
        /* the widest per-step array, times steps x batch, must be
         * addressable: checked here, where the products are formed */
        const recur_model_config *mc = &m->cfg;
        double width = (double)m->gates * mc->rnn.hidden_size;
        width = fmax(width, (double)m->out_width);
        width = fmax(width, (double)mc->output_size);
        width = fmax(width, (double)mc->rnn.input_size);
        double cells = (double)(max_T + 1) * max_B * width * sizeof(recur_real);
        if (cells > (double)(SIZE_MAX / 4))
            return recur_error_set(err, RECUR_ERR_ARG,
                                   "run: %d steps x %d sequences x %.0f values per step cannot be addressed",
                                   max_T, max_B, width);
    }
    recur_run *r = recur_alloc(1, sizeof *r);
    if (!r)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory creating a run");
    r->m = m;
    r->max_T = max_T;
    r->max_B = max_B;
    const recur_model_config *c = &m->cfg;
    const int L = c->rnn.num_layers, D = m->dirs, H = c->rnn.hidden_size, R = m->state;
    const int G = m->gates * H, DR = m->out_width, in0 = c->rnn.input_size;
    const size_t TB = (size_t)max_T * max_B, T1B = (size_t)(max_T + 1) * max_B, Bn = (size_t)max_B;
    const int lstm = c->rnn.cell == RECUR_CELL_LSTM, gru = c->rnn.cell == RECUR_CELL_GRU;
    const int proj = c->rnn.proj_size > 0;
    int ok = 1;
#define ALLOC(p, n)                                                                                   \
    do {                                                                                              \
        (p) = run_alloc((n), sizeof *(p));                                                            \
        if (!(p))                                                                                     \
            ok = 0;                                                                                   \
    } while (0)
    ALLOC(r->len, Bn);
    ALLOC(r->targets, TB);
    if (c->vocab_size > 0)
        ALLOC(r->tokens, TB);
    for (int l = 0; l < L && ok; l++) {
        int in = l == 0 ? in0 : DR;
        ALLOC(r->layer_in[l], TB * in);
        ALLOC(r->layer_out[l], TB * DR);
        if ((l == 0 && c->vocab_size > 0 && c->dropout_embed > 0) || (l > 0 && c->rnn.dropout > 0))
            ALLOC(r->in_mask[l], TB * in);
        for (int d = 0; d < D; d++) {
            dir_buf *s = &r->dirs[l][d];
            if (d == 1)
                ALLOC(s->x, TB * in);
            ALLOC(s->act, TB * G);
            ALLOC(s->dgx, TB * G);
            ALLOC(s->hs, T1B * R);
            ALLOC(s->dy, TB * R);
            ALLOC(s->dx, TB * in);
            ALLOC(s->dh, Bn * R);
            ALLOC(s->dc, Bn * H);
            ALLOC(s->tmp, Bn * G);
            if (lstm) {
                ALLOC(s->cs, T1B * H);
                ALLOC(s->tc, TB * H);
                if (proj) {
                    ALLOC(s->m, TB * H);
                    ALLOC(s->dhs, TB * R);
                }
            }
            if (gru) {
                ALLOC(s->aux, TB * H);
                if (c->rnn.gru_form == RECUR_GRU_RESET_AFTER)
                    ALLOC(s->dgh, TB * G);
            }
        }
    }
    if (c->output_size > 0) {
        ALLOC(r->dec_in, TB * DR);
        if (c->dropout_output > 0)
            ALLOC(r->dec_mask, TB * DR);
        ALLOC(r->logits, TB * c->output_size);
        ALLOC(r->dlogits, TB * c->output_size);
        ALLOC(r->lse, TB);
        ALLOC(r->rowmax, TB);
    }
    ALLOC(r->dout, TB * DR);
    ALLOC(r->dout_prev, TB * DR);
    ALLOC(r->din, TB * max_int(in0, DR));
    ALLOC(r->hn, (size_t)L * D * Bn * R);
    ALLOC(r->dh0, (size_t)L * D * Bn * R);
    if (lstm) {
        ALLOC(r->cn, (size_t)L * D * Bn * H);
        ALLOC(r->dc0, (size_t)L * D * Bn * H);
    }
    if (c->vocab_size == 0)
        ALLOC(r->d_inputs, TB * in0);
#ifndef RECUR_DOUBLE
    if (recur_gemm_packed_kernel() && ok) {
        /* forward: each gate's rows of W_hh (H x R) for W_hh^T; backward: W_hh (G x R) itself */
        size_t fwd = (size_t)m->gates * gemm_packed_size(H, R), bwd = gemm_packed_size(R, G);
        for (int d = 0; d < D; d++) {
            ALLOC(r->wpack[d], fwd > bwd ? fwd : bwd);
            for (int l = 0; l < L; l++)
                r->dirs[l][d].wpack = r->wpack[d];
        }
    }
#endif
#undef ALLOC
    if (!ok) {
        recur_run_free(r);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory for a run of %d steps x %d sequences",
                               max_T, max_B);
    }
    *out = r;
    return RECUR_OK;
}

void recur_run_free(recur_run *r)
{
    if (!r)
        return;
    for (int l = 0; l < RECUR_MAX_LAYERS; l++) {
        run_free(r->layer_in[l]);
        run_free(r->in_mask[l]);
        run_free(r->layer_out[l]);
        for (int d = 0; d < 2; d++) {
            dir_buf *s = &r->dirs[l][d];
            /* the forward direction's x is a view of layer_in[l] */
            recur_real *bufs[] = {d == 1 ? s->x : NULL, s->act, s->hs, s->cs, s->tc, s->m, s->aux,
                                  s->dy, s->dgx, s->dgh, s->dhs, s->dx, s->dh, s->dc, s->tmp};
            for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
                run_free(bufs[i]);
        }
    }
    for (int l = 0; l < RECUR_MAX_LAYERS; l++)
        for (int d = 0; d < 2; d++)
            run_free(r->wfrozen[l][d]);
    void *rest[] = {r->len, r->tokens, r->targets, r->dec_in, r->dec_mask, r->logits, r->dlogits, r->lse, r->rowmax,
                    r->dout, r->dout_prev, r->din, r->hn, r->cn, r->dh0, r->dc0, r->d_inputs, r->wpack[0], r->wpack[1],
                    r->in_table[0], r->in_table[1], r->tok_rev};
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
        run_free(rest[i]);
    bf16_products_free(&r->bf16);
    recur_free(r);
}

recur_status recur_run_cache_input_projection(recur_run *r, int on)
{
    recur_model *m = r->m;
    const recur_model_config *c = &m->cfg;
    for (int d = 0; d < 2; d++) {
        run_free(r->in_table[d]);
        r->in_table[d] = NULL;
    }
    run_free(r->tok_rev);
    r->tok_rev = NULL;
    if (!on)
        return RECUR_OK;
    if (c->vocab_size <= 0 || c->rnn.num_layers <= 0)
        return recur_seterr(r->errmsg, RECUR_ERR_ARG,
                            "cache input projection: the model has no embedding feeding a recurrent layer");
    const int V = c->vocab_size, G = m->gates * c->rnn.hidden_size;
    for (int d = 0; d < m->dirs; d++)
        if (!(r->in_table[d] = run_alloc((size_t)V * G, sizeof(recur_real))))
            goto nomem;
    if (m->dirs == 2 && !(r->tok_rev = run_alloc((size_t)r->max_T * r->max_B, sizeof(int32_t))))
        goto nomem;
    for (int d = 0; d < m->dirs; d++)
        cell_input_table(m, &m->cells[0][d], r->in_table[d]);
    r->in_cols = c->rnn.input_size;
    r->in_V = V;
    return RECUR_OK;
nomem:
    recur_run_cache_input_projection(r, 0);
    return recur_seterr(r->errmsg, RECUR_ERR_NOMEM, "cache input projection: out of memory for %d x %d values", V, G);
}

recur_status run_freeze_recurrent(recur_run *r, int on)
{
    for (int l = 0; l < RECUR_MAX_LAYERS; l++)
        for (int d = 0; d < 2; d++) {
            run_free(r->wfrozen[l][d]);
            r->wfrozen[l][d] = NULL;
        }
    if (!on || !r->wpack[0])
        return RECUR_OK; /* no packed kernel: nothing to keep */
#ifndef RECUR_DOUBLE
    const recur_model *m = r->m;
    const int L = m->cfg.rnn.num_layers, H = m->cfg.rnn.hidden_size, R = m->state;
    for (int l = 0; l < L; l++)
        for (int d = 0; d < m->dirs; d++) {
            if (!(r->wfrozen[l][d] = run_alloc((size_t)m->gates * gemm_packed_size(H, R), sizeof(recur_real)))) {
                run_freeze_recurrent(r, 0);
                return recur_seterr(r->errmsg, RECUR_ERR_NOMEM, "freeze: out of memory for the packed weights");
            }
            cell_pack_gates(m->params + m->cells[l][d].w_hh, m->gates, H, R, r->wfrozen[l][d]);
        }
#endif
    return RECUR_OK;
}

recur_status recur_run_cache_input_prefix(recur_run *r, const recur_real *rows, int V, int cols)
{
    recur_model *m = r->m;
    const recur_model_config *c = &m->cfg;
    recur_run_cache_input_projection(r, 0);
    if (!rows)
        return RECUR_OK;
    if (c->vocab_size > 0 || c->rnn.num_layers <= 0)
        return recur_seterr(r->errmsg, RECUR_ERR_ARG,
                            "cache input prefix: the model has no float inputs feeding a recurrent layer");
    if (V <= 0 || cols <= 0 || cols > c->rnn.input_size)
        return recur_seterr(r->errmsg, RECUR_ERR_ARG, "cache input prefix: %d rows of %d columns (of %d inputs)", V,
                            cols, c->rnn.input_size);
    const int G = m->gates * c->rnn.hidden_size;
    for (int d = 0; d < m->dirs; d++)
        if (!(r->in_table[d] = run_alloc((size_t)V * G, sizeof(recur_real))))
            goto nomem;
    if (!r->tokens && !(r->tokens = run_alloc((size_t)r->max_T * r->max_B, sizeof(int32_t))))
        goto nomem;
    if (m->dirs == 2 && !(r->tok_rev = run_alloc((size_t)r->max_T * r->max_B, sizeof(int32_t))))
        goto nomem;
    for (int d = 0; d < m->dirs; d++)
        cell_input_prefix_table(m, &m->cells[0][d], rows, V, cols, r->in_table[d]);
    r->in_cols = cols;
    r->in_V = V;
    return RECUR_OK;
nomem:
    recur_run_cache_input_projection(r, 0);
    return recur_seterr(r->errmsg, RECUR_ERR_NOMEM, "cache input prefix: out of memory for %d x %d values", V, G);
}

const char *recur_run_errmsg(const recur_run *r) { return r ? r->errmsg : "no run"; }
const recur_real *recur_run_outputs(const recur_run *r) { return r->m->cfg.rnn.num_layers ? r->layer_out[r->m->cfg.rnn.num_layers - 1] : NULL; }
const recur_real *recur_run_logits(const recur_run *r) { return r->logits; }
const double *recur_run_row_lse(const recur_run *r) { return r->lse; }
const recur_real *recur_run_hn(const recur_run *r) { return r->hn; }
const recur_real *recur_run_cn(const recur_run *r) { return r->cn; }
const recur_real *recur_run_d_inputs(const recur_run *r) { return r->d_inputs; }
const recur_real *recur_run_d_h0(const recur_run *r) { return r->dh0; }
const recur_real *recur_run_d_c0(const recur_run *r) { return r->dc0; }

/* Dropout over a (T, B, W) tensor, drawn by each stream's place in the
 * global batch when the run holds a share of one. */
static void dropout_forward(recur_run *r, recur_real *mask, recur_real *dst, const recur_real *src, size_t W,
                            float p)
{
    uint64_t key = rng_next(r->m->rng);
    size_t B = (size_t)r->B, total = r->share_total > 0 ? (size_t)r->share_total : B;
    size_t first = r->share_total > 0 ? (size_t)r->share_first : 0;
    dropout_draw_share(key, p, mask, dst, src, (size_t)r->T, B * W, total * W, first * W);
}

recur_status recur_run_set_batch_share(recur_run *r, int first, int total)
{
    if (total < 0 || first < 0 || (total == 0 && first != 0) || (total > 0 && first >= total))
        return recur_seterr(r->errmsg, RECUR_ERR_ARG, "batch share: streams from %d of %d", first, total);
    r->share_first = first;
    r->share_total = total;
    return RECUR_OK;
}

static void apply_mask(recur_real *x, const recur_real *mask, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= mask[i];
}

/* dst[s, b] = src[len_b - 1 - s, b] for s < len_b, else 0 (width w, stride w). */
static void reverse_within_lengths(recur_real *dst, const recur_real *src, int T, int B, int w,
                                   const int32_t *len, int src_stride, int src_off)
{
    for (int s = 0; s < T; s++)
        for (int b = 0; b < B; b++) {
            recur_real *o = dst + ((size_t)s * B + b) * w;
            if (s < len[b]) {
                const recur_real *i = src + ((size_t)(len[b] - 1 - s) * B + b) * src_stride + src_off;
                memcpy(o, i, w * sizeof(recur_real));
            } else {
                memset(o, 0, w * sizeof(recur_real));
            }
        }
}

static recur_status check_batch(recur_run *r, const recur_batch *bt)
{
    const recur_model_config *c = &r->m->cfg;
    if (bt->T <= 0 || bt->B <= 0 || bt->T > r->max_T || bt->B > r->max_B)
        return recur_seterr(r->errmsg, RECUR_ERR_ARG, "batch of %d steps x %d sequences outside this run's 1..%d x 1..%d",
                            bt->T, bt->B, r->max_T, r->max_B);
    if (c->vocab_size > 0 && !bt->tokens)
        return recur_seterr(r->errmsg, RECUR_ERR_ARG, "batch: this model reads token ids, but tokens is NULL");
    if (c->vocab_size == 0 && !bt->inputs)
        return recur_seterr(r->errmsg, RECUR_ERR_ARG, "batch: this model reads float inputs, but inputs is NULL");
    for (int b = 0; b < bt->B; b++) {
        int n = bt->lengths ? bt->lengths[b] : bt->T;
        if (n < 0 || n > bt->T)
            return recur_seterr(r->errmsg, RECUR_ERR_ARG, "batch: length %d of sequence %d outside 0..%d", n, b, bt->T);
        r->len[b] = n;
    }
    for (int t = 0; t < bt->T; t++)
        for (int b = 0; b < bt->B; b++) {
            size_t i = (size_t)t * bt->B + b;
            int active = t < r->len[b];
            if (c->vocab_size > 0) {
                int32_t tok = bt->tokens[i];
                if (active && (tok < 0 || tok >= c->vocab_size))
                    return recur_seterr(r->errmsg, RECUR_ERR_ARG, "batch: token %d at step %d, sequence %d outside vocabulary 0..%d",
                                        tok, t, b, c->vocab_size - 1);
                r->tokens[i] = active ? tok : -1;
            }
            int32_t tg = bt->targets ? bt->targets[i] : -1;
            if (active && bt->targets && c->output_size > 0 && (tg < -1 || tg >= c->output_size))
                return recur_seterr(r->errmsg, RECUR_ERR_ARG, "batch: target %d at step %d, sequence %d outside -1..%d",
                                    tg, t, b, c->output_size - 1);
            r->targets[i] = active ? tg : -1;
        }
    return RECUR_OK;
}

static void cell_forward(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    switch (m->cfg.rnn.cell) {
    case RECUR_CELL_LSTM: lstm_forward(m, p, s, T, B, len); break;
    case RECUR_CELL_GRU: gru_forward(m, p, s, T, B, len); break;
    default: rnn_forward(m, p, s, T, B, len); break;
    }
}

static void cell_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    switch (m->cfg.rnn.cell) {
    case RECUR_CELL_LSTM: lstm_backward(m, p, s, T, B, len); break;
    case RECUR_CELL_GRU: gru_backward(m, p, s, T, B, len); break;
    default: rnn_backward(m, p, s, T, B, len); break;
    }
}

typedef struct rows_job {
    recur_run *r;
    int rows, O;
    double scale;
} rows_job;

/* logits (the product dec_in W_dec^T) += bias, then lse[i] = log-sum-exp of
 * row i: one pass while the row is in cache */
static void bias_lse_rows(void *ctx, int tid, int nt)
{
    const rows_job *j = ctx;
    const recur_real *bias = j->r->m->params + j->r->m->dec_b;
    int lo, hi;
    par_split(j->rows, tid, nt, 1, &lo, &hi);
    for (int i = lo; i < hi; i++) {
        recur_real *z = j->r->logits + (size_t)i * j->O;
        vec_add(z, bias, (size_t)j->O);
        j->r->lse[i] = k_row_lse(z, j->O, &j->r->rowmax[i]);
    }
}

/* Softmax cross-entropy over the decoder's logits; fills lse and the loss
 * (summed in row order, so the result does not depend on the threads). */
static void decoder_forward(recur_run *r, int T, int B)
{
    recur_model *m = r->m;
    const int O = m->cfg.output_size, DR = m->out_width;
    const size_t rows = (size_t)T * B;
    rows_job j = {r, (int)rows, O, 0};
    recur_gemm(0, 1, (int)rows, O, DR, 1, r->dec_x, DR, m->params + m->dec_w, DR, 0, r->logits, O);
    par_run_work((double)rows * O, bias_lse_rows, &j);
    double total = 0;
    int64_t count = 0;
    for (size_t i = 0; i < rows; i++)
        if (r->targets[i] >= 0) {
            total += r->lse[i] - (double)r->logits[i * O + r->targets[i]];
            count++;
        }
    r->count = count;
    r->loss = count ? total / (double)count : 0;
}

/* dlogits = (softmax - onehot(target)) * scale on rows with a target, 0 elsewhere */
static void dlogit_rows(void *ctx, int tid, int nt)
{
    const rows_job *j = ctx;
    recur_run *r = j->r;
    const int O = j->O;
    int lo, hi;
    par_split(j->rows, tid, nt, 1, &lo, &hi);
    for (int i = lo; i < hi; i++) {
        recur_real *g = r->dlogits + (size_t)i * O;
        const recur_real *z = r->logits + (size_t)i * O;
        if (r->targets[i] < 0) {
            memset(g, 0, O * sizeof(recur_real));
            continue;
        }
        k_row_softmax_scale(z, O, r->rowmax[i], r->lse[i] - (double)r->rowmax[i], j->scale, g);
        g[r->targets[i]] -= (recur_real)j->scale;
    }
}

/* Layer l of the stack, direction d, forward: its input (reversed within
 * each length for d = 1), initial state, the cell, and its outputs, hn, cn. */
static void dir_forward(recur_run *r, const recur_batch *bt, int l, int d)
{
    recur_model *m = r->m;
    const recur_model_config *c = &m->cfg;
    const int T = r->T, B = r->B, D = m->dirs;
    const int H = c->rnn.hidden_size, R = m->state, DR = m->out_width;
    const int in = l == 0 ? c->rnn.input_size : DR;
    recur_real *out = r->layer_out[l];
    dir_buf *s = &r->dirs[l][d];
    size_t k = (size_t)l * D + d;
    if (d == 0)
        s->x = (recur_real *)r->x_in[l]; /* read only */
    else
        reverse_within_lengths(s->x, r->x_in[l], T, B, in, r->len, in, 0);
    s->in_table = NULL;
    if (l == 0 && r->table_pass) { /* x holds embeddings without dropout */
        s->in_table = r->in_table[d];
        s->in_cols = r->in_cols;
        s->in_tok = r->tokens;
        if (d == 1) {
            for (int t = 0; t < T; t++)
                for (int b = 0; b < B; b++)
                    r->tok_rev[(size_t)t * B + b] = t < r->len[b] ? r->tokens[(size_t)(r->len[b] - 1 - t) * B + b] : -1;
            s->in_tok = r->tok_rev;
        }
    }
    if (bt->h0)
        memcpy(s->hs, bt->h0 + k * B * R, (size_t)B * R * sizeof(recur_real));
    else
        memset(s->hs, 0, (size_t)B * R * sizeof(recur_real));
    if (s->cs) {
        if (bt->c0)
            memcpy(s->cs, bt->c0 + k * B * H, (size_t)B * H * sizeof(recur_real));
        else
            memset(s->cs, 0, (size_t)B * H * sizeof(recur_real));
    }
    /* weights frozen for inference: W_hh packed once, not at every pass */
    const int frozen = !r->training && s->wpack && r->wfrozen[l][d];
    if (frozen) {
        s->wpack = r->wfrozen[l][d];
        s->wpack_ready = 1;
    }
    cell_forward(m, &m->cells[l][d], s, T, B, r->len);
    if (frozen) {
        s->wpack = r->wpack[d];
        s->wpack_ready = 0;
    }
    /* outputs: hs[t+1] in this direction's time, zero past the length */
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            recur_real *o = out + ((size_t)t * B + b) * DR + d * R;
            if (t >= r->len[b]) {
                memset(o, 0, R * sizeof(recur_real));
                continue;
            }
            int st_ = d == 0 ? t : r->len[b] - 1 - t;
            memcpy(o, s->hs + ((size_t)(st_ + 1) * B + b) * R, R * sizeof(recur_real));
        }
    memcpy(r->hn + k * B * R, s->hs + (size_t)T * B * R, (size_t)B * R * sizeof(recur_real));
    if (s->cs)
        memcpy(r->cn + k * B * H, s->cs + (size_t)T * B * H, (size_t)B * H * sizeof(recur_real));
}

/* Layer l, direction d, backward from dout (T, B, D*R): its share of the
 * outputs' gradient, the final-state gradients, the cell, dh0 and dc0. */
static void dir_backward(recur_run *r, int l, int d, const recur_real *dout, const recur_real *d_hn,
                         const recur_real *d_cn)
{
    recur_model *m = r->m;
    const recur_model_config *c = &m->cfg;
    const int T = r->T, B = r->B, D = m->dirs;
    const int H = c->rnn.hidden_size, R = m->state, DR = m->out_width;
    const size_t TB = (size_t)T * B;
    dir_buf *s = &r->dirs[l][d];
    size_t k = (size_t)l * D + d;
    if (d == 0) {
        for (size_t i = 0; i < TB; i++)
            memcpy(s->dy + i * R, dout + i * DR, R * sizeof(recur_real));
    } else {
        reverse_within_lengths(s->dy, dout, T, B, R, r->len, DR, R);
    }
    if (d_hn)
        memcpy(s->dh, d_hn + k * B * R, (size_t)B * R * sizeof(recur_real));
    else
        memset(s->dh, 0, (size_t)B * R * sizeof(recur_real));
    if (s->cs) {
        if (d_cn)
            memcpy(s->dc, d_cn + k * B * H, (size_t)B * H * sizeof(recur_real));
        else
            memset(s->dc, 0, (size_t)B * H * sizeof(recur_real));
    }
    cell_backward(m, &m->cells[l][d], s, T, B, r->len);
    memcpy(r->dh0 + k * B * R, s->dh, (size_t)B * R * sizeof(recur_real));
    if (s->cs)
        memcpy(r->dc0 + k * B * H, s->dc, (size_t)B * H * sizeof(recur_real));
}

typedef struct dir_job {
    recur_run *r;
    const recur_batch *bt;
    int l;
    const recur_real *dout, *d_hn, *d_cn;
} dir_job;

static void dir_forward_part(void *ctx, int tid, int nt)
{
    const dir_job *j = ctx;
    for (int d = tid; d < j->r->m->dirs; d += nt)
        dir_forward(j->r, j->bt, j->l, d);
}

static void dir_backward_part(void *ctx, int tid, int nt)
{
    const dir_job *j = ctx;
    for (int d = tid; d < j->r->m->dirs; d += nt)
        dir_backward(j->r, j->l, d, j->dout, j->d_hn, j->d_cn);
}

/* A bidirectional layer on two threads runs one direction on each, every
 * product single-threaded: no meeting per step.  Otherwise the directions
 * run one after the other, each on all threads. */
static void run_directions(recur_run *r, par_fn fn, dir_job *j)
{
    if (r->m->dirs == 2 && par_num_threads() == 2 && !par_inside())
        par_run(2, fn, j);
    else
        fn(j, 0, 1);
}

static recur_status forward_pass(recur_run *r, const recur_batch *bt, int training, double *loss, int64_t *count)
{
    recur_model *m = r->m;
    const recur_model_config *c = &m->cfg;
    r->ready = 0;
    recur_status st = check_batch(r, bt);
    if (st)
        return st;
    if (r->share_total > 0 && r->share_first + bt->B > r->share_total)
        return recur_seterr(r->errmsg, RECUR_ERR_ARG,
                            "forward: a batch of %d streams from stream %d exceeds the share's %d",
                            bt->B, r->share_first, r->share_total);
    const int T = bt->T, B = bt->B, L = c->rnn.num_layers;
    const int DR = m->out_width, in0 = c->rnn.input_size;
    const size_t TB = (size_t)T * B;
    r->T = T;
    r->B = B;
    r->training = training;
    r->has_targets = bt->targets != NULL && c->output_size > 0;
    r->table_pass = r->in_table[0] && !training;
    if (r->table_pass && c->vocab_size == 0) {
        /* a float model's prefix table: read where the batch says which rows (and not in bfloat16) */
        r->table_pass = bt->tokens != NULL && m->precision != RECUR_PRECISION_BF16;
        for (size_t i = 0; r->table_pass && i < TB; i++) {
            int active = (int)(i / B) < r->len[i % B];
            if (active && (bt->tokens[i] < 0 || bt->tokens[i] >= r->in_V))
                return recur_seterr(r->errmsg, RECUR_ERR_ARG,
                                    "batch: table row %d at step %d, sequence %d outside 0..%d", bt->tokens[i],
                                    (int)(i / B), (int)(i % B), r->in_V - 1);
            r->tokens[i] = active ? bt->tokens[i] : -1;
        }
    }

    /* layer 0's input */
    recur_real *x0 = r->layer_in[0];
    for (size_t i = 0; i < TB; i++) {
        int active = (int)(i / B) < r->len[i % B];
        recur_real *o = x0 + i * in0;
        if (!active)
            memset(o, 0, in0 * sizeof(recur_real));
        else if (c->vocab_size > 0)
            memcpy(o, m->params + m->emb_w + (size_t)r->tokens[i] * in0, in0 * sizeof(recur_real));
        else
            memcpy(o, bt->inputs + i * in0, in0 * sizeof(recur_real));
    }
    for (int l = 0; l < L; l++) {
        int in = l == 0 ? in0 : DR;
        float p = l == 0 ? c->dropout_embed : c->rnn.dropout;
        /* a layer reads the one below in place unless dropout changes it */
        r->x_in[l] = l == 0 ? r->layer_in[0] : r->layer_out[l - 1];
        if (training && r->in_mask[l] && p > 0) {
            dropout_forward(r, r->in_mask[l], r->layer_in[l], l > 0 ? r->layer_out[l - 1] : r->layer_in[0],
                            (size_t)in, p);
            r->x_in[l] = r->layer_in[l];
        }
        recur_real *out = r->layer_out[l];
        dir_job dj = {r, bt, l, NULL, NULL, NULL};
        run_directions(r, dir_forward_part, &dj);
        if (c->rnn.residual && l > 0)
            for (size_t i = 0; i < TB * DR; i++)
                out[i] += r->layer_out[l - 1][i];
    }
    if (c->output_size > 0) {
        r->dec_x = r->layer_out[L - 1];
        if (training && r->dec_mask) {
            dropout_forward(r, r->dec_mask, r->dec_in, r->layer_out[L - 1], (size_t)DR, c->dropout_output);
            r->dec_x = r->dec_in;
        }
        decoder_forward(r, T, B);
    } else {
        r->count = 0;
        r->loss = 0;
    }
    if (loss)
        *loss = r->loss;
    if (count)
        *count = r->count;
    if (r->has_targets && r->count > 0 && !isfinite(r->loss))
        return recur_seterr(r->errmsg, RECUR_ERR_NONFINITE, "forward: the loss is not finite (%g)", r->loss);
    r->ready = 1;
    return RECUR_OK;
}

static recur_status backward_pass(recur_run *r, double loss_scale, const recur_real *d_outputs,
                                  const recur_real *d_hn, const recur_real *d_cn)
{
    recur_model *m = r->m;
    const recur_model_config *c = &m->cfg;
    if (!r->ready)
        return recur_seterr(r->errmsg, RECUR_ERR_STATE, "backward: no forward pass to go back through");
    r->ready = 0;
    const int T = r->T, B = r->B, L = c->rnn.num_layers, D = m->dirs;
    const int DR = m->out_width, in0 = c->rnn.input_size;
    const size_t TB = (size_t)T * B;

    /* gradient at the last layer's outputs */
    recur_real *dout = r->dout;
    memset(dout, 0, TB * DR * sizeof(recur_real));
    if (r->has_targets && r->count > 0 && loss_scale != 0) {
        const int O = c->output_size;
        rows_job j = {r, (int)TB, O, loss_scale / (double)r->count};
        par_run_work((double)TB * O, dlogit_rows, &j);
        cell_bias_backward(m->grads + m->dec_b, NULL, r->dlogits, (int)TB, O);
        recur_gemm(1, 0, O, DR, (int)TB, 1, r->dlogits, O, r->dec_x, DR, 1, m->grads + m->dec_w, DR);
        recur_gemm(0, 0, (int)TB, DR, O, 1, r->dlogits, O, m->params + m->dec_w, DR, 0, dout, DR);
        if (r->dec_mask && r->training)
            apply_mask(dout, r->dec_mask, TB * DR);
    }
    if (d_outputs)
        for (size_t i = 0; i < TB; i++)
            if ((int)(i / B) < r->len[i % B])
                for (int j = 0; j < DR; j++)
                    dout[i * DR + j] += d_outputs[i * DR + j];

    for (int l = L - 1; l >= 0; l--) {
        int in = l == 0 ? in0 : DR;
        recur_real *din = r->din;
        dir_job dj = {r, NULL, l, dout, d_hn, d_cn};
        run_directions(r, dir_backward_part, &dj);
        /* d(layer input) = forward direction's dx + the reverse's, re-ordered */
        memcpy(din, r->dirs[l][0].dx, TB * in * sizeof(recur_real));
        if (D == 2) {
            const recur_real *dx1 = r->dirs[l][1].dx;
            for (int t = 0; t < T; t++)
                for (int b = 0; b < B; b++) {
                    if (t >= r->len[b])
                        continue;
                    recur_real *o = din + ((size_t)t * B + b) * in;
                    const recur_real *i = dx1 + ((size_t)(r->len[b] - 1 - t) * B + b) * in;
                    for (int j = 0; j < in; j++)
                        o[j] += i[j];
                }
        }
        if (r->in_mask[l] && r->training)
            apply_mask(din, r->in_mask[l], TB * in);
        if (l > 0) {
            recur_real *prev = r->dout_prev;
            memcpy(prev, din, TB * DR * sizeof(recur_real));
            if (c->rnn.residual)
                for (size_t i = 0; i < TB * DR; i++)
                    prev[i] += dout[i];
            r->dout_prev = dout;
            r->dout = prev;
            dout = prev;
        }
    }
    if (c->vocab_size > 0) {
        recur_real *de = m->grads + m->emb_w;
        for (size_t i = 0; i < TB; i++) {
            if (r->tokens[i] < 0)
                continue;
            recur_real *row = de + (size_t)r->tokens[i] * in0;
            for (int j = 0; j < in0; j++)
                row[j] += r->din[i * in0 + j];
        }
    } else {
        memcpy(r->d_inputs, r->din, TB * in0 * sizeof(recur_real));
    }
    return RECUR_OK;
}

/* ---- passes in bfloat16 (recur_model_set_precision) ---- */

#ifndef RECUR_DOUBLE
/* Rounds and packs every weight matrix the pass multiplies, in each form its
 * products read (gemm_bf16.h): W_ih^T, each gate's rows of W_hh^T (a
 * thread's unit range starts a panel), W_hr^T, the decoder's W^T; for the
 * backward also W_ih, W_hh, W_hr and the decoder's W themselves. */
static int pack_bf16(recur_run *r, int training)
{
    const recur_model *m = r->m;
    const recur_model_config *c = &m->cfg;
    const int H = c->rnn.hidden_size, R = m->state, G = m->gates * H, DR = m->out_width, O = c->output_size;
    const int proj = c->rnn.proj_size > 0;
    bf16_products *b = &r->bf16;
    const float *P = m->params;
    int ok = 1;
    bf16_products_reset(b);
    for (int l = 0; l < c->rnn.num_layers; l++)
        for (int d = 0; d < m->dirs; d++) {
            const cell_params *p = &m->cells[l][d];
            ok = ok && bf16_products_add(b, 1, p->in, G, P + p->w_ih, p->in);
            for (int q = 0; q < m->gates; q++)
                ok = ok && bf16_products_add(b, 1, R, H, P + p->w_hh + (size_t)q * H * R, R);
            if (proj)
                ok = ok && bf16_products_add(b, 1, H, R, P + p->w_hr, H);
            if (training) {
                ok = ok && bf16_products_add(b, 0, G, p->in, P + p->w_ih, p->in);
                ok = ok && bf16_products_add(b, 0, G, R, P + p->w_hh, R);
                if (proj)
                    ok = ok && bf16_products_add(b, 0, R, H, P + p->w_hr, H);
            }
        }
    if (O > 0) {
        ok = ok && bf16_products_add(b, 1, DR, O, P + m->dec_w, DR);
        if (training)
            ok = ok && bf16_products_add(b, 0, O, DR, P + m->dec_w, DR);
    }
    return ok;
}

/* The float kernel's packed W_hh off (the products go through recur_gemm)
 * or back on. */
static void float_packing(recur_run *r, int on)
{
    for (int l = 0; l < r->m->cfg.rnn.num_layers; l++)
        for (int d = 0; d < 2; d++)
            r->dirs[l][d].wpack = on ? r->wpack[d] : NULL;
}
#endif

recur_status recur_forward(recur_run *r, const recur_batch *bt, int training, double *loss, int64_t *count)
{
    r->bf16_pass = 0;
#ifndef RECUR_DOUBLE
    if (r->m->precision == RECUR_PRECISION_BF16) {
        r->ready = 0;
        if (!pack_bf16(r, training))
            return recur_seterr(r->errmsg, RECUR_ERR_NOMEM, "forward: out of memory for the bfloat16 weights");
        void *was = par_set_context(&r->bf16);
        float_packing(r, 0);
        recur_status st = forward_pass(r, bt, training, loss, count);
        float_packing(r, 1);
        par_set_context(was);
        r->bf16_pass = 1;
        return st;
    }
#endif
    return forward_pass(r, bt, training, loss, count);
}

recur_status recur_backward(recur_run *r, double loss_scale, const recur_real *d_outputs, const recur_real *d_hn,
                            const recur_real *d_cn)
{
#ifndef RECUR_DOUBLE
    if (r->bf16_pass && r->ready) {
        void *was = par_set_context(&r->bf16);
        float_packing(r, 0);
        recur_status st = backward_pass(r, loss_scale, d_outputs, d_hn, d_cn);
        float_packing(r, 1);
        par_set_context(was);
        return st;
    }
#endif
    return backward_pass(r, loss_scale, d_outputs, d_hn, d_cn);
}
