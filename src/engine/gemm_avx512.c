/*
 * gemm_avx512.c - single-precision matrix product with an AVX-512 register
 * kernel, after the BLIS/GotoBLAS structure:
 *
 *   for each KC-deep slice of K:
 *     for each NC-wide block of N: pack op(B)'s block into NR-wide panels
 *       for each MR-high panel of op(A): read in place (op(A) = A), or
 *                                         packed (A^T, and edge panels)
 *         for each NR-wide panel: the 12 x 32 kernel
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
#define NC 1024

#define AVX512 __attribute__((target("avx512f")))

/* The 12 x 32 tile: c[i][0..31] (+)= sum_k A(i, k) * b[k*bs + 0..31], or
 * with ROWS = 8 an 8 x 32 tile (the edge of a batch of 20 or 32: no FMAs on
 * zero padding; the constant test leaves no trace in the code).  A comes in
 * one of two layouts:
 *   strided: A(i, k) = a[k*as + i]   (a packed panel, as = 12, or op(A) =
 *            A^T read in place, as = lda)
 *   rows:    A(i, k) = a[i*as + k]   (op(A) = A read in place, as = lda)
 * B loads are masked to nr columns when nr < 32, so B is never read past
 * its last column. */
#define ROW(i, ca, cb)                                                                                 \
    do {                                                                                               \
        __m512 ai = _mm512_set1_ps(AELEM(i));                                                          \
        ca = _mm512_fmadd_ps(ai, b0, ca);                                                              \
        cb = _mm512_fmadd_ps(ai, b1, cb);                                                              \
    } while (0)
#define KERNEL_BODY(LOAD0, LOAD1, ADVANCE, ROWS)                                                       \
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
        if ((ROWS) > 8) {                                                                              \
            ROW(8, c8a, c8b); ROW(9, c9a, c9b); ROW(10, cAa, cAb); ROW(11, cBa, cBb);                  \
        }                                                                                              \
        ADVANCE;                                                                                       \
        b += bs;                                                                                       \
    }                                                                                                  \
    __m512 acc[MR][2] = {{c0a, c0b}, {c1a, c1b}, {c2a, c2b}, {c3a, c3b}, {c4a, c4b}, {c5a, c5b},      \
                         {c6a, c6b}, {c7a, c7b}, {c8a, c8b}, {c9a, c9b}, {cAa, cAb}, {cBa, cBb}};

AVX512 static inline __attribute__((always_inline)) void store_tile(__m512 acc[MR][2], float *c, ptrdiff_t ldc,
                                                                    int mr, __mmask16 m0, __mmask16 m1,
                                                                    int accumulate)
{
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

#define FULL_LOADS _mm512_loadu_ps(b), _mm512_loadu_ps(b + 16)
#define MASK_LOADS _mm512_maskz_loadu_ps(m0, b), _mm512_maskz_loadu_ps(m1, b + 16)
#define KERNEL(LOADS, ADVANCE, ROWS) KERNEL_BODY2(LOADS, ADVANCE, ROWS)
#define KERNEL_BODY2(L0, L1, ADVANCE, ROWS) KERNEL_BODY(L0, L1, ADVANCE, ROWS)
#define MASKS(nr)                                                                                      \
    const __mmask16 m0 = (nr) >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nr)) - 1);               \
    const __mmask16 m1 = (nr) >= 32 ? (__mmask16)0xFFFF : (nr) > 16 ? (__mmask16)((1u << ((nr) - 16)) - 1) : 0;

#define AELEM(i) a[i]
#define STRIDED_KERNEL(name, ROWS)                                                                     \
    AVX512 static void name(int kc, const float *a, ptrdiff_t as, const float *b, ptrdiff_t bs, float *c, \
                            ptrdiff_t ldc, int mr, int nr, int accumulate)                             \
    {                                                                                                  \
        MASKS(nr)                                                                                      \
        if (nr == NR) {                                                                                \
            KERNEL(FULL_LOADS, a += as, ROWS)                                                          \
            store_tile(acc, c, ldc, mr, m0, m1, accumulate);                                           \
        } else {                                                                                       \
            KERNEL(MASK_LOADS, a += as, ROWS)                                                          \
            store_tile(acc, c, ldc, mr, m0, m1, accumulate);                                           \
        }                                                                                              \
    }
