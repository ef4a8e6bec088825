/* blas.c - the single entry point for matrix products, so that another
 * backend can replace OpenBLAS in one place.
 *
 * Which kernel: float products on a CPU with AVX-512 use recur's own kernel
 * (gemm_avx512.c) unless OpenBLAS itself runs its AVX-512 kernels (Debian's
 * OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to its SSE3
 * or, with OPENBLAS_CORETYPE=Haswell, AVX2 kernels).  Products of one to four
 * rows, and the recurrent products against a packed W_hh (gemm.h), use
 * recur's kernels on any AVX-512 CPU: OpenBLAS would re-pack the weights at
 * every step.  Everything else goes to OpenBLAS.  While a pass runs in
 * bfloat16 (a bf16_products set is the threads' context), the products are
 * gemm_bf16.h's instead.  Products large enough are split over recur's threads
 * (threads.h), by columns or by rows, each part a single-threaded product. */
#include <cblas.h>
#include <strings.h>

#include "gemm.h"
#include "gemm_bf16.h"
#include "simd.h"
#include "threads.h"

_Static_assert(GEMM_SCRATCH_FLOATS * sizeof(float) <= PAR_SCRATCH_BYTES, "the packing buffers fit the scratch");

void recur_set_num_threads(int n) { par_set_num_threads(n); }

#ifndef RECUR_DOUBLE
/* 1 when the float kernel of gemm_avx512.c should run for a general product. */
static int own_kernel(void)
{
    static int use = -1;
    if (use < 0) {
        const char *core = openblas_get_corename();
        int openblas_avx512 = core && (!strcasecmp(core, "skylakex") || !strcasecmp(core, "cooperlake") ||
                                       !strcasecmp(core, "sapphirerapids"));
        use = !openblas_avx512;
    }
    return use && simd_level() == SIMD_AVX512;
}
#endif

int recur_gemm_packed_kernel(void)
{
#ifdef RECUR_DOUBLE
    return 0;
#else
    return simd_level() == SIMD_AVX512;
#endif
}

void recur_gemm_serial(int trans_a, int trans_b, int M, int N, int K, recur_real alpha, const recur_real *A, int lda,
                     const recur_real *B, int ldb, recur_real beta, recur_real *C, int ldc)
{
#ifndef RECUR_DOUBLE
    const bf16_products *bf = par_context(); /* a pass in bfloat16 */
    if (bf && alpha == 1 && (beta == 0 || beta == 1) &&
        bf16_product(bf, 0, trans_a, trans_b, M, N, K, A, lda, B, ldb, beta == 1, C, ldc))
        return;
    if (alpha == 1 && (beta == 0 || beta == 1) && M <= 4 && trans_b && !trans_a && recur_gemm_packed_kernel()) {
        gemv_f32_avx512(M, N, K, A, lda, B, ldb, beta == 1, C, ldc); /* one to four rows: B read once, in place */
        return;
    }
    float *ws; /* the packing buffers; OpenBLAS when out of memory */
    if (alpha == 1 && (beta == 0 || beta == 1) && own_kernel() && (ws = par_scratch())) {
        gemm_f32_avx512(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta == 1, C, ldc, ws);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

typedef struct gemm_job {
    int trans_a, trans_b, M, N, K, lda, ldb, ldc, by_cols;
    recur_real alpha, beta;
    const recur_real *A, *B;
    recur_real *C;
} gemm_job;

static void gemm_part(void *ctx, int tid, int nt)
{
    const gemm_job *j = ctx;
    int lo, hi;
    if (j->by_cols) {
        par_split(j->N, tid, nt, 32, &lo, &hi);
        if (hi > lo)
            recur_gemm_serial(j->trans_a, j->trans_b, j->M, hi - lo, j->K, j->alpha, j->A, j->lda,
                     j->trans_b ? j->B + (size_t)lo * j->ldb : j->B + lo, j->ldb, j->beta, j->C + lo, j->ldc);
    } else {
        par_split(j->M, tid, nt, 12, &lo, &hi);
        if (hi > lo)
            recur_gemm_serial(j->trans_a, j->trans_b, hi - lo, j->N, j->K, j->alpha,
                     j->trans_a ? j->A + lo : j->A + (size_t)lo * j->lda, j->lda, j->B, j->ldb, j->beta,
                     j->C + (size_t)lo * j->ldc, j->ldc);
    }
}

void recur_gemm(int trans_a, int trans_b, int M, int N, int K, recur_real alpha,
                const recur_real *A, int lda, const recur_real *B, int ldb, recur_real beta,
                recur_real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) { /* empty product: C = beta * C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
        return;
    }
    int nt = par_inside() ? 1 : par_num_threads();
    double work = (double)M * N * K;
#ifndef RECUR_DOUBLE
    const bf16_products *bf = par_context(); /* a pass in bfloat16 */
    if (bf && alpha == 1 && (beta == 0 || beta == 1) &&
        bf16_product(bf, nt > 1 && work >= 1 << 21, trans_a, trans_b, M, N, K, A, lda, B, ldb, beta == 1, C, ldc))
        return;
#endif
    /* products of a few rows are memory-bound: threads pay off sooner */
    if (nt > 1 && (work >= 1 << 21 || (M <= 4 && (double)N * K >= 1 << 17)) && (N >= 64 || M >= 24)) {
        /* each part packs all of the operand it does not split: split the
         * side whose other operand is the smaller (by columns, A is packed by
         * every thread; by rows, B) */
        int by_cols = M < 12 * nt || (N >= 32 * nt && N >= M);
        gemm_job j = {trans_a, trans_b, M, N, K, lda, ldb, ldc, by_cols, alpha, beta, A, B, C};
        par_run(nt, gemm_part, &j);
        return;
    }
    recur_gemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
