/* atomic_file.c - temporary file, sync, rename, folder sync (atomic_file.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The process umask, read without changing it (umask(2) would race other
 * threads creating files); -1 when unknown. */
static int current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    int mask = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Umask:", 6) == 0) {
            char *end;
            long v = strtol(line + 6, &end, 8);
            if (end != line + 6 && v >= 0 && v <= 0777)
                mask = (int)v;
            break;
        }
    fclose(f);
    return mask;
}

/* mkstemp makes 0600 files: give the result the mode the target has, or a new
 * file's usual 0666 & ~umask; stay at 0600 when neither is known. */
static int set_mode(int fd, const char *path)
{
    struct stat sb;
    mode_t mode;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        mode = sb.st_mode & 07777;
    } else {
        int mask = current_umask();
        if (mask < 0)
            return 0;
        mode = 0666 & ~(mode_t)mask;
    }
    return fchmod(fd, mode);
}

static void release(atomic_file *a)
{
    free(a->tmp);
    free(a->path);
    a->tmp = a->path = NULL;
    a->f = NULL;
}

/* The file a write to `path` must replace: what a symbolic link names (a
 * rename over the link would replace the link itself), refusing anything
 * that is not a regular file (a device, a FIFO, a folder), which a rename
 * would turn into one.  Returns a malloc'd path or NULL with err set. */
static char *resolve_target(const char *path, char *err, size_t errlen)
{
    char *target = strdup(path);
    struct stat sb;
    /* follow links one by one (the last may name a file yet to be made) */
    for (int hops = 0; target && lstat(target, &sb) == 0 && S_ISLNK(sb.st_mode); hops++) {
        char link[PATH_MAX];
        ssize_t n = readlink(target, link, sizeof link - 1);
        if (n < 0 || hops == 40) {
            seterr(err, errlen, "'%.300s': cannot follow its symbolic link: %s", path,
                   n < 0 ? strerror(errno) : "too many levels");
            free(target);
            return NULL;
        }
        link[n] = '\0';
        const char *slash = strrchr(target, '/');
        size_t dlen = link[0] == '/' || !slash ? 0 : (size_t)(slash - target) + 1;
        char *next = malloc(dlen + (size_t)n + 1);
        if (next) {
            memcpy(next, target, dlen);
            memcpy(next + dlen, link, (size_t)n + 1);
        }
        free(target);
        target = next;
    }
    if (!target) {
        seterr(err, errlen, "out of memory writing '%.300s'", path);
        return NULL;
    }
    if (stat(target, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        seterr(err, errlen, "'%.300s' is not a regular file (%s): recur writes its files only to regular files", path,
               S_ISDIR(sb.st_mode) ? "a folder" : S_ISFIFO(sb.st_mode) ? "a FIFO" : "a device or special file");
        free(target);
        return NULL;
    }
    if (strcmp(target, path) != 0) {
        /* a link into a folder that does not exist */
        char *slash = strrchr(target, '/');
        if (slash && slash != target) {
            *slash = '\0';
            int ok = stat(target, &sb) == 0 && S_ISDIR(sb.st_mode);
            *slash = '/';
            if (!ok) {
                seterr(err, errlen, "'%.300s' is a symbolic link to a missing folder ('%.300s')", path, target);
                free(target);
                return NULL;
            }
        }
    }
    return target;
}

/* Removes the temporary files of `path` ("<path>.tmp.<pid>.XXXXXX") left by
 * processes that no longer run (killed while writing): nothing else removes
 * them.  Failures are ignored: this is cleaning, not writing. */
static void remove_stale_temporaries(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 0, blen = strlen(base);
    char dir[PATH_MAX];
    if (dlen >= sizeof dir)
        return;
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = dlen ? dlen : 1; /* "/name": the root */
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp.", 5) != 0)
            continue;
        char *end;
        long pid = strtol(n + blen + 5, &end, 10);
        if (end == n + blen + 5 || *end != '.' || strlen(end + 1) != 6 || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* its writer may still be at work */
        char full[PATH_MAX];
        if (snprintf(full, sizeof full, "%s/%s", dir, n) < (int)sizeof full)
            unlink(full);
    }
    closedir(d);
}

recur_status atomic_file_open(atomic_file *a, const char *path, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->path = resolve_target(path, err, errlen);
    if (!a->path)
        return errno == ENOMEM ? RECUR_ERR_NOMEM : RECUR_ERR_IO;
    remove_stale_temporaries(a->path);
    char suffix[48];
    snprintf(suffix, sizeof suffix, ".tmp.%ld.XXXXXX", (long)getpid());
    size_t plen = strlen(a->path);
    a->tmp = malloc(plen + strlen(suffix) + 1);
    if (!a->tmp) {
        release(a);
        seterr(err, errlen, "out of memory writing '%.300s'", path);
        return RECUR_ERR_NOMEM;
    }
    memcpy(a->tmp, a->path, plen);
    strcpy(a->tmp + plen, suffix);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        seterr(err, errlen, "cannot create a temporary file for '%.300s': %s", path, strerror(errno));
        release(a);
        return RECUR_ERR_IO;
    }
    if (set_mode(fd, a->path) != 0 || !(a->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        seterr(err, errlen, "cannot set up '%.300s' (temporary file of '%.300s'): %s", a->tmp, path, strerror(e));
        release(a);
        return RECUR_ERR_IO;
    }
    return RECUR_OK;
}

void atomic_file_abort(atomic_file *a)
{
    if (a->f)
        fclose(a->f);
    if (a->tmp)
        unlink(a->tmp);
    release(a);
}

recur_status atomic_file_commit(atomic_file *a, char *err, size_t errlen)
{
    const char *step = "write";
    int bad = fflush(a->f) != 0;
    if (!bad) {
        step = "sync";
        bad = fsync(fileno(a->f)) != 0;
    }
    int e = errno;
    if (fclose(a->f) != 0 && !bad) {
        step = "close";
        bad = 1;
        e = errno;
    }
    a->f = NULL;
    if (bad) {
        unlink(a->tmp);
        seterr(err, errlen, "cannot %s '%.300s' (temporary file of '%.300s'): %s", step, a->tmp, a->path,
               strerror(e));
        release(a);
        return RECUR_ERR_IO;
    }
    if (rename(a->tmp, a->path) != 0) {
        e = errno;
        unlink(a->tmp);
        seterr(err, errlen, "cannot rename '%.300s' to '%.300s': %s", a->tmp, a->path, strerror(e));
        release(a);
        return RECUR_ERR_IO;
    }
    /* the rename itself is durable only once the folder is synced: the folder
     * is everything before the last '/', or "/" or "." */
    char *dir = a->tmp; /* reused: the temporary name is no longer needed */
    const char *slash = strrchr(a->path, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == a->path)
        strcpy(dir, "/");
    else {
        memcpy(dir, a->path, (size_t)(slash - a->path));
        dir[slash - a->path] = '\0';
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || (fsync(dfd) != 0 && errno != EINVAL)) {
        e = errno;
        if (dfd >= 0)
            close(dfd);
        seterr(err, errlen, "'%.300s' was written but syncing its folder '%.300s' failed: %s", a->path, dir,
               strerror(e));
        release(a);
        return RECUR_ERR_IO;
    }
    close(dfd);
    release(a);
    return RECUR_OK;
}
