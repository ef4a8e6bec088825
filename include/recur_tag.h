/*
 * recur_tag.h - sequence tagging with librecur: bidirectional recurrent
 * taggers (part of speech, named entities) with a softmax or a linear-chain
 * CRF output, the CoNLL column files they read, the tag schemes of chunks
 * (IOB1, IOB2, IOBES) and the chunk scorer of the CoNLL shared tasks
 * (`conlleval`).  docs/tag.md has the recipes.
 *
 * A tagger's model file is a checkpoint (recur.h) whose recur.config says
 * "task":"tag"; its __metadata__ holds the word, character and label
 * vocabularies and the tagger's settings ("recur.tag.*").  The model is one
 * composite model: the word-level bidirectional stack reading float inputs
 * (word embedding | character features | capitalisation embedding), the
 * tensor parts "embedding.weight", "caps_embedding.weight",
 * "hidden2tag.weight", "hidden2tag.bias", "crf.transitions" (from x to),
 * "crf.start_transitions", "crf.end_transitions", and the sub-model
 * "char_rnn" (Lample et al. 2016).
 */
#ifndef RECUR_TAG_H
#define RECUR_TAG_H

#include <stdio.h>

#include "recur.h"
#include "recur_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tag schemes ---------------------------------------------------------- */

/* PLAIN: labels without chunks (part of speech).  The chunk schemes mark
 * each token "O" or "P-TYPE":
 *  IOB1  I- inside a chunk; B- only starts a chunk that follows a chunk of
 *        the same type (CoNLL-2003's NER column);
 *  IOB2  B- starts every chunk, I- continues it;
 *  IOBES B- begins, I- continues, E- ends a chunk of several tokens, S- is a
 *        chunk of one token. */
typedef enum recur_tag_scheme {
    RECUR_TAGS_PLAIN = 0,
    RECUR_TAGS_IOB1,
    RECUR_TAGS_IOB2,
    RECUR_TAGS_IOBES
} recur_tag_scheme;

#define RECUR_TAG_MAX 64 /* bytes of a tag, its NUL included */

/* "plain", "iob1", "iob2", "iobes"; parse returns -1 for anything else. */
RECUR_API const char *recur_tag_scheme_name(recur_tag_scheme s);
RECUR_API int recur_tag_scheme_parse(const char *name);

/* Rewrites the tags of one sentence from one chunk scheme into another.
 * Chunks are read as conlleval reads them (a type change or a B-/S- starts
 * a chunk; an I- after O starts one), so any sequence converts; a tag
 * whose prefix is not of `from` (E- in IOB2, a tag without "P-"), or a tag
 * of RECUR_TAG_MAX bytes or more, is RECUR_ERR_FORMAT naming its position.
 * PLAIN converts only to PLAIN (a copy). */
RECUR_API recur_status recur_tags_convert(const char *const *tags, int n, recur_tag_scheme from,
                                          recur_tag_scheme to, char (*out)[RECUR_TAG_MAX],
                                          recur_error *err);

/* ---- the chunk scorer ------------------------------------------------------ */

/* Counts as the CoNLL `conlleval` script counts: a chunk is correct when
 * gold and guess start it at the same token, with the same type, and end it
 * at the same token; token accuracy counts tokens whose tags are equal.
 * Sentence breaks end every chunk; a line whose word is "-X-" counts as a
 * break too (conlleval's boundary), "-DOCSTART-" lines are tokens. */
typedef struct recur_conlleval recur_conlleval;

typedef struct recur_chunk_score {
    char type[RECUR_TAG_MAX];           /* "" for the overall row */
    int64_t gold, guessed, correct;     /* chunks */
    double precision, recall, f1;       /* percentages, 0 when undefined */
} recur_chunk_score;

typedef struct recur_conlleval_result {
    int64_t tokens, correct_tags;
    double accuracy;                    /* percentage of tokens */
    recur_chunk_score overall;
} recur_conlleval_result;

RECUR_API recur_status recur_conlleval_create(recur_conlleval **out, recur_error *err);
RECUR_API void recur_conlleval_free(recur_conlleval *e);
/* One token line: its word (first column), the gold and the guessed tag.
 * word NULL is a sentence break (an empty line).  RECUR_ERR_NOMEM or
 * RECUR_ERR_ARG (a tag of RECUR_TAG_MAX bytes or more). */
RECUR_API recur_status recur_conlleval_add(recur_conlleval *e, const char *word, const char *gold,
                                           const char *guess);
/* The figures so far (a chunk still open counts as ended). */
RECUR_API void recur_conlleval_result_get(const recur_conlleval *e, recur_conlleval_result *r);
/* Chunk types seen in gold or guesses, in byte order. */
RECUR_API int recur_conlleval_num_types(const recur_conlleval *e);
RECUR_API void recur_conlleval_type(const recur_conlleval *e, int i, recur_chunk_score *s);
/* conlleval's report, line for line ("processed N tokens with ..."):
 * malloc'd text, NULL when memory runs out. */
RECUR_API char *recur_conlleval_report(const recur_conlleval *e);

/* ---- CoNLL column files ---------------------------------------------------- */

/* A file of one token a line (columns separated by spaces or tabs), a
 * blank line between sentences, "-DOCSTART-" lines skipped. */
typedef struct recur_tag_read_config {
    int word_column;   /* 1-based (default 1) */
    int tag_column;    /* 1-based; 0: the last (default 0); -1: no tags (text to tag) */
    int max_length;    /* longest sentence accepted, in tokens (default 1000) */
    int scheme;        /* a recur_tag_scheme, or -1 to detect it (default -1) */
} recur_tag_read_config;

