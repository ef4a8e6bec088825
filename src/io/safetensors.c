/*
 * safetensors.c - strict reader and atomic writer of the safetensors format
 * (the API and the rules it enforces are in safetensors.h).
 *
 * Reading: the 8-byte little-endian header length is checked against the
 * limit and the buffer, the JSON header is parsed with jansson (duplicate keys
 * rejected), every entry is checked field by field, and the tensors, sorted by
 * offset, must tile the data area exactly as the reference implementation
 * requires.  Tensor data is never copied; st_tensor.data points into the
 * caller's (or st_read_file's) buffer and may be unaligned, so st_copy_to_*
 * decode element by element.
 *
 * Writing: the writer owns copies of the tensors, stored little-endian.
 * Commit builds the header, writes header and data to a mkstemp file beside
 * the target, syncs it, renames it over the target and syncs the folder.
 */
#include "safetensors.h"

#include "atomic_file.h"

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

_Static_assert(sizeof(float) == 4 && FLT_MANT_DIG == 24, "float must be IEEE binary32");
_Static_assert(sizeof(double) == 8 && DBL_MANT_DIG == 53, "double must be IEEE binary64");

#define ST_MSG 512

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [ST_F32] = {"F32", 4}, [ST_F64] = {"F64", 8}, [ST_I32] = {"I32", 4}, [ST_I64] = {"I64", 8},
    [ST_U8] = {"U8", 1},   [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
};
#define N_DTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

size_t st_dtype_size(st_dtype d)
{
    return (int)d >= 0 && (int)d < N_DTYPES ? dtype_info[d].size : 0;
}

