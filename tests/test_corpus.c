/*
 * test_corpus.c - encoding text into ids (word and character level, <eos>
 * placement, <unk> and OOV counts, strict mode naming line and offset) and
 * the Zaremba batching layout: B contiguous streams stored time-major, with
 * segments whose targets are the inputs shifted by one step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "recur.h"

static recur_vocab *vocab_from(recur_lm_level level, const char *json)
{
    recur_vocab *v;
    recur_error err = {0};
    assert_int_equal(recur_vocab_from_json(&v, level, json, &err), RECUR_OK);
    return v;
}

static void test_word_encode(void **state)
{
    (void)state;
    recur_error err = {0};
    recur_vocab *v = vocab_from(RECUR_LEVEL_WORD, "[\"<eos>\",\"<unk>\",\"a\",\"b\"]");
    int32_t *ids;
    size_t n, oov;
    const char *t = " a b\n\nb x a\nb";
    assert_int_equal(recur_corpus_encode(v, t, strlen(t), "t", 0, &ids, &n, &oov, &err), RECUR_OK);
    int32_t want[] = {2, 3, 0, 0, 3, 1, 2, 0, 3, 0};
    assert_int_equal(n, 10);
    assert_memory_equal(ids, want, sizeof want);
    assert_int_equal(oov, 1);
    free(ids);
    /* No <eos> after a last line without newline when asked; none after a final newline. */
    assert_int_equal(recur_corpus_encode(v, "a b", 3, "t", RECUR_ENCODE_NO_FINAL_EOS, &ids, &n,
                                         &oov, &err),
                     RECUR_OK);
    assert_int_equal(n, 2);
    free(ids);
    assert_int_equal(recur_corpus_encode(v, "a\n", 2, "t", 0, &ids, &n, &oov, &err), RECUR_OK);
    assert_int_equal(n, 2);
    free(ids);
    /* Strict: the unknown token, its line and offset. */
    assert_int_equal(recur_corpus_encode(v, t, strlen(t), "prime", RECUR_ENCODE_STRICT, &ids, &n,
                                         &oov, &err),
                     RECUR_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, "prime: line 3, byte offset 8"));
    assert_non_null(strstr(err.msg, "'x'"));
    /* Whitespace only: no tokens but <eos> per line, which is fine; nothing at all is not. */
    assert_int_equal(recur_corpus_encode(v, "  ", 2, "t", RECUR_ENCODE_NO_FINAL_EOS, &ids, &n,
                                         &oov, &err),
                     RECUR_ERR_FORMAT);
    recur_vocab_free(v);
}

static void test_char_encode(void **state)
{
    (void)state;
    recur_error err = {0};
    recur_vocab *v = vocab_from(RECUR_LEVEL_CHAR, "[\"a\",\"\\u00e9\",\"\\n\",\"<unk>\"]");
    int32_t *ids;
    size_t n, oov;
    const char *t = "a\xC3\xA9z\na";
    assert_int_equal(recur_corpus_encode(v, t, strlen(t), "t", 0, &ids, &n, &oov, &err), RECUR_OK);
    int32_t want[] = {0, 1, 3, 2, 0};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    assert_int_equal(oov, 1);
    free(ids);
    assert_int_equal(recur_corpus_encode(v, t, strlen(t), "t", RECUR_ENCODE_STRICT, &ids, &n,
                                         &oov, &err),
                     RECUR_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, "byte offset 3"));
    assert_non_null(strstr(err.msg, "character 'z'"));
    /* Invalid UTF-8 is refused with its offset, never split. */
    assert_int_equal(recur_corpus_encode(v, "aa\xC3", 3, "t", 0, &ids, &n, &oov, &err),
                     RECUR_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "byte offset 2"));
    recur_vocab_free(v);
    /* Without <unk>, an unknown character is an error even when not strict. */
    v = vocab_from(RECUR_LEVEL_CHAR, "[\"a\"]");
    assert_int_equal(recur_corpus_encode(v, "ab", 2, "t", 0, &ids, &n, &oov, &err),
                     RECUR_ERR_MISMATCH);
    recur_vocab_free(v);
}

static void test_batchify(void **state)
{
    (void)state;
    recur_error err = {0};
    int32_t ids[23];
    for (int i = 0; i < 23; i++)
        ids[i] = i;
    recur_lm_stream s;
    assert_int_equal(recur_lm_batchify(&s, ids, 23, 4, &err), RECUR_OK);
    assert_int_equal(s.steps, 5); /* 3 ids dropped */
    assert_int_equal(s.B, 4);
    for (int t = 0; t < 5; t++)
        for (int b = 0; b < 4; b++)
            assert_int_equal(s.data[t * 4 + b], b * 5 + t);
    /* bptt 3: segments at 0 (T 3) and 3 (T 1): 4 steps predicted in all. */
    assert_int_equal(recur_lm_num_segments(&s, 3), 2);
    const int32_t *in, *tg;
    assert_int_equal(recur_lm_segment(&s, 0, 3, &in, &tg), 3);
    assert_int_equal(in[0], 0);
    assert_int_equal(tg[0], 1);
    assert_int_equal(in[1], 5);
    assert_int_equal(tg[2 * 4 + 3], 18);
    assert_int_equal(recur_lm_segment(&s, 3, 3, &in, &tg), 1);
    assert_int_equal(in[0], 3);
    assert_int_equal(tg[0], 4);
    assert_int_equal(tg[3], 19);
    assert_int_equal(recur_lm_segment(&s, 4, 3, &in, &tg), 0);
    recur_lm_stream_free(&s);
    assert_null(s.data);

    assert_int_equal(recur_lm_batchify(&s, ids, 7, 4, &err), RECUR_ERR_ARG);
    assert_non_null(strstr(err.msg, "too few"));
    assert_int_equal(recur_lm_batchify(&s, ids, 7, 0, &err), RECUR_ERR_ARG);
    assert_int_equal(recur_lm_batchify(&s, ids, 2, 1, &err), RECUR_OK);
    assert_int_equal(recur_lm_num_segments(&s, 35), 1);
    recur_lm_stream_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_word_encode),
        cmocka_unit_test(test_char_encode),
        cmocka_unit_test(test_batchify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
