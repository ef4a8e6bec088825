/*
 * gemm_bf16.c - the bfloat16 kernels of gemm_bf16.h: rounding, packing, and
 * the products on AMX tiles, on vdpbf16ps, and in portable C.
 *
 * AMX: a block of C of up to 32 x 32 in four 16 x 16 float tiles (tmm0-3),
 * A in two 16 x 32 bfloat16 tiles (tmm4-5) read in place, op(B) in two
 * tiles of 16 k-pairs x 16 columns (tmm6-7), each a contiguous 1 KiB of a
 * panel, prefetched two k-steps ahead.  A whole tile of C loads from and
 * stores to C; edge tiles, and C stored transposed, go through a buffer on
 * the stack.  vdpbf16ps: 12 x 32 of C in 24 zmm registers, like the float
 * kernel of gemm_avx512.c, one k-pair per step.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "gemm_bf16.h"
#include "simd.h"

uint16_t bf16_from_float(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t e = u & 0x7F800000u;
    if (e == 0) /* zero or subnormal: signed zero */
        return (uint16_t)((u >> 16) & 0x8000u);
    if (e == 0x7F800000u) /* infinity stays; NaN stays NaN (quiet) */
        return (uint16_t)((u >> 16) | ((u & 0x7FFFFFu) ? 0x40u : 0));
    u += 0x7FFFu + ((u >> 16) & 1u); /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

float bf16_to_float(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* ---- detection ---- */

#if defined(__x86_64__)
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int has_avx512bf16, has_amx;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

static void detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return;
    int amx_bits = (d >> 24 & 1) && (d >> 22 & 1); /* AMX-TILE, AMX-BF16 */
    unsigned a1 = 0, b1, c1, d1;
    if (a >= 1)
        __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    has_avx512bf16 = (a1 >> 5) & 1;
    if (amx_bits && (__get_cpuid(1, &a, &b, &c, &d), (c >> 27) & 1)) { /* OSXSAVE */
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        int os_tiles = ((lo >> 17) & 3) == 3; /* XTILECFG, XTILEDATA enabled by the OS */
        /* Linux hands out the tile state only on request (a refusal is a
         * kernel or a sandbox without it: the other kernels run) */
        has_amx = os_tiles && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    }
}
#endif

int bf16_kernel_available(bf16_kernel k)
{
    if (k == BF16_PORTABLE)
        return 1;
#if defined(__x86_64__)
    pthread_once(&detect_once, detect);
    if (simd_level() < SIMD_AVX512)
        return 0;
    return k == BF16_AVX512 ? has_avx512bf16 : k == BF16_AMX ? has_amx : 0;
#else
    return 0;
#endif
}

const char *bf16_kernel_name(bf16_kernel k)
{
    return k == BF16_AMX ? "amx" : k == BF16_AVX512 ? "avx512bf16" : "portable";
}

bf16_kernel bf16_kernel_best(void)
{
    bf16_kernel cap = BF16_AMX;
    const char *env = getenv("RECUR_BF16");
    if (env && !strcasecmp(env, "portable"))
        cap = BF16_PORTABLE;
    else if (env && !strcasecmp(env, "avx512bf16"))
        cap = BF16_AVX512;
    for (int k = cap; k > BF16_PORTABLE; k--)
        if (bf16_kernel_available((bf16_kernel)k))
            return (bf16_kernel)k;
    return BF16_PORTABLE;
}

/* ---- rounding and packing ---- */

#if defined(__x86_64__)
/* The packings may run vcvtneps2bf16 (AVX512-BF16); they take the branch
 * that uses it only where the CPU has it. */
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* 1: round with the CPU's vcvtne(2)ps2bf16, which gives the bits of
 * bf16_from_float (nearest even, subnormals to signed zero, NaN quieted);
 * 0: by the integer steps of round16.  Set once, lowered by tests. */
static int native_allowed = 1;

static int native_rounding(void)
{
    return native_allowed && bf16_kernel_available(BF16_AVX512);
}

/* Rounds 16 floats as bf16_from_float does, each result in the low half of
 * its 32-bit lane. */
