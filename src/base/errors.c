/* errors.c - status names and the formatting of error messages. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *recur_status_str(recur_status s)
{
    switch (s) {
    case RECUR_OK: return "ok";
    case RECUR_ERR_ARG: return "invalid argument";
    case RECUR_ERR_NOMEM: return "out of memory";
    case RECUR_ERR_IO: return "input/output error";
    case RECUR_ERR_FORMAT: return "malformed file";
    case RECUR_ERR_MISMATCH: return "file does not match";
    case RECUR_ERR_VERSION: return "unsupported format version";
    case RECUR_ERR_NONFINITE: return "non-finite value";
    case RECUR_ERR_STATE: return "call out of order";
    case RECUR_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

recur_status recur_seterr_v(char *buf, recur_status st, const char *fmt, va_list ap)
{
    if (buf)
        vsnprintf(buf, RECUR_ERRMSG_LEN, fmt, ap);
    return st;
}

recur_status recur_seterr(char *buf, recur_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    recur_seterr_v(buf, st, fmt, ap);
    va_end(ap);
    return st;
}

recur_status recur_error_set(recur_error *err, recur_status st, const char *fmt, ...)
{
    if (!err)
        return st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->status = st;
    return st;
}
