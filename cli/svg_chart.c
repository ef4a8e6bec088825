/* svg_chart.c - line charts as hand-written SVG (svg_chart.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "svg_chart.h"

/* Panel geometry in SVG user units (pixels). */
enum { PANEL_W = 520, PANEL_H = 320, M_LEFT = 74, M_RIGHT = 16, M_TOP = 28, M_BOTTOM = 46 };
enum { TITLE_H = 34, LEGEND_ROW = 20, LEGEND_CHAR_W = 7 };

static const char *const PALETTE[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

const char *chart_color(int i)
{
    int n = (int)(sizeof PALETTE / sizeof PALETTE[0]);
    return PALETTE[((i % n) + n) % n];
}

void chart_xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            /* XML 1.0 has no place for other control characters */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
                fputc('?', f);
            else
                fputc(*s, f);
        }
    }
}

/* ---- axes ------------------------------------------------------------- */

typedef struct axis {
    int log;
    double lo, hi;  /* the drawn range, in data units (log: powers of ten) */
    double ticks[64];
    int n_ticks;
    double minor[256];
    int n_minor;
} axis;

static int usable(double v, int log_axis) { return isfinite(v) && (!log_axis || v > 0); }

/* A step of 1, 2 or 5 times a power of ten near range / target. */
static double nice_step(double range, int target)
{
    double raw = range / target, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void axis_make(axis *a, int log_axis, double mn, double mx)
{
    memset(a, 0, sizeof *a);
    a->log = log_axis;
    if (!(mn <= mx)) { /* no data */
        mn = log_axis ? 1 : 0;
        mx = log_axis ? 10 : 1;
    }
    if (log_axis) {
        double e0 = floor(log10(mn) + 1e-9), e1 = ceil(log10(mx) - 1e-9);
        if (e1 <= e0)
            e1 = e0 + 1;
        int stride = (int)ceil((e1 - e0) / 10);
        e0 = floor(e0 / stride) * stride;
        e1 = ceil(e1 / stride) * stride;
        a->lo = pow(10, e0);
        a->hi = pow(10, e1);
        for (double e = e0; e <= e1 + 1e-9 && a->n_ticks < 64; e += stride)
            a->ticks[a->n_ticks++] = pow(10, e);
        if (stride == 1 && e1 - e0 <= 8)
            for (double e = e0; e < e1; e++)
                for (int k = 2; k <= 9 && a->n_minor < 256; k++)
                    a->minor[a->n_minor++] = k * pow(10, e);
        return;
    }
    if (mn == 0 && mx == 0) {
        mx = 1; /* all zero (no step clipped): 0 at the bottom */
    } else if (mx - mn < 1e-12 * (fabs(mn) + fabs(mx)) || mx == mn) {
        double d = fabs(mn) * 0.1;
        mn -= d;
        mx += d;
    }
    double step = nice_step(mx - mn, 5);
    a->lo = floor(mn / step + 1e-9) * step;
    a->hi = ceil(mx / step - 1e-9) * step;
    for (double v = a->lo; v <= a->hi + step * 1e-6 && a->n_ticks < 64; v += step)
        a->ticks[a->n_ticks++] = fabs(v) < step * 1e-9 ? 0 : v;
}

/* Position of v in [0, 1] along the axis. */
static double axis_frac(const axis *a, double v)
{
    if (a->log)
        return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    return (v - a->lo) / (a->hi - a->lo);
}

static void tick_label(const axis *a, double v, char *buf, size_t n)
{
    if (a->log) {
        int e = (int)lround(log10(v));
        if (e >= -3 && e <= 4)
            snprintf(buf, n, "%g", pow(10, e));
        else
            snprintf(buf, n, "1e%d", e);
    } else {
        snprintf(buf, n, "%.4g", v);
    }
}

/* ---- panels ------------------------------------------------------------ */

static void data_range(const chart_panel *p, int log_x, int log_y, double *x0, double *x1,
                       double *y0, double *y1)
{
    *x0 = *y0 = INFINITY;
    *x1 = *y1 = -INFINITY;
    for (int s = 0; s < p->n_series; s++) {
        const chart_series *c = &p->series[s];
        if (c->reference)
            continue; /* drawn, clipped to what the data need */
        for (int i = 0; i < c->n; i++) {
            if (!usable(c->x[i], log_x) || !usable(c->y[i], log_y))
                continue;
            *x0 = fmin(*x0, c->x[i]);
            *x1 = fmax(*x1, c->x[i]);
            double lo = c->y[i], hi = c->y[i];
            if (c->lo && usable(c->lo[i], log_y))
                lo = fmin(lo, c->lo[i]);
            if (c->hi && usable(c->hi[i], log_y))
                hi = fmax(hi, c->hi[i]);
            *y0 = fmin(*y0, lo);
            *y1 = fmax(*y1, hi);
        }
    }
}

static void draw_series(FILE *f, const chart_series *c, const axis *ax, const axis *ay, double px,
                        double py, double pw, double ph)
{
    const char *col = chart_color(c->color);
#define SX(v) (px + pw * axis_frac(ax, (v)))
#define SY(v) (py + ph * (1 - axis_frac(ay, (v))))
    if (c->lo && c->hi) {
        /* the band, one polygon per unbroken stretch */
        int i = 0;
        while (i < c->n) {
            int j = i;
            while (j < c->n && usable(c->x[j], ax->log) && usable(c->lo[j], ay->log) &&
                   usable(c->hi[j], ay->log))
                j++;
            if (j - i >= 2) {
                fprintf(f, "<polygon class=\"band\" fill=\"%s\" fill-opacity=\"0.15\" stroke=\"none\" points=\"", col);
                for (int k = i; k < j; k++)
                    fprintf(f, "%.1f,%.1f ", SX(c->x[k]), SY(c->hi[k]));
                for (int k = j - 1; k >= i; k--)
                    fprintf(f, "%.1f,%.1f ", SX(c->x[k]), SY(c->lo[k]));
                fputs("\"/>\n", f);
            }
            i = j > i ? j : i + 1;
        }
    }
    fputs("<g class=\"series\" data-name=\"", f);
    chart_xml_text(f, c->name);
    fputs("\">", f);
    int open = 0;
    for (int i = 0; i < c->n; i++) {
        if (!usable(c->x[i], ax->log) || !usable(c->y[i], ay->log)) {
            if (open)
                fputs("\"/>", f);
            open = 0;
            continue;
        }
        if (!open)
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s points=\"", col,
                    c->dashed ? " stroke-dasharray=\"6,4\"" : "");
        open = 1;
        fprintf(f, "%.1f,%.1f ", SX(c->x[i]), SY(c->y[i]));
    }
    if (open)
        fputs("\"/>", f);
    if (c->markers)
        for (int i = 0; i < c->n; i++)
            if (usable(c->x[i], ax->log) && usable(c->y[i], ay->log))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", SX(c->x[i]),
                        SY(c->y[i]), col);
    fputs("</g>\n", f);
