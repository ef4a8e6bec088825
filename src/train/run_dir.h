/*
 * run_dir.h - the run folder of a trainer (not installed): created, locked
 * for one run at a time, checked for writing before any work, and the
 * fingerprints of the files a run reads.
 */
#ifndef RECUR_TRAIN_RUN_DIR_H
#define RECUR_TRAIN_RUN_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "base/internal.h"

/* Creates dir and its parents as needed; RECUR_ERR_IO with a message. */
recur_status run_dir_make(const char *dir, char *msg);
/* Locks dir/.lock with an fcntl write lock (*fd kept open); RECUR_ERR_STATE
 * naming the process holding it. */
recur_status run_dir_lock(const char *dir, int *fd, char *msg);
void run_dir_unlock(int fd);
/* Creates and removes a temporary file in dir. */
recur_status run_dir_check_writable(const char *dir, char *msg);
/* 1 when both paths exist and are the same file. */
int same_file(const char *a, const char *b);
int file_exists(const char *path);

/* A file's size and a 64-bit FNV-1a hash of its bytes. */
typedef struct file_print {
    int64_t size;
    uint64_t hash;
} file_print;
recur_status file_fingerprint(const char *path, file_print *fp, char *msg);

#endif
