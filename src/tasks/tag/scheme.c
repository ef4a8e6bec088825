/*
 * scheme.c - the tag schemes of chunks (IOB1, IOB2, IOBES): names, the
 * check of a tag against a scheme, detection from a file's tags, and
 * conversion between schemes.  Conversion reads the chunks by conlleval's
 * rules (chunks.c) and writes them out again, so chunk boundaries and types
 * survive every round trip and the scorer reads the same chunks before and
 * after.
 */
#include <stdio.h>
#include <string.h>

#include "base/internal.h"
#include "tasks/tag/tag_internal.h"

static const char *const SCHEME_NAMES[] = {"plain", "iob1", "iob2", "iobes"};

const char *recur_tag_scheme_name(recur_tag_scheme s)
{
    return (unsigned)s < 4 ? SCHEME_NAMES[s] : "unknown";
}

int recur_tag_scheme_parse(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, SCHEME_NAMES[i]))
            return i;
    return -1;
}

int tag_in_scheme(const char *tag, recur_tag_scheme s)
{
    if (strlen(tag) >= RECUR_TAG_MAX)
        return 0;
    if (s == RECUR_TAGS_PLAIN)
        return tag[0] != '\0';
    if (!strcmp(tag, "O"))
        return 1;
    if (tag[0] == '\0' || tag[1] != '-' || tag[2] == '\0')
        return 0;
    const char *allowed = s == RECUR_TAGS_IOBES ? "BIES" : "BI";
    return strchr(allowed, tag[0]) != NULL;
}

void scheme_detect_update(scheme_detect *d, const char *const *tags, int n)
{
    char prev[RECUR_TAG_MAX] = "O", prev_type[RECUR_TAG_MAX] = "";
    for (int i = 0; i < n; i++) {
        const char *t = tags[i];
        if (!strcmp(t, "O")) {
            strcpy(prev, "O");
            prev_type[0] = '\0';
            continue;
        }
        if (strlen(t) >= RECUR_TAG_MAX || t[1] != '-' || t[2] == '\0' || !strchr("BIES", t[0])) {
            d->plain = 1;
            return;
        }
        char p[RECUR_TAG_MAX], ty[RECUR_TAG_MAX];
        tag_split(t, p, ty);
        if (t[0] == 'E' || t[0] == 'S')
            d->iobes = 1;
        if (t[0] == 'I' && chunk_starts(prev, prev_type, p, ty))
            d->i_starts = 1;
        strcpy(prev, p);
        strcpy(prev_type, ty);
    }
}

recur_tag_scheme scheme_detect_result(const scheme_detect *d)
{
    if (d->plain)
        return RECUR_TAGS_PLAIN;
    if (d->iobes)
        return RECUR_TAGS_IOBES;
    return d->i_starts ? RECUR_TAGS_IOB1 : RECUR_TAGS_IOB2;
}

recur_status recur_tags_convert(const char *const *tags, int n, recur_tag_scheme from,
                                recur_tag_scheme to, char (*out)[RECUR_TAG_MAX], recur_error *err)
{
    if ((unsigned)from > RECUR_TAGS_IOBES || (unsigned)to > RECUR_TAGS_IOBES)
        return recur_error_set(err, RECUR_ERR_ARG, "tag schemes: unknown scheme");
    if ((from == RECUR_TAGS_PLAIN) != (to == RECUR_TAGS_PLAIN))
        return recur_error_set(err, RECUR_ERR_ARG,
                               "tag schemes: plain labels have no chunks to convert to %s",
                               recur_tag_scheme_name(to == RECUR_TAGS_PLAIN ? from : to));
    for (int i = 0; i < n; i++)
        if (!tag_in_scheme(tags[i], from))
            return recur_error_set(err, RECUR_ERR_FORMAT, "tag %d '%.80s' is not a tag of %s", i + 1,
                                   tags[i], recur_tag_scheme_name(from));
    if (from == RECUR_TAGS_PLAIN) {
        for (int i = 0; i < n; i++)
            memmove(out[i], tags[i], strlen(tags[i]) + 1);
        return RECUR_OK;
    }
    /* chunks as conlleval reads them: begin[i], end[i], type of token i.
     * out may alias the input strings, so each token's parts are read before
     * the previous one is written, and types are kept in a rolling window. */
    char p1[RECUR_TAG_MAX], t1[RECUR_TAG_MAX], p2[RECUR_TAG_MAX], t2[RECUR_TAG_MAX];
    char last_chunk_type[RECUR_TAG_MAX] = "";
    int last_chunk_end = -2; /* index of the last token of the previous chunk */
    int begins = 0;
    if (n > 0) {
        tag_split(tags[0], p1, t1);
        begins = strcmp(p1, "O") != 0;
    }
    for (int i = 0; i < n; i++) {
        /* p1/t1 this token, p2/t2 the next ("O" after the end) */
        if (i + 1 < n)
            tag_split(tags[i + 1], p2, t2);
        else {
            strcpy(p2, "O");
            t2[0] = '\0';
        }
        int inside = strcmp(p1, "O") != 0;
        int ends = inside && chunk_ends(p1, t1, p2, t2);
        int next_begins = strcmp(p2, "O") != 0 && chunk_starts(p1, t1, p2, t2);
        char tag[RECUR_TAG_MAX];
        if (!inside) {
            strcpy(tag, "O");
        } else {
            char pre;
            if (to == RECUR_TAGS_IOBES)
                pre = begins ? (ends ? 'S' : 'B') : (ends ? 'E' : 'I');
            else if (to == RECUR_TAGS_IOB2)
                pre = begins ? 'B' : 'I';
            else /* IOB1: B only right after a chunk of the same type */
                pre = begins && last_chunk_end == i - 1 && !strcmp(last_chunk_type, t1) ? 'B' : 'I';
            /* a valid tag "P-TYPE" is shorter than RECUR_TAG_MAX, so is this */
            size_t tl = strlen(t1);
            tag[0] = pre;
            tag[1] = '-';
            memcpy(tag + 2, t1, tl < RECUR_TAG_MAX - 3 ? tl + 1 : RECUR_TAG_MAX - 3);
            tag[RECUR_TAG_MAX - 1] = '\0';
            if (ends) {
                last_chunk_end = i;
                strcpy(last_chunk_type, t1);
            }
        }
        strcpy(out[i], tag);
        strcpy(p1, p2);
        strcpy(t1, t2);
        begins = next_begins;
    }
    return RECUR_OK;
}