AVX512 static inline __attribute__((always_inline)) __m512i round16(__m512 x)
{
    const __m512i u = _mm512_castps_si512(x);
    const __m512i e = _mm512_and_si512(u, _mm512_set1_epi32(0x7F800000));
    const __m512i hi = _mm512_srli_epi32(u, 16);
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF),
                                                     _mm512_and_si512(hi, _mm512_set1_epi32(1))));
    r = _mm512_srli_epi32(r, 16);
    const __mmask16 tiny = _mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512());
    const __mmask16 special = _mm512_cmpeq_epi32_mask(e, _mm512_set1_epi32(0x7F800000));
    const __mmask16 nan = _mm512_mask_test_epi32_mask(special, u, _mm512_set1_epi32(0x7FFFFF));
    r = _mm512_mask_mov_epi32(r, tiny, _mm512_and_si512(hi, _mm512_set1_epi32(0x8000)));
    r = _mm512_mask_mov_epi32(r, special, hi);
    r = _mm512_mask_or_epi32(r, nan, r, _mm512_set1_epi32(0x40));
    return r;
}

/* 16 floats rounded to 16 bfloat16 values, in order. */
AVX512 static inline __attribute__((always_inline)) __m256i cvt16(__m512 x, int native)
{
    return native ? (__m256i)_mm512_cvtneps_pbh(x) : _mm512_cvtepi32_epi16(round16(x));
}

/* 32 floats (lo, then hi) rounded to 32 bfloat16 values, in order. */
AVX512 static inline __attribute__((always_inline)) __m512i cvt32(__m512 lo, __m512 hi, int native)
{
    if (native)
        return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(round16(lo))),
                              _mm512_cvtepi32_epi16(round16(hi)), 1);
}

AVX512 static void round_avx512(const float *x, uint16_t *out, size_t n)
{
    const int native = native_rounding();
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        _mm512_storeu_si512(out + i, cvt32(_mm512_loadu_ps(x + i), _mm512_loadu_ps(x + i + 16), native));
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_epi16(out + i, (__mmask32)m, _mm512_castsi256_si512(cvt16(_mm512_maskz_loadu_ps(m, x + i), native)));
    }
}

/* Panels [j0, j1) of op(B) = B (K x N) (j0 a multiple of 16), a pair of
 * rows of B at a time: row k of panel p is the dwords bf16(B[k][j+c]) |
 * bf16(B[k+1][j+c]) << 16.  Each pair of rows is read once, in order (a
 * panel at a time would read 64 bytes of every row, ldb apart, a pattern the
 * prefetchers do not follow); each store fills a whole cache line. */
AVX512 static void pack_b_avx512(int K, int N, const float *B, int ldb, uint16_t *out, size_t ps, int j0, int j1,
                                 int kst)
{
    const int native = native_rounding();
    /* word 2c <- row k's c, word 2c + 1 <- row k+1's c (at 16 + c) */
    __m512i interleave;
    {
        uint16_t idx[32];
        for (int c = 0; c < 16; c++) {
            idx[2 * c] = (uint16_t)c;
            idx[2 * c + 1] = (uint16_t)(16 + c);
        }
        interleave = _mm512_loadu_si512(idx);
    }
    for (int k = 0; k < kst; k += 2) {
        const float *r0 = k < K ? B + (size_t)k * ldb : NULL, *r1 = k + 1 < K ? B + (size_t)(k + 1) * ldb : NULL;
        uint16_t *o = out + (size_t)(j0 / BF16_PANEL) * ps + (size_t)k * BF16_PANEL;
        for (int j = j0; j < j1; j += BF16_PANEL, o += ps) {
            const int cols = N - j < BF16_PANEL ? N - j : BF16_PANEL;
            const __mmask16 m = (__mmask16)((1u << cols) - 1);
            const __m512 lo = r0 ? _mm512_maskz_loadu_ps(m, r0 + j) : _mm512_setzero_ps();
            const __m512 hi = r1 ? _mm512_maskz_loadu_ps(m, r1 + j) : _mm512_setzero_ps();
            _mm512_storeu_si512(o, _mm512_permutexvar_epi16(interleave, cvt32(lo, hi, native)));
        }
    }
}

/* The 16 x 16 block of 32-bit values r[0..15] transposed in place (the
 * unpack and lane-shuffle rounds of gemm_avx512.c's transpose16_regs). */
AVX512 static inline __attribute__((always_inline)) void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    __m512 o[16];
    for (int c = 0; c < 4; c++) {
        __m512 x0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44), x1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
        __m512 y0 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44);
        __m512 y1 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
        o[0 + c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
        o[4 + c] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
        o[8 + c] = _mm512_shuffle_f32x4(x1, y1, 0x88);
        o[12 + c] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
    }
    for (int i = 0; i < 16; i++)
        r[i] = o[i];
}

