/*
 * test_score_lines.c - sentences scored in one call (recur_lm_score_batch,
 * recur_lm_score_lines, recur_lm_encode_line) against the one-stream path
 * that `recur lm eval` uses (recur_lm_token_logprobs, recur_lm_eval_text):
 * every sentence's sum and each of its tokens, side by side with others of
 * very different lengths (1 to 300 tokens, longer than a chunk, in an order
 * that is not sorted), for LSTM with projection, GRU and tanh RNN; batched
 * and one at a time agree to 1e-5; a line's score is `recur lm eval` of the
 * line as a file (word level, <eos> first context and last token; character
 * level, the newline before and after); bad input is refused by name.
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

#define V 301
#define NSEQ 37

static recur_model *make_model(recur_cell cell, int vocab, int proj)
{
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.vocab_size = vocab;
    cfg.output_size = vocab;
    cfg.embed_size = 24;
    cfg.rnn.cell = cell;
    cfg.rnn.hidden_size = 40;
    cfg.rnn.num_layers = 2;
    cfg.rnn.proj_size = proj;
    recur_model *m;
    recur_error err = {0};
    assert_int_equal(recur_model_create(&m, &cfg, 5, &err), RECUR_OK);
    assert_int_equal(recur_model_init_uniform(m, 0.3), RECUR_OK);
    return m;
}

static int rel_close(double a, double b, double tol) { return fabs(a - b) <= tol * fmax(1.0, fabs(b)); }

/* lengths from 1 to 300 in a scrambled order */
static size_t seq_len(int i)
{
    static const size_t lens[NSEQ] = {3,   300, 1,  2,  17, 65, 64, 130, 5,  9,  41, 2, 200,
                                      7,   1,   33, 12, 66, 4,  19, 250, 8,  3,  27, 6, 90,
                                      129, 11,  2,  15, 70, 1,  22, 13,  10, 45, 5};
    return lens[i];
}

static void make_seqs(int32_t **seqs, size_t *lens)
{
    for (int i = 0; i < NSEQ; i++) {
        lens[i] = seq_len(i);
        seqs[i] = malloc(lens[i] * sizeof **seqs);
        assert_non_null(seqs[i]);
        for (size_t t = 0; t < lens[i]; t++)
            seqs[i][t] = (int32_t)((i * 131 + t * 17 + t * t) % V);
    }
}

static void test_batch_matches_one_stream(void **state)
{
    (void)state;
    recur_cell cells[3] = {RECUR_CELL_LSTM, RECUR_CELL_GRU, RECUR_CELL_RNN_TANH};
    int32_t *seqs[NSEQ];
    size_t lens[NSEQ], total = 0;
    make_seqs(seqs, lens);
    for (int i = 0; i < NSEQ; i++)
        total += lens[i] - 1;
    double *tok = malloc(total * sizeof *tok), *ref_tok = malloc(300 * sizeof *ref_tok);
    assert_non_null(tok);
    assert_non_null(ref_tok);
    for (int ci = 0; ci < 3; ci++) {
        recur_model *m = make_model(cells[ci], V, ci == 0 ? 16 : 0);
        recur_error err = {0};
        double lp[NSEQ], lp1[NSEQ];
        int batches[3] = {16, 5, 64};
        for (int bi = 0; bi < 3; bi++) {
            assert_int_equal(recur_lm_score_batch(m, (const int32_t *const *)seqs, lens, NSEQ, batches[bi], lp,
                                                  tok, &err),
                             RECUR_OK);
            /* one at a time */
            assert_int_equal(
                recur_lm_score_batch(m, (const int32_t *const *)seqs, lens, NSEQ, 1, lp1, NULL, &err),
                RECUR_OK);
            size_t off = 0;
            for (int i = 0; i < NSEQ; i++) {
                assert_true(rel_close(lp[i], lp1[i], 1e-5));
                if (lens[i] == 1) {
                    assert_true(lp[i] == 0);
                    continue;
                }
                /* the one-stream scorer of recur lm eval: per token, and the sum */
                double nll;
                assert_int_equal(recur_lm_token_logprobs(m, seqs[i], lens[i], 256, ref_tok, &nll, &err), RECUR_OK);
                assert_true(lp[i] < 0);
                assert_true(rel_close(lp[i], -nll, 1e-5));
                for (size_t t = 0; t + 1 < lens[i]; t++)
                    assert_true(fabs(tok[off + t] - ref_tok[t]) < 1e-4);
                off += lens[i] - 1;
            }
        }
        recur_model_free(m);
    }
    for (int i = 0; i < NSEQ; i++)
        free(seqs[i]);
    free(tok);
    free(ref_tok);
}

