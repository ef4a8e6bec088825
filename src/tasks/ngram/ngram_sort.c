/*
 * ngram_sort.c - temporary record files and the external sorter behind
 * n-gram training (see ngram_internal.h).
 *
 * The sorter fills a buffer of at most mem_bytes/2; when it is full the
 * records are radix-sorted and records with equal keys are combined.  If that
 * freed at least half of the buffer, filling goes on (n-gram counts repeat a
 * lot); otherwise the buffer is written out as a sorted run.  finish() merges
 * the runs with a heap, at most NG_MAX_FAN at a time (more runs are first
 * merged into longer runs), so the number of open files stays bounded and
 * memory is only a read buffer per run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/internal.h"
#include "ngram_internal.h"

#define NG_MAX_FAN 64
#define NG_IOBUF (256u * 1024u)

const char *ng_tmpdir(const char *dir)
{
    if (dir && *dir)
        return dir;
    const char *t = getenv("TMPDIR");
    return (t && *t) ? t : "/tmp";
}

recur_status ng_tmpfile(FILE **out, const char *dir, recur_error *err)
{
    *out = NULL;
    const char *d = ng_tmpdir(dir);
    size_t len = strlen(d) + 32;
    char *path = malloc(len);
    if (!path)
        return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for a temporary file name");
    snprintf(path, len, "%s/recur-ngram-XXXXXX", d);
    int fd = mkstemp(path);
    if (fd < 0) {
        int e = errno;
        free(path);
        return recur_error_set(err, RECUR_ERR_IO, "ngram: cannot create a temporary file in %s: %s", d,
                               strerror(e));
    }
    /* Unlinked at once: the space is returned when the file is closed, even
     * if the process dies. */
    unlink(path);
    free(path);
    FILE *f = fdopen(fd, "w+b");
    if (!f) {
        int e = errno;
        close(fd);
        return recur_error_set(err, RECUR_ERR_IO, "ngram: cannot open a temporary file in %s: %s", d,
                               strerror(e));
    }
    *out = f;
    return RECUR_OK;
}

/* ---- record files ---- */

recur_status ng_recfile_open(ng_recfile *rf, int width, const char *what, const char *dir,
                             recur_error *err)
{
    memset(rf, 0, sizeof *rf);
    rf->width = width;
    rf->what = what;
    rf->dir = dir;
    return ng_tmpfile(&rf->f, dir, err);
}

recur_status ng_recfile_put(ng_recfile *rf, const uint32_t *rec, recur_error *err)
{
    if (fwrite(rec, sizeof *rec, (size_t)rf->width, rf->f) != (size_t)rf->width)
        return recur_error_set(err, RECUR_ERR_IO, "ngram: writing %s to a temporary file in %s: %s",
                               rf->what, ng_tmpdir(rf->dir), strerror(errno));
    rf->n++;
    return RECUR_OK;
}

recur_status ng_recfile_rewind(ng_recfile *rf, recur_error *err)
{
    if (fflush(rf->f) != 0 || fseek(rf->f, 0, SEEK_SET) != 0)
        return recur_error_set(err, RECUR_ERR_IO, "ngram: flushing %s to a temporary file in %s: %s",
                               rf->what, ng_tmpdir(rf->dir), strerror(errno));
    return RECUR_OK;
}

int ng_recfile_get(ng_recfile *rf, uint32_t *rec, recur_error *err)
{
    size_t got = fread(rec, sizeof *rec, (size_t)rf->width, rf->f);
    if (got == (size_t)rf->width)
        return 1;
    if (got == 0 && feof(rf->f))
        return 0;
    recur_error_set(err, RECUR_ERR_IO, "ngram: reading %s back from a temporary file in %s: %s",
                    rf->what, ng_tmpdir(rf->dir), ferror(rf->f) ? strerror(errno) : "truncated");
    return -1;
}

void ng_recfile_close(ng_recfile *rf)
{
    if (rf->f)
        fclose(rf->f);
    rf->f = NULL;
}

/* ---- sorted runs ---- */

struct ng_run {
    FILE *f;
    char *iobuf;
    int64_t n, pos;
    uint32_t *cur; /* current record (width words) */
};

static void run_close(ng_run *r)
{
    if (r->f)
        fclose(r->f);
    free(r->iobuf);
    free(r->cur);
    memset(r, 0, sizeof *r);
}

