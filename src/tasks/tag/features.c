/*
 * features.c - what the tagger reads of a word besides its characters: the
 * key its embedding is found under (lower-cased with digits as 0, so that
 * "1996" and "2001", "The" and "the" share a row, as Collobert et al. 2011
 * do) and its capitalisation class, the case information such a key drops.
 */
#include <ctype.h>
#include <string.h>

#include "tasks/tag/tag_internal.h"

size_t word_key(const char *w, int mode, char *out, size_t cap)
{
    size_t n = 0;
    for (; w[n] && n + 1 < cap; n++) {
        unsigned char c = (unsigned char)w[n];
        if (mode && c < 128)
            c = mode == KEY_NORMAL && isdigit(c) ? '0' : (unsigned char)tolower(c);
        out[n] = (char)c;
    }
    out[n] = '\0';
    return n;
}

int word_caps(const char *w)
{
    int upper = 0, lower = 0, first_upper = 0;
    for (size_t i = 0; w[i]; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c >= 'A' && c <= 'Z') {
            upper++;
            if (upper + lower == 1)
                first_upper = 1;
        } else if (c >= 'a' && c <= 'z') {
            lower++;
        }
    }
    if (upper + lower == 0)
        return 0;
    if (upper == 0)
        return 1;
    if (lower == 0)
        return 2;
    if (first_upper && upper == 1)
        return 3;
    return 4;
}
