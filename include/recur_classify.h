/*
 * recur_classify.h - sentence classification with a recurrent network: a
 * sentence's words through an embedding and a (bidirectional) recurrent
 * stack, pooled into one vector (final states, mean, max over time, or a
 * learned attention), then a linear layer and softmax.
 *
 * The model is one composite model (recur.h): the first model is the
 * embedding and the recurrent stack (no decoder); its parts are the output
 * layer "classifier.weight" [K, F] and "classifier.bias" [K] and, for
 * attention pooling, "attention.weight" [A, F], "attention.bias" [A] and
 * "attention.context" [A], where F = directions x the stack's output width:
 *     u_t = tanh(W_a h_t + b_a),  alpha = softmax_t(c . u_t),
 *     s = sum_t alpha_t h_t,      p = softmax(W_c s + b_c).
 * Final-state pooling is s = [h_fwd at the last word ; h_bwd at the first
 * word]; mean and max run over the sentence's own words only, so a sentence
 * in a padded batch gets exactly what it gets alone.
 *
 * A classifier's file is a checkpoint whose recur.config holds
 * {"task":"classify","pool":...,"lower":...,"format":...,"classes":...},
 * with its vocabulary in __metadata__ "recur.vocab" and its labels, in class
 * order, in "recur.labels" (JSON arrays).
 */
#ifndef RECUR_CLASSIFY_H
#define RECUR_CLASSIFY_H

#include "recur.h"
#include "recur_train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum recur_cls_pool {
    RECUR_POOL_LAST = 0, /* forward state at the last word, backward state at the first */
    RECUR_POOL_MEAN,
    RECUR_POOL_MAX,
    RECUR_POOL_ATTENTION
} recur_cls_pool;

/* "last", "mean", "max", "attention"; parse returns -1 for anything else. */
RECUR_API const char *recur_cls_pool_name(recur_cls_pool p);
RECUR_API int recur_cls_pool_parse(const char *name);

/* ---- labelled sentences ------------------------------------------------------- */

typedef enum recur_cls_format {
    RECUR_CLS_TSV = 0, /* label<TAB>text a line, text split on whitespace */
    RECUR_CLS_SST      /* Stanford Sentiment Treebank: a PTB-style tree a line */
} recur_cls_format;

typedef struct recur_cls_read_config {
    recur_cls_format format;
    int lower;   /* 1: ASCII letters of the words lower-cased */
    int classes; /* SST: 5 (root label 0..4) or 2 (neutral dropped, 0-1 negative, 3-4 positive) */
    int phrases; /* SST: every labelled sub-tree an example too (each phrase once) */
} recur_cls_read_config;

RECUR_API void recur_cls_read_config_default(recur_cls_read_config *c);

typedef struct recur_cls_dataset recur_cls_dataset;

/* Reads a file (checked as recur_text_read does); malformed lines are
 * errors naming the file and line. */
RECUR_API recur_status recur_cls_dataset_read(recur_cls_dataset **out, const char *path,
                                              const recur_cls_read_config *cfg, recur_error *err);
/* The same from text in memory; name is used in messages. */
RECUR_API recur_status recur_cls_dataset_parse(recur_cls_dataset **out, const char *text, size_t len,
                                               const char *name, const recur_cls_read_config *cfg,
                                               recur_error *err);
RECUR_API void recur_cls_dataset_free(recur_cls_dataset *d);
RECUR_API size_t recur_cls_dataset_size(const recur_cls_dataset *d);
/* Example i: its label, its words (*n of them; valid while d lives) and its line. */
RECUR_API const char *recur_cls_dataset_label(const recur_cls_dataset *d, size_t i);
RECUR_API const char *recur_cls_dataset_word(const recur_cls_dataset *d, size_t i, int k);
RECUR_API int recur_cls_dataset_length(const recur_cls_dataset *d, size_t i);
RECUR_API int64_t recur_cls_dataset_line(const recur_cls_dataset *d, size_t i);
/* The labels of a training set as a JSON array in class order: SST's in
 * their fixed order, TSV's sorted (bytewise). */
RECUR_API recur_status recur_cls_dataset_labels_json(const recur_cls_dataset *d,
                                                     const recur_cls_read_config *cfg, char **json,
                                                     recur_error *err);
/* A word vocabulary (recur.h) of the words seen at least min_count times
 * (at most max_size words in all, 0: no limit); others become <unk>. */
RECUR_API recur_status recur_cls_dataset_vocab(const recur_cls_dataset *d, int64_t min_count,
                                               int64_t max_size, recur_vocab **out,
                                               recur_error *err);

/* ---- the model ------------------------------------------------------------------------ */

typedef struct recur_cls_model_config {
    recur_model_config base; /* vocab_size, embed_size, rnn, dropout_embed; output_size 0 */
    recur_cls_pool pool;
    int classes;
    int attention_size; /* A, 0: F */
} recur_cls_model_config;

