/*
 * test_utf8.c - strict UTF-8 decoding/encoding and the checks on text files:
 * every class of invalid sequence (stray continuation, overlong, surrogate,
 * above U+10FFFF, truncated) is refused with the offset of its first byte;
 * round trips over all scalar values; empty/binary/invalid files are errors
 * naming the file and offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "recur.h"

static void test_decode_valid(void **state)
{
    (void)state;
    const char s[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    size_t pos = 0, n = sizeof s - 1;
    uint32_t cp;
    assert_int_equal(recur_utf8_decode(s, n, &pos, &cp), 1);
    assert_int_equal(cp, 'a');
    assert_int_equal(recur_utf8_decode(s, n, &pos, &cp), 1);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(recur_utf8_decode(s, n, &pos, &cp), 1);
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(recur_utf8_decode(s, n, &pos, &cp), 1);
    assert_int_equal(cp, 0x1F600);
    assert_int_equal(pos, n);
    assert_int_equal(recur_utf8_decode(s, n, &pos, &cp), 0);
}

static void expect_bad(const char *s, size_t n, size_t offset)
{
    size_t bad = 12345;
    assert_int_equal(recur_utf8_valid(s, n, &bad), 0);
    assert_int_equal(bad, offset);
}

static void test_invalid_offsets(void **state)
{
    (void)state;
    expect_bad("ab\x80", 3, 2);                 /* stray continuation */
    expect_bad("abc\xC0\xAF", 5, 3);            /* overlong '/' */
    expect_bad("x\xE0\x80\xAF", 4, 1);          /* overlong 3-byte */
    expect_bad("xy\xF0\x80\x80\xAF", 6, 2);     /* overlong 4-byte */
    expect_bad("\xED\xA0\x80", 3, 0);           /* surrogate U+D800 */
    expect_bad("ok\xF4\x90\x80\x80", 6, 2);     /* U+110000 */
    expect_bad("ok\xF5\x80\x80\x80", 6, 2);     /* F5 lead */
    expect_bad("\xC3\xA9\xC3", 3, 2);           /* truncated at end */
    expect_bad("\xE2\x82x", 3, 0);              /* bad continuation */
    expect_bad("abc\xFF", 4, 3);
    size_t bad;
    assert_int_equal(recur_utf8_valid("plain ascii\n", 12, &bad), 1);
    assert_int_equal(recur_utf8_valid("\xF4\x8F\xBF\xBF", 4, &bad), 1); /* U+10FFFF */
}

static void test_round_trip(void **state)
{
    (void)state;
    char buf[4];
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        int k = recur_utf8_encode(cp, buf);
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            assert_int_equal(k, 0);
            continue;
        }
        assert_true(k >= 1 && k <= 4);
        size_t pos = 0;
        uint32_t back;
        assert_int_equal(recur_utf8_decode(buf, (size_t)k, &pos, &back), 1);
        assert_int_equal(back, cp);
        assert_int_equal(pos, (size_t)k);
    }
    assert_int_equal(recur_utf8_encode(0x110000, buf), 0);
}

static char *write_tmp(const char *data, size_t n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/recur_test_utf8_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return path;
}

static void test_text_read(void **state)
{
    (void)state;
    recur_error err = {0};
    char *text;
    size_t len;
    char *p = write_tmp("hello\nw\xC3\xB6rld\n", 13);
    assert_int_equal(recur_text_read(p, &text, &len, &err), RECUR_OK);
    assert_int_equal(len, 13);
    assert_string_equal(text, "hello\nw\xC3\xB6rld\n");
    free(text);
    unlink(p);

    p = write_tmp("", 0);
    assert_int_equal(recur_text_read(p, &text, &len, &err), RECUR_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "empty"));
    assert_non_null(strstr(err.msg, p));
    unlink(p);

    p = write_tmp("ab\0cd", 5);
    assert_int_equal(recur_text_read(p, &text, &len, &err), RECUR_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "binary"));
    assert_non_null(strstr(err.msg, "byte offset 2"));
    unlink(p);

    static const char bad[] = "line one\nline \xC3\xA9 two \xC3(\n";
    p = write_tmp(bad, sizeof bad - 1);
    assert_int_equal(recur_text_read(p, &text, &len, &err), RECUR_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "byte offset 21"));
    assert_non_null(strstr(err.msg, "line 2"));
    assert_non_null(strstr(err.msg, "column 12"));
    unlink(p);

    assert_int_equal(recur_text_read("/nonexistent/recur.txt", &text, &len, &err), RECUR_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/recur.txt"));
}

static void test_level_names(void **state)
{
    (void)state;
    assert_int_equal(recur_lm_level_parse("word"), RECUR_LEVEL_WORD);
    assert_int_equal(recur_lm_level_parse("char"), RECUR_LEVEL_CHAR);
    assert_int_equal(recur_lm_level_parse("byte"), -1);
    assert_string_equal(recur_lm_level_name(RECUR_LEVEL_CHAR), "char");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_valid),  cmocka_unit_test(test_invalid_offsets),
        cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_text_read),
        cmocka_unit_test(test_level_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
