/*
 * ref_util.h - helpers for tests that compare librecur against the PyTorch
 * reference files in tests/ref (written by tests/ref/make_refs.py).
 * Header-only: every function is static inline (no unused-function warnings).
 *
 * The reference directory is $RECUR_REF_DIR, else "tests/ref" (make check runs
 * from the repository root).
 *
 * Comparison metric (ref_compare): for a computed tensor a and a reference b,
 *     s   = max(max_i |b_i|, 1e-3)                the tensor's scale
 *     e_i = |a_i - b_i| / (|b_i| + 0.1 * s)
 * and the tensor passes when max_i e_i <= tol.  Large elements are held to a
 * relative error of tol, elements near zero to an absolute error of
 * 0.1 * tol * s: tiny values can neither blow the error up (float32 rounding
 * in a near-zero element) nor hide a wrong one (the floor is a fixed fraction
 * of the tensor's own scale, not of the element).  A wrong gate order, a
 * missing term or a wrong direction gives errors of 1e-2..1 on this scale;
 * float32 rounding in these small cases stays below ~1e-5.
 */
#ifndef RECUR_TESTS_REF_UTIL_H
#define RECUR_TESTS_REF_UTIL_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "recur.h"
#include "io/safetensors.h"

static inline const char *ref_dir(void)
{
    const char *d = getenv("RECUR_REF_DIR");
    return (d && *d) ? d : "tests/ref";
}

/* Reads <ref_dir>/<name>.safetensors; on failure prints why and returns 0. */
static inline int ref_open(const char *name, st_file *f)
{
    char path[1024], err[512] = "";
    snprintf(path, sizeof path, "%s/%s.safetensors", ref_dir(), name);
    recur_status s = st_read_file(path, f, err, sizeof err);
    if (s != RECUR_OK) {
        fprintf(stderr, "cannot read reference %s: %s (%s)\n", path, err, recur_status_str(s));
        return 0;
    }
    return 1;
}

static inline const st_tensor *ref_get(const st_file *f, const char *name)
{
    const st_tensor *t = st_find(f, name);
    if (!t)
        fprintf(stderr, "reference file lacks tensor %s\n", name);
    return t;
}

/* A malloc'd double copy of a F32/F64 tensor (NULL on failure, message printed). */
static inline double *ref_double(const st_tensor *t)
{
    char err[256] = "";
    double *d = malloc((t->numel ? t->numel : 1) * sizeof *d);
    if (!d)
        return NULL;
    if (st_copy_to_double(t, d, t->numel, err, sizeof err) != RECUR_OK) {
        fprintf(stderr, "tensor %s: %s\n", t->name, err);
        free(d);
        return NULL;
    }
    return d;
}

/* A malloc'd recur_real copy of a F32/F64 tensor. */
static inline recur_real *ref_real(const st_tensor *t)
{
    char err[256] = "";
    recur_real *d = malloc((t->numel ? t->numel : 1) * sizeof *d);
    if (!d)
        return NULL;
#ifdef RECUR_DOUBLE
    recur_status s = st_copy_to_double(t, d, t->numel, err, sizeof err);
#else
    recur_status s = st_copy_to_float(t, d, t->numel, err, sizeof err);
#endif
    if (s != RECUR_OK) {
        fprintf(stderr, "tensor %s: %s\n", t->name, err);
        free(d);
        return NULL;
    }
    return d;
}

/* A malloc'd int64 copy of an I64/I32 tensor (the data may be unaligned). */
static inline int64_t *ref_i64(const st_tensor *t)
{
    if (t->dtype != ST_I64 && t->dtype != ST_I32) {
        fprintf(stderr, "tensor %s: expected an integer dtype, got %s\n", t->name,
                st_dtype_name(t->dtype));
        return NULL;
    }
    int64_t *d = malloc((t->numel ? t->numel : 1) * sizeof *d);
    if (!d)
        return NULL;
    const unsigned char *p = t->data;
    for (size_t i = 0; i < t->numel; i++) {
        if (t->dtype == ST_I64) {
            uint64_t u = 0;
            for (int k = 7; k >= 0; k--)
                u = (u << 8) | p[i * 8 + (size_t)k];
            d[i] = (int64_t)u;
        } else {
            uint32_t u = 0;
            for (int k = 3; k >= 0; k--)
                u = (u << 8) | p[i * 4 + (size_t)k];
            d[i] = (int32_t)u;
        }
    }
    return d;
}

/* The __metadata__ "config" JSON object (caller json_decref's), NULL on failure. */
static inline json_t *ref_config(const st_file *f)
{
    const char *text = st_meta(f, "config");
    if (!text) {
        fprintf(stderr, "reference file lacks __metadata__ config\n");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j || !json_is_object(j)) {
        fprintf(stderr, "reference config is not a JSON object: %s\n", je.text);
        json_decref(j);
        return NULL;
    }
    return j;
}

