/* json_path.c - a file name as a JSON string, whatever its bytes. */
#include "json_path.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recur.h"

json_t *cli_json_path(const char *path)
{
    size_t n = strlen(path), bad = 0;
    if (recur_utf8_valid(path, n, &bad))
        return json_string(path);
    char *out = malloc(4 * n + 1); /* each byte at most "\xHH" */
    if (!out)
        return NULL;
    size_t pos = 0, o = 0;
    while (pos < n) {
        size_t at = pos;
        uint32_t cp;
        if (recur_utf8_decode(path, n, &pos, &cp)) {
            memcpy(out + o, path + at, pos - at);
            o += pos - at;
        } else {
            pos = at + 1;
            o += (size_t)snprintf(out + o, 5, "\\x%02X", (unsigned char)path[at]);
        }
    }
    out[o] = '\0';
    json_t *s = json_string(out);
    free(out);
    return s;
}
