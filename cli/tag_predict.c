/*
 * tag_predict.c - `recur tag predict MODEL [FILE|-]`: tags a CoNLL column
 * file (each token line gets the predicted tag as a new last column; blank
 * and -DOCSTART- lines pass through, the latter with an O) or tokenised
 * text (one sentence a line, written as word/TAG).  Input is read line by
 * line and output written as soon as a group of sentences is tagged, so
 * it serves in a pipeline; on a terminal each sentence is tagged at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_fail.h"
#include "options.h"
#include "recur_tag.h"
#include "strbuf.h"
#include "tag.h"

static const char *CMD = "recur tag predict";

typedef struct predictor {
    recur_tagger *tg;
    int conll, word_column;
    const char **tags;
    int64_t cap_tags;
    /* the group being collected */
    char **words, **raw;
    int64_t *off;
    int64_t n_words, cap_words;
    int n_sents, cap_sents;
} predictor;

static int push_word(predictor *p, char *word, char *raw)
{
    if (p->n_words == p->cap_words) {
        int64_t nc = p->cap_words ? 2 * p->cap_words : 1024;
        char **w = realloc(p->words, (size_t)nc * sizeof *w);
        if (!w)
            return -1;
        p->words = w;
        char **r = realloc(p->raw, (size_t)nc * sizeof *r);
        if (!r)
            return -1;
        p->raw = r;
        p->cap_words = nc;
    }
    p->words[p->n_words] = word;
    p->raw[p->n_words] = raw;
    p->n_words++;
    return 0;
}

/* Ends the current sentence (if it has words). */
static int end_sentence(predictor *p)
{
    if (p->n_words == (p->n_sents ? p->off[p->n_sents] : 0))
        return 0;
    if (p->n_sents + 2 > p->cap_sents) {
        int nc = p->cap_sents ? 2 * p->cap_sents : 64;
        int64_t *o = realloc(p->off, (size_t)nc * sizeof *o);
        if (!o)
            return -1;
        p->off = o;
        p->cap_sents = nc;
    }
    if (p->n_sents == 0)
        p->off[0] = 0;
    p->n_sents++;
    p->off[p->n_sents] = p->n_words;
    return 0;
}