STRIDED_KERNEL(kernel_strided, MR)
STRIDED_KERNEL(kernel_strided8, 8)
#undef STRIDED_KERNEL
#undef AELEM

/* rows i = 3g + r at q[g][r*as]: four row pointers and one index register */
#define AELEM(i) q##i
#define q0 qa[0]
#define q1 qa[as]
#define q2 qa[2 * as]
#define q3 qb[0]
#define q4 qb[as]
#define q5 qb[2 * as]
#define q6 qc[0]
#define q7 qc[as]
#define q8 qc[2 * as]
#define q9 qd[0]
#define q10 qd[as]
#define q11 qd[2 * as]
#define ADV_ROWS (qa++, qb++, qc++, qd++)
AVX512 static void kernel_rows(int kc, const float *a, ptrdiff_t as, const float *b, ptrdiff_t bs, float *c,
                               ptrdiff_t ldc, int nr, int accumulate)
{
    MASKS(nr)
    const float *qa = a, *qb = a + 3 * as, *qc = a + 6 * as, *qd = a + 9 * as;
    if (nr == NR) {
        KERNEL(FULL_LOADS, ADV_ROWS, MR)
        store_tile(acc, c, ldc, MR, m0, m1, accumulate);
    } else {
        KERNEL(MASK_LOADS, ADV_ROWS, MR)
        store_tile(acc, c, ldc, MR, m0, m1, accumulate);
    }
}
#undef AELEM
#undef q0
#undef q1
#undef q2
#undef q3
#undef q4
#undef q5
#undef q6
#undef q7
#undef q8
#undef q9
#undef q10
#undef q11
#undef ADV_ROWS
#undef ROW
#undef KERNEL_BODY
#undef KERNEL_BODY2
#undef KERNEL
#undef FULL_LOADS
#undef MASK_LOADS
#undef MASKS

/* op(A)[i0.., p0..] (mc x kc) into MR-row panels [panel][k][MR], zero-padded. */
AVX512 static void pack_a(int trans_a, const float *A, int lda, int i0, int p0, int mc, int kc, float *out)
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
        } else { /* A is K x M: element (i, k) at A[k*lda + i]; a panel's row k is 12 of them in a row */
            const __mmask16 in = (__mmask16)((1u << rows) - 1), all = (__mmask16)((1u << MR) - 1);
            for (int k = 0; k < kc; k++)
                _mm512_mask_storeu_ps(o + (size_t)k * MR, all,
                                      _mm512_maskz_loadu_ps(in, A + (size_t)(p0 + k) * lda + i0 + ip));
        }
    }
}

/* op(B) = B^T (B is N x K): block [p0.., j0..] (kc x nc) into NR-wide panels
 * [panel][k][NR], zero-padded. */
/* The 16 x 16 block at src (rows ld apart, only the first `rows` read, the
 * others zero) transposed into out[0..15]: out[k] is column k.  Three rounds
 * of in-lane unpacks and lane shuffles. */
AVX512 static inline __attribute__((always_inline)) void transpose16_regs(const float *src, ptrdiff_t ld, int rows,
                                                                           __m512 out[16])
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_loadu_ps(src + i * ld) : _mm512_setzero_ps();
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* r[4i + c], lane L: column 4L + c of rows 4i..4i+3 */
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int c = 0; c < 4; c++) { /* column 4L + c: lane L of r[c], r[4 + c], r[8 + c], r[12 + c] */
        __m512 x0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44), x1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
        __m512 y0 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44);
        __m512 y1 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
        out[0 + c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
        out[4 + c] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
        out[8 + c] = _mm512_shuffle_f32x4(x1, y1, 0x88);
        out[12 + c] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
    }
}

/* Transposes the 16 x 16 block at src (rows ld apart) into dst: dst row k
 * (ldd apart) gets column k. */
AVX512 static void transpose16(const float *src, ptrdiff_t ld, float *dst, ptrdiff_t ldd)
{
    __m512 out[16];
    transpose16_regs(src, ld, 16, out);
    for (int k = 0; k < 16; k++)
        _mm512_storeu_ps(dst + k * ldd, out[k]);
}

