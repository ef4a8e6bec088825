/* alloc.c - overflow-checked, 64-byte aligned, zeroed allocation. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

size_t recur_mul(size_t a, size_t b, int *ok)
{
    if (a && b > SIZE_MAX / a) {
        *ok = 0;
        return 0;
    }
    return a * b;
}

void *recur_alloc(size_t n, size_t size)
{
    int ok = 1;
    size_t bytes = recur_mul(n, size, &ok);
    if (!ok)
        return NULL;
    if (bytes == 0)
        bytes = 64;
    bytes = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void recur_free(void *p) { free(p); }
