/*
 * options.h - the command line's option parser, shared by every command: a
 * strict table-driven parser (unknown options and malformed or out-of-range
 * values are errors naming the option) with generated --help listing every
 * option and its default.
 */
#ifndef RECUR_CLI_OPTIONS_H
#define RECUR_CLI_OPTIONS_H

#include <stdio.h>

#include "recur.h"

/* ---- options ---------------------------------------------------------- */

typedef enum cli_opt_kind {
    OPT_INT,    /* long long *; range min..max */
    OPT_DOUBLE, /* double *;   range min..max (min_open: > min) */
    OPT_STRING, /* const char ** */
    OPT_CHOICE, /* const char **; value one of choices ("a|b|c") */
    OPT_FLAG,   /* int *: --name sets 1, --no-name sets 0 */
    OPT_DURATION /* double * seconds: 90, 90s, 15m, 2h */
} cli_opt_kind;

typedef struct cli_opt {
    const char *name; /* without the leading "--" */
    cli_opt_kind kind;
    void *dst;
    const char *arg;     /* metavariable in --help ("N", "FILE") */
    const char *help;
    const char *choices; /* OPT_CHOICE */
    double min, max;     /* OPT_INT / OPT_DOUBLE ranges */
    int min_open;        /* OPT_DOUBLE: min itself is refused */
    const char *default_text; /* shown instead of the current value, if set */
    int given;           /* set by the parser */
} cli_opt;

/* Table rows (designated initialisers; the rest zero). */
#define CLI_INT(n, d, a, h, lo, hi) \
    ((cli_opt){.name = (n), .kind = OPT_INT, .dst = (d), .arg = (a), .help = (h), .min = (lo), .max = (hi)})
#define CLI_DBL(n, d, a, h, lo, hi, open) \
    ((cli_opt){.name = (n), .kind = OPT_DOUBLE, .dst = (d), .arg = (a), .help = (h), .min = (lo), \
              .max = (hi), .min_open = (open)})
#define CLI_CHOICE(n, d, h, c) ((cli_opt){.name = (n), .kind = OPT_CHOICE, .dst = (d), .help = (h), .choices = (c)})
#define CLI_FLAG(n, d, h) ((cli_opt){.name = (n), .kind = OPT_FLAG, .dst = (d), .help = (h)})
#define CLI_STR(n, d, a, h, def) \
    ((cli_opt){.name = (n), .kind = OPT_STRING, .dst = (d), .arg = (a), .help = (h), .default_text = (def)})
#define CLI_DUR(n, d, a, h) ((cli_opt){.name = (n), .kind = OPT_DURATION, .dst = (d), .arg = (a), .help = (h)})
#define CLI_END ((cli_opt){.name = NULL})
/* --threads of every command: the pool's size, up to the library's limit */
#define CLI_THREADS(d) \
    CLI_INT("threads", (d), "N", "threads for matrix products, 0: OpenBLAS's choice", 0, RECUR_MAX_THREADS)

/* Parses argv[first..argc): "--name VALUE", "--name=VALUE", flags; the rest
 * positional (into pos, at most max_pos; "--" ends options).  Prints the
 * error (naming the option) to stderr and returns 2 on a bad command line,
 * 1 after printing --help to stdout (caller exits 0), 0 when parsed. */
int cli_parse(const char *cmd, const char *usage, cli_opt *opts, int argc, char **argv,
             const char **pos, int max_pos, int *n_pos);
/* Prints usage and every option with its default. */
void cli_print_help(FILE *out, const char *cmd, const char *usage, const cli_opt *opts);
cli_opt *cli_find_opt(cli_opt *opts, const char *name);
/* Sets an option from text as the parser does (2 after printing an error). */
int cli_opt_set(const char *cmd, cli_opt *o, const char *value);
/* The option's value as text that cli_opt_set reads back exactly. */
void cli_opt_format(const cli_opt *o, char *buf, size_t n);

#endif
