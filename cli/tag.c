/* tag.c - `recur tag`: sequence taggers (part of speech, named entities) from the shell. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "tag.h"

int cli_tag(int argc, char **argv);

int cli_tag(int argc, char **argv)
{
    static const cli_subcommand cmds[] = {
        {"train", tag_cmd_train, "train a tagger on CoNLL column files: TRAIN DEV [TEST]"},
        {"predict", tag_cmd_predict, "tag a CoNLL file or tokenised text: MODEL [FILE|-]"},
        {"eval", tag_cmd_eval, "score tags as conlleval does: FILE, or --gold F --pred F"},
        {NULL, NULL, NULL},
    };
    return cli_dispatch("recur tag", "sequence taggers: part of speech, named entities (see docs/tag.md)", cmds, argc,
                        argv);
}