RECUR_API void recur_tag_read_config_default(recur_tag_read_config *c);

typedef struct recur_tag_corpus recur_tag_corpus;

/* Reads a whole file.  Errors name the file and line: a line with fewer
 * columns than asked for or a different number than the file's first line,
 * a tag outside the scheme, a sentence longer than max_length, an empty
 * file, invalid UTF-8.  Detection: IOBES when an E- or S- tag occurs, IOB1
 * when an I- tag starts a chunk, IOB2 when every tag is O or B-/I-,
 * otherwise PLAIN. */
RECUR_API recur_status recur_tag_corpus_read(recur_tag_corpus **out, const char *path,
                                             const recur_tag_read_config *cfg, recur_error *err);
RECUR_API void recur_tag_corpus_free(recur_tag_corpus *c);
RECUR_API int64_t recur_tag_corpus_sentences(const recur_tag_corpus *c);
RECUR_API int64_t recur_tag_corpus_tokens(const recur_tag_corpus *c);
RECUR_API recur_tag_scheme recur_tag_corpus_scheme(const recur_tag_corpus *c);
RECUR_API const char *recur_tag_corpus_path(const recur_tag_corpus *c);

/* ---- the tagger's model ------------------------------------------------------ */

typedef struct recur_tagger_config {
    int word_dim;          /* word embedding size (default 100) */
    int lowercase;         /* 1: words looked up lower-cased, digits as 0 (default 1) */
    int min_count;         /* training words seen fewer times are <unk> (default 1) */
    double unk_replace;    /* training singletons read as <unk> with this probability (0.5) */
    int char_dim;          /* character embedding size (25); 0 with char_hidden 0: none */
    int char_hidden;       /* character BiLSTM size per direction (25), 0: no characters */
    int max_word_chars;    /* characters of a word the character RNN reads (32) */
    int caps_dim;          /* capitalisation feature embedding (0: none) */
    recur_cell cell;       /* word-level stack (LSTM) */
    int hidden;            /* per direction (100) */
    int layers;            /* 1 */
    double dropout;        /* on the stack's input and output, and between layers (0.5) */
    int crf;               /* 1: linear-chain CRF (default), 0: softmax per token */
    const char *embeddings; /* GloVe text, word2vec text or binary; NULL: random */
} recur_tagger_config;

RECUR_API void recur_tagger_config_default(recur_tagger_config *c);

/* ---- training as a trainer task (recur_train.h) --------------------------- */

typedef struct recur_tag_task recur_tag_task;

/* Builds the vocabularies from train (words, characters, labels in IOBES
 * for chunk schemes), the model (seeded by seed) and the task: batches of
 * `batch` sentences of similar lengths, shuffled each epoch by the epoch's
 * number; evaluation tags dev (F1 decides for chunk schemes, accuracy for
 * PLAIN).  With cfg->embeddings, the words of every corpus given that the
 * file covers join the vocabulary and start from the file's vectors.  The
 * task keeps pointers to the corpora until freed. */
RECUR_API recur_status recur_tag_task_create(recur_tag_task **out, const recur_tagger_config *cfg,
                                             const recur_tag_corpus *train,
                                             const recur_tag_corpus *dev,
                                             const recur_tag_corpus *test, int batch,
                                             uint64_t seed, recur_error *err);
/* The same from a run's checkpoint (vocabularies, settings and model from
 * the file), for resuming. */
RECUR_API recur_status recur_tag_task_open(recur_tag_task **out, const char *checkpoint,
                                           const recur_tag_corpus *train,
                                           const recur_tag_corpus *dev, int batch,
                                           recur_error *err);
RECUR_API void recur_tag_task_free(recur_tag_task *t);
RECUR_API recur_model *recur_tag_task_model(recur_tag_task *t);
/* The callbacks with extra_config and meta set. */
RECUR_API recur_task recur_tag_task_callbacks(recur_tag_task *t);
/* Words (with <unk>), characters, labels of the model; embedding rows the
 * pretrained file filled (0 without one). */
RECUR_API void recur_tag_task_sizes(const recur_tag_task *t, int *words, int *chars, int *labels,
                                    int *pretrained);

/* ---- a tagger loaded from its file ---------------------------------------- */

typedef struct recur_tagger recur_tagger;

RECUR_API recur_status recur_tagger_open(recur_tagger **out, const char *path, recur_error *err);
RECUR_API void recur_tagger_free(recur_tagger *t);
RECUR_API const char *recur_tagger_errmsg(const recur_tagger *t);
/* The scheme its tags come out in (that of its training file). */
RECUR_API recur_tag_scheme recur_tagger_scheme(const recur_tagger *t);
/* Tags words[0..n) (n >= 1): tags[i] gets the tag of words[i], text owned
 * by the tagger, valid until its next call. */
RECUR_API recur_status recur_tagger_tag(recur_tagger *t, const char *const *words, int n,
                                        const char **tags);
/* Tags n_sents sentences together (faster): sentence s is
 * words[off[s]..off[s+1]); tags as words. */
RECUR_API recur_status recur_tagger_tag_batch(recur_tagger *t, const char *const *words,
                                              const int64_t *off, int n_sents, const char **tags);
/* Tags a corpus (in batches) and scores it against its tags into e (which
 * may already hold counts). */
RECUR_API recur_status recur_tagger_eval_corpus(recur_tagger *t, const recur_tag_corpus *c,
                                                recur_conlleval *e);

#ifdef __cplusplus
}
#endif
#endif /* RECUR_TAG_H */
