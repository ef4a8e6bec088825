/*
 * lm_cells.c - `recur lm cells MODEL TEXT`: what single LSTM cells of a
 * character model track, on the user's own model and text (Karpathy et al.
 * 2015, "Visualizing and understanding recurrent networks").  The model
 * reads a stretch of TEXT one character at a time (recur_stepper); for
 * every layer and unit it records the cell state c, the output h and the
 * input, forget and output gates (recomputed here from the layer's weights,
 * its input and previous output, which the stepper does not expose).  The
 * page is one self-contained HTML file (inline CSS and JS, no network): the
 * text with each character coloured by the chosen unit's value, a picker
 * over layers, quantities and units (also set by the URL fragment
 * #layer=L&cell=U&q=c), and the units most correlated (Pearson) with simple
 * properties of the text: position in the line, inside double quotes,
 * inside brackets, bracket depth, position in the word.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lm.h"
#include "recur_inspect.h"

int lm_cmd_cells(int argc, char **argv);

static const char *CMD = "recur lm cells";

enum { Q_C = 0, Q_H, Q_I, Q_F, Q_O, NQ };
static const char *const Q_NAMES[NQ] = {"c", "h", "i", "f", "o"};
static const char *const Q_LONG[NQ] = {"cell state c", "output h", "input gate i", "forget gate f", "output gate o"};

enum { P_LINE = 0, P_QUOTE, P_BRACKET, P_DEPTH, P_WORD, NP };
static const char *const P_NAMES[NP] = {"position in line", "inside double quotes", "inside brackets",
                                        "bracket depth", "position in word"};
#define TOP_N 5

typedef struct cells_data {
    int L, H, N;   /* layers, units, characters read */
    float *v;      /* ((q * L + k) * H + j) * N + t */
} cells_data;

static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

/* The properties of character t of cps[0..n), after reading it. */
static void text_properties(const uint32_t *cps, int n, double *out /* NP x n */)
{
    int col = 0, quote = 0, depth = 0, word = 0;
    for (int t = 0; t < n; t++) {
        uint32_t ch = cps[t];
        if (ch == '"')
            quote = !quote;
        if (ch == '(' || ch == '[' || ch == '{')
            depth++;
        else if ((ch == ')' || ch == ']' || ch == '}') && depth > 0)
            depth--;
        int letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80 || ch == '\'';
        word = letter ? word + 1 : 0;
        out[P_LINE * n + t] = col;
        out[P_QUOTE * n + t] = quote;
        out[P_BRACKET * n + t] = depth > 0;
        out[P_DEPTH * n + t] = depth;
        out[P_WORD * n + t] = word;
        col = ch == '\n' ? 0 : col + 1;
    }
}

static double pearson(const float *x, const double *y, int n)
{
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        double a = x[i] - mx, b = y[i] - my;
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if (sxx <= 0 || syy <= 0)
        return NAN;
    return sxy / sqrt(sxx * syy);
}

typedef struct top_cell {
    int q, k, j;
    double r;
} top_cell;

