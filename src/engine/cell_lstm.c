/*
 * cell_lstm.c - LSTM with forget gate (Gers et al. 2000), optional projection
 * (LSTMP, Sak et al. 2014), gate order i, f, g, o as PyTorch:
 *
 *   [i f g o] = [σ σ tanh σ](W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
 *   c_t = f ∘ c_{t-1} + i ∘ g
 *   m_t = o ∘ tanh(c_t)
 *   h_t = m_t            or, with a projection, h_t = W_hr m_t
 *
 * The time loop runs on recur's threads (threads.h), each owning a range of
 * hidden units: it computes the four gates of its units (its rows of W_hh,
 * packed once per pass when the AVX-512 kernel runs), their element-wise
 * update in one fused kernel, and its part of h_t; the threads meet once per
 * step (twice with a projection).  Backward mirrors it: each thread turns
 * its units' dh, dc into gate gradients, they meet, and each computes its
 * columns of dh_{t-1} = dgates W_hh.
 */
#include <string.h>

#include "cell.h"
#include "gemm.h"
#include "simd.h"
#include "threads.h"

typedef struct lstm_job {
    const recur_model *m;
    const cell_params *p;
    dir_buf *s;
    int T, B;
    const int32_t *len;
    int joint; /* one thread: W_hh packed as one G x R matrix, one product a step */
} lstm_job;

/* act[0..rows)[:, q*H + u0 .. u1) += hprev W_hh[q*H + u0 .. u1, :]^T for the
 * four gates (rows: the batch's rows up to its last active one) */
static void gates_product(const lstm_job *j, const recur_real *hprev, recur_real *act, int rows, int u0, int u1)
{
    const int H = j->m->cfg.rnn.hidden_size, R = j->m->state, G = 4 * H;
    const recur_real *w_hh = j->m->params + j->p->w_hh;
#ifndef RECUR_DOUBLE
    float *ws = j->s->packed ? par_scratch() : NULL;
    if (ws && j->joint) {
        gemm_f32_avx512_packed(rows, G, R, hprev, R, j->s->wpack, R, 1, act, G, ws);
        return;
    }
#endif
    for (int q = 0; q < 4; q++) {
#ifndef RECUR_DOUBLE
        if (ws) {
            size_t gate = gemm_packed_size(H, R);
            gemm_f32_avx512_packed(rows, u1 - u0, R, hprev, R, j->s->wpack + q * gate + (size_t)u0 * R, R, 1,
                                   act + q * H + u0, G, ws);
            continue;
        }
#endif
        recur_gemm_serial(0, 1, rows, u1 - u0, R, 1, hprev, R, w_hh + ((size_t)q * H + u0) * R, R, 1,
                          act + q * H + u0, G);
    }
}

