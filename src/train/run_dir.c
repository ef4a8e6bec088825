/* run_dir.c - the run folder: creation, the lock, writability, fingerprints. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "run_dir.h"

recur_status run_dir_make(const char *dir, char *msg)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf)
        return recur_seterr(msg, RECUR_ERR_ARG, "the run folder's name is empty or too long");
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char keep = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return recur_seterr(msg, RECUR_ERR_IO, "%s: cannot create the folder: %s", buf,
                                strerror(errno));
        buf[i] = keep;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return recur_seterr(msg, RECUR_ERR_IO, "%s: not a folder", dir);
    return RECUR_OK;
}

recur_status run_dir_lock(const char *dir, int *fd, char *msg)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (f < 0)
        return recur_seterr(msg, RECUR_ERR_IO, "%s: cannot create the run's lock file: %s", path,
                            strerror(errno));
    /* An open-file-description lock: also refuses a second trainer of the
     * same process, which a classic fcntl lock would let through. */
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(f, F_OFD_SETLK, &lk) != 0) {
        int e = errno;
        char text[32] = "";
        ssize_t k = pread(f, text, sizeof text - 1, 0);
        long pid = k > 0 ? strtol(text, NULL, 10) : 0;
        close(f);
        if (e == EACCES || e == EAGAIN) {
            if (pid > 0)
                return recur_seterr(msg, RECUR_ERR_STATE,
                                    "%s is in use by another run (process %ld): wait for it to "
                                    "end or choose another folder",
                                    dir, pid);
            return recur_seterr(msg, RECUR_ERR_STATE, "%s is in use by another run", dir);
        }
        return recur_seterr(msg, RECUR_ERR_IO, "%s: cannot lock: %s", path, strerror(e));
    }
    /* the holder's pid, for people looking at the folder */
    char pid[32];
    int k = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)k, 0) != k) {
        /* informational only: the lock itself is held */
    }
    *fd = f;
    return RECUR_OK;
}

void run_dir_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the description releases its lock */
}

recur_status run_dir_check_writable(const char *dir, char *msg)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/.write-test.XXXXXX", dir);
    int f = mkstemp(path);
    if (f < 0)
        return recur_seterr(msg, RECUR_ERR_IO, "%s: cannot write into the run folder: %s", dir,
                            strerror(errno));
    int ok = write(f, "x", 1) == 1;
    int e = errno;
    close(f);
    unlink(path);
    if (!ok)
        return recur_seterr(msg, RECUR_ERR_IO, "%s: cannot write into the run folder: %s", dir,
                            strerror(e));
    return RECUR_OK;
}

int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

recur_status file_fingerprint(const char *path, file_print *fp, char *msg)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return recur_seterr(msg, RECUR_ERR_IO, "%s: %s", path, strerror(errno));
    uint64_t h = 1469598103934665603ull;
    int64_t size = 0;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
        size += (int64_t)n;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return recur_seterr(msg, RECUR_ERR_IO, "%s: read error", path);
    fp->size = size;
    fp->hash = h;
    return RECUR_OK;
}