/* Runs the model over the code points, filling d->v. */
static int record(recur_model *m, const recur_vocab *vocab, const uint32_t *cps, int n, cells_data *d,
                  int *have_gates)
{
    const recur_model_config *mc = recur_model_get_config(m);
    const int L = mc->rnn.num_layers, H = mc->rnn.hidden_size, E = mc->embed_size;
    recur_error err = {0};
    recur_stepper *s;
    if (recur_stepper_create(&s, m, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        return 1;
    }
    /* gates from the weights: a plain stack only (no projection, no residual) */
    *have_gates = !mc->rnn.residual && mc->rnn.proj_size == 0;
    recur_tensor_info emb, wih[RECUR_MAX_LAYERS], whh[RECUR_MAX_LAYERS], bih[RECUR_MAX_LAYERS],
        bhh[RECUR_MAX_LAYERS];
    if (recur_model_find_tensor(m, "embedding.weight", &emb) != RECUR_OK)
        *have_gates = 0;
    for (int k = 0; k < L && *have_gates; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "rnn.weight_ih_l%d", k);
        int ok = recur_model_find_tensor(m, nm, &wih[k]) == RECUR_OK;
        snprintf(nm, sizeof nm, "rnn.weight_hh_l%d", k);
        ok = ok && recur_model_find_tensor(m, nm, &whh[k]) == RECUR_OK;
        snprintf(nm, sizeof nm, "rnn.bias_ih_l%d", k);
        ok = ok && recur_model_find_tensor(m, nm, &bih[k]) == RECUR_OK;
        snprintf(nm, sizeof nm, "rnn.bias_hh_l%d", k);
        ok = ok && recur_model_find_tensor(m, nm, &bhh[k]) == RECUR_OK;
        *have_gates = ok;
    }
    double *prev_h = calloc((size_t)L * H, sizeof *prev_h), *pre = malloc(4 * (size_t)H * sizeof *pre);
    double *prev_c = calloc((size_t)L * H, sizeof *prev_c);
    double worst = 0; /* |f c(t-1) + i g - c(t)|: the gates must rebuild the stepper's cell state */
    if (!prev_h || !pre || !prev_c) {
        free(prev_c);
        free(prev_h);
        free(pre);
        recur_stepper_free(s);
        fprintf(stderr, "%s: out of memory\n", CMD);
        return 1;
    }
    const int32_t unk = recur_vocab_unk(vocab);
    int rc = 0;
    for (int t = 0; t < n && !rc; t++) {
        char buf[4];
        int len = recur_utf8_encode(cps[t], buf);
        int32_t id = recur_vocab_find(vocab, buf, (size_t)len);
        if (id < 0)
            id = unk;
        if (id < 0) {
            fprintf(stderr, "%s: the text has a character outside the model's vocabulary (U+%04X) and the "
                            "vocabulary has no <unk>\n", CMD, (unsigned)cps[t]);
            rc = 1;
            break;
        }
        if (recur_stepper_feed(s, id) != RECUR_OK) {
            fprintf(stderr, "%s: %s\n", CMD, recur_stepper_errmsg(s));
            rc = 1;
            break;
        }
        const recur_real *h = recur_stepper_h(s), *c = recur_stepper_c(s);
        for (int k = 0; k < L; k++) {
            if (*have_gates) {
                /* i, f, g, o pre-activations: W_ih x + b_ih + W_hh h(t-1) + b_hh */
                const int in = k == 0 ? E : H;
                for (int r = 0; r < 4 * H; r++) {
                    double z = (double)bih[k].data[r] + (double)bhh[k].data[r];
                    const recur_real *wi = wih[k].data + (size_t)r * in, *wh = whh[k].data + (size_t)r * H;
                    for (int q = 0; q < in; q++)
                        z += (double)wi[q] * (k == 0 ? (double)emb.data[(size_t)id * E + q] : (double)h[(size_t)(k - 1) * H + q]);
                    for (int q = 0; q < H; q++)
                        z += (double)wh[q] * prev_h[(size_t)k * H + q];
                    pre[r] = z;
                }
            }
            for (int j = 0; j < H; j++) {
                size_t base = (size_t)k * H + j;
                d->v[((size_t)Q_C * L * H + base) * n + t] = (float)c[base];
                d->v[((size_t)Q_H * L * H + base) * n + t] = (float)h[base];
                if (*have_gates) {
                    double rebuilt = sigmoid(pre[H + j]) * prev_c[base] + sigmoid(pre[j]) * tanh(pre[2 * H + j]);
                    worst = fmax(worst, fabs(rebuilt - (double)c[base]) / (1 + fabs((double)c[base])));
                    d->v[((size_t)Q_I * L * H + base) * n + t] = (float)sigmoid(pre[j]);
                    d->v[((size_t)Q_F * L * H + base) * n + t] = (float)sigmoid(pre[H + j]);
                    d->v[((size_t)Q_O * L * H + base) * n + t] = (float)sigmoid(pre[3 * H + j]);
                }
            }
        }
        for (size_t i = 0; i < (size_t)L * H; i++) {
            prev_h[i] = h[i];
            prev_c[i] = c[i];
        }
    }
    if (!rc && *have_gates && worst > 1e-4) {
        fprintf(stderr, "%s: the gates recomputed from the weights do not rebuild the cell state "
                        "(relative difference %.3g)\n", CMD, worst);
        rc = 1;
    }
    free(prev_c);
    free(prev_h);
    free(pre);
    recur_stepper_free(s);
    return rc;
}