/* A panel of B^T (B is N x K): 16 rows of B from src (ldb apart), their
 * k-pairs [0, k1) (k1 a multiple of 32) as dwords, transposed to [k/2][16]. */
AVX512 static void pack_bt_panel_avx512(const float *src, int ldb, int k1, uint16_t *o)
{
    const int native = native_rounding();
    for (int k = 0; k < k1; k += 32) {
        __m512 r[16];
        for (int c = 0; c < 16; c++) {
            const float *row = src + (size_t)c * ldb + k;
            /* dword i: the pair (k + 2i, k + 2i + 1) */
            r[c] = _mm512_castsi512_ps(cvt32(_mm512_loadu_ps(row), _mm512_loadu_ps(row + 16), native));
        }
        transpose16(r);
        for (int i = 0; i < 16; i++)
            _mm512_storeu_si512(o + (size_t)(k / 2 + i) * 32, _mm512_castps_si512(r[i]));
    }
}

/* Rows [i0, i1) of op(A) = A^T (A is K x M; i1 - i0 a multiple of 16),
 * k in [0, k1) (k1 a multiple of 16): 16 x 16 blocks transposed, then
 * rounded.  k runs outermost, 32 rows of A at a time, so A is read row by
 * row and each row of the output gets a whole cache line at once. */
AVX512 static void pack_at_avx512(const float *A, int lda, int i0, int i1, int k1, uint16_t *out, int lda_out)
{
    const int native = native_rounding();
    for (int kb = 0; kb < k1; kb += 32)
        for (int ib = i0; ib < i1; ib += 16)
            for (int k = kb; k < kb + 32 && k < k1; k += 16) {
                __m512 r[16];
                for (int kk = 0; kk < 16; kk++)
                    r[kk] = _mm512_loadu_ps(A + (size_t)(k + kk) * lda + ib);
                transpose16(r); /* r[i]: row ib + i of op(A), columns k..k+15 */
                for (int i = 0; i < 16; i++)
                    _mm256_storeu_si256((__m256i *)(out + (size_t)(ib + i) * lda_out + k), cvt16(r[i], native));
            }
}

/* merge's transposed store (gemm_bf16.c's kernels): C[j][i] (+)= t[i][j]
 * for the mr x nr block t (rows 32 apart, rows up to the next multiple of
 * 16 readable), 16 x 16 blocks transposed in registers. */
AVX512 static void merge_t_avx512(const float *t, int mr, int nr, int accumulate, float *C, int ldc)
{
    for (int i0 = 0; i0 < mr; i0 += 16)
        for (int j0 = 0; j0 < nr; j0 += 16) {
            const int ni = mr - i0 < 16 ? mr - i0 : 16, nj = nr - j0 < 16 ? nr - j0 : 16;
            const __mmask16 m = (__mmask16)((1u << ni) - 1);
            __m512 r[16];
            for (int a = 0; a < 16; a++)
                r[a] = _mm512_loadu_ps(t + (size_t)(i0 + a) * 32 + j0);
            transpose16(r); /* r[b]: column j0 + b of t, rows i0.. */
            for (int b = 0; b < nj; b++) {
                float *c = C + (size_t)(j0 + b) * ldc + i0;
                __m512 v = r[b];
                if (accumulate)
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
                _mm512_mask_storeu_ps(c, m, v);
            }
        }
}
#endif

int bf16_native_rounding(int allow)
{
#if defined(__x86_64__)
    native_allowed = allow;
    return bf16_kernel_available(BF16_AVX512);
#else
    (void)allow;
    return 0;
#endif
}

