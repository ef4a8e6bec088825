/* classify.h - what the `recur classify` commands share. */
#ifndef RECUR_CLI_CLASSIFY_H
#define RECUR_CLI_CLASSIFY_H

#include <stdint.h>

#include "options.h"
#include "recur_classify.h"
#include "train_options.h"

int classify_cmd_train(int argc, char **argv);
/* The mean over classes of F1 from a confusion matrix [gold * K + predicted]. */
double cls_cli_macro_f1(const int64_t *confusion, int K);

#endif
