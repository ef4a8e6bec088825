/* strbuf.h - a growable, always NUL-terminated byte string for the CLI. */
#ifndef RECUR_CLI_STRBUF_H
#define RECUR_CLI_STRBUF_H

#include <stddef.h>

typedef struct strbuf {
    char *s;         /* NULL until the first append */
    size_t n, cap;   /* length (without the NUL) and allocation */
} strbuf;

/* Appends n bytes of s; 0, or -1 when out of memory (b unchanged). */
int strbuf_add(strbuf *b, const char *s, size_t n);
void strbuf_free(strbuf *b);

#endif
