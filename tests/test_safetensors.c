/*
 * test_safetensors.c - tests of the safetensors reader and writer
 * (src/io/safetensors.c): round trips of every dtype with metadata, the exact
 * byte layout PyTorch's loader expects, one rejected file per rule the
 * reader enforces (each with its own message), and atomic commits that leave
 * the previous file intact when writing fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/safetensors.h"

static char tmpdir[256];

static int make_tmpdir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/recur_st_XXXXXX", base && base[0] ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Removes what the tests made under tmpdir (files and one level of folders). */
static void clean_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) != 0) {
                clean_dir(p);
                rmdir(p);
            }
        }
    closedir(d);
}

static int remove_tmpdir(void **state)
{
    (void)state;
    clean_dir(tmpdir);
    return rmdir(tmpdir);
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_raw(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Number of directory entries (other than . and ..) in tmpdir. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* A safetensors image: 8-byte LE length of json, json, then dlen bytes of data. */
static unsigned char *build(const char *json, size_t dlen, size_t *n)
{
    size_t h = strlen(json);
    *n = 8 + h + dlen;
    unsigned char *b = calloc(1, *n);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, json, h);
    for (size_t i = 0; i < dlen; i++)
        b[8 + h + i] = (unsigned char)(i * 7 + 1);
    return b;
}

static void expect_reject_bytes(const unsigned char *b, size_t n, const char *needle)
{
    st_file f;
    char err[512] = "";
    recur_status st = st_parse(b, n, &f, err, sizeof err);
    if (st != RECUR_ERR_FORMAT || !strstr(err, needle))
        print_error("expected rejection containing \"%s\", got status %d: \"%s\"\n", needle, (int)st, err);
    assert_int_equal(st, RECUR_ERR_FORMAT);
    assert_non_null(strstr(err, needle));
    assert_int_equal(f.n_tensors, 0);
    assert_null(f.tensors);
    assert_int_equal(f.n_meta, 0);
}

static void expect_reject(const char *json, size_t dlen, const char *needle)
{
    size_t n;
    unsigned char *b = build(json, dlen, &n);
    expect_reject_bytes(b, n, needle);
    free(b);
}

/* ------------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    (void)state;
    char path[300];
    path_in(path, sizeof path, "rt.safetensors");

    const float f32[6] = {1.5f, -2.25f, 3.0f, 0.0f, -0.0f, 1e-30f};
    const double f64[4] = {3.141592653589793, -1e300, 2.5e-310, 7.0};
    const int32_t i32[4] = {INT32_MIN, -1, 0, INT32_MAX};
    const int64_t i64[3] = {INT64_MIN, 42, INT64_MAX};
    const uint8_t u8[5] = {0, 1, 127, 128, 255};
    const uint16_t f16[2] = {0x3c00, 0xc000};  /* 1.0, -2.0 */
    const uint16_t bf16[2] = {0x3f80, 0x4049}; /* 1.0, ~3.14 */
    const float scalar = 0.25f;
    const double from_double[3] = {0.1, -1e-3, 65504.0};

    st_writer *w = st_writer_new();
    assert_non_null(w);
    assert_int_equal(st_writer_add(w, "rnn.weight_ih_l0", ST_F32, 2, (int64_t[]){2, 3}, f32), RECUR_OK);
    assert_int_equal(st_writer_add(w, "d", ST_F64, 1, (int64_t[]){4}, f64), RECUR_OK);
    assert_int_equal(st_writer_add(w, "empty", ST_F32, 2, (int64_t[]){0, 3}, NULL), RECUR_OK);
    assert_int_equal(st_writer_add(w, "i32", ST_I32, 2, (int64_t[]){2, 2}, i32), RECUR_OK);
    assert_int_equal(st_writer_add(w, "i64", ST_I64, 1, (int64_t[]){3}, i64), RECUR_OK);
    assert_int_equal(st_writer_add(w, "u8", ST_U8, 1, (int64_t[]){5}, u8), RECUR_OK);
    assert_int_equal(st_writer_add(w, "f16", ST_F16, 1, (int64_t[]){2}, f16), RECUR_OK);
    assert_int_equal(st_writer_add(w, "bf16", ST_BF16, 2, (int64_t[]){1, 2}, bf16), RECUR_OK);
    assert_int_equal(st_writer_add(w, "scalar", ST_F32, 0, NULL, &scalar), RECUR_OK);
    assert_int_equal(st_writer_add_f32_from_double(w, "conv", 1, (int64_t[]){3}, from_double), RECUR_OK);
    assert_int_equal(st_writer_meta(w, "format", "pt"), RECUR_OK);
    assert_int_equal(st_writer_meta(w, "recur.config", "{\"cell\": \"lstm\", \"note\": \"h\\u00e9\"}"), RECUR_OK);
    assert_int_equal(st_writer_meta(w, "empty", ""), RECUR_OK);
    char err[512] = "";
    assert_int_equal(st_writer_commit(w, path, err, sizeof err), RECUR_OK);
    st_writer_free(w);

    st_file f;
    assert_int_equal(st_read_file(path, &f, err, sizeof err), RECUR_OK);
    assert_int_equal(f.n_tensors, 10);
    /* tensors come back in offset order, which is the order they were added */
    static const char *const order[] = {"rnn.weight_ih_l0", "d", "empty", "i32", "i64",
                                        "u8", "f16", "bf16", "scalar", "conv"};
    for (int i = 0; i < 10; i++)
        assert_string_equal(f.tensors[i].name, order[i]);

    const st_tensor *t = st_find(&f, "rnn.weight_ih_l0");
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    assert_int_equal(t->numel, 6);
    assert_int_equal(t->nbytes, 24);
    float fb[6];
    assert_int_equal(st_copy_to_float(t, fb, 6, err, sizeof err), RECUR_OK);
    assert_memory_equal(fb, f32, sizeof f32);
    double db[6];
    assert_int_equal(st_copy_to_double(t, db, 6, err, sizeof err), RECUR_OK);
    for (int i = 0; i < 6; i++)
        assert_true(db[i] == (double)f32[i]);

    t = st_find(&f, "d");
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_F64);
    double d4[4];
    assert_int_equal(st_copy_to_double(t, d4, 4, err, sizeof err), RECUR_OK);
    assert_memory_equal(d4, f64, sizeof f64);
    /* -1e300 does not fit a float: refused, not turned into -inf */
    float f4[4];
    assert_int_equal(st_copy_to_float(t, f4, 4, err, sizeof err), RECUR_ERR_MISMATCH);
    assert_non_null(strstr(err, "element 1"));
    assert_non_null(strstr(err, "outside the range of float"));

    t = st_find(&f, "empty");
    assert_non_null(t);
    assert_int_equal(t->numel, 0);
    assert_int_equal(t->nbytes, 0);
    assert_int_equal(st_copy_to_float(t, NULL, 0, err, sizeof err), RECUR_OK);

    t = st_find(&f, "i32");
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_I32);
    assert_memory_equal(t->data, i32, sizeof i32); /* little-endian host */
    assert_int_equal(st_copy_to_float(t, fb, 4, err, sizeof err), RECUR_ERR_MISMATCH);
    assert_non_null(strstr(err, "tensor 'i32' is I32"));

    t = st_find(&f, "i64");
    assert_non_null(t);
    assert_memory_equal(t->data, i64, sizeof i64);
    t = st_find(&f, "u8");
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_U8);
    assert_memory_equal(t->data, u8, sizeof u8);
    t = st_find(&f, "f16");
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_F16);
    assert_memory_equal(t->data, f16, sizeof f16);
    t = st_find(&f, "bf16");
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_BF16);
    assert_memory_equal(t->data, bf16, sizeof bf16);

    t = st_find(&f, "scalar");
    assert_non_null(t);
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    float s1;
    assert_int_equal(st_copy_to_float(t, &s1, 1, err, sizeof err), RECUR_OK);
    assert_true(s1 == 0.25f);
    /* a wrong destination size is refused */
    assert_int_equal(st_copy_to_float(t, fb, 2, err, sizeof err), RECUR_ERR_MISMATCH);
    assert_non_null(strstr(err, "has 1 elements, the destination holds 2"));

    t = st_find(&f, "conv");
    assert_non_null(t);
    float c3[3];
    assert_int_equal(st_copy_to_float(t, c3, 3, err, sizeof err), RECUR_OK);
    for (int i = 0; i < 3; i++)
        assert_true(c3[i] == (float)from_double[i]);

    assert_null(st_find(&f, "missing"));
    assert_string_equal(st_meta(&f, "format"), "pt");
    assert_string_equal(st_meta(&f, "recur.config"), "{\"cell\": \"lstm\", \"note\": \"h\\u00e9\"}");
    assert_string_equal(st_meta(&f, "empty"), "");
    assert_null(st_meta(&f, "absent"));
    assert_int_equal(f.n_meta, 3);
    st_free(&f);
    assert_null(f.tensors);
}

