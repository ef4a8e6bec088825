/*
 * ngram_internal.h - pieces shared by the n-gram files of librecur: records
 * of fixed width in temporary files, and an external sorter that keeps a
 * bounded amount of memory, spills sorted runs and merges them.
 *
 * Every record is an array of uint32_t.  Sort keys are always the first
 * `key` words compared as unsigned integers from left to right, so each stage
 * lays its records out in the order it needs (the n-gram code stores words
 * last-first to get "suffix order").  64-bit counts and doubles ride in pairs
 * of words, copied with memcpy.
 */
#ifndef RECUR_NGRAM_INTERNAL_H
#define RECUR_NGRAM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "recur.h"

/* Word ids fixed by training; others follow in order of first appearance. */
#define NG_BOS 0u
#define NG_EOS 1u

/* ---- records ---- */
static inline uint64_t ng_get_u64(const uint32_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void ng_put_u64(uint32_t *p, uint64_t v) { memcpy(p, &v, sizeof v); }
static inline double ng_get_f64(const uint32_t *p)
{
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void ng_put_f64(uint32_t *p, double v) { memcpy(p, &v, sizeof v); }

/* -1, 0, 1 as the first n words of a and b compare. */
static inline int ng_cmp(const uint32_t *a, const uint32_t *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* An anonymous temporary file in dir (NULL: $TMPDIR or /tmp), removed from
 * the directory at once so that nothing is left behind on any exit. */
recur_status ng_tmpfile(FILE **out, const char *dir, recur_error *err);
/* Resolved temporary directory for messages. */
const char *ng_tmpdir(const char *dir);

/* A file of records: written once, rewound, read once or more. */
typedef struct ng_recfile {
    FILE *f;
    int width;          /* uint32 words per record */
    int64_t n;          /* records written */
    const char *what;   /* for messages: "adjusted 3-gram counts", ... */
    const char *dir;
} ng_recfile;

recur_status ng_recfile_open(ng_recfile *rf, int width, const char *what, const char *dir,
                             recur_error *err);
recur_status ng_recfile_put(ng_recfile *rf, const uint32_t *rec, recur_error *err);
/* Rewinds for reading. */
recur_status ng_recfile_rewind(ng_recfile *rf, recur_error *err);
/* 1: a record was read into rec; 0: end; -1: error (err is set). */
int ng_recfile_get(ng_recfile *rf, uint32_t *rec, recur_error *err);
void ng_recfile_close(ng_recfile *rf);

/* ---- vocabulary: spelling <-> id, open addressing on a 64-bit FNV-1a hash ---- */
typedef struct ng_vocab {
    char **words;       /* id -> NUL-terminated spelling */
    int32_t n, cap;
    int32_t *slots;     /* -1: empty; else an id */
    size_t mask;        /* slots - 1, a power of two minus one */
} ng_vocab;

recur_status ng_vocab_init(ng_vocab *v, recur_error *err);
void ng_vocab_free(ng_vocab *v);
/* The id of word[0..len), -1 when absent. */
int32_t ng_vocab_find(const ng_vocab *v, const char *word, size_t len);
/* Adds word[0..len) (must be absent) as id v->n. */
recur_status ng_vocab_add(ng_vocab *v, const char *word, size_t len, int32_t *id, recur_error *err);

/* The words of a line: split in place at whitespace (C locale isspace),
 * each token NUL-terminated inside the line. */
typedef struct ng_tokens {
    char **tok;
    size_t *len;
    size_t n, cap;
} ng_tokens;

recur_status ng_tokenize(ng_tokens *t, char *line, recur_error *err);

/* The next line of f into *line (grown as needed, NUL-terminated, the '\n'
 * kept): its length, 0 at the end of the file, -1 on a read error (errno).
 * It stops at a NUL byte, setting *nul, so that binary data (/dev/zero)
 * is refused at once instead of read until memory runs out. */
long ng_read_line(FILE *f, char **line, size_t *cap, int *nul);
/* The rule every text reader of recur follows (recur_text_check's): UTF-8,
 * no NUL byte, and no literal <s>, </s> or <eos>, the markers of sentence
 * boundaries that are implicit in a line.  RECUR_ERR_FORMAT naming what,
 * path and line ("ngram train", "corpus.txt", 12); checks the tokens of t. */
recur_status ng_check_line(const char *what, const char *path, long long lineno, const char *line, size_t len,
                           int nul, recur_error *err);
recur_status ng_check_tokens(const char *what, const char *path, long long lineno, const ng_tokens *t,
                             recur_error *err);
void ng_tokens_free(ng_tokens *t);

/* Sentence boundary spellings; the text itself may not contain them. */
#define NG_BOS_WORD "<s>"
#define NG_EOS_WORD "</s>"
#define NG_UNK_WORD "<unk>"

/* ---- external sorter ----
 * add() records; finish(); then next() yields them in key order.  Records
 * with equal keys are combined by adding the 64-bit count at sum_at when
 * sum_at >= 0; with sum_at < 0 equal keys are kept as they are. */
typedef struct ng_run ng_run;

typedef struct ng_sorter {
    int width, key, sum_at;
    const char *dir;
    const char *what;
    uint32_t *buf, *aux;    /* capacity cap records each (aux: radix sort) */
    size_t *count;          /* radix sort histogram, 65536 buckets */
    size_t cap, n;
    size_t max_cap;         /* the budget: cap doubles up to it */
    ng_run *runs;           /* spilled sorted runs */
    int n_runs, cap_runs;
    int64_t spilled;        /* runs written, merges included */
    /* iteration */
    int finished;
    size_t mem_pos;         /* next record of buf when nothing was spilled */
    int *heap;              /* indices of runs, ordered by current record */
    int heap_n;
    uint32_t *out;          /* the record next() returns (width words) */
    int have_pending;
    uint32_t *pending;
} ng_sorter;

/* mem_bytes bounds buf + aux (at least 64 records each); they start at
 * 65536 records and grow as the counts need. */
recur_status ng_sorter_init(ng_sorter *s, int width, int key, int sum_at, size_t mem_bytes,
                            const char *dir, const char *what, recur_error *err);
recur_status ng_sorter_add(ng_sorter *s, const uint32_t *rec, recur_error *err);
recur_status ng_sorter_finish(ng_sorter *s, recur_error *err);
/* 1: *rec points at the next record (valid until the next call); 0: end;
 * -1: error. */
int ng_sorter_next(ng_sorter *s, const uint32_t **rec, recur_error *err);
void ng_sorter_free(ng_sorter *s);

#endif
