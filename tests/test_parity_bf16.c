/* The parity test (test_parity.c) with the model's products in bfloat16
 * (recur_model_set_precision), on the best kernel this CPU has
 * (RECUR_BF16=portable|avx512bf16 lowers it; RECUR_SIMD=portable too):
 * forward outputs, states and every gradient against PyTorch's float64
 * references within a tolerance derived from bfloat16's 8-bit significand.
 * make does not track the #include: after editing test_parity.c, touch
 * this file. */
#define PARITY_BF16 1
#include "test_parity.c"
