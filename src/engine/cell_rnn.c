/*
 * cell_rnn.c - Elman RNN:  h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),
 * act = tanh or relu.
 *
 * The input projection lands in hs[1..T] itself; each step adds the
 * recurrent product and applies the activation in place.  Threads as in
 * cell_lstm.c, one meeting per step.
 */
#include <string.h>

#include "cell.h"
#include "gemm.h"
#include "simd.h"
#include "threads.h"

typedef struct rnn_job {
    const recur_model *m;
    const cell_params *p;
    dir_buf *s;
    int T, B;
    const int32_t *len;
} rnn_job;

static void rnn_forward_thread(void *ctx, int tid, int nt)
{
    const rnn_job *j = ctx;
    dir_buf *s = j->s;
    const int H = j->m->cfg.rnn.hidden_size, B = j->B;
    const int relu = j->m->cfg.rnn.cell == RECUR_CELL_RNN_RELU;
    const recur_real *w_hh = j->m->params + j->p->w_hh;
    int u0, u1;
    par_split(H, tid, nt, GEMM_PANEL, &u0, &u1);
    for (int t = 0; t < j->T; t++) {
        const recur_real *hprev = s->hs + (size_t)t * B * H;
        recur_real *hcur = s->hs + (size_t)(t + 1) * B * H; /* holds the input projection */
        if (u1 > u0) {
#ifndef RECUR_DOUBLE
            float *ws = s->packed ? par_scratch() : NULL;
            if (ws)
                gemm_f32_avx512_packed(B, u1 - u0, H, hprev, H, s->wpack + (size_t)u0 * H, H, 1, hcur + u0, H, ws);
            else
#endif
                recur_gemm_serial(0, 1, B, u1 - u0, H, 1, hprev, H, w_hh + (size_t)u0 * H, H, 1, hcur + u0, H);
            for (int b = 0; b < B; b++) {
                recur_real *h = hcur + (size_t)b * H;
                if (!step_active(j->len, t, b)) {
                    memcpy(h + u0, hprev + (size_t)b * H + u0, (size_t)(u1 - u0) * sizeof(recur_real));
                    continue;
                }
                if (relu)
                    for (int k = u0; k < u1; k++)
                        h[k] = h[k] > 0 ? h[k] : 0;
                else
                    vec_tanh(h + u0, h + u0, (size_t)(u1 - u0));
            }
        }
        if (t + 1 < j->T)
            par_barrier(nt); /* all of h_t before the next step (par_run joins after the last) */
    }
}

void rnn_forward(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    const int H = m->cfg.rnn.hidden_size;
    cell_input_projection(m, p, s, T, B, s->hs + (size_t)B * H);
#ifndef RECUR_DOUBLE
    s->packed = pack_forward(s, B);
    if (s->packed && !s->wpack_ready)
        cell_pack_gates(m->params + p->w_hh, 1, H, H, s->wpack);
#endif
    rnn_job j = {m, p, s, T, B, len};
    par_run(0, rnn_forward_thread, &j);
}

static void rnn_backward_thread(void *ctx, int tid, int nt)
{
    const rnn_job *j = ctx;
    dir_buf *s = j->s;
    const int H = j->m->cfg.rnn.hidden_size, B = j->B;
    const int relu = j->m->cfg.rnn.cell == RECUR_CELL_RNN_RELU;
    recur_real *dh = s->dh;
    int u0, u1;
    par_split(H, tid, nt, GEMM_PANEL, &u0, &u1);
    for (int t = j->T - 1; t >= 0; t--) {
        const recur_real *hcur = s->hs + (size_t)(t + 1) * B * H;
        const recur_real *dy = s->dy + (size_t)t * B * H;
        recur_real *dg = s->dgx + (size_t)t * B * H;
        for (int b = 0; b < B && u1 > u0; b++) {
            recur_real *g = dg + (size_t)b * H, *dhb = dh + (size_t)b * H;
            if (!step_active(j->len, t, b)) {
                memset(g + u0, 0, (size_t)(u1 - u0) * sizeof(recur_real));
                continue;
            }
            const recur_real *h = hcur + (size_t)b * H, *dyb = dy + (size_t)b * H;
            if (!relu) {
                k_rnn_tanh_bwd(h, dyb, u0, u1, dhb, g);
                continue;
            }
            for (int k = u0; k < u1; k++) {
                g[k] = h[k] > 0 ? dhb[k] + dyb[k] : 0;
                dhb[k] = 0;
            }
        }
        par_barrier(nt); /* all of step t's pre-activation gradient */
        if (u1 <= u0)
            continue;
#ifndef RECUR_DOUBLE
        float *ws = s->packed ? par_scratch() : NULL;
        if (ws)
            gemm_f32_avx512_packed(B, u1 - u0, H, dg, H, s->wpack + (size_t)u0 * H, H, 1, dh + u0, H, ws);
        else
#endif
            recur_gemm_serial(0, 0, B, u1 - u0, H, 1, dg, H, j->m->params + j->p->w_hh + u0, H, 1, dh + u0, H);
    }
}

void rnn_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    const int H = m->cfg.rnn.hidden_size;
    rnn_job j = {m, p, s, T, B, len};
#ifndef RECUR_DOUBLE
    s->packed = s->wpack != NULL;
    if (s->packed)
        cell_pack_b(m->params + p->w_hh, H, H, s->wpack);
#endif
    par_run(0, rnn_backward_thread, &j);
    int rows = T * B;
    cell_bias_backward(m->grads + p->b_hh, m->grads + p->b_ih, s->dgx, rows, H);
    recur_gemm(1, 0, H, H, rows, 1, s->dgx, H, s->hs, H, 1, m->grads + p->w_hh, H);
    cell_input_backward(m, p, s, T, B);
}
