/*
 * safetensors.h - strict reader and atomic writer of the safetensors format
 * (internal to librecur).
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON mapping each
 * tensor name to {"dtype", "shape", "data_offsets": [begin, end]} plus an
 * optional "__metadata__" object of string -> string, then the raw
 * little-endian tensor bytes; offsets are relative to the byte after the header.
 *
 * The reader trusts nothing: header length against file size, JSON syntax and
 * types, known dtypes, shape products (overflow-checked) against byte ranges,
 * ranges inside the data area, no two ranges overlapping, no duplicate names.
 * Like the reference implementation it also requires the ranges, sorted, to
 * cover the data area exactly: a gap between tensors or bytes after the last
 * one are errors, and the header must start with '{'.
 * Every failure gets a message that names the problem.
 */
#ifndef RECUR_SAFETENSORS_H
#define RECUR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "recur.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER 100000000u /* bytes of JSON, as the reference implementation */

typedef enum st_dtype { ST_F32 = 0, ST_F64, ST_I32, ST_I64, ST_U8, ST_F16, ST_BF16 } st_dtype;

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    const void *data;  /* points into the file's buffer; may be unaligned */
    size_t nbytes;
} st_tensor;

typedef struct st_file {
    st_tensor *tensors;   /* in the order of their data offsets */
    int n_tensors;
    char **meta_keys;
    char **meta_values;
    int n_meta;
    void *owned;          /* the whole file when read from disk, else NULL */
    size_t size;
} st_file;

size_t st_dtype_size(st_dtype d);
const char *st_dtype_name(st_dtype d);

/* Parses bytes[0..n) (kept by the caller while *out is used).  On failure
 * fills err (errlen bytes) and returns RECUR_ERR_FORMAT (or NOMEM); *out is
 * then empty and needs no st_free. */
recur_status st_parse(const void *bytes, size_t n, st_file *out, char *err, size_t errlen);
/* Reads a whole file and parses it; RECUR_ERR_IO when it cannot be read. */
recur_status st_read_file(const char *path, st_file *out, char *err, size_t errlen);
void st_free(st_file *f);

const st_tensor *st_find(const st_file *f, const char *name);
const char *st_meta(const st_file *f, const char *key);

/* Copies a tensor into float/double storage, converting F32/F64 (other dtypes
 * fail).  n must equal t->numel. */
recur_status st_copy_to_float(const st_tensor *t, float *dst, size_t n, char *err, size_t errlen);
recur_status st_copy_to_double(const st_tensor *t, double *dst, size_t n, char *err, size_t errlen);

/* Writer: collects tensors (data copied) and metadata, then commits
 * atomically (temporary file in the target's folder, write, fflush, fsync,
 * rename, fsync of the folder).  On any failure the target is untouched and
 * the temporary file removed (RECUR_ERR_IO, the message names the path).
 * Output is deterministic: __metadata__ first, then tensors in the order they
 * were added with contiguous offsets, the JSON padded with spaces to a
 * multiple of 8 bytes.  A failed add/meta (bad name, shape or dtype, duplicate,
 * no memory) is kept: st_writer_errmsg says why, and commit refuses with the
 * same status and message, so a caller may check only the commit. */
typedef struct st_writer st_writer;

st_writer *st_writer_new(void);
void st_writer_free(st_writer *w);
recur_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim,
                           const int64_t *shape, const void *data);
/* Adds an F32 tensor converting from float or double sources. */
recur_status st_writer_add_f32_from_double(st_writer *w, const char *name, int ndim,
                                           const int64_t *shape, const double *data);
recur_status st_writer_meta(st_writer *w, const char *key, const char *value);
recur_status st_writer_commit(st_writer *w, const char *path, char *err, size_t errlen);
/* The first add/meta error, "" when none. */
const char *st_writer_errmsg(const st_writer *w);

#endif
