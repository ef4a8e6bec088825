/*
 * s2s_attend.c - the layers between the two stacks and after the decoder:
 * the bridge (encoder final states -> decoder initial states), attention
 * (Luong et al. 2015's dot and general scores, Bahdanau et al. 2015's
 * additive one), the attentional vector tanh(W_c [ctx; h]) and the output
 * layer, each forward and backward.  Gradients are added into the tensor
 * parts' gradients.  Equations in docs/seq2seq.md.
 */
#include <string.h>

#include "engine/model_internal.h"
#include "engine/simd.h"
#include "engine/threads.h"
#include "tasks/seq2seq/s2s_internal.h"

/* dot and axpy on 16-byte vectors (GCC and Clang lower them to the
 * target's), not one running sum that would stay scalar */
typedef recur_real vpart __attribute__((vector_size(16)));
#define VLANES ((int)(sizeof(vpart) / sizeof(recur_real)))

static inline vpart vload(const recur_real *p)
{
    vpart v;
    memcpy(&v, p, sizeof v);
    return v;
}

static recur_real dot(const recur_real *a, const recur_real *b, int n)
{
    vpart a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int i = 0;
    for (; i + 4 * VLANES <= n; i += 4 * VLANES) {
        a0 += vload(a + i) * vload(b + i);
        a1 += vload(a + i + VLANES) * vload(b + i + VLANES);
        a2 += vload(a + i + 2 * VLANES) * vload(b + i + 2 * VLANES);
        a3 += vload(a + i + 3 * VLANES) * vload(b + i + 3 * VLANES);
    }
    vpart t = (a0 + a1) + (a2 + a3);
    recur_real s = 0;
    for (int j = 0; j < VLANES; j++)
        s += t[j];
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy(recur_real a, const recur_real *x, recur_real *y, int n)
{
    int i = 0;
    for (; i + VLANES <= n; i += VLANES) {
        vpart v = vload(y + i) + a * vload(x + i);
        memcpy(y + i, &v, sizeof v);
    }
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* ---- attention ---- */

void s2s_keys_compute(const recur_s2s *s, const s2s_packed *pk, s2s_keys *k)
{
    const int SN = k->S * k->N;
    if (s->att == S2S_ATT_GENERAL)
        s2s_product(pk, S2S_PK_KEYS, SN, s->Hd, s->Ws, k->E, s->Ws, s->att_w.w, s->Ws, 0, k->K, s->Hd);
    else if (s->att == S2S_ATT_ADDITIVE) {
        for (int i = 0; i < SN; i++)
            memcpy(k->K + (size_t)i * s->A, s->att_kb.w, (size_t)s->A * sizeof(recur_real));
        s2s_product(pk, S2S_PK_KEYS, SN, s->A, s->Ws, k->E, s->Ws, s->att_k.w, s->Ws, 1, k->K, s->A);
    }
}

/* The attention's work shared by its threads: forward splits the query
 * rows, backward the sources (the rows of a source add into its d_E, d_K in
 * the order one thread would: the results do not depend on the threads). */
typedef struct attend_job {
    recur_s2s *s;
    const s2s_keys *k;
    int R;
    const int32_t *row_src;
    const recur_real *h, *alpha, *u, *d_ctx, *Q;
    recur_real *alpha_out, *ctx, *u_out, *d_h, *d_E, *d_K, *d_Q;
} attend_job;

static void attend_row(const attend_job *j, int r)
{
    const recur_s2s *s = j->s;
    const s2s_keys *k = j->k;
    const int S = k->S, N = k->N, Ws = s->Ws, Hd = s->Hd, A = s->A;
    const int n = j->row_src[r], L = k->src_len[n];
    const recur_real *q = j->h + (size_t)r * Hd;
    recur_real *al = j->alpha_out + (size_t)r * S;
    recur_real mx = -INFINITY;
    for (int i = 0; i < L; i++) {
        const size_t at = (size_t)i * N + (size_t)n;
        recur_real sc;
        if (s->att == S2S_ATT_DOT)
            sc = dot(q, k->E + at * Ws, Hd);
        else if (s->att == S2S_ATT_GENERAL)
            sc = dot(q, k->K + at * Hd, Hd);
        else {
            recur_real *ur = j->u_out + ((size_t)r * S + (size_t)i) * A;
            const recur_real *kk = k->K + at * A, *qq = j->Q + (size_t)r * A;
            for (int a = 0; a < A; a++)
                ur[a] = R_TANH(qq[a] + kk[a]);
            sc = dot(ur, s->att_v.w, A);
        }
        al[i] = sc;
        if (sc > mx)
            mx = sc;
    }
    recur_real sum = 0;
    for (int i = 0; i < L; i++)
        sum += al[i] = R_EXP(al[i] - mx);
    for (int i = 0; i < L; i++)
        al[i] /= sum;
    for (int i = L; i < S; i++)
        al[i] = 0;
    recur_real *c = j->ctx + (size_t)r * Ws;
    memset(c, 0, (size_t)Ws * sizeof *c);
    for (int i = 0; i < L; i++)
        axpy(al[i], k->E + ((size_t)i * N + (size_t)n) * Ws, c, Ws);
}

static void attend_forward_part(void *ctx, int tid, int nt)
{
    const attend_job *j = ctx;
    int lo, hi;
    par_split(j->R, tid, nt, 1, &lo, &hi);
    for (int r = lo; r < hi; r++)
        attend_row(j, r);
}

void s2s_attend_forward(const recur_s2s *s, const s2s_keys *k, int R, const int32_t *row_src,
                        const recur_real *h, recur_real *alpha, recur_real *ctx, recur_real *Q,
                        recur_real *u)
{
    const int A = s->A, Hd = s->Hd;
    if (s->att == S2S_ATT_ADDITIVE)
        recur_gemm(0, 1, R, A, Hd, 1, h, Hd, s->att_q.w, Hd, 0, Q, A);
    attend_job j = {(recur_s2s *)s, k, R, row_src, h, NULL, NULL, NULL, Q,
                    alpha, ctx, u, NULL, NULL, NULL, NULL};
    par_run_work((double)R * k->S * (s->Ws + Hd), attend_forward_part, &j);
}

static void attend_backward_row(const attend_job *j, int r)
{
    recur_s2s *s = j->s;
    const s2s_keys *k = j->k;
    const int S = k->S, N = k->N, Ws = s->Ws, Hd = s->Hd, A = s->A;
    recur_real ds[4096];
    const int n = j->row_src[r], L = k->src_len[n];
    const recur_real *q = j->h + (size_t)r * Hd, *al = j->alpha + (size_t)r * S;
    const recur_real *dc = j->d_ctx + (size_t)r * Ws;
    recur_real *dh = j->d_h + (size_t)r * Hd, *d_E = j->d_E, *d_K = j->d_K;
    recur_real mean = 0;
    for (int i = 0; i < L; i++) {
        const size_t at = (size_t)i * N + (size_t)n;
        ds[i] = dot(dc, k->E + at * Ws, Ws);
        mean += al[i] * ds[i];
        axpy(al[i], dc, d_E + at * Ws, Ws);
    }
    for (int i = 0; i < L; i++) {
        const size_t at = (size_t)i * N + (size_t)n;
        const recur_real g = al[i] * (ds[i] - mean);
        if (s->att == S2S_ATT_DOT) {
            axpy(g, k->E + at * Ws, dh, Hd);
            axpy(g, q, d_E + at * Ws, Ws);
        } else if (s->att == S2S_ATT_GENERAL) {
            axpy(g, k->K + at * Hd, dh, Hd);
            axpy(g, q, d_K + at * Hd, Hd);
        } else {
            const recur_real *ur = j->u + ((size_t)r * S + (size_t)i) * A;
            recur_real *dq = j->d_Q + (size_t)r * A, *dk = d_K + at * A;
            for (int a = 0; a < A; a++) {
                s->att_v.g[a] += g * ur[a];
                const recur_real t = g * s->att_v.w[a] * (1 - ur[a] * ur[a]);
                dq[a] += t;
                dk[a] += t;
            }
        }
    }
}

static void attend_backward_part(void *ctx, int tid, int nt)
{
    const attend_job *j = ctx;
    int lo, hi;
    par_split(j->k->N, tid, nt, 1, &lo, &hi);
    for (int r = 0; r < j->R; r++)
        if (j->row_src[r] >= lo && j->row_src[r] < hi)
            attend_backward_row(j, r);
}

void s2s_attend_backward(recur_s2s *s, const s2s_keys *k, int R, const int32_t *row_src,
                         const recur_real *h, const recur_real *alpha, const recur_real *u,
                         const recur_real *d_ctx, recur_real *d_h, recur_real *d_E,
                         recur_real *d_K, recur_real *d_Q)
{
    const int Hd = s->Hd, A = s->A;
    if (s->att == S2S_ATT_ADDITIVE)
        memset(d_Q, 0, (size_t)R * (size_t)A * sizeof *d_Q);
    attend_job j = {s, k, R, row_src, h, alpha, u, d_ctx, NULL,
                    NULL, NULL, NULL, d_h, d_E, d_K, d_Q};
    if (s->att == S2S_ATT_ADDITIVE) /* every row adds into the gradient of v */
        attend_backward_part(&j, 0, 1);
    else
        par_run_work((double)R * k->S * (2 * s->Ws + 2 * Hd), attend_backward_part, &j);
    if (s->att == S2S_ATT_ADDITIVE) {
        recur_gemm(1, 0, A, Hd, R, 1, d_Q, A, h, Hd, 1, s->att_q.g, Hd);
        recur_gemm(0, 0, R, Hd, A, 1, d_Q, A, s->att_q.w, Hd, 1, d_h, Hd);
    }
}

void s2s_keys_backward(recur_s2s *s, const s2s_keys *k, const recur_real *d_K, recur_real *d_E)
{
    const int SN = k->S * k->N;
    if (s->att == S2S_ATT_GENERAL) {
        recur_gemm(1, 0, s->Hd, s->Ws, SN, 1, d_K, s->Hd, k->E, s->Ws, 1, s->att_w.g, s->Ws);
        recur_gemm(0, 0, SN, s->Ws, s->Hd, 1, d_K, s->Hd, s->att_w.w, s->Ws, 1, d_E, s->Ws);
    } else if (s->att == S2S_ATT_ADDITIVE) {
        recur_gemm(1, 0, s->A, s->Ws, SN, 1, d_K, s->A, k->E, s->Ws, 1, s->att_k.g, s->Ws);
        recur_gemm(0, 0, SN, s->Ws, s->A, 1, d_K, s->A, s->att_k.w, s->Ws, 1, d_E, s->Ws);
        for (int i = 0; i < SN; i++)
            axpy(1, d_K + (size_t)i * s->A, s->att_kb.g, s->A);
    }
}

/* ---- the attentional vector ---- */

/* W_c [ctx; h] as W_c[:, :Ws] ctx + W_c[:, Ws:] h: two products on the
 * column blocks of W_c, no concatenated copy */
void s2s_combine_forward(const recur_s2s *s, const s2s_packed *pk, int R, const recur_real *ctx,
                         const recur_real *h, recur_real *att)
{
    const int Ws = s->Ws, Hd = s->Hd, C = Ws + Hd;
    if (s->att == S2S_ATT_NONE) {
        memcpy(att, h, (size_t)R * Hd * sizeof *att);
        return;
    }
    s2s_product(pk, S2S_PK_COMB_CTX, R, Hd, Ws, ctx, Ws, s->comb_w.w, C, 0, att, Hd);
    s2s_product(pk, S2S_PK_COMB_H, R, Hd, Hd, h, Hd, s->comb_w.w + Ws, C, 1, att, Hd);
    vec_tanh(att, att, (size_t)R * Hd);
}

void s2s_combine_backward(recur_s2s *s, int R, const recur_real *ctx, const recur_real *h,
                          const recur_real *att, const recur_real *d_att, recur_real *d_pre,
                          recur_real *d_ctx, recur_real *d_h)
{
    const int Ws = s->Ws, Hd = s->Hd, C = Ws + Hd;
    if (s->att == S2S_ATT_NONE) {
        axpy(1, d_att, d_h, R * Hd);
        return;
    }
    for (size_t i = 0; i < (size_t)R * Hd; i++)
        d_pre[i] = d_att[i] * (1 - att[i] * att[i]);
    recur_gemm(1, 0, Hd, Ws, R, 1, d_pre, Hd, ctx, Ws, 1, s->comb_w.g, C);
    recur_gemm(1, 0, Hd, Hd, R, 1, d_pre, Hd, h, Hd, 1, s->comb_w.g + Ws, C);
    recur_gemm(0, 0, R, Ws, Hd, 1, d_pre, Hd, s->comb_w.w, C, 0, d_ctx, Ws);
    recur_gemm(0, 0, R, Hd, Hd, 1, d_pre, Hd, s->comb_w.w + Ws, C, 1, d_h, Hd);
}

/* ---- the bridge ---- */

/* The encoder layer whose final states start decoder layer l: the top
 * layers face each other. */
static int bridge_src(const recur_s2s *s, int l)
{
    int e = s->Le - s->Ld + l;
    return e < 0 ? 0 : e > s->Le - 1 ? s->Le - 1 : e;
}

/* x (Ld, N, Ws): for each decoder layer, its encoder layer's final states
 * of both directions side by side. */
static void gather(const recur_s2s *s, int N, const recur_real *hn, recur_real *x)
{
    for (int l = 0; l < s->Ld; l++) {
        const int e = bridge_src(s, l);
        for (int n = 0; n < N; n++)
            for (int d = 0; d < s->De; d++)
                memcpy(x + ((size_t)l * N + n) * s->Ws + (size_t)d * s->He,
                       hn + ((size_t)(e * s->De + d) * N + n) * s->He, (size_t)s->He * sizeof *x);
    }
}

static void scatter_add(const recur_s2s *s, int N, const recur_real *dx, recur_real *d_hn)
{
    for (int l = 0; l < s->Ld; l++) {
        const int e = bridge_src(s, l);
        for (int n = 0; n < N; n++)
            for (int d = 0; d < s->De; d++)
                axpy(1, dx + ((size_t)l * N + n) * s->Ws + (size_t)d * s->He,
                     d_hn + ((size_t)(e * s->De + d) * N + n) * s->He, s->He);
    }
}

int s2s_bridge_forward(const recur_s2s *s, const s2s_packed *pk, int N, const recur_real *hn, const recur_real *cn,
                       recur_real *x, recur_real *h0, recur_real *c0)
{
    if (s->bridge == S2S_BRIDGE_ZERO)
        return 0;
    const int rows = s->Ld * N;
    if (s->bridge == S2S_BRIDGE_COPY) {
        gather(s, N, hn, h0);
        if (s->lstm)
            gather(s, N, cn, c0);
        return 1;
    }
    gather(s, N, hn, x);
    for (int r = 0; r < rows; r++)
        memcpy(h0 + (size_t)r * s->Hd, s->bridge_b.w, (size_t)s->Hd * sizeof *h0);
    s2s_product(pk, S2S_PK_BRIDGE, rows, s->Hd, s->Ws, x, s->Ws, s->bridge_w.w, s->Ws, 1, h0, s->Hd);
    vec_tanh(h0, h0, (size_t)rows * s->Hd);
    if (s->lstm) {
        gather(s, N, cn, x);
        for (int r = 0; r < rows; r++)
            memcpy(c0 + (size_t)r * s->Hd, s->bridge_cb.w, (size_t)s->Hd * sizeof *c0);
        s2s_product(pk, S2S_PK_BRIDGE_C, rows, s->Hd, s->Ws, x, s->Ws, s->bridge_cw.w, s->Ws, 1, c0, s->Hd);
    }
    return 1;
}

void s2s_bridge_backward(recur_s2s *s, int N, const recur_real *hn, const recur_real *cn,
                         const recur_real *h0, const recur_real *c0, const recur_real *d_h0,
                         const recur_real *d_c0, recur_real *x, recur_real *dx, recur_real *d_hn,
                         recur_real *d_cn)
{
    (void)c0;
    const size_t n_enc = (size_t)s->Le * s->De * N * s->He;
    memset(d_hn, 0, n_enc * sizeof *d_hn);
    if (s->lstm)
        memset(d_cn, 0, n_enc * sizeof *d_cn);
    if (s->bridge == S2S_BRIDGE_ZERO)
        return;
    const int rows = s->Ld * N;
    if (s->bridge == S2S_BRIDGE_COPY) {
        scatter_add(s, N, d_h0, d_hn);
        if (s->lstm)
            scatter_add(s, N, d_c0, d_cn);
        return;
    }
    /* dx doubles as d_pre (rows, Hd) before it is the input gradient */
    recur_real *d_pre = dx;
    gather(s, N, hn, x);
    for (size_t i = 0; i < (size_t)rows * s->Hd; i++)
        d_pre[i] = d_h0[i] * (1 - h0[i] * h0[i]);
    recur_gemm(1, 0, s->Hd, s->Ws, rows, 1, d_pre, s->Hd, x, s->Ws, 1, s->bridge_w.g, s->Ws);
    for (int r = 0; r < rows; r++)
        axpy(1, d_pre + (size_t)r * s->Hd, s->bridge_b.g, s->Hd);
    recur_gemm(0, 0, rows, s->Ws, s->Hd, 1, d_pre, s->Hd, s->bridge_w.w, s->Ws, 0, x, s->Ws);
    scatter_add(s, N, x, d_hn);
    if (s->lstm) {
        gather(s, N, cn, x);
        recur_gemm(1, 0, s->Hd, s->Ws, rows, 1, d_c0, s->Hd, x, s->Ws, 1, s->bridge_cw.g, s->Ws);
        for (int r = 0; r < rows; r++)
            axpy(1, d_c0 + (size_t)r * s->Hd, s->bridge_cb.g, s->Hd);
        recur_gemm(0, 0, rows, s->Ws, s->Hd, 1, d_c0, s->Hd, s->bridge_cw.w, s->Ws, 0, x, s->Ws);
        scatter_add(s, N, x, d_cn);
    }
}

/* ---- the output layer ---- */

void s2s_output_forward(const recur_s2s *s, const s2s_packed *pk, int R, const recur_real *att,
                        recur_real *logits)
{
    for (int r = 0; r < R; r++)
        memcpy(logits + (size_t)r * s->V, s->out_b.w, (size_t)s->V * sizeof *logits);
    s2s_product(pk, S2S_PK_OUT, R, s->V, s->Hd, att, s->Hd, s->out_w.w, s->Hd, 1, logits, s->V);
}
