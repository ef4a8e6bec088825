/*
 * recur_seq2seq.h - encoder-decoder RNNs (the conditional language model):
 * an encoder reads a source sequence, a decoder started from its final
 * states (through a bridge where sizes differ) generates the target one
 * token at a time, optionally attending over the encoder's states (Luong et
 * al. 2015, Bahdanau et al. 2015) with input feeding.  Trained on the
 * shared trainer (recur_train.h); decoded greedily or by beam search.
 * docs/seq2seq.md has the recipes, the equations and the file layout.
 *
 * Data are pairs `source<TAB>target`, one a line; each side read as
 * characters or as whitespace-separated words.  Further tab-separated
 * fields on a line, and further lines with the same source, are further
 * correct targets (references) of that source.
 */
#ifndef RECUR_SEQ2SEQ_H
#define RECUR_SEQ2SEQ_H

#include "recur_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- pairs files ---------------------------------------------------------- */

typedef struct recur_s2s_pairs recur_s2s_pairs;

/* Flags of recur_s2s_pairs_parse. */
#define RECUR_S2S_SOURCES_ONLY 1 /* lines need no target (decoding input): a line's first field is its source */

/* Reads pairs from text in memory (name used in messages) or a file.
 * Errors name the file and line: no tab, an empty source or target,
 * invalid UTF-8, a NUL byte.  Empty lines are skipped; a '\r' before '\n' is
 * dropped.  Sources keep their first-appearance order. */
RECUR_API recur_status recur_s2s_pairs_parse(recur_s2s_pairs **out, const char *text, size_t len,
                                             const char *name, recur_lm_level src_level,
                                             recur_lm_level tgt_level, int flags,
                                             recur_error *err);
RECUR_API recur_status recur_s2s_pairs_read(recur_s2s_pairs **out, const char *path,
                                            recur_lm_level src_level, recur_lm_level tgt_level,
                                            int flags, recur_error *err);
RECUR_API void recur_s2s_pairs_free(recur_s2s_pairs *p);
/* Distinct sources, and the targets (references) of source i. */
RECUR_API size_t recur_s2s_pairs_sources(const recur_s2s_pairs *p);
RECUR_API const char *recur_s2s_pairs_source(const recur_s2s_pairs *p, size_t i);
RECUR_API int recur_s2s_pairs_num_targets(const recur_s2s_pairs *p, size_t i);
RECUR_API const char *recur_s2s_pairs_target(const recur_s2s_pairs *p, size_t i, int k);
/* All (source, target) pairs: the sum of every source's targets. */
RECUR_API size_t recur_s2s_pairs_count(const recur_s2s_pairs *p);

/* ---- vocabularies ------------------------------------------------------------ */

typedef struct recur_s2s_vocab recur_s2s_vocab;

RECUR_API void recur_s2s_vocab_free(recur_s2s_vocab *v);
RECUR_API int32_t recur_s2s_vocab_size(const recur_s2s_vocab *v);
RECUR_API const char *recur_s2s_vocab_token(const recur_s2s_vocab *v, int32_t id);
/* -1 when absent. */
RECUR_API int32_t recur_s2s_vocab_find(const recur_s2s_vocab *v, const char *tok, size_t len);

/* ---- the model -------------------------------------------------------------- */

typedef struct recur_s2s_config {
    recur_lm_level source_level, target_level;
    recur_cell cell;          /* encoder and decoder */
    int source_embed, target_embed;
    int encoder_layers, encoder_hidden, bidirectional;
    int decoder_layers, decoder_hidden;
    const char *attention;    /* "none", "dot", "general", "additive" */
    int attention_size;       /* additive: the hidden width of the score (0: decoder_hidden) */
    int input_feeding;        /* 1: the decoder's input holds the last attentional vector */
    const char *bridge;       /* "auto" (copy where sizes match, else linear), "linear", "zero" */
    float dropout;            /* embeddings, between layers, on the attentional vector */
    double init_scale;        /* U(-s, s) for every parameter */
} recur_s2s_config;

RECUR_API void recur_s2s_config_default(recur_s2s_config *c);

/* A model with its vocabularies: the composite recur_model (the decoder
 * stack first, the sub-model "encoder", the bridge, attention and output
 * layers as tensors) and the settings its file carries. */
typedef struct recur_s2s recur_s2s;

/* Builds the vocabularies from the training pairs (every token seen; the
 * specials <unk> for sources and </s>, <s>, <unk> for targets) and a new
 * model initialised from seed. */
RECUR_API recur_status recur_s2s_create(recur_s2s **out, const recur_s2s_config *cfg,
                                        const recur_s2s_pairs *train, uint64_t seed,
                                        recur_error *err);
/* Opens a model file written by `recur seq2seq train` (recur.config
 * "task":"seq2seq"), or restores one from an opened checkpoint (the model is
 * loaded from it; the checkpoint may be closed afterwards). */
RECUR_API recur_status recur_s2s_open(recur_s2s **out, const char *path, recur_error *err);
RECUR_API recur_status recur_s2s_from_checkpoint(recur_s2s **out, recur_checkpoint *ck,
                                                 recur_error *err);
RECUR_API void recur_s2s_free(recur_s2s *s);
RECUR_API const char *recur_s2s_errmsg(const recur_s2s *s);
RECUR_API recur_model *recur_s2s_model(recur_s2s *s);
RECUR_API const recur_s2s_config *recur_s2s_get_config(const recur_s2s *s);
RECUR_API const recur_s2s_vocab *recur_s2s_source_vocab(const recur_s2s *s);
RECUR_API const recur_s2s_vocab *recur_s2s_target_vocab(const recur_s2s *s);
/* What its files carry: recur.config entries and __metadata__ (the two
 * vocabularies); valid while s lives. */
