/*
 * svg_chart.h - line charts as hand-written SVG: a figure of one or more
 * panels in a grid, each with its axes (linear or logarithmic), ticks,
 * labels and title, lines with an optional spread band, and one legend for
 * the figure.  Used by `recur plot` and `recur gradflow`; no library needed
 * (SVG is text, and every browser draws it).
 */
#ifndef RECUR_CLI_SVG_CHART_H
#define RECUR_CLI_SVG_CHART_H

#include <stdio.h>

typedef struct chart_series {
    const char *name;      /* the legend's text; series of one name share a colour */
    const double *x, *y;   /* n points; a non-finite y (or <= 0 on a log axis) breaks the line */
    const double *lo, *hi; /* optional spread band (both or neither) */
    int n;
    int color;  /* index into the palette */
    int dashed; /* 1: a dashed line (a bound, a reference) */
    int markers; /* 1: a dot at every point */
    int reference; /* 1: not counted in the axis range (a bound that may run off the chart) */
} chart_series;

typedef struct chart_panel {
    const char *title, *xlabel, *ylabel;
    int logx, logy;
    const chart_series *series;
    int n_series;
} chart_panel;

typedef struct chart_legend_entry {
    const char *name;
    int color, dashed;
} chart_legend_entry;

/* Writes a complete SVG document: the panels in `cols` columns, a figure
 * title (may be NULL) and the legend below.  Returns 0, or -1 when a write
 * failed. */
int chart_write_svg(FILE *f, const char *title, const chart_panel *panels, int n_panels, int cols,
                    const chart_legend_entry *legend, int n_legend);

/* The palette's colour i (cycled), as "#rrggbb". */
const char *chart_color(int i);

/* Writes text with XML's special characters escaped. */
void chart_xml_text(FILE *f, const char *s);

#endif
