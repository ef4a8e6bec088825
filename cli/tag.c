/* tag.c - `recur tag`: sequence taggers (part of speech, named entities) from the shell. */
#include <stdio.h>
#include <string.h>

#include "tag.h"

int cli_tag(int argc, char **argv);

static void usage(FILE *out)
{
    fprintf(out, "usage: recur tag COMMAND [ARGS...]\n\n"
                 "commands:\n"
                 "  train    train a tagger on CoNLL column files: TRAIN DEV [TEST]\n"
                 "  predict  tag a CoNLL file or tokenised text: MODEL [FILE|-]\n"
                 "  eval     score tags as conlleval does: FILE, or --gold F --pred F\n\n"
                 "`recur tag COMMAND --help` lists each command's options.\n");
}

int cli_tag(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "train"))
        return tag_cmd_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "predict"))
        return tag_cmd_predict(argc - 1, argv + 1);
    if (!strcmp(argv[1], "eval"))
        return tag_cmd_eval(argc - 1, argv + 1);
    fprintf(stderr, "recur tag: unknown command '%s' (try recur tag --help)\n", argv[1]);
    return 2;
}