const char *st_dtype_name(st_dtype d)
{
    return (int)d >= 0 && (int)d < N_DTYPES ? dtype_info[d].name : "?";
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* "[4, 8]" into buf; SHAPE_BUF holds any ST_MAX_DIMS int64 dims. */
#define SHAPE_BUF 200
static const char *fmt_shape(char *buf, const int64_t *shape, int ndim)
{
    int used = snprintf(buf, SHAPE_BUF, "[");
    for (int i = 0; i < ndim && used < SHAPE_BUF; i++)
        used += snprintf(buf + used, SHAPE_BUF - (size_t)used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < SHAPE_BUF)
        snprintf(buf + used, SHAPE_BUF - (size_t)used, "]");
    return buf;
}

/* Elements and bytes of a shape of non-negative dims; -1 when either would
 * pass SIZE_MAX.  A zero dim makes both 0 whatever the other dims are. */
static int shape_size(const int64_t *shape, int ndim, size_t esize, size_t *numel, size_t *nbytes)
{
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) {
            *numel = *nbytes = 0;
            return 0;
        }
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (n > SIZE_MAX / d)
            return -1;
        n *= d;
    }
    if (n > SIZE_MAX / esize)
        return -1;
    *numel = (size_t)n;
    *nbytes = (size_t)n * esize;
    return 0;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    }
    return "an unknown JSON value";
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reverses each esize-byte element when the host is big-endian (file order is little-endian). */
static void swap_to_le(unsigned char *p, size_t nbytes, size_t esize)
{
    if (esize < 2 || host_is_little_endian())
        return;
    for (size_t i = 0; i + esize <= nbytes; i += esize)
        for (size_t a = i, b = i + esize - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float load_f32(const unsigned char *p)
{
    uint32_t u = load_le32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double load_f64(const unsigned char *p)
{
    uint64_t u = load_le64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */

/* A tensor while its header entry is checked, with its range for sorting. */
typedef struct pending {
    st_tensor t;
    uint64_t begin, end;
    size_t order; /* position in the JSON, to break ties deterministically */
} pending;

static int cmp_pending(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* A JSON value that must be a non-negative integer; what names it in messages. */
static int get_count(const json_t *v, const char *name, const char *what, int64_t *out, char *err,
                     size_t errlen)
{
    if (!json_is_integer(v)) {
        seterr(err, errlen, "tensor '%.200s': %s is %s, not an integer", name, what, json_kind(v));
        return -1;
    }
    json_int_t x = json_integer_value(v);
    if (x < 0) {
        seterr(err, errlen, "tensor '%.200s': %s is %lld, must not be negative", name, what,
               (long long)x);
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

static recur_status parse_entry(const char *name, const json_t *v, size_t data_size, pending *p,
                                char *err, size_t errlen)
{
    if (name[0] == '\0') {
        seterr(err, errlen, "header has a tensor with an empty name");
        return RECUR_ERR_FORMAT;
    }
    if (!json_is_object(v)) {
        seterr(err, errlen, "tensor '%.200s': entry is %s, not an object", name, json_kind(v));
        return RECUR_ERR_FORMAT;
    }
    const char *key;
    json_t *field;
    json_object_foreach((json_t *)v, key, field) {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets")) {
            seterr(err, errlen,
                   "tensor '%.200s': unknown field '%.100s' (expected dtype, shape, data_offsets)",
                   name, key);
            return RECUR_ERR_FORMAT;
        }
    }
    static const char *const required[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(v, required[i])) {
            seterr(err, errlen, "tensor '%.200s': missing field '%s'", name, required[i]);
            return RECUR_ERR_FORMAT;
        }

    const json_t *jd = json_object_get(v, "dtype");
    if (!json_is_string(jd)) {
        seterr(err, errlen, "tensor '%.200s': dtype is %s, not a string", name, json_kind(jd));
        return RECUR_ERR_FORMAT;
    }
    const char *ds = json_string_value(jd);
    int dt = -1;
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(ds, dtype_info[i].name) == 0)
            dt = i;
    if (dt < 0) {
        seterr(err, errlen, "tensor '%.200s': unknown dtype '%.40s' (known: F32, F64, I32, I64, U8, F16, BF16)",
               name, ds);
        return RECUR_ERR_FORMAT;
    }
    p->t.dtype = (st_dtype)dt;

    const json_t *js = json_object_get(v, "shape");
    if (!json_is_array(js)) {
        seterr(err, errlen, "tensor '%.200s': shape is %s, not an array", name, json_kind(js));
        return RECUR_ERR_FORMAT;
    }
    if (json_array_size(js) > ST_MAX_DIMS) {
        seterr(err, errlen, "tensor '%.200s': shape has %zu dims, at most %d are supported", name,
               json_array_size(js), ST_MAX_DIMS);
        return RECUR_ERR_FORMAT;
    }
    p->t.ndim = (int)json_array_size(js);
    for (int i = 0; i < p->t.ndim; i++) {
        char what[32];
        snprintf(what, sizeof what, "shape[%d]", i);
        if (get_count(json_array_get(js, (size_t)i), name, what, &p->t.shape[i], err, errlen))
            return RECUR_ERR_FORMAT;
    }
    char sbuf[SHAPE_BUF];
    if (shape_size(p->t.shape, p->t.ndim, dtype_info[dt].size, &p->t.numel, &p->t.nbytes)) {
        seterr(err, errlen, "tensor '%.200s': shape %s of %s overflows the element count", name,
               fmt_shape(sbuf, p->t.shape, p->t.ndim), ds);
        return RECUR_ERR_FORMAT;
    }

    const json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_array(jo) || json_array_size(jo) != 2) {
        if (json_is_array(jo))
            seterr(err, errlen, "tensor '%.200s': data_offsets has %zu values, expected [begin, end]",
                   name, json_array_size(jo));
        else
            seterr(err, errlen, "tensor '%.200s': data_offsets is %s, not an array [begin, end]",
                   name, json_kind(jo));
        return RECUR_ERR_FORMAT;
    }
    int64_t b, e;
    if (get_count(json_array_get(jo, 0), name, "data_offsets[0]", &b, err, errlen) ||
        get_count(json_array_get(jo, 1), name, "data_offsets[1]", &e, err, errlen))
        return RECUR_ERR_FORMAT;
    if (e < b) {
        seterr(err, errlen, "tensor '%.200s': data_offsets [%lld, %lld] end before begin", name,
               (long long)b, (long long)e);
        return RECUR_ERR_FORMAT;
    }
    if ((uint64_t)(e - b) != (uint64_t)p->t.nbytes) {
        seterr(err, errlen, "tensor '%.200s': data_offsets [%lld, %lld] but shape %s of %s needs %zu bytes",
               name, (long long)b, (long long)e, fmt_shape(sbuf, p->t.shape, p->t.ndim),
               ds, p->t.nbytes);
        return RECUR_ERR_FORMAT;
    }
    if ((uint64_t)e > (uint64_t)data_size) {
        seterr(err, errlen, "tensor '%.200s': data_offsets [%lld, %lld] outside the data area of %zu bytes",
               name, (long long)b, (long long)e, data_size);
        return RECUR_ERR_FORMAT;
    }
    p->begin = (uint64_t)b;
    p->end = (uint64_t)e;
    p->t.name = dupstr(name);
    if (!p->t.name) {
        seterr(err, errlen, "out of memory for tensor name '%.200s'", name);
        return RECUR_ERR_NOMEM;
    }
    return RECUR_OK;
}

static recur_status parse_meta(const json_t *v, st_file *out, char *err, size_t errlen)
{
    if (!json_is_object(v)) {
        seterr(err, errlen, "__metadata__ is %s, not an object of strings", json_kind(v));
        return RECUR_ERR_FORMAT;
    }
    size_t n = json_object_size(v);
    if (n > INT_MAX) {
        seterr(err, errlen, "__metadata__ has %zu entries, too many", n);
        return RECUR_ERR_FORMAT;
    }
    out->meta_keys = calloc(n ? n : 1, sizeof *out->meta_keys);
    out->meta_values = calloc(n ? n : 1, sizeof *out->meta_values);
    if (!out->meta_keys || !out->meta_values) {
        seterr(err, errlen, "out of memory for %zu metadata entries", n);
        return RECUR_ERR_NOMEM;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (!json_is_string(val)) {
            seterr(err, errlen, "__metadata__ '%.200s': value is %s, not a string", key, json_kind(val));
            return RECUR_ERR_FORMAT;
        }
        int i = out->n_meta++; /* counted before the copies, so st_free releases either */
        out->meta_keys[i] = dupstr(key);
        out->meta_values[i] = dupstr(json_string_value(val));
        if (!out->meta_keys[i] || !out->meta_values[i]) {
            seterr(err, errlen, "out of memory for metadata '%.200s'", key);
            return RECUR_ERR_NOMEM;
        }
    }
    return RECUR_OK;
}

void st_free(st_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->owned);
    memset(f, 0, sizeof *f);
}

recur_status st_parse(const void *bytes, size_t n, st_file *out, char *err, size_t errlen)
{
    if (!out) {
        seterr(err, errlen, "st_parse: no output");
        return RECUR_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    seterr(err, errlen, "%s", "");
    if (!bytes && n > 0) {
        seterr(err, errlen, "st_parse: no input bytes");
        return RECUR_ERR_ARG;
    }
    if (n < 8) {
        seterr(err, errlen, "file is %zu bytes, too short for the 8-byte header length", n);
        return RECUR_ERR_FORMAT;
    }
    const unsigned char *buf = bytes;
    uint64_t hlen = load_le64(buf);
    if (hlen > ST_MAX_HEADER) {
        seterr(err, errlen, "header length %llu exceeds the limit of %u bytes", (unsigned long long)hlen,
               ST_MAX_HEADER);
        return RECUR_ERR_FORMAT;
    }
    if (hlen > n - 8) {
        seterr(err, errlen, "header length %llu exceeds file size %zu", (unsigned long long)hlen, n);
        return RECUR_ERR_FORMAT;
    }
    const char *hdr = (const char *)buf + 8;
    const unsigned char *data = buf + 8 + hlen;
    size_t data_size = n - 8 - (size_t)hlen;

    json_error_t jerr;
    json_t *root = json_loadb(hdr, (size_t)hlen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_duplicate_key)
            seterr(err, errlen, "header has a duplicate key (names must be unique): %s", jerr.text);
        else
            seterr(err, errlen, "header is not valid JSON: %s (at byte %d of %llu)", jerr.text,
                   jerr.position, (unsigned long long)hlen);
        return RECUR_ERR_FORMAT;
    }
    recur_status st = RECUR_ERR_FORMAT;
    pending *pend = NULL;
    size_t np = 0;
    if (!json_is_object(root)) {
        seterr(err, errlen, "header JSON is %s, not an object", json_kind(root));
        goto fail;
    }
    if (hdr[0] != '{') {
        seterr(err, errlen, "header starts with byte 0x%02x, not '{'", (unsigned char)hdr[0]);
        goto fail;
    }
    size_t nobj = json_object_size(root);
    if (nobj > INT_MAX) {
        seterr(err, errlen, "header has %zu entries, too many", nobj);
        goto fail;
    }
    pend = calloc(nobj ? nobj : 1, sizeof *pend);
    if (!pend) {
        seterr(err, errlen, "out of memory for %zu header entries", nobj);
        st = RECUR_ERR_NOMEM;
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            st = parse_meta(val, out, err, errlen);
        } else {
            pend[np].order = np;
            st = parse_entry(key, val, data_size, &pend[np], err, errlen);
            if (st == RECUR_OK)
                np++;
        }
        if (st != RECUR_OK)
            goto fail;
    }
    qsort(pend, np, sizeof *pend, cmp_pending);
    /* Sorted ranges must tile [0, data_size): each begins where the last ended. */
    uint64_t pos = 0;
    for (size_t i = 0; i < np; i++) {
        if (pend[i].begin < pos) {
            seterr(err, errlen, "tensor '%.200s': data_offsets [%llu, %llu] overlap tensor '%.200s' [%llu, %llu]",
                   pend[i].t.name, (unsigned long long)pend[i].begin, (unsigned long long)pend[i].end,
                   pend[i - 1].t.name, (unsigned long long)pend[i - 1].begin,
                   (unsigned long long)pend[i - 1].end);
            st = RECUR_ERR_FORMAT;
            goto fail;
        }
        if (pend[i].begin > pos) {
            seterr(err, errlen, "data bytes [%llu, %llu) belong to no tensor (gap before tensor '%.200s')",
                   (unsigned long long)pos, (unsigned long long)pend[i].begin, pend[i].t.name);
            st = RECUR_ERR_FORMAT;
            goto fail;
        }
        pos = pend[i].end;
    }
    if (pos != data_size) {
        seterr(err, errlen, "data area is %zu bytes but the tensors end at byte %llu (trailing bytes)",
               data_size, (unsigned long long)pos);
        st = RECUR_ERR_FORMAT;
        goto fail;
    }
    out->tensors = calloc(np ? np : 1, sizeof *out->tensors);
    if (!out->tensors) {
        seterr(err, errlen, "out of memory for %zu tensors", np);
        st = RECUR_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < np; i++) {
        out->tensors[i] = pend[i].t;
        out->tensors[i].data = data + pend[i].begin;
    }
    out->n_tensors = (int)np;
    out->size = n;
    free(pend);
    json_decref(root);
    return RECUR_OK;

fail:
    for (size_t i = 0; i < np; i++)
        free(pend[i].t.name);
    free(pend);
    json_decref(root);
    st_free(out);
    return st;
}

recur_status st_read_file(const char *path, st_file *out, char *err, size_t errlen)
{
    if (!out || !path) {
        seterr(err, errlen, "st_read_file: no %s", out ? "path" : "output");
        return RECUR_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        seterr(err, errlen, "cannot open '%.300s': %s", path, strerror(errno));
        return RECUR_ERR_IO;
    }
    struct stat sb;
    size_t cap = 1 << 16;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        (uintmax_t)sb.st_size < SIZE_MAX)
        cap = (size_t)sb.st_size + 1; /* +1: EOF is seen without a regrow */
    unsigned char *buf = malloc(cap);
    size_t len = 0;
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        if (cap > SIZE_MAX / 2) {
            free(buf);
            buf = NULL;
            break;
        }
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf) {
        fclose(f);
        seterr(err, errlen, "out of memory reading '%.300s'", path);
        return RECUR_ERR_NOMEM;
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(buf);
        seterr(err, errlen, "cannot read '%.300s': %s", path, strerror(e));
        return RECUR_ERR_IO;
    }
    fclose(f);
    char msg[ST_MSG];
    recur_status st = st_parse(buf, len, out, msg, sizeof msg);
    if (st != RECUR_OK) {
        free(buf);
        seterr(err, errlen, "'%.300s': %s", path, msg);
        return st;
    }
    out->owned = buf;
    return RECUR_OK;
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    if (!f || !name)
        return NULL;
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const char *st_meta(const st_file *f, const char *key)
{
    if (!f || !key)
        return NULL;
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0)
            return f->meta_values[i];
    return NULL;
}

