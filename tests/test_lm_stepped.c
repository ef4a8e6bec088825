/*
 * test_lm_stepped.c - a text scored one token at a time by a stepper
 * (recur_lm_eval_ids_stepped, `recur lm eval --stepper`, `--weights int8`)
 * against the batch path of `recur lm eval` (recur_lm_eval_ids):
 *   float32 weights: the same negative log-likelihood (1e-5 relative) and
 *   count, word level (<eos> the first context) and character level (the
 *   first character context only);
 *   int8 and bf16 weights: the batch path on a copy of the model holding the
 *   quantised weights (quant_ref.h) within 2e-5, and away from the float
 *   score (the rounding ran).
 * LSTM with a projection and GRU, a word vocabulary larger than the
 * embedding (layer 0's input weights quantised) and a character one
 * smaller (its float table), 1 and 2 threads; bad ids and texts too short
 * are refused.
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

#include "quant_ref.h"
#include "recur.h"

static const char *const WORDS[] = {"the", "a",   "cat",  "sat", "on",   "mat",  "dog",  "ran",   "far",
                                    "and", "then", "it",  "was", "red",  "blue", "big",  "small", "of",
                                    "we",  "saw",  "two", "old", "men",  "by",   "sea",  "in",    "time",
                                    "new", "day",  "for", "all", "good", "one",  "more", "year",  "home"};

/* A text of `lines` lines of pseudo-random words. */
static char *make_text(int lines)
{
    const int nw = (int)(sizeof WORDS / sizeof *WORDS);
    size_t cap = (size_t)lines * 12 * 8 + 1, len = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    uint32_t x = 12345;
    for (int l = 0; l < lines; l++) {
        int n = 3 + l % 9;
        for (int i = 0; i < n; i++) {
            x = x * 1664525u + 1013904223u;
            len += (size_t)snprintf(t + len, cap - len, "%s%s", i ? " " : "", WORDS[(x >> 16) % nw]);
        }
        t[len++] = '\n';
    }
    t[len] = 0;
    return t;
}

static recur_model *make_model(recur_cell cell, int vocab, int embed, int proj)
{
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.vocab_size = cfg.output_size = vocab;
    cfg.embed_size = cfg.rnn.input_size = embed;
    cfg.rnn.cell = cell;
    cfg.rnn.hidden_size = 40;
    cfg.rnn.num_layers = 2;
    cfg.rnn.proj_size = proj;
    recur_model *m;
    recur_error err = {0};
    assert_int_equal(recur_model_create(&m, &cfg, 5, &err), RECUR_OK);
    assert_int_equal(recur_model_init_uniform(m, 0.4), RECUR_OK);
    return m;
}

static recur_model *copy_model(recur_model *m)
{
    recur_model *c;
    recur_error err = {0};
    assert_int_equal(recur_model_create(&c, recur_model_get_config(m), 5, &err), RECUR_OK);
    memcpy(recur_model_params(c), recur_model_params(m), recur_model_num_params(m) * sizeof(recur_real));
    return c;
}

static void check_level(recur_lm_level level, recur_cell cell, int proj, int threads)
{
    recur_set_num_threads(threads);
    char *text = make_text(60);
    recur_vocab *v;
    recur_error err = {0};
    assert_int_equal(recur_vocab_create(&v, level, &err), RECUR_OK);
    assert_int_equal(recur_vocab_count_text(v, text, strlen(text), "t", &err), RECUR_OK);
    assert_int_equal(recur_vocab_finish(v, 0, 1, &err), RECUR_OK);
    int32_t *ids;
    size_t n, oov;
    assert_int_equal(recur_corpus_encode(v, text, strlen(text), "t", 0, &ids, &n, &oov, &err), RECUR_OK);
    /* words: more than the embedding (layer 0 quantised); characters: fewer (the float table) */
    const int V = recur_vocab_size(v), embed = level == RECUR_LEVEL_WORD ? 24 : V + 8;
    assert_true(level == RECUR_LEVEL_WORD ? V > embed : V <= embed);
    recur_model *m = make_model(cell, V, embed, proj);

    double ref, got;
    int64_t ref_n, got_n;
    assert_int_equal(recur_lm_eval_ids(m, v, ids, n, 1, &ref, &ref_n, &err), RECUR_OK);
    assert_int_equal(recur_lm_eval_ids_stepped(m, v, ids, n, RECUR_PRECISION_FP32, &got, &got_n, &err), RECUR_OK);
    assert_int_equal(got_n, ref_n);
    assert_int_equal(ref_n, (int64_t)(level == RECUR_LEVEL_WORD ? n : n - 1));
    if (!(fabs(got - ref) <= 1e-5 * fabs(ref)))
        fail_msg("level %d cell %d: stepped %.9g, batch %.9g", (int)level, (int)cell, got, ref);

    const recur_precision ps[2] = {RECUR_PRECISION_INT8, RECUR_PRECISION_BF16};
    for (int i = 0; i < 2; i++) {
        recur_model *mq = copy_model(m);
        quantise_model(mq, ps[i]);
        double qref, q;
        int64_t qn;
        assert_int_equal(recur_lm_eval_ids(mq, v, ids, n, 1, &qref, &qn, &err), RECUR_OK);
        assert_int_equal(recur_lm_eval_ids_stepped(m, v, ids, n, ps[i], &q, &qn, &err), RECUR_OK);
        assert_int_equal(qn, ref_n);
        if (!(fabs(q - qref) <= 2e-5 * fabs(qref)))
            fail_msg("%s, level %d cell %d: stepped %.9g, batch on the quantised copy %.9g",
                     recur_precision_name(ps[i]), (int)level, (int)cell, q, qref);
        if (!(fabs(q - ref) > 1e-7 * fabs(ref) && fabs(q - ref) < 0.05 * fabs(ref)))
            fail_msg("%s, level %d cell %d: %.9g against the float %.9g", recur_precision_name(ps[i]), (int)level,
                     (int)cell, q, ref);
        recur_model_free(mq);
    }

    /* refusals: an id outside the vocabulary, too short a text */
    int32_t bad[3] = {1, V, 2};
    assert_int_equal(recur_lm_eval_ids_stepped(m, v, bad, 3, RECUR_PRECISION_FP32, &got, &got_n, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    if (level == RECUR_LEVEL_CHAR)
        assert_int_equal(recur_lm_eval_ids_stepped(m, v, ids, 1, RECUR_PRECISION_FP32, &got, &got_n, &err),
                         RECUR_ERR_ARG);
    recur_model_free(m);
    free(ids);
    recur_vocab_free(v);
    free(text);
}

static void test_stepped_matches_batch(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        check_level(RECUR_LEVEL_WORD, RECUR_CELL_LSTM, 24, threads);
        check_level(RECUR_LEVEL_WORD, RECUR_CELL_GRU, 0, threads);
        check_level(RECUR_LEVEL_CHAR, RECUR_CELL_LSTM, 0, threads);
        check_level(RECUR_LEVEL_CHAR, RECUR_CELL_GRU, 0, threads);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stepped_matches_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
