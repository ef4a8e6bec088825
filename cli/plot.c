/*
 * plot.c - `recur plot METRICS...`: training curves from the metrics files
 * (JSON Lines) that every `recur ... train` writes, as one SVG figure:
 * loss (training rows and validation per epoch), perplexity or the task's
 * other validation metrics, the gradient norm before clipping, the share of
 * steps clipped and the learning rate, with several runs overlaid.  Scales:
 * loss and clipped share linear; perplexity, gradient norm and learning
 * rate logarithmic (they span decades).  x: epochs (fractional, from each
 * log row's epoch_progress) or seconds of training.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "options.h"
#include "recur_inspect.h"
#include "svg_chart.h"

int cli_plot(int argc, char **argv);

static const char *CMD = "recur plot";

#define MAX_RUNS 16
#define MAX_EXTRA 4 /* validation metrics beyond loss and ppl */

/* A growable column of doubles. */
typedef struct column {
    double *v;
    int n, cap;
} column;

static int col_push(column *c, double v)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        double *p = realloc(c->v, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = v;
    return 0;
}

/* The rows of one metrics file, by kind. */
typedef struct run {
    char label[256];
    char unit[32];
    int nll; /* the log rows carry ppl */
    column lx, loss, ppl, grad, clipped, lr;         /* "log" rows */
    column ex, vloss, vppl, elr, extra[MAX_EXTRA];   /* "epoch" rows */
} run;

static char extra_names[MAX_EXTRA][48];
static int n_extra;

static void run_free(run *r)
{
    column *cs[] = {&r->lx, &r->loss, &r->ppl, &r->grad, &r->clipped, &r->lr,
                    &r->ex, &r->vloss, &r->vppl, &r->elr};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        free(cs[i]->v);
    for (int i = 0; i < MAX_EXTRA; i++)
        free(r->extra[i].v);
}

static double num(json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The index of a validation metric in the extra panels, adding it. */
static int extra_index(const char *name)
{
    for (int i = 0; i < n_extra; i++)
        if (!strcmp(extra_names[i], name))
            return i;
    if (n_extra == MAX_EXTRA)
        return -1;
    snprintf(extra_names[n_extra], sizeof extra_names[0], "%s", name);
    return n_extra++;
}

static int read_run(const char *path, int use_time, run *r)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", CMD, path, strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0, rows = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        json_error_t je;
        json_t *row = json_loadb(line, (size_t)len, 0, &je);
        const char *type = json_string_value(json_object_get(row, "type"));
        if (!row || !json_is_object(row) || !type) {
            fprintf(stderr, "%s: %s:%ld: not a metrics row (%s)\n", CMD, path, lineno,
                    row ? "a JSON object with a \"type\" is expected" : je.text);
            json_decref(row);
            rc = 1;
            break;
        }
        double epoch = num(row, "epoch"), t = num(row, "elapsed_s");
        int bad = 0;
        if (!strcmp(type, "log")) {
            double x = use_time ? t : epoch - 1 + num(row, "epoch_progress");
            bad = !isfinite(x);
            if (!r->unit[0]) {
                const char *key;
                json_t *v;
                json_object_foreach(row, key, v) {
                    size_t k = strlen(key);
                    if (k > 8 && !strcmp(key + k - 8, "_s_per_s") && k - 8 < sizeof r->unit) {
                        memcpy(r->unit, key, k - 8);
                        r->unit[k - 8] = '\0';
                    }
                }
            }
            r->nll |= json_object_get(row, "ppl") != NULL;
            bad = bad || col_push(&r->lx, x) || col_push(&r->loss, num(row, "loss")) ||
                  col_push(&r->ppl, num(row, "ppl")) || col_push(&r->grad, num(row, "grad_norm")) ||
                  col_push(&r->clipped, 100 * num(row, "clipped_share")) ||
                  col_push(&r->lr, num(row, "lr"));
        } else if (!strcmp(type, "epoch")) {
            double x = use_time ? t : epoch;
            bad = !isfinite(x) || col_push(&r->ex, x) || col_push(&r->vloss, num(row, "valid_loss")) ||
                  col_push(&r->vppl, num(row, "valid_ppl")) || col_push(&r->elr, num(row, "lr"));
            const char *key;
            json_t *v;
            json_object_foreach(row, key, v) {
                if (strncmp(key, "valid_", 6) || !strcmp(key, "valid_loss") || !strcmp(key, "valid_ppl"))
                    continue;
                int i = extra_index(key + 6);
                if (i < 0)
                    continue;
                /* pad to this epoch, then the value */
                while (!bad && r->extra[i].n < r->ex.n - 1)
                    bad = col_push(&r->extra[i], NAN);
                bad = bad || col_push(&r->extra[i], json_is_number(v) ? json_number_value(v) : NAN);
            }
        } /* other row types are skipped: later versions may add some */
        json_decref(row);
        if (bad) {
            fprintf(stderr, "%s: %s:%ld: a %s row without a finite %s\n", CMD, path, lineno, type,
                    use_time ? "elapsed_s" : "epoch and epoch_progress");
            rc = 1;
            break;
        }
        rows++;
    }
    if (!rc && ferror(f)) {
        fprintf(stderr, "%s: %s: cannot read: %s\n", CMD, path, strerror(errno));
        rc = 1;
    }
    if (!rc && rows == 0) {
        fprintf(stderr, "%s: %s: no metrics rows\n", CMD, path);
        rc = 1;
    }
    for (int i = 0; i < n_extra; i++)
        while (!rc && r->extra[i].n < r->ex.n)
            if (col_push(&r->extra[i], NAN))
                rc = 1;
    free(line);
    fclose(f);
    return rc;
}

