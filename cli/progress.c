/*
 * progress.c - progress of `recur lm train`: on a terminal, one live line on
 * stderr redrawn in place (epoch, percent, tokens/s, loss, perplexity,
 * learning rate, gradient norm, share of steps clipped, time left); plain log
 * lines on stderr otherwise; and a metrics file in JSON Lines with a row per
 * log interval ("type":"log") and per epoch ("type":"epoch").
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lm.h"

static void clear_line(lm_progress *p);

struct lm_progress {
    int live, quiet;
    int line_open; /* a live line is on screen */
    double last_draw;
    FILE *metrics;
};

double lm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

lm_progress *lm_progress_new(const char *mode, const char *metrics_path, int append,
                             char *errbuf, size_t errlen)
{
    lm_progress *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    if (!mode || !strcmp(mode, "auto"))
        p->live = isatty(2);
    else if (!strcmp(mode, "live"))
        p->live = 1;
    else if (!strcmp(mode, "none"))
        p->quiet = 1;
    p->last_draw = -1e9;
    if (metrics_path && *metrics_path) {
        p->metrics = fopen(metrics_path, append ? "a" : "w");
        if (!p->metrics) {
            snprintf(errbuf, errlen, "%s: cannot open the metrics file for writing", metrics_path);
            free(p);
            return NULL;
        }
    }
    return p;
}

void lm_progress_free(lm_progress *p)
{
    if (!p)
        return;
    if (p->line_open)
        fputc('\n', stderr);
    if (p->metrics)
        fclose(p->metrics);
    free(p);
}

void lm_progress_clear(lm_progress *p)
{
    if (p)
        clear_line(p);
}

static void clear_line(lm_progress *p)
{
    if (p->line_open) {
        fputs("\r\033[K", stderr);
        p->line_open = 0;
    }
}

static void fmt_time(double s, char *buf, size_t n)
{
    if (!(s >= 0) || !isfinite(s)) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void write_row(lm_progress *p, json_t *row)
{
    if (!p->metrics || !row)
        return;
    char *s = json_dumps(row, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (s) {
        fprintf(p->metrics, "%s\n", s);
        fflush(p->metrics);
        free(s);
    }
}

void lm_progress_update(lm_progress *p, const lm_stats *s, int log_row)
{
    double now = lm_now();
    char eta[32];
    fmt_time(s->eta, eta, sizeof eta);
    double ppl = exp(s->loss);
    char line[256];
    snprintf(line, sizeof line,
             "epoch %lld/%lld %5.1f%% | %.0f tok/s | loss %.4f ppl %.2f | lr %.4g | grad %.3g "
             "clipped %3.0f%% | left %s",
             (long long)s->epoch, (long long)s->epochs, 100 * s->epoch_frac, s->tokens_per_s,
             s->loss, ppl, s->lr, s->grad_norm, 100 * s->clipped_share, eta);
    if (!p->quiet) {
        if (p->live) {
            if (log_row || now - p->last_draw >= 0.2) {
                fprintf(stderr, "\r%s\033[K", line);
                fflush(stderr);
                p->line_open = 1;
                p->last_draw = now;
            }
        } else if (log_row) {
            fprintf(stderr, "%s\n", line);
            fflush(stderr);
        }
    }
    if (log_row) {
        json_t *row = json_pack("{s:s,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "type", "log",
                                "epoch", (json_int_t)s->epoch, "step", (json_int_t)s->step,
                                "epoch_progress", s->epoch_frac, "tokens_per_s",
                                s->tokens_per_s, "loss", s->loss, "ppl", ppl, "lr", s->lr,
                                "grad_norm", s->grad_norm, "clipped_share", s->clipped_share,
                                "elapsed_s", s->elapsed, "eta_s", isfinite(s->eta) ? s->eta : -1.0);
        write_row(p, row);
        json_decref(row);
    }
}

void lm_progress_epoch(lm_progress *p, int64_t epoch, double train_loss, double valid_loss,
                       double lr, double elapsed, int best, const char *unit_name,
                       int char_level)
{
    char t[32];
    fmt_time(elapsed, t, sizeof t);
    if (!p->quiet) {
        clear_line(p);
        if (char_level)
            fprintf(stderr,
                    "epoch %lld done in %s: train %.4f nats/%s | valid %.4f nats/%s, %.4f "
                    "bits/%s, ppl %.3f | lr %.4g%s\n",
                    (long long)epoch, t, train_loss, unit_name, valid_loss, unit_name,
                    valid_loss / log(2.0), unit_name, exp(valid_loss), lr, best ? " | best" : "");
        else
            fprintf(stderr,
                    "epoch %lld done in %s: train ppl %.2f | valid ppl %.2f (%.4f nats/%s) | lr "
                    "%.4g%s\n",
                    (long long)epoch, t, exp(train_loss), exp(valid_loss), valid_loss, unit_name,
                    lr, best ? " | best" : "");
        fflush(stderr);
    }
    json_t *row = json_pack("{s:s,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:b}", "type", "epoch", "epoch",
                            (json_int_t)epoch, "train_loss", train_loss, "train_ppl",
                            exp(train_loss), "valid_loss", valid_loss, "valid_ppl",
                            exp(valid_loss), "lr", lr, "elapsed_s", elapsed, "best", best);
    write_row(p, row);
    json_decref(row);
}

void lm_progress_msg(lm_progress *p, const char *fmt, ...)
{
    if (p && p->quiet)
        return;
    if (p)
        clear_line(p);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}
