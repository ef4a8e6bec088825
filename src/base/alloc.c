/* alloc.c - overflow-checked, 64-byte aligned, zeroed allocation.  It sits
 * on calloc, so large buffers come as fresh zero pages from the kernel: a
 * buffer a program never writes (the gradients of a model used only for
 * scoring) costs no memory. */
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

/* Layout: [calloc'd start ... padding | original pointer | aligned data]. */
void *recur_alloc(size_t n, size_t size)
{
    int ok = 1;
    size_t bytes = recur_mul(n, size, &ok);
    const size_t extra = 64 + sizeof(void *);
    if (!ok || bytes > SIZE_MAX - extra)
        return NULL;
    char *raw = calloc(1, bytes + extra);
    if (!raw)
        return NULL;
    uintptr_t aligned = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    ((void **)aligned)[-1] = raw;
    return (void *)aligned;
}

void recur_free(void *p)
{
    if (p)
        free(((void **)p)[-1]);
}
