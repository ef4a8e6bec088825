/*
 * stepper.c - a unidirectional model fed one token at a time (batch 1), for
 * sampling and generation: recur_forward's results at T = B = 1, with the
 * work of a token laid out for a CPU whose caches are smaller than the
 * weights.
 *
 * A step of batch one reads every weight once and does two flops with it,
 * so its speed is the speed at which the weights stream in.  Three things
 * serve that:
 *   - one pass over the thread pool per token, and each thread owns the same
 *     hidden units, hence the same weight rows, at every token (its core's
 *     cache keeps what it read);
 *   - layer 0's recurrent product for the next token, W_hh h_t, is made as
 *     soon as h_t is known, so that it, the recurrent products of the layers
 *     above and layer 1's input product stream in one group;
 *   - that group is read in ascending order at one token and descending at
 *     the next, so each pass starts on the rows the last one left in the
 *     core's L2 cache (a plain cyclic pass over more than the cache holds
 *     finds none of it there).
 * Every output is the same dot product the run makes, added in the same
 * order, so the results are those of recur_forward (identical where the
 * products run on recur's kernels).
 */
#include <math.h>
#include <string.h>

#include "cell.h"
#include "gemm.h"
#include "gemm_bf16.h"
#include "gemv_quant.h"
#include "simd.h"
#include "threads.h"

/* A weight matrix in fewer bits (recur_stepper_set_weights). */
typedef struct quant_matrix {
    const recur_real *W; /* the float matrix (rows k wide) in the model */
    int rows, k;
    int8_t *q;           /* int8: (rows, k) and a scale per row */
    float *scale;
    uint16_t *bf;        /* bf16: (rows, k) */
} quant_matrix;

struct recur_stepper {
    const recur_model *m;
    recur_precision weights; /* of the products' weights (layer 0's table stays float) */
    quant_matrix *qm;
    int n_qm;
    char errmsg[RECUR_ERRMSG_LEN];
    int L, H, R, G, E, V, O;
    int cell, gru_after, proj, residual;
    int rec_gates;       /* gates whose recurrent product can be made ahead (GRU reset-before: r, z) */
    recur_real *table;   /* (V, G) e_v W_ih^T of layer 0, or NULL: multiply */
    recur_real *bias;    /* (L, G) the input side's bias, folded as the cells fold it */
    recur_real *h[2];    /* (L, R) states: h[cur] now, the other one being written */
    recur_real *c[2];    /* (L, H) LSTM cell states, likewise */
    recur_real *out;     /* (L, R) layer outputs with the residual added */
    recur_real *inp;     /* (L, G) input products */
    recur_real *rec;     /* (L, G) recurrent products */
    recur_real *act;     /* (L, G) gates */
    recur_real *th, *mm; /* (L, H) LSTM: tanh(c) and o tanh(c) */
    recur_real *aux;     /* (L, H) GRU: W_hn h + b_hn, or r h */
    recur_real *gh;      /* (L, G) GRU: the recurrent side of the gates */
    recur_real *logits;  /* (O) */
    int cur;             /* which of h[], c[] holds the state */
    int ahead;           /* rec of layer 0 holds W_hh h for the coming token */
    int reverse;         /* order of the streamed products at the coming token */
    int32_t token;
};

/* y (n) = W (n x k, rows in place) x, rows ascending or descending; from
 * the stepper's int8 or bf16 copy of W when it has one */
static void matvec(const recur_stepper *s, const recur_real *W, int n, int k, const recur_real *x, recur_real *y,
                   int reverse)
{
    (void)s;
#ifndef RECUR_DOUBLE
    for (int i = 0; i < s->n_qm; i++) {
        const quant_matrix *qm = &s->qm[i];
        if (W < qm->W || W >= qm->W + (size_t)qm->rows * qm->k)
            continue;
        size_t r0 = (size_t)(W - qm->W) / (size_t)k;
        if (qm->q)
            gemv_int8(n, k, qm->q + r0 * k, qm->scale + r0, x, y, reverse);
        else
            gemv_bf16(n, k, qm->bf + r0 * k, x, y, reverse);
        return;
    }
    if (recur_gemm_packed_kernel()) {
        gemv1_f32_avx512(n, k, x, W, k, y, reverse);
        return;
    }
#endif
    const int chunk = 64, chunks = (n + chunk - 1) / chunk;
    for (int i = 0; i < chunks; i++) {
        int lo = (reverse ? chunks - 1 - i : i) * chunk, rows = n - lo < chunk ? n - lo : chunk;
        recur_gemm_serial(0, 1, 1, rows, k, 1, x, k, W + (size_t)lo * k, k, 0, y + lo, rows);
    }
}