/* The bytes on disk, checked by hand: what safetensors.torch.load_file reads. */
static void test_layout(void **state)
{
    (void)state;
    char path[300];
    path_in(path, sizeof path, "layout.safetensors");
    const float w2[2] = {1.0f, -2.0f};
    const float b1[1] = {0.5f};

    st_writer *w = st_writer_new();
    assert_int_equal(st_writer_add(w, "weight", ST_F32, 1, (int64_t[]){2}, w2), RECUR_OK);
    assert_int_equal(st_writer_add(w, "bias", ST_F32, 1, (int64_t[]){1}, b1), RECUR_OK);
    assert_int_equal(st_writer_meta(w, "format", "pt"), RECUR_OK);
    char err[512];
    assert_int_equal(st_writer_commit(w, path, err, sizeof err), RECUR_OK);

    size_t n;
    unsigned char *b = read_all(path, &n);
    static const char json[] = "{\"__metadata__\":{\"format\":\"pt\"},"
                               "\"weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                               "\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    size_t jl = strlen(json), padded = (jl + 7) / 8 * 8;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | b[i];
    assert_int_equal(hlen, padded);
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(n, 8 + padded + 12);
    assert_memory_equal(b + 8, json, jl);
    for (size_t i = jl; i < padded; i++)
        assert_int_equal(b[8 + i], ' ');
    /* F32 little-endian: 1.0 = 00 00 80 3f, -2.0 = 00 00 00 c0, 0.5 = 00 00 00 3f */
    static const unsigned char data[12] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f};
    assert_memory_equal(b + 8 + padded, data, 12);

    /* deterministic: the same writer committed again gives the same bytes */
    char path2[300];
    path_in(path2, sizeof path2, "layout2.safetensors");
    assert_int_equal(st_writer_commit(w, path2, err, sizeof err), RECUR_OK);
    size_t n2;
    unsigned char *b2 = read_all(path2, &n2);
    assert_int_equal(n2, n);
    assert_memory_equal(b2, b, n);
    free(b2);
    free(b);
    st_writer_free(w);

    /* a file as the reference writer lays it out (entries not in offset order,
     * no metadata, I32 data) parses, and tensors come back in offset order */
    size_t m;
    unsigned char *r = build("{\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                             "\"a\":{\"dtype\":\"I32\",\"shape\":[2,1],\"data_offsets\":[0,8]}}",
                             16, &m);
    st_file f;
    assert_int_equal(st_parse(r, m, &f, err, sizeof err), RECUR_OK);
    assert_int_equal(f.n_tensors, 2);
    assert_string_equal(f.tensors[0].name, "a");
    assert_string_equal(f.tensors[1].name, "b");
    assert_ptr_equal(f.tensors[1].data, r + m - 8);
    assert_int_equal(f.n_meta, 0);
    assert_null(f.owned);
    st_free(&f);
    free(r);

    /* a zero dim makes a shape empty even when the other dims would overflow */
    r = build("{\"z\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", 0, &m);
    assert_int_equal(st_parse(r, m, &f, err, sizeof err), RECUR_OK);
    assert_int_equal(f.tensors[0].numel, 0);
    assert_int_equal(f.tensors[0].nbytes, 0);
    st_free(&f);
    free(r);

    /* an empty file: "{}" padded, no data */
    r = build("{}      ", 0, &m);
    assert_int_equal(st_parse(r, m, &f, err, sizeof err), RECUR_OK);
    assert_int_equal(f.n_tensors, 0);
    st_free(&f);
    free(r);
}

