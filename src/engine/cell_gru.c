/*
 * cell_gru.c - GRU (Cho et al. 2014) in both forms, gate order r, z, n and
 * PyTorch's z convention (z = 1 - u, u the update gate of the paper):
 *
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr)
 *   z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   reset after  (PyTorch, cuDNN):  n = tanh(W_in x + b_in + r ∘ (W_hn h + b_hn))
 *   reset before (Cho et al.):      n = tanh(W_in x + b_in + W_hn (r ∘ h) + b_hn)
 *   h' = (1 - z) ∘ n + z ∘ h
 *
 * Threads as in cell_lstm.c: each owns a range of units and their gates; the
 * reset-after form meets once per step, reset-before twice (W_hn (r ∘ h)
 * needs all of r ∘ h).  act holds the input projection until the step turns
 * it into the gates, in place.
 */
#include <string.h>

#include "cell.h"
#include "gemm.h"
#include "simd.h"
#include "threads.h"

typedef struct gru_job {
    const recur_model *m;
    const cell_params *p;
    dir_buf *s;
    int T, B;
    const int32_t *len;
} gru_job;

/* out[:, q*H + u0 .. u1) (+)= A W_hh[q*H + u0 .. u1, :]^T for gates q0..q1-1 */
static void gate_products(const gru_job *j, const recur_real *A, int q0, int q1, int u0, int u1, int accumulate,
                          recur_real *out, int ldo, int out_q0)
{
    const int H = j->m->cfg.rnn.hidden_size;
    const recur_real *w_hh = j->m->params + j->p->w_hh;
#ifndef RECUR_DOUBLE
    float *ws = j->s->packed ? par_scratch() : NULL;
#endif
    for (int q = q0; q < q1; q++) {
        recur_real *c = out + (q - out_q0) * H + u0;
#ifndef RECUR_DOUBLE
        if (ws) {
            gemm_f32_avx512_packed(j->B, u1 - u0, H, A, H, j->s->wpack + q * gemm_packed_size(H, H) + (size_t)u0 * H,
                                   H, accumulate, c, ldo, ws);
            continue;
        }
#endif
        recur_gemm_serial(0, 1, j->B, u1 - u0, H, 1, A, H, w_hh + ((size_t)q * H + u0) * H, H, accumulate, c, ldo);
    }
}

static void gru_forward_thread(void *ctx, int tid, int nt)
{
    const gru_job *j = ctx;
    dir_buf *s = j->s;
    const int H = j->m->cfg.rnn.hidden_size, G = 3 * H, B = j->B;
    const int after = j->m->cfg.rnn.gru_form == RECUR_GRU_RESET_AFTER;
    const recur_real *b_hh = j->m->params + j->p->b_hh;
    int u0, u1;
    par_split(H, tid, nt, GEMM_PANEL, &u0, &u1);
    const size_t un = (size_t)(u1 - u0) * sizeof(recur_real);
    recur_real *gh = s->tmp; /* (B, 3H) recurrent products; each thread uses its units' columns */
    for (int t = 0; t < j->T; t++) {
        const recur_real *hprev = s->hs + (size_t)t * B * H;
        recur_real *hcur = s->hs + (size_t)(t + 1) * B * H;
        recur_real *act = s->act + (size_t)t * B * G; /* the input projection, becomes r, z, n */
        recur_real *aux = s->aux + (size_t)t * B * H;
        if (after && u1 > u0) {
            for (int b = 0; b < B; b++)
                for (int q = 0; q < 3; q++)
                    memcpy(gh + (size_t)b * G + q * H + u0, b_hh + q * H + u0, un);
            gate_products(j, hprev, 0, 3, u0, u1, 1, gh, G, 0);
            for (int b = 0; b < B; b++) {
                recur_real *a = act + (size_t)b * G, *ax = aux + (size_t)b * H, *hc = hcur + (size_t)b * H;
                const recur_real *hp = hprev + (size_t)b * H;
                if (step_active(j->len, t, b)) {
                    k_gru_fwd(a, gh + (size_t)b * G, hp, H, u0, u1, a, ax, hc);
                    continue;
                }
                for (int q = 0; q < 3; q++)
                    memset(a + q * H + u0, 0, un);
                memset(ax + u0, 0, un);
                memcpy(hc + u0, hp + u0, un);
            }
        } else if (!after) {
            if (u1 > u0) {
                gate_products(j, hprev, 0, 2, u0, u1, 0, gh, G, 0);
                for (int b = 0; b < B; b++) {
                    recur_real *a = act + (size_t)b * G, *g = gh + (size_t)b * G, *ax = aux + (size_t)b * H;
                    const recur_real *hp = hprev + (size_t)b * H;
                    if (!step_active(j->len, t, b)) {
                        for (int q = 0; q < 3; q++)
                            memset(a + q * H + u0, 0, un);
                        memset(ax + u0, 0, un);
                        continue;
                    }
                    for (int k = u0; k < u1; k++) {
                        a[k] = sigm(a[k] + g[k]);
                        a[H + k] = sigm(a[H + k] + g[H + k]);
                        ax[k] = a[k] * hp[k];
                    }
                }
            }
            par_barrier(nt); /* n's recurrent product needs all of r ∘ h: W_hn (r ∘ h) */
            if (u1 > u0) {
                gate_products(j, aux, 2, 3, u0, u1, 0, gh, H, 2); /* gh as (B, H) */
                for (int b = 0; b < B; b++) {
                    recur_real *a = act + (size_t)b * G, *hc = hcur + (size_t)b * H;
                    const recur_real *hp = hprev + (size_t)b * H;
                    if (!step_active(j->len, t, b)) {
                        memcpy(hc + u0, hp + u0, un);
                        continue;
                    }
                    for (int k = u0; k < u1; k++) {
                        recur_real n = R_TANH(a[2 * H + k] + gh[(size_t)b * H + k]), z = a[H + k];
                        a[2 * H + k] = n;
                        hc[k] = (1 - z) * n + z * hp[k];
                    }
                }
            }
        }
        if (t + 1 < j->T)
            par_barrier(nt); /* all of h_t before the next step (par_run joins after the last) */
    }
}

