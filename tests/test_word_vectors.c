/*
 * test_word_vectors.c - pretrained word vectors (text/word_vectors.h): GloVe
 * text, word2vec text and word2vec binary files written here byte by byte
 * give the same words and the exact floats (binary: the bits written; text:
 * strtof of the digits written); a GloVe word with spaces reads whole; the
 * binary reader takes entries with and without the newline word2vec writes;
 * malformed files are refused with the line (text) or entry (binary); the
 * classifier's loader reads a binary file into its embedding rows.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "recur_classify.h"
#include "text/word_vectors.h"

static char dir[] = "/tmp/recur_wv_XXXXXX";

typedef struct seen {
    int n;
    char words[8][64];
    float vec[8][4];
} seen;

static recur_status keep(void *ctx, const char *word, const float *vec, int dim, recur_error *err)
{
    (void)err;
    seen *s = ctx;
    if (s->n < 8) {
        snprintf(s->words[s->n], sizeof s->words[0], "%s", word);
        memcpy(s->vec[s->n], vec, (size_t)(dim < 4 ? dim : 4) * sizeof *vec);
    }
    s->n++;
    return RECUR_OK;
}

static const char *path_of(const char *name)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static const char *write_file(const char *name, const void *bytes, size_t n)
{
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
    return p;
}

static const char *write_text(const char *name, const char *text) { return write_file(name, text, strlen(text)); }

static const float VEC[3][4] = {{0.25f, -1.5f, 3e-3f, 0.0f}, {1e10f, -0.0f, 7.125f, -2.5e-8f}, {1, 2, 3, 4}};
static const char *const WORD[3] = {"Paris", "the", "1996"};

/* word2vec's binary layout: "3 4\n", then "word " and 16 bytes little-endian,
 * a newline after the first two entries only */
static const char *write_binary(const char *name, int entries_promised, int truncate_last)
{
    unsigned char buf[512];
    size_t n = (size_t)snprintf((char *)buf, sizeof buf, "%d 4\n", entries_promised);
    for (int w = 0; w < 3; w++) {
        n += (size_t)snprintf((char *)buf + n, sizeof buf - n, "%s ", WORD[w]);
        for (int k = 0; k < 4; k++) {
            uint32_t u;
            memcpy(&u, &VEC[w][k], 4);
            for (int b = 0; b < 4; b++)
                buf[n++] = (unsigned char)(u >> (8 * b));
        }
        if (w < 2)
            buf[n++] = '\n';
    }
    return write_file(name, buf, n - (truncate_last ? 3 : 0));
}

static void check_three(const seen *s, int exact_bits)
{
    assert_int_equal(s->n, 3);
    for (int w = 0; w < 3; w++) {
        assert_string_equal(s->words[w], WORD[w]);
        for (int k = 0; k < 4; k++) {
            if (exact_bits)
                assert_memory_equal(&s->vec[w][k], &VEC[w][k], 4);
            else if (!(s->vec[w][k] == VEC[w][k]))
                fail_msg("word %d value %d: %.9g, wrote %.9g", w, k, s->vec[w][k], VEC[w][k]);
        }
    }
}

static const char *TEXT_BODY = "Paris 0.25 -1.5 3e-3 0\n"
                               "the 1e10 -0 7.125 -2.5e-8\r\n"
                               "\n"
                               "1996 1 2 3 4\n";

static void test_formats(void **state)
{
    (void)state;
    seen s = {0};
    int dim;
    recur_error err = {0};
    assert_int_equal(word_vectors_read(write_text("glove.txt", TEXT_BODY), keep, &s, &dim, &err), RECUR_OK);
    assert_int_equal(dim, 4);
    check_three(&s, 0);

    char w2v[512];
    snprintf(w2v, sizeof w2v, "3 4\n%s", TEXT_BODY);
    memset(&s, 0, sizeof s);
    assert_int_equal(word_vectors_read(write_text("w2v.txt", w2v), keep, &s, &dim, &err), RECUR_OK);
    check_three(&s, 0);

    memset(&s, 0, sizeof s);
    assert_int_equal(word_vectors_read(write_binary("w2v.bin", 3, 0), keep, &s, &dim, &err), RECUR_OK);
    assert_int_equal(dim, 4);
    check_three(&s, 1);

    /* GloVe 840B: a word with spaces in it */
    memset(&s, 0, sizeof s);
    assert_int_equal(word_vectors_read(write_text("spaces.txt", "a 1 2\n. . . 3 4\nb 5 6\n"), keep, &s, &dim, &err),
                     RECUR_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.words[1], ". . .");
    assert_true(s.vec[1][0] == 3 && s.vec[1][1] == 4);
}

