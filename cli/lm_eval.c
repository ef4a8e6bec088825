/*
 * lm_eval.c - `recur lm eval MODEL FILE...`: perplexity of text files under a
 * language model.  Each file is one stream read from a zero state.  Word
 * level: the first context is <eos>, so every token of the file, each line's
 * <eos> included, is predicted once (T = tokens).  Character level: the first
 * character is context and every later one is predicted (T = chars - 1).
 * Reports per file: tokens, out-of-vocabulary tokens (counted as <unk>),
 * nats per token and perplexity (word), or bits per character and
 * perplexity (char).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lm.h"

int lm_cmd_eval(int argc, char **argv);

int lm_cmd_eval(int argc, char **argv)
{
    const char *cmd = "recur lm eval";
    long long threads = 0;
    int json = 0;
    lm_opt opts[] = {
        LM_INT("threads", &threads, "N", "threads for matrix products, 0: OpenBLAS's choice", 0, 4096),
        LM_FLAG("json", &json, "one JSON object per file on stdout instead of a table"),
        LM_END,
    };
    const char *pos[1024];
    int npos;
    int rc = lm_parse(cmd, "[OPTIONS] MODEL FILE...", opts, argc, argv, pos, 1024, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos < 2) {
        fprintf(stderr, "%s: needs a model file and at least one text file (try %s --help)\n", cmd, cmd);
        return 2;
    }
    recur_set_num_threads((int)threads);
    lm_file f;
    if (lm_file_load(pos[0], &f))
        return 1;
    int status = 0;
    int chr = f.level == RECUR_LEVEL_CHAR;
    if (!json)
        printf("%-32s %10s %8s %10s %10s%s\n", "file", chr ? "chars" : "tokens", "oov",
               "predicted", chr ? "bits/char" : "nats/tok", "  perplexity");
    for (int i = 1; i < npos; i++) {
        recur_error err = {0};
        char *text;
        size_t len, n, oov;
        int32_t *ids;
        if (recur_text_read(pos[i], &text, &len, &err) != RECUR_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.msg);
            status = 1;
            continue;
        }
        if (recur_corpus_encode(f.vocab, text, len, pos[i], 0, &ids, &n, &oov, &err) != RECUR_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.msg);
            free(text);
            status = 1;
            continue;
        }
        free(text);
        double nll;
        int64_t count;
        if (chr && n < 2) {
            fprintf(stderr, "%s: %s: a character model needs at least 2 characters\n", cmd, pos[i]);
            free(ids);
            status = 1;
            continue;
        }
        if (lm_score_ids(f.model, f.vocab, ids, n, &nll, &count, &err)) {
            fprintf(stderr, "%s: %s: %s\n", cmd, pos[i], err.msg);
            free(ids);
            status = 1;
            continue;
        }
        free(ids);
        double per = nll / (double)count, ppl = exp(per);
        if (json) {
            json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:I,s:f,s:f,s:f,s:f}", "file", pos[i], "level",
                                  chr ? "char" : "word", "tokens", (json_int_t)n, "oov",
                                  (json_int_t)oov, "predicted", (json_int_t)count, "nll", nll,
                                  "nats_per_token", per, "bits_per_token", per / log(2.0),
                                  "perplexity", ppl);
            char *js = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
            if (js)
                printf("%s\n", js);
            free(js);
            json_decref(o);
        }
        else
            printf("%-32s %10zu %8zu %10lld %10.4f  %10.3f\n", pos[i], n, oov, (long long)count,
                   chr ? per / log(2.0) : per, ppl);
        fflush(stdout);
    }
    lm_file_close(&f);
    return status;
}
