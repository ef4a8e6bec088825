/* version.c - what this build of the library is: its version at run time. */
#include "recur.h"

const char *recur_version(void) { return RECUR_VERSION; }
