/*
 * cell_rnn.c - Elman RNN:  h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),
 * act = tanh or relu.
 */
#include <string.h>

#include "cell.h"

void rnn_forward(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    const int H = m->cfg.rnn.hidden_size;
    const int relu = m->cfg.rnn.cell == RECUR_CELL_RNN_RELU;
    cell_input_projection(m, p, s, T, B, H);
    for (int t = 0; t < T; t++) {
        const recur_real *hprev = s->hs + (size_t)t * B * H;
        recur_real *hcur = s->hs + (size_t)(t + 1) * B * H;
        memcpy(hcur, s->gx + (size_t)t * B * H, (size_t)B * H * sizeof(recur_real));
        recur_gemm(0, 1, B, H, H, 1, hprev, H, m->params + p->w_hh, H, 1, hcur, H);
        for (int b = 0; b < B; b++) {
            recur_real *h = hcur + (size_t)b * H;
            if (!step_active(len, t, b)) {
                memcpy(h, hprev + (size_t)b * H, H * sizeof(recur_real));
                continue;
            }
            for (int j = 0; j < H; j++)
                h[j] = relu ? (h[j] > 0 ? h[j] : 0) : R_TANH(h[j]);
        }
    }
}

void rnn_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    const int H = m->cfg.rnn.hidden_size;
    const int relu = m->cfg.rnn.cell == RECUR_CELL_RNN_RELU;
    recur_real *dh = s->dh;
    for (int t = T - 1; t >= 0; t--) {
        const recur_real *hcur = s->hs + (size_t)(t + 1) * B * H;
        const recur_real *dy = s->dy + (size_t)t * B * H;
        recur_real *dg = s->dgx + (size_t)t * B * H;
        for (int b = 0; b < B; b++) {
            recur_real *g = dg + (size_t)b * H, *dhb = dh + (size_t)b * H;
            if (!step_active(len, t, b)) {
                memset(g, 0, H * sizeof(recur_real));
                continue;
            }
            const recur_real *h = hcur + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                recur_real d = dhb[j] + dy[(size_t)b * H + j];
                g[j] = relu ? (h[j] > 0 ? d : 0) : d * (1 - h[j] * h[j]);
                dhb[j] = 0;
            }
        }
        recur_gemm(0, 0, B, H, H, 1, dg, H, m->params + p->w_hh, H, 1, dh, H);
    }
    int rows = T * B;
    recur_real *db_hh = m->grads + p->b_hh;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < H; j++)
            db_hh[j] += s->dgx[(size_t)r * H + j];
    recur_gemm(1, 0, H, H, rows, 1, s->dgx, H, s->hs, H, 1, m->grads + p->w_hh, H);
    cell_input_backward(m, p, s, T, B);
}
