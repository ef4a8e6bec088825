/*
 * chunks.c - where chunks start and end in a tag sequence of any of the
 * schemes (IOB1, IOB2, IOBES), for the scheme conversions: conlleval's
 * rules where they agree with the schemes (all of IOB1 and IOB2), and the
 * IOBES rules it lacks (S- is a whole chunk; B- always starts one; nothing
 * continues after E-).
 *
 * A tag "P-TYPE" splits at its first '-' into prefix P and type TYPE; a tag
 * without '-' is all prefix with the empty type.  Prefixes B I E S O, and
 * the bracket forms [ ] and the '.' of conlleval's older chunk files.
 */
#include <string.h>

#include "tasks/tag/tag_internal.h"

int tag_split(const char *tag, char prefix[RECUR_TAG_MAX], char type[RECUR_TAG_MAX])
{
    size_t n = strlen(tag);
    if (n >= RECUR_TAG_MAX)
        return -1;
    const char *dash = strchr(tag, '-');
    if (!dash) {
        memcpy(prefix, tag, n + 1);
        type[0] = '\0';
        return 0;
    }
    size_t k = (size_t)(dash - tag);
    memcpy(prefix, tag, k);
    prefix[k] = '\0';
    memcpy(type, dash + 1, n - k);
    return 0;
}

static int is(const char *p, const char *s) { return strcmp(p, s) == 0; }

int chunk_ends(const char *prev, const char *prev_type, const char *cur, const char *cur_type)
{
    if (is(prev, "E") || is(prev, "S") || is(prev, "]") || is(prev, "["))
        return 1;
    if ((is(prev, "B") || is(prev, "I")) && (is(cur, "B") || is(cur, "S") || is(cur, "O")))
        return 1;
    if (!is(prev, "O") && !is(prev, ".") && strcmp(prev_type, cur_type) != 0)
        return 1;
    return 0;
}

int chunk_starts(const char *prev, const char *prev_type, const char *cur, const char *cur_type)
{
    if (is(cur, "B") || is(cur, "S") || is(cur, "[") || is(cur, "]"))
        return 1;
    if ((is(prev, "E") || is(prev, "S") || is(prev, "O")) && (is(cur, "E") || is(cur, "I")))
        return 1;
    if (!is(cur, "O") && !is(cur, ".") && strcmp(prev_type, cur_type) != 0)
        return 1;
    return 0;
}
