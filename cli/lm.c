/*
 * lm.c - `recur lm`: language models from the shell.  Dispatches to train,
 * eval, sample and demo, and holds what they share: the strict option parser
 * (unknown options and malformed or out-of-range values are errors naming
 * the option; --help lists every option with its default), the loading of
 * language-model files (task, level and vocabulary from __metadata__), and
 * the scoring convention of `recur lm eval`.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lm.h"

int cli_lm(int argc, char **argv);
int lm_cmd_train(int argc, char **argv);
int lm_cmd_eval(int argc, char **argv);
int lm_cmd_sample(int argc, char **argv);
int lm_cmd_demo(int argc, char **argv);

/* ---- option parsing ----------------------------------------------------- */

lm_opt *lm_find_opt(lm_opt *opts, const char *name)
{
    for (lm_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    return NULL;
}

static void format_default(const lm_opt *o, char *buf, size_t n)
{
    if (o->default_text) {
        snprintf(buf, n, "%s", o->default_text);
        return;
    }
    switch (o->kind) {
    case OPT_INT: snprintf(buf, n, "%lld", *(long long *)o->dst); break;
    case OPT_DOUBLE: snprintf(buf, n, "%g", *(double *)o->dst); break;
    case OPT_DURATION: {
        double s = *(double *)o->dst;
        if (s <= 0)
            snprintf(buf, n, "none");
        else
            snprintf(buf, n, "%gs", s);
        break;
    }
    case OPT_STRING:
    case OPT_CHOICE: {
        const char *s = *(const char **)o->dst;
        snprintf(buf, n, "%s", s && *s ? s : "none");
        break;
    }
    case OPT_FLAG: snprintf(buf, n, "%s", *(int *)o->dst ? "on" : "off"); break;
    }
}

void lm_print_help(FILE *out, const char *cmd, const char *usage, const lm_opt *opts)
{
    fprintf(out, "usage: %s %s\n\noptions:\n", cmd, usage);
    for (const lm_opt *o = opts; o->name; o++) {
        char left[96], def[64];
        if (o->kind == OPT_FLAG)
            snprintf(left, sizeof left, "--%s, --no-%s", o->name, o->name);
        else if (o->kind == OPT_CHOICE)
            snprintf(left, sizeof left, "--%s %s", o->name, o->choices);
        else
            snprintf(left, sizeof left, "--%s %s", o->name, o->arg ? o->arg : "VALUE");
        format_default(o, def, sizeof def);
        if (strlen(left) > 28)
            fprintf(out, "  %s\n  %-28s %s (default: %s)\n", left, "", o->help, def);
        else
            fprintf(out, "  %-28s %s (default: %s)\n", left, o->help, def);
    }
    fprintf(out, "  %-28s %s\n", "--help", "print this help and exit");
}

void lm_opt_format(const lm_opt *o, char *buf, size_t n)
{
    switch (o->kind) {
    case OPT_INT: snprintf(buf, n, "%lld", *(long long *)o->dst); break;
    case OPT_DOUBLE:
    case OPT_DURATION: snprintf(buf, n, "%.17g", *(double *)o->dst); break;
    case OPT_STRING:
    case OPT_CHOICE: {
        const char *s = *(const char **)o->dst;
        snprintf(buf, n, "%s", s ? s : "");
        break;
    }
    case OPT_FLAG: snprintf(buf, n, "%d", *(int *)o->dst ? 1 : 0); break;
    }
}

static int opt_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int opt_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try %s --help)\n", cmd);
    return 2;
}

static int in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && !strncmp(p, v, n))
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

