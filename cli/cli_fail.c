/* cli_fail.c - see cli_fail.h. */
#include <stdarg.h>
#include <stdio.h>

#include "recur_train.h"

#include "cli_fail.h"

int cli_fail(const char *cmd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (recur_parallel_size() > 1)
        fprintf(stderr, "%s: rank %d: %s\n", cmd, recur_parallel_rank(), buf);
    else
        fprintf(stderr, "%s: %s\n", cmd, buf);
    return 1;
}
