/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors reader
 * (src/io/safetensors.c): st_parse on arbitrary bytes, then every tensor and
 * metadata entry it accepts is looked up and read, and F32/F64 tensors are
 * converted with st_copy_to_float and st_copy_to_double.  A failure must leave
 * an empty st_file and a non-empty message.  Build and run: docs/fuzzing.md.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

/* Folded into the result so the reads cannot be optimised away. */
static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_file f;
    char err[512];
    recur_status st = st_parse(data, size, &f, err, sizeof err);
    if (st != RECUR_OK) {
        if (err[0] == '\0' || f.tensors || f.n_tensors || f.meta_keys || f.n_meta)
            __builtin_trap();
        return 0;
    }
    unsigned acc = 0;
    size_t covered = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        if (st_find(&f, t->name) != t || t->nbytes != t->numel * st_dtype_size(t->dtype))
            __builtin_trap();
        /* the data lies inside the input (ASan also checks each byte read) */
        const uint8_t *p = t->data;
        if (p < data || p + t->nbytes > data + size)
            __builtin_trap();
        for (size_t b = 0; b < t->nbytes; b++)
            acc += p[b];
        covered += t->nbytes;
        if (t->dtype == ST_F32 || t->dtype == ST_F64) {
            float *fl = malloc(t->numel ? t->numel * sizeof *fl : 1);
            double *db = malloc(t->numel ? t->numel * sizeof *db : 1);
            if (fl && db) {
                if (st_copy_to_float(t, fl, t->numel, err, sizeof err) == RECUR_OK)
                    for (size_t k = 0; k < t->numel; k++)
                        acc += fl[k] == fl[k];
                if (st_copy_to_double(t, db, t->numel, err, sizeof err) != RECUR_OK)
                    __builtin_trap();
                for (size_t k = 0; k < t->numel; k++)
                    acc += db[k] == db[k];
            }
            free(fl);
            free(db);
        } else if (st_copy_to_float(t, NULL, 0, err, sizeof err) != RECUR_ERR_MISMATCH) {
            __builtin_trap();
        }
    }
    /* tensors tile the data area, so together they cover no more than the input */
    if (covered > size)
        __builtin_trap();
    for (int i = 0; i < f.n_meta; i++) {
        const char *v = st_meta(&f, f.meta_keys[i]);
        if (v != f.meta_values[i])
            __builtin_trap();
        acc += (unsigned)strlen(v);
    }
    sink = acc;
    st_free(&f);
    return 0;
}