void bf16_round(const float *x, uint16_t *out, size_t n)
{
#if defined(__x86_64__)
    if (simd_level() == SIMD_AVX512) {
        round_avx512(x, out, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = bf16_from_float(x[i]);
}

size_t bf16_packed_elems(int K, int N)
{
    return (size_t)((N + BF16_PANEL - 1) / BF16_PANEL) * bf16_panel_stride(K);
}

void bf16_pack_b_cols(int trans_b, int K, int N, const float *B, int ldb, uint16_t *out, int j0, int j1)
{
    const int kst = bf16_kst(K);
    const size_t ps = bf16_panel_stride(K);
#if defined(__x86_64__)
    if (!trans_b && simd_level() == SIMD_AVX512) {
        pack_b_avx512(K, N, B, ldb, out, ps, j0, j1, kst);
        return;
    }
#endif
    for (int j = j0; j < j1; j += BF16_PANEL) {
        uint16_t *o = out + (size_t)(j / BF16_PANEL) * ps;
        const int cols = N - j < BF16_PANEL ? N - j : BF16_PANEL;
        if (!trans_b) {
            for (int k = 0; k < kst; k++)
                for (int c = 0; c < BF16_PANEL; c++)
                    o[(size_t)(k / 2) * 32 + 2 * c + (k & 1)] =
                        k < K && c < cols ? bf16_from_float(B[(size_t)k * ldb + j + c]) : 0;
            continue;
        }
        /* B^T: column c of op(B) is row j + c of B, its pairs adjacent */
        int k0 = 0;
#if defined(__x86_64__)
        if (cols == BF16_PANEL && simd_level() == SIMD_AVX512) {
            k0 = K / 32 * 32;
            pack_bt_panel_avx512(B + (size_t)j * ldb, ldb, k0, o);
        }
#endif
        memset(o + (size_t)k0 * BF16_PANEL, 0, (ps - (size_t)k0 * BF16_PANEL) * sizeof *o);
        for (int c = 0; c < cols; c++) {
            const float *row = B + (size_t)(j + c) * ldb;
            for (int k = k0; k < K; k++)
                o[(size_t)(k / 2) * 32 + 2 * c + (k & 1)] = bf16_from_float(row[k]);
        }
    }
}

void bf16_pack_b(int trans_b, int K, int N, const float *B, int ldb, uint16_t *out)
{
    bf16_pack_b_cols(trans_b, K, N, B, ldb, out, 0, N);
}

void bf16_pack_a(int trans_a, int M, int K, const float *A, int lda, uint16_t *out, int lda_out, int i0, int i1)
{
    const int kp = bf16_kpad(K);
    if (!trans_a) {
        for (int i = i0; i < i1; i++) {
            bf16_round(A + (size_t)i * lda, out + (size_t)i * lda_out, (size_t)K);
            memset(out + (size_t)i * lda_out + K, 0, (size_t)(kp - K) * sizeof *out);
        }
    } else { /* A is K x M: blocks of 16 rows of op(A) by 64 k, so the lines read stay in L1 */
        int vec_end = i0; /* rows [i0, vec_end) have k < K / 16 * 16 done */
#if defined(__x86_64__)
        if (simd_level() == SIMD_AVX512) {
            vec_end = i0 + (i1 - i0) / 16 * 16;
            pack_at_avx512(A, lda, i0, vec_end, K / 16 * 16, out, lda_out);
        }
#endif
        for (int ib = i0; ib < i1; ib += 16) {
            const int ie = i1 - ib < 16 ? i1 : ib + 16;
            const int k0 = ib < vec_end ? K / 16 * 16 : 0;
            for (int kb = k0; kb < K; kb += 64) {
                const int ke = K - kb < 64 ? K : kb + 64;
                for (int i = ib; i < ie; i++)
                    for (int k = kb; k < ke; k++)
                        out[(size_t)i * lda_out + k] = bf16_from_float(A[(size_t)k * lda + i]);
            }
            for (int i = ib; i < ie; i++)
                memset(out + (size_t)i * lda_out + K, 0, (size_t)(kp - K) * sizeof *out);
        }
    }
    if (i1 == M)
        for (int i = M; i < bf16_a_rows(M); i++)
            memset(out + (size_t)i * lda_out, 0, (size_t)kp * sizeof *out);
}

/* ---- kernels ---- */

/* Each C element: the k-pairs in order, a[2k] b[2k] + a[2k+1] b[2k+1] per pair. */
static void kernel_portable(int M, int N, int K, const uint16_t *A, int lda, const uint16_t *Bp, size_t ps,
                            int accumulate, int trans_c, float *C, int ldc)
{
    const int pairs = (K + 1) / 2;
    for (int j = 0; j < N; j += BF16_PANEL) {
        const uint16_t *b = Bp + (size_t)(j / BF16_PANEL) * ps;
        const int nr = N - j < BF16_PANEL ? N - j : BF16_PANEL;
        for (int i = 0; i < M; i++) {
            const uint16_t *a = A + (size_t)i * lda;
            float s[BF16_PANEL] = {0};
            for (int kk = 0; kk < pairs; kk++) {
                const float a0 = bf16_to_float(a[2 * kk]), a1 = bf16_to_float(a[2 * kk + 1]);
                const uint16_t *bk = b + (size_t)kk * 32;
                for (int c = 0; c < nr; c++) {
                    float p = a0 * bf16_to_float(bk[2 * c]); /* exact: 8-bit by 8-bit significands */
                    p += a1 * bf16_to_float(bk[2 * c + 1]);
                    s[c] += p;
                }
            }
            for (int c = 0; c < nr; c++) {
                float *ci = trans_c ? C + (size_t)(j + c) * ldc + i : C + (size_t)i * ldc + j + c;
                *ci = accumulate ? *ci + s[c] : s[c];
            }
        }
    }
}

#if defined(__x86_64__)
/* Adds (or stores) the mr x nr block t (rows 32 apart) into C, or its
 * transpose (trans_c: t[i][j] into C[j][i]; t's rows readable up to the
 * next multiple of 16). */
static void merge(const float *t, int mr, int nr, int accumulate, int trans_c, float *C, int ldc)
{
    if (trans_c) { /* only the AVX-512 and AMX kernels merge: AVX-512 is there */
        merge_t_avx512(t, mr, nr, accumulate, C, ldc);
        return;
    }
    for (int i = 0; i < mr; i++) {
        float *c = C + (size_t)i * ldc;
        const float *s = t + (size_t)i * 32;
        if (accumulate)
            for (int j = 0; j < nr; j++)
                c[j] += s[j];
        else
            memcpy(c, s, (size_t)nr * sizeof *c);
    }
}

#define BF16_AVX __attribute__((target("avx512f,avx512bw,avx512bf16")))
#define MR 12

/* 12 rows x (one or two panels) of C: sums over the k-pairs [0, pairs). */
/* The transposed store of avx_tile's block t (12 rows used, 16 allocated). */
static void merge_rows12(float *t, int mr, int nr, int accumulate, float *C, int ldc)
{
    memset(t + MR * 32, 0, sizeof(float) * (16 - MR) * 32); /* merge reads 16 rows */
    merge(t, mr, nr, accumulate, 1, C, ldc);
}

/* Inlined into its two callers, each with `two` constant and the loop over
 * rows unrolled, so the 24 accumulators stay in registers (called, the
 * function kept them on the stack: a load and a store per vdpbf16ps). */
BF16_AVX static inline __attribute__((always_inline)) void
avx_tile(int pairs, const uint16_t *a, int lda, const uint16_t *b0, const uint16_t *b1, int two, int mr, int nr,
         int accumulate, int trans_c, float *C, int ldc)
{
    __m512 acc[MR][2];
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int kk = 0; kk < pairs; kk++) {
        const __m512bh v0 = (__m512bh)_mm512_loadu_si512(b0 + (size_t)kk * 32);
        const __m512bh v1 = two ? (__m512bh)_mm512_loadu_si512(b1 + (size_t)kk * 32) : v0;
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            uint32_t pair;
            memcpy(&pair, a + (size_t)i * lda + 2 * kk, sizeof pair);
            const __m512bh x = (__m512bh)_mm512_set1_epi32((int)pair);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], x, v0);
            if (two)
                acc[i][1] = _mm512_dpbf16_ps(acc[i][1], x, v1);
        }
    }
    if (trans_c) { /* through a block on the stack, as the AMX kernel's */
        float t[16 * 32] __attribute__((aligned(64)));
        for (int i = 0; i < MR; i++) {
            _mm512_store_ps(t + (size_t)i * 32, acc[i][0]);
            _mm512_store_ps(t + (size_t)i * 32 + 16, acc[i][1]);
        }
        merge_rows12(t, mr, nr, accumulate, C, ldc);
        return;
    }
    const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
    for (int i = 0; i < mr; i++) {
        float *c = C + (size_t)i * ldc;
        __m512 x0 = acc[i][0], x1 = acc[i][1];
        if (accumulate) {
            x0 = _mm512_add_ps(x0, _mm512_maskz_loadu_ps(m0, c));
            x1 = _mm512_add_ps(x1, _mm512_maskz_loadu_ps(m1, c + 16));
        }
        _mm512_mask_storeu_ps(c, m0, x0);
        _mm512_mask_storeu_ps(c + 16, m1, x1);
    }
}

