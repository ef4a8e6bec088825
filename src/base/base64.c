/* base64.c - base64 (RFC 4648, with padding). */
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t n)
{
    const unsigned char *d = data;
    char *out = malloc(4 * ((n + 2) / 3) + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)d[i + 1] << 8;
        if (i + 2 < n)
            v |= d[i + 2];
        *p++ = B64[(v >> 18) & 63];
        *p++ = B64[(v >> 12) & 63];
        *p++ = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        *p++ = i + 2 < n ? B64[v & 63] : '=';
    }
    *p = '\0';
    return out;
}

int base64_decode(const char *s, void *out, size_t n)
{
    unsigned char *o = out;
    size_t len = strlen(s), k = 0;
    if (len != 4 * ((n + 2) / 3))
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        unsigned v = 0;
        for (int j = 0; j < 4; j++) {
            const char *q = s[i + j] ? strchr(B64, s[i + j]) : NULL;
            unsigned x;
            if (s[i + j] == '=')
                x = 0;
            else if (q)
                x = (unsigned)(q - B64);
            else
                return -1;
            v = (v << 6) | x;
        }
        for (int j = 0; j < 3 && k < n; j++)
            o[k++] = (unsigned char)(v >> (16 - 8 * j));
    }
    return 0;
}
