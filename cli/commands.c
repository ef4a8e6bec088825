/* commands.c - a command group's dispatch and usage (commands.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static void usage(FILE *out, const char *group, const char *about, const cli_subcommand *cmds)
{
    fprintf(out, "usage: %s COMMAND [OPTIONS] [ARGS]\n\n", group);
    if (about)
        fprintf(out, "%s\n\n", about);
    fprintf(out, "commands:\n");
    for (const cli_subcommand *c = cmds; c->name; c++)
        fprintf(out, "  %-8s %s\n", c->name, c->summary);
    fprintf(out, "\n`%s COMMAND --help` lists each command's options and defaults.\n", group);
}

int cli_dispatch(const char *group, const char *about, const cli_subcommand *cmds, int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr, group, about, cmds);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout, group, about, cmds);
        return 0;
    }
    for (const cli_subcommand *c = cmds; c->name; c++)
        if (!strcmp(name, c->name))
            return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s' (try %s --help)\n", group, name, group);
    return 2;
}
