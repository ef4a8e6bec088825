/*
 * gradflow.c - `recur gradflow MODEL... TEXT`: how far back in time the
 * gradient of a language model's loss reaches, measured on stretches of a
 * real text (recur_gradflow_measure): for each model, layer and distance l
 * the norm of dJ(t)/dh(t-l) over many positions (mean, 10th, 50th and 90th
 * percentiles), and for a plain RNN the largest singular value sigma of
 * W_hh and the bound mean(1) * sigma^(l-1) it gives the top layer (tanh'
 * and ReLU' are at most 1).  A CSV of every figure and an SVG with one
 * panel per layer, the models overlaid on a log scale.
 *
 * A MODEL is a language-model file, or a fresh character model over TEXT's
 * characters described as fresh:CELL[:HIDDENxLAYERS][:INIT] (INIT: uniform
 * init scale, 0 for PyTorch's default), e.g. fresh:rnn-tanh:128x1:0.1.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "recur.h"
#include "recur_inspect.h"
#include "svg_chart.h"

int cli_gradflow(int argc, char **argv);

static const char *CMD = "recur gradflow";

#define MAX_MODELS 8

typedef struct gf_model {
    char label[128];
    recur_model_file *file; /* a model file, or NULL */
    recur_model *model;     /* owned by file, or by this struct when fresh */
    recur_vocab *own_vocab; /* a fresh model's */
    const recur_vocab *vocab;
    int layers, lstm, rnn;
    double sigma[RECUR_MAX_LAYERS];
    double *h, *c; /* (layers, D, N) all measurements */
    /* summaries (layers, D): mean, p10, p50, p90; c the same (LSTM) */
    double *sum_h, *sum_c;
} gf_model;

static void model_free(gf_model *g)
{
    if (g->file)
        recur_model_file_close(g->file);
    else
        recur_model_free(g->model);
    recur_vocab_free(g->own_vocab);
    free(g->h);
    free(g->c);
    free(g->sum_h);
    free(g->sum_c);
}

static int parse_cell(const char *s, recur_cell *cell)
{
    if (!strcmp(s, "lstm"))
        *cell = RECUR_CELL_LSTM;
    else if (!strcmp(s, "gru"))
        *cell = RECUR_CELL_GRU;
    else if (!strcmp(s, "rnn-tanh") || !strcmp(s, "rnn"))
        *cell = RECUR_CELL_RNN_TANH;
    else if (!strcmp(s, "rnn-relu"))
        *cell = RECUR_CELL_RNN_RELU;
    else
        return -1;
    return 0;
}