/* a word or character vocabulary counted from text */
static recur_vocab *make_vocab(recur_lm_level level, const char *text)
{
    recur_vocab *v;
    recur_error err = {0};
    assert_int_equal(recur_vocab_create(&v, level, &err), RECUR_OK);
    assert_int_equal(recur_vocab_count_text(v, text, strlen(text), "t", &err), RECUR_OK);
    assert_int_equal(recur_vocab_finish(v, 0, 1, &err), RECUR_OK);
    return v;
}

static void test_lines_are_eval_of_the_line(void **state)
{
    (void)state;
    const char *corpus = "the cat sat on the mat\na dog ran\nthe dog sat on a cat\n";
    const char *lines[5] = {"the cat sat", "", "a dog ran on the mat and the cat sat on a dog", "zebra the", "dog"};
    for (int level = 0; level < 2; level++) {
        recur_vocab *v = make_vocab(level ? RECUR_LEVEL_CHAR : RECUR_LEVEL_WORD, corpus);
        recur_model *m = make_model(RECUR_CELL_LSTM, recur_vocab_size(v), 0);
        recur_error err = {0};
        double lp[5];
        int64_t tokens[5], oov[5];
        assert_int_equal(recur_lm_score_lines(m, v, lines, 5, 3, lp, tokens, oov, &err), RECUR_OK);
        for (int i = 0; i < 5; i++) {
            /* recur lm eval of the line as a file; character level reads the
             * newline before the line as its context */
            char text[128];
            snprintf(text, sizeof text, "%s%s\n", level ? "\n" : "", lines[i]);
            double nll;
            int64_t count;
            size_t n_oov;
            assert_int_equal(recur_lm_eval_text(m, v, text, strlen(text), "line", &nll, &count, &n_oov, &err),
                             RECUR_OK);
            assert_true(rel_close(lp[i], -nll, 1e-5));
            assert_int_equal(tokens[i], count);
            assert_int_equal(oov[i], (int64_t)n_oov);
            /* words + <eos>, or characters + the newline */
            size_t words = 0;
            for (const char *p = lines[i]; *p;) {
                while (*p == ' ')
                    p++;
                if (*p)
                    words++;
                while (*p && *p != ' ')
                    p++;
            }
            assert_int_equal(tokens[i], (int64_t)(level ? strlen(lines[i]) + 1 : words + 1));
        }
        assert_int_equal(oov[3], level ? 2 : 1); /* "zebra": z and b are new characters */
        const char *bad[1] = {"two\nlines"};
        assert_int_equal(recur_lm_score_lines(m, v, bad, 1, 3, lp, NULL, NULL, &err), RECUR_ERR_ARG);
        assert_non_null(strstr(err.msg, "sentence 0"));
        const char *utf[1] = {"caf\xC3"};
        assert_int_equal(recur_lm_score_lines(m, v, utf, 1, 3, lp, NULL, NULL, &err), RECUR_ERR_FORMAT);
        recur_model_free(m);
        recur_vocab_free(v);
    }
}

static void test_bad_sequences(void **state)
{
    (void)state;
    recur_model *m = make_model(RECUR_CELL_GRU, 7, 0);
    recur_error err = {0};
    int32_t a[3] = {1, 2, 3}, b[2] = {4, 7};
    const int32_t *seqs[2] = {a, b};
    size_t lens[2] = {3, 2};
    double lp[2];
    assert_int_equal(recur_lm_score_batch(m, seqs, lens, 2, 4, lp, NULL, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "sequence 1, token 1"));
    lens[1] = 0;
    assert_int_equal(recur_lm_score_batch(m, seqs, lens, 2, 4, lp, NULL, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "sequence 1 is empty"));
    lens[1] = 1;
    assert_int_equal(recur_lm_score_batch(m, seqs, lens, 2, 0, lp, NULL, &err), RECUR_ERR_ARG);
    assert_int_equal(recur_lm_score_batch(m, seqs, lens, 2, 4, lp, NULL, &err), RECUR_OK);
    assert_true(lp[0] < 0 && lp[1] == 0);
    assert_int_equal(recur_lm_score_batch(m, seqs, lens, 0, 4, lp, NULL, &err), RECUR_OK);
    recur_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_matches_one_stream),
        cmocka_unit_test(test_lines_are_eval_of_the_line),
        cmocka_unit_test(test_bad_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
