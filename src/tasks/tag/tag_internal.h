/*
 * tag_internal.h - the sequence tagger's parts inside the library: chunk
 * rules, schemes, the corpus, word features, the CRF and the network.
 */
#ifndef RECUR_TAG_INTERNAL_H
#define RECUR_TAG_INTERNAL_H

#include <stdint.h>

#include "recur_tag.h"

/* ---- chunks.c: conlleval's reading of tags ---- */
/* Splits at the first '-'; -1 for a tag of RECUR_TAG_MAX bytes or more. */
int tag_split(const char *tag, char prefix[RECUR_TAG_MAX], char type[RECUR_TAG_MAX]);
/* Does a chunk end after the previous token / start at the current one? */
int chunk_ends(const char *prev, const char *prev_type, const char *cur, const char *cur_type);
int chunk_starts(const char *prev, const char *prev_type, const char *cur, const char *cur_type);

/* ---- scheme.c ---- */
int tag_in_scheme(const char *tag, recur_tag_scheme s);
typedef struct scheme_detect {
    int plain, iobes, i_starts;
} scheme_detect;
void scheme_detect_update(scheme_detect *d, const char *const *tags, int n);
recur_tag_scheme scheme_detect_result(const scheme_detect *d);

/* ---- conll.c: a read file ---- */
struct recur_tag_corpus {
    char *path;
    char *text;           /* the file, NULs written after words and tags */
    recur_tag_scheme scheme;
    int64_t n_sent, n_tok;
    int64_t *sent_off;    /* n_sent + 1 token offsets */
    const char **words;   /* n_tok */
    const char **tags;    /* n_tok, NULL when read without tags */
    int64_t *line;        /* n_tok: 1-based line of each token */
};

/* ---- features.c: how a word is looked up ---- */
/* The lookup form of a word: as it is (KEY_EXACT), lower-cased (ASCII,
 * KEY_LOWER), or lower-cased with digits as 0 (KEY_NORMAL); writes at most
 * cap - 1 bytes (a longer word is cut). */
enum { KEY_EXACT = 0, KEY_NORMAL = 1, KEY_LOWER = 2 };
size_t word_key(const char *w, int mode, char *out, size_t cap);
/* Capitalisation class (Collobert et al. 2011): 0 no letters, 1 all lower,
 * 2 all upper, 3 first upper only, 4 mixed. */
#define CAPS_CLASSES 5
int word_caps(const char *w);

#endif

#ifndef RECUR_TAG_NET_DECLS
#define RECUR_TAG_NET_DECLS
#include "tasks/tag/crf.h"

/* ---- vocab.c: the vocabularies of a tagger and encoded corpora ---- */
typedef struct tag_vocabs {
    recur_vocab *words;  /* lookup keys, "<unk>" first */
    recur_vocab *chars;  /* code points, "<unk>" first */
    recur_vocab *labels; /* training labels (IOBES for chunk schemes) */
    int lowercase, max_word_chars;
    recur_tag_scheme scheme; /* of the training file: output converts back to it */
    uint64_t seed;           /* the run's seed (epoch orders derive from it) */
} tag_vocabs;

void tag_vocabs_free(tag_vocabs *v);
/* A JSON array of a vocabulary's tokens in id order / a vocabulary from one. */
char *tag_vocab_json(const recur_vocab *v);
recur_status tag_vocab_from_json(recur_vocab **out, const char *json, const char *what, recur_error *err);

/* An encoded corpus (or batch of sentences to tag). */
typedef struct tag_data {
    int64_t n_sent, n_tok;
    int64_t *sent_off;   /* n_sent + 1 */
    int32_t *word;       /* n_tok word ids */
    uint8_t *caps;       /* n_tok capitalisation classes */
    int64_t *char_off;   /* n_tok + 1 */
    int32_t *chars;      /* char ids, char_off[n_tok] in all */
    int32_t *label;      /* n_tok label ids (-1: not a training label), NULL: no tags */
} tag_data;

void tag_data_free(tag_data *d);

/* ---- embeddings.c: a GloVe or word2vec file (text/word_vectors.h) ---- */
typedef struct tag_embeddings {
    recur_vocab *exact, *normal; /* word -> row; normalised form -> row */
    int32_t *normal_row;         /* row of each `normal` entry */
    float *vec;                  /* rows x dim */
    int dim;
    int64_t rows;
} tag_embeddings;
/* Reads the file, keeping only the entries that a lookup of one of the
 * keys in `keys` (NULL: all) can return: those written as a key or its
 * lower-case form, or with a key's normalised form (so a file of millions
 * of words costs the memory of the words the corpora use). */
