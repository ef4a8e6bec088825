/*
 * test_vocab.c - vocabularies: counting and frequency order, --max-vocab and
 * --min-count with <unk> taking the dropped counts, the JSON form and its
 * strict reader, and the standard 10,000-token Penn Treebank vocabulary
 * (read from ../shared/data/ptb, or $RECUR_PTB_DIR; skipped when absent).
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

static recur_vocab *count(recur_lm_level level, const char *text)
{
    recur_vocab *v;
    recur_error err = {0};
    assert_int_equal(recur_vocab_create(&v, level, &err), RECUR_OK);
    assert_int_equal(recur_vocab_count_text(v, text, strlen(text), "t", &err), RECUR_OK);
    return v;
}

static int32_t id_of(const recur_vocab *v, const char *t) { return recur_vocab_find(v, t, strlen(t)); }

static void test_word_order(void **state)
{
    (void)state;
    recur_error err = {0};
    recur_vocab *v = count(RECUR_LEVEL_WORD, "b a c\n a  b\tb\n\nz");
    assert_int_equal(recur_vocab_finish(v, 0, 0, &err), RECUR_OK);
    /* counts: b 3, <eos> 4 (three newlines and the last line), a 2, c 1, z 1 */
    assert_int_equal(recur_vocab_size(v), 6);
    assert_string_equal(recur_vocab_token(v, 0), "<eos>");
    assert_string_equal(recur_vocab_token(v, 1), "b");
    assert_string_equal(recur_vocab_token(v, 2), "a");
    assert_string_equal(recur_vocab_token(v, 3), "c"); /* tie with z: first seen */
    assert_string_equal(recur_vocab_token(v, 4), "z");
    assert_string_equal(recur_vocab_token(v, 5), "<unk>");
    assert_int_equal(recur_vocab_count(v, 0), 4);
    assert_int_equal(recur_vocab_eos(v), 0);
    assert_int_equal(recur_vocab_unk(v), 5);
    assert_int_equal(recur_vocab_count(v, 5), 0);
    assert_null(recur_vocab_token(v, 6));
    recur_vocab_free(v);
}

static void test_limits(void **state)
{
    (void)state;
    recur_error err = {0};
    recur_vocab *v = count(RECUR_LEVEL_WORD, "a a a b b c d\n");
    assert_int_equal(recur_vocab_finish(v, 0, 2, &err), RECUR_OK);
    assert_int_equal(recur_vocab_size(v), 4); /* a b <eos> <unk> */
    assert_int_equal(recur_vocab_count(v, recur_vocab_unk(v)), 2);
    assert_int_equal(id_of(v, "c"), -1);
    recur_vocab_free(v);

    v = count(RECUR_LEVEL_WORD, "a a a b b c d <unk>\n");
    assert_int_equal(recur_vocab_finish(v, 3, 0, &err), RECUR_OK);
    /* a, <eos> and <unk> (in the text, so kept by count): b, c, d dropped */
    assert_int_equal(recur_vocab_size(v), 3);
    assert_string_equal(recur_vocab_token(v, 0), "a");
    assert_int_equal(recur_vocab_count(v, recur_vocab_unk(v)), 1 + 2 + 1 + 1);
    recur_vocab_free(v);

    v = count(RECUR_LEVEL_WORD, "a b\n");
    assert_int_equal(recur_vocab_finish(v, 2, 0, &err), RECUR_ERR_ARG);
    assert_int_equal(recur_vocab_finish(v, -1, 0, &err), RECUR_ERR_ARG);
    recur_vocab_free(v);

    v = count(RECUR_LEVEL_WORD, " \n\n");
    assert_int_equal(recur_vocab_finish(v, 0, 0, &err), RECUR_ERR_FORMAT);
    recur_vocab_free(v);
}

static void test_char(void **state)
{
    (void)state;
    recur_error err = {0};
    recur_vocab *v = count(RECUR_LEVEL_CHAR, "h\xC3\xA9h\xC3\xA9h\n");
    assert_int_equal(recur_vocab_finish(v, 0, 0, &err), RECUR_OK);
    assert_int_equal(recur_vocab_size(v), 4);
    assert_string_equal(recur_vocab_token(v, 0), "h");
    assert_string_equal(recur_vocab_token(v, 1), "\xC3\xA9");
    assert_string_equal(recur_vocab_token(v, 2), "\n");
    assert_string_equal(recur_vocab_token(v, 3), "<unk>");
    assert_int_equal(recur_vocab_eos(v), -1);
    recur_vocab_free(v);
}