/* The two shapes of avx_tile the compiler should specialise (the loop over
 * k is the whole cost). */
BF16_AVX static void avx_tile2(int pairs, const uint16_t *a, int lda, const uint16_t *b0, const uint16_t *b1, int mr,
                               int nr, int accumulate, int trans_c, float *C, int ldc)
{
    avx_tile(pairs, a, lda, b0, b1, 1, mr, nr, accumulate, trans_c, C, ldc);
}
BF16_AVX static void avx_tile1(int pairs, const uint16_t *a, int lda, const uint16_t *b0, int mr, int nr,
                               int accumulate, int trans_c, float *C, int ldc)
{
    avx_tile(pairs, a, lda, b0, b0, 0, mr, nr, accumulate, trans_c, C, ldc);
}

/* Column blocks of op(B) that stay in L2 while every row tile passes. */
#define NB_PANELS 32

static void kernel_avx512(int M, int N, int K, const uint16_t *A, int lda, const uint16_t *Bp, size_t ps,
                          int accumulate, int trans_c, float *C, int ldc)
{
    const int pairs = (K + 1) / 2;
    const int panels = (N + BF16_PANEL - 1) / BF16_PANEL;
    for (int pb = 0; pb < panels; pb += NB_PANELS) {
        const int pe = panels - pb < NB_PANELS ? panels : pb + NB_PANELS;
        for (int i = 0; i < M; i += MR) {
            const int mr = M - i < MR ? M - i : MR;
            for (int p = pb; p < pe; p += 2) {
                const int j = p * BF16_PANEL, nr = N - j < 32 ? N - j : 32;
                const uint16_t *b0 = Bp + (size_t)p * ps;
                float *c = trans_c ? C + (size_t)j * ldc + i : C + (size_t)i * ldc + j;
                if (nr > BF16_PANEL)
                    avx_tile2(pairs, A + (size_t)i * lda, lda, b0, b0 + ps, mr, nr, accumulate, trans_c, c, ldc);
                else
                    avx_tile1(pairs, A + (size_t)i * lda, lda, b0, mr, nr, accumulate, trans_c, c, ldc);
            }
        }
    }
}
#undef MR

