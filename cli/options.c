/* options.c - the command line's option parser (options.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

/* ---- option parsing ----------------------------------------------------- */

cli_opt *cli_find_opt(cli_opt *opts, const char *name)
{
    for (cli_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    return NULL;
}

static void format_default(const cli_opt *o, char *buf, size_t n)
{
    if (o->default_text) {
        snprintf(buf, n, "%s", o->default_text);
        return;
    }
    switch (o->kind) {
    case OPT_INT: snprintf(buf, n, "%lld", *(long long *)o->dst); break;
    case OPT_DOUBLE: snprintf(buf, n, "%g", *(double *)o->dst); break;
    case OPT_DURATION: {
        double s = *(double *)o->dst;
        if (s <= 0)
            snprintf(buf, n, "none");
        else
            snprintf(buf, n, "%gs", s);
        break;
    }
    case OPT_STRING:
    case OPT_CHOICE: {
        const char *s = *(const char **)o->dst;
        snprintf(buf, n, "%s", s && *s ? s : "none");
        break;
    }
    case OPT_FLAG: snprintf(buf, n, "%s", *(int *)o->dst ? "on" : "off"); break;
    }
}

void cli_print_help(FILE *out, const char *cmd, const char *usage, const cli_opt *opts)
{
    fprintf(out, "usage: %s %s\n\noptions:\n", cmd, usage);
    for (const cli_opt *o = opts; o->name; o++) {
        char left[96], def[64];
        if (o->kind == OPT_FLAG)
            snprintf(left, sizeof left, "--%s, --no-%s", o->name, o->name);
        else if (o->kind == OPT_CHOICE)
            snprintf(left, sizeof left, "--%s %s", o->name, o->choices);
        else
            snprintf(left, sizeof left, "--%s %s", o->name, o->arg ? o->arg : "VALUE");
        format_default(o, def, sizeof def);
        if (strlen(left) > 28)
            fprintf(out, "  %s\n  %-28s %s (default: %s)\n", left, "", o->help, def);
        else
            fprintf(out, "  %-28s %s (default: %s)\n", left, o->help, def);
    }
    fprintf(out, "  %-28s %s\n", "--help", "print this help and exit");
}

void cli_opt_format(const cli_opt *o, char *buf, size_t n)
{
    switch (o->kind) {
    case OPT_INT: snprintf(buf, n, "%lld", *(long long *)o->dst); break;
    case OPT_DOUBLE:
    case OPT_DURATION: snprintf(buf, n, "%.17g", *(double *)o->dst); break;
    case OPT_STRING:
    case OPT_CHOICE: {
        const char *s = *(const char **)o->dst;
        snprintf(buf, n, "%s", s ? s : "");
        break;
    }
    case OPT_FLAG: snprintf(buf, n, "%d", *(int *)o->dst ? 1 : 0); break;
    }
}

static int opt_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int opt_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try %s --help)\n", cmd);
    return 2;
}

static int in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && !strncmp(p, v, n))
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

int cli_opt_set(const char *cmd, cli_opt *o, const char *v)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case OPT_INT: {
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno)
            return opt_error(cmd, "--%s: '%s' is not an integer", o->name, v);
        if ((double)x < o->min || (double)x > o->max)
            return opt_error(cmd, "--%s: %lld is outside %.0f..%.0f", o->name, x, o->min, o->max);
        *(long long *)o->dst = x;
        break;
    }
    case OPT_DOUBLE: {
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x))
            return opt_error(cmd, "--%s: '%s' is not a finite number", o->name, v);
        if (x < o->min || x > o->max || (o->min_open && x == o->min))
            return opt_error(cmd, "--%s: %g is outside %s%g, %g]", o->name, x,
                             o->min_open ? "(" : "[", o->min, o->max);
        *(double *)o->dst = x;
        break;
    }
    case OPT_DURATION: {
        double x = strtod(v, &end);
        double mult = 1;
        if (end != v && *end && !end[1]) {
            if (*end == 's')
                mult = 1;
            else if (*end == 'm')
                mult = 60;
            else if (*end == 'h')
                mult = 3600;
            else
                mult = -1;
            end++;
        }
        if (!*v || *end || errno || mult < 0 || !isfinite(x) || x < 0)
            return opt_error(cmd, "--%s: '%s' is not a duration (seconds, or a number with s, m or h)",
                             o->name, v);
        *(double *)o->dst = x * mult;
        break;
    }
    case OPT_STRING: *(const char **)o->dst = v; break;
    case OPT_CHOICE:
        if (!in_choices(o->choices, v))
            return opt_error(cmd, "--%s: '%s' is not one of %s", o->name, v, o->choices);
        *(const char **)o->dst = v;
        break;
    case OPT_FLAG:
        if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on"))
            *(int *)o->dst = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off"))
            *(int *)o->dst = 0;
        else
            return opt_error(cmd, "--%s: '%s' is not one of yes|no|1|0|on|off", o->name, v);
        break;
    }
    o->given = 1;
    return 0;
}

int cli_parse(const char *cmd, const char *usage, cli_opt *opts, int argc, char **argv,
             const char **pos, int max_pos, int *n_pos)
{
    *n_pos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            break;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_print_help(stdout, cmd, usage, opts);
            return 1;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
            if (*n_pos >= max_pos)
                return opt_error(cmd, "unexpected argument '%s'", a);
            pos[(*n_pos)++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (a[1] != '-')
            return opt_error(cmd, "unknown option '%s'", a);
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (nl == 0 || nl >= sizeof name)
            return opt_error(cmd, "unknown option '%s'", a);
        memcpy(name, a + 2, nl);
        name[nl] = '\0';
        cli_opt *o = cli_find_opt(opts, name);
        if (!o && !strncmp(name, "no-", 3)) {
            cli_opt *f = cli_find_opt(opts, name + 3);
            if (f && f->kind == OPT_FLAG) {
                if (eq)
                    return opt_error(cmd, "--%s takes no value", name);
                *(int *)f->dst = 0;
                f->given = 1;
                continue;
            }
        }
        if (!o)
            return opt_error(cmd, "unknown option '--%s'", name);
        if (o->kind == OPT_FLAG && !eq) {
            *(int *)o->dst = 1;
            o->given = 1;
            continue;
        }
        const char *v;
        if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc)
                return opt_error(cmd, "--%s needs a value", name);
            v = argv[++i];
        }
        int rc = cli_opt_set(cmd, o, v);
        if (rc)
            return rc;
    }
    return 0;
}