static void test_rejects(void **state)
{
    (void)state;
    /* truncated before the 8-byte length */
    static const unsigned char five[5] = {1, 0, 0, 0, 0};
    expect_reject_bytes(five, 5, "file is 5 bytes, too short for the 8-byte header length");
    expect_reject_bytes(five, 0, "file is 0 bytes");

    /* header length beyond the file, and beyond the limit */
    unsigned char big[20] = {0x0f, 0x27}; /* 9999 */
    memcpy(big + 8, "{}          ", 12);
    expect_reject_bytes(big, sizeof big, "header length 9999 exceeds file size 20");
    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_reject_bytes(huge, sizeof huge, "header length 18446744073709551615 exceeds the limit of 100000000 bytes");

    /* header JSON */
    expect_reject("{\"a\": {\"dtype\": ", 0, "header is not valid JSON");
    expect_reject("", 0, "header is not valid JSON");
    expect_reject("{\"a\xff\": 1}", 0, "header is not valid JSON");
    expect_reject("{}x", 0, "header is not valid JSON");
    expect_reject("[1, 2]", 0, "header JSON is an array, not an object");
    expect_reject("\"text\"", 0, "header JSON is a string, not an object");
    expect_reject(" {}", 0, "header starts with byte 0x20, not '{'");

    /* entries */
    expect_reject("{\"a\":[1]}", 0, "tensor 'a': entry is an array, not an object");
    expect_reject("{\"\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
                  "tensor with an empty name");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'a': missing field 'data_offsets'");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4,
                  "tensor 'a': unknown field 'extra'");
    expect_reject("{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                  "tensor 'a': unknown dtype 'Q7'");
    expect_reject("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                  "tensor 'a': dtype is an integer, not a string");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,4]}}", 4,
                  "tensor 'a': shape is an object, not an array");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,4]}}", 4,
                  "tensor 'a': shape[1] is -2, must not be negative");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
                  "tensor 'a': shape[0] is a real number, not an integer");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                  "tensor 'a': shape has 9 dims, at most 8");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                  "\"data_offsets\":[0,4]}}",
                  4, "tensor 'a': shape [4294967296, 4294967296, 4294967296] of F32 overflows the element count");
    /* numel fits but numel * 8 bytes does not */
    expect_reject("{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4,
                  "overflows the element count");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
                  "tensor 'a': data_offsets has 1 values, expected [begin, end]");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"0-4\"}}", 4,
                  "tensor 'a': data_offsets is a string");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
                  "tensor 'a': data_offsets[0] is -4, must not be negative");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
                  "tensor 'a': data_offsets [4, 0] end before begin");
    expect_reject("{\"rnn.weight_hh_l0\":{\"dtype\":\"F32\",\"shape\":[4,8],\"data_offsets\":[0,100]}}", 100,
                  "tensor 'rnn.weight_hh_l0': data_offsets [0, 100] but shape [4, 8] of F32 needs 128 bytes");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 16,
                  "tensor 'a': data_offsets [8, 24] outside the data area of 16 bytes");

    /* ranges: overlap, gap, trailing bytes, duplicates */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                  12, "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
                  8, "tensor 'b': data_offsets [4, 4] overlap tensor 'a' [0, 8]");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                  12, "data bytes [4, 8) belong to no tensor (gap before tensor 'b')");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6,
                  "data area is 6 bytes but the tensors end at byte 4 (trailing bytes)");
    expect_reject("{}", 1, "data area is 1 bytes but the tensors end at byte 0");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                  8, "header has a duplicate key");

    /* metadata */
    expect_reject("{\"__metadata__\":{\"format\":\"pt\",\"epoch\":3}}", 0,
                  "__metadata__ 'epoch': value is an integer, not a string");
    expect_reject("{\"__metadata__\":{\"x\":null}}", 0, "__metadata__ 'x': value is null, not a string");
    expect_reject("{\"__metadata__\":[\"pt\"]}", 0, "__metadata__ is an array, not an object of strings");
}

