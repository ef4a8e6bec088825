/*
 * lm_sample.c - `recur lm sample MODEL`: text from a language model, streamed
 * as it is generated.  The prime (UTF-8, every token or character of it in
 * the vocabulary) is read first, from a zero state; a word model reads <eos>
 * before it, as at the start of any line.  Then tokens are drawn with
 * temperature, top-k and top-p (temperature 0: greedy), or --beam K finds the
 * most likely continuation by beam search and prints it at the end.  Word
 * models print <eos> as a line break and words separated by spaces.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lm.h"
#include "strbuf.h"

int lm_cmd_sample(int argc, char **argv);

/* The output so far, to find --stop and to know where words start. */
/* Text of one generated token (with its separator) into piece. */
static size_t token_text(const recur_vocab *v, int32_t id, int at_line_start, char *piece,
                         size_t cap)
{
    const char *t = recur_vocab_token(v, id);
    if (recur_vocab_level(v) == RECUR_LEVEL_CHAR)
        return (size_t)snprintf(piece, cap, "%s", t);
    if (id == recur_vocab_eos(v))
        return (size_t)snprintf(piece, cap, "\n");
    return (size_t)snprintf(piece, cap, "%s%s", at_line_start ? "" : " ", t);
}

/* The context ids of a prime (see the file comment); *echo: text to print. */
static int prime_ids(const recur_vocab *v, const char *prime, int32_t **ids, size_t *n)
{
    recur_error err = {0};
    int word = recur_vocab_level(v) == RECUR_LEVEL_WORD;
    size_t plen = strlen(prime);
    int blank = 1;
    for (size_t i = 0; i < plen; i++)
        if (prime[i] != ' ' && prime[i] != '\t' && prime[i] != '\n' && prime[i] != '\r')
            blank = 0;
    if (plen > 0 && recur_text_check(prime, plen, "--prime", &err) != RECUR_OK) {
        fprintf(stderr, "recur lm sample: %s\n", err.msg);
        return 1;
    }
    int32_t *p = NULL;
    size_t np = 0;
    if (plen > 0 && !(word && blank)) {
        if (recur_corpus_encode(v, prime, plen, "--prime",
                                RECUR_ENCODE_STRICT | RECUR_ENCODE_NO_FINAL_EOS, &p, &np, NULL,
                                &err) != RECUR_OK) {
            fprintf(stderr, "recur lm sample: %s\n", err.msg);
            return 1;
        }
    }
    int32_t first = -1;
    if (word) {
        first = recur_vocab_eos(v);
    } else if (np == 0) {
        first = recur_vocab_find(v, "\n", 1);
        if (first < 0) {
            fprintf(stderr, "recur lm sample: the model's vocabulary has no newline to start "
                            "from: give --prime TEXT\n");
            free(p);
            return 1;
        }
    }
    size_t total = np + (first >= 0);
    int32_t *all = malloc(total * sizeof *all);
    if (!all) {
        free(p);
        fprintf(stderr, "recur lm sample: out of memory\n");
        return 1;
    }
    size_t k = 0;
    if (first >= 0)
        all[k++] = first;
    if (np)
        memcpy(all + k, p, np * sizeof *all);
    free(p);
    *ids = all;
    *n = total;
    return 0;
}

static int emit(FILE *out, strbuf *ob, const recur_vocab *v, int32_t id, const char *stop,
                int *stopped)
{
    char piece[1024];
    int at_start = ob->n == 0 || ob->s[ob->n - 1] == '\n';
    size_t k = token_text(v, id, at_start, piece, sizeof piece);
    if (k >= sizeof piece)
        k = sizeof piece - 1;
    size_t before = ob->n;
    if (strbuf_add(ob, piece, k)) {
        fprintf(stderr, "recur lm sample: out of memory\n");
        return 1;
    }
    if (stop && *stop) {
        /* look for the stop string ending inside this piece */
        size_t sl = strlen(stop);
        size_t from = before >= sl ? before - sl + 1 : 0;
        char *hit = strstr(ob->s + from, stop);
        if (hit) {
            size_t end = (size_t)(hit - ob->s) + sl;
            fwrite(ob->s + before, 1, end - before, out);
            *stopped = 1;
            fflush(out);
            return 0;
        }
    }
    fwrite(piece, 1, k, out);
    fflush(out);
    return 0;
}

