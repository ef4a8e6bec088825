/*
 * gemm_avx512.c - single-precision matrix product with an AVX-512 register
 * kernel, after the BLIS/GotoBLAS structure:
 *
 *   for each KC-deep slice of K:
 *     for each NC-wide block of N: pack op(B)'s block into NR-wide panels
 *                                   (or read it in place when op(B) = B)
 *       for each MC-high block of M: pack op(A)'s block into MR-high panels
 *         for each NR panel, for each MR panel: the 12 x 32 kernel
 *
 * The kernel keeps a 12 x 32 tile of C in 24 zmm registers; each k step
 * loads two vectors of B and broadcasts 12 values of A.  Edges: A panels are
 * zero-padded to 12 rows and only the real rows are stored; N edges use
 * masked loads and stores, so B is never read past its last column.
 *
 * Only float, only alpha = 1, beta 0 or 1 (accumulate): what the library
 * needs.  Compiled for AVX-512 per function, called only after
 * simd_level() says the CPU has it.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "gemm.h"

#define MR 12
#define NR 32
#define KC 320
#define MC 96
#define NC 1024

#define AVX512 __attribute__((target("avx512f")))

/* The 12 x 32 tile: c[i] += sum_k a[k*12 + i] * b[k*bs + 0..31], with the
 * B loads masked to nr columns when nr < 32. */
#define KERNEL_BODY(LOAD0, LOAD1)                                                                      \
    __m512 c0a = _mm512_setzero_ps(), c0b = _mm512_setzero_ps(), c1a = _mm512_setzero_ps();           \
    __m512 c1b = _mm512_setzero_ps(), c2a = _mm512_setzero_ps(), c2b = _mm512_setzero_ps();           \
    __m512 c3a = _mm512_setzero_ps(), c3b = _mm512_setzero_ps(), c4a = _mm512_setzero_ps();           \
    __m512 c4b = _mm512_setzero_ps(), c5a = _mm512_setzero_ps(), c5b = _mm512_setzero_ps();           \
    __m512 c6a = _mm512_setzero_ps(), c6b = _mm512_setzero_ps(), c7a = _mm512_setzero_ps();           \
    __m512 c7b = _mm512_setzero_ps(), c8a = _mm512_setzero_ps(), c8b = _mm512_setzero_ps();           \
    __m512 c9a = _mm512_setzero_ps(), c9b = _mm512_setzero_ps(), cAa = _mm512_setzero_ps();           \
    __m512 cAb = _mm512_setzero_ps(), cBa = _mm512_setzero_ps(), cBb = _mm512_setzero_ps();           \
    for (int k = 0; k < kc; k++) {                                                                     \
        __m512 b0 = LOAD0, b1 = LOAD1;                                                                 \
        ROW(0, c0a, c0b); ROW(1, c1a, c1b); ROW(2, c2a, c2b); ROW(3, c3a, c3b);                        \
        ROW(4, c4a, c4b); ROW(5, c5a, c5b); ROW(6, c6a, c6b); ROW(7, c7a, c7b);                        \
        ROW(8, c8a, c8b); ROW(9, c9a, c9b); ROW(10, cAa, cAb); ROW(11, cBa, cBb);                      \
        a += MR;                                                                                       \
        b += bs;                                                                                       \
    }                                                                                                  \
    __m512 acc[MR][2] = {{c0a, c0b}, {c1a, c1b}, {c2a, c2b}, {c3a, c3b}, {c4a, c4b}, {c5a, c5b},      \
                         {c6a, c6b}, {c7a, c7b}, {c8a, c8b}, {c9a, c9b}, {cAa, cAb}, {cBa, cBb}};
#define ROW(i, ca, cb)                                                                                 \
    do {                                                                                               \
        __m512 ai = _mm512_set1_ps(a[i]);                                                              \
        ca = _mm512_fmadd_ps(ai, b0, ca);                                                              \
        cb = _mm512_fmadd_ps(ai, b1, cb);                                                              \
    } while (0)

