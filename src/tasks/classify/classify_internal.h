/*
 * classify_internal.h - sentence classification inside the library (not
 * installed): the readers of labelled sentences (TSV and Stanford Sentiment
 * Treebank trees), the encoded data a batch is drawn from, and the network
 * that pools a recurrent stack's outputs into class probabilities.
 */
#ifndef RECUR_CLASSIFY_INTERNAL_H
#define RECUR_CLASSIFY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/internal.h"
#include "recur_classify.h"

/* ---- sentences as read ------------------------------------------------------ */

/* One labelled example: its tokens are tok[first .. first + len) of its
 * corpus, each an offset of a NUL-terminated word in the arena. */
typedef struct cls_item {
    size_t first;
    int32_t len;
    int32_t sst;   /* SST: the node's label 0..4; TSV: -1 */
    size_t label;  /* offset of the label text in the arena */
    int64_t line;  /* 1-based line of the file */
    int root;      /* 1: a whole sentence; 0: a phrase (a sub-tree) */
} cls_item;

typedef struct cls_corpus {
    char *arena; /* NUL-terminated words and labels */
    size_t arena_len, arena_cap;
    size_t *tok; /* arena offsets of the tokens */
    size_t n_tok, tok_cap;
    cls_item *items;
    size_t n, cap;
} cls_corpus;

void cls_corpus_free(cls_corpus *c);
static inline const char *cls_word(const cls_corpus *c, size_t tok_index)
{
    return c->arena + c->tok[tok_index];
}
static inline const char *cls_label(const cls_corpus *c, const cls_item *it)
{
    return c->arena + it->label;
}

/* `label<TAB>text` a line; text split on ASCII whitespace.  A line without a
 * tab, an empty label or text, or an empty line is an error naming name:line.
 * lower: ASCII letters of the text lower-cased. */
recur_status cls_read_tsv(cls_corpus *out, const char *text, size_t len, const char *name,
                          int lower, recur_error *err);
/* One PTB-style tree a line: `(3 (2 The) (2 Rock) ...)`.  Every node is an
 * item (the root with root = 1, then its sub-trees in pre-order), its tokens
 * the leaves under it.  Unbalanced parentheses, a label that is not a number
 * 0..4, a node without words, text after the tree or an empty line are
 * errors naming name:line. */
recur_status cls_read_sst(cls_corpus *out, const char *text, size_t len, const char *name,
                          int lower, recur_error *err);

/* The examples an SST corpus gives (in place: items are dropped or
 * relabelled).  classes 5: labels "0".."4"; classes 2: "negative" (0, 1) and
 * "positive" (3, 4), neutral items dropped.  phrases 0 keeps roots only;
 * phrases 1 keeps every node, each phrase (token sequence and label) once,
 * roots always. */
recur_status cls_sst_select(cls_corpus *c, int classes, int phrases, recur_error *err);

/* The label names of an SST mapping, in class order. */
int cls_sst_labels(int classes, const char *const **names);

/* ---- encoded data ---------------------------------------------------------------- */

typedef struct cls_data {
    int32_t *ids;   /* every example's token ids, one after the other */
    size_t *first;  /* (n) */
    int32_t *len;   /* (n) */
    int32_t *label; /* (n) class index */
    int64_t *line;  /* (n) line in its file */
    size_t n;
    int max_len;
} cls_data;

void cls_data_free(cls_data *d);

/* ---- the network ------------------------------------------------------------------------- */

/* The forward and backward of a classifier over a padded batch: the
 * composite's recurrent stack, the pooling over each sentence's own steps
 * (padding never counts), dropout on the sentence vector, the output layer
 * and softmax cross-entropy.  Sized once for max_T x max_B; no allocation
 * per batch. */
typedef struct cls_net cls_net;

recur_status cls_net_create(cls_net **out, recur_model *m, recur_cls_pool pool, float dropout,
                            int max_T, int max_B, recur_error *err);
void cls_net_free(cls_net *n);
const char *cls_net_errmsg(const cls_net *n);
int cls_net_classes(const cls_net *n);
/* tokens (T, B) time-major, lengths (B) each 1..T.  Fills the probabilities
 * (B, K) and, for attention pooling, the weights (T, B). */
recur_status cls_net_forward(cls_net *n, const int32_t *tokens, const int32_t *lengths, int T,
                             int B, int training);
/* Inference with fixed weights: on = 1 reads the first layer's input
 * product from a table of every word's (recur_run_cache_input_projection). */
recur_status cls_net_cache_inputs(cls_net *n, int on);
const recur_real *cls_net_probs(const cls_net *n);     /* (B, K) */
const recur_real *cls_net_logits(const cls_net *n);    /* (B, K) */
const recur_real *cls_net_attention(const cls_net *n); /* (T, B), attention pooling only */
/* After a forward: the loss sum_b w[y_b] CE_b / sum_b w[y_b] (weights NULL:
 * all 1) into *loss, and its gradient times scale added into the model's
 * gradients. */
recur_status cls_net_backward(cls_net *n, const int32_t *labels, const double *class_weights,
                              double scale, double *loss);

/* Classifies d in batches of `batch` (order: the examples in that order,
 * tokens (max_T, batch) and lens (batch) scratch) into the confusion matrix
 * confusion[gold * K + predicted]; *loss_sum gets the summed cross-entropy. */
recur_status cls_score(cls_net *net, const cls_data *d, const size_t *order, int batch,
                       int32_t *tokens, int32_t *lens, int64_t *confusion, double *loss_sum,
                       char *msg);
/* The mean over classes of F1 (0 for a class never gold nor predicted). */
double cls_macro_f1(const int64_t *confusion, int K);

#endif
