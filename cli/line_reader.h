/*
 * line_reader.h - lines from a file descriptor for commands that stream
 * (`recur lm score`): it says whether the next line can be had without
 * waiting, so a command can gather a batch from a file or a fast pipe and
 * still answer an interactive line at once.
 */
#ifndef RECUR_CLI_LINE_READER_H
#define RECUR_CLI_LINE_READER_H

#include <stddef.h>

typedef struct line_reader {
    int fd;
    char *buf;
    size_t cap, start, end; /* unread bytes: buf[start..end) */
    int eof;
    long long lineno;       /* of the last line returned, 1-based */
} line_reader;

/* Opens path ("-": standard input); 0, or 1 after printing why. */
int line_reader_open(line_reader *r, const char *cmd, const char *path);
void line_reader_close(line_reader *r);
/* The next line without its '\n' (a last line without one counts):
 * 1 with *line (valid until the next call) and *len, 0 at the end, -1 after
 * printing a read error. */
int line_reader_next(line_reader *r, const char *cmd, const char *name, const char **line,
                     size_t *len);
/* 1 when line_reader_next would return without waiting for input. */
int line_reader_ready(line_reader *r);

#endif