#undef SX
#undef SY
}

static void draw_panel(FILE *f, const chart_panel *p, double ox, double oy)
{
    double x0, x1, y0, y1;
    data_range(p, p->logx, p->logy, &x0, &x1, &y0, &y1);
    axis ax, ay;
    axis_make(&ax, p->logx, x0, x1);
    axis_make(&ay, p->logy, y0, y1);
    const double px = ox + M_LEFT, py = oy + M_TOP;
    const double pw = PANEL_W - M_LEFT - M_RIGHT, ph = PANEL_H - M_TOP - M_BOTTOM;
    fprintf(f, "<g class=\"panel\">\n<text class=\"title\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"bold\">",
            px + pw / 2, oy + 18);
    chart_xml_text(f, p->title);
    fputs("</text>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" stroke=\"#444\"/>\n", px,
            py, pw, ph);
    for (int i = 0; i < ay.n_minor; i++)
        if (ay.minor[i] > ay.lo && ay.minor[i] < ay.hi)
            fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", px, px + pw,
                    py + ph * (1 - axis_frac(&ay, ay.minor[i])), py + ph * (1 - axis_frac(&ay, ay.minor[i])));
    char lab[64];
    for (int i = 0; i < ay.n_ticks; i++) {
        double y = py + ph * (1 - axis_frac(&ay, ay.ticks[i]));
        tick_label(&ay, ay.ticks[i], lab, sizeof lab);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                px, px + pw, y, y, px - 5, y + 4, lab);
    }
    for (int i = 0; i < ax.n_ticks; i++) {
        double x = px + pw * axis_frac(&ax, ax.ticks[i]);
        tick_label(&ax, ax.ticks[i], lab, sizeof lab);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>"
                   "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                x, x, py + ph, py + ph + 5, x, py + ph + 18, lab);
    }
    fprintf(f, "<text class=\"xlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", px + pw / 2,
            py + ph + 36);
    chart_xml_text(f, p->xlabel);
    fprintf(f, "</text>\n<text class=\"ylabel\" transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\">",
            ox + 16, py + ph / 2);
    chart_xml_text(f, p->ylabel);
    fputs("</text>\n", f);
    fprintf(f, "<clipPath id=\"clip%.0f_%.0f\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath>\n",
            ox, oy, px, py, pw, ph);
    fprintf(f, "<g clip-path=\"url(#clip%.0f_%.0f)\">\n", ox, oy);
    for (int s = 0; s < p->n_series; s++)
        draw_series(f, &p->series[s], &ax, &ay, px, py, pw, ph);
    fputs("</g>\n</g>\n", f);
}

