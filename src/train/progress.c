/*
 * progress.c - the trainer's progress: on a terminal, one live line on the
 * log redrawn in place (epoch, percent, units/s, loss, perplexity for
 * likelihood losses, learning rate, gradient norm, share of steps clipped,
 * time left); plain log lines otherwise; and a metrics file in JSON Lines
 * with a row per log interval ("type":"log") and per epoch ("type":"epoch").
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "progress.h"

struct progress {
    int live, quiet;
    int line_open; /* a live line is on screen */
    double last_draw;
    FILE *log, *metrics;
    int metrics_errno; /* the first failed write of a metrics row */
};

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

progress *progress_new(recur_progress_mode mode, FILE *log, FILE *metrics)
{
    progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->log = log ? log : stderr;
    p->live = mode == RECUR_PROGRESS_LIVE || (mode == RECUR_PROGRESS_AUTO && isatty(fileno(p->log)));
    p->quiet = mode == RECUR_PROGRESS_NONE;
    p->last_draw = -1e9;
    p->metrics = metrics;
    return p;
}

void progress_free(progress *p)
{
    if (!p)
        return;
    if (p->line_open)
        fputc('\n', p->log);
    if (p->metrics)
        fclose(p->metrics);
    free(p);
}

void progress_clear(progress *p)
{
    if (p && p->line_open) {
        fputs("\r\033[K", p->log);
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

static void write_row(progress *p, json_t *row)
{
    if (!p->metrics || !row)
        return;
    char *s = json_dumps(row, JSON_COMPACT | JSON_REAL_PRECISION(10));
    errno = 0;
    if (!s || fprintf(p->metrics, "%s\n", s) < 0 || fflush(p->metrics) != 0)
        if (!p->metrics_errno)
            p->metrics_errno = s ? (errno ? errno : EIO) : ENOMEM;
    free(s);
}

int progress_metrics_errno(const progress *p) { return p ? p->metrics_errno : 0; }

/* "tok" for tokens, else the unit's name. */
static const char *short_unit(const recur_task *task)
{
    return !strcmp(task->unit, "token") ? "tok" : task->unit;
}

void progress_update(progress *p, const recur_task *task, const progress_stats *s, int log_row)
{
    double now = progress_now();
    char eta[32], ppl[48] = "";
    fmt_time(s->eta, eta, sizeof eta);
    if (task->loss_is_nll)
        snprintf(ppl, sizeof ppl, " ppl %.2f", exp(s->loss));
    char line[320];
    snprintf(line, sizeof line,
             "epoch %lld/%lld %5.1f%% | %.0f %s/s | loss %.4f%s | lr %.4g | grad %.3g "
             "clipped %3.0f%% | left %s",
             (long long)s->epoch, (long long)s->epochs, 100 * s->epoch_frac, s->units_per_s,
             short_unit(task), s->loss, ppl, s->lr, s->grad_norm, 100 * s->clipped_share, eta);
    if (!p->quiet) {
        if (p->live) {
            if (log_row || now - p->last_draw >= 0.2) {
                fprintf(p->log, "\r%s\033[K", line);
                fflush(p->log);
                p->line_open = 1;
                p->last_draw = now;
            }
        } else if (log_row) {
            fprintf(p->log, "%s\n", line);
            fflush(p->log);
        }
    }
    if (log_row && p->metrics) {
        char rate[64];
        snprintf(rate, sizeof rate, "%ss_per_s", task->unit);
        json_t *row = json_pack("{s:s,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "type", "log",
                                "epoch", (json_int_t)s->epoch, "step", (json_int_t)s->step,
                                "epoch_progress", s->epoch_frac, rate, s->units_per_s, "loss",
                                s->loss, "lr", s->lr, "grad_norm", s->grad_norm, "clipped_share",
                                s->clipped_share, "elapsed_s", s->elapsed, "eta_s",
                                isfinite(s->eta) ? s->eta : -1.0);
        if (row && task->loss_is_nll)
            json_object_set_new(row, "ppl", json_real(exp(s->loss)));
        write_row(p, row);
        json_decref(row);
    }
}

void progress_epoch(progress *p, const recur_task *task, int64_t epoch, double train_loss,
                    const recur_eval *ev, double lr, double elapsed, int best)
{
    char t[32], text[512];
    fmt_time(elapsed, t, sizeof t);
    if (task->format_epoch) {
        task->format_epoch(task->ctx, train_loss, ev, text, sizeof text);
    } else {
        int k = snprintf(text, sizeof text, "train loss %.4f |", train_loss);
        for (int i = 0; i < ev->n && k > 0 && (size_t)k < sizeof text; i++)
            k += snprintf(text + k, sizeof text - (size_t)k, " %s %.4f", ev->m[i].name,
                          ev->m[i].value);
    }
    if (!p->quiet) {
        progress_clear(p);
        fprintf(p->log, "epoch %lld done in %s: %s | lr %.4g%s\n", (long long)epoch, t, text, lr,
                best ? " | best" : "");
        fflush(p->log);
    }
    if (!p->metrics)
        return;
    json_t *row = json_pack("{s:s,s:I,s:f}", "type", "epoch", "epoch", (json_int_t)epoch,
                            "train_loss", train_loss);
    if (!row)
        return;
    if (task->loss_is_nll)
        json_object_set_new(row, "train_ppl", json_real(exp(train_loss)));
    for (int i = 0; i < ev->n; i++) {
        char key[48];
        snprintf(key, sizeof key, "valid_%s", ev->m[i].name);
        json_object_set_new(row, key, json_real(ev->m[i].value));
    }
    json_object_set_new(row, "lr", json_real(lr));
    json_object_set_new(row, "elapsed_s", json_real(elapsed));
    json_object_set_new(row, "best", json_boolean(best));
    write_row(p, row);
    json_decref(row);
}

void progress_msgv(progress *p, const char *fmt, va_list ap)
{
    FILE *log = p ? p->log : stderr;
    if (p && p->quiet)
        return;
    progress_clear(p);
    vfprintf(log, fmt, ap);
    fputc('\n', log);
    fflush(log);
}