/* 1: next record in r->cur; 0: run exhausted; -1: error. */
static int run_advance(ng_sorter *s, ng_run *r, recur_error *err)
{
    if (r->pos >= r->n)
        return 0;
    if (fread(r->cur, sizeof *r->cur, (size_t)s->width, r->f) != (size_t)s->width) {
        recur_error_set(err, RECUR_ERR_IO, "ngram: reading a sorted run of %s from %s: %s", s->what,
                        ng_tmpdir(s->dir), ferror(r->f) ? strerror(errno) : "truncated");
        return -1;
    }
    r->pos++;
    return 1;
}

static recur_status push_run(ng_sorter *s, FILE *f, int64_t n, recur_error *err)
{
    if (s->n_runs == s->cap_runs) {
        int cap = s->cap_runs ? 2 * s->cap_runs : 16;
        ng_run *r = realloc(s->runs, (size_t)cap * sizeof *r);
        if (!r) {
            fclose(f);
            return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for the runs of %s", s->what);
        }
        s->runs = r;
        s->cap_runs = cap;
    }
    ng_run *r = &s->runs[s->n_runs++];
    memset(r, 0, sizeof *r);
    r->f = f;
    r->n = n;
    s->spilled++;
    return RECUR_OK;
}

/* ---- in-memory sort: least-significant-digit radix sort on 16-bit digits,
 * skipping digits that are the same in every record (word ids rarely use
 * the high half). ---- */

#define NB 65536u

static void radix_sort(ng_sorter *s)
{
    size_t n = s->n, w = (size_t)s->width;
    if (n < 2)
        return;
    size_t *count = s->count;
    for (int word = s->key - 1; word >= 0; word--) {
        for (int shift = 0; shift <= 16; shift += 16) {
            memset(count, 0, NB * sizeof *count);
            for (size_t i = 0; i < n; i++)
                count[(s->buf[i * w + (size_t)word] >> shift) & 0xffffu]++;
            int trivial = 0;
            for (size_t b = 0; b < NB; b++)
                if (count[b]) {
                    trivial = count[b] == n;
                    break;
                }
            if (trivial)
                continue;
            size_t sum = 0;
            for (size_t b = 0; b < NB; b++) {
                size_t c = count[b];
                count[b] = sum;
                sum += c;
            }
            for (size_t i = 0; i < n; i++) {
                size_t d = (s->buf[i * w + (size_t)word] >> shift) & 0xffffu;
                memcpy(s->aux + count[d]++ * w, s->buf + i * w, w * sizeof *s->buf);
            }
            uint32_t *t = s->buf;
            s->buf = s->aux;
            s->aux = t;
        }
    }
}

/* Sorts the buffer and combines equal keys. */
static void compact(ng_sorter *s)
{
    radix_sort(s);
    if (s->sum_at < 0 || s->n < 2)
        return;
    size_t w = (size_t)s->width, j = 0;
    for (size_t i = 1; i < s->n; i++) {
        uint32_t *a = s->buf + j * w, *b = s->buf + i * w;
        if (ng_cmp(a, b, s->key) == 0) {
            ng_put_u64(a + s->sum_at, ng_get_u64(a + s->sum_at) + ng_get_u64(b + s->sum_at));
        } else {
            j++;
            if (j != i)
                memcpy(s->buf + j * w, b, w * sizeof *b);
        }
    }
    s->n = j + 1;
}

static recur_status spill(ng_sorter *s, recur_error *err)
{
    FILE *f;
    recur_status st = ng_tmpfile(&f, s->dir, err);
    if (st)
        return st;
    size_t words = s->n * (size_t)s->width;
    if (fwrite(s->buf, sizeof *s->buf, words, f) != words || fflush(f) != 0) {
        int e = errno;
        fclose(f);
        return recur_error_set(err, RECUR_ERR_IO, "ngram: writing a sorted run of %s to %s: %s", s->what,
                               ng_tmpdir(s->dir), strerror(e));
    }
    st = push_run(s, f, (int64_t)s->n, err);
    s->n = 0;
    return st;
}

