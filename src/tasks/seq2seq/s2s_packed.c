/*
 * s2s_packed.c - the layers' weight matrices packed once for decoding.
 *
 * Decoding multiplies the same few matrices at every step (the attentional
 * vector's W_c, the output layer) and for every batch (the attention's keys,
 * the bridge).  A general product re-packs its weight operand at each call,
 * which for a batch of 64 rows costs about as much as the product; packed
 * once (gemm.h, the float AVX-512 kernel) they are only read.  Without that
 * kernel nothing is packed and the products run through recur_gemm.
 */
#include <stdlib.h>

#include "engine/gemm.h"
#include "engine/threads.h"
#include "tasks/seq2seq/s2s_internal.h"

struct s2s_packed {
    float *w[S2S_PK_COUNT]; /* gemm_pack_bt panels, or NULL: multiply in place */
};

void s2s_packed_free(s2s_packed *pk)
{
    if (!pk)
        return;
    for (int i = 0; i < S2S_PK_COUNT; i++)
        free(pk->w[i]);
    free(pk);
}

#ifndef RECUR_DOUBLE
static int pack_one(s2s_packed *pk, int which, const s2s_tensor *t, int N, int K, int ld, int offset)
{
    if (!t->w)
        return 1;
    pk->w[which] = malloc(gemm_packed_size(N, K) * sizeof(float));
    if (!pk->w[which])
        return 0;
    gemm_pack_bt(t->w + offset, ld, N, K, pk->w[which]);
    return 1;
}
#endif

recur_status s2s_packed_create(s2s_packed **out, const recur_s2s *s, recur_error *err)
{
    *out = NULL;
#ifndef RECUR_DOUBLE
    if (!recur_gemm_packed_kernel())
        return RECUR_OK;
    s2s_packed *pk = calloc(1, sizeof *pk);
    if (!pk)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    const int Hd = s->Hd, Ws = s->Ws, C = Ws + Hd;
    int ok = 1;
    if (s->att == S2S_ATT_GENERAL)
        ok = ok && pack_one(pk, S2S_PK_KEYS, &s->att_w, Hd, Ws, Ws, 0);
    if (s->att == S2S_ATT_ADDITIVE)
        ok = ok && pack_one(pk, S2S_PK_KEYS, &s->att_k, s->A, Ws, Ws, 0);
    if (s->att != S2S_ATT_NONE) {
        ok = ok && pack_one(pk, S2S_PK_COMB_CTX, &s->comb_w, Hd, Ws, C, 0);
        ok = ok && pack_one(pk, S2S_PK_COMB_H, &s->comb_w, Hd, Hd, C, Ws);
    }
    ok = ok && pack_one(pk, S2S_PK_OUT, &s->out_w, s->V, Hd, Hd, 0);
    if (s->bridge == S2S_BRIDGE_LINEAR) {
        ok = ok && pack_one(pk, S2S_PK_BRIDGE, &s->bridge_w, Hd, Ws, Ws, 0);
        if (s->lstm)
            ok = ok && pack_one(pk, S2S_PK_BRIDGE_C, &s->bridge_cw, Hd, Ws, Ws, 0);
    }
    if (!ok) {
        s2s_packed_free(pk);
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    }
    *out = pk;
#else
    (void)s;
    (void)err;
#endif
    return RECUR_OK;
}

typedef struct product_job {
    const float *Bp;
    int M, N, K, lda, ldc, accumulate;
    const recur_real *A, *W;
    int ldw;
    recur_real *C;
} product_job;

static void product_part(void *ctx, int tid, int nt)
{
    const product_job *j = ctx;
    int lo, hi;
    par_split(j->N, tid, nt, GEMM_PANEL, &lo, &hi); /* whole panels per thread */
    if (hi <= lo)
        return;
#ifndef RECUR_DOUBLE
    float *ws = par_scratch();
    if (ws) {
        gemm_f32_avx512_packed(j->M, hi - lo, j->K, j->A, j->lda, j->Bp + (size_t)lo * j->K, j->K, j->accumulate,
                               j->C + lo, j->ldc, ws);
        return;
    }
#endif
    recur_gemm_serial(0, 1, j->M, hi - lo, j->K, 1, j->A, j->lda, j->W + (size_t)lo * j->ldw, j->ldw,
                      j->accumulate ? 1 : 0, j->C + lo, j->ldc);
}

void s2s_product(const s2s_packed *pk, int which, int M, int N, int K, const recur_real *A, int lda,
                 const recur_real *W, int ldw, int accumulate, recur_real *C, int ldc)
{
    if (!pk || !pk->w[which] || M <= 0 || N <= 0) {
        recur_gemm(0, 1, M, N, K, 1, A, lda, W, ldw, accumulate ? 1 : 0, C, ldc);
        return;
    }
    product_job j = {pk->w[which], M, N, K, lda, ldc, accumulate, A, W, ldw, C};
    par_run_work((double)M * N * K, product_part, &j);
}
