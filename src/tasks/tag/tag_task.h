/* tag_task.h - the tagger's training task and its shared predicting and scoring (internal). */
#ifndef RECUR_TAG_TASK_H
#define RECUR_TAG_TASK_H

#include "recur_train.h"
#include "tasks/tag/tag_internal.h"

struct recur_tag_task {
    recur_tagger_config cfg;
    tag_vocabs v;
    recur_model *m;
    tag_net net;
    const recur_tag_corpus *train_c, *dev_c;
    tag_data train, dev;
    int32_t *orig_word;   /* train's word ids (steps replace singletons) */
    unsigned char *singleton;
    int batch;
    int64_t n_batches;
    int64_t *order, *batch_off;
    int32_t *pred;
    uint64_t seed_base;
    int pretrained;
    char *extra, *meta_text[5];
    recur_meta_entry meta[4];
};

int tag_strcmp(const void *a, const void *b);
recur_status tag_settings_parse(const char *json, recur_tagger_config *c, tag_vocabs *v,
                                recur_error *err);
/* Vocabularies and settings from a tagger's file. */
recur_status tag_vocabs_load(tag_vocabs *v, recur_checkpoint *ck, recur_tagger_config *c,
                             recur_error *err);
/* Sorts sentence indices idx[0..n) by length (ties by index); pairs: 2n scratch. */
void tag_sort_by_length(const int64_t *sent_off, int64_t *idx, int64_t n, int64_t *pairs);
int tag_by_length(const void *a, const void *b);
/* Best labels of every sentence of d into out (d's token order), in batches
 * of sentences of similar lengths. */
recur_status tag_predict(tag_net *n, const tag_data *d, int32_t *out, int batch, char *msg);
/* Label ids of one sentence as tags of the output scheme into out. */
recur_status tag_labels_to_tags(const tag_vocabs *v, const int32_t *labels, int len,
                                char (*out)[RECUR_TAG_MAX], recur_error *err);
/* Scores predicted labels of a corpus against its tags into e. */
recur_status tag_score(const tag_vocabs *v, const recur_tag_corpus *c, const int32_t *pred,
                       recur_conlleval *e, recur_error *err);

#endif
