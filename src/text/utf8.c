/*
 * utf8.c - strict UTF-8 decoding and encoding (RFC 3629), and the reading and
 * checking of text files for language models.
 *
 * A sequence is valid when its lead byte announces 1-4 bytes, every
 * continuation byte is 10xxxxxx, the value is not overlong (the shortest form
 * only), not a surrogate (U+D800..U+DFFF) and not above U+10FFFF.  Checks on
 * text report the byte offset of the first byte of the first bad sequence,
 * with its line and column, so a user can find it with `dd` or an editor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

int recur_utf8_decode(const char *str, size_t n, size_t *pos, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = *pos;
    if (i >= n)
        return 0;
    unsigned c = s[i];
    if (c < 0x80) {
        *cp = c;
        *pos = i + 1;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0; /* continuation byte, C0/C1 (always overlong) or F5..FF */
    }
    if (n - i < (size_t)len)
        return 0;
    for (int k = 1; k < len; k++) {
        unsigned d = s[i + k];
        if ((d & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (d & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    *pos = i + (size_t)len;
    return 1;
}

int recur_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp <= 0x10FFFF) {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

int recur_utf8_valid(const char *s, size_t n, size_t *bad_offset)
{
    size_t pos = 0;
    uint32_t cp;
    while (pos < n) {
        /* ASCII runs are the common case. */
        if ((unsigned char)s[pos] < 0x80) {
            pos++;
            continue;
        }
        if (!recur_utf8_decode(s, n, &pos, &cp)) {
            if (bad_offset)
                *bad_offset = pos;
            return 0;
        }
    }
    return 1;
}

const char *recur_lm_level_name(recur_lm_level level)
{
    return level == RECUR_LEVEL_CHAR ? "char" : "word";
}

int recur_lm_level_parse(const char *name)
{
    if (!name)
        return -1;
    if (!strcmp(name, "word"))
        return RECUR_LEVEL_WORD;
    if (!strcmp(name, "char"))
        return RECUR_LEVEL_CHAR;
    return -1;
}

/* Line (from 1) and column (in code points, from 1) of byte offset off. */
static void line_col(const char *s, size_t off, size_t *line, size_t *col)
{
    size_t l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)s[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

recur_status recur_text_check(const char *text, size_t len, const char *name, recur_error *err)
{
    if (!name)
        name = "text";
    if (!text || len == 0)
        return recur_error_set(err, RECUR_ERR_FORMAT, "%s: empty text", name);
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        size_t line, col, off = (size_t)(nul - text);
        line_col(text, off, &line, &col);
        return recur_error_set(err, RECUR_ERR_FORMAT,
                               "%s: binary data (a NUL byte at byte offset %zu, line %zu); "
                               "expected UTF-8 text",
                               name, off, line);
    }
    size_t bad;
    if (!recur_utf8_valid(text, len, &bad)) {
        size_t line, col;
        line_col(text, bad, &line, &col);
        return recur_error_set(err, RECUR_ERR_FORMAT,
                               "%s: invalid UTF-8 at byte offset %zu (line %zu, column %zu): "
                               "byte 0x%02X",
                               name, bad, line, col, (unsigned)(unsigned char)text[bad]);
    }
    return RECUR_OK;
}

recur_status recur_text_read(const char *path, char **text, size_t *len, recur_error *err)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return recur_error_set(err, RECUR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (cap - n < 2) {
            if (cap > SIZE_MAX / 2) {
                free(buf);
                fclose(f);
                return recur_error_set(err, RECUR_ERR_NOMEM, "%s: file too large", path);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return recur_error_set(err, RECUR_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        errno = 0;
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
        /* binary data is refused below: stop reading at its first NUL byte,
         * or a device such as /dev/zero would be read until memory runs out */
        if (memchr(buf + n - got, '\0', got))
            break;
    }
    int bad = ferror(f), e = errno;
    fclose(f);
    if (bad) {
        free(buf);
        return recur_error_set(err, RECUR_ERR_IO, "%s: cannot read: %s", path,
                               e ? strerror(e) : "read error");
    }
    buf[n] = '\0';
    recur_status st = recur_text_check(buf, n, path, err);
    if (st != RECUR_OK) {
        free(buf);
        return st;
    }
    *text = buf;
    *len = n;
    return RECUR_OK;
}