void gru_forward(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    /* reset after: b_hh enters through the per-step product gh (b_hn must stay
     * inside r ∘ (...)); reset before: all of b_hh folds into the projection
     * (cell_fold_rows) */
    cell_input_projection(m, p, s, T, B, s->act);
#ifndef RECUR_DOUBLE
    const int H = m->cfg.rnn.hidden_size;
    s->packed = pack_forward(s, B);
    if (s->packed && !s->wpack_ready)
        cell_pack_gates(m->params + p->w_hh, 3, H, H, s->wpack);
#endif
    gru_job j = {m, p, s, T, B, len};
    par_run(0, gru_forward_thread, &j);
}

/* dh[:, u0..u1) += D (B x K, ld G) W_hh[k0 .. k0+K, u0..u1): the packed
 * W_hh (3H x H, by gemm_pack_b) or W_hh itself */
static void dh_product(const gru_job *j, const recur_real *D, int k0, int K, int u0, int u1, int accumulate,
                       recur_real *out)
{
    const int H = j->m->cfg.rnn.hidden_size, G = 3 * H;
#ifndef RECUR_DOUBLE
    float *ws = j->s->packed ? par_scratch() : NULL;
    if (ws) {
        gemm_f32_avx512_packed(j->B, u1 - u0, K, D, G, j->s->wpack + (size_t)u0 * G + (size_t)k0 * GEMM_PANEL, G,
                               accumulate, out + u0, H, ws);
        return;
    }
#endif
    recur_gemm_serial(0, 0, j->B, u1 - u0, K, 1, D, G, j->m->params + j->p->w_hh + (size_t)k0 * H + u0, H,
                      accumulate, out + u0, H);
}