static void lstm_forward_thread(void *ctx, int tid, int nt)
{
    const lstm_job *j = ctx;
    const recur_model *m = j->m;
    dir_buf *s = j->s;
    const int H = m->cfg.rnn.hidden_size, R = m->state, G = 4 * H, B = j->B;
    const int proj = m->cfg.rnn.proj_size > 0;
    int u0, u1, r0, r1;
    par_split(H, tid, nt, GEMM_PANEL, &u0, &u1);
    par_split(R, tid, nt, 16, &r0, &r1);
    if (!proj) {
        r0 = u0;
        r1 = u1;
    }
    int rows = B; /* 1 + the last row active at step t: fewer as t grows */
    for (int t = 0; t < j->T; t++) {
        while (rows > 0 && !step_active(j->len, t, rows - 1))
            rows--;
        const recur_real *hprev = s->hs + (size_t)t * B * R;
        recur_real *hcur = s->hs + (size_t)(t + 1) * B * R;
        const recur_real *cprev = s->cs + (size_t)t * B * H;
        recur_real *ccur = s->cs + (size_t)(t + 1) * B * H;
        recur_real *act = s->act + (size_t)t * B * G; /* holds the input projection, becomes the gates */
        recur_real *tc = s->tc + (size_t)t * B * H;
        recur_real *mo = proj ? s->m + (size_t)t * B * H : hcur;
        const int mw = proj ? H : R;
        if (u1 > u0) {
            if (rows > 0) /* an inactive row's gates are zeroed below */
                gates_product(j, hprev, act, rows, u0, u1);
            for (int b = 0; b < B; b++) {
                recur_real *a = act + (size_t)b * G;
                recur_real *c = ccur + (size_t)b * H, *th = tc + (size_t)b * H, *mm = mo + (size_t)b * mw;
                const recur_real *cp = cprev + (size_t)b * H;
                if (step_active(j->len, t, b)) {
                    k_lstm_fwd(a, H, u0, u1, cp, c, th, mm);
                    continue;
                }
                size_t n = (size_t)(u1 - u0) * sizeof(recur_real);
                memcpy(c + u0, cp + u0, n);
                for (int q = 0; q < 4; q++)
                    memset(a + q * H + u0, 0, n);
                memset(th + u0, 0, n);
                if (proj)
                    memset(mm + u0, 0, n);
            }
        }
        if (proj) {
            par_barrier(nt); /* all of m_t before h_t = W_hr m_t */
            if (r1 > r0)
                recur_gemm_serial(0, 1, B, r1 - r0, H, 1, mo, H, m->params + j->p->w_hr + (size_t)r0 * H, H, 0,
                                  hcur + r0, R);
        }
        for (int b = 0; b < B; b++)
            if (!step_active(j->len, t, b) && r1 > r0)
                memcpy(hcur + (size_t)b * R + r0, hprev + (size_t)b * R + r0, (size_t)(r1 - r0) * sizeof(recur_real));
        if (t + 1 < j->T)
            par_barrier(nt); /* all of h_t before the next step's product (par_run joins after the last) */
    }
}

void lstm_forward(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    cell_input_projection(m, p, s, T, B, s->act);
#ifndef RECUR_DOUBLE
    const int H = m->cfg.rnn.hidden_size;
    int joint = par_inside() || par_num_threads() == 1;
    s->packed = pack_forward(s, B);
    if (s->wpack_ready) /* frozen as the four gates' own packings (run_freeze_recurrent) */
        joint = 0;
    else if (s->packed && joint) /* one thread: all gates in one product (fewer padded panels) */
        cell_pack_gates(m->params + p->w_hh, 1, 4 * H, m->state, s->wpack);
    else if (s->packed) /* the four gates' rows of W_hh, each packed on its own so a unit range starts a panel */
        cell_pack_gates(m->params + p->w_hh, 4, H, m->state, s->wpack);
#else
    const int joint = 0;
#endif
    lstm_job j = {m, p, s, T, B, len, joint};
    par_run(joint ? 1 : 0, lstm_forward_thread, &j);
}