/* The run's name: the folder that holds the file, or the file's name. */
static void default_label(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (slash && !strcmp(slash + 1, "metrics.jsonl")) {
        const char *start = slash;
        while (start > path && start[-1] != '/')
            start--;
        snprintf(out, n, "%.*s", (int)(slash - start), start);
        if (!*out)
            snprintf(out, n, "/");
    } else {
        snprintf(out, n, "%s", slash ? slash + 1 : path);
    }
}

int cli_plot(int argc, char **argv)
{
    const char *out = "curves.svg", *x_axis = "epoch", *labels = "", *title = "";
    cli_opt tab[] = {
        CLI_STR("out", &out, "FILE", "the SVG file to write", NULL),
        CLI_CHOICE("x", &x_axis, "horizontal axis: epochs (fractional) or seconds of training", "epoch|time"),
        CLI_STR("labels", &labels, "A,B,...", "legend names of the runs, in order (default: each file's folder)", "folder names"),
        CLI_STR("title", &title, "TEXT", "the figure's title", "training curves"),
        CLI_END,
    };
    const char *pos[MAX_RUNS];
    int npos;
    int rc = cli_parse(CMD, "[OPTIONS] METRICS.jsonl...\n\n"
                            "Draws training curves from the metrics files of `recur ... train` runs\n"
                            "(OUT/metrics.jsonl) into one SVG: loss, perplexity or the validation\n"
                            "metrics, gradient norm before clipping, share of steps clipped and the\n"
                            "learning rate, the runs overlaid (at most 16).",
                       tab, argc, argv, pos, MAX_RUNS, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos < 1) {
        fprintf(stderr, "%s: needs at least one metrics file (try %s --help)\n", CMD, CMD);
        return 2;
    }
    const int use_time = !strcmp(x_axis, "time");
    run *runs = calloc((size_t)npos, sizeof *runs);
    if (!runs)
        return 1;
    rc = 0;
    const char *lp = labels;
    for (int i = 0; i < npos && !rc; i++) {
        rc = read_run(pos[i], use_time, &runs[i]);
        const char *comma = *lp ? strchr(lp, ',') : NULL;
        if (*lp) {
            size_t k = comma ? (size_t)(comma - lp) : strlen(lp);
            snprintf(runs[i].label, sizeof runs[i].label, "%.*s", (int)k, lp);
            lp = comma ? comma + 1 : lp + k;
        } else {
            default_label(pos[i], runs[i].label, sizeof runs[i].label);
        }
    }
    /* a metric some runs lack: empty for those */
    for (int i = 0; i < npos && !rc; i++)
        for (int e = 0; e < n_extra && !rc; e++)
            while (!rc && runs[i].extra[e].n < runs[i].ex.n)
                rc = col_push(&runs[i].extra[e], NAN) ? 1 : 0;
    if (rc)
        goto done;
    if (*labels && *lp) {
        fprintf(stderr, "%s: --labels names more runs than the %d files given\n", CMD, npos);
        rc = 2;
        goto done;
    }
    int any_nll = 0;
    const char *unit = runs[0].unit[0] ? runs[0].unit : "unit";
    for (int i = 0; i < npos; i++) {
        any_nll |= runs[i].nll;
        if (strcmp(runs[i].unit[0] ? runs[i].unit : "unit", unit))
            unit = "unit"; /* runs of different tasks */
    }
    /* panels: loss, [ppl], extra metrics, grad norm, clipped, lr */
    enum { MAXP = 5 + MAX_EXTRA };
    chart_panel panels[MAXP];
    chart_series *series = calloc((size_t)npos * 2 * MAXP, sizeof *series);
    char (*ylabels)[96] = calloc(MAXP, sizeof *ylabels);
    chart_legend_entry legend[MAX_RUNS + 2];
    if (!series || !ylabels) {
        fprintf(stderr, "%s: out of memory\n", CMD);
        rc = 1;
        free(series);
        free(ylabels);
        goto done;
    }
    int np = 0, ns = 0;
    const char *xl = use_time ? "training time (s)" : "epoch";
#define PANEL(ttl, ylab, logy_)                                                               \
    do {                                                                                      \
        panels[np] = (chart_panel){.title = (ttl), .xlabel = xl, .ylabel = (ylab), .logy = (logy_), \
                                   .series = series + ns, .n_series = 0};                     \
    } while (0)
#define ADD(xcol, ycol, i, dashed_)                                                          \
    do {                                                                                     \
        series[ns++] = (chart_series){.name = runs[i].label, .x = (xcol).v, .y = (ycol).v,   \
                                      .n = (xcol).n, .color = (i), .dashed = (dashed_),      \
                                      .markers = (dashed_)};                                 \
        panels[np].n_series++;                                                               \
    } while (0)
    /* the loss on a log scale when it spans decades (a diverging run) */
    double lmin = INFINITY, lmax = 0;
    for (int i = 0; i < npos; i++)
        for (int k = 0; k < runs[i].loss.n; k++)
            if (isfinite(runs[i].loss.v[k]) && runs[i].loss.v[k] > 0) {
                lmin = fmin(lmin, runs[i].loss.v[k]);
                lmax = fmax(lmax, runs[i].loss.v[k]);
            }
    const int loss_log = lmax > 1000 * lmin;
    snprintf(ylabels[np], sizeof ylabels[0], "loss (%sper %s%s)", any_nll ? "nats " : "", unit,
             loss_log ? ", log scale" : "");
    PANEL("loss: training (solid), validation (dashed)", ylabels[np], loss_log);
    for (int i = 0; i < npos; i++) {
        ADD(runs[i].lx, runs[i].loss, i, 0);
        ADD(runs[i].ex, runs[i].vloss, i, 1);
    }
    np++;
    if (any_nll) {
        PANEL("perplexity: training (solid), validation (dashed)", "perplexity (log scale)", 1);
        for (int i = 0; i < npos; i++) {
            ADD(runs[i].lx, runs[i].ppl, i, 0);
            ADD(runs[i].ex, runs[i].vppl, i, 1);
        }
        np++;
    }
    for (int e = 0; e < n_extra; e++) {
        snprintf(ylabels[np], sizeof ylabels[0], "validation %s", extra_names[e]);
        PANEL(ylabels[np], ylabels[np], 0);
        for (int i = 0; i < npos; i++)
            ADD(runs[i].ex, runs[i].extra[e], i, 1);
        np++;
    }
    PANEL("gradient norm before clipping", "global L2 norm (log scale)", 1);
    for (int i = 0; i < npos; i++)
        ADD(runs[i].lx, runs[i].grad, i, 0);
    np++;
    PANEL("steps clipped", "share of steps clipped (%)", 0);
    for (int i = 0; i < npos; i++)
        ADD(runs[i].lx, runs[i].clipped, i, 0);
    np++;
    PANEL("learning rate", "learning rate (log scale)", 1);
    for (int i = 0; i < npos; i++)
        ADD(runs[i].lx, runs[i].lr, i, 0);
    np++;
#undef PANEL
#undef ADD
    for (int i = 0; i < npos; i++)
        legend[i] = (chart_legend_entry){.name = runs[i].label, .color = i};
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    int bad = !mem || chart_write_svg(mem, *title ? title : "training curves", panels, np, 2, legend,
                                      npos) != 0;
    if (mem && fclose(mem) != 0)
        bad = 1;
    recur_error err = {0};
    if (bad) {
        fprintf(stderr, "%s: out of memory\n", CMD);
        rc = 1;
    } else if (recur_file_write_atomic(out, buf, len, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        rc = 1;
    } else {
        printf("wrote %s: %d run%s, %d panels\n", out, npos, npos == 1 ? "" : "s", np);
    }
    free(buf);
    free(series);
    free(ylabels);
done:
    for (int i = 0; i < npos; i++)
        run_free(&runs[i]);
    free(runs);
    return rc;
}