/* One NR-wide panel of B^T: rows src[0..cols) of B (ldb apart), columns
 * [0, kc), into o[k*NR + j], zero-padded to NR. */
static void pack_bt_panel(const float *src, int ldb, int cols, int kc, float *o)
{
    int k = 0;
    if (cols == NR)
        for (; k + 16 <= kc; k += 16) {
            transpose16(src + k, ldb, o + (size_t)k * NR, NR);
            transpose16(src + (size_t)16 * ldb + k, ldb, o + (size_t)k * NR + 16, NR);
        }
    if (k == kc)
        return;
    for (int j = 0; j < cols; j++) {
        const float *row = src + (size_t)j * ldb;
        for (int kk = k; kk < kc; kk++)
            o[(size_t)kk * NR + j] = row[kk];
    }
    for (int j = cols; j < NR; j++)
        for (int kk = k; kk < kc; kk++)
            o[(size_t)kk * NR + j] = 0;
}

/* op(B) = B^T (B is N x K): block [p0.., j0..] (kc x nc) into NR-wide panels
 * [panel][k][NR], zero-padded. */
static void pack_bt(const float *B, int ldb, int p0, int j0, int kc, int nc, float *out)
{
    for (int jp = 0; jp < nc; jp += NR) {
        int cols = nc - jp < NR ? nc - jp : NR;
        pack_bt_panel(B + (size_t)(j0 + jp) * ldb + p0, ldb, cols, kc, out + (size_t)jp * kc);
    }
}

/* op(B) = B (B is K x N): block [p0.., j0..] (kc x nc) into NR-wide panels
 * [panel][k][NR], zero-padded.  (Read in place, rows ldb apart, a panel's
 * rows would fall into a few cache sets whenever ldb is a power of two.) */
static void pack_b(const float *B, int ldb, int p0, int j0, int kc, int nc, float *out)
{
    for (int jp = 0; jp < nc; jp += NR) {
        int cols = nc - jp < NR ? nc - jp : NR;
        float *o = out + (size_t)jp * kc;
        for (int k = 0; k < kc; k++) {
            const float *src = B + (size_t)(p0 + k) * ldb + j0 + jp;
            float *ok = o + (size_t)k * NR;
            memcpy(ok, src, (size_t)cols * sizeof *ok);
            for (int j = cols; j < NR; j++)
                ok[j] = 0;
        }
    }
}

/* Products of at most SMALL_M rows (the recurrent product of a batch) run
 * each B panel against all row tiles while it is in L1: B, the weight
 * matrix, is read once per product instead of once per tile. */
#define SMALL_M (4 * MR)

/* The packing buffers, in the caller's scratch (GEMM_SCRATCH_FLOATS): op(B)'s
 * block first, then op(A)'s tiles, both 64-byte aligned when it is. */
#define BBUF ((size_t)NC * KC)
#define ABUF ((size_t)SMALL_M * KC)
_Static_assert(GEMM_SCRATCH_FLOATS == BBUF + ABUF, "gemm.h's scratch size");
_Static_assert(BBUF % 16 == 0, "op(A)'s buffer 64-byte aligned");

/* The K-deep slices: at most KC, and no thin last slice. */
static inline int slice(int K, int p0)
{
    int kc = K - p0 < KC ? K - p0 : KC;
    if (K - p0 > KC && K - p0 < 2 * KC)
        kc = (K - p0 + 1) / 2;
    return kc;
}

/* Row tile ip of op(A)[.., p0..p0+kc): a full tile of A is read in place
 * (rows layout); A^T and edge tiles are packed (zero-padded) at out. */
static int a_tile(int trans_a, int M, int ip, int kc, const float *A, int lda, int p0, float *out, const float **a,
                  ptrdiff_t *as)
{
    int mr = M - ip < MR ? M - ip : MR;
    if (mr < MR || trans_a) {
        pack_a(trans_a, A, lda, ip, p0, mr, kc, out);
        *a = out;
        *as = MR;
        return 0;
    }
    *a = A + (size_t)ip * lda + p0;
    *as = lda;
    return 1;
}

