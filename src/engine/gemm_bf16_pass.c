/*
 * gemm_bf16_pass.c - a pass's products in bfloat16 (gemm_bf16.h): the set
 * of weights packed once per pass, and the product recur_gemm runs while a
 * set is the threads' context: the weight operand from its packing, the
 * other operand rounded at the call, the product over the threads.
 */
#include <stdlib.h>
#include <string.h>

#include "gemm_bf16.h"
#include "threads.h"

void bf16_products_reset(bf16_products *p)
{
    p->n = 0;
    p->kernel = bf16_kernel_best();
}

void bf16_products_free(bf16_products *p)
{
    for (int i = 0; i < p->cap; i++)
        free(p->w[i].packed);
    free(p->w);
    memset(p, 0, sizeof *p);
}

typedef struct pack_job {
    int trans, K, N, ld;
    const float *W;
    uint16_t *out;
} pack_job;

static void pack_part(void *ctx, int tid, int nt)
{
    const pack_job *j = ctx;
    int lo, hi;
    par_split(j->N, tid, nt, BF16_PANEL, &lo, &hi);
    if (hi > lo)
        bf16_pack_b_cols(j->trans, j->K, j->N, j->W, j->ld, j->out, lo, hi);
}

int bf16_products_add(bf16_products *p, int trans, int K, int N, const float *W, int ld)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        bf16_weight *w = realloc(p->w, sizeof *w * (size_t)cap);
        if (!w)
            return 0;
        memset(w + p->cap, 0, sizeof *w * (size_t)(cap - p->cap));
        p->w = w;
        p->cap = cap;
    }
    bf16_weight *e = &p->w[p->n];
    size_t need = bf16_packed_elems(K, N);
    if (e->cap < need) {
        free(e->packed);
        e->packed = malloc(need * sizeof *e->packed);
        e->cap = e->packed ? need : 0;
        if (!e->packed)
            return 0;
    }
    e->W = W;
    e->trans = trans;
    e->K = K;
    e->N = N;
    e->ld = ld;
    pack_job j = {trans, K, N, ld, W, e->packed};
    par_run_work((double)K * N, pack_part, &j);
    p->n++;
    return 1;
}

/* The packing of op(B) (K x N at B, rows ldb apart) within a packed weight:
 * its start, and the panel stride; NULL when none holds it. */
static const uint16_t *find(const bf16_products *p, int trans_b, int K, int N, const float *B, int ldb, size_t *ps)
{
    for (int i = 0; i < p->n; i++) {
        const bf16_weight *e = &p->w[i];
        if (e->trans != trans_b || e->ld != ldb || B < e->W)
            continue;
        size_t off = (size_t)(B - e->W);
        if (off >= (size_t)(trans_b ? e->N : e->K) * e->ld)
            continue;
        int outer = (int)(off / e->ld), inner = (int)(off % e->ld);
        int j0 = trans_b ? outer : inner, k0 = trans_b ? inner : outer;
        if (j0 % BF16_PANEL || k0 % 2 || j0 + N > e->N || k0 + K > e->K)
            continue;
        *ps = bf16_panel_stride(e->K);
        return e->packed + (size_t)(j0 / BF16_PANEL) * *ps + (size_t)(k0 / 2) * 32;
    }
    return NULL;
}

typedef struct product_job {
    const bf16_products *p;
    int trans_a, trans_b, M, N, K, lda, ldb, ldc, la, accumulate, by_cols, trans_c;
    const float *A, *B;
    float *C;
    uint16_t *Ab, *Bb; /* Bb: B packed here (NULL: found packed at Bp) */
    const uint16_t *Bp;
    size_t ps;
} product_job;

/* Each thread rounds its share of A's rows and packs its share of B's
 * panels, then, once all have, multiplies its part. */