static inline int ref_cfg_int(json_t *cfg, const char *key, int *ok)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || !json_is_integer(v)) {
        fprintf(stderr, "reference config: %s missing or not an integer\n", key);
        *ok = 0;
        return 0;
    }
    return (int)json_integer_value(v);
}

static inline double ref_cfg_num(json_t *cfg, const char *key, int *ok)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || !json_is_number(v)) {
        fprintf(stderr, "reference config: %s missing or not a number\n", key);
        *ok = 0;
        return 0.0;
    }
    return json_number_value(v);
}

static inline const char *ref_cfg_str(json_t *cfg, const char *key, int *ok)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || !json_is_string(v)) {
        fprintf(stderr, "reference config: %s missing or not a string\n", key);
        *ok = 0;
        return "";
    }
    return json_string_value(v);
}

/* Accumulates comparisons over one reference file: every mismatch is printed
 * (not only the first), the worst error and where it was are kept. */
typedef struct ref_report {
    const char *label;  /* the case, for messages */
    double tol;
    int failures;
    double worst;
    char worst_name[256];
} ref_report;

static inline void ref_report_init(ref_report *rep, const char *label, double tol)
{
    memset(rep, 0, sizeof *rep);
    rep->label = label;
    rep->tol = tol;
    snprintf(rep->worst_name, sizeof rep->worst_name, "-");
}

__attribute__((format(printf, 2, 3))) static inline void ref_fail(ref_report *rep, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s: ", rep->label);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    rep->failures++;
}

/* The metric described at the top; *where gets the worst element's index. */
static inline double ref_error(const recur_real *a, const double *b, size_t n, size_t *where)
{
    double s = 1e-3;
    for (size_t i = 0; i < n; i++)
        if (fabs(b[i]) > s)
            s = fabs(b[i]);
    double worst = 0.0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        double ai = (double)a[i];
        double e = fabs(ai - b[i]) / (fabs(b[i]) + 0.1 * s);
        if (!(e <= worst) || isnan(ai)) { /* NaN counts as the worst */
            worst = isnan(ai) ? INFINITY : e;
            w = i;
            if (isnan(ai))
                break;
        }
    }
    if (where)
        *where = w;
    return worst;
}

/* Compares n computed values against the reference tensor `ref_name`
 * (the label `what` names the computed quantity in messages). */
static inline void ref_compare(ref_report *rep, const st_file *f, const char *ref_name,
                        const char *what, const recur_real *a, size_t n)
{
    const st_tensor *t = st_find(f, ref_name);
    if (!t) {
        ref_fail(rep, "reference lacks %s", ref_name);
        return;
    }
    if (!a) {
        ref_fail(rep, "%s: library returned NULL", what);
        return;
    }
    if (t->numel != n) {
        ref_fail(rep, "%s: %zu values, reference %s has %zu", what, n, ref_name, t->numel);
        return;
    }
    double *b = ref_double(t);
    if (!b) {
        ref_fail(rep, "%s: cannot convert reference", ref_name);
        return;
    }
    size_t w = 0;
    double e = ref_error(a, b, n, &w);
    if (!(e <= rep->worst) || rep->worst_name[0] == '-') {
        rep->worst = e;
        snprintf(rep->worst_name, sizeof rep->worst_name, "%s", what);
    }
    if (!(e <= rep->tol)) {
        /* the index as coordinates of the reference's shape */
        char coord[96] = "";
        size_t rem = w, len = 0;
        int64_t idx[ST_MAX_DIMS];
        for (int d = t->ndim - 1; d >= 0; d--) {
            int64_t dim = t->shape[d] > 0 ? t->shape[d] : 1;
            idx[d] = (int64_t)(rem % (size_t)dim);
            rem /= (size_t)dim;
        }
        for (int d = 0; d < t->ndim && len < sizeof coord - 24; d++)
            len += (size_t)snprintf(coord + len, sizeof coord - len, "%s%lld", d ? "," : "",
                                    (long long)idx[d]);
        ref_fail(rep, "%s differs from %s: error %.3g > %.3g at [%s]: got %.9g, want %.9g",
                 what, ref_name, e, rep->tol, coord, (double)a[w], b[w]);
    }
    free(b);
}

/* Scalar relative comparison |a - b| <= tol * max(|b|, 1e-12). */
static inline double ref_scalar_err(double a, double b)
{
    double d = fabs(a - b) / fmax(fabs(b), 1e-12);
    return isnan(d) ? INFINITY : d;
}

#endif