/* The shown characters' values of every (q, k, j) as int8 of value/scale. */
static char *quantised_base64(const cells_data *d, int nq, int shown, json_t *scales)
{
    const size_t units = (size_t)nq * d->L * d->H;
    unsigned char *q = malloc(units * (size_t)shown);
    if (!q)
        return NULL;
    for (size_t u = 0; u < units; u++) {
        const float *x = d->v + u * (size_t)d->N;
        double mx = 0;
        for (int t = 0; t < shown; t++)
            mx = fmax(mx, fabs(x[t]));
        json_array_append_new(scales, json_real(mx > 0 ? mx : 1));
        for (int t = 0; t < shown; t++)
            q[u * shown + t] = (unsigned char)(signed char)lround(mx > 0 ? 127 * x[t] / mx : 0);
    }
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = units * (size_t)shown, outn = 4 * ((n + 2) / 3);
    char *out = malloc(outn + 1);
    if (out) {
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
            unsigned v = (unsigned)q[i] << 16 | (i + 1 < n ? (unsigned)q[i + 1] << 8 : 0) | (i + 2 < n ? q[i + 2] : 0);
            out[o++] = tab[(v >> 18) & 63];
            out[o++] = tab[(v >> 12) & 63];
            out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
            out[o++] = i + 2 < n ? tab[v & 63] : '=';
        }
        out[o] = '\0';
    }
    free(q);
    return out;
}

