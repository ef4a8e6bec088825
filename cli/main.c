/* main.c - entry point of the `recur` program: dispatches to command groups. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "recur.h"
#include "recur_train.h"

/* Command groups register here: { "name", function, "one-line summary" }. */
/* CLI_COMMAND_DECLS_BEGIN */
int cli_ngram(int argc, char **argv);
int cli_lm(int argc, char **argv);
int cli_tag(int argc, char **argv);
int cli_plot(int argc, char **argv);
int cli_gradflow(int argc, char **argv);
int cli_task(int argc, char **argv);
int cli_seq2seq(int argc, char **argv);
int cli_classify(int argc, char **argv);
/* CLI_COMMAND_DECLS_END */

static const struct {
    const char *name;
    cli_command_fn fn;
    const char *summary;
} commands[] = {
/* CLI_COMMAND_TABLE_BEGIN */
    {"ngram", cli_ngram, "n-gram language models: train, eval (Kneser-Ney, ARPA)"},
    {"lm", cli_lm, "language models: train, eval, sample, demo, cells"},
    {"seq2seq", cli_seq2seq, "encoder-decoders (G2P, ...): train, decode, eval"},
    {"tag", cli_tag, "sequence taggers (POS, NER): train, predict, eval"},
    {"task", cli_task, "long-range tasks: the adding problem and the copy task"},
    {"gradflow", cli_gradflow, "how far gradients reach back in time (CSV and SVG)"},
    {"plot", cli_plot, "training curves from metrics files (SVG)"},
    {"classify", cli_classify, "sentence classification: train, predict, eval"},
/* CLI_COMMAND_TABLE_END */
    {NULL, NULL, NULL}
};

static void usage(FILE *out)
{
    fprintf(out, "recur %s - recurrent neural networks\n\nusage: recur COMMAND [ARGS...]\n\ncommands:\n",
            recur_version());
    for (int i = 0; commands[i].name; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`recur COMMAND --help` describes each command.\n");
}

/* Every command's standard output, checked once at the end: a result that
 * did not reach its file (a full disk, /dev/full) is a failure. */
static int output_checked(int rc)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "recur: cannot write the standard output: %s\n", strerror(errno ? errno : EIO));
        return rc ? rc : 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("recur %s\n", recur_version());
        return 0;
    }
    /* A file-size limit (ulimit -f) makes a write fail with EFBIG, which
     * recur reports, instead of killing it silently half-way. */
    signal(SIGXFSZ, SIG_IGN);
    for (int i = 0; commands[i].name; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            int rc = output_checked(commands[i].fn(argc - 1, argv + 1));
            /* a data-parallel job ends MPI on success; after a failure a
             * rank exits without it, and mpirun ends the others */
            if (rc == 0)
                recur_parallel_finalize();
            return rc;
        }
    fprintf(stderr, "recur: unknown command '%s' (try recur --help)\n", argv[1]);
    return 2;
}