/* fresh:CELL[:HxL][:INIT] over the characters of text. */
static int fresh_model(const char *spec, const char *text, size_t len, const char *text_name,
                       uint64_t seed, gf_model *g)
{
    char cellname[32] = "";
    long hidden = 128, layers = 1;
    double init = 0.1;
    const char *p = spec + 6;
    size_t k = strcspn(p, ":");
    if (k == 0 || k >= sizeof cellname)
        goto bad;
    memcpy(cellname, p, k);
    p += k;
    recur_cell cell;
    if (parse_cell(cellname, &cell))
        goto bad;
    if (*p == ':') {
        char *end;
        hidden = strtol(p + 1, &end, 10);
        if (*end != 'x' || hidden < 1 || hidden > 8192)
            goto bad;
        layers = strtol(end + 1, &end, 10);
        if (layers < 1 || layers > RECUR_MAX_LAYERS || (*end && *end != ':'))
            goto bad;
        p = end;
    }
    if (*p == ':') {
        char *end;
        init = strtod(p + 1, &end);
        if (*end || !(init >= 0) || init > 100)
            goto bad;
    } else if (*p) {
        goto bad;
    }
    recur_error err = {0};
    if (recur_vocab_create(&g->own_vocab, RECUR_LEVEL_CHAR, &err) != RECUR_OK ||
        recur_vocab_count_text(g->own_vocab, text, len, text_name, &err) != RECUR_OK ||
        recur_vocab_finish(g->own_vocab, 0, 1, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        return 1;
    }
    g->vocab = g->own_vocab;
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.vocab_size = cfg.output_size = recur_vocab_size(g->vocab);
    cfg.embed_size = (int)hidden;
    cfg.rnn.cell = cell;
    cfg.rnn.hidden_size = (int)hidden;
    cfg.rnn.num_layers = (int)layers;
    if (recur_model_create(&g->model, &cfg, seed, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s: %s\n", CMD, spec, err.msg);
        return 1;
    }
    if ((init > 0 ? recur_model_init_uniform(g->model, init) : recur_model_init_default(g->model)) !=
        RECUR_OK) {
        fprintf(stderr, "%s: %s: %s\n", CMD, spec, recur_model_errmsg(g->model));
        return 1;
    }
    snprintf(g->label, sizeof g->label, "fresh %s %ldx%ld init %g", cellname, hidden, layers, init);
    return 0;
bad:
    fprintf(stderr, "%s: '%s': a fresh model is fresh:CELL[:HIDDENxLAYERS][:INIT] with CELL one of "
                    "lstm|gru|rnn-tanh|rnn-relu (e.g. fresh:rnn-tanh:128x1:0.1)\n",
            CMD, spec);
    return 2;
}

static int file_model(const char *path, gf_model *g)
{
    recur_error err = {0};
    if (recur_model_file_open(&g->file, path, "lm", &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        return 1;
    }
    g->model = recur_model_file_model(g->file);
    g->vocab = recur_model_file_vocab(g->file);
    const char *slash = strrchr(path, '/');
    snprintf(g->label, sizeof g->label, "%s", path);
    /* run/best.safetensors -> run */
    if (slash && slash != path) {
        const char *start = slash;
        while (start > path && start[-1] != '/')
            start--;
        snprintf(g->label, sizeof g->label, "%.*s", (int)(slash - start), start);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* mean and the 10th, 50th, 90th percentiles (nearest rank) of v[0..n). */
static void summarise(double *v, int n, double out[4])
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    out[0] = s / n;
    out[1] = v[(int)(0.1 * (n - 1) + 0.5)];
    out[2] = v[(int)(0.5 * (n - 1) + 0.5)];
    out[3] = v[(int)(0.9 * (n - 1) + 0.5)];
}

static int measure(gf_model *g, const char *text, size_t len, const char *text_name, int D, int warm,
                   int B, int windows, uint64_t seed)
{
    recur_error err = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    if (recur_corpus_encode(g->vocab, text, len, text_name, 0, &ids, &n, NULL, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        return 1;
    }
    const recur_model_config *mc = recur_model_get_config(g->model);
    g->layers = mc->rnn.num_layers;
    g->lstm = mc->rnn.cell == RECUR_CELL_LSTM;
    g->rnn = mc->rnn.cell == RECUR_CELL_RNN_TANH || mc->rnn.cell == RECUR_CELL_RNN_RELU;
    const int T = D + warm;
    const int N = B * windows;
    if (n < (size_t)T + 2) {
        fprintf(stderr, "%s: %s: %zu tokens, fewer than the %d a stretch needs (--distance + --warmup + 1)\n",
                CMD, text_name, n, T + 1);
        free(ids);
        return 1;
    }
    const size_t per = (size_t)g->layers * (size_t)D;
    g->h = malloc(per * (size_t)N * sizeof *g->h);
    g->c = g->lstm ? malloc(per * (size_t)N * sizeof *g->c) : NULL;
    g->sum_h = malloc(per * 4 * sizeof *g->sum_h);
    g->sum_c = g->lstm ? malloc(per * 4 * sizeof *g->sum_c) : NULL;
    int32_t *tok = malloc((size_t)T * (size_t)B * sizeof *tok), *tgt = malloc((size_t)T * (size_t)B * sizeof *tgt);
    double *hb = malloc(per * (size_t)B * sizeof *hb), *cb = malloc(per * (size_t)B * sizeof *cb);
    double *tmp = malloc((size_t)N * sizeof *tmp);
    int rc = 0;
    if (!g->h || (g->lstm && (!g->c || !g->sum_c)) || !g->sum_h || !tok || !tgt || !hb || !cb || !tmp) {
        fprintf(stderr, "%s: out of memory\n", CMD);
        rc = 1;
        goto done;
    }
    uint64_t state = seed * 2654435761u + 1;
    for (int w = 0; w < windows && !rc; w++) {
        for (int b = 0; b < B; b++) {
            /* a stretch starting anywhere in the text (the same for every model of one call) */
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t start = (size_t)((state >> 11) % (uint64_t)(n - (size_t)T - 1));
            for (int t = 0; t < T; t++) {
                tok[(size_t)t * B + b] = ids[start + (size_t)t];
                tgt[(size_t)t * B + b] = ids[start + (size_t)t + 1];
            }
        }
        recur_batch bt = {.T = T, .B = B, .tokens = tok, .targets = tgt};
        if (recur_gradflow_measure(g->model, &bt, D, hb, g->lstm ? cb : NULL, &err) != RECUR_OK) {
            fprintf(stderr, "%s: %s: %s\n", CMD, g->label, err.msg);
            rc = 1;
            break;
        }
        for (size_t i = 0; i < per; i++)
            for (int b = 0; b < B; b++) {
                g->h[i * (size_t)N + (size_t)w * B + b] = hb[i * (size_t)B + b];
                if (g->lstm)
                    g->c[i * (size_t)N + (size_t)w * B + b] = cb[i * (size_t)B + b];
            }
    }
    for (size_t i = 0; i < per && !rc; i++) {
        memcpy(tmp, g->h + i * (size_t)N, (size_t)N * sizeof *tmp);
        summarise(tmp, N, g->sum_h + 4 * i);
        if (g->lstm) {
            memcpy(tmp, g->c + i * (size_t)N, (size_t)N * sizeof *tmp);
            summarise(tmp, N, g->sum_c + 4 * i);
        }
    }
    for (int k = 0; k < g->layers && g->rnn && !rc; k++)
        if (recur_gradflow_spectral_norm(g->model, k, &g->sigma[k], &err) != RECUR_OK) {
            fprintf(stderr, "%s: %s\n", CMD, err.msg);
            rc = 1;
        }
done:
    free(ids);
    free(tok);
    free(tgt);
    free(hb);
    free(cb);
    free(tmp);
    return rc;
}

/* The bound of the top layer of a plain RNN: mean(1) * sigma^(l-1). */
static double bound_at(const gf_model *g, int D, int l)
{
    int k = g->layers - 1;
    return g->sum_h[4 * ((size_t)k * D + 0)] * pow(g->sigma[k], l - 1);
}

static int write_csv(const char *path, gf_model *gs, int ng, int D)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return fprintf(stderr, "%s: out of memory\n", CMD), 1;
    fprintf(f, "model,layer,state,distance,mean,p10,median,p90\n");
    for (int m = 0; m < ng; m++) {
        gf_model *g = &gs[m];
        for (int k = 0; k < g->layers; k++)
            for (int which = 0; which < (g->lstm ? 2 : 1); which++)
                for (int l = 1; l <= D; l++) {
                    const double *s = (which ? g->sum_c : g->sum_h) + 4 * ((size_t)k * D + l - 1);
                    fprintf(f, "\"%s\",%d,%s,%d,%.6g,%.6g,%.6g,%.6g\n", g->label, k, which ? "c" : "h", l,
                            s[0], s[1], s[2], s[3]);
                }
        if (g->rnn)
            for (int l = 1; l <= D; l++)
                fprintf(f, "\"%s\",%d,bound,%d,%.6g,,,\n", g->label, g->layers - 1, l, bound_at(g, D, l));
    }
    int bad = fclose(f) != 0;
    recur_error err = {0};
    if (!bad && recur_file_write_atomic(path, buf, len, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        bad = 1;
    }
    free(buf);
    return bad;
}

static int write_svg(const char *path, gf_model *gs, int ng, int D, const char *text_name, int N)
{
    int layers = 0;
    for (int m = 0; m < ng; m++)
        layers = gs[m].layers > layers ? gs[m].layers : layers;
    double *x = malloc((size_t)D * sizeof *x);
    /* per model: mean, lo, hi per layer, and the bound */
    double *cols = malloc((size_t)ng * (size_t)layers * 3 * (size_t)D * sizeof *cols);
    double *bounds = malloc((size_t)ng * (size_t)D * sizeof *bounds);
    chart_series *series = calloc((size_t)ng * (size_t)layers * 2, sizeof *series);
    chart_panel *panels = calloc((size_t)layers, sizeof *panels);
    char (*titles)[64] = calloc((size_t)layers, sizeof *titles);
    chart_legend_entry legend[2 * MAX_MODELS];
    char (*bound_names)[160] = calloc(MAX_MODELS, sizeof *bound_names);
    int rc = 0;
    if (!x || !cols || !bounds || !series || !panels || !titles || !bound_names) {
        fprintf(stderr, "%s: out of memory\n", CMD);
        rc = 1;
        goto done;
    }
    for (int l = 1; l <= D; l++)
        x[l - 1] = l;
    int ns = 0, nl = 0;
    for (int k = 0; k < layers; k++) {
        snprintf(titles[k], sizeof titles[k], "layer %d", k);
        panels[k] = (chart_panel){.title = titles[k], .xlabel = "distance l (steps back from t)",
                                  .ylabel = "||dJ(t)/dh(t-l)|| (log scale)", .logy = 1,
                                  .series = series + ns};
        for (int m = 0; m < ng; m++) {
            gf_model *g = &gs[m];
            if (k >= g->layers)
                continue;
            double *mean = cols + (((size_t)m * layers + k) * 3) * (size_t)D, *lo = mean + D, *hi = lo + D;
            for (int l = 0; l < D; l++) {
                const double *s = g->sum_h + 4 * ((size_t)k * D + l);
                mean[l] = s[0];
                lo[l] = s[1];
                hi[l] = s[3];
            }
            series[ns++] = (chart_series){.name = g->label, .x = x, .y = mean, .lo = lo, .hi = hi, .n = D,
                                          .color = m};
            panels[k].n_series++;
            if (g->rnn && k == g->layers - 1) {
                double *bd = bounds + (size_t)m * D;
                for (int l = 1; l <= D; l++)
                    bd[l - 1] = bound_at(g, D, l);
                snprintf(bound_names[m], sizeof bound_names[m], "%.100s: bound mean(1) sigma^(l-1), sigma %.3f",
                         g->label, g->sigma[k]);
                series[ns++] = (chart_series){.name = bound_names[m], .x = x, .y = bd, .n = D, .color = m,
                                              .dashed = 1, .reference = 1};
                panels[k].n_series++;
            }
        }
    }
    for (int m = 0; m < ng; m++) {
        legend[nl++] = (chart_legend_entry){.name = gs[m].label, .color = m};
        if (gs[m].rnn)
            legend[nl++] = (chart_legend_entry){.name = bound_names[m], .color = m, .dashed = 1};
    }
    char title[512];
    const char *base = strrchr(text_name, '/');
    snprintf(title, sizeof title, "||dJ(t)/dh(t-l)|| on %.200s: mean, 10-90%% band, %d stretches", base ? base + 1 : text_name, N);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int bad = !f || chart_write_svg(f, title, panels, layers, layers > 1 ? 2 : 1, legend, nl) != 0;
    if (f && fclose(f) != 0)
        bad = 1;
    recur_error err = {0};
    if (bad) {
        fprintf(stderr, "%s: out of memory\n", CMD);
        rc = 1;
    } else if (recur_file_write_atomic(path, buf, len, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        rc = 1;
    }
    free(buf);
done:
    free(x);
    free(cols);
    free(bounds);
    free(series);
    free(panels);
    free(titles);
    free(bound_names);
    return rc;
}

int cli_gradflow(int argc, char **argv)
{
    long long D = 100, warm = 50, B = 16, windows = 2, seed = 1, threads = 0;
    const char *out = "gradflow";
    cli_opt tab[] = {
        CLI_INT("distance", &D, "L", "largest distance l measured", 1, 100000),
        CLI_INT("warmup", &warm, "N", "steps each stretch runs before the distances start (context for the states)", 0, 100000),
        CLI_INT("batch", &B, "B", "stretches measured side by side", 1, 4096),
        CLI_INT("windows", &windows, "N", "batches of stretches (positions: batch x windows)", 1, 100000),
        CLI_INT("seed", &seed, "N", "where the stretches start, and fresh models' initialisation", 0, 1e15),
        CLI_INT("threads", &threads, "N", "threads (0: OpenBLAS's count)", 0, RECUR_MAX_THREADS),
        CLI_STR("out", &out, "PREFIX", "writes PREFIX.csv and PREFIX.svg", NULL),
        CLI_END,
    };
    const char *pos[MAX_MODELS + 1];
    int npos;
    int rc = cli_parse(CMD, "[OPTIONS] MODEL... TEXT\n\n"
                            "Measures, on stretches of TEXT, the norm of the gradient of the loss at a\n"
                            "step t with respect to each layer's state l steps earlier, for l = 1..L:\n"
                            "the mean and the 10th-90th percentile band over the stretches, and for a\n"
                            "plain RNN the largest singular value sigma of W_hh with the bound\n"
                            "mean(1) sigma^(l-1) it gives the top layer.  A MODEL is a language-model\n"
                            "file or fresh:CELL[:HIDDENxLAYERS][:INIT], a new character model over\n"
                            "TEXT (CELL lstm|gru|rnn-tanh|rnn-relu; INIT the uniform init scale, 0:\n"
                            "PyTorch's default; defaults 128x1, 0.1).  At most 8 models.",
                       tab, argc, argv, pos, MAX_MODELS + 1, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos < 2) {
        fprintf(stderr, "%s: needs at least one model and a text (try %s --help)\n", CMD, CMD);
        return 2;
    }
    recur_set_num_threads((int)threads);
    const char *text_name = pos[npos - 1];
    char *text = NULL;
    size_t len = 0;
    recur_error err = {0};
    if (recur_text_read(text_name, &text, &len, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        return 1;
    }
    const int ng = npos - 1;
    gf_model gs[MAX_MODELS];
    memset(gs, 0, sizeof gs);
    for (int m = 0; m < ng && !rc; m++)
        rc = !strncmp(pos[m], "fresh:", 6)
                 ? fresh_model(pos[m], text, len, text_name, (uint64_t)seed, &gs[m])
                 : file_model(pos[m], &gs[m]);
    for (int m = 0; m < ng && !rc; m++) {
        rc = measure(&gs[m], text, len, text_name, (int)D, (int)warm, (int)B, (int)windows, (uint64_t)seed);
        if (rc)
            break;
        gf_model *g = &gs[m];
        printf("%s:", g->label);
        for (int k = 0; k < g->layers; k++) {
            printf(" layer %d mean at l=1 %.3g", k, g->sum_h[4 * ((size_t)k * D)]);
            int marks[] = {10, 50, 100, 200, 500};
            for (int i = 0; i < 5; i++)
                if (marks[i] <= D)
                    printf(", l=%d %.3g", marks[i], g->sum_h[4 * ((size_t)k * D + marks[i] - 1)]);
            if (g->rnn)
                printf(" (sigma(W_hh) %.4f)", g->sigma[k]);
            printf(";");
        }
        printf("\n");
    }
    char path[4200];
    if (!rc) {
        snprintf(path, sizeof path, "%s.csv", out);
        rc = write_csv(path, gs, ng, (int)D);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s.svg", out);
        rc = write_svg(path, gs, ng, (int)D, text_name, (int)(B * windows));
    }
    if (!rc)
        printf("wrote %s.csv and %s.svg\n", out, out);
    for (int m = 0; m < ng; m++)
        model_free(&gs[m]);
    free(text);
    return rc;
}