recur_status tag_embeddings_read(tag_embeddings *e, const char *path, const recur_vocab *keys, recur_error *err);
void tag_embeddings_free(tag_embeddings *e);
/* The row for a lookup key: exact, then lower-cased, then normalised; -1. */
int64_t tag_embeddings_find(const tag_embeddings *e, const char *key);
/* Encodes sentences: words[sent_off[s]..sent_off[s+1]); tags NULL or in
 * `scheme` (converted to the vocabularies' label scheme). */
recur_status tag_encode(const tag_vocabs *v, const char *const *words, const char *const *tags,
                        recur_tag_scheme scheme, const int64_t *sent_off, int64_t n_sent,
                        tag_data *out, recur_error *err);

/* ---- net.c: the network over batches of sentences ---- */
#define TAG_CHAR_BUCKETS 4
typedef struct tag_net {
    recur_model *m, *chars;
    recur_tensor_info emb, caps, out_w, out_b, trans, start, end;
    int K, E, C, P, in, DH, crf;
    float dropout;
    unsigned char *allowed, *allowed_start, *allowed_end;
    crf_view view;
    recur_run *run;
    int run_T, run_B;
    /* fixed: the weights stay as they are (a loaded tagger): the word run
     * then reads the word embedding's input products from a table
     * (recur_run_cache_input_prefix), made for the run prefix_run */
    int fixed;
    const recur_run *prefix_run;
    /* the words of a batch go through char_rnn in buckets of similar
     * lengths, each its own run: a word is not padded to the batch's
     * longest word (the engine computes padded steps and masks them) */
    struct char_bucket {
        recur_run *run;
        int run_T, run_B, T, B;
        int32_t *ids, *len;
        recur_real *d_hn;
        size_t cap_b, cap_ids;
    } cb[TAG_CHAR_BUCKETS];
    int32_t *word_bucket, *word_index; /* per word of the batch */
    int32_t *len_slot;                 /* (TAG_CHAR_BUCKETS, cT + 1) words of each length */
    int cap_len;
    /* the batch of the last forward */
    int T, B, cT, cB;
    const int64_t *sents; /* sentence indices */
    const tag_data *data;
    int training;
    /* buffers, grown as batches need */
    size_t cap_tb, cap_c;
    recur_real *x, *x_mask, *h, *h_mask, *emit, *d_emit, *d_h;
    int32_t *lengths, *tok_seq, *word_tok; /* word_tok: (T, B) word ids, -1 on padding */
    double *work;
    int32_t *bp, *path;
    size_t cap_work;
} tag_net;

/* The network over a tagger's composite model (tensors found by name). */
recur_status tag_net_init(tag_net *n, recur_model *m, const tag_vocabs *v, double dropout,
                          recur_error *err);
void tag_net_free(tag_net *n);
/* Sizes the buffers and runs for batches of up to `batch` sentences of d
 * at once (else they grow as batches need, recreating the runs). */
recur_status tag_net_reserve(tag_net *n, const tag_data *d, int batch, recur_error *err);
/* Forward over sentences sents[0..B) of d: emissions (T, B, K).  key seeds
 * the task's dropout masks (training only). */
recur_status tag_net_forward(tag_net *n, const tag_data *d, const int64_t *sents, int B, int training,
                             uint64_t key, char *msg);
/* For forwards without training while the weights stay as they are: each
 * character run reads its input products from a table of every
 * character's (recur_run_cache_input_projection; refreshed at each call),
 * and with n->fixed the word run from a table of every word's (made once
 * per run, when it fits in TAG_PREFIX_TABLE_MAX floats). */
#define TAG_PREFIX_TABLE_MAX ((size_t)1 << 25)
recur_status tag_net_cache_inputs(tag_net *n, char *msg);
/* After a forward: the summed loss over the batch's sentences (CRF) or
 * tokens (softmax), gradients scaled by `scale` added into the model's. */
recur_status tag_net_backward(tag_net *n, double scale, double *loss, char *msg);
/* After a forward: the best labels into out, at the corpus's token offsets
 * (out[d->sent_off[s] + t]). */
void tag_net_decode(tag_net *n, int32_t *out);
#endif