int lm_opt_set(const char *cmd, lm_opt *o, const char *v)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case OPT_INT: {
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno)
            return opt_error(cmd, "--%s: '%s' is not an integer", o->name, v);
        if ((double)x < o->min || (double)x > o->max)
            return opt_error(cmd, "--%s: %lld is outside %.0f..%.0f", o->name, x, o->min, o->max);
        *(long long *)o->dst = x;
        break;
    }
    case OPT_DOUBLE: {
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x))
            return opt_error(cmd, "--%s: '%s' is not a finite number", o->name, v);
        if (x < o->min || x > o->max || (o->min_open && x == o->min))
            return opt_error(cmd, "--%s: %g is outside %s%g, %g]", o->name, x,
                             o->min_open ? "(" : "[", o->min, o->max);
        *(double *)o->dst = x;
        break;
    }
    case OPT_DURATION: {
        double x = strtod(v, &end);
        double mult = 1;
        if (end != v && *end && !end[1]) {
            if (*end == 's')
                mult = 1;
            else if (*end == 'm')
                mult = 60;
            else if (*end == 'h')
                mult = 3600;
            else
                mult = -1;
            end++;
        }
        if (!*v || *end || errno || mult < 0 || !isfinite(x) || x < 0)
            return opt_error(cmd, "--%s: '%s' is not a duration (seconds, or a number with s, m or h)",
                             o->name, v);
        *(double *)o->dst = x * mult;
        break;
    }
    case OPT_STRING: *(const char **)o->dst = v; break;
    case OPT_CHOICE:
        if (!in_choices(o->choices, v))
            return opt_error(cmd, "--%s: '%s' is not one of %s", o->name, v, o->choices);
        *(const char **)o->dst = v;
        break;
    case OPT_FLAG:
        if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on"))
            *(int *)o->dst = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off"))
            *(int *)o->dst = 0;
        else
            return opt_error(cmd, "--%s: '%s' is not one of yes|no|1|0|on|off", o->name, v);
        break;
    }
    o->given = 1;
    return 0;
}

int lm_parse(const char *cmd, const char *usage, lm_opt *opts, int argc, char **argv,
             const char **pos, int max_pos, int *n_pos)
{
    *n_pos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            break;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            lm_print_help(stdout, cmd, usage, opts);
            return 1;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
            if (*n_pos >= max_pos)
                return opt_error(cmd, "unexpected argument '%s'", a);
            pos[(*n_pos)++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (a[1] != '-')
            return opt_error(cmd, "unknown option '%s'", a);
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (nl == 0 || nl >= sizeof name)
            return opt_error(cmd, "unknown option '%s'", a);
        memcpy(name, a + 2, nl);
        name[nl] = '\0';
        lm_opt *o = lm_find_opt(opts, name);
        if (!o && !strncmp(name, "no-", 3)) {
            lm_opt *f = lm_find_opt(opts, name + 3);
            if (f && f->kind == OPT_FLAG) {
                if (eq)
                    return opt_error(cmd, "--%s takes no value", name);
                *(int *)f->dst = 0;
                f->given = 1;
                continue;
            }
        }
        if (!o)
            return opt_error(cmd, "unknown option '--%s'", name);
        if (o->kind == OPT_FLAG && !eq) {
            *(int *)o->dst = 1;
            o->given = 1;
            continue;
        }
        const char *v;
        if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc)
                return opt_error(cmd, "--%s needs a value", name);
            v = argv[++i];
        }
        int rc = lm_opt_set(cmd, o, v);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- model files ------------------------------------------------------- */

const char *lm_extra_config(recur_lm_level level)
{
    return level == RECUR_LEVEL_CHAR ? "{\"task\":\"lm\",\"level\":\"char\"}"
                                     : "{\"task\":\"lm\",\"level\":\"word\"}";
}

/* "recur lm: PATH: MSG", without PATH when the message names it already. */
static void file_error(const char *path, const char *msg)
{
    if (strstr(msg, path))
        fprintf(stderr, "recur lm: %s\n", msg);
    else
        fprintf(stderr, "recur lm: %s: %s\n", path, msg);
}

void lm_file_close(lm_file *f)
{
    recur_model_free(f->model);
    recur_vocab_free(f->vocab);
    recur_checkpoint_close(f->ckpt);
    memset(f, 0, sizeof *f);
}

