/* cell_common.c - the parts every cell shares: the input projection of all
 * steps as one product, its backward, the bias gradients, and packing the
 * recurrent weights for the per-step products.  Each runs on recur's threads. */
#include <string.h>

#include "cell.h"
#include "gemm.h"
#include "simd.h"
#include "threads.h"

typedef struct fill_job {
    recur_real *out;
    const recur_real *bias;  /* (G) */
    const recur_real *table; /* (V, G) products per token, or NULL */
    const int32_t *tok;      /* (rows) with table: token of each row, -1: none */
    int G;
    int rows;
} fill_job;

/* Table rows a few rows ahead are fetched while this one is added: they
 * lie anywhere in a table that may be larger than the caches. */
enum { TABLE_AHEAD = 4 };

static void fill_rows(const fill_job *j, int lo, int hi)
{
    for (int r = lo; r < hi; r++) {
        recur_real *o = j->out + (size_t)r * j->G;
        if (j->table && r + TABLE_AHEAD < hi && j->tok[r + TABLE_AHEAD] >= 0) {
            const char *next = (const char *)(j->table + (size_t)j->tok[r + TABLE_AHEAD] * j->G);
            for (size_t b = 0; b < (size_t)j->G * sizeof(recur_real); b += 64)
                __builtin_prefetch(next + b);
        }
        memcpy(o, j->bias, (size_t)j->G * sizeof(recur_real));
        /* bias + product, the same sum the product into the bias makes */
        if (j->table && j->tok[r] >= 0)
            vec_add(o, j->table + (size_t)j->tok[r] * j->G, (size_t)j->G);
    }
}

static void fill_part(void *ctx, int tid, int nt)
{
    const fill_job *j = ctx;
    int lo, hi;
    par_split(j->rows, tid, nt, 1, &lo, &hi);
    fill_rows(j, lo, hi);
}

/* A table covering the first columns of x: each block of rows gets its
 * table rows and then the product of the other columns while it is in
 * cache (a row's result does not depend on the block). */
enum { PREFIX_BLOCK = 128 };

typedef struct prefix_job {
    fill_job f;
    const recur_real *x, *w; /* x (rows, in), W_ih (G, in): the columns from cols on are multiplied */
    int in, cols;
} prefix_job;

static void prefix_part(void *ctx, int tid, int nt)
{
    const prefix_job *j = ctx;
    const int G = j->f.G;
    int lo, hi;
    par_split(j->f.rows, tid, nt, 1, &lo, &hi);
    for (int r0 = lo; r0 < hi; r0 += PREFIX_BLOCK) {
        int r1 = hi - r0 < PREFIX_BLOCK ? hi : r0 + PREFIX_BLOCK;
        fill_rows(&j->f, r0, r1);
        if (j->cols < j->in)
            recur_gemm_serial(0, 1, r1 - r0, G, j->in - j->cols, 1, j->x + (size_t)r0 * j->in + j->cols, j->in,
                              j->w + j->cols, j->in, 1, j->f.out + (size_t)r0 * G, G);
    }
}

int cell_fold_rows(const recur_model *m)
{
    const int G = m->gates * m->cfg.rnn.hidden_size;
    return m->cfg.rnn.cell == RECUR_CELL_GRU && m->cfg.rnn.gru_form == RECUR_GRU_RESET_AFTER ? 0 : G;
}

void cell_input_bias(const recur_model *m, const cell_params *p, recur_real *bias)
{
    const int G = m->gates * m->cfg.rnn.hidden_size, fold = cell_fold_rows(m);
    const recur_real *b_ih = m->params + p->b_ih, *b_hh = m->params + p->b_hh;
    for (int j = 0; j < G; j++)
        bias[j] = b_ih[j] + (j < fold ? b_hh[j] : 0);
}

void cell_input_table(const recur_model *m, const cell_params *p, recur_real *table)
{
    const int V = m->cfg.vocab_size, E = p->in, G = m->gates * m->cfg.rnn.hidden_size;
    /* one token at a time: the same one-row product a batch of one makes */
    for (int v = 0; v < V; v++)
        recur_gemm_serial(0, 1, 1, G, E, 1, m->params + m->emb_w + (size_t)v * E, E, m->params + p->w_ih, E, 0,
                          table + (size_t)v * G, G);
}

