/* json_path.h - a file name as a JSON string, whatever its bytes. */
#ifndef CLI_JSON_PATH_H
#define CLI_JSON_PATH_H

#include <jansson.h>

/* JSON strings are UTF-8, file names are bytes: a name that is not valid
 * UTF-8 keeps its valid parts and shows each other byte as the text
 * "\xHH" (as Python's backslashreplace does), so no output row is dropped.
 * A new reference, NULL when out of memory. */
json_t *cli_json_path(const char *path);

#endif
