/*
 * cls_dataset.h - the dataset handle behind recur_cls_dataset, label sets
 * and the encoding of a dataset into ids (not installed).
 */
#ifndef RECUR_CLS_DATASET_H
#define RECUR_CLS_DATASET_H

#include "tasks/classify/classify_internal.h"

struct recur_cls_dataset {
    cls_corpus c;
    recur_cls_read_config cfg;
    char name[1024]; /* the file, for messages */
};

/* A classifier's labels in class order. */
typedef struct cls_labels {
    int K;
    char **names;
} cls_labels;

/* From a JSON array of distinct non-empty strings (at least 2). */
recur_status cls_labels_parse(cls_labels *l, const char *json, recur_error *err);
void cls_labels_free(cls_labels *l);
int cls_labels_find(const cls_labels *l, const char *name); /* -1: not a label */

/* Words to ids (outside v: <unk>), labels to class indices: a label outside
 * l is an error naming the file and line. */
recur_status cls_encode(const recur_cls_dataset *ds, const recur_vocab *v, const cls_labels *l,
                        cls_data *out, recur_error *err);

#endif
