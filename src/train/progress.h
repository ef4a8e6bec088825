/*
 * progress.h - the trainer's progress reporting (not installed): on a
 * terminal one live line redrawn in place; plain log lines otherwise; and a
 * metrics file in JSON Lines with a row per log interval ("type":"log") and
 * per epoch ("type":"epoch").
 */
#ifndef RECUR_TRAIN_PROGRESS_H
#define RECUR_TRAIN_PROGRESS_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "recur_train.h"

typedef struct progress progress;

/* metrics: an open JSON Lines file (owned from here on), or NULL. */
progress *progress_new(recur_progress_mode mode, FILE *log, FILE *metrics);
void progress_free(progress *p);

/* A snapshot during an epoch; log_row also makes a log line and metrics row. */
typedef struct progress_stats {
    int64_t epoch, epochs, step;
    double epoch_frac; /* 0..1 inside the epoch */
    double units_per_s, loss, lr, grad_norm, clipped_share;
    double elapsed, eta; /* seconds */
} progress_stats;
void progress_update(progress *p, const recur_task *task, const progress_stats *s, int log_row);

/* The epoch's summary line (text after "epoch N done in T: ") and its
 * metrics row. */
void progress_epoch(progress *p, const recur_task *task, int64_t epoch, double train_loss,
                    const recur_eval *ev, double lr, double elapsed, int best);

void progress_msgv(progress *p, const char *fmt, va_list ap);
/* Ends a live line (before a message). */
void progress_clear(progress *p);

/* 0, or the errno of the first metrics row that could not be written (a
 * full disk, /dev/full): the trainer stops on it rather than lose rows. */
int progress_metrics_errno(const progress *p);

/* Monotonic seconds. */
double progress_now(void);

#endif