int lm_file_load(const char *path, lm_file *f)
{
    memset(f, 0, sizeof *f);
    recur_error err = {0};
    if (recur_checkpoint_open(&f->ckpt, path, &err) != RECUR_OK) {
        file_error(path, err.msg);
        return 1;
    }
    const char *cfg = recur_checkpoint_meta(f->ckpt, "recur.config");
    json_error_t je;
    json_t *root = cfg ? json_loads(cfg, 0, &je) : NULL;
    const char *task = NULL, *level = NULL;
    if (root) {
        task = json_string_value(json_object_get(root, "task"));
        level = json_string_value(json_object_get(root, "level"));
    }
    int rc = 1;
    if (!task) {
        fprintf(stderr, "recur lm: %s: not a language model (recur.config has no \"task\")\n", path);
        goto done;
    }
    if (strcmp(task, "lm") != 0) {
        fprintf(stderr, "recur lm: %s: a model for task '%s', not a language model ('lm')\n",
                path, task);
        goto done;
    }
    int lv = recur_lm_level_parse(level);
    if (lv < 0) {
        fprintf(stderr, "recur lm: %s: recur.config level '%s' is not word or char\n", path,
                level ? level : "(missing)");
        goto done;
    }
    f->level = (recur_lm_level)lv;
    if (recur_vocab_from_json(&f->vocab, f->level, recur_checkpoint_meta(f->ckpt, "recur.vocab"),
                              &err) != RECUR_OK) {
        fprintf(stderr, "recur lm: %s: %s\n", path, err.msg);
        goto done;
    }
    const recur_model_config *mc = recur_checkpoint_config(f->ckpt);
    if (mc->vocab_size != recur_vocab_size(f->vocab) || mc->output_size != mc->vocab_size) {
        fprintf(stderr,
                "recur lm: %s: the vocabulary has %d tokens but the model's embedding has %d rows "
                "and its decoder %d classes\n",
                path, recur_vocab_size(f->vocab), mc->vocab_size, mc->output_size);
        goto done;
    }
    if (mc->rnn.bidirectional) {
        fprintf(stderr, "recur lm: %s: a bidirectional model cannot be a language model\n", path);
        goto done;
    }
    if (recur_checkpoint_load_model(f->ckpt, &f->model, &err) != RECUR_OK) {
        file_error(path, err.msg);
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    if (rc)
        lm_file_close(f);
    return rc;
}

int32_t *lm_prefix_eos(const recur_vocab *v, const int32_t *ids, size_t n, recur_error *err)
{
    int32_t *buf = malloc((n + 1) * sizeof *buf);
    if (!buf) {
        err->status = RECUR_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return NULL;
    }
    buf[0] = recur_vocab_eos(v);
    memcpy(buf + 1, ids, n * sizeof *buf);
    return buf;
}

int lm_score_ids_streams(recur_model *m, const recur_vocab *v, const int32_t *ids, size_t n,
                         int streams, double *nll, int64_t *count, recur_error *err)
{
    const int chunk = 256;
    if (recur_vocab_level(v) == RECUR_LEVEL_CHAR)
        return recur_lm_score_streams(m, ids, n, streams, chunk, nll, count, err) != RECUR_OK;
    int32_t *buf = lm_prefix_eos(v, ids, n, err);
    if (!buf)
        return 1;
    int rc = recur_lm_score_streams(m, buf, n + 1, streams, chunk, nll, count, err) != RECUR_OK;
    free(buf);
    return rc;
}

int lm_score_ids(recur_model *m, const recur_vocab *v, const int32_t *ids, size_t n,
                 double *nll, int64_t *count, recur_error *err)
{
    return lm_score_ids_streams(m, v, ids, n, 1, nll, count, err);
}

/* ---- dispatch ----------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: recur lm COMMAND [OPTIONS] [ARGS]\n\n"
            "language models over words or characters (see docs/lm.md)\n\n"
            "commands:\n"
            "  train   train a model: recur lm train TRAIN VALID [TEST]\n"
            "  eval    perplexity of text files: recur lm eval MODEL FILE...\n"
            "  sample  generate text: recur lm sample MODEL\n"
            "  demo    train a small character model on the fortunes package and sample it\n\n"
            "`recur lm COMMAND --help` lists each command's options and defaults.\n");
}

int cli_lm(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(c, "train"))
        return lm_cmd_train(argc - 1, argv + 1);
    if (!strcmp(c, "eval"))
        return lm_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(c, "sample"))
        return lm_cmd_sample(argc - 1, argv + 1);
    if (!strcmp(c, "demo"))
        return lm_cmd_demo(argc - 1, argv + 1);
    fprintf(stderr, "recur lm: unknown command '%s' (try recur lm --help)\n", c);
    return 2;
}