/* y[q*H + u0 .. u1) = W[q*H + u0 .. u1, :] x for gates q < gates (k wide rows) */
static void gate_rows(const recur_stepper *s, const recur_real *W, int gates, int H, int k, int u0, int u1,
                      const recur_real *x, recur_real *y, int reverse)
{
    for (int i = 0; i < gates; i++) {
        int q = reverse ? gates - 1 - i : i;
        matvec(s, W + ((size_t)q * H + u0) * k, u1 - u0, k, x, y + q * H + u0, reverse);
    }
}

static const cell_params *cell_of(const recur_stepper *s, int l) { return &s->m->cells[l][0]; }
static recur_real *layer_out(const recur_stepper *s, int l, int st)
{
    return s->residual && l > 0 ? s->out + (size_t)l * s->R : s->h[st] + (size_t)l * s->R;
}

static void input_rows(const recur_stepper *s, int l, const recur_real *x, int u0, int u1, int reverse)
{
    const cell_params *p = cell_of(s, l);
    gate_rows(s, s->m->params + p->w_ih, s->m->gates, s->H, p->in, u0, u1, x, s->inp + (size_t)l * s->G, reverse);
}

static void recurrent_rows(const recur_stepper *s, int l, int st, int u0, int u1, int reverse)
{
    gate_rows(s, s->m->params + cell_of(s, l)->w_hh, s->rec_gates, s->H, s->R, u0, u1, s->h[st] + (size_t)l * s->R,
              s->rec + (size_t)l * s->G, reverse);
}

/* a[q*H + u0 .. u1) = (bias + input product) for gates q < gates, the
 * bias-then-product sum of cell_input_projection */
static void input_side(const recur_stepper *s, int l, int u0, int u1, recur_real *a)
{
    const recur_real *b = s->bias + (size_t)l * s->G;
    const recur_real *x = l == 0 && s->table ? s->table + (size_t)s->token * s->G : s->inp + (size_t)l * s->G;
    for (int q = 0; q < s->m->gates; q++)
        for (int k = q * s->H + u0; k < q * s->H + u1; k++)
            a[k] = b[k] + x[k];
}

/* Layer l's update of units [u0, u1) (rows [r0, r1) of a projection) from
 * state prev into state next; meets the other threads where the cell needs
 * all units of an intermediate (nt: the threads of the run). */
static void cell_step(const recur_stepper *s, int l, int u0, int u1, int r0, int r1, int prev, int next, int nt)
{
    const recur_model *m = s->m;
    const int H = s->H, R = s->R, G = s->G;
    const cell_params *p = cell_of(s, l);
    recur_real *a = s->act + (size_t)l * G, *g = s->rec + (size_t)l * G;
    const recur_real *hp = s->h[prev] + (size_t)l * R;
    recur_real *hn = s->h[next] + (size_t)l * R;
    input_side(s, l, u0, u1, a);
    if (s->cell == RECUR_CELL_LSTM) {
        for (int q = 0; q < 4; q++)
            for (int k = q * H + u0; k < q * H + u1; k++)
                a[k] += g[k];
        recur_real *mm = s->proj ? s->mm + (size_t)l * H : hn;
        if (u1 > u0)
            k_lstm_fwd(a, H, u0, u1, s->c[prev] + (size_t)l * H, s->c[next] + (size_t)l * H, s->th + (size_t)l * H,
                       mm);
        if (s->proj) {
            par_barrier(nt); /* all of m before h = W_hr m */
            matvec(s, m->params + p->w_hr + (size_t)r0 * H, r1 - r0, H, mm, hn + r0, 0);
        }
    } else if (s->cell == RECUR_CELL_GRU && s->gru_after) {
        const recur_real *b_hh = m->params + p->b_hh;
        recur_real *gh = s->gh + (size_t)l * G;
        for (int q = 0; q < 3; q++)
            for (int k = q * H + u0; k < q * H + u1; k++)
                gh[k] = b_hh[k] + g[k];
        if (u1 > u0)
            k_gru_fwd(a, gh, hp, H, u0, u1, a, s->aux + (size_t)l * H, hn);
    } else if (s->cell == RECUR_CELL_GRU) { /* reset before: W_hn (r h) needs all of r h */
        recur_real *ax = s->aux + (size_t)l * H, *gn = s->gh + (size_t)l * G;
        for (int k = u0; k < u1; k++) {
            a[k] = sigm(a[k] + g[k]);
            a[H + k] = sigm(a[H + k] + g[H + k]);
            ax[k] = a[k] * hp[k];
        }
        par_barrier(nt);
        matvec(s, m->params + p->w_hh + ((size_t)2 * H + u0) * H, u1 - u0, H, ax, gn + u0, 0);
        for (int k = u0; k < u1; k++) {
            recur_real n = R_TANH(a[2 * H + k] + gn[k]), z = a[H + k];
            a[2 * H + k] = n;
            hn[k] = (1 - z) * n + z * hp[k];
        }
    } else {
        for (int k = u0; k < u1; k++)
            hn[k] = a[k] + g[k];
        if (s->cell == RECUR_CELL_RNN_RELU)
            for (int k = u0; k < u1; k++)
                hn[k] = hn[k] > 0 ? hn[k] : 0;
        else if (u1 > u0)
            vec_tanh(hn + u0, hn + u0, (size_t)(u1 - u0));
    }
    if (s->residual && l > 0) {
        const recur_real *below = layer_out(s, l - 1, next);
        recur_real *o = s->out + (size_t)l * R;
        for (int k = r0; k < r1; k++)
            o[k] = hn[k] + below[k];
    }
}