static inline void tile(int rows, int kc, const float *a, ptrdiff_t as, const float *b, ptrdiff_t bs, float *c,
                        int ldc, int mr, int nr, int acc)
{
    if (rows)
        kernel_rows(kc, a, as, b, bs, c, ldc, nr, acc);
    else if (mr <= 8)
        kernel_strided8(kc, a, as, b, bs, c, ldc, mr, nr, acc);
    else
        kernel_strided(kc, a, as, b, bs, c, ldc, mr, nr, acc);
}

/* C[0..M, 0..nc) (+)= op(A)[.., p0..p0+kc) times a kc x nc block of B whose
 * NR-wide panel p starts at bp + p*bpanel, rows bs apart. */
static void macro(int trans_a, int M, int nc, int kc, const float *A, int lda, int p0, const float *bp, ptrdiff_t bs,
                  ptrdiff_t bpanel, int acc, float *C, int ldc, float *abuf)
{
    if (M <= SMALL_M) {
        const float *a[SMALL_M / MR];
        ptrdiff_t as[SMALL_M / MR];
        int rows[SMALL_M / MR], tiles = 0;
        for (int ip = 0; ip < M; ip += MR, tiles++)
            rows[tiles] = a_tile(trans_a, M, ip, kc, A, lda, p0, abuf + (size_t)ip * kc, &a[tiles], &as[tiles]);
        for (int jp = 0; jp < nc; jp += NR) {
            int nr = nc - jp < NR ? nc - jp : NR;
            for (int t = 0; t < tiles; t++) {
                int mr = M - t * MR < MR ? M - t * MR : MR;
                tile(rows[t], kc, a[t], as[t], bp + (jp / NR) * bpanel, bs, C + (size_t)t * MR * ldc + jp, ldc, mr,
                     nr, acc);
            }
        }
        return;
    }
    for (int ip = 0; ip < M; ip += MR) {
        int mr = M - ip < MR ? M - ip : MR;
        const float *a;
        ptrdiff_t as;
        int rows = a_tile(trans_a, M, ip, kc, A, lda, p0, abuf, &a, &as);
        for (int jp = 0; jp < nc; jp += NR) {
            int nr = nc - jp < NR ? nc - jp : NR;
            tile(rows, kc, a, as, bp + (jp / NR) * bpanel, bs, C + (size_t)ip * ldc + jp, ldc, mr, nr, acc);
        }
    }
}

static void zero_c(int M, int N, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof *C);
}

void gemm_f32_avx512(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb, int accumulate, float *C, int ldc, float *scratch)
{
    float *bbuf = scratch, *abuf = scratch + BBUF;
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
            if (trans_b)
                pack_bt(B, ldb, p0, j0, kc, nc, bbuf);
            else
                pack_b(B, ldb, p0, j0, kc, nc, bbuf);
            macro(trans_a, M, nc, kc, A, lda, p0, bbuf, NR, (ptrdiff_t)NR * kc, acc, C + j0, ldc, abuf);
        }
    }
}

size_t gemm_packed_size(int N, int K) { return (size_t)((N + NR - 1) / NR) * NR * (size_t)K; }

void gemm_pack_bt(const float *B, int ldb, int N, int K, float *out)
{
    for (int jp = 0; jp < N; jp += NR)
        pack_bt_panel(B + (size_t)jp * ldb, ldb, N - jp < NR ? N - jp : NR, K, out + (size_t)jp * K);
}

void gemm_pack_b(const float *B, int ldb, int K, int N, float *out)
{
    for (int jp = 0; jp < N; jp += NR) {
        int cols = N - jp < NR ? N - jp : NR;
        float *o = out + (size_t)jp * K;
        for (int k = 0; k < K; k++) {
            float *ok = o + (size_t)k * NR;
            memcpy(ok, B + (size_t)k * ldb + jp, (size_t)cols * sizeof *ok);
            for (int j = cols; j < NR; j++)
                ok[j] = 0;
        }
    }
}

void gemm_f32_avx512_packed(int M, int N, int K, const float *A, int lda, const float *Bp, int kpanel, int accumulate,
                            float *C, int ldc, float *scratch)
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
        macro(0, M, N, kc, A, lda, p0, Bp + (size_t)p0 * NR, NR, (ptrdiff_t)NR * kpanel, accumulate || p0 > 0, C, ldc,
              scratch + BBUF);
    }
}