AVX512 static void kernel_full(int kc, const float *a, const float *b, ptrdiff_t bs, float *c, ptrdiff_t ldc,
                               int mr, int accumulate)
{
    KERNEL_BODY(_mm512_loadu_ps(b), _mm512_loadu_ps(b + 16))
    for (int i = 0; i < mr; i++) {
        float *ci = c + (ptrdiff_t)i * ldc;
        __m512 va = acc[i][0], vb = acc[i][1];
        if (accumulate) {
            va = _mm512_add_ps(va, _mm512_loadu_ps(ci));
            vb = _mm512_add_ps(vb, _mm512_loadu_ps(ci + 16));
        }
        _mm512_storeu_ps(ci, va);
        _mm512_storeu_ps(ci + 16, vb);
    }
}

AVX512 static void kernel_edge(int kc, const float *a, const float *b, ptrdiff_t bs, float *c, ptrdiff_t ldc,
                               int mr, int nr, int accumulate)
{
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
    KERNEL_BODY(_mm512_maskz_loadu_ps(m0, b), _mm512_maskz_loadu_ps(m1, b + 16))
    for (int i = 0; i < mr; i++) {
        float *ci = c + (ptrdiff_t)i * ldc;
        __m512 va = acc[i][0], vb = acc[i][1];
        if (accumulate) {
            va = _mm512_add_ps(va, _mm512_maskz_loadu_ps(m0, ci));
            vb = _mm512_add_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16));
        }
        _mm512_mask_storeu_ps(ci, m0, va);
        _mm512_mask_storeu_ps(ci + 16, m1, vb);
    }
}
#undef ROW
#undef KERNEL_BODY

static inline void kernel_12x32(int kc, const float *a, const float *b, ptrdiff_t bs, float *c, ptrdiff_t ldc,
                                int mr, int nr, int accumulate)
{
    if (nr == NR)
        kernel_full(kc, a, b, bs, c, ldc, mr, accumulate);
    else
        kernel_edge(kc, a, b, bs, c, ldc, mr, nr, accumulate);
}

/* op(A)[i0.., p0..] (mc x kc) into MR-row panels [panel][k][MR], zero-padded. */
static void pack_a(int trans_a, const float *A, int lda, int i0, int p0, int mc, int kc, float *out)
{
    for (int ip = 0; ip < mc; ip += MR) {
        int rows = mc - ip < MR ? mc - ip : MR;
        float *o = out + (size_t)ip * kc;
        if (!trans_a) { /* A is M x K: row i, column k at A[i*lda + k] */
            for (int i = 0; i < rows; i++) {
                const float *src = A + (size_t)(i0 + ip + i) * lda + p0;
                for (int k = 0; k < kc; k++)
                    o[(size_t)k * MR + i] = src[k];
            }
            for (int i = rows; i < MR; i++)
                for (int k = 0; k < kc; k++)
                    o[(size_t)k * MR + i] = 0;
        } else { /* A is K x M: element (i, k) at A[k*lda + i] */
            for (int k = 0; k < kc; k++) {
                const float *src = A + (size_t)(p0 + k) * lda + i0 + ip;
                float *ok = o + (size_t)k * MR;
                int i = 0;
                for (; i < rows; i++)
                    ok[i] = src[i];
                for (; i < MR; i++)
                    ok[i] = 0;
            }
        }
    }
}

/* op(B) = B^T (B is N x K): block [p0.., j0..] (kc x nc) into NR-wide panels
 * [panel][k][NR], zero-padded. */
static void pack_bt(const float *B, int ldb, int p0, int j0, int kc, int nc, float *out)
{
    for (int jp = 0; jp < nc; jp += NR) {
        int cols = nc - jp < NR ? nc - jp : NR;
        float *o = out + (size_t)jp * kc;
        for (int j = 0; j < cols; j++) {
            const float *src = B + (size_t)(j0 + jp + j) * ldb + p0;
            for (int k = 0; k < kc; k++)
                o[(size_t)k * NR + j] = src[k];
        }
        for (int j = cols; j < NR; j++)
            for (int k = 0; k < kc; k++)
                o[(size_t)k * NR + j] = 0;
    }
}

