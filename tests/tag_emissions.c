/*
 * tag_emissions.c - prints what a tagger's network computes, for
 * tests/tag_torch.py to compare with PyTorch: numbers the CLI does not show.
 *
 *     build/tests/tag_emissions MODEL SENTENCES > emissions.jsonl
 *
 * SENTENCES has one sentence a line, words separated by spaces.  All of
 * them go through the network as ONE batch (padded to the longest, so the
 * padding path is part of what is compared), and each gets a JSON line:
 * {"emit": T x K emissions, "score": the best path's score (CRF: Viterbi
 * with the scheme's constraints; softmax: null), "labels": the best labels
 * (the tagger's own IOBES or plain labels)}.  Uses the library's internals
 * (tag_task.h), as the tests do: no public API exposes emissions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "tasks/tag/tag_task.h"

#define MAX_WORDS 100000

static int fail(const char *what)
{
    fprintf(stderr, "tag_emissions: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return fail("usage: tag_emissions MODEL SENTENCES");
    static char text[1 << 20];
    FILE *f = fopen(argv[2], "rb");
    if (!f)
        return fail("cannot open the sentences");
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    if (len == sizeof text - 1)
        return fail("the sentences are over 1 MiB");
    text[len] = '\0';
    static const char *words[MAX_WORDS];
    static int64_t off[MAX_WORDS];
    int64_t n_words = 0, n_sent = 0;
    off[0] = 0;
    /* words end at a space, sentences at a newline */
    char *p = text;
    while (*p && n_words < MAX_WORDS && n_sent + 1 < MAX_WORDS) {
        while (*p == ' ')
            *p++ = '\0';
        if (*p == '\n') {
            *p++ = '\0';
            if (n_words > off[n_sent])
                off[++n_sent] = n_words;
            continue;
        }
        if (!*p)
            break;
        words[n_words++] = p;
        while (*p && *p != ' ' && *p != '\n')
            p++;
    }
    if (n_words > off[n_sent])
        off[++n_sent] = n_words;
    if (n_sent == 0)
        return fail("no sentence");

    recur_error err = {0};
    recur_model_file *file = NULL;
    tag_vocabs v = {0};
    recur_tagger_config c;
    tag_net net;
    tag_data d;
    if (recur_model_file_open(&file, argv[1], "tag", &err) != RECUR_OK ||
        tag_vocabs_load(&v, recur_model_file_checkpoint(file), &c, &err) != RECUR_OK ||
        tag_net_init(&net, recur_model_file_model(file), &v, 0, &err) != RECUR_OK ||
        tag_encode(&v, words, NULL, RECUR_TAGS_PLAIN, off, n_sent, &d, &err) != RECUR_OK ||
        tag_net_reserve(&net, &d, (int)n_sent, &err) != RECUR_OK)
        return fail(err.msg);
    int64_t *sents = malloc((size_t)n_sent * sizeof *sents);
    int32_t *best = malloc((size_t)n_words * sizeof *best);
    char msg[RECUR_ERRMSG_LEN];
    for (int64_t s = 0; s < n_sent; s++)
        sents[s] = s;
    if (tag_net_forward(&net, &d, sents, (int)n_sent, 0, 0, msg) != RECUR_OK)
        return fail(msg);
    tag_net_decode(&net, best);
    const int K = net.K, B = (int)n_sent;
    for (int b = 0; b < B; b++) {
        int T = (int)(off[b + 1] - off[b]);
        printf("{\"emit\": [");
        for (int t = 0; t < T; t++) {
            const recur_real *e = net.emit + ((size_t)t * B + b) * K;
            for (int k = 0; k < K; k++)
                printf("%s%.9g", k ? ", " : t ? "], [" : "[", (double)e[k]);
        }
        printf("]], \"score\": ");
        if (net.crf)
            printf("%.12g", crf_score(&net.view, net.emit + (size_t)b * K, (size_t)B * K, T,
                                      best + off[b]));
        else
            printf("null");
        printf(", \"labels\": [");
        for (int t = 0; t < T; t++) {
            printf("%s\"", t ? ", " : "");
            for (const char *c = recur_vocab_token(v.labels, best[off[b] + t]); *c; c++)
                printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c); /* a JSON string */
            putchar('"');
        }
        printf("]}\n");
    }
    free(sents);
    free(best);
    tag_data_free(&d);
    tag_net_free(&net);
    tag_vocabs_free(&v);
    recur_model_file_close(file);
    return 0;
}