static void step_thread(void *ctx, int tid, int nt)
{
    const recur_stepper *s = ctx;
    const recur_model *m = s->m;
    const int L = s->L, rev = s->reverse, prev = s->cur, next = 1 - prev;
    int u0, u1, r0, r1;
    par_split(s->H, tid, nt, GEMM_PANEL, &u0, &u1);
    par_split(s->R, tid, nt, 16, &r0, &r1);
    if (!s->proj) {
        r0 = u0;
        r1 = u1;
    }
    if (!s->table)
        input_rows(s, 0, m->params + m->emb_w + (size_t)s->token * s->E, u0, u1, rev);
    if (!s->ahead)
        recurrent_rows(s, 0, prev, u0, u1, rev);
    cell_step(s, 0, u0, u1, r0, r1, prev, next, nt);
    par_barrier(nt); /* all of h_0 */
    /* the group: layer 0's product for the next token, the recurrent
     * products of the layers above, layer 1's input product */
    for (int i = 0; i <= L; i++) {
        int k = rev ? L - i : i; /* 0: layer 0 ahead, 1: layer 1's input, 2..L: layer k-1's recurrent */
        if (k == 0)
            recurrent_rows(s, 0, next, u0, u1, rev);
        else if (k == 1 && L > 1)
            input_rows(s, 1, layer_out(s, 0, next), u0, u1, rev);
        else if (k >= 2)
            recurrent_rows(s, k - 1, prev, u0, u1, rev);
    }
    for (int l = 1; l < L; l++) {
        if (l > 1)
            input_rows(s, l, layer_out(s, l - 1, next), u0, u1, rev);
        cell_step(s, l, u0, u1, r0, r1, prev, next, nt);
        par_barrier(nt); /* all of layer l's output */
    }
    if (s->O > 0) {
        int o0, o1;
        par_split(s->O, tid, nt, 16, &o0, &o1);
        const recur_real *b = m->params + m->dec_b;
        matvec(s, m->params + m->dec_w + (size_t)o0 * s->R, o1 - o0, s->R, layer_out(s, L - 1, next), s->logits + o0,
               rev);
        for (int o = o0; o < o1; o++)
            s->logits[o] = b[o] + s->logits[o];
    }
}

recur_status recur_stepper_feed(recur_stepper *s, int32_t token)
{
    if (token < 0 || token >= s->V)
        return recur_seterr(s->errmsg, RECUR_ERR_ARG, "stepper: token %d is outside the vocabulary (0..%d)", (int)token,
                            s->V - 1);
    s->token = token;
    par_run(0, step_thread, s);
    s->cur = 1 - s->cur;
    s->ahead = 1;
    s->reverse = !s->reverse;
    return RECUR_OK;
}

