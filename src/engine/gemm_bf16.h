/*
 * gemm_bf16.h - matrix products in bfloat16 with float32 accumulation
 * (mixed-precision training), on three kernels chosen at run time:
 *
 *   amx        Intel AMX tiles (_tile_dpbf16ps), after the kernel grants
 *              the process the tile data (arch_prctl ARCH_REQ_XCOMP_PERM);
 *   avx512bf16 vdpbf16ps on zmm registers (Intel Cooper Lake and later,
 *              AMD Zen 4 and later);
 *   portable   C: the same rounded inputs multiplied and summed in float,
 *              so the path can be tested on any CPU.
 *
 * Every kernel reads the same operands: the inputs rounded to bfloat16 once
 * (round to nearest even, subnormals to signed zero: what the units do with
 * them anyway), so the kernels differ only in the order of the float sums.
 * The product of two bfloat16 values is exact in float.
 *
 * Layouts: A is row-major bfloat16, rows lda apart, columns past K up to
 * bf16_kpad(K) zero, rows readable up to bf16_a_rows(M) (tiles are computed
 * whole; only the real rows are stored).  op(B) (K x N) is packed in panels
 * of 16 columns, each [k/2][16][2] (pairs of k per column: AMX's and
 * vdpbf16ps's layout); element (k0, j0) of the packing, k0 even and j0 a
 * multiple of 16, starts a sub-matrix usable as op(B) of a product of K'
 * rows as long as k0 + bf16_kpad(K') <= kst.
 */
#ifndef RECUR_GEMM_BF16_H
#define RECUR_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

typedef enum { BF16_PORTABLE = 0, BF16_AVX512 = 1, BF16_AMX = 2 } bf16_kernel;

/* The best kernel this CPU and kernel allow, lowered by RECUR_SIMD (below
 * avx512: portable) and by RECUR_BF16=portable|avx512bf16|amx. */
bf16_kernel bf16_kernel_best(void);
/* 1 when kernel k can run here (for tests: each one they can). */
int bf16_kernel_available(bf16_kernel k);
const char *bf16_kernel_name(bf16_kernel k);

uint16_t bf16_from_float(float x);
float bf16_to_float(uint16_t b);
/* out[i] = bf16_from_float(x[i]); here and in the packings on the CPU's
 * own conversion (vcvtneps2bf16) where it has AVX512-BF16, which gives the
 * same bits. */
void bf16_round(const float *x, uint16_t *out, size_t n);

/* For tests: allow (1) or forbid (0) the packings and bf16_round the CPU's
 * conversion instruction; returns 1 when this CPU has it. */
int bf16_native_rounding(int allow);

#define BF16_PANEL 16
static inline int bf16_kpad(int K) { return (K + 31) / 32 * 32; }
/* Rows of A a product of M rows may read. */
static inline int bf16_a_rows(int M) { return (M + 31) / 32 * 32 + 16; }
/* k rows stored per panel of a packing of K rows (room for a slice). */
static inline int bf16_kst(int K) { return bf16_kpad(K) + 32; }
/* Elements of a packing of op(B) (K x N). */
size_t bf16_packed_elems(int K, int N);
/* Elements between two panels of that packing. */
static inline size_t bf16_panel_stride(int K) { return (size_t)bf16_kst(K) * BF16_PANEL; }

/* Packs op(B) (K x N; B is N x K when trans_b, else K x N, rows ldb apart). */
void bf16_pack_b(int trans_b, int K, int N, const float *B, int ldb, uint16_t *out);
/* The same for columns [j0, j1) of op(B) only (j0, j1 multiples of 16 or
 * j1 = N): the panels of that range, for packing over threads. */
void bf16_pack_b_cols(int trans_b, int K, int N, const float *B, int ldb, uint16_t *out, int j0, int j1);
/* Converts rows [i0, i1) of op(A) (M x K; A is K x M when trans_a) into
 * out (rows lda_out >= bf16_kpad(K) apart, padding zero); with i1 = M, also
 * zeroes the rows up to bf16_a_rows(M). */
void bf16_pack_a(int trans_a, int M, int K, const float *A, int lda, uint16_t *out, int lda_out, int i0, int i1);

/* C (M x N) (+)= A op(B) on the given kernel, on the calling thread.  Bp
 * points at the packing's panel of column 0 (and k row 0), panels pstride
 * elements apart.  trans_c: C is stored transposed, element (i, j) of the
 * product at C[j * ldc + i]. */
void bf16_gemm(bf16_kernel kind, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *Bp, size_t pstride,
               int accumulate, int trans_c, float *C, int ldc);

/* ---- a pass's products in bfloat16 ----
 * The run packs every weight matrix a pass multiplies once (recur_forward:
 * once per optimiser step in training) into a bf16_products set and makes it
 * the threads' context (threads.h par_set_context) for the pass; recur_gemm
 * and recur_gemm_serial then run in bfloat16, reading a weight operand from
 * its packing (found by its address, also a slice of it) and rounding the
 * other operand, and an operand not packed, at each product. */
typedef struct bf16_weight {
    const float *W;     /* the float matrix the products name */
    int trans, K, N, ld; /* op(W) is K x N: W is N x K (trans) or K x N, rows ld apart */
    uint16_t *packed;
    size_t cap;         /* elements allocated */
} bf16_weight;

typedef struct bf16_products {
    bf16_kernel kernel;
    int n, cap;
    bf16_weight *w;
} bf16_products;

/* Empties the set (keeps its buffers) and picks the kernel. */
void bf16_products_reset(bf16_products *p);
/* Packs op(W) into the set, over the threads; 0 when out of memory. */
int bf16_products_add(bf16_products *p, int trans, int K, int N, const float *W, int ld);
void bf16_products_free(bf16_products *p);
/* The context's product, what recur_gemm (threaded) and recur_gemm_serial
 * (not) run while a set is the context: C (+)= op(A) op(B), alpha 1.  0:
 * it did not run (out of memory), the caller multiplies in float. */
int bf16_product(const bf16_products *p, int threaded, int trans_a, int trans_b, int M, int N, int K, const float *A,
                 int lda, const float *B, int ldb, int accumulate, float *C, int ldc);
#endif