/* ---- one to four rows against B^T ----
 * Memory-bound: each of B's rows is read once, as dot products with A's
 * rows, four rows of B at a time, vectorised along k.  (The sums run in
 * another order than the 12 x 32 kernel's, so a product of a few rows can
 * differ from the same rows inside a larger product in the last bits.) */
AVX512 static inline __attribute__((always_inline)) void gemv_rows(const int M, int N, int K, const float *A, int lda,
                                                                    const float *B, int ldb, int acc, float *C,
                                                                    int ldc, int reverse)
{
    const int groups = (N + 3) / 4;
    for (int g = 0; g < groups; g++) {
        const int n = 4 * (reverse ? groups - 1 - g : g), rows = N - n < 4 ? N - n : 4;
        const float *w[4];
        for (int r = 0; r < 4; r++)
            w[r] = B + (size_t)(n + (r < rows ? r : 0)) * ldb;
        __m512 s[4][4];
        for (int m = 0; m < M; m++)
            for (int r = 0; r < 4; r++)
                s[m][r] = _mm512_setzero_ps();
        int k = 0;
        for (; k + 16 <= K; k += 16) {
            __m512 w0 = _mm512_loadu_ps(w[0] + k), w1 = _mm512_loadu_ps(w[1] + k);
            __m512 w2 = _mm512_loadu_ps(w[2] + k), w3 = _mm512_loadu_ps(w[3] + k);
            for (int m = 0; m < M; m++) {
                __m512 x = _mm512_loadu_ps(A + (size_t)m * lda + k);
                s[m][0] = _mm512_fmadd_ps(x, w0, s[m][0]);
                s[m][1] = _mm512_fmadd_ps(x, w1, s[m][1]);
                s[m][2] = _mm512_fmadd_ps(x, w2, s[m][2]);
                s[m][3] = _mm512_fmadd_ps(x, w3, s[m][3]);
            }
        }
        if (k < K) { /* the last k, masked */
            const __mmask16 mk = (__mmask16)((1u << (K - k)) - 1);
            __m512 w0 = _mm512_maskz_loadu_ps(mk, w[0] + k), w1 = _mm512_maskz_loadu_ps(mk, w[1] + k);
            __m512 w2 = _mm512_maskz_loadu_ps(mk, w[2] + k), w3 = _mm512_maskz_loadu_ps(mk, w[3] + k);
            for (int m = 0; m < M; m++) {
                __m512 x = _mm512_maskz_loadu_ps(mk, A + (size_t)m * lda + k);
                s[m][0] = _mm512_fmadd_ps(x, w0, s[m][0]);
                s[m][1] = _mm512_fmadd_ps(x, w1, s[m][1]);
                s[m][2] = _mm512_fmadd_ps(x, w2, s[m][2]);
                s[m][3] = _mm512_fmadd_ps(x, w3, s[m][3]);
            }
        }
        for (int m = 0; m < M; m++)
            for (int r = 0; r < rows; r++) {
                float t = _mm512_reduce_add_ps(s[m][r]);
                float *c = C + (size_t)m * ldc + n + r;
                *c = acc ? *c + t : t;
            }
    }
}

AVX512 void gemv_f32_avx512(int M, int N, int K, const float *A, int lda, const float *B, int ldb, int accumulate,
                            float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (!accumulate)
            zero_c(M, N, C, ldc);
        return;
    }
    switch (M) {
    case 1: gemv_rows(1, N, K, A, lda, B, ldb, accumulate, C, ldc, 0); break;
    case 2: gemv_rows(2, N, K, A, lda, B, ldb, accumulate, C, ldc, 0); break;
    case 3: gemv_rows(3, N, K, A, lda, B, ldb, accumulate, C, ldc, 0); break;
    default: gemv_rows(4, N, K, A, lda, B, ldb, accumulate, C, ldc, 0); break;
    }
}

AVX512 void gemv1_f32_avx512(int N, int K, const float *x, const float *B, int ldb, float *y, int reverse)
{
    if (N <= 0)
        return;
    if (K <= 0) {
        zero_c(1, N, y, N);
        return;
    }
    gemv_rows(1, N, K, x, K, B, ldb, 0, y, N, reverse);
}