static recur_status copy_check(const st_tensor *t, const void *dst, size_t n, char *err, size_t errlen)
{
    if (!t || (!dst && n > 0)) {
        seterr(err, errlen, "st_copy: no %s", t ? "destination" : "tensor");
        return RECUR_ERR_ARG;
    }
    if (t->dtype != ST_F32 && t->dtype != ST_F64) {
        seterr(err, errlen, "tensor '%.200s' is %s; only F32 and F64 convert to floating point", t->name,
               st_dtype_name(t->dtype));
        return RECUR_ERR_MISMATCH;
    }
    if (n != t->numel) {
        seterr(err, errlen, "tensor '%.200s' has %zu elements, the destination holds %zu", t->name,
               t->numel, n);
        return RECUR_ERR_MISMATCH;
    }
    return RECUR_OK;
}

recur_status st_copy_to_float(const st_tensor *t, float *dst, size_t n, char *err, size_t errlen)
{
    recur_status st = copy_check(t, dst, n, err, errlen);
    if (st != RECUR_OK)
        return st;
    const unsigned char *p = t->data;
    if (t->dtype == ST_F32) {
        for (size_t i = 0; i < n; i++)
            dst[i] = load_f32(p + 4 * i);
        return RECUR_OK;
    }
    for (size_t i = 0; i < n; i++) {
        double x = load_f64(p + 8 * i);
        /* a finite double past float's range would silently become inf */
        if (isfinite(x) && fabs(x) > FLT_MAX) {
            seterr(err, errlen, "tensor '%.200s': element %zu (%g) is outside the range of float",
                   t->name, i, x);
            return RECUR_ERR_MISMATCH;
        }
        dst[i] = (float)x;
    }
    return RECUR_OK;
}

