/* file_write.c - recur_file_write_atomic: a whole file at once through
 * atomic_file (the reports of the inspection tools: SVG, CSV, HTML). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "io/atomic_file.h"
#include "recur_inspect.h"

recur_status recur_file_write_atomic(const char *path, const void *data, size_t n, recur_error *err)
{
    char msg[512];
    atomic_file a;
    memset(&a, 0, sizeof a);
    recur_status st = atomic_file_open(&a, path, msg, sizeof msg);
    if (st != RECUR_OK)
        return recur_error_set(err, st, "%s", msg);
    errno = 0;
    if (n && fwrite(data, 1, n, a.f) != n) {
        int e = errno ? errno : EIO;
        atomic_file_abort(&a);
        return recur_error_set(err, RECUR_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    st = atomic_file_commit(&a, msg, sizeof msg);
    if (st != RECUR_OK)
        return recur_error_set(err, st, "%s", msg);
    return RECUR_OK;
}
