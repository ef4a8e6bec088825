/* blas.c - the single entry point for matrix products, so that another
 * backend can replace OpenBLAS in one place. */
#include <cblas.h>

#include "internal.h"

void recur_set_num_threads(int n)
{
    if (n > 0)
        openblas_set_num_threads(n);
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
#ifdef RECUR_DOUBLE
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}