#define AMX __attribute__((target("amx-tile,amx-bf16,avx512f")))

typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* Rows [r0, r1) and columns [c0, c1) of the 32 x 32 block t into C, as
 * merge does. */
static void merge_part(const float *t, int r0, int r1, int c0, int c1, int accumulate, int trans_c, float *C, int ldc)
{
    if (r1 > r0 && c1 > c0)
        merge(t + (size_t)r0 * 32 + c0, r1 - r0, c1 - c0, accumulate, trans_c,
              trans_c ? C + (size_t)c0 * ldc + r0 : C + (size_t)r0 * ldc + c0, ldc);
}

/* C[0..mr, 0..nr) (+)= A (rows lda apart) times the panels b0, b1 (b1 used
 * when nr > 16), K (a multiple of 32) deep.  A 16 x 16 tile of C that lies
 * wholly in the block (and C not transposed) goes straight between C and
 * its tile register, C's values as the starting sums when accumulating;
 * the others through a buffer on the stack. */
AMX static void amx_block(int K, const uint16_t *A, int lda, const uint16_t *b0, const uint16_t *b1, int mr, int nr,
                          int accumulate, int trans_c, float *C, int ldc)
{
    const int m2 = mr > 16, n2 = nr > 16;
    const size_t as = (size_t)lda * sizeof *A, cs = (size_t)ldc * sizeof *C;
    const int d0 = !trans_c && mr >= 16 && nr >= 16, d1 = d0 && nr >= 32;
    const int d2 = d0 && mr >= 32, d3 = d1 && mr >= 32;
    float *c1 = C + 16, *c2 = C + (size_t)16 * ldc, *c3 = c2 + 16;
    if (d0 && accumulate)
        _tile_loadd(0, C, cs);
    else
        _tile_zero(0);
    if (d1 && accumulate)
        _tile_loadd(1, c1, cs);
    else
        _tile_zero(1);
    if (d2 && accumulate)
        _tile_loadd(2, c2, cs);
    else
        _tile_zero(2);
    if (d3 && accumulate)
        _tile_loadd(3, c3, cs);
    else
        _tile_zero(3);
    for (int k = 0; k < K; k += 32) {
        if (k + 64 < K) { /* the panels' tiles two steps ahead (tile loads are not prefetched) */
            const char *p0 = (const char *)(b0 + (size_t)(k + 64) * BF16_PANEL);
            const char *p1 = (const char *)(b1 + (size_t)(k + 64) * BF16_PANEL);
            for (int l = 0; l < 1024; l += 64) {
                _mm_prefetch(p0 + l, _MM_HINT_T0);
                if (n2)
                    _mm_prefetch(p1 + l, _MM_HINT_T0);
            }
        }
        _tile_loadd(4, A + k, as);
        _tile_loadd(6, b0 + (size_t)k * BF16_PANEL, 64);
        _tile_dpbf16ps(0, 4, 6);
        if (n2) {
            _tile_loadd(7, b1 + (size_t)k * BF16_PANEL, 64);
            _tile_dpbf16ps(1, 4, 7);
        }
        if (m2) {
            _tile_loadd(5, A + (size_t)16 * lda + k, as);
            _tile_dpbf16ps(2, 5, 6);
            if (n2)
                _tile_dpbf16ps(3, 5, 7);
        }
    }
    if (d0 && d1 && d2 && d3) {
        _tile_stored(0, C, cs);
        _tile_stored(1, c1, cs);
        _tile_stored(2, c2, cs);
        _tile_stored(3, c3, cs);
        return;
    }
    float t[32 * 32] __attribute__((aligned(64)));
    const int r1 = mr < 16 ? mr : 16, cl = nr < 16 ? nr : 16; /* the first row and column halves' ends */
    if (d0)
        _tile_stored(0, C, cs);
    else {
        _tile_stored(0, t, 128);
        merge_part(t, 0, r1, 0, cl, accumulate, trans_c, C, ldc);
    }
    if (d1)
        _tile_stored(1, c1, cs);
    else if (n2) {
        _tile_stored(1, t + 16, 128);
        merge_part(t, 0, r1, 16, nr, accumulate, trans_c, C, ldc);
    }
    if (d2)
        _tile_stored(2, c2, cs);
    else if (m2) {
        _tile_stored(2, t + 16 * 32, 128);
        merge_part(t, 16, mr, 0, cl, accumulate, trans_c, C, ldc);
    }
    if (d3)
        _tile_stored(3, c3, cs);
    else if (m2 && n2) {
        _tile_stored(3, t + 16 * 32 + 16, 128);
        merge_part(t, 16, mr, 16, nr, accumulate, trans_c, C, ldc);
    }
}