static const char PAGE_HEAD[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>recur lm cells</title>\n<style>\n"
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:16px;background:#fafafa;color:#222}\n"
    "h1{font-size:18px;margin:0 0 6px}\n#controls{margin:8px 0;padding:8px;background:#fff;border:1px solid #ccc}\n"
    "#controls label{margin-right:14px}\n#text{font-family:'DejaVu Sans Mono',monospace;font-size:14px;line-height:1.5;"
    "white-space:pre-wrap;background:#fff;border:1px solid #ccc;padding:10px;flex:1 1 auto;min-width:300px;max-width:1000px;margin:0}\n"
    "#text span{border-radius:2px}\n#main{display:flex;gap:16px;align-items:flex-start}\n#top{border-collapse:collapse;font-size:13px;flex:none}\n"
    "#top td,#top th{border:1px solid #ccc;padding:2px 8px;text-align:left}\n#top tr.pick{cursor:pointer}\n"
    "#top tr.pick:hover{background:#eef}\n#top tr.current{background:#dde8ff}\n.scale{display:inline-block;width:160px;height:12px;"
    "vertical-align:middle;background:linear-gradient(to right,rgb(33,102,172),#fff,rgb(178,24,43))}\n"
    "</style></head><body>\n<h1 id=\"title\"></h1>\n<div id=\"controls\">\n"
    "<label>layer <select id=\"layer\"></select></label>\n<label>quantity <select id=\"quantity\"></select></label>\n"
    "<label>cell <input id=\"unit\" type=\"number\" min=\"0\" value=\"0\" style=\"width:5em\"></label>\n"
    "<input id=\"slider\" type=\"range\" min=\"0\" value=\"0\" style=\"width:240px;vertical-align:middle\">\n"
    "<span id=\"info\"></span> <span class=\"scale\"></span> <span id=\"range\"></span>\n</div>\n"
    "<div id=\"main\"><div id=\"text\"></div><table id=\"top\"></table></div>\n"
    "<script id=\"data\" type=\"application/json\">";

static const char PAGE_TAIL[] =
    "</script>\n<script>\n"
    "'use strict';\n"
    "const D = JSON.parse(document.getElementById('data').textContent);\n"
    "const raw = atob(D.values); const V = new Int8Array(raw.length);\n"
    "for (let i = 0; i < raw.length; i++) V[i] = raw.charCodeAt(i) << 24 >> 24;\n"
    "const chars = Array.from(D.text); const N = chars.length;\n"
    "const textEl = document.getElementById('text'); const spans = [];\n"
    "for (const ch of chars) { const s = document.createElement('span'); s.textContent = ch; textEl.appendChild(s); spans.push(s); }\n"
    "const layerEl = document.getElementById('layer'), qEl = document.getElementById('quantity');\n"
    "const unitEl = document.getElementById('unit'), slider = document.getElementById('slider');\n"
    "for (let k = 0; k < D.layers; k++) layerEl.add(new Option(String(k), String(k)));\n"
    "D.quantities.forEach((q, i) => qEl.add(new Option(D.quantity_names[i], q)));\n"
    "unitEl.max = slider.max = String(D.units - 1);\n"
    "document.getElementById('title').textContent = D.title;\n"
    "function colour(v, gate) {\n"
    "  /* diverging blue-white-red for c and h (value / the unit's largest |value|), white-green for gates in [0, 1] */\n"
    "  if (gate) { const a = Math.max(0, Math.min(1, v)); return `rgb(${Math.round(255 - 200 * a)},${Math.round(255 - 80 * a)},${Math.round(255 - 200 * a)})`; }\n"
    "  const a = Math.max(-1, Math.min(1, v));\n"
    "  if (a >= 0) return `rgb(${Math.round(255 - 77 * a)},${Math.round(255 - 231 * a)},${Math.round(255 - 212 * a)})`;\n"
    "  return `rgb(${Math.round(255 + 222 * a)},${Math.round(255 + 153 * a)},${Math.round(255 + 83 * a)})`;\n"
    "}\n"
    "function show() {\n"
    "  const k = +layerEl.value, q = D.quantities.indexOf(qEl.value), j = Math.max(0, Math.min(D.units - 1, +unitEl.value | 0));\n"
    "  unitEl.value = slider.value = String(j);\n"
    "  const u = (q * D.layers + k) * D.units + j, scale = D.scales[u], gate = qEl.value.length === 1 && 'ifo'.includes(qEl.value);\n"
    "  for (let t = 0; t < N; t++) {\n"
    "    const v = V[u * N + t] / 127 * scale;\n"
    "    spans[t].style.backgroundColor = colour(gate ? v : v / scale, gate);\n"
    "    spans[t].title = `${D.quantity_names[q]} = ${v.toFixed(3)}`;\n"
    "  }\n"
    "  document.getElementById('info').textContent = `layer ${k}, cell ${j}, ${D.quantity_names[q]}`;\n"
    "  document.querySelector('.scale').style.background = gate ? 'linear-gradient(to right,#fff,rgb(55,175,55))' : 'linear-gradient(to right,rgb(33,102,172),#fff,rgb(178,24,43))';\n"
    "  document.getElementById('range').textContent = gate ? '0 .. 1' : `-${scale.toFixed(2)} .. +${scale.toFixed(2)}`;\n"
    "  for (const tr of document.querySelectorAll('#top tr.pick')) tr.classList.toggle('current', +tr.dataset.layer === k && +tr.dataset.unit === j && tr.dataset.q === qEl.value);\n"
    "  const frag = `layer=${k}&cell=${j}&q=${qEl.value}`;\n"
    "  if (location.hash.slice(1) !== frag) history.replaceState(null, '', '#' + frag);\n"
    "}\n"
    "function pick(k, j, q) { layerEl.value = String(k); unitEl.value = String(j); if (D.quantities.includes(q)) qEl.value = q; show(); }\n"
    "const topTable = document.getElementById('top');\n"
    "topTable.innerHTML = '<tr><th>property of the text</th><th>layer</th><th>cell</th><th>quantity</th><th>correlation r</th></tr>';\n"
    "for (const p of D.top) {\n"
    "  if (!p.cells.length) { const tr = topTable.insertRow(); tr.innerHTML = `<td>${p.property}</td><td colspan=4>not in this text</td>`; continue; }\n"
    "  p.cells.forEach((c, i) => { const tr = topTable.insertRow(); tr.className = 'pick'; tr.dataset.layer = c.layer; tr.dataset.unit = c.cell; tr.dataset.q = c.q;\n"
    "    tr.innerHTML = `<td>${i ? '' : p.property}</td><td>${c.layer}</td><td>${c.cell}</td><td>${c.q}</td><td>${c.r.toFixed(3)}</td>`;\n"
    "    tr.onclick = () => pick(c.layer, c.cell, c.q); });\n"
    "}\n"
    "function fromHash() {\n"
    "  const h = new URLSearchParams(location.hash.slice(1));\n"
    "  const best = D.top.find(p => p.cells.length);\n"
    "  const dflt = best ? best.cells[0] : {layer: 0, cell: 0, q: 'c'};\n"
    "  pick(h.has('layer') ? +h.get('layer') : dflt.layer, h.has('cell') ? +h.get('cell') : dflt.cell, h.get('q') || dflt.q);\n"
    "}\n"
    "layerEl.onchange = qEl.onchange = show; unitEl.oninput = show;\n"
    "slider.oninput = () => { unitEl.value = slider.value; show(); };\n"
    "window.addEventListener('hashchange', fromHash);\n"
    "fromHash();\n"
    "</script>\n</body></html>\n";

/* Writes text into the page's JSON script safely: "</" cannot end it early. */
static void json_for_script(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (s[0] == '<' && s[1] == '/')
            fputs("<\\", f);
        else
            fputc(*s, f);
    }
}