recur_status st_copy_to_double(const st_tensor *t, double *dst, size_t n, char *err, size_t errlen)
{
    recur_status st = copy_check(t, dst, n, err, errlen);
    if (st != RECUR_OK)
        return st;
    const unsigned char *p = t->data;
    for (size_t i = 0; i < n; i++)
        dst[i] = t->dtype == ST_F32 ? (double)load_f32(p + 4 * i) : load_f64(p + 8 * i);
    return RECUR_OK;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */

typedef struct wtensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t nbytes;
    unsigned char *data; /* little-endian */
} wtensor;

struct st_writer {
    wtensor *t;
    int n, cap;
    char **mkey, **mval;
    int nm, capm;
    uint64_t total;      /* data bytes so far */
    recur_status status; /* first add/meta failure, kept for commit */
    char msg[ST_MSG];
};

st_writer *st_writer_new(void)
{
    return calloc(1, sizeof(st_writer));
}

void st_writer_free(st_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free(w->t);
    for (int i = 0; i < w->nm; i++) {
        free(w->mkey[i]);
        free(w->mval[i]);
    }
    free(w->mkey);
    free(w->mval);
    free(w);
}

const char *st_writer_errmsg(const st_writer *w)
{
    return w ? w->msg : "no writer";
}

static recur_status wfail(st_writer *w, recur_status st, const char *fmt, ...)
{
    if (w->status == RECUR_OK) {
        w->status = st;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->msg, sizeof w->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

static int valid_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* Checks a new tensor and appends it with an uninitialised buffer of its size. */
static recur_status add_tensor(st_writer *w, const char *name, st_dtype dtype, int ndim,
                               const int64_t *shape, int have_data, wtensor **out)
{
    if (!w)
        return RECUR_ERR_ARG;
    if (w->status != RECUR_OK)
        return w->status;
    if (!name || !name[0])
        return wfail(w, RECUR_ERR_ARG, "tensor name is %s", name ? "empty" : "missing");
    if (strcmp(name, "__metadata__") == 0)
        return wfail(w, RECUR_ERR_ARG, "tensor name '__metadata__' is reserved");
    if (!valid_utf8(name))
        return wfail(w, RECUR_ERR_ARG, "tensor name '%.200s' is not valid UTF-8", name);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return wfail(w, RECUR_ERR_ARG, "tensor '%.200s' added twice", name);
    if ((int)dtype < 0 || (int)dtype >= N_DTYPES)
        return wfail(w, RECUR_ERR_ARG, "tensor '%.200s': unknown dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > ST_MAX_DIMS || (ndim > 0 && !shape))
        return wfail(w, RECUR_ERR_ARG, "tensor '%.200s': %d dims (0 to %d, with a shape)", name, ndim,
                     ST_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return wfail(w, RECUR_ERR_ARG, "tensor '%.200s': shape[%d] is %lld, must not be negative",
                         name, i, (long long)shape[i]);
    size_t numel, nbytes;
    if (shape_size(shape, ndim, dtype_info[dtype].size, &numel, &nbytes) ||
        nbytes > (uint64_t)INT64_MAX - w->total)
        return wfail(w, RECUR_ERR_NOMEM, "tensor '%.200s': size overflows", name);
    if (nbytes > 0 && !have_data)
        return wfail(w, RECUR_ERR_ARG, "tensor '%.200s': no data", name);
    if (w->n == w->cap) {
        if (w->cap > INT_MAX / 2)
            return wfail(w, RECUR_ERR_NOMEM, "too many tensors adding '%.200s'", name);
        int ncap = w->cap ? w->cap * 2 : 16;
        wtensor *nt = realloc(w->t, (size_t)ncap * sizeof *nt);
        if (!nt)
            return wfail(w, RECUR_ERR_NOMEM, "out of memory adding tensor '%.200s'", name);
        w->t = nt;
        w->cap = ncap;
    }
    wtensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = dupstr(name);
    t->data = malloc(nbytes ? nbytes : 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return wfail(w, RECUR_ERR_NOMEM, "out of memory for tensor '%.200s' (%zu bytes)", name, nbytes);
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->nbytes = nbytes;
    w->n++;
    w->total += nbytes;
    *out = t;
    return RECUR_OK;
}

recur_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim,
                           const int64_t *shape, const void *data)
{
    wtensor *t;
    recur_status st = add_tensor(w, name, dtype, ndim, shape, data != NULL, &t);
    if (st != RECUR_OK)
        return st;
    if (t->nbytes)
        memcpy(t->data, data, t->nbytes);
    swap_to_le(t->data, t->nbytes, dtype_info[dtype].size);
    return RECUR_OK;
}

recur_status st_writer_add_f32_from_double(st_writer *w, const char *name, int ndim,
                                           const int64_t *shape, const double *data)
{
    wtensor *t;
    recur_status st = add_tensor(w, name, ST_F32, ndim, shape, data != NULL, &t);
    if (st != RECUR_OK)
        return st;
    size_t n = t->nbytes / 4;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(data[i]) && fabs(data[i]) > FLT_MAX) {
            free(t->name);
            free(t->data);
            w->n--;
            w->total -= t->nbytes;
            return wfail(w, RECUR_ERR_ARG, "tensor '%.200s': element %zu (%g) is outside the range of float",
                         name, i, data[i]);
        }
        float f = (float)data[i];
        memcpy(t->data + 4 * i, &f, 4);
    }
    swap_to_le(t->data, t->nbytes, 4);
    return RECUR_OK;
}

recur_status st_writer_meta(st_writer *w, const char *key, const char *value)
{
    if (!w)
        return RECUR_ERR_ARG;
    if (w->status != RECUR_OK)
        return w->status;
    if (!key || !value)
        return wfail(w, RECUR_ERR_ARG, "metadata %s missing", key ? "value" : "key");
    if (!valid_utf8(key) || !valid_utf8(value))
        return wfail(w, RECUR_ERR_ARG, "metadata '%.200s': key or value is not valid UTF-8", key);
    for (int i = 0; i < w->nm; i++)
        if (strcmp(w->mkey[i], key) == 0)
            return wfail(w, RECUR_ERR_ARG, "metadata '%.200s' set twice", key);
    if (w->nm == w->capm) {
        if (w->capm > INT_MAX / 2)
            return wfail(w, RECUR_ERR_NOMEM, "too many metadata entries adding '%.200s'", key);
        int ncap = w->capm ? w->capm * 2 : 8;
        char **nk = realloc(w->mkey, (size_t)ncap * sizeof *nk);
        if (nk)
            w->mkey = nk;
        char **nv = nk ? realloc(w->mval, (size_t)ncap * sizeof *nv) : NULL;
        if (nv)
            w->mval = nv;
        if (!nk || !nv)
            return wfail(w, RECUR_ERR_NOMEM, "out of memory adding metadata '%.200s'", key);
        w->capm = ncap;
    }
    char *k = dupstr(key), *v = dupstr(value);
    if (!k || !v) {
        free(k);
        free(v);
        return wfail(w, RECUR_ERR_NOMEM, "out of memory adding metadata '%.200s'", key);
    }
    w->mkey[w->nm] = k;
    w->mval[w->nm] = v;
    w->nm++;
    return RECUR_OK;
}

/* The header JSON, compact, in insertion order; NULL when out of memory. */
static char *build_header(const st_writer *w)
{
    json_t *root = json_object();
    int ok = root != NULL;
    if (ok && w->nm > 0) {
        json_t *meta = json_object();
        ok = json_object_set_new(root, "__metadata__", meta) == 0;
        for (int i = 0; ok && i < w->nm; i++)
            ok = json_object_set_new(meta, w->mkey[i], json_string(w->mval[i])) == 0;
    }
    uint64_t off = 0;
    for (int i = 0; ok && i < w->n; i++) {
        const wtensor *t = &w->t[i];
        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        ok = e && shape && offs;
        for (int d = 0; ok && d < t->ndim; d++)
            ok = json_array_append_new(shape, json_integer((json_int_t)t->shape[d])) == 0;
        ok = ok && json_array_append_new(offs, json_integer((json_int_t)off)) == 0 &&
             json_array_append_new(offs, json_integer((json_int_t)(off + t->nbytes))) == 0;
        ok = ok && json_object_set_new(e, "dtype", json_string(dtype_info[t->dtype].name)) == 0;
        if (ok) {
            ok = json_object_set_new(e, "shape", shape) == 0;
            shape = NULL;
            ok = ok && json_object_set_new(e, "data_offsets", offs) == 0;
            offs = NULL;
            ok = ok && json_object_set_new(root, t->name, e) == 0;
            e = NULL;
        }
        json_decref(e);
        json_decref(shape);
        json_decref(offs);
        off += t->nbytes;
    }
    char *s = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return s;
}

static int write_all(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1;
}

recur_status st_writer_commit(st_writer *w, const char *path, char *err, size_t errlen)
{
    if (!w || !path || !path[0]) {
        seterr(err, errlen, "st_writer_commit: no %s", w ? "path" : "writer");
        return RECUR_ERR_ARG;
    }
    if (w->status != RECUR_OK) {
        seterr(err, errlen, "%s", w->msg);
        return w->status;
    }
    char *hdr = build_header(w);
    if (!hdr) {
        seterr(err, errlen, "out of memory building the header for '%.300s'", path);
        return RECUR_ERR_NOMEM;
    }
    size_t hlen = strlen(hdr);
    if (hlen + 8 > ST_MAX_HEADER) {
        /* a file its own reader (and the reference one) would refuse */
        seterr(err, errlen, "'%.300s' not written: its header would be %zu bytes, more than the %u bytes a reader "
               "accepts (metadata such as a vocabulary too large)", path, hlen, ST_MAX_HEADER);
        free(hdr);
        return RECUR_ERR_ARG;
    }

    atomic_file af;
    recur_status st = atomic_file_open(&af, path, err, errlen);
    if (st != RECUR_OK) {
        free(hdr);
        return st;
    }
    static const char spaces[8] = "       ";
    size_t pad = (8 - hlen % 8) % 8;
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)(hlen + pad) >> (8 * i));
    int bad = write_all(af.f, lenbuf, 8) || write_all(af.f, hdr, hlen) || write_all(af.f, spaces, pad);
    for (int i = 0; !bad && i < w->n; i++)
        bad = write_all(af.f, w->t[i].data, w->t[i].nbytes);
    free(hdr);
    if (bad) {
        seterr(err, errlen, "cannot write '%.300s' (temporary file of '%.300s'): %s", af.tmp, path, strerror(errno));
        atomic_file_abort(&af);
        return RECUR_ERR_IO;
    }
    return atomic_file_commit(&af, err, errlen);
}