static void expect_refused(const char *path, recur_status want, const char *msg)
{
    seen s = {0};
    int dim = 7;
    recur_error err = {0};
    assert_int_equal(word_vectors_read(path, keep, &s, &dim, &err), want);
    if (!strstr(err.msg, msg))
        fail_msg("%s: message '%s' lacks '%s'", path, err.msg, msg);
    assert_int_equal(dim, 0);
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused(path_of("missing.txt"), RECUR_ERR_IO, "missing.txt: cannot open");
    expect_refused(write_text("empty.txt", ""), RECUR_ERR_FORMAT, "an empty file");
    expect_refused(write_text("blank.txt", "\n\n"), RECUR_ERR_FORMAT, "no vector in the file");
    expect_refused(write_text("short.txt", "a 1 2 3\nb 1 2\n"), RECUR_ERR_FORMAT,
                   "short.txt:2: fewer numbers where the first vector has 3");
    expect_refused(write_text("long.txt", "a 1 2 3\nb 1 2 3 4\n"), RECUR_ERR_FORMAT,
                   "long.txt:2: more numbers where the first vector has 3");
    expect_refused(write_text("nan.txt", "a 1 2\nb 1 nan\n"), RECUR_ERR_FORMAT, "nan.txt:2: 'nan' is not a number");
    expect_refused(write_text("x.txt", "a 1 2\nRome 0.1 x\n"), RECUR_ERR_FORMAT, "x.txt:2: 'x' is not a number");
    expect_refused(write_text("alone.txt", "word\n"), RECUR_ERR_FORMAT, "alone.txt:1: a word without a vector");
    expect_refused(write_text("hdr.txt", "3 4\na 1 2 3\n"), RECUR_ERR_FORMAT,
                   "hdr.txt:2: fewer numbers where the first vector has 4");
    expect_refused(write_text("wide.txt", "2 1000000\n"), RECUR_ERR_FORMAT, "a header of 1000000 dimensions");
    expect_refused(write_binary("cut.bin", 3, 1), RECUR_ERR_FORMAT, "entry 3 ('1996'): the file ends inside its vector");
    expect_refused(write_binary("few.bin", 5, 0), RECUR_ERR_FORMAT, "the header promises 5 words, the file ends after 3");
    unsigned char nanbin[] = {'1', ' ', '2', '\n', 'a', ' ', 0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0x3f};
    expect_refused(write_file("nan.bin", nanbin, sizeof nanbin), RECUR_ERR_FORMAT,
                   "entry 1 ('a'): value 1 is not finite");
}

static recur_status stop_at_second(void *ctx, const char *word, const float *vec, int dim, recur_error *err)
{
    (void)word;
    (void)vec;
    (void)dim;
    if (++*(int *)ctx < 2)
        return RECUR_OK;
    snprintf(err->msg, sizeof err->msg, "stopped here");
    return RECUR_ERR_ARG;
}

static void test_callback_stops(void **state)
{
    (void)state;
    int calls = 0, dim;
    recur_error err = {0};
    assert_int_equal(word_vectors_read(write_binary("stop.bin", 3, 0), stop_at_second, &calls, &dim, &err),
                     RECUR_ERR_ARG);
    assert_int_equal(calls, 2);
    assert_string_equal(err.msg, "stopped here");
}

/* The classifier's loader over a binary file: rows of the vocabulary's
 * words, lower-cased lookup, a width other than the embedding's refused. */
static void test_classifier_rows(void **state)
{
    (void)state;
    recur_vocab *v;
    recur_error err = {0};
    assert_int_equal(recur_vocab_create(&v, RECUR_LEVEL_WORD, &err), RECUR_OK);
    const char *text = "paris the zebra\n";
    assert_int_equal(recur_vocab_count_text(v, text, strlen(text), "t", &err), RECUR_OK);
    assert_int_equal(recur_vocab_finish(v, 0, 1, &err), RECUR_OK);
    recur_cls_model_config c;
    memset(&c, 0, sizeof c);
    recur_model_config_default(&c.base);
    c.base.vocab_size = recur_vocab_size(v);
    c.base.embed_size = c.base.rnn.input_size = 4;
    c.base.rnn.hidden_size = 5;
    c.base.output_size = 0;
    c.pool = RECUR_POOL_MAX;
    c.classes = 2;
    recur_model *m;
    assert_int_equal(recur_cls_model_create(&m, &c, 1, &err), RECUR_OK);
    size_t found = 0;
    assert_int_equal(recur_cls_load_embeddings(m, v, write_binary("cls.bin", 3, 0), 1, &found, &err), RECUR_OK);
    assert_int_equal(found, 2); /* "Paris" lower-cased and "the"; "1996" and "zebra" not both sides */
    recur_tensor_info e;
    assert_int_equal(recur_model_find_tensor(m, "embedding.weight", &e), RECUR_OK);
    int32_t paris = recur_vocab_find(v, "paris", 5), the = recur_vocab_find(v, "the", 3);
    assert_memory_equal(e.data + (size_t)paris * 4, VEC[0], sizeof VEC[0]);
    assert_memory_equal(e.data + (size_t)the * 4, VEC[1], sizeof VEC[1]);
    assert_int_equal(recur_cls_load_embeddings(m, v, write_text("w3.txt", "paris 1 2 3\n"), 1, &found, &err),
                     RECUR_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, "vectors of 3 numbers for an embedding of 4"));
    recur_model_free(m);
    recur_vocab_free(v);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_classifier_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
