/* version.c - what this build of the library is: its version at run time
 * and its precision marker. */
#include "recur.h"

const char *recur_version(void) { return RECUR_VERSION; }

/* This build's precision marker (recur.h): the header makes every program
 * refer to the marker of its recur_real, which only the matching build
 * defines. */
const int RECUR_ABI_MARKER = (int)(8 * sizeof(recur_real));
