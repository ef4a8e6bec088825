/*
 * tag_eval.c - `recur tag eval FILE` (gold and guessed tags as the last two
 * columns, as conlleval reads them) or `--gold F --pred F` (the gold file's
 * tag column beside the prediction file's last column, line by line):
 * token accuracy and chunk precision, recall and F1, overall and per type,
 * counted and printed as the CoNLL conlleval script does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fail.h"
#include "options.h"
#include "recur_tag.h"
#include "tag.h"

static const char *CMD = "recur tag eval";

#define MAXF 64

static int split(char *line, char **f)
{
    int n = 0;
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    for (char *q = line; *q && n < MAXF;) {
        while (*q == ' ' || *q == '\t')
            *q++ = '\0';
        if (!*q)
            break;
        f[n++] = q;
        while (*q && *q != ' ' && *q != '\t')
            q++;
    }
    return n;
}

static int add(recur_conlleval *e, const char *word, const char *gold, const char *guess,
               const char *name, long long lineno)
{
    recur_status st = recur_conlleval_add(e, word, gold, guess);
    if (st == RECUR_ERR_ARG)
        return cli_fail(CMD, "%s:%lld: a tag of %d bytes or more", name, lineno, RECUR_TAG_MAX);
    if (st != RECUR_OK)
        return cli_fail(CMD, "out of memory");
    return 0;
}

int tag_cmd_eval(int argc, char **argv)
{
    const char *gold = "", *pred = "";
    long long tag_column = 0;
    cli_opt tab[] = {
        CLI_STR("gold", &gold, "FILE", "gold CoNLL file (with --pred)", "none"),
        CLI_STR("pred", &pred, "FILE", "predictions: the tag is each line's last column (with --gold)", "none"),
        CLI_INT("tag-column", &tag_column, "N", "with --gold: the gold file's tag column, 0: the last", 0, MAXF),
        CLI_END,
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse(CMD, "[OPTIONS] FILE | --gold FILE --pred FILE\n\n"
                            "Scores tags as the CoNLL conlleval script does: FILE has the gold and the\n"
                            "predicted tag as its last two columns (what `recur tag predict` writes\n"
                            "for a file that ends with its gold tags); - reads standard input.",
                       tab, argc, argv, pos, 1, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    int pair = *gold || *pred;
    if (pair && (!*gold || !*pred || npos))
        return cli_fail(CMD, "--gold and --pred go together, without FILE");
    if (!pair && npos != 1) {
        fprintf(stderr, "%s: needs FILE or --gold and --pred (try %s --help)\n", CMD, CMD);
        return 2;
    }
    const char *an = pair ? gold : pos[0];
    FILE *a = strcmp(an, "-") ? fopen(an, "rb") : stdin;
    FILE *b = pair ? fopen(pred, "rb") : NULL;
    if (!a || (pair && !b)) {
        if (a && a != stdin)
            fclose(a);
        return cli_fail(CMD, "%s: cannot open", !a ? an : pred);
    }
    recur_conlleval *e = NULL;
    recur_error err = {0};
    if (recur_conlleval_create(&e, &err) != RECUR_OK) {
        rc = cli_fail(CMD, "%s", err.msg);
        goto done;
    }
    char *la = NULL, *lb = NULL;
    size_t ca = 0, cb = 0;
    long long lineno = 0;
    int columns = -1;
    for (;;) {
        ssize_t na = getline(&la, &ca, a);
        ssize_t nb = pair ? getline(&lb, &cb, b) : 0;
        if (na < 0 && (!pair || nb < 0))
            break;
        lineno++;
        if (pair && (na < 0 || nb < 0)) {
            rc = cli_fail(CMD, "%s ends at line %lld, %s goes on", na < 0 ? gold : pred, lineno,
                      na < 0 ? pred : gold);
            break;
        }
        char *fa[MAXF], *fb[MAXF];
        int nfa = split(la, fa), nfb = pair ? split(lb, fb) : 0;
        if (!pair) {
            if (nfa == 0) {
                if ((rc = add(e, NULL, NULL, NULL, an, lineno)))
                    break;
                continue;
            }
            if (columns < 0)
                columns = nfa;
            if (nfa != columns || nfa < 2) {
                rc = cli_fail(CMD, "%s:%lld: %d columns where %s", an, lineno, nfa,
                          nfa < 2 ? "at least 2 (gold and guess) are needed" : "the first line has more or fewer");
                break;
            }
            if ((rc = add(e, fa[0], fa[nfa - 2], fa[nfa - 1], an, lineno)))
                break;
            continue;
        }
        if ((nfa == 0) != (nfb == 0)) {
            rc = cli_fail(CMD, "line %lld: a blank line in %s but not in %s", lineno, nfa ? pred : gold,
                      nfa ? gold : pred);
            break;
        }
        if (nfa == 0) {
            if ((rc = add(e, NULL, NULL, NULL, an, lineno)))
                break;
            continue;
        }
        if (strcmp(fa[0], fb[0]) != 0) {
            rc = cli_fail(CMD, "line %lld: the word '%s' of %s is '%s' in %s", lineno, fa[0], gold, fb[0], pred);
            break;
        }
        int tc = tag_column ? (int)tag_column : nfa;
        if (tc > nfa || nfa < 2 || nfb < 2) {
            rc = cli_fail(CMD, "line %lld: too few columns (%s has %d, %s %d)", lineno, gold, nfa, pred, nfb);
            break;
        }
        if ((rc = add(e, fa[0], fa[tc - 1], fb[nfb - 1], an, lineno)))
            break;
    }
    free(la);
    free(lb);
    if (!rc) {
        char *rep = recur_conlleval_report(e);
        if (!rep)
            rc = cli_fail(CMD, "out of memory");
        else
            fputs(rep, stdout);
        free(rep);
    }
done:
    recur_conlleval_free(e);
    if (a != stdin)
        fclose(a);
    if (b)
        fclose(b);
    return rc;
}
