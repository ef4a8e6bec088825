/*
 * cell_lstm.c - LSTM with forget gate (Gers et al. 2000), optional projection
 * (LSTMP, Sak et al. 2014), gate order i, f, g, o as PyTorch:
 *
 *   [i f g o] = [σ σ tanh σ](W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
 *   c_t = f ∘ c_{t-1} + i ∘ g
 *   m_t = o ∘ tanh(c_t)
 *   h_t = m_t            or, with a projection, h_t = W_hr m_t
 */
#include <string.h>

#include "cell.h"

void lstm_forward(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    const int H = m->cfg.rnn.hidden_size, R = m->state, G = 4 * H;
    const int proj = m->cfg.rnn.proj_size > 0;
    const recur_real *w_hh = m->params + p->w_hh;
    cell_input_projection(m, p, s, T, B, G);
    for (int t = 0; t < T; t++) {
        const recur_real *hprev = s->hs + (size_t)t * B * R;
        recur_real *hcur = s->hs + (size_t)(t + 1) * B * R;
        const recur_real *cprev = s->cs + (size_t)t * B * H;
        recur_real *ccur = s->cs + (size_t)(t + 1) * B * H;
        recur_real *act = s->act + (size_t)t * B * G;
        recur_real *tc = s->tc + (size_t)t * B * H;
        recur_real *mo = proj ? s->m + (size_t)t * B * H : hcur;
        memcpy(act, s->gx + (size_t)t * B * G, (size_t)B * G * sizeof(recur_real));
        recur_gemm(0, 1, B, G, R, 1, hprev, R, w_hh, R, 1, act, G);
        for (int b = 0; b < B; b++) {
            recur_real *a = act + (size_t)b * G;
            const recur_real *cp = cprev + (size_t)b * H;
            recur_real *c = ccur + (size_t)b * H, *th = tc + (size_t)b * H, *mm = mo + (size_t)b * (proj ? H : R);
            if (!step_active(len, t, b)) {
                memcpy(c, cp, H * sizeof(recur_real));
                memset(a, 0, G * sizeof(recur_real));
                memset(th, 0, H * sizeof(recur_real));
                if (proj)
                    memset(mm, 0, H * sizeof(recur_real));
                continue;
            }
            for (int j = 0; j < H; j++) {
                recur_real ig = sigm(a[j]), fg = sigm(a[H + j]), gg = R_TANH(a[2 * H + j]), og = sigm(a[3 * H + j]);
                a[j] = ig;
                a[H + j] = fg;
                a[2 * H + j] = gg;
                a[3 * H + j] = og;
                c[j] = fg * cp[j] + ig * gg;
                th[j] = R_TANH(c[j]);
                mm[j] = og * th[j];
            }
        }
        if (proj)
            recur_gemm(0, 1, B, R, H, 1, mo, H, m->params + p->w_hr, H, 0, hcur, R);
        for (int b = 0; b < B; b++)
            if (!step_active(len, t, b))
                memcpy(hcur + (size_t)b * R, hprev + (size_t)b * R, R * sizeof(recur_real));
    }
}

void lstm_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    const int H = m->cfg.rnn.hidden_size, R = m->state, G = 4 * H;
    const int proj = m->cfg.rnn.proj_size > 0;
    const recur_real *w_hh = m->params + p->w_hh;
    recur_real *dh = s->dh, *dc = s->dc;
    for (int t = T - 1; t >= 0; t--) {
        const recur_real *cprev = s->cs + (size_t)t * B * H;
        const recur_real *act = s->act + (size_t)t * B * G;
        const recur_real *tc = s->tc + (size_t)t * B * H;
        const recur_real *dy = s->dy + (size_t)t * B * R;
        recur_real *dg = s->dgx + (size_t)t * B * G;
        /* dh_t = dh from step t+1 + the output's gradient (active steps only) */
        for (int b = 0; b < B; b++)
            if (step_active(len, t, b))
                for (int j = 0; j < R; j++)
                    dh[(size_t)b * R + j] += dy[(size_t)b * R + j];
        const recur_real *dm = dh;
        if (proj) {
            recur_real *dht = s->dhs + (size_t)t * B * R;
            for (int b = 0; b < B; b++)
                for (int j = 0; j < R; j++)
                    dht[(size_t)b * R + j] = step_active(len, t, b) ? dh[(size_t)b * R + j] : 0;
            recur_gemm(0, 0, B, H, R, 1, dht, R, m->params + p->w_hr, H, 0, s->tmp, H);
            dm = s->tmp;
        }
        for (int b = 0; b < B; b++) {
            recur_real *g = dg + (size_t)b * G;
            if (!step_active(len, t, b)) {
                memset(g, 0, G * sizeof(recur_real));
                continue; /* dc passes through unchanged */
            }
            const recur_real *a = act + (size_t)b * G, *th = tc + (size_t)b * H, *cp = cprev + (size_t)b * H;
            const recur_real *dmb = dm + (size_t)b * (proj ? H : R);
            recur_real *dcb = dc + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                recur_real ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
                recur_real dcj = dcb[j] + dmb[j] * og * (1 - th[j] * th[j]);
                g[j] = dcj * gg * ig * (1 - ig);
                g[H + j] = dcj * cp[j] * fg * (1 - fg);
                g[2 * H + j] = dcj * ig * (1 - gg * gg);
                g[3 * H + j] = dmb[j] * th[j] * og * (1 - og);
                dcb[j] = dcj * fg;
            }
        }
        /* dh_{t-1} = dgates W_hh, plus the pass-through of inactive rows */
        for (int b = 0; b < B; b++)
            if (step_active(len, t, b))
                memset(dh + (size_t)b * R, 0, R * sizeof(recur_real));
        recur_gemm(0, 0, B, R, G, 1, dg, G, w_hh, R, 1, dh, R);
    }
    int rows = T * B;
    recur_real *db_hh = m->grads + p->b_hh;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < G; j++)
            db_hh[j] += s->dgx[(size_t)r * G + j];
    recur_gemm(1, 0, G, R, rows, 1, s->dgx, G, s->hs, R, 1, m->grads + p->w_hh, R);
    if (proj)
        recur_gemm(1, 0, R, H, rows, 1, s->dhs, R, s->m, H, 1, m->grads + p->w_hr, H);
    cell_input_backward(m, p, s, T, B);
}