void cell_input_prefix_table(const recur_model *m, const cell_params *p, const recur_real *rows, int V, int cols,
                             recur_real *table)
{
    const int G = m->gates * m->cfg.rnn.hidden_size;
    recur_gemm(0, 1, V, G, cols, 1, rows, cols, m->params + p->w_ih, p->in, 0, table, G);
}

void cell_input_projection(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, recur_real *out)
{
    int G = m->gates * m->cfg.rnn.hidden_size;
    recur_real *bias = s->tmp; /* (B, G) scratch, G used here */
    cell_input_bias(m, p, bias);
    fill_job f = {out, bias, s->in_table, s->in_tok, G, T * B};
    if (s->in_table) {
        prefix_job j = {f, s->x, m->params + p->w_ih, p->in, s->in_cols};
        par_run_work((double)T * B * G * (1 + p->in - s->in_cols), prefix_part, &j);
        return;
    }
    par_run_work((double)T * B * G, fill_part, &f);
    recur_gemm(0, 1, T * B, G, p->in, 1, s->x, p->in, m->params + p->w_ih, p->in, 1, out, G);
}

void cell_input_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B)
{
    int G = m->gates * m->cfg.rnn.hidden_size;
    int rows = T * B;
    recur_gemm(1, 0, G, p->in, rows, 1, s->dgx, G, s->x, p->in, 1, m->grads + p->w_ih, p->in);
    recur_gemm(0, 0, rows, p->in, G, 1, s->dgx, G, m->params + p->w_ih, p->in, 0, s->dx, p->in);
}

typedef struct colsum_job {
    recur_real *db1, *db2;
    const recur_real *X;
    int rows, cols;
} colsum_job;

static void colsum_part(void *ctx, int tid, int nt)
{
    const colsum_job *j = ctx;
    int lo, hi;
    par_split(j->cols, tid, nt, 16, &lo, &hi);
    if (hi <= lo)
        return;
    /* row by row, the order of the scalar loop, into each target */
    recur_real *targets[2] = {j->db1, j->db2};
    for (int k = 0; k < 2; k++)
        if (targets[k])
            for (int r = 0; r < j->rows; r++)
                vec_add(targets[k] + lo, j->X + (size_t)r * j->cols + lo, (size_t)(hi - lo));
}

void cell_bias_backward(recur_real *db1, recur_real *db2, const recur_real *X, int rows, int cols)
{
    colsum_job j = {db1, db2, X, rows, cols};
    par_run_work((double)rows * cols, colsum_part, &j);
}

typedef struct pack_job {
    const recur_real *W;
    int gates, H, R;
    recur_real *out;
} pack_job;

static void pack_part(void *ctx, int tid, int nt)
{
#ifndef RECUR_DOUBLE
    const pack_job *j = ctx;
    int panels = (j->H + GEMM_PANEL - 1) / GEMM_PANEL, lo, hi;
    size_t gate = gemm_packed_size(j->H, j->R);
    par_split(j->gates * panels, tid, nt, 1, &lo, &hi);
    for (int i = lo; i < hi; i++) {
        int q = i / panels, p0 = (i % panels) * GEMM_PANEL;
        int rows = j->H - p0 < GEMM_PANEL ? j->H - p0 : GEMM_PANEL;
        gemm_pack_bt(j->W + ((size_t)q * j->H + p0) * j->R, j->R, rows, j->R,
                     j->out + q * gate + (size_t)p0 * j->R);
    }
#else
    (void)ctx;
    (void)tid;
    (void)nt;
#endif
}

void cell_pack_gates(const recur_real *W, int gates, int H, int R, recur_real *out)
{
    pack_job j = {W, gates, H, R, out};
    par_run_work((double)gates * H * R, pack_part, &j);
}

static void pack_b_part(void *ctx, int tid, int nt)
{
#ifndef RECUR_DOUBLE
    const pack_job *j = ctx; /* W is K x N: gates = K, H = N */
    int lo, hi;
    par_split(j->H, tid, nt, GEMM_PANEL, &lo, &hi);
    if (hi > lo)
        gemm_pack_b(j->W + lo, j->H, j->gates, hi - lo, j->out + (size_t)lo * j->gates);
#else
    (void)ctx;
    (void)tid;
    (void)nt;
#endif
}

void cell_pack_b(const recur_real *W, int K, int N, recur_real *out)
{
    pack_job j = {W, K, N, 0, out};
    par_run_work((double)K * N, pack_b_part, &j);
}
