/*
 * line_reader.c - buffered lines over read(2), with a poll(2) look at the
 * descriptor for whether more input is waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "line_reader.h"

int line_reader_open(line_reader *r, const char *cmd, const char *path)
{
    memset(r, 0, sizeof *r);
    r->fd = strcmp(path, "-") ? open(path, O_RDONLY) : 0;
    if (r->fd < 0) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", cmd, path, strerror(errno));
        return 1;
    }
    r->cap = 1 << 16;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        line_reader_close(r);
        return 1;
    }
    return 0;
}

void line_reader_close(line_reader *r)
{
    if (r->fd > 0)
        close(r->fd);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

static int has_line(const line_reader *r)
{
    return memchr(r->buf + r->start, '\n', r->end - r->start) != NULL ||
           (r->eof && r->end > r->start);
}

int line_reader_ready(line_reader *r)
{
    if (r->eof || has_line(r))
        return 1;
    struct pollfd p = {r->fd, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

/* One read(2) into the buffer (grown or compacted first); 0 or -1. */
static int fill(line_reader *r, const char *cmd, const char *name)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        char *b = realloc(r->buf, r->cap * 2);
        if (!b) {
            fprintf(stderr, "%s: %s: out of memory (a line of %zu bytes)\n", cmd, name, r->end);
            return -1;
        }
        r->buf = b;
        r->cap *= 2;
    }
    ssize_t k;
    do
        k = read(r->fd, r->buf + r->end, r->cap - r->end);
    while (k < 0 && errno == EINTR);
    if (k < 0) {
        fprintf(stderr, "%s: %s: read error: %s\n", cmd, name, strerror(errno));
        return -1;
    }
    if (k == 0)
        r->eof = 1;
    r->end += (size_t)k;
    return 0;
}

int line_reader_next(line_reader *r, const char *cmd, const char *name, const char **line,
                     size_t *len)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl || (r->eof && r->end > r->start)) {
            size_t stop = nl ? (size_t)(nl - r->buf) : r->end;
            *line = r->buf + r->start;
            *len = stop - r->start;
            r->start = nl ? stop + 1 : stop;
            r->lineno++;
            return 1;
        }
        if (r->eof)
            return 0;
        if (fill(r, cmd, name))
            return -1;
    }
}