/* Tags and writes the collected sentences, then forgets them. */
static int flush(predictor *p)
{
    if (p->n_sents == 0)
        return 0;
    if (p->n_words > p->cap_tags) {
        free(p->tags);
        p->tags = malloc((size_t)p->n_words * sizeof *p->tags);
        p->cap_tags = p->tags ? p->n_words : 0;
        if (!p->tags)
            return cli_fail(CMD, "out of memory");
    }
    if (recur_tagger_tag_batch(p->tg, (const char *const *)p->words, p->off, p->n_sents, p->tags) != RECUR_OK)
        return cli_fail(CMD, "%s", recur_tagger_errmsg(p->tg));
    for (int s = 0; s < p->n_sents; s++) {
        for (int64_t i = p->off[s]; i < p->off[s + 1]; i++) {
            if (p->conll)
                printf("%s %s\n", p->raw[i], p->tags[i]);
            else
                printf("%s%s/%s", i > p->off[s] ? " " : "", p->words[i], p->tags[i]);
        }
        if (!p->conll)
            putchar('\n');
    }
    for (int64_t i = 0; i < p->n_words; i++) {
        free(p->words[i]);
        free(p->raw[i]);
    }
    p->n_words = 0;
    p->n_sents = 0;
    fflush(stdout);
    return 0;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int tag_cmd_predict(int argc, char **argv)
{
    const char *format = "auto";
    long long word_column = 1, group = 0;
    cli_opt tab[] = {
        CLI_CHOICE("format", &format, "input: CoNLL columns, tokenised text (a sentence a line), or auto (CoNLL when the first line starts with -DOCSTART- or the first two lines have the same number of columns)", "auto|conll|text"),
        CLI_INT("word-column", &word_column, "N", "CoNLL: column of the words", 1, 64),
        CLI_INT("group", &group, "N", "sentences tagged together, 0: 64 (1 on a terminal)", 0, 1 << 20),
        CLI_END,
    };
    const char *pos[2];
    int npos;
    int rc = cli_parse(CMD, "[OPTIONS] MODEL [FILE|-]\n\n"
                            "Tags FILE (or standard input) with the tagger MODEL and writes the result\n"
                            "to standard output: CoNLL lines with the predicted tag as a new last column,\n"
                            "or text as word/TAG.",
                       tab, argc, argv, pos, 2, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos < 1) {
        fprintf(stderr, "%s: needs a model file (try %s --help)\n", CMD, CMD);
        return 2;
    }
    const char *in_name = npos > 1 && strcmp(pos[1], "-") ? pos[1] : "-";
    FILE *in = strcmp(in_name, "-") ? fopen(in_name, "rb") : stdin;
    if (!in)
        return cli_fail(CMD, "%s: cannot open", in_name);
    predictor p;
    memset(&p, 0, sizeof p);
    recur_error err = {0};
    if (recur_tagger_open(&p.tg, pos[0], &err) != RECUR_OK) {
        if (in != stdin)
            fclose(in);
        return cli_fail(CMD, "%s", err.msg);
    }
    p.word_column = (int)word_column;
    if (group == 0)
        group = isatty(fileno(in)) ? 1 : 64;
    int decided = strcmp(format, "auto") != 0, first_fields = -1;
    p.conll = !strcmp(format, "conll");
    /* lines held until the format is decided (auto) */
    char *held[2] = {NULL, NULL};
    int n_held = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long lineno = 0;
    rc = 0;
    int eof = 0;
    while (!rc) {
        char *cur;
        if (!decided) {
            len = getline(&line, &cap, in);
            if (len < 0) {
                eof = 1;
            } else {
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                    line[--len] = '\0';
                if (len == 0 && n_held == 0)
                    continue; /* leading blank lines: nothing to decide on */
                held[n_held++] = strdup(line);
                int nf = 0;
                for (char *q = line; *q;) {
                    while (*q == ' ' || *q == '\t')
                        q++;
                    if (!*q)
                        break;
                    nf++;
                    while (*q && *q != ' ' && *q != '\t')
                        q++;
                }
                if (n_held == 1) {
                    first_fields = nf;
                    if (!strncmp(line, "-DOCSTART-", 10)) {
                        p.conll = 1;
                        decided = 1;
                    }
                } else {
                    p.conll = nf == first_fields || nf == 0;
                    decided = 1;
                }
            }
            if (eof && !decided) {
                p.conll = first_fields == 1;
                decided = 1;
            }
            if (!decided)
                continue;
            /* replay the held lines (then go on reading) */
        }
        if (n_held > 0) {
            cur = held[0];
            held[0] = held[1];
            held[1] = NULL;
            n_held--;
        } else if (eof) {
            break;
        } else {
            len = getline(&line, &cap, in);
            if (len < 0)
                break;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            cur = strdup(line);
        }
        if (!cur) {
            rc = cli_fail(CMD, "out of memory");
            break;
        }
        lineno++;
        /* fields */
        char *copy = strdup(cur);
        char *fields[64];
        int nf = 0;
        for (char *q = copy; q && *q && nf < 64;) {
            while (*q == ' ' || *q == '\t')
                *q++ = '\0';
            if (!*q)
                break;
            fields[nf++] = q;
            while (*q && *q != ' ' && *q != '\t')
                q++;
        }
        if (!copy) {
            free(cur);
            rc = cli_fail(CMD, "out of memory");
            break;
        }
        if (p.conll) {
            if (nf == 0 || !strcmp(fields[0], "-DOCSTART-")) {
                if (end_sentence(&p) || flush(&p)) {
                    rc = rc ? rc : cli_fail(CMD, "out of memory");
                } else if (nf == 0) {
                    printf("\n");
                } else {
                    printf("%s O\n", cur);
                }
                free(cur);
                free(copy);
                continue;
            }
            if (nf < p.word_column) {
                rc = cli_fail(CMD, "%s:%lld: %d columns, but the words are in column %d", in_name, lineno, nf,
                          p.word_column);
                free(cur);
                free(copy);
                break;
            }
            char *w = strdup(fields[p.word_column - 1]);
            if (!w || push_word(&p, w, cur)) {
                rc = cli_fail(CMD, "out of memory");
                free(copy);
                break;
            }
        } else {
            for (int k = 0; k < nf; k++) {
                char *w = dup_n(fields[k], strlen(fields[k]));
                char *r = strdup("");
                if (!w || !r || push_word(&p, w, r)) {
                    rc = cli_fail(CMD, "out of memory");
                    break;
                }
            }
            free(cur);
            if (nf == 0 && !rc) {
                if (end_sentence(&p) || flush(&p))
                    rc = 1;
                else
                    printf("\n");
                free(copy);
                continue;
            }
            if (!rc && end_sentence(&p))
                rc = cli_fail(CMD, "out of memory");
        }
        free(copy);
        if (!rc && p.conll == 0 && p.n_sents >= group && flush(&p))
            rc = 1;
        if (!rc && p.conll && p.n_sents >= group && flush(&p))
            rc = 1;
    }
    if (!rc && (end_sentence(&p) || flush(&p)))
        rc = 1;
    if (!rc && ferror(in))
        rc = cli_fail(CMD, "%s: read error", in_name);
    free(line);
    for (int k = 0; k < 2; k++)
        free(held[k]);
    for (int64_t i = 0; i < p.n_words; i++) {
        free(p.words[i]);
        free(p.raw[i]);
    }
    free(p.words);
    free(p.raw);
    free(p.off);
    free(p.tags);
    recur_tagger_free(p.tg);
    if (in != stdin)
        fclose(in);
    return rc;
}