static void test_read_file_errors(void **state)
{
    (void)state;
    char path[300], err[512];
    st_file f;
    path_in(path, sizeof path, "absent.safetensors");
    assert_int_equal(st_read_file(path, &f, err, sizeof err), RECUR_ERR_IO);
    assert_non_null(strstr(err, "cannot open"));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));

    /* a broken file on disk: the message names the path and the problem */
    path_in(path, sizeof path, "broken.safetensors");
    static const unsigned char bytes[12] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    write_raw(path, bytes, sizeof bytes);
    assert_int_equal(st_read_file(path, &f, err, sizeof err), RECUR_ERR_FORMAT);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "header length 100 exceeds file size 12"));
    assert_null(f.owned);
    unlink(path);

    /* a folder is not a file */
    assert_int_equal(st_read_file(tmpdir, &f, err, sizeof err), RECUR_ERR_IO);
    assert_non_null(strstr(err, tmpdir));

    /* a tiny error buffer truncates, never overflows */
    char tiny[8];
    assert_int_equal(st_parse(bytes, 5, &f, tiny, sizeof tiny), RECUR_ERR_FORMAT);
    assert_int_equal(strlen(tiny), 7);
    assert_int_equal(st_parse(bytes, 5, &f, NULL, 0), RECUR_ERR_FORMAT);
}

