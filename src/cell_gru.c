/*
 * cell_gru.c - GRU (Cho et al. 2014) in both forms, gate order r, z, n and
 * PyTorch's z convention (z = 1 - u, u the update gate of the paper):
 *
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr)
 *   z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   reset after  (PyTorch, cuDNN):  n = tanh(W_in x + b_in + r ∘ (W_hn h + b_hn))
 *   reset before (Cho et al.):      n = tanh(W_in x + b_in + W_hn (r ∘ h) + b_hn)
 *   h' = (1 - z) ∘ n + z ∘ h
 */
#include <string.h>

#include "cell.h"

void gru_forward(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    const int H = m->cfg.rnn.hidden_size, G = 3 * H;
    const int after = m->cfg.rnn.gru_form == RECUR_GRU_RESET_AFTER;
    const recur_real *w_hh = m->params + p->w_hh, *b_hh = m->params + p->b_hh;
    /* reset after: b_hh enters through the per-step product gh (b_hn must stay
     * inside r ∘ (...)); reset before: all of b_hh folds into gx */
    cell_input_projection(m, p, s, T, B, after ? 0 : G);
    for (int t = 0; t < T; t++) {
        const recur_real *hprev = s->hs + (size_t)t * B * H;
        recur_real *hcur = s->hs + (size_t)(t + 1) * B * H;
        recur_real *act = s->act + (size_t)t * B * G;
        recur_real *aux = s->aux + (size_t)t * B * H;
        const recur_real *gx = s->gx + (size_t)t * B * G;
        recur_real *gh = s->tmp; /* (B, 3H) recurrent products */
        if (after) {
            for (int b = 0; b < B; b++)
                memcpy(gh + (size_t)b * G, b_hh, G * sizeof(recur_real));
            recur_gemm(0, 1, B, G, H, 1, hprev, H, w_hh, H, 1, gh, G);
        } else {
            recur_gemm(0, 1, B, 2 * H, H, 1, hprev, H, w_hh, H, 0, gh, G);
        }
        for (int b = 0; b < B; b++) {
            recur_real *a = act + (size_t)b * G, *g = gh + (size_t)b * G, *ax = aux + (size_t)b * H;
            const recur_real *x = gx + (size_t)b * G, *hp = hprev + (size_t)b * H;
            if (!step_active(len, t, b)) {
                memset(a, 0, G * sizeof(recur_real));
                memset(ax, 0, H * sizeof(recur_real));
                continue;
            }
            for (int j = 0; j < H; j++) {
                a[j] = sigm(x[j] + g[j]);
                a[H + j] = sigm(x[H + j] + g[H + j]);
                if (after)
                    ax[j] = g[2 * H + j];
                else
                    ax[j] = a[j] * hp[j];
            }
        }
        if (!after) /* n's recurrent product needs r first: W_hn (r ∘ h) */
            recur_gemm(0, 1, B, H, H, 1, aux, H, w_hh + (size_t)2 * H * H, H, 0, gh, H);
        for (int b = 0; b < B; b++) {
            recur_real *a = act + (size_t)b * G, *hc = hcur + (size_t)b * H;
            const recur_real *x = gx + (size_t)b * G, *hp = hprev + (size_t)b * H, *ax = aux + (size_t)b * H;
            if (!step_active(len, t, b)) {
                memcpy(hc, hp, H * sizeof(recur_real));
                continue;
            }
            for (int j = 0; j < H; j++) {
                recur_real pre = after ? x[2 * H + j] + a[j] * ax[j] : x[2 * H + j] + gh[(size_t)b * H + j];
                recur_real n = R_TANH(pre), z = a[H + j];
                a[2 * H + j] = n;
                hc[j] = (1 - z) * n + z * hp[j];
            }
        }
    }
}

void gru_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    const int H = m->cfg.rnn.hidden_size, G = 3 * H;
    const int after = m->cfg.rnn.gru_form == RECUR_GRU_RESET_AFTER;
    const recur_real *w_hh = m->params + p->w_hh;
    recur_real *dh = s->dh;
    recur_real *drh = s->tmp; /* (B, H) gradient of r ∘ h (reset before) */
    for (int t = T - 1; t >= 0; t--) {
        const recur_real *hprev = s->hs + (size_t)t * B * H;
        const recur_real *act = s->act + (size_t)t * B * G;
        const recur_real *aux = s->aux + (size_t)t * B * H;
        const recur_real *dy = s->dy + (size_t)t * B * H;
        recur_real *dgx = s->dgx + (size_t)t * B * G;
        recur_real *dgh = after ? s->dgh + (size_t)t * B * G : dgx;
        for (int b = 0; b < B; b++) {
            recur_real *dx = dgx + (size_t)b * G, *dhh = dgh + (size_t)b * G, *dhb = dh + (size_t)b * H;
            if (!step_active(len, t, b)) {
                memset(dx, 0, G * sizeof(recur_real));
                if (after)
                    memset(dhh, 0, G * sizeof(recur_real));
                continue;
            }
            const recur_real *a = act + (size_t)b * G, *hp = hprev + (size_t)b * H, *ax = aux + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                recur_real d = dhb[j] + dy[(size_t)b * H + j];
                recur_real r = a[j], z = a[H + j], n = a[2 * H + j];
                recur_real dpre_n = d * (1 - z) * (1 - n * n);
                recur_real dpre_z = d * (hp[j] - n) * z * (1 - z);
                dx[H + j] = dpre_z;
                dx[2 * H + j] = dpre_n;
                dhb[j] = d * z; /* the direct path h' = ... + z ∘ h */
                if (after) {
                    recur_real dpre_r = dpre_n * ax[j] * r * (1 - r);
                    dx[j] = dpre_r;
                    dhh[j] = dpre_r;
                    dhh[H + j] = dpre_z;
                    dhh[2 * H + j] = dpre_n * r;
                }
            }
        }
        if (after) {
            recur_gemm(0, 0, B, H, G, 1, dgh, G, w_hh, H, 1, dh, H);
        } else {
            /* d(r ∘ h) = dpre_n W_hn, then r's gradient and h's share of it */
            recur_gemm(0, 0, B, H, H, 1, dgx + 2 * H, G, w_hh + (size_t)2 * H * H, H, 0, drh, H);
            for (int b = 0; b < B; b++) {
                if (!step_active(len, t, b))
                    continue;
                const recur_real *a = act + (size_t)b * G, *hp = hprev + (size_t)b * H;
                recur_real *dx = dgx + (size_t)b * G;
                for (int j = 0; j < H; j++) {
                    recur_real r = a[j], d = drh[(size_t)b * H + j];
                    dx[j] = d * hp[j] * r * (1 - r);
                    dh[(size_t)b * H + j] += d * r;
                }
            }
            recur_gemm(0, 0, B, H, 2 * H, 1, dgx, G, w_hh, H, 1, dh, H);
        }
    }
    int rows = T * B;
    recur_real *db_hh = m->grads + p->b_hh, *dw_hh = m->grads + p->w_hh;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < G; j++)
            db_hh[j] += (after ? s->dgh : s->dgx)[(size_t)r * G + j];
    if (after) {
        recur_gemm(1, 0, G, H, rows, 1, s->dgh, G, s->hs, H, 1, dw_hh, H);
    } else {
        recur_gemm(1, 0, 2 * H, H, rows, 1, s->dgx, G, s->hs, H, 1, dw_hh, H);
        recur_gemm(1, 0, H, H, rows, 1, s->dgx + 2 * H, G, s->aux, H, 1, dw_hh + (size_t)2 * H * H, H);
    }
    cell_input_backward(m, p, s, T, B);
}
