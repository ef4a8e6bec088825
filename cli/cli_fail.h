/*
 * cli_fail.h - the one way a command reports a failure on standard error:
 * "COMMAND: message" (with "rank N: " before the message when several MPI
 * ranks run, since each rank's failure is its own).
 */
#ifndef RECUR_CLI_FAIL_H
#define RECUR_CLI_FAIL_H

/* Prints the message and returns 1, the exit status of a failed command. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
