/* commands.h - the command groups of the `recur` program (one file each)
 * and the one way a group hands its arguments to its sub-commands. */
#ifndef RECUR_CLI_COMMANDS_H
#define RECUR_CLI_COMMANDS_H

/* Each takes the arguments after the group name (argv[0] is the group) and
 * returns the process exit status. */
typedef int (*cli_command_fn)(int argc, char **argv);

/* A sub-command of a group: `recur lm train ...`. */
typedef struct cli_subcommand {
    const char *name;
    cli_command_fn fn;
    const char *summary; /* one line of the group's usage */
} cli_subcommand;

/* Runs the sub-command argv[1] of group ("recur lm") from cmds (ended by a
 * NULL name) with argv + 1; --help, -h and help print the usage (about: a
 * paragraph after the usage line, or NULL), exit 0; nothing or an unknown
 * name print it or an error on stderr, exit 2. */
int cli_dispatch(const char *group, const char *about, const cli_subcommand *cmds, int argc, char **argv);

#endif