recur_status recur_stepper_reset(recur_stepper *s, const recur_real *h0, const recur_real *c0)
{
    size_t nh = (size_t)s->L * s->R, nc = (size_t)s->L * s->H;
    /* a non-finite state would make every later output NaN: refuse it here,
     * where the cause is known, and keep the state as it was */
    for (size_t i = 0; h0 && i < nh; i++)
        if (!isfinite((double)h0[i]))
            return recur_seterr(s->errmsg, RECUR_ERR_NONFINITE, "stepper reset: h0[%zu] is not finite", i);
    for (size_t i = 0; c0 && s->c[0] && i < nc; i++)
        if (!isfinite((double)c0[i]))
            return recur_seterr(s->errmsg, RECUR_ERR_NONFINITE, "stepper reset: c0[%zu] is not finite", i);
    if (h0)
        memcpy(s->h[s->cur], h0, nh * sizeof(recur_real));
    else
        memset(s->h[s->cur], 0, nh * sizeof(recur_real));
    if (s->c[0]) {
        if (c0)
            memcpy(s->c[s->cur], c0, nc * sizeof(recur_real));
        else
            memset(s->c[s->cur], 0, nc * sizeof(recur_real));
    }
    s->ahead = 0;
    return RECUR_OK;
}

const recur_real *recur_stepper_logits(const recur_stepper *s) { return s->O > 0 ? s->logits : NULL; }
const recur_real *recur_stepper_outputs(const recur_stepper *s) { return layer_out(s, s->L - 1, s->cur); }
const recur_real *recur_stepper_h(const recur_stepper *s) { return s->h[s->cur]; }
const recur_real *recur_stepper_c(const recur_stepper *s) { return s->c[0] ? s->c[s->cur] : NULL; }
const char *recur_stepper_errmsg(const recur_stepper *s) { return s ? s->errmsg : "no stepper"; }

static void free_quant(recur_stepper *s)
{
    for (int i = 0; i < s->n_qm; i++) {
        recur_free(s->qm[i].q);
        recur_free(s->qm[i].scale);
        recur_free(s->qm[i].bf);
    }
    recur_free(s->qm);
    s->qm = NULL;
    s->n_qm = 0;
    s->weights = RECUR_PRECISION_FP32;
}

#ifndef RECUR_DOUBLE
/* Adds the quantised copy of W (rows x k); 0 when out of memory. */
static int add_quant(recur_stepper *s, recur_precision p, const recur_real *W, int rows, int k)
{
    quant_matrix *qm = &s->qm[s->n_qm++];
    qm->W = W;
    qm->rows = rows;
    qm->k = k;
    size_t n = (size_t)rows * k;
    if (p == RECUR_PRECISION_INT8) {
        if (!(qm->q = recur_alloc(n, 1)) || !(qm->scale = recur_alloc((size_t)rows, sizeof(float))))
            return 0;
        quant_int8_rows(W, rows, k, qm->q, qm->scale);
    } else {
        if (!(qm->bf = recur_alloc(n, sizeof(uint16_t))))
            return 0;
        bf16_round(W, qm->bf, n);
    }
    return 1;
}
#endif

recur_status recur_stepper_set_weights(recur_stepper *s, recur_precision p)
{
    free_quant(s);
    if (p == RECUR_PRECISION_FP32)
        return RECUR_OK;
    if (p != RECUR_PRECISION_BF16 && p != RECUR_PRECISION_INT8)
        return recur_seterr(s->errmsg, RECUR_ERR_ARG, "stepper: weights fp32, bf16 or int8");
#ifdef RECUR_DOUBLE
    return recur_seterr(s->errmsg, RECUR_ERR_ARG, "stepper: %s weights need the float build",
                        recur_precision_name(p));
#else
    const recur_model *m = s->m;
    if (!(s->qm = recur_alloc((size_t)3 * s->L + 1, sizeof *s->qm)))
        return recur_seterr(s->errmsg, RECUR_ERR_NOMEM, "stepper: out of memory");
    int ok = 1;
    for (int l = 0; l < s->L && ok; l++) {
        const cell_params *c = cell_of(s, l);
        ok = (l == 0 && s->table) || add_quant(s, p, m->params + c->w_ih, s->G, c->in); /* a table: not read */
        ok = ok && add_quant(s, p, m->params + c->w_hh, s->G, s->R);
        ok = ok && (!s->proj || add_quant(s, p, m->params + c->w_hr, s->R, s->H));
    }
    ok = ok && (!s->O || add_quant(s, p, m->params + m->dec_w, s->O, s->R));
    if (!ok) {
        free_quant(s);
        return recur_seterr(s->errmsg, RECUR_ERR_NOMEM, "stepper: out of memory for the %s weights",
                            recur_precision_name(p));
    }
    s->weights = p;
    return RECUR_OK;
#endif
}

