/*
 * quant_ref.h - the weights a stepper's int8 or bf16 copy holds
 * (recur_stepper_set_weights), made independently in double on a copy of
 * the model, so that a float32 computation on the copy is the reference
 * for the quantised one (test_stepper_quant, test_lm_stepped):
 *   int8: scale = max |row| / 127, w' = scale * nearbyint(w / scale);
 *   bf16: w rounded to 8 significant bits (frexp and nearbyint in double).
 */
#ifndef RECUR_TEST_QUANT_REF_H
#define RECUR_TEST_QUANT_REF_H

#include <math.h>
#include <stdio.h>

#include "recur.h"

static inline float bf16_ref(float x)
{
    if (x == 0 || fabsf(x) < 0x1p-126f)
        return 0;
    int e;
    double m = frexp((double)x, &e);
    return (float)ldexp(nearbyint(m * 256.0), e - 8);
}

/* Replaces every row of the matrix (rows x k) by its quantised value. */
static inline void quantise(float *W, int rows, int k, recur_precision p)
{
    for (int i = 0; i < rows; i++) {
        float *w = W + (size_t)i * k, mx = 0;
        for (int j = 0; j < k; j++)
            mx = fmaxf(mx, fabsf(w[j]));
        const float s = mx / 127.0f;
        for (int j = 0; j < k; j++)
            w[j] = p == RECUR_PRECISION_INT8 ? (s > 0 ? s * nearbyintf(w[j] / s) : 0) : bf16_ref(w[j]);
    }
}

static inline void quantise_tensor(recur_model *m, const char *name, recur_precision p)
{
    recur_tensor_info t;
    if (recur_model_find_tensor(m, name, &t) != RECUR_OK)
        return;
    quantise(t.data, (int)t.shape[0], (int)t.shape[1], p);
}

/* Quantises what the stepper quantises: every layer's recurrent (and
 * projection) weights, the decoder, and layer 0's input weights unless the
 * model reads them from its float table (a vocabulary no larger than the
 * embedding: character models). */
static inline void quantise_model(recur_model *m, recur_precision p)
{
    const recur_model_config *c = recur_model_get_config(m);
    for (int l = 0; l < c->rnn.num_layers; l++) {
        char name[64];
        snprintf(name, sizeof name, "rnn.weight_ih_l%d", l);
        if (l > 0 || c->vocab_size > c->embed_size)
            quantise_tensor(m, name, p);
        snprintf(name, sizeof name, "rnn.weight_hh_l%d", l);
        quantise_tensor(m, name, p);
        snprintf(name, sizeof name, "rnn.weight_hr_l%d", l);
        quantise_tensor(m, name, p);
    }
    quantise_tensor(m, "decoder.weight", p);
}

#endif