static void test_writer_arg_errors(void **state)
{
    (void)state;
    char path[300], err[512];
    path_in(path, sizeof path, "never.safetensors");
    const float x[2] = {1, 2};

    st_writer *w = st_writer_new();
    assert_int_equal(st_writer_add(w, "a", ST_F32, 1, (int64_t[]){2}, x), RECUR_OK);
    assert_int_equal(st_writer_add(w, "a", ST_F32, 1, (int64_t[]){2}, x), RECUR_ERR_ARG);
    assert_non_null(strstr(st_writer_errmsg(w), "tensor 'a' added twice"));
    /* the first error sticks: later calls and the commit report it */
    assert_int_equal(st_writer_add(w, "b", ST_F32, 1, (int64_t[]){2}, x), RECUR_ERR_ARG);
    assert_int_equal(st_writer_commit(w, path, err, sizeof err), RECUR_ERR_ARG);
    assert_non_null(strstr(err, "tensor 'a' added twice"));
    assert_int_equal(access(path, F_OK), -1);
    st_writer_free(w);

    struct {
        const char *name;
        st_dtype dtype;
        int ndim;
        int64_t shape[2];
        const void *data;
        const char *msg;
    } cases[] = {
        {"", ST_F32, 1, {2}, x, "tensor name is empty"},
        {"__metadata__", ST_F32, 1, {2}, x, "reserved"},
        {"n", ST_F32, 2, {2, -1}, x, "tensor 'n': shape[1] is -1, must not be negative"},
        {"n", ST_F32, 9, {2, 1}, x, "tensor 'n': 9 dims"},
        {"n", (st_dtype)99, 1, {2}, x, "tensor 'n': unknown dtype 99"},
        {"n", ST_F32, 1, {2}, NULL, "tensor 'n': no data"},
        {"n", ST_F64, 2, {INT64_MAX, INT64_MAX}, x, "tensor 'n': size overflows"},
        {"bad\xff", ST_F32, 1, {2}, x, "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        w = st_writer_new();
        assert_int_not_equal(st_writer_add(w, cases[i].name, cases[i].dtype, cases[i].ndim, cases[i].shape,
                                           cases[i].data),
                             RECUR_OK);
        if (!strstr(st_writer_errmsg(w), cases[i].msg))
            print_error("case %zu: \"%s\"\n", i, st_writer_errmsg(w));
        assert_non_null(strstr(st_writer_errmsg(w), cases[i].msg));
        st_writer_free(w);
    }

    w = st_writer_new();
    assert_int_equal(st_writer_meta(w, "k", "v"), RECUR_OK);
    assert_int_equal(st_writer_meta(w, "k", "w"), RECUR_ERR_ARG);
    assert_non_null(strstr(st_writer_errmsg(w), "metadata 'k' set twice"));
    st_writer_free(w);

    w = st_writer_new();
    assert_int_equal(st_writer_add_f32_from_double(w, "big", 1, (int64_t[]){2}, (double[]){1.0, 1e40}),
                     RECUR_ERR_ARG);
    assert_non_null(strstr(st_writer_errmsg(w), "tensor 'big': element 1 (1e+40) is outside the range of float"));
    st_writer_free(w);

    assert_int_equal(st_writer_commit(NULL, path, err, sizeof err), RECUR_ERR_ARG);
    assert_string_equal(st_writer_errmsg(NULL), "no writer");
}

static st_writer *writer_of_size(size_t nfloats)
{
    float *x = calloc(nfloats, sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < nfloats; i++)
        x[i] = (float)i;
    st_writer *w = st_writer_new();
    assert_int_equal(st_writer_add(w, "x", ST_F32, 1, (int64_t[]){(int64_t)nfloats}, x), RECUR_OK);
    free(x);
    return w;
}

static void test_writer_missing_folder(void **state)
{
    (void)state;
    char path[300], err[512];
    path_in(path, sizeof path, "no/such/folder/x.safetensors");
    st_writer *w = writer_of_size(4);
    int before = count_entries(tmpdir);
    assert_int_equal(st_writer_commit(w, path, err, sizeof err), RECUR_ERR_IO);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file or directory"));
    assert_int_equal(count_entries(tmpdir), before);
    st_writer_free(w);
}

/* The target is a folder: the temporary file is written, the rename fails,
 * and the temporary file must be gone. */
static void test_writer_rename_fails(void **state)
{
    (void)state;
    char sub[300], err[512];
    path_in(sub, sizeof sub, "occupied");
    assert_int_equal(mkdir(sub, 0700), 0);
    int before = count_entries(tmpdir);
    st_writer *w = writer_of_size(4);
    /* a folder in the target's place: refused before anything is written
     * (a rename over it would fail, or replace an empty one) */
    assert_int_equal(st_writer_commit(w, sub, err, sizeof err), RECUR_ERR_IO);
    assert_non_null(strstr(err, "not a regular file (a folder)"));
    assert_non_null(strstr(err, sub));
    assert_int_equal(count_entries(tmpdir), before);
    st_writer_free(w);
    rmdir(sub);
}

/* A write that fails half-way (file size limit) leaves the old file intact. */
static void test_writer_write_fails(void **state)
{
    (void)state;
    char path[300];
    path_in(path, sizeof path, "keep.safetensors");
    st_writer *w = writer_of_size(3);
    char err[512];
    assert_int_equal(st_writer_commit(w, path, err, sizeof err), RECUR_OK);
    st_writer_free(w);
    size_t n0;
    unsigned char *before = read_all(path, &n0);
    int entries = count_entries(tmpdir);

    w = writer_of_size(1 << 16); /* 256 KiB, past the limit below */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {8192, 8192};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(10);
        char e[512] = "";
        recur_status st = st_writer_commit(w, path, e, sizeof e);
        if (st != RECUR_ERR_IO)
            _exit(11);
        if (!strstr(e, path) || !strstr(e, "File too large"))
            _exit(12);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    st_writer_free(w);

    size_t n1;
    unsigned char *after = read_all(path, &n1);
    assert_int_equal(n1, n0);
    assert_memory_equal(after, before, n0);
    assert_int_equal(count_entries(tmpdir), entries); /* no temporary file left */
    free(before);
    free(after);
    unlink(path);
}

/* Replacing a file keeps its permission bits (mkstemp alone would make 0600). */
static void test_writer_keeps_mode(void **state)
{
    (void)state;
    char path[300], err[512];
    path_in(path, sizeof path, "mode.safetensors");
    write_raw(path, "old", 3);
    assert_int_equal(chmod(path, 0640), 0);
    st_writer *w = writer_of_size(2);
    assert_int_equal(st_writer_commit(w, path, err, sizeof err), RECUR_OK);
    st_writer_free(w);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    st_file f;
    assert_int_equal(st_read_file(path, &f, err, sizeof err), RECUR_OK);
    assert_int_equal(f.n_tensors, 1);
    st_free(&f);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_read_file_errors),
        cmocka_unit_test(test_writer_arg_errors),
        cmocka_unit_test(test_writer_missing_folder),
        cmocka_unit_test(test_writer_rename_fails),
        cmocka_unit_test(test_writer_write_fails),
        cmocka_unit_test(test_writer_keeps_mode),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