recur_precision recur_stepper_weights(const recur_stepper *s) { return s->weights; }

void recur_stepper_free(recur_stepper *s)
{
    if (!s)
        return;
    free_quant(s);
    recur_real *bufs[] = {s->table, s->bias, s->h[0], s->h[1], s->c[0], s->c[1], s->out, s->inp,
                          s->rec,   s->act,  s->th,   s->mm,   s->aux,  s->gh,   s->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        recur_free(bufs[i]);
    recur_free(s);
}

recur_status recur_stepper_create(recur_stepper **out, const recur_model *m, recur_error *err)
{
    *out = NULL;
    const recur_model_config *c = &m->cfg;
    if (c->vocab_size <= 0 || c->rnn.num_layers <= 0)
        return recur_error_set(err, RECUR_ERR_ARG, "stepper: the model needs an embedding and a recurrent layer");
    if (m->dirs != 1)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "stepper: a bidirectional model cannot run one token at a time (its backward "
                               "direction needs the whole sequence)");
    recur_stepper *s = recur_alloc(1, sizeof *s);
    if (!s)
        return recur_error_set(err, RECUR_ERR_NOMEM, "stepper: out of memory");
    s->m = m;
    s->L = c->rnn.num_layers;
    s->H = c->rnn.hidden_size;
    s->R = m->state;
    s->G = m->gates * s->H;
    s->E = c->rnn.input_size;
    s->V = c->vocab_size;
    s->O = c->output_size > 0 ? c->output_size : 0;
    s->cell = c->rnn.cell;
    s->gru_after = c->rnn.gru_form == RECUR_GRU_RESET_AFTER;
    s->proj = c->rnn.proj_size > 0;
    s->residual = c->rnn.residual;
    s->rec_gates = s->cell == RECUR_CELL_GRU && !s->gru_after ? 2 : m->gates;
    const size_t L = (size_t)s->L, G = (size_t)s->G, H = (size_t)s->H, R = (size_t)s->R;
    int lstm = s->cell == RECUR_CELL_LSTM, gru = s->cell == RECUR_CELL_GRU;
    int ok = (s->bias = recur_alloc(L * G, sizeof(recur_real))) && (s->h[0] = recur_alloc(L * R, sizeof(recur_real))) &&
             (s->h[1] = recur_alloc(L * R, sizeof(recur_real))) && (s->out = recur_alloc(L * R, sizeof(recur_real))) &&
             (s->inp = recur_alloc(L * G, sizeof(recur_real))) && (s->rec = recur_alloc(L * G, sizeof(recur_real))) &&
             (s->act = recur_alloc(L * G, sizeof(recur_real))) &&
             (!s->O || (s->logits = recur_alloc((size_t)s->O, sizeof(recur_real)))) &&
             (!lstm || ((s->c[0] = recur_alloc(L * H, sizeof(recur_real))) &&
                        (s->c[1] = recur_alloc(L * H, sizeof(recur_real))) &&
                        (s->th = recur_alloc(L * H, sizeof(recur_real))) &&
                        (s->mm = recur_alloc(L * H, sizeof(recur_real))))) &&
             (!gru || ((s->aux = recur_alloc(L * H, sizeof(recur_real))) &&
                       (s->gh = recur_alloc(L * G, sizeof(recur_real)))));
    /* a table no bigger than W_ih itself (character models): a token then
     * reads one row of it instead of all of W_ih */
    if (ok && s->V <= s->E && (ok = (s->table = recur_alloc((size_t)s->V * G, sizeof(recur_real))) != NULL))
        cell_input_table(m, &m->cells[0][0], s->table);
    if (!ok) {
        recur_stepper_free(s);
        return recur_error_set(err, RECUR_ERR_NOMEM, "stepper: out of memory");
    }
    for (int l = 0; l < s->L; l++)
        cell_input_bias(m, &m->cells[l][0], s->bias + (size_t)l * G);
    *out = s;
    return RECUR_OK;
}
