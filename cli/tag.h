/* tag.h - the `recur tag` commands (tag.c dispatches). */
#ifndef RECUR_CLI_TAG_H
#define RECUR_CLI_TAG_H

int tag_cmd_train(int argc, char **argv);
int tag_cmd_predict(int argc, char **argv);
int tag_cmd_eval(int argc, char **argv);

#endif
