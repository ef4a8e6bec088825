/*
 * dropout.h - inverted dropout masks, drawn on recur's threads.
 *
 * mask[i] = 0 with probability p, else 1/(1-p), and dst[i] = src[i] *
 * mask[i] (dst may be src).  Element pair q takes its two 32-bit uniforms
 * from one SplitMix64 output for key + (q+1) * golden gamma, so the mask
 * depends only on key (one word of the model's generator), never on the
 * number of threads that draw it.
 */
#ifndef RECUR_DROPOUT_H
#define RECUR_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "model_internal.h"

void dropout_draw(uint64_t key, float p, recur_real *mask, recur_real *dst, const recur_real *src, size_t n);

/* The mask of a share of a larger tensor: the local tensor's `rows` rows of
 * row_len elements are, in the global tensor, rows of `stride` elements
 * starting `offset` in (a rank's streams [first, first + B) of a (T, Bg, W)
 * tensor: row_len = B W, stride = Bg W, offset = first W).  Each element
 * gets the value dropout_draw gives its global position, so ranks that each
 * draw their share draw together what one process draws for all. */
void dropout_draw_share(uint64_t key, float p, recur_real *mask, recur_real *dst,
                        const recur_real *src, size_t rows, size_t row_len, size_t stride,
                        size_t offset);

#endif