AMX static void kernel_amx(int M, int N, int K, const uint16_t *A, int lda, const uint16_t *Bp, size_t ps,
                           int accumulate, int trans_c, float *C, int ldc)
{
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    const int kp = bf16_kpad(K);
    const int panels = (N + BF16_PANEL - 1) / BF16_PANEL;
    for (int pb = 0; pb < panels; pb += NB_PANELS) {
        const int pe = panels - pb < NB_PANELS ? panels : pb + NB_PANELS;
        for (int i = 0; i < M; i += 32) {
            const int mr = M - i < 32 ? M - i : 32;
            for (int p = pb; p < pe; p += 2) {
                const int j = p * BF16_PANEL, nr = N - j < 32 ? N - j : 32;
                const uint16_t *b0 = Bp + (size_t)p * ps;
                float *c = trans_c ? C + (size_t)j * ldc + i : C + (size_t)i * ldc + j;
                amx_block(kp, A + (size_t)i * lda, lda, b0, b0 + ps, mr, nr, accumulate, trans_c, c, ldc);
            }
        }
    }
    _tile_release();
}
#endif

void bf16_gemm(bf16_kernel kind, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *Bp, size_t pstride,
               int accumulate, int trans_c, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < (trans_c ? N : M); i++)
                memset(C + (size_t)i * ldc, 0, (size_t)(trans_c ? M : N) * sizeof *C);
        return;
    }
#if defined(__x86_64__)
    if (kind == BF16_AMX && bf16_kernel_available(BF16_AMX)) {
        kernel_amx(M, N, K, A, lda, Bp, pstride, accumulate, trans_c, C, ldc);
        return;
    }
    if (kind >= BF16_AVX512 && bf16_kernel_available(BF16_AVX512)) {
        kernel_avx512(M, N, K, A, lda, Bp, pstride, accumulate, trans_c, C, ldc);
        return;
    }
#endif
    (void)kind;
    kernel_portable(M, N, K, A, lda, Bp, pstride, accumulate, trans_c, C, ldc);
}