/* Creates the composite model described above (initialised: the stack as
 * PyTorch does, the parts U(+-1/sqrt(fan_in))). */
RECUR_API recur_status recur_cls_model_create(recur_model **out, const recur_cls_model_config *cfg,
                                              uint64_t seed, recur_error *err);
/* Sets embedding rows from a file of word vectors: GloVe or word2vec text
 * ("word v1 .. vE" a line, an optional "count dim" first line) or word2vec
 * binary (recognised by its bytes), read entry by entry; a word's first
 * vector counts; *found gets the number of vocabulary words set.  Vectors of
 * another width than the embedding's are RECUR_ERR_MISMATCH. */
RECUR_API recur_status recur_cls_load_embeddings(recur_model *m, const recur_vocab *v,
                                                 const char *path, int lower, size_t *found,
                                                 recur_error *err);

/* ---- training as a trainer task (recur_train.h) ------------------------------------------- */

typedef struct recur_cls_task_config {
    recur_cls_pool pool;
    int batch;               /* sentences per batch */
    float dropout;           /* on the sentence vector, training only */
    const double *class_weights; /* (classes) or NULL: all 1 */
    uint64_t seed;           /* the order of the batches */
} recur_cls_task_config;

typedef struct recur_cls_task recur_cls_task;

/* Encodes train and dev with v and the labels (JSON array, class order): a
 * dev label outside them is an error naming the file line.  Batches are
 * sentences of similar length (sorted within shuffled pools of 50 batches),
 * drawn in a new order each epoch from seed and the epoch, so a resumed run
 * goes on exactly.  Evaluation: dev accuracy (decisive), loss, macro-F1.
 * The task keeps pointers to m and v until freed. */
RECUR_API recur_status recur_cls_task_create(recur_cls_task **out, recur_model *m, const recur_vocab *v,
                                             const char *labels_json, const recur_cls_dataset *train,
                                             const recur_cls_dataset *dev,
                                             const recur_cls_task_config *cfg, recur_error *err);
RECUR_API void recur_cls_task_free(recur_cls_task *t);
/* The callbacks; extra_config and meta are the caller's (see the file
 * convention above: recur_cls_extra_config). */
RECUR_API recur_task recur_cls_task_callbacks(recur_cls_task *t);
RECUR_API int64_t recur_cls_task_batches(const recur_cls_task *t);
/* The recur.config entries of a classifier's file (malloc'd JSON text). */
RECUR_API char *recur_cls_extra_config(recur_cls_pool pool, const recur_cls_read_config *rc);

/* ---- a trained classifier ---------------------------------------------------------------- */

typedef struct recur_classifier recur_classifier;

/* Opens a classifier's file and checks its vocabulary, labels and settings.
 * max_batch: the most sentences one call classifies (>= 1). */
RECUR_API recur_status recur_classifier_open(recur_classifier **out, const char *path, int max_batch,
                                             recur_error *err);
RECUR_API void recur_classifier_free(recur_classifier *c);
RECUR_API const char *recur_classifier_errmsg(const recur_classifier *c);
RECUR_API int recur_classifier_num_classes(const recur_classifier *c);
RECUR_API const char *recur_classifier_label(const recur_classifier *c, int k);
/* -1 when the label is not one of the classifier's. */
RECUR_API int recur_classifier_label_index(const recur_classifier *c, const char *label);
RECUR_API recur_cls_pool recur_classifier_pool(const recur_classifier *c);
/* How it read its training data (format, lower-casing, SST classes). */
RECUR_API const recur_cls_read_config *recur_classifier_read_config(const recur_classifier *c);
RECUR_API recur_model *recur_classifier_model(recur_classifier *c);

/* Classifies B sentences (1..max_batch), sentence b being words[b][0..n[b])
 * (n[b] >= 1; words outside the vocabulary read as <unk>, lower-cased first
 * when the classifier was trained so): probs (B, K) the class
 * probabilities, best (B, may be NULL) the most likely class. */
RECUR_API recur_status recur_classifier_classify(recur_classifier *c, const char *const *const *words,
                                                 const int *n, int B, double *probs, int *best);
/* After a classify with attention pooling: sentence b's weight on its word
 * t (0 for t >= n[b]); NAN otherwise. */
RECUR_API double recur_classifier_attention(const recur_classifier *c, int b, int t);

/* Scores a labelled data set (read with the classifier's read config): the
 * confusion matrix confusion[gold * K + predicted] (K*K counts).  A label
 * the classifier does not know is an error naming the line. */
RECUR_API recur_status recur_classifier_confusion(recur_classifier *c, const recur_cls_dataset *d,
                                                  int64_t *confusion);

#ifdef __cplusplus
}
#endif
#endif /* RECUR_CLASSIFY_H */
