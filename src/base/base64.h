/* base64.h - base64 (RFC 4648) for binary state kept in JSON metadata. */
#ifndef RECUR_BASE64_H
#define RECUR_BASE64_H

#include <stddef.h>

/* malloc'd, NUL-terminated; NULL when out of memory. */
char *base64_encode(const void *data, size_t n);
/* Decodes exactly n bytes into out; 0 on success, -1 for text that is not
 * the encoding of n bytes. */
int base64_decode(const char *s, void *out, size_t n);

#endif