/* Per-thread packing buffers, 64-byte aligned, sized for the largest blocks. */
static _Thread_local float abuf[MC * KC] __attribute__((aligned(64)));
static _Thread_local float bbuf[NC * KC] __attribute__((aligned(64)));

/* The K-deep slices: at most KC, and no thin last slice. */
static inline int slice(int K, int p0)
{
    int kc = K - p0 < KC ? K - p0 : KC;
    if (K - p0 > KC && K - p0 < 2 * KC)
        kc = (K - p0 + 1) / 2;
    return kc;
}

/* C[0..M, 0..nc) (+)= op(A)[.., p0..p0+kc) times a kc x nc block of B whose
 * NR-wide panel p starts at bp + p*bpanel, rows bs apart. */
static void macro(int trans_a, int M, int nc, int kc, const float *A, int lda, int p0, const float *bp, ptrdiff_t bs,
                  ptrdiff_t bpanel, int acc, float *C, int ldc)
{
    for (int i0 = 0; i0 < M; i0 += MC) {
        int mc = M - i0 < MC ? M - i0 : MC;
        pack_a(trans_a, A, lda, i0, p0, mc, kc, abuf);
        for (int ip = 0; ip < mc; ip += MR) {
            int mr = mc - ip < MR ? mc - ip : MR;
            for (int jp = 0; jp < nc; jp += NR) {
                int nr = nc - jp < NR ? nc - jp : NR;
                kernel_12x32(kc, abuf + (size_t)ip * kc, bp + (jp / NR) * bpanel, bs,
                             C + (size_t)(i0 + ip) * ldc + jp, ldc, mr, nr, acc);
            }
        }
    }
}

static void zero_c(int M, int N, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof *C);
}

void gemm_f32_avx512(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb, int accumulate, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (!accumulate)
            zero_c(M, N, C, ldc);
        return;
    }
    for (int p0 = 0, kc; p0 < K; p0 += kc) {
        kc = slice(K, p0);
        int acc = accumulate || p0 > 0;
        for (int j0 = 0; j0 < N; j0 += NC) {
            int nc = N - j0 < NC ? N - j0 : NC;
            if (trans_b) {
                pack_bt(B, ldb, p0, j0, kc, nc, bbuf);
                macro(trans_a, M, nc, kc, A, lda, p0, bbuf, NR, (ptrdiff_t)NR * kc, acc, C + j0, ldc);
            } else {
                macro(trans_a, M, nc, kc, A, lda, p0, B + (size_t)p0 * ldb + j0, ldb, NR, acc, C + j0, ldc);
            }
        }
    }
}

size_t gemm_packed_size(int N, int K) { return (size_t)((N + NR - 1) / NR) * NR * (size_t)K; }

void gemm_pack_bt(const float *B, int ldb, int N, int K, float *out)
{
    for (int jp = 0; jp < N; jp += NR) {
        int cols = N - jp < NR ? N - jp : NR;
        float *o = out + (size_t)jp * K;
        for (int j = 0; j < cols; j++) {
            const float *src = B + (size_t)(jp + j) * ldb;
            for (int k = 0; k < K; k++)
                o[(size_t)k * NR + j] = src[k];
        }
        for (int j = cols; j < NR; j++)
            for (int k = 0; k < K; k++)
                o[(size_t)k * NR + j] = 0;
    }
}

void gemm_f32_avx512_packed(int M, int N, int K, const float *A, int lda, const float *Bp, int accumulate, float *C,
                            int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (!accumulate)
            zero_c(M, N, C, ldc);
        return;
    }
    for (int p0 = 0, kc; p0 < K; p0 += kc) {
        kc = slice(K, p0);
        macro(0, M, N, kc, A, lda, p0, Bp + (size_t)p0 * NR, NR, (ptrdiff_t)NR * K, accumulate || p0 > 0, C, ldc);
    }
}
