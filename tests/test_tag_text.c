/*
 * test_tag_text.c - the tagger's text side: the conlleval counts on
 * hand-worked examples of every boundary rule, tag scheme conversions and
 * their round trips, scheme detection, and CoNLL files that are malformed
 * (errors name the file and the line).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recur_tag.h"

/* ---- conlleval ------------------------------------------------------------------------------- */

/* lines "word gold guess", "" for a sentence break */
static recur_conlleval *score(const char *const *lines, int n)
{
    recur_conlleval *e;
    recur_error err;
    assert_int_equal(recur_conlleval_create(&e, &err), RECUR_OK);
    for (int i = 0; i < n; i++) {
        if (!*lines[i]) {
            assert_int_equal(recur_conlleval_add(e, NULL, NULL, NULL), RECUR_OK);
            continue;
        }
        char w[64], g[64], p[64];
        assert_int_equal(sscanf(lines[i], "%63s %63s %63s", w, g, p), 3);
        assert_int_equal(recur_conlleval_add(e, w, g, p), RECUR_OK);
    }
    return e;
}

static void expect(const char *const *lines, int n, long tokens, long correct_tags, long gold,
                   long guessed, long correct)
{
    recur_conlleval *e = score(lines, n);
    recur_conlleval_result r;
    recur_conlleval_result_get(e, &r);
    assert_int_equal(r.tokens, tokens);
    assert_int_equal(r.correct_tags, correct_tags);
    assert_int_equal(r.overall.gold, gold);
    assert_int_equal(r.overall.guessed, guessed);
    assert_int_equal(r.overall.correct, correct);
    recur_conlleval_free(e);
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_conlleval_rules(void **state)
{
    (void)state;
    /* IOB1: B- separates two adjacent chunks of one type; the guess that
     * merges them gets neither (the ends differ) */
    const char *iob1[] = {"a I-PER I-PER", "b I-PER I-PER", "c B-PER I-PER", "d O O", "e I-LOC I-LOC"};
    expect(iob1, N(iob1), 5, 4, 3, 2, 1);
    /* a type change inside I- tags ends one chunk and starts another */
    const char *type_change[] = {"a I-PER I-PER", "b I-LOC I-PER"};
    expect(type_change, N(type_change), 2, 1, 2, 1, 0);
    /* same start, same type, different end: not correct */
    const char *longer[] = {"a B-ORG B-ORG", "b I-ORG I-ORG", "c O I-ORG", "d O O"};
    expect(longer, N(longer), 4, 3, 1, 1, 0);
    /* a sentence break ends every chunk: I- after it starts a new one */
    const char *brk[] = {"a B-X B-X", "b I-X I-X", "", "c I-X I-X"};
    expect(brk, N(brk), 3, 3, 2, 2, 2);
    /* "-X-" lines are breaks and not tokens; the guess is read as O there */
    const char *boundary[] = {"a B-X B-X", "-X- O I-X", "c I-X I-X"};
    expect(boundary, N(boundary), 2, 2, 2, 2, 2);
    /* a chunk open at the end of the input counts */
    const char *at_end[] = {"a O O", "b B-MISC B-MISC", "c I-MISC I-MISC"};
    expect(at_end, N(at_end), 3, 3, 1, 1, 1);
    /* IOBES: E- after O starts a chunk; S-/E- differ as tags, not as chunks */
    const char *iobes[] = {"a O O", "b E-X S-X"};
    expect(iobes, N(iobes), 2, 1, 1, 1, 1);
    /* conlleval knows no S-: S-X S-X reads as one chunk (version 2004-01-26) */
    const char *s_s[] = {"a S-X S-X", "b S-X S-X"};
    expect(s_s, N(s_s), 2, 2, 1, 1, 1);
    /* B- after E- of the same type does not start a chunk for conlleval;
     * E- then I- ends and starts one */
    const char *e_b[] = {"a B-X B-X", "b E-X E-X", "c B-X B-X", "d E-X E-X", "e I-X I-X"};
    expect(e_b, N(e_b), 5, 5, 2, 2, 2);
    /* hyphens in types: the first '-' splits */
    const char *hyph[] = {"a B-A-B B-A-B", "b I-A-B I-A-C"};
    expect(hyph, N(hyph), 2, 1, 1, 2, 0);
    /* -DOCSTART- lines are tokens for conlleval */
    const char *doc[] = {"-DOCSTART- O O", "", "a B-X O"};
    expect(doc, N(doc), 2, 1, 1, 0, 0);
}

static void test_conlleval_report(void **state)
{
    (void)state;
    const char *lines[] = {"a B-PER B-PER", "b I-PER I-PER", "c O B-LOC", "", "d B-LOC B-ORG", "e O O"};
    recur_conlleval *e = score(lines, N(lines));
    char *rep = recur_conlleval_report(e);
    /* gold PER, LOC; guessed PER, LOC, ORG; correct PER: P 1/3, R 1/2 */
    assert_string_equal(rep,
                        "processed 5 tokens with 2 phrases; found: 3 phrases; correct: 1.\n"
                        "accuracy:  60.00%; precision:  33.33%; recall:  50.00%; FB1:  40.00\n"
                        "              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n"
                        "              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n"
                        "              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n");
    free(rep);
    assert_int_equal(recur_conlleval_num_types(e), 3);
    recur_chunk_score s;
    recur_conlleval_type(e, 2, &s);
    assert_string_equal(s.type, "PER");
    assert_int_equal(s.correct, 1);
    recur_conlleval_free(e);
}

/* ---- schemes --------------------------------------------------------------------------------- */

static void convert(const char *const *in, int n, recur_tag_scheme from, recur_tag_scheme to,
                    const char *const *want)
{
    char out[16][RECUR_TAG_MAX];
    recur_error err;
    recur_status st = recur_tags_convert(in, n, from, to, out, &err);
    if (st)
        fail_msg("%s", err.msg);
    for (int i = 0; i < n; i++)
        if (strcmp(out[i], want[i]))
            fail_msg("%s -> %s: tag %d is %s, not %s", recur_tag_scheme_name(from),
                     recur_tag_scheme_name(to), i, out[i], want[i]);
}

static void test_schemes(void **state)
{
    (void)state;
    const char *iob1[] = {"I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG", "O", "I-MISC"};
    const char *iob2[] = {"B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "O", "B-MISC"};
    const char *iobes[] = {"B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "E-ORG", "O", "S-MISC"};
    const int n = 9;
    const char *const *forms[3] = {iob1, iob2, iobes};
    recur_tag_scheme s[3] = {RECUR_TAGS_IOB1, RECUR_TAGS_IOB2, RECUR_TAGS_IOBES};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            convert(forms[a], n, s[a], s[b], forms[b]);
    /* a longer chunk in IOBES, adjacent chunks of one type */
    const char *b2[] = {"B-X", "I-X", "I-X", "B-X", "B-X", "I-X"};
    const char *be[] = {"B-X", "I-X", "E-X", "S-X", "B-X", "E-X"};
    const char *b1[] = {"I-X", "I-X", "I-X", "B-X", "B-X", "I-X"};
    convert(b2, 6, RECUR_TAGS_IOB2, RECUR_TAGS_IOBES, be);
    convert(be, 6, RECUR_TAGS_IOBES, RECUR_TAGS_IOB1, b1);
    convert(b1, 6, RECUR_TAGS_IOB1, RECUR_TAGS_IOB2, b2);
    /* tags outside the scheme */
    char out[4][RECUR_TAG_MAX];
    recur_error err;
    const char *bad[] = {"O", "E-PER"};
    assert_int_equal(recur_tags_convert(bad, 2, RECUR_TAGS_IOB2, RECUR_TAGS_IOBES, out, &err), RECUR_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "tag 2 'E-PER'"));
    const char *bad2[] = {"PER"};
    assert_int_equal(recur_tags_convert(bad2, 1, RECUR_TAGS_IOB1, RECUR_TAGS_IOB2, out, &err), RECUR_ERR_FORMAT);
    assert_int_equal(recur_tags_convert(bad2, 1, RECUR_TAGS_PLAIN, RECUR_TAGS_IOB2, out, &err), RECUR_ERR_ARG);
    assert_int_equal(recur_tag_scheme_parse("iobes"), RECUR_TAGS_IOBES);
    assert_int_equal(recur_tag_scheme_parse("bio"), -1);
}

/* ---- CoNLL files ----------------------------------------------------------------------------- */

static char path[128];

static recur_status read_text(const char *text, int tag_column, int scheme, recur_tag_corpus **c,
                              recur_error *err)
{
    snprintf(path, sizeof path, "/tmp/recur_tag_text_%d.txt", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    recur_tag_read_config rc;
    recur_tag_read_config_default(&rc);
    rc.tag_column = tag_column;
    rc.scheme = scheme;
    recur_status st = recur_tag_corpus_read(c, path, &rc, err);
    unlink(path);
    return st;
}

static void expect_error(const char *text, int tag_column, int scheme, const char *where, const char *what)
{
    recur_tag_corpus *c = NULL;
    recur_error err;
    assert_int_not_equal(read_text(text, tag_column, scheme, &c, &err), RECUR_OK);
    assert_null(c);
    char want[256];
    snprintf(want, sizeof want, "%s%s", path, where);
    if (!strstr(err.msg, want) || !strstr(err.msg, what))
        fail_msg("message '%s' lacks '%s' or '%s'", err.msg, want, what);
}

static void test_conll_read(void **state)
{
    (void)state;
    recur_tag_corpus *c;
    recur_error err;
    const char *ok = "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\r\n"
                     "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n\n\n";
    assert_int_equal(read_text(ok, 4, -1, &c, &err), RECUR_OK);
    assert_int_equal(recur_tag_corpus_sentences(c), 2);
    assert_int_equal(recur_tag_corpus_tokens(c), 4);
    assert_int_equal(recur_tag_corpus_scheme(c), RECUR_TAGS_IOB1); /* I-ORG starts a chunk */
    recur_tag_corpus_free(c);
    assert_int_equal(read_text(ok, 2, -1, &c, &err), RECUR_OK);
    assert_int_equal(recur_tag_corpus_scheme(c), RECUR_TAGS_PLAIN); /* POS tags */
    recur_tag_corpus_free(c);
    assert_int_equal(read_text("a B-X\nb I-X\n\nc O\n", 0, -1, &c, &err), RECUR_OK);
    assert_int_equal(recur_tag_corpus_scheme(c), RECUR_TAGS_IOB2);
    recur_tag_corpus_free(c);
    assert_int_equal(read_text("a S-X\nb O\n", 0, -1, &c, &err), RECUR_OK);
    assert_int_equal(recur_tag_corpus_scheme(c), RECUR_TAGS_IOBES);
    recur_tag_corpus_free(c);

    /* a line with too few columns, a line with another column count */
    expect_error("a NN B-X\nb NN\n", 3, -1, ":2:", "columns");
    expect_error("a NN B-X O\nb NN B-X\n", 0, -1, ":2:", "3 columns where the file's first line has 4");
    /* a tag outside the scheme */
    expect_error("a B-X\nb E-X\n", 0, RECUR_TAGS_IOB2, ":2:", "'E-X' is not a tag of iob2");
    expect_error("a B-X\n\nb X\n", 0, RECUR_TAGS_IOB1, ":3:", "'X' is not a tag of iob1");
    /* an empty file, a file of blank lines */
    expect_error("", 0, -1, "", "empty");
    expect_error("\n\n-DOCSTART- -X- O\n\n", 0, -1, "", "no token");
    /* a sentence of 10,000 tokens (a missing blank line) */
    size_t cap = 10001 * 8 + 1, n = 0;
    char *big = malloc(cap);
    for (int i = 0; i < 10000; i++)
        n += (size_t)snprintf(big + n, cap - n, "w%d O\n", i % 10);
    expect_error(big, 0, -1, ":1001:", "longer than 1000 tokens");
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conlleval_rules),
        cmocka_unit_test(test_conlleval_report),
        cmocka_unit_test(test_schemes),
        cmocka_unit_test(test_conll_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
