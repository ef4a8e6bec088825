/*
 * lm_eval.c - `recur lm eval MODEL FILE...`: perplexity of text files under a
 * language model.  Each file is one stream read from a zero state.  Word
 * level: the first context is <eos>, so every token of the file, each line's
 * <eos> included, is predicted once (T = tokens).  Character level: the first
 * character is context and every later one is predicted (T = chars - 1).
 * Reports per file: tokens, out-of-vocabulary tokens (counted as <unk>),
 * nats per token and perplexity (word), or bits per character and
 * perplexity (char).
 *
 * --weights chooses the products' precision.  fp32 and bf16 score in batch
 * (bf16 rounds weights and activations); --stepper, which int8 implies,
 * scores one token at a time through the stepper `recur lm sample` generates
 * with, its weights rounded to bf16 or int8 (recur_lm_eval_ids_stepped): the
 * perplexity of the model as it generates.
 *
 * With --interpolate MODEL.arpa (word level), each token's probability is
 * also mixed with an n-gram model's (lm_interp.c), with the weight --lambda
 * or the one --tune-lambda VALID finds best on a validation file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_path.h"

#include "lm.h"

int lm_cmd_eval(int argc, char **argv);

static const char *cmd = "recur lm eval";

/* Reads and encodes a file; 0 on success, else prints the error. */
static int load_ids(const lm_file *f, const char *path, int32_t **ids, size_t *n, size_t *oov)
{
    recur_error err = {0};
    char *text;
    size_t len;
    if (recur_text_read(path, &text, &len, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
        return 1;
    }
    recur_status st = recur_corpus_encode(f->vocab, text, len, path, 0, ids, n, oov, &err);
    free(text);
    if (st != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
        return 1;
    }
    if (f->level == RECUR_LEVEL_CHAR && *n < 2) {
        fprintf(stderr, "%s: %s: a character model needs at least 2 characters\n", cmd, path);
        free(*ids);
        return 1;
    }
    return 0;
}

/* Per-token log-probabilities of a file under both models; 0 on success. */
static int interp_file(const lm_file *f, const recur_ngram *ng, const char *path, double **lp_rnn,
                       double **lp_ng, size_t *n, size_t *oov)
{
    int32_t *ids;
    if (load_ids(f, path, &ids, n, oov))
        return 1;
    *lp_rnn = malloc(*n * sizeof **lp_rnn);
    *lp_ng = malloc(*n * sizeof **lp_ng);
    recur_error err = {0};
    int rc = 0;
    if (!*lp_rnn || !*lp_ng) {
        fprintf(stderr, "%s: %s: out of memory\n", cmd, path);
        rc = 1;
    } else if (lm_interp_logprobs(f->model, f->vocab, ng, ids, *n, *lp_rnn, *lp_ng, &err)) {
        fprintf(stderr, "%s: %s: %s\n", cmd, path, err.msg);
        rc = 1;
    }
    free(ids);
    if (rc) {
        free(*lp_rnn);
        free(*lp_ng);
    }
    return rc;
}

/* Prints one JSON line; 1 (with a message) when it could not be made. */
static int print_json(json_t *o)
{
    char *js = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    if (js)
        printf("%s\n", js);
    else
        fprintf(stderr, "recur lm eval: out of memory writing a JSON line\n");
    free(js);
    json_decref(o);
    return js == NULL;
}

int lm_cmd_eval(int argc, char **argv)
{
    long long threads = 0;
    int json = 0;
    const char *arpa = NULL, *tune = NULL;
    double lambda = 0.5;
    const char *weights = "fp32";
    int stepper = 0;
    cli_opt opts[] = {
        CLI_THREADS(&threads),
        CLI_FLAG("json", &json, "one JSON object per file on stdout instead of a table"),
        CLI_STR("interpolate", &arpa, "ARPA",
               "mix each token's probability with this n-gram model's (word models)", "none"),
        CLI_DBL("lambda", &lambda, "L", "weight of the RNN in the mixture, in [0, 1]", 0, 1, 0),
        CLI_STR("tune-lambda", &tune, "VALID",
               "choose --lambda minimising the mixture's perplexity on this file", "none"),
        CLI_CHOICE("weights", &weights, "products in float32, in bfloat16 (weights and activations rounded, float32 sums), or int8 weights with a scale per row (implies --stepper)", "fp32|bf16|int8"),
        CLI_FLAG("stepper", &stepper, "score one token at a time through the stepper `recur lm sample` uses, with its weights (--weights): the model's perplexity as it generates"),
        CLI_END,
    };
    const char *pos[1024];
    int npos;
    int rc = cli_parse(cmd, "[OPTIONS] MODEL FILE...", opts, argc, argv, pos, 1024, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos < 2) {
        fprintf(stderr, "%s: needs a model file and at least one text file (try %s --help)\n", cmd, cmd);
        return 2;
    }
    if (opts[3].given && !arpa) {
        fprintf(stderr, "%s: --lambda needs --interpolate\n", cmd);
        return 2;
    }
    if (tune && !arpa) {
        fprintf(stderr, "%s: --tune-lambda needs --interpolate\n", cmd);
        return 2;
    }
    if (tune && opts[3].given) {
        fprintf(stderr, "%s: give --lambda or --tune-lambda, not both\n", cmd);
        return 2;
    }
    recur_precision precision;
    recur_precision_parse(weights, &precision); /* one of the choices */
    if (precision == RECUR_PRECISION_INT8)
        stepper = 1;
    if (stepper && arpa) {
        fprintf(stderr, "%s: --interpolate scores in batch; it does not go with --stepper or --weights int8\n", cmd);
        return 2;
    }
    recur_set_num_threads((int)threads);
    lm_file f;
    if (lm_file_load(pos[0], &f))
        return 1;
    if (!stepper && precision == RECUR_PRECISION_BF16 && recur_model_set_precision(f.model, RECUR_PRECISION_BF16) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", cmd, recur_model_errmsg(f.model));
        lm_file_close(&f);
        return 1;
    }
    int status = 0;
    int chr = f.level == RECUR_LEVEL_CHAR;
    recur_ngram *ng = NULL;
    if (arpa) {
        recur_error err = {0};
        if (chr) {
            fprintf(stderr, "%s: --interpolate needs a word model; %s is a character model\n", cmd, pos[0]);
            lm_file_close(&f);
            return 2;
        }
        if (recur_ngram_load(&ng, arpa, &err) != RECUR_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.msg);
            lm_file_close(&f);
            return 1;
        }
    }
    if (tune) {
        double *a, *b;
        size_t n, oov;
        if (interp_file(&f, ng, tune, &a, &b, &n, &oov)) {
            recur_ngram_free(ng);
            lm_file_close(&f);
            return 1;
        }
        lambda = lm_interp_tune(a, b, n);
        double pr = exp(lm_interp_nll(a, b, n, 1) / n), pn = exp(lm_interp_nll(a, b, n, 0) / n);
        double pm = exp(lm_interp_nll(a, b, n, lambda) / n);
        if (json)
            status |= print_json(json_pack("{s:o,s:f,s:f,s:f,s:f}", "tuned_on", cli_json_path(tune), "lambda", lambda, "rnn_perplexity", pr,
                                 "ngram_perplexity", pn, "perplexity", pm));
        else
            printf("lambda tuned on %s: %.4f (rnn %.3f, n-gram %.3f, mixed %.3f)\n", tune, lambda, pr, pn, pm);
        free(a);
        free(b);
    }
    if (!json) {
        if (ng)
            printf("%-32s %10s %8s %10s %10s %10s %7s %10s\n", "file", "tokens", "oov", "predicted", "rnn ppl",
                   "ngram ppl", "lambda", "perplexity");
        else
            printf("%-32s %10s %8s %10s %10s%s\n", "file", chr ? "chars" : "tokens", "oov", "predicted",
                   chr ? "bits/char" : "nats/tok", "  perplexity");
    }
    for (int i = 1; i < npos; i++) {
        size_t n, oov;
        if (ng) {
            double *a, *b;
            if (interp_file(&f, ng, pos[i], &a, &b, &n, &oov)) {
                status = 1;
                continue;
            }
            double pr = exp(lm_interp_nll(a, b, n, 1) / n), pn = exp(lm_interp_nll(a, b, n, 0) / n);
            double nll = lm_interp_nll(a, b, n, lambda), pm = exp(nll / n);
            free(a);
            free(b);
            if (json)
                status |= print_json(json_pack("{s:o,s:s,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f}", "file",
                                               cli_json_path(pos[i]), "level", "word",
                                     "tokens", (json_int_t)n, "oov", (json_int_t)oov, "predicted", (json_int_t)n,
                                     "nll", nll, "rnn_perplexity", pr, "ngram_perplexity", pn, "lambda", lambda,
                                     "perplexity", pm));
            else
                printf("%-32s %10zu %8zu %10zu %10.3f %10.3f %7.4f %10.3f\n", pos[i], n, oov, n, pr, pn, lambda, pm);
            fflush(stdout);
            continue;
        }
        int32_t *ids;
        if (load_ids(&f, pos[i], &ids, &n, &oov)) {
            status = 1;
            continue;
        }
        recur_error err = {0};
        double nll;
        int64_t count;
        recur_status st = stepper ? recur_lm_eval_ids_stepped(f.model, f.vocab, ids, n, precision, &nll, &count, &err)
                                  : recur_lm_eval_ids(f.model, f.vocab, ids, n, 1, &nll, &count, &err);
        if (st != RECUR_OK) {
            fprintf(stderr, "%s: %s: %s\n", cmd, pos[i], err.msg);
            free(ids);
            status = 1;
            continue;
        }
        free(ids);
        double per = nll / (double)count, ppl = exp(per);
        if (json)
            status |= print_json(json_pack("{s:o,s:s,s:I,s:I,s:I,s:f,s:f,s:f,s:f}", "file", cli_json_path(pos[i]), "level",
                                 chr ? "char" : "word", "tokens", (json_int_t)n, "oov", (json_int_t)oov,
                                 "predicted", (json_int_t)count, "nll", nll, "nats_per_token", per,
                                 "bits_per_token", per / log(2.0), "perplexity", ppl));
        else
            printf("%-32s %10zu %8zu %10lld %10.4f  %10.3f\n", pos[i], n, oov, (long long)count,
                   chr ? per / log(2.0) : per, ppl);
        fflush(stdout);
    }
    recur_ngram_free(ng);
    lm_file_close(&f);
    return status;
}