RECUR_API const char *recur_s2s_extra_config(const recur_s2s *s);
RECUR_API const recur_meta_entry *recur_s2s_meta(const recur_s2s *s, int *n);

/* A source text as ids (tokens outside the vocabulary become <unk>, counted
 * in *n_unk, which may be NULL); *ids malloc'd. */
RECUR_API recur_status recur_s2s_encode_source(const recur_s2s *s, const char *text, size_t len,
                                               int32_t **ids, int *n, int *n_unk,
                                               recur_error *err);
/* Target ids as text (characters joined, words joined by one space);
 * malloc'd. */
RECUR_API char *recur_s2s_target_text(const recur_s2s *s, const int32_t *ids, int n);

/* ---- decoding ------------------------------------------------------------------ */

typedef struct recur_s2s_decode_config {
    int beam;              /* 1: greedy */
    int nbest;             /* hypotheses returned, <= beam */
    double length_alpha;   /* beam ranks by logprob / length^alpha (length counts </s>); 0: none */
    double max_len_ratio;  /* at most ratio * source length + max_len_extra tokens, then </s> */
    int max_len_extra;
    int batch;             /* sources decoded side by side */
} recur_s2s_decode_config;

RECUR_API void recur_s2s_decode_config_default(recur_s2s_decode_config *c);

typedef struct recur_s2s_hyp {
    int32_t *ids;   /* target ids without </s> */
    int n;
    double logprob; /* ln p(ids, </s> | source) */
    double score;   /* what the beam ranked by */
} recur_s2s_hyp;

typedef struct recur_s2s_result {
    recur_s2s_hyp *hyps; /* best first */
    int n;
} recur_s2s_result;

RECUR_API void recur_s2s_result_clear(recur_s2s_result *r);

/* Decodes n sources given as ids (n may exceed dc->batch: they are taken in
 * groups).  res[i] is each source's result, as if decoded alone. */
RECUR_API recur_status recur_s2s_decode_ids(recur_s2s *s, const int32_t *const *src,
                                            const int *len, int n,
                                            const recur_s2s_decode_config *dc,
                                            recur_s2s_result *res, recur_error *err);
/* One source as text: its hypotheses as malloc'd strings (out[k], k <
 * *n_out <= nbest; free each and the array) with their log-probabilities
 * (logprob may be NULL). */
RECUR_API recur_status recur_s2s_decode_text(recur_s2s *s, const char *text,
                                             const recur_s2s_decode_config *dc, char ***out,
                                             double **logprob, int *n_out, recur_error *err);

/* ---- scoring ------------------------------------------------------------------ */

/* Word error rate: the 1-best is not among the references; token error
 * rate: the edit distance to the closest reference over that reference's
 * length, summed over words; oracle: some n-best hypothesis is a reference. */
typedef struct recur_s2s_score {
    int64_t words, word_errors, oracle_hits;
    int64_t token_edits, ref_tokens;
} recur_s2s_score;

/* Adds one source's scoring: hyps[0..n_hyp) best first (n_hyp 0: an empty
 * output), refs[0..n_ref) (n_ref >= 1), tokenised at level. */
RECUR_API void recur_s2s_score_add(recur_s2s_score *sc, recur_lm_level level,
                                   const char *const *hyps, int n_hyp, const char *const *refs,
                                   int n_ref);
RECUR_API double recur_s2s_wer(const recur_s2s_score *sc);  /* percent */
RECUR_API double recur_s2s_ter(const recur_s2s_score *sc);  /* percent */
RECUR_API double recur_s2s_oracle(const recur_s2s_score *sc); /* percent accuracy */

/* ---- training as a trainer task --------------------------------------------------- */

typedef struct recur_s2s_task recur_s2s_task;

typedef struct recur_s2s_task_config {
    int batch;                /* pairs per step, bucketed by length */
    double label_smoothing;
    recur_s2s_decode_config eval; /* how dev is decoded (greedy by default) */
    int max_dev;              /* sources of dev evaluated, 0: all */
    uint64_t seed;            /* the batches' order in each epoch derives from seed and epoch */
} recur_s2s_task_config;

RECUR_API void recur_s2s_task_config_default(recur_s2s_task_config *c);
/* The task keeps pointers to s, train and dev until freed.  Training pairs
 * whose sides exceed no limit; dev is scored by WER (decisive), token error
 * rate and loss. */
RECUR_API recur_status recur_s2s_task_create(recur_s2s_task **out, recur_s2s *s,
                                             const recur_s2s_pairs *train,
                                             const recur_s2s_pairs *dev,
                                             const recur_s2s_task_config *cfg, recur_error *err);
RECUR_API void recur_s2s_task_free(recur_s2s_task *t);
/* The callbacks, with extra_config and meta of the model set. */
RECUR_API recur_task recur_s2s_task_callbacks(recur_s2s_task *t);
/* Scores every source of p (refs = its targets) with decoding dc; the
 * n-best of each source is passed to fn (may be NULL) in order. */
typedef void (*recur_s2s_output_fn)(void *ctx, const char *source, const recur_s2s_result *res);
RECUR_API recur_status recur_s2s_evaluate(recur_s2s *s, const recur_s2s_pairs *p,
                                          const recur_s2s_decode_config *dc, size_t max_sources,
                                          recur_s2s_score *sc, recur_s2s_output_fn fn, void *ctx,
                                          recur_error *err);

#ifdef __cplusplus
}
#endif
#endif /* RECUR_SEQ2SEQ_H */