static void lstm_backward_thread(void *ctx, int tid, int nt)
{
    const lstm_job *j = ctx;
    const recur_model *m = j->m;
    dir_buf *s = j->s;
    const int H = m->cfg.rnn.hidden_size, R = m->state, G = 4 * H, B = j->B;
    const int proj = m->cfg.rnn.proj_size > 0;
    const recur_real *w_hh = m->params + j->p->w_hh;
    recur_real *dh = s->dh, *dc = s->dc;
    int u0, u1, r0, r1;
    par_split(H, tid, nt, GEMM_PANEL, &u0, &u1);
    par_split(R, tid, nt, 16, &r0, &r1);
    if (!proj) {
        r0 = u0;
        r1 = u1;
    }
    const size_t rn = (size_t)(r1 - r0) * sizeof(recur_real);
    for (int t = j->T - 1; t >= 0; t--) {
        const recur_real *cprev = s->cs + (size_t)t * B * H;
        const recur_real *act = s->act + (size_t)t * B * G;
        const recur_real *tc = s->tc + (size_t)t * B * H;
        const recur_real *dy = s->dy + (size_t)t * B * R;
        recur_real *dg = s->dgx + (size_t)t * B * G;
        /* dh_t = dh from step t+1 + the output's gradient (active steps only) */
        for (int b = 0; b < B; b++)
            if (step_active(j->len, t, b))
                for (int k = r0; k < r1; k++)
                    dh[(size_t)b * R + k] += dy[(size_t)b * R + k];
        const recur_real *dm = dh;
        if (proj) {
            recur_real *dht = s->dhs + (size_t)t * B * R;
            for (int b = 0; b < B; b++) {
                if (step_active(j->len, t, b))
                    memcpy(dht + (size_t)b * R + r0, dh + (size_t)b * R + r0, rn);
                else if (rn)
                    memset(dht + (size_t)b * R + r0, 0, rn);
            }
            par_barrier(nt); /* all of dh_t before dm = dh_t W_hr */
            if (u1 > u0)
                recur_gemm_serial(0, 0, B, u1 - u0, R, 1, dht, R, m->params + j->p->w_hr + u0, H, 0, s->tmp + u0, H);
            dm = s->tmp;
        }
        const int dmw = proj ? H : R;
        for (int b = 0; b < B && u1 > u0; b++) {
            recur_real *g = dg + (size_t)b * G;
            if (!step_active(j->len, t, b)) { /* dc passes through unchanged */
                for (int q = 0; q < 4; q++)
                    memset(g + q * H + u0, 0, (size_t)(u1 - u0) * sizeof(recur_real));
                continue;
            }
            k_lstm_bwd(act + (size_t)b * G, H, u0, u1, tc + (size_t)b * H, cprev + (size_t)b * H,
                       dm + (size_t)b * dmw, dc + (size_t)b * H, g);
        }
        par_barrier(nt); /* all gate gradients of step t */
        /* dh_{t-1} = dgates W_hh on this thread's columns, plus the
         * pass-through of inactive rows */
        if (r1 > r0) {
            for (int b = 0; b < B; b++)
                if (step_active(j->len, t, b))
                    memset(dh + (size_t)b * R + r0, 0, rn);
#ifndef RECUR_DOUBLE
            float *ws = s->packed ? par_scratch() : NULL;
            if (ws)
                gemm_f32_avx512_packed(B, r1 - r0, G, dg, G, s->wpack + (size_t)r0 * G, G, 1, dh + r0, R, ws);
            else
#endif
                recur_gemm_serial(0, 0, B, r1 - r0, G, 1, dg, G, w_hh + r0, R, 1, dh + r0, R);
        }
    }
}

void lstm_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B, const int32_t *len)
{
    const int H = m->cfg.rnn.hidden_size, R = m->state, G = 4 * H;
    const int proj = m->cfg.rnn.proj_size > 0;
    lstm_job j = {m, p, s, T, B, len, 0};
#ifndef RECUR_DOUBLE
    s->packed = s->wpack != NULL;
    if (s->packed) /* W_hh (G x R) for dh = dgates W_hh, R split among the threads */
        cell_pack_b(m->params + p->w_hh, G, R, s->wpack);
#endif
    par_run(0, lstm_backward_thread, &j);
    int rows = T * B;
    /* b_ih and b_hh see the same pre-activation gradient */
    cell_bias_backward(m->grads + p->b_ih, m->grads + p->b_hh, s->dgx, rows, G);
    recur_gemm(1, 0, G, R, rows, 1, s->dgx, G, s->hs, R, 1, m->grads + p->w_hh, R);
    if (proj)
        recur_gemm(1, 0, R, H, rows, 1, s->dhs, R, s->m, H, 1, m->grads + p->w_hr, H);
    cell_input_backward(m, p, s, T, B);
}
