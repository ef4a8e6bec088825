/*
 * s2s_internal.h - the encoder-decoder's pieces shared inside
 * src/tasks/seq2seq/ and with the tests (not installed).
 *
 *  s2s_vocab.c   vocabularies of either side, tokenising, pairs files
 *  s2s_model.c   the composite model: building, opening, its file layout
 *  s2s_attend.c  attention, bridge and output layer, forward and backward
 *  s2s_loss.c    teacher-forced loss and gradients of a padded batch
 *  s2s_decode.c  greedy and beam search, batched
 *  s2s_task.c    training as a trainer task (bucketed batches, dev WER)
 *  s2s_score.c   word and token error rates
 */
#ifndef RECUR_S2S_INTERNAL_H
#define RECUR_S2S_INTERNAL_H

#include "base/internal.h"
#include "recur_seq2seq.h"

/* ---- vocabularies ---- */
struct recur_s2s_vocab {
    recur_lm_level level;
    int32_t n, cap;
    char **tok;
    int64_t *count;
    int32_t *slot; /* open addressing over ids, -1 empty */
    int32_t n_slot;
};

/* Special ids: a source vocabulary has <unk> = 0; a target vocabulary has
 * </s> = 0, <s> = 1, <unk> = 2. */
#define S2S_SRC_UNK 0
#define S2S_EOS 0
#define S2S_BOS 1
#define S2S_TGT_UNK 2

recur_status s2s_vocab_new(recur_s2s_vocab **out, recur_lm_level level, int target);
int32_t s2s_vocab_add(recur_s2s_vocab *v, const char *tok, size_t len);

/* Calls fn(ctx, token, len) for each token of s[0..len): code points at
 * character level, ASCII-whitespace-separated words at word level. */
typedef int (*s2s_token_fn)(void *ctx, const char *tok, size_t len);
int s2s_tokenize(recur_lm_level level, const char *s, size_t len, s2s_token_fn fn, void *ctx);

/* ---- the model ---- */
enum { S2S_ATT_NONE = 0, S2S_ATT_DOT, S2S_ATT_GENERAL, S2S_ATT_ADDITIVE };
enum { S2S_BRIDGE_COPY = 0, S2S_BRIDGE_LINEAR, S2S_BRIDGE_ZERO };

typedef struct s2s_tensor {
    recur_real *w, *g;
} s2s_tensor;

struct recur_s2s {
    recur_s2s_config cfg;
    recur_model *m;      /* the composite; its first model is the decoder stack */
    recur_model *enc;    /* view of the sub-model "encoder" */
    recur_model_file *file; /* when opened from a file */
    recur_s2s_vocab *src, *tgt;
    int att, bridge, feed, lstm;
    int Le, De, He, Ws; /* encoder layers, directions, hidden, output width De*He */
    int Ld, Hd, E, V, A;
    s2s_tensor emb_t;              /* target embedding (input feeding only) */
    s2s_tensor bridge_w, bridge_b, bridge_cw, bridge_cb;
    s2s_tensor att_w;              /* general: [Hd, Ws] */
    s2s_tensor att_q, att_k, att_kb, att_v; /* additive: [A,Hd], [A,Ws], [A], [1,A] */
    s2s_tensor comb_w;             /* [Hd, Ws + Hd] */
    s2s_tensor out_w, out_b;       /* [V, Hd], [V] */
    char *extra_config;            /* recur.config entries of the file */
    char *src_json, *tgt_json;     /* the vocabularies as JSON arrays */
    recur_meta_entry meta[2];
    char errmsg[RECUR_ERRMSG_LEN];
};

/* ---- a padded batch (time-major) ---- */
typedef struct s2s_batch {
    int B, S, T;              /* sources padded to S, targets (+ </s>) to T */
    const int32_t *src;       /* (S, B) */
    const int32_t *src_len;   /* (B) */
    const int32_t *tgt_in;    /* (T, B): <s> y1 .. yn */
    const int32_t *tgt_out;   /* (T, B): y1 .. yn </s>, -1 past the end */
    const int32_t *tgt_len;   /* (B): n + 1 */
} s2s_batch;

/* Activations of one batch kept for backward (sized for max S, T, B). */
typedef struct s2s_work s2s_work;

recur_status s2s_work_create(s2s_work **out, recur_s2s *s, int max_S, int max_T, int max_B,
                             recur_error *err);
void s2s_work_free(s2s_work *w);
/* The last batch's mean label-smoothed loss: what the gradient is of. */
double s2s_work_objective(const s2s_work *w);

/* Teacher-forced forward (training = 1: dropout) and, with backward, the
 * gradient of the mean label-smoothed loss over the batch's target tokens
 * added into the model's gradients.  *nll_sum: the summed cross-entropy
 * (without smoothing), *count: target tokens. */
recur_status s2s_batch_loss(recur_s2s *s, s2s_work *w, const s2s_batch *b, int training,
                            int backward, double label_smoothing, double *nll_sum,
                            int64_t *count, char *msg);

/* ---- weights packed once for decoding (s2s_packed.c) ---- */
enum { S2S_PK_KEYS, S2S_PK_COMB_CTX, S2S_PK_COMB_H, S2S_PK_OUT, S2S_PK_BRIDGE, S2S_PK_BRIDGE_C, S2S_PK_COUNT };
typedef struct s2s_packed s2s_packed;
/* *out = NULL (and RECUR_OK) where there is no packed kernel: products then
 * multiply the weights in place. */