static void test_json(void **state)
{
    (void)state;
    recur_error err = {0};
    recur_vocab *v = count(RECUR_LEVEL_CHAR, "a\"\\\xE2\x82\xAC\n");
    assert_int_equal(recur_vocab_finish(v, 0, 0, &err), RECUR_OK);
    char *json;
    assert_int_equal(recur_vocab_to_json(v, &json, &err), RECUR_OK);
    recur_vocab *w;
    assert_int_equal(recur_vocab_from_json(&w, RECUR_LEVEL_CHAR, json, &err), RECUR_OK);
    assert_int_equal(recur_vocab_size(w), recur_vocab_size(v));
    for (int32_t i = 0; i < recur_vocab_size(v); i++)
        assert_string_equal(recur_vocab_token(v, i), recur_vocab_token(w, i));
    free(json);
    recur_vocab_free(w);
    recur_vocab_free(v);

    static const char *bad_char[] = {"[]", "{}", "[1]", "[\"ab\"]", "[\"a\",\"a\"]", "[\"\"]",
                                     "[\"a\"", "not json"};
    for (size_t i = 0; i < sizeof bad_char / sizeof *bad_char; i++) {
        w = (recur_vocab *)1;
        assert_int_equal(recur_vocab_from_json(&w, RECUR_LEVEL_CHAR, bad_char[i], &err),
                         RECUR_ERR_FORMAT);
        assert_null(w);
        assert_non_null(strstr(err.msg, "recur.vocab"));
    }
    /* a word vocabulary needs <eos> */
    assert_int_equal(recur_vocab_from_json(&w, RECUR_LEVEL_WORD, "[\"a\",\"<unk>\"]", &err),
                     RECUR_ERR_FORMAT);
    assert_int_equal(recur_vocab_from_json(&w, RECUR_LEVEL_WORD, "[\"a b\",\"<eos>\"]", &err),
                     RECUR_OK);
    recur_vocab_free(w);
}

static char *read_all(const char *path, size_t *len)
{
    recur_error err = {0};
    char *text;
    if (recur_text_read(path, &text, len, &err) != RECUR_OK)
        return NULL;
    return text;
}

/* recur_vocab_add: the id through its out-parameter, the count added to. */
static void test_add(void **state)
{
    (void)state;
    recur_vocab *v = NULL;
    recur_error err;
    assert_int_equal(recur_vocab_create(&v, RECUR_LEVEL_WORD, &err), RECUR_OK);
    int32_t a = -2, b = -2, again = -2;
    assert_int_equal(recur_vocab_add(v, "cat", 3, 2, &a), RECUR_OK);
    assert_int_equal(recur_vocab_add(v, "dog", 3, 1, &b), RECUR_OK);
    assert_int_equal(recur_vocab_add(v, "cat", 3, 5, &again), RECUR_OK);
    assert_int_not_equal(a, b);
    assert_int_equal(a, again);
    assert_true(a >= 0 && b >= 0);
    assert_int_equal(recur_vocab_count(v, a), 7);
    assert_int_equal(recur_vocab_add(v, "owl", 3, 1, NULL), RECUR_OK);
    assert_true(recur_vocab_find(v, "owl", 3) >= 0);
    assert_string_equal(recur_vocab_errmsg(v), "");
    recur_vocab_free(v);
}

static void test_ptb_vocab(void **state)
{
    (void)state;
    const char *dir = getenv("RECUR_PTB_DIR");
    if (!dir || !*dir)
        dir = "../shared/data/ptb";
    char path[512];
    snprintf(path, sizeof path, "%s/ptb.train.txt", dir);
    size_t len;
    char *text = read_all(path, &len);
    if (!text) {
        fprintf(stderr, "SKIP test_ptb_vocab: %s not readable (set RECUR_PTB_DIR)\n", path);
        skip();
    }
    recur_error err = {0};
    recur_vocab *v;
    assert_int_equal(recur_vocab_create(&v, RECUR_LEVEL_WORD, &err), RECUR_OK);
    assert_int_equal(recur_vocab_count_text(v, text, len, path, &err), RECUR_OK);
    assert_int_equal(recur_vocab_finish(v, 0, 0, &err), RECUR_OK);
    assert_int_equal(recur_vocab_size(v), 10000);
    assert_true(recur_vocab_eos(v) >= 0);
    assert_true(recur_vocab_unk(v) >= 0);
    int64_t total = 0;
    for (int32_t i = 0; i < recur_vocab_size(v); i++)
        total += recur_vocab_count(v, i);
    assert_int_equal(total, 929589);
    assert_string_equal(recur_vocab_token(v, 0), "the");
    /* Encoding: the standard token counts, and no OOV on the other splits. */
    int32_t *ids;
    size_t n, oov;
    assert_int_equal(recur_corpus_encode(v, text, len, path, 0, &ids, &n, &oov, &err), RECUR_OK);
    assert_int_equal(n, 929589);
    assert_int_equal(oov, 0);
    free(ids);
    free(text);
    static const struct { const char *name; size_t tokens; } splits[] = {
        {"ptb.valid.txt", 73760}, {"ptb.test.txt", 82430}};
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, splits[s].name);
        text = read_all(path, &len);
        assert_non_null(text);
        assert_int_equal(recur_corpus_encode(v, text, len, path, RECUR_ENCODE_STRICT, &ids, &n,
                                             &oov, &err),
                         RECUR_OK);
        assert_int_equal(n, splits[s].tokens);
        free(ids);
        free(text);
    }
    /* The same vocabulary with --max-vocab 10000 (nothing to drop). */
    recur_vocab *w;
    assert_int_equal(recur_vocab_create(&w, RECUR_LEVEL_WORD, &err), RECUR_OK);
    snprintf(path, sizeof path, "%s/ptb.train.txt", dir);
    text = read_all(path, &len);
    assert_int_equal(recur_vocab_count_text(w, text, len, path, &err), RECUR_OK);
    assert_int_equal(recur_vocab_finish(w, 10000, 0, &err), RECUR_OK);
    assert_int_equal(recur_vocab_size(w), 10000);
    free(text);
    recur_vocab_free(w);
    recur_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_word_order), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_char),       cmocka_unit_test(test_json),
        cmocka_unit_test(test_ptb_vocab), cmocka_unit_test(test_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
