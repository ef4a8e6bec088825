/* schedule.c - learning-rate schedules, advanced once per epoch. */
#include <math.h>
#include <string.h>

#include "recur.h"

void recur_schedule_init(recur_schedule *s, recur_sched_kind kind, double lr0, double decay,
                         int start_or_patience)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->lr0 = s->lr = lr0;
    s->decay = decay;
    s->start = start_or_patience;
    s->patience = start_or_patience;
    s->threshold = 0;
    s->best = INFINITY;
}

void recur_schedule_epoch_end(recur_schedule *s, double val_loss)
{
    s->epoch++;
    switch (s->kind) {
    case RECUR_SCHED_CONSTANT:
        break;
    case RECUR_SCHED_DECAY_AFTER: {
        /* the rate for epoch e+1 is lr0 * decay^max(0, e+1 - start) */
        int k = s->epoch + 1 - s->start;
        s->lr = s->lr0 * pow(s->decay, k > 0 ? k : 0);
        break;
    }
    case RECUR_SCHED_PLATEAU:
        if (val_loss < s->best - s->threshold) {
            s->best = val_loss;
            s->bad_epochs = 0;
        } else if (++s->bad_epochs > s->patience) {
            s->lr *= s->decay;
            s->bad_epochs = 0;
        }
        break;
    }
    if (s->lr < s->min_lr)
        s->lr = s->min_lr;
}