recur_status s2s_packed_create(s2s_packed **out, const recur_s2s *s, recur_error *err);
void s2s_packed_free(s2s_packed *pk);
/* C (M x N) = A W^T (+ C when accumulate) for W (N x K, row stride ldw), the
 * weight `which`; from its packing when pk has one (NULL: none), on recur's
 * threads. */
void s2s_product(const s2s_packed *pk, int which, int M, int N, int K, const recur_real *A, int lda,
                 const recur_real *W, int ldw, int accumulate, recur_real *C, int ldc);

/* ---- pieces of the network (s2s_attend.c) ----
 * The forward functions take the weights' packing pk (s2s_packed.c), NULL
 * while training.
 * E (S, N, Ws) encoder outputs; a query row r attends to source row_src[r]
 * over its src_len[row_src[r]] positions. */
typedef struct s2s_keys {
    int S, N;
    const recur_real *E;      /* (S, N, Ws) */
    recur_real *K;            /* general: (S, N, Hd) = E W^T; additive: (S, N, A) = E Wk^T + bk */
    const int32_t *src_len;   /* (N) */
} s2s_keys;

void s2s_keys_compute(const recur_s2s *s, const s2s_packed *pk, s2s_keys *k);
/* Attention of R query rows h (R, Hd): alpha (R, S), ctx (R, Ws); additive
 * keeps u (R, S, A) = tanh(q + k) and Q (R, A) scratch. */
void s2s_attend_forward(const recur_s2s *s, const s2s_keys *k, int R, const int32_t *row_src,
                        const recur_real *h, recur_real *alpha, recur_real *ctx, recur_real *Q,
                        recur_real *u);
/* Backward of s2s_attend_forward: given d_ctx (R, Ws), adds into d_h (R, Hd),
 * d_E (S, N, Ws), d_K (S, N, Hd or A) and the attention's weight gradients
 * (d_Q (R, A) scratch; d_K is turned into d_E and weight gradients by
 * s2s_keys_backward afterwards). */
void s2s_attend_backward(recur_s2s *s, const s2s_keys *k, int R, const int32_t *row_src,
                         const recur_real *h, const recur_real *alpha, const recur_real *u,
                         const recur_real *d_ctx, recur_real *d_h, recur_real *d_E,
                         recur_real *d_K, recur_real *d_Q);
void s2s_keys_backward(recur_s2s *s, const s2s_keys *k, const recur_real *d_K, recur_real *d_E);

/* The attentional vector att (R, Hd) = tanh(W_c [ctx; h]), or h itself
 * without attention. */
void s2s_combine_forward(const recur_s2s *s, const s2s_packed *pk, int R, const recur_real *ctx, const recur_real *h,
                         recur_real *att);
/* d_att (R, Hd) -> d_ctx (R, Ws) (set) and d_h (R, Hd) (added); d_pre (R, Hd)
 * scratch. */
void s2s_combine_backward(recur_s2s *s, int R, const recur_real *ctx, const recur_real *h,
                          const recur_real *att, const recur_real *d_att, recur_real *d_pre,
                          recur_real *d_ctx, recur_real *d_h);

/* The decoder's initial states from the encoder's final ones: h0 (Ld, N, Hd),
 * c0 (Ld, N, Hd) (LSTM).  Returns 0 when the decoder starts from zeros. */
int s2s_bridge_forward(const recur_s2s *s, const s2s_packed *pk, int N, const recur_real *hn, const recur_real *cn,
                       recur_real *x, recur_real *h0, recur_real *c0);
/* d_h0, d_c0 -> d_hn (Le*De, N, He), d_cn (set); x scratch (Ld, N, Ws). */
void s2s_bridge_backward(recur_s2s *s, int N, const recur_real *hn, const recur_real *cn,
                         const recur_real *h0, const recur_real *c0, const recur_real *d_h0,
                         const recur_real *d_c0, recur_real *x, recur_real *dx, recur_real *d_hn,
                         recur_real *d_cn);

/* logits (R, V) = att W_o^T + b_o. */
void s2s_output_forward(const recur_s2s *s, const s2s_packed *pk, int R, const recur_real *att, recur_real *logits);

/* ---- decoding (s2s_decode.c) ---- */
/* A decoder works with the weights as they are when it is created (it
 * keeps products of them): create another after they change. */
typedef struct s2s_decoder s2s_decoder;
recur_status s2s_decoder_create(s2s_decoder **out, recur_s2s *s, int max_N, int max_S, int beam,
                                recur_error *err);
void s2s_decoder_free(s2s_decoder *d);
/* Tests: K = 1 through the beam's code instead of greedy search's. */
void s2s_decoder_force_beam(s2s_decoder *d, int on);
/* Decodes N sources (ids, lengths) at once; res[i] gets up to nbest
 * hypotheses.  The caller frees with recur_s2s_result_clear. */
recur_status s2s_decode_many(s2s_decoder *d, const int32_t *const *src, const int *len, int N,
                             const recur_s2s_decode_config *dc, recur_s2s_result *res,
                             recur_error *err);

/* ---- scoring ---- */
/* Levenshtein distance between token sequences a[0..n) and b[0..m). */
int s2s_edit_distance(const int32_t *a, int n, const int32_t *b, int m);

#endif
