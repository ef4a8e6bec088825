/*
 * test_stepper_quant.c - a stepper with int8 or bf16 weights
 * (recur_stepper_set_weights) against a float32 stepper on a copy of the
 * model whose weight matrices hold the same quantised values, made in
 * double (quant_ref.h).
 * The two then multiply the same numbers and differ only in the order of
 * the float sums: logits, outputs and states of twelve tokens within 2e-5
 * (relative, rel_err.h).  Against the model's own float weights they must
 * differ (the quantisation ran) but stay within what the rounding allows:
 * int8 and bf16 move each weight by up to 1/254 and 1/512 of its row's
 * largest (int8) or of itself (bf16).  LSTM (with a projection), GRU
 * (both forms) and tanh RNN; a vocabulary larger than the embedding (layer
 * 0's input product quantised) and smaller (its table stays float); 1 and 2
 * threads; every SIMD level.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "recur.h"
#include "quant_ref.h"
#include "rel_err.h"
#include "engine/simd.h"

typedef struct qcase {
    recur_cell cell;
    recur_gru_form form;
    int vocab, embed, hidden, proj, layers;
} qcase;

static void run_case(const qcase *c, recur_precision p, int threads)
{
    recur_set_num_threads(threads);
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.vocab_size = c->vocab;
    cfg.embed_size = c->embed;
    cfg.output_size = c->vocab;
    cfg.rnn.cell = c->cell;
    cfg.rnn.gru_form = c->form;
    cfg.rnn.input_size = c->embed;
    cfg.rnn.hidden_size = c->hidden;
    cfg.rnn.proj_size = c->proj;
    cfg.rnn.num_layers = c->layers;
    recur_model *m, *mq;
    recur_error err;
    assert_int_equal(recur_model_create(&m, &cfg, 3, &err), RECUR_OK);
    assert_int_equal(recur_model_create(&mq, &cfg, 3, &err), RECUR_OK);
    memcpy(recur_model_params(mq), recur_model_params(m), recur_model_num_params(m) * sizeof(float));
    quantise_model(mq, p);

    recur_stepper *sq, *sref, *sfloat;
    assert_int_equal(recur_stepper_create(&sq, m, &err), RECUR_OK);
    assert_int_equal(recur_stepper_create(&sref, mq, &err), RECUR_OK);
    assert_int_equal(recur_stepper_create(&sfloat, m, &err), RECUR_OK);
    assert_int_equal(recur_stepper_set_weights(sq, p), RECUR_OK);
    assert_int_equal(recur_stepper_weights(sq), p);
    const int L = c->layers, R = c->proj ? c->proj : c->hidden;
    double worst = 0, moved = 0;
    for (int t = 0; t < 12; t++) {
        int32_t tok = (int32_t)((t * 7 + 3) % c->vocab);
        assert_int_equal(recur_stepper_feed(sq, tok), RECUR_OK);
        assert_int_equal(recur_stepper_feed(sref, tok), RECUR_OK);
        assert_int_equal(recur_stepper_feed(sfloat, tok), RECUR_OK);
        worst = fmax(worst, rel_err(recur_stepper_logits(sq), recur_stepper_logits(sref), (size_t)c->vocab));
        worst = fmax(worst, rel_err(recur_stepper_h(sq), recur_stepper_h(sref), (size_t)L * R));
        worst = fmax(worst, rel_err(recur_stepper_outputs(sq), recur_stepper_outputs(sref), (size_t)R));
        moved = fmax(moved, rel_err(recur_stepper_logits(sq), recur_stepper_logits(sfloat), (size_t)c->vocab));
    }
    if (!(worst <= 2e-5))
        fail_msg("%s weights, cell %d, %d threads: %.3g from the float stepper on the quantised copy",
                 recur_precision_name(p), (int)c->cell, threads, worst);
    /* the quantisation ran, and moved the logits no further than it may */
    if (!(moved > 1e-5 && moved < (p == RECUR_PRECISION_INT8 ? 0.1 : 0.05)))
        fail_msg("%s weights, cell %d: logits moved by %.3g from the float weights", recur_precision_name(p),
                 (int)c->cell, moved);
    assert_int_equal(recur_stepper_set_weights(sq, RECUR_PRECISION_FP32), RECUR_OK);
    recur_stepper_free(sq);
    recur_stepper_free(sref);
    recur_stepper_free(sfloat);
    recur_model_free(m);
    recur_model_free(mq);
}

static void test_quantised_weights(void **state)
{
    (void)state;
    static const qcase cases[] = {
        {RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 90, 40, 70, 0, 2},  /* layer 0 quantised */
        {RECUR_CELL_LSTM, RECUR_GRU_RESET_AFTER, 30, 40, 70, 24, 2}, /* table, projection */
        {RECUR_CELL_GRU, RECUR_GRU_RESET_AFTER, 90, 33, 50, 0, 2},
        {RECUR_CELL_GRU, RECUR_GRU_RESET_BEFORE, 90, 33, 50, 0, 1},
        {RECUR_CELL_RNN_TANH, RECUR_GRU_RESET_AFTER, 90, 17, 45, 0, 3},
    };
    const int top = simd_level();
    for (int level = SIMD_PORTABLE; level <= top; level++) {
        simd_set_level(level);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
            for (int threads = 1; threads <= 2; threads++) {
                run_case(&cases[i], RECUR_PRECISION_INT8, threads);
                run_case(&cases[i], RECUR_PRECISION_BF16, threads);
            }
    }
    simd_set_level(top);
}

static void test_refused(void **state)
{
    (void)state;
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.vocab_size = cfg.output_size = 20;
    cfg.embed_size = cfg.rnn.input_size = 8;
    cfg.rnn.hidden_size = 8;
    recur_model *m;
    recur_stepper *s;
    recur_error err;
    assert_int_equal(recur_model_create(&m, &cfg, 1, &err), RECUR_OK);
    assert_int_equal(recur_stepper_create(&s, m, &err), RECUR_OK);
    assert_int_equal(recur_stepper_set_weights(s, (recur_precision)7), RECUR_ERR_ARG);
    assert_int_equal(recur_stepper_weights(s), RECUR_PRECISION_FP32);
    assert_int_equal(recur_model_set_precision(m, RECUR_PRECISION_INT8), RECUR_ERR_ARG);
    recur_precision p;
    assert_int_equal(recur_precision_parse("int4", &p), RECUR_ERR_ARG);
    assert_int_equal(recur_precision_parse("int8", &p), RECUR_OK);
    assert_int_equal(p, RECUR_PRECISION_INT8);
    recur_stepper_free(s);
    recur_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantised_weights),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