int lm_generate(recur_model *m, const recur_vocab *v, const lm_gen_opts *g, FILE *out)
{
    int32_t *ctx = NULL;
    size_t nctx = 0;
    if (prime_ids(v, g->prime ? g->prime : "", &ctx, &nctx))
        return 1;
    const int V = recur_vocab_size(v);
    recur_stepper *stp = NULL;
    recur_sampler *smp = NULL;
    strbuf ob = {0};
    int rc = 1, stopped = 0;
    recur_error err = {0};
    /* echo the prime as given */
    if (g->prime && *g->prime) {
        fputs(g->prime, out);
        if (strbuf_add(&ob, g->prime, strlen(g->prime)))
            goto done;
    }
    if (g->beam > 0 && g->weights == RECUR_PRECISION_INT8) {
        fprintf(stderr, "recur lm sample: --weights int8 is for sampling; beam search runs fp32 or bf16\n");
        goto done;
    }
    if (g->beam > 0 && recur_model_set_precision(m, g->weights) != RECUR_OK) {
        fprintf(stderr, "recur lm sample: %s\n", recur_model_errmsg(m));
        goto done;
    }
    if (g->beam > 0) {
        int32_t stop_id = -1;
        if (g->stop && *g->stop) {
            if (recur_vocab_level(v) == RECUR_LEVEL_WORD && !strcmp(g->stop, "\n"))
                stop_id = recur_vocab_eos(v);
            else if (recur_vocab_level(v) == RECUR_LEVEL_CHAR)
                stop_id = recur_vocab_find(v, g->stop, strlen(g->stop));
        }
        int32_t *res = malloc((size_t)g->length * sizeof *res);
        int nres = 0;
        double lp;
        if (!res) {
            fprintf(stderr, "recur lm sample: out of memory\n");
            goto done;
        }
        if (recur_lm_beam_search(m, ctx, (int)nctx, (int)g->beam, (int)g->length, stop_id, res,
                                 &nres, &lp, &err) != RECUR_OK) {
            fprintf(stderr, "recur lm sample: %s\n", err.msg);
            free(res);
            goto done;
        }
        for (int i = 0; i < nres && !stopped; i++)
            if (emit(out, &ob, v, res[i], g->stop, &stopped)) {
                free(res);
                goto done;
            }
        free(res);
        if (ob.n && ob.s[ob.n - 1] != '\n')
            fputc('\n', out);
        fprintf(stderr, "beam %lld: log-probability %.4f over %d tokens\n", g->beam, lp, nres);
        rc = 0;
        goto done;
    }
    if (recur_sampler_create(&smp, V, g->temperature, (int)g->top_k, g->top_p, g->seed, &err) !=
        RECUR_OK) {
        fprintf(stderr, "recur lm sample: %s\n", err.msg);
        goto done;
    }
    /* the prime, then one token at a time */
    if (recur_stepper_create(&stp, m, &err) != RECUR_OK) {
        fprintf(stderr, "recur lm sample: %s\n", err.msg);
        goto done;
    }
    if (recur_stepper_set_weights(stp, g->weights) != RECUR_OK) {
        fprintf(stderr, "recur lm sample: %s\n", recur_stepper_errmsg(stp));
        goto done;
    }
    for (size_t i = 0; i < nctx; i++)
        if (recur_stepper_feed(stp, ctx[i]) != RECUR_OK) {
            fprintf(stderr, "recur lm sample: %s\n", recur_stepper_errmsg(stp));
            goto done;
        }
    for (long long i = 0; i < g->length && !stopped; i++) {
        int32_t id;
        if (recur_sampler_next(smp, recur_stepper_logits(stp), &id) != RECUR_OK) {
            fprintf(stderr, "recur lm sample: %s\n", recur_sampler_errmsg(smp));
            goto done;
        }
        if (emit(out, &ob, v, id, g->stop, &stopped))
            goto done;
        if (stopped || i + 1 == g->length)
            break;
        if (recur_stepper_feed(stp, id) != RECUR_OK) {
            fprintf(stderr, "recur lm sample: %s\n", recur_stepper_errmsg(stp));
            goto done;
        }
    }
    if (ob.n && ob.s[ob.n - 1] != '\n')
        fputc('\n', out);
    fflush(out);
    rc = 0;
done:
    free(ctx);
    strbuf_free(&ob);
    recur_stepper_free(stp);
    recur_sampler_free(smp);
    return rc;
}

int lm_cmd_sample(int argc, char **argv)
{
    const char *cmd = "recur lm sample";
    lm_gen_opts g = {"", 0, 1.0, 0, 1.0, 0, NULL, 0, RECUR_PRECISION_FP32};
    long long seed = 0, threads = 0;
    const char *stop = NULL, *weights = "fp32";
    cli_opt opts[] = {
        CLI_STR("prime", &g.prime, "TEXT", "text to start from (UTF-8, every token in the vocabulary)", "none: a line start"),
        CLI_INT("length", &g.length, "N", "tokens to generate", 1, 100000000),
        CLI_DBL("temperature", &g.temperature, "T", "softmax temperature, 0: greedy", 0, 1e6, 0),
        CLI_INT("top-k", &g.top_k, "K", "sample among the K most likely tokens, 0: all", 0, 1e9),
        CLI_DBL("top-p", &g.top_p, "P", "sample among the most likely tokens of mass P, in (0, 1]", 0, 1, 1),
        CLI_INT("seed", &seed, "S", "random seed, 0: from the clock", 0, 9.2e18),
        CLI_STR("stop", &stop, "STRING", "stop once the output contains STRING (printed)", NULL),
        CLI_INT("beam", &g.beam, "K", "beam search with K hypotheses for the most likely continuation, 0: sample", 0, 1024),
        CLI_CHOICE("weights", &weights, "weights of the products: float32, bfloat16, or int8 with a scale per row (a quarter of the bytes a token reads; sampling only)", "fp32|bf16|int8"),
        CLI_THREADS(&threads),
        CLI_END,
    };
    cli_find_opt(opts, "length")->default_text = "200 words, 1000 characters";
    const char *pos[2];
    int npos;
    int rc = cli_parse(cmd, "[OPTIONS] MODEL", opts, argc, argv, pos, 1, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos != 1) {
        fprintf(stderr, "%s: needs a model file (try %s --help)\n", cmd, cmd);
        return 2;
    }
    recur_set_num_threads((int)threads);
    recur_precision_parse(weights, &g.weights); /* one of the choices */
    g.stop = stop;
    g.seed = seed ? (uint64_t)seed
                  : ((uint64_t)time(NULL) * 6364136223846793005ull) ^ (uint64_t)getpid();
    lm_file f;
    if (lm_file_load(pos[0], &f))
        return 1;
    if (!cli_find_opt(opts, "length")->given)
        g.length = f.level == RECUR_LEVEL_CHAR ? 1000 : 200;
    if (g.length < 1) {
        fprintf(stderr, "%s: --length must be at least 1\n", cmd);
        lm_file_close(&f);
        return 2;
    }
    rc = lm_generate(f.model, f.vocab, &g, stdout);
    lm_file_close(&f);
    return rc;
}