recur_status ng_sorter_init(ng_sorter *s, int width, int key, int sum_at, size_t mem_bytes,
                            const char *dir, const char *what, recur_error *err)
{
    memset(s, 0, sizeof *s);
    s->width = width;
    s->key = key;
    s->sum_at = sum_at;
    s->dir = dir;
    s->what = what;
    size_t rec = (size_t)width * sizeof(uint32_t);
    /* the buffers start small and double up to the budget: a large --memory
     * costs only what the counts need */
    s->max_cap = mem_bytes / 2 / rec;
    if (s->max_cap < 64)
        s->max_cap = 64;
    s->cap = s->max_cap < 65536 ? s->max_cap : 65536;
    s->buf = malloc(s->cap * rec);
    s->aux = malloc(s->cap * rec);
    s->out = malloc(rec);
    s->pending = malloc(rec);
    s->count = malloc(NB * sizeof *s->count);
    if (!s->buf || !s->aux || !s->out || !s->pending || !s->count) {
        size_t bytes = 2 * s->cap * rec;
        ng_sorter_free(s);
        return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for a %zu-byte sort buffer of %s",
                               bytes, what);
    }
    return RECUR_OK;
}

/* Doubles the buffers within the budget; 0 when at the budget or when memory
 * runs out (then the sorter spills to disk, as at its budget). */
static int grow(ng_sorter *s)
{
    if (s->cap >= s->max_cap)
        return 0;
    size_t cap = s->cap * 2 < s->max_cap ? s->cap * 2 : s->max_cap;
    size_t rec = (size_t)s->width * sizeof(uint32_t);
    uint32_t *buf = realloc(s->buf, cap * rec);
    if (!buf) {
        s->max_cap = s->cap;
        return 0;
    }
    s->buf = buf;
    uint32_t *aux = realloc(s->aux, cap * rec);
    if (!aux) {
        s->max_cap = s->cap;
        return 0;
    }
    s->aux = aux;
    s->cap = cap;
    return 1;
}

recur_status ng_sorter_add(ng_sorter *s, const uint32_t *rec, recur_error *err)
{
    if (s->n == s->cap && !grow(s)) {
        compact(s);
        if (s->sum_at < 0 || s->n > s->cap / 2) {
            recur_status st = spill(s, err);
            if (st)
                return st;
        }
    }
    memcpy(s->buf + s->n * (size_t)s->width, rec, (size_t)s->width * sizeof *rec);
    s->n++;
    return RECUR_OK;
}

/* ---- merging ---- */

static int heap_less(const ng_sorter *s, const ng_run *runs, int a, int b)
{
    int c = ng_cmp(runs[a].cur, runs[b].cur, s->key);
    return c < 0 || (c == 0 && a < b);
}

static void heap_down(ng_sorter *s, const ng_run *runs, int *heap, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_less(s, runs, heap[l], heap[m]))
            m = l;
        if (r < n && heap_less(s, runs, heap[r], heap[m]))
            m = r;
        if (m == i)
            return;
        int t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

/* Prepares runs[0..n) for merging: rewinds, buffers, reads first records. */
static recur_status merge_start(ng_sorter *s, ng_run *runs, int n, int *heap, int *heap_n,
                                recur_error *err)
{
    *heap_n = 0;
    for (int i = 0; i < n; i++) {
        ng_run *r = &runs[i];
        if (fseek(r->f, 0, SEEK_SET) != 0)
            return recur_error_set(err, RECUR_ERR_IO, "ngram: rewinding a sorted run of %s in %s: %s",
                                   s->what, ng_tmpdir(s->dir), strerror(errno));
        if (!r->iobuf) {
            r->iobuf = malloc(NG_IOBUF);
            r->cur = malloc((size_t)s->width * sizeof *r->cur);
            if (!r->iobuf || !r->cur)
                return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for merging runs of %s",
                                       s->what);
            setvbuf(r->f, r->iobuf, _IOFBF, NG_IOBUF);
        }
        r->pos = 0;
        int got = run_advance(s, r, err);
        if (got < 0)
            return err->status;
        if (got)
            heap[(*heap_n)++] = i;
    }
    for (int i = *heap_n / 2 - 1; i >= 0; i--)
        heap_down(s, runs, heap, *heap_n, i);
    return RECUR_OK;
}