static void gru_backward_thread(void *ctx, int tid, int nt)
{
    const gru_job *j = ctx;
    dir_buf *s = j->s;
    const int H = j->m->cfg.rnn.hidden_size, G = 3 * H, B = j->B;
    const int after = j->m->cfg.rnn.gru_form == RECUR_GRU_RESET_AFTER;
    recur_real *dh = s->dh;
    recur_real *drh = s->tmp; /* (B, H) gradient of r ∘ h (reset before) */
    int u0, u1;
    par_split(H, tid, nt, GEMM_PANEL, &u0, &u1);
    const size_t un = (size_t)(u1 - u0) * sizeof(recur_real);
    for (int t = j->T - 1; t >= 0; t--) {
        const recur_real *hprev = s->hs + (size_t)t * B * H;
        const recur_real *act = s->act + (size_t)t * B * G;
        const recur_real *aux = s->aux + (size_t)t * B * H;
        const recur_real *dy = s->dy + (size_t)t * B * H;
        recur_real *dgx = s->dgx + (size_t)t * B * G;
        recur_real *dgh = after ? s->dgh + (size_t)t * B * G : dgx;
        for (int b = 0; b < B && u1 > u0; b++) {
            recur_real *dx = dgx + (size_t)b * G, *dhh = dgh + (size_t)b * G, *dhb = dh + (size_t)b * H;
            if (!step_active(j->len, t, b)) {
                for (int q = 0; q < 3; q++) {
                    memset(dx + q * H + u0, 0, un);
                    if (after)
                        memset(dhh + q * H + u0, 0, un);
                }
                continue;
            }
            const recur_real *a = act + (size_t)b * G, *hp = hprev + (size_t)b * H, *ax = aux + (size_t)b * H;
            if (after) {
                k_gru_bwd(a, hp, ax, dy + (size_t)b * H, H, u0, u1, dhb, dx, dhh);
                continue;
            }
            for (int k = u0; k < u1; k++) {
                recur_real d = dhb[k] + dy[(size_t)b * H + k];
                recur_real z = a[H + k], n = a[2 * H + k];
                dx[H + k] = d * (hp[k] - n) * z * (1 - z);
                dx[2 * H + k] = d * (1 - z) * (1 - n * n);
                dhb[k] = d * z; /* the direct path h' = ... + z ∘ h */
            }
        }
        par_barrier(nt); /* all gradients of the pre-activations of step t */
        if (after) {
            if (u1 > u0)
                dh_product(j, dgh, 0, G, u0, u1, 1, dh);
            continue;
        }
        /* d(r ∘ h) = dpre_n W_hn, then r's gradient and h's share of it */
        if (u1 > u0) {
            dh_product(j, dgx + 2 * H, 2 * H, H, u0, u1, 0, drh);
            for (int b = 0; b < B; b++) {
                if (!step_active(j->len, t, b))
                    continue;
                const recur_real *a = act + (size_t)b * G, *hp = hprev + (size_t)b * H;
                recur_real *dx = dgx + (size_t)b * G;
                for (int k = u0; k < u1; k++) {
                    recur_real r = a[k], d = drh[(size_t)b * H + k];
                    dx[k] = d * hp[k] * r * (1 - r);
                    dh[(size_t)b * H + k] += d * r;
                }
            }
        }
        par_barrier(nt); /* all of r's gradient */
        if (u1 > u0)
            dh_product(j, dgx, 0, 2 * H, u0, u1, 1, dh);
    }
}

void gru_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    const int H = m->cfg.rnn.hidden_size, G = 3 * H;
    const int after = m->cfg.rnn.gru_form == RECUR_GRU_RESET_AFTER;
    gru_job j = {m, p, s, T, B, len};
#ifndef RECUR_DOUBLE
    s->packed = s->wpack != NULL;
    if (s->packed)
        cell_pack_b(m->params + p->w_hh, G, H, s->wpack);
#endif
    par_run(0, gru_backward_thread, &j);
    int rows = T * B;
    recur_real *dw_hh = m->grads + p->w_hh;
    if (after) {
        cell_bias_backward(m->grads + p->b_hh, NULL, s->dgh, rows, G);
        cell_bias_backward(m->grads + p->b_ih, NULL, s->dgx, rows, G);
        recur_gemm(1, 0, G, H, rows, 1, s->dgh, G, s->hs, H, 1, dw_hh, H);
    } else {
        cell_bias_backward(m->grads + p->b_hh, m->grads + p->b_ih, s->dgx, rows, G);
        recur_gemm(1, 0, 2 * H, H, rows, 1, s->dgx, G, s->hs, H, 1, dw_hh, H);
        recur_gemm(1, 0, H, H, rows, 1, s->dgx + 2 * H, G, s->aux, H, 1, dw_hh + (size_t)2 * H * H, H);
    }
    cell_input_backward(m, p, s, T, B);
}
