/* atomic_file.c - temporary file, sync, rename, folder sync (atomic_file.h). */
#include "atomic_file.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

recur_status atomic_file_open(atomic_file *a, const char *path, char *err, size_t errlen)
{
    static const char suffix[] = ".tmp.XXXXXX";
    memset(a, 0, sizeof *a);
    size_t plen = strlen(path);
    a->tmp = malloc(plen + sizeof suffix);
    a->path = strdup(path);
    if (!a->tmp || !a->path) {
        release(a);
        seterr(err, errlen, "out of memory writing '%.300s'", path);
        return RECUR_ERR_NOMEM;
    }
    memcpy(a->tmp, path, plen);
    memcpy(a->tmp + plen, suffix, sizeof suffix);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        seterr(err, errlen, "cannot create a temporary file for '%.300s': %s", path, strerror(errno));
        release(a);
        return RECUR_ERR_IO;
    }
    if (set_mode(fd, path) != 0 || !(a->f = fdopen(fd, "wb"))) {
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