/* Next combined record of a merge into s->out: 1, 0 at the end, -1 error. */
static int merge_next(ng_sorter *s, ng_run *runs, int *heap, int *heap_n, recur_error *err)
{
    size_t bytes = (size_t)s->width * sizeof(uint32_t);
    for (;;) {
        if (*heap_n == 0) {
            if (!s->have_pending)
                return 0;
            memcpy(s->out, s->pending, bytes);
            s->have_pending = 0;
            return 1;
        }
        int top = heap[0];
        const uint32_t *rec = runs[top].cur;
        int emit = 0;
        if (s->have_pending && s->sum_at >= 0 && ng_cmp(s->pending, rec, s->key) == 0) {
            ng_put_u64(s->pending + s->sum_at,
                       ng_get_u64(s->pending + s->sum_at) + ng_get_u64(rec + s->sum_at));
        } else {
            if (s->have_pending) {
                memcpy(s->out, s->pending, bytes);
                emit = 1;
            }
            memcpy(s->pending, rec, bytes);
            s->have_pending = 1;
        }
        int got = run_advance(s, &runs[top], err);
        if (got < 0)
            return -1;
        if (!got)
            heap[0] = heap[--*heap_n];
        heap_down(s, runs, heap, *heap_n, 0);
        if (emit)
            return 1;
    }
}

recur_status ng_sorter_finish(ng_sorter *s, recur_error *err)
{
    recur_status st;
    s->finished = 1;
    if (s->n_runs == 0) {
        compact(s);
        s->mem_pos = 0;
        free(s->aux);
        s->aux = NULL;
        return RECUR_OK;
    }
    if (s->n > 0) {
        compact(s);
        if ((st = spill(s, err)))
            return st;
    }
    /* The buffers are no longer needed: give the memory back before merging. */
    free(s->buf);
    free(s->aux);
    s->buf = s->aux = NULL;
    s->heap = malloc(NG_MAX_FAN * sizeof *s->heap);
    if (!s->heap)
        return recur_error_set(err, RECUR_ERR_NOMEM, "ngram: out of memory for merging runs of %s", s->what);
    /* Merge the oldest NG_MAX_FAN runs into one until few enough remain. */
    while (s->n_runs > NG_MAX_FAN) {
        FILE *f;
        if ((st = ng_tmpfile(&f, s->dir, err)))
            return st;
        int heap_n;
        if ((st = merge_start(s, s->runs, NG_MAX_FAN, s->heap, &heap_n, err))) {
            fclose(f);
            return st;
        }
        int64_t n = 0;
        int got;
        while ((got = merge_next(s, s->runs, s->heap, &heap_n, err)) == 1) {
            if (fwrite(s->out, sizeof *s->out, (size_t)s->width, f) != (size_t)s->width) {
                int e = errno;
                fclose(f);
                return recur_error_set(err, RECUR_ERR_IO, "ngram: writing a merged run of %s to %s: %s",
                                       s->what, ng_tmpdir(s->dir), strerror(e));
            }
            n++;
        }
        if (got < 0 || fflush(f) != 0) {
            int e = errno;
            fclose(f);
            if (got < 0)
                return err->status;
            return recur_error_set(err, RECUR_ERR_IO, "ngram: writing a merged run of %s to %s: %s", s->what,
                                   ng_tmpdir(s->dir), strerror(e));
        }
        for (int i = 0; i < NG_MAX_FAN; i++)
            run_close(&s->runs[i]);
        memmove(s->runs, s->runs + NG_MAX_FAN, (size_t)(s->n_runs - NG_MAX_FAN) * sizeof *s->runs);
        s->n_runs -= NG_MAX_FAN;
        if ((st = push_run(s, f, n, err)))
            return st;
    }
    return merge_start(s, s->runs, s->n_runs, s->heap, &s->heap_n, err);
}

int ng_sorter_next(ng_sorter *s, const uint32_t **rec, recur_error *err)
{
    if (!s->finished) {
        recur_error_set(err, RECUR_ERR_STATE, "ngram: internal error: %s read before the sort finished",
                        s->what);
        return -1;
    }
    if (s->n_runs == 0) {
        if (s->mem_pos >= s->n)
            return 0;
        *rec = s->buf + s->mem_pos++ * (size_t)s->width;
        return 1;
    }
    int got = merge_next(s, s->runs, s->heap, &s->heap_n, err);
    if (got == 1)
        *rec = s->out;
    return got;
}

void ng_sorter_free(ng_sorter *s)
{
    for (int i = 0; i < s->n_runs; i++)
        run_close(&s->runs[i]);
    free(s->runs);
    free(s->buf);
    free(s->aux);
    free(s->heap);
    free(s->out);
    free(s->pending);
    free(s->count);
    memset(s, 0, sizeof *s);
}