int lm_cmd_cells(int argc, char **argv)
{
    long long start = 0, analyse = 5000, shown = 1500;
    const char *out = "cells.html";
    cli_opt tab[] = {
        CLI_INT("start", &start, "N", "first character of TEXT read", 0, 1e15),
        CLI_INT("analyse", &analyse, "N", "characters read for the correlations (the page shows the first --chars)", 1, 10000000),
        CLI_INT("chars", &shown, "N", "characters shown on the page", 1, 100000),
        CLI_STR("out", &out, "FILE", "the HTML page to write", NULL),
        CLI_END,
    };
    const char *pos[2];
    int npos;
    int rc = cli_parse(CMD, "[OPTIONS] MODEL TEXT\n\n"
                            "Writes a self-contained HTML page that shows a stretch of TEXT with each\n"
                            "character coloured by one LSTM unit's cell state, output or gate after\n"
                            "reading it, a picker over layers and units (or the fragment\n"
                            "#layer=L&cell=U&q=c|h|i|f|o), and the units most correlated with the\n"
                            "position in the line, being inside quotes or brackets, the bracket depth\n"
                            "and the position in the word.  MODEL: a character-level LSTM model file.",
                       tab, argc, argv, pos, 2, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (npos != 2) {
        fprintf(stderr, "%s: needs a model file and a text (try %s --help)\n", CMD, CMD);
        return 2;
    }
    lm_file lf;
    if (lm_file_load(pos[0], &lf))
        return 1;
    const recur_model_config *mc = recur_model_get_config(lf.model);
    if (lf.level != RECUR_LEVEL_CHAR || mc->rnn.cell != RECUR_CELL_LSTM) {
        fprintf(stderr, "%s: %s: needs a character-level LSTM model (this one is %s-level, %s)\n", CMD, pos[0],
                recur_lm_level_name(lf.level),
                mc->rnn.cell == RECUR_CELL_GRU ? "GRU" : mc->rnn.cell == RECUR_CELL_LSTM ? "LSTM" : "plain RNN");
        lm_file_close(&lf);
        return 1;
    }
    char *text = NULL;
    size_t len = 0;
    recur_error err = {0};
    if (recur_text_read(pos[1], &text, &len, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        lm_file_close(&lf);
        return 1;
    }
    /* the code points from --start */
    uint32_t *cps = malloc((size_t)(analyse > (long long)len ? (long long)len : analyse) * sizeof *cps + 4);
    int n = 0;
    size_t p = 0;
    long long skipped = 0;
    uint32_t cp;
    while (cps && p < len && n < analyse && recur_utf8_decode(text, len, &p, &cp))
        if (skipped++ >= start)
            cps[n++] = cp;
    rc = 1;
    cells_data d = {0};
    json_t *j = NULL;
    char *b64 = NULL, *html = NULL, *dump = NULL;
    double *props = NULL;
    if (!cps) {
        fprintf(stderr, "%s: out of memory\n", CMD);
        goto done;
    }
    if (n < 2) {
        fprintf(stderr, "%s: %s: fewer than 2 characters from --start %lld\n", CMD, pos[1], start);
        goto done;
    }
    if (shown > n)
        shown = n;
    d.L = mc->rnn.num_layers;
    d.H = mc->rnn.hidden_size;
    d.N = n;
    d.v = calloc((size_t)NQ * d.L * d.H * (size_t)n, sizeof *d.v);
    props = malloc((size_t)NP * (size_t)n * sizeof *props);
    if (!d.v || !props) {
        fprintf(stderr, "%s: out of memory (lower --analyse)\n", CMD);
        goto done;
    }
    int have_gates;
    if (record(lf.model, lf.vocab, cps, n, &d, &have_gates))
        goto done;
    const int nq = have_gates ? NQ : 2;
    text_properties(cps, n, props);
    /* the units most correlated with each property, over all n characters */
    j = json_object();
    json_t *top = json_array();
    json_object_set_new(j, "top", top);
    printf("%s on %d characters of %s:\n", pos[0], n, pos[1]);
    for (int pr = 0; pr < NP; pr++) {
        top_cell best[TOP_N];
        int nb = 0;
        for (int q = 0; q < nq; q++)
            for (int k = 0; k < d.L; k++)
                for (int u = 0; u < d.H; u++) {
                    double r = pearson(d.v + (((size_t)q * d.L + k) * d.H + u) * (size_t)n, props + (size_t)pr * n, n);
                    if (!isfinite(r))
                        continue;
                    int at = nb < TOP_N ? nb++ : TOP_N;
                    if (at == TOP_N && fabs(r) <= fabs(best[TOP_N - 1].r))
                        continue;
                    if (at == TOP_N)
                        at = TOP_N - 1;
                    while (at > 0 && fabs(best[at - 1].r) < fabs(r)) {
                        best[at] = best[at - 1];
                        at--;
                    }
                    best[at] = (top_cell){q, k, u, r};
                }
        json_t *cells = json_array();
        printf("  %-22s", P_NAMES[pr]);
        if (!nb)
            printf(" constant in this text");
        for (int i = 0; i < nb; i++) {
            json_array_append_new(cells, json_pack("{s:i,s:i,s:s,s:f}", "layer", best[i].k, "cell", best[i].j, "q",
                                                   Q_NAMES[best[i].q], "r", best[i].r));
            printf("%s layer %d cell %d %s r %+.3f", i ? "," : "", best[i].k, best[i].j, Q_NAMES[best[i].q], best[i].r);
        }
        printf("\n");
        json_array_append_new(top, json_pack("{s:s,s:o}", "property", P_NAMES[pr], "cells", cells));
    }
    /* the shown text, as UTF-8 */
    char *shown_text = malloc((size_t)shown * 4 + 1);
    size_t sl = 0;
    for (long long t = 0; shown_text && t < shown; t++)
        sl += (size_t)recur_utf8_encode(cps[t], shown_text + sl);
    if (shown_text)
        shown_text[sl] = '\0';
    json_t *scales = json_array(), *qs = json_array(), *qn = json_array();
    for (int q = 0; q < nq; q++) {
        json_array_append_new(qs, json_string(Q_NAMES[q]));
        json_array_append_new(qn, json_string(Q_LONG[q]));
    }
    /* quantised over the shown characters only (d.v rows are n long) */
    b64 = quantised_base64(&d, nq, (int)shown, scales);
    char title[600];
    snprintf(title, sizeof title, "%.250s: %d layer%s x %d LSTM cells on %.250s", pos[0], d.L, d.L > 1 ? "s" : "", d.H, pos[1]);
    json_object_set_new(j, "title", json_string(title));
    json_object_set_new(j, "text", shown_text ? json_string(shown_text) : NULL);
    json_object_set_new(j, "layers", json_integer(d.L));
    json_object_set_new(j, "units", json_integer(d.H));
    json_object_set_new(j, "quantities", qs);
    json_object_set_new(j, "quantity_names", qn);
    json_object_set_new(j, "scales", scales);
    json_object_set_new(j, "values", b64 ? json_string(b64) : NULL);
    free(shown_text);
    dump = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (!b64 || !dump) {
        fprintf(stderr, "%s: out of memory\n", CMD);
        goto done;
    }
    size_t hl = 0;
    FILE *f = open_memstream(&html, &hl);
    if (!f) {
        fprintf(stderr, "%s: out of memory\n", CMD);
        goto done;
    }
    fputs(PAGE_HEAD, f);
    json_for_script(f, dump);
    fputs(PAGE_TAIL, f);
    if (fclose(f) != 0) {
        fprintf(stderr, "%s: out of memory\n", CMD);
        goto done;
    }
    if (recur_file_write_atomic(out, html, hl, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", CMD, err.msg);
        goto done;
    }
    printf("wrote %s: %lld characters shown, %d layer%s x %d cells, quantities %s\n", out, shown, d.L,
           d.L > 1 ? "s" : "", d.H, have_gates ? "c h i f o" : "c h");
    rc = 0;
done:
    json_decref(j);
    free(b64);
    free(dump);
    free(html);
    free(props);
    free(d.v);
    free(cps);
    free(text);
    lm_file_close(&lf);
    return rc;
}