static void product_part(void *ctx, int tid, int nt)
{
    const product_job *j = ctx;
    int lo, hi;
    par_split(j->M, tid, nt, 32, &lo, &hi);
    if (hi > lo || tid == nt - 1)
        bf16_pack_a(j->trans_a, j->M, j->K, j->A, j->lda, j->Ab, j->la, lo, hi);
    if (j->Bb) {
        par_split(j->N, tid, nt, BF16_PANEL, &lo, &hi);
        if (hi > lo)
            bf16_pack_b_cols(j->trans_b, j->K, j->N, j->B, j->ldb, j->Bb, lo, hi);
    }
    par_barrier(nt);
    /* C's offsets of the product's column lo and row lo */
    const size_t col = j->trans_c ? (size_t)j->ldc : 1, row = j->trans_c ? 1 : (size_t)j->ldc;
    if (j->by_cols) {
        par_split(j->N, tid, nt, 32, &lo, &hi);
        if (hi > lo)
            bf16_gemm(j->p->kernel, j->M, hi - lo, j->K, j->Ab, j->la, j->Bp + (size_t)(lo / BF16_PANEL) * j->ps,
                      j->ps, j->accumulate, j->trans_c, j->C + lo * col, j->ldc);
    } else {
        par_split(j->M, tid, nt, 32, &lo, &hi);
        if (hi > lo)
            bf16_gemm(j->p->kernel, hi - lo, j->N, j->K, j->Ab + (size_t)lo * j->la, j->la, j->Bp, j->ps,
                      j->accumulate, j->trans_c, j->C + lo * row, j->ldc);
    }
}

int bf16_product(const bf16_products *p, int threaded, int trans_a, int trans_b, int M, int N, int K, const float *A,
                 int lda, const float *B, int ldb, int accumulate, float *C, int ldc)
{
    product_job j = {p, trans_a, trans_b, M, N, K, lda, ldb, ldc, bf16_kpad(K), accumulate, 0, 0, A, B, C,
                     NULL, NULL, NULL, 0};
    j.Bp = find(p, trans_b, K, N, B, ldb, &j.ps);
    if (trans_a && !trans_b && !j.Bp && M > N && (double)K * (M - N) > 2.0 * M * N) {
        /* A^T B (a weight's gradient): transposing op(A) costs more than
         * packing an operand as it lies, so the larger of A and B is packed
         * as it lies, and C^T = B^T A is stored transposed, which pays while
         * the transposed store of C (read and written) costs less than the
         * transposing saved: K (M - N) > 2 M N (measured: a transposed
         * store costs about twice a transposed packing per element; so the
         * gates' dW of a character model, K = 2048 steps, M = 2048, N = 512,
         * is made transposed, PTB's decoder dW, K = 700, is not) */
        j.trans_c = 1;
        j.A = B;
        j.lda = ldb;
        j.B = A;
        j.ldb = lda;
        j.M = N;
        j.N = M;
        j.Bp = find(p, 0, K, M, A, lda, &j.ps);
    }
    M = j.M;
    N = j.N;
    const size_t a_elems = (size_t)bf16_a_rows(M) * j.la;
    size_t b_elems = j.Bp ? 0 : bf16_packed_elems(K, N);
    /* a few rows (the recurrent products, on recur's threads) round A in
     * the thread's scratch; anything larger in a block of its own */
    void *scratch = NULL, *block = NULL;
    if (!threaded && a_elems * sizeof(uint16_t) <= PAR_SCRATCH_BYTES)
        scratch = par_scratch();
    if (scratch && b_elems == 0) {
        j.Ab = scratch;
    } else {
        block = malloc((a_elems + b_elems) * sizeof(uint16_t) + 64);
        if (!block)
            return 0;
        j.Ab = block;
        if (!j.Bp) {
            j.Bb = j.Ab + a_elems;
            j.Bp = j.Bb;
            j.ps = bf16_panel_stride(K);
        }
    }
    if (threaded) {
        int nt = par_num_threads();
        j.by_cols = M < 32 * nt || (N >= 32 * nt && N >= M);
        par_run(0, product_part, &j);
    } else {
        product_part(&j, 0, 1);
    }
    free(block);
    return 1;
}