int chart_write_svg(FILE *f, const char *title, const chart_panel *panels, int n_panels, int cols,
                    const chart_legend_entry *legend, int n_legend)
{
    if (cols < 1)
        cols = 1;
    if (cols > n_panels && n_panels > 0)
        cols = n_panels;
    int rows = (n_panels + cols - 1) / cols;
    int width = cols * PANEL_W;
    /* room for the title (about 9 units a character at its size) */
    if (title && 9 * (int)strlen(title) + 40 > width)
        width = 9 * (int)strlen(title) + 40;
    /* legend columns as wide as the longest entry needs */
    int item_w = 120;
    for (int i = 0; i < n_legend; i++) {
        int w = 44 + LEGEND_CHAR_W * (int)strlen(legend[i].name ? legend[i].name : "");
        item_w = w > item_w ? w : item_w;
    }
    if (item_w > width - 20)
        item_w = width - 20;
    int per_row = (width - 20) / item_w > 0 ? (width - 20) / item_w : 1;
    int legend_rows = (n_legend + per_row - 1) / per_row;
    int top = title ? TITLE_H : 8;
    int height = top + rows * PANEL_H + legend_rows * LEGEND_ROW + 12;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
               width, height, width, height);
    if (title) {
        fprintf(f, "<text class=\"figure-title\" x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">",
                width / 2);
        chart_xml_text(f, title);
        fputs("</text>\n", f);
    }
    for (int i = 0; i < n_panels; i++)
        draw_panel(f, &panels[i], (i % cols) * PANEL_W, top + (i / cols) * PANEL_H);
    fputs("<g class=\"legend\">\n", f);
    for (int i = 0; i < n_legend; i++) {
        double x = 20 + (i % per_row) * item_w;
        double y = top + rows * PANEL_H + (i / per_row) * LEGEND_ROW + 10;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"%s/>"
                   "<text class=\"legend-entry\" x=\"%.1f\" y=\"%.1f\">",
                x, x + 26, y, y, chart_color(legend[i].color),
                legend[i].dashed ? " stroke-dasharray=\"6,4\"" : "", x + 32, y + 4);
        chart_xml_text(f, legend[i].name);
        fputs("</text>\n", f);
    }
    fputs("</g>\n</svg>\n", f);
    return ferror(f) ? -1 : 0;
}
