/* commands.h - the command groups of the `recur` program (one file each). */
#ifndef RECUR_CLI_COMMANDS_H
#define RECUR_CLI_COMMANDS_H

/* Each takes the arguments after the group name (argv[0] is the group) and
 * returns the process exit status. */
typedef int (*cli_command_fn)(int argc, char **argv);

#endif
