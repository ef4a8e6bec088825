/*
 * atomic_file.h - write a file so that a crash, a full disk or an error
 * leaves the old one intact: the data goes to a temporary file beside the
 * target (mkstemp, given the target's mode or 0666 & ~umask), which is
 * flushed, synced, renamed over the target, and the folder synced.  Used by
 * every file recur writes (checkpoints, ARPA models).  A target that is a
 * symbolic link is written through (the file it names is replaced); one that
 * is not a regular file (a device, a FIFO, a folder) is refused.  The
 * temporary file is "<target>.tmp.<pid>.XXXXXX": opening removes those of
 * processes that no longer run.
 */
#ifndef RECUR_ATOMIC_FILE_H
#define RECUR_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "base/internal.h"

typedef struct atomic_file {
    FILE *f;    /* write the contents through this */
    char *tmp;  /* the temporary file's path */
    char *path; /* the target */
} atomic_file;

/* Creates the temporary file.  RECUR_OK, or RECUR_ERR_NOMEM / RECUR_ERR_IO
 * with a message in err. */
recur_status atomic_file_open(atomic_file *a, const char *path, char *err, size_t errlen);
/* Flushes, syncs and closes the temporary file and renames it over the
 * target, then syncs the folder.  RECUR_OK, or RECUR_ERR_IO with a message
 * (the temporary file is removed, the target untouched unless only the
 * folder sync failed).  Frees a either way. */
recur_status atomic_file_commit(atomic_file *a, char *err, size_t errlen);
/* Closes and removes the temporary file; frees a.  Safe on a zeroed a. */
void atomic_file_abort(atomic_file *a);

#endif
