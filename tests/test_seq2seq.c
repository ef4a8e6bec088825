/*
 * test_seq2seq.c - the encoder-decoder's data, decoding, scoring and files.
 *
 *  pairs       references from extra fields and repeated sources, CRLF and
 *              empty lines; malformed input (no tab, empty side, invalid
 *              UTF-8) rejected naming file and line.
 *  scoring     hand-worked WER, token error rate and oracle with several
 *              references and an empty output.
 *  beam        K = 1 through the beam's code equals greedy search (ids and
 *              log-probabilities); a wide beam finds the sequence that
 *              enumeration of every output finds best, with its
 *              teacher-forced log-probability.
 *  padding     a padded batch gives each pair its loss and gradient alone;
 *              batched decoding gives each source its result alone.
 *  files       a model written as a checkpoint opens with recur_s2s_open and
 *              decodes the same; the text API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "tasks/seq2seq/s2s_internal.h"

static char bindir[512] = "."; /* where the test binary lives (torch files go there) */

/* ---- pairs ---- */

static recur_status parse(const char *text, recur_s2s_pairs **p, recur_error *err)
{
    return recur_s2s_pairs_parse(p, text, strlen(text), "data.tsv", RECUR_LEVEL_CHAR,
                                 RECUR_LEVEL_WORD, 0, err);
}

static void test_pairs(void **state)
{
    (void)state;
    recur_s2s_pairs *p;
    recur_error err;
    const char *text = "ABS\tAE B Z\tEY B IY EH S\r\n\nCAT\tK AE T\nABS\tAH B Z\nABS\tAE B Z\n";
    assert_int_equal(parse(text, &p, &err), RECUR_OK);
    assert_int_equal(recur_s2s_pairs_sources(p), 2);
    assert_string_equal(recur_s2s_pairs_source(p, 0), "ABS");
    assert_int_equal(recur_s2s_pairs_num_targets(p, 0), 3); /* the repeated one counts once */
    assert_string_equal(recur_s2s_pairs_target(p, 0, 1), "EY B IY EH S");
    assert_string_equal(recur_s2s_pairs_target(p, 0, 2), "AH B Z");
    assert_int_equal(recur_s2s_pairs_count(p), 4);
    recur_s2s_pairs_free(p);
    /* sources only: the first field */
    assert_int_equal(recur_s2s_pairs_parse(&p, "ONE\nTWO\tT UW\n", 12, "in", RECUR_LEVEL_CHAR,
                                           RECUR_LEVEL_WORD, RECUR_S2S_SOURCES_ONLY, &err),
                     RECUR_OK);
    assert_int_equal(recur_s2s_pairs_sources(p), 2);
    assert_string_equal(recur_s2s_pairs_source(p, 1), "TWO");
    recur_s2s_pairs_free(p);
}

static void expect_error(const char *text, size_t len, const char *needle)
{
    recur_s2s_pairs *p = (recur_s2s_pairs *)1;
    recur_error err;
    recur_status st = recur_s2s_pairs_parse(&p, text, len, "data.tsv", RECUR_LEVEL_CHAR,
                                            RECUR_LEVEL_WORD, 0, &err);
    assert_int_not_equal(st, RECUR_OK);
    assert_null(p);
    if (!strstr(err.msg, needle))
        fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, needle);
    assert_non_null(strstr(err.msg, needle));
}

static void test_malformed(void **state)
{
    (void)state;
    const char *no_tab = "A\tEY\nB BIY\n";
    expect_error(no_tab, strlen(no_tab), "data.tsv:2: no tab");
    const char *empty_src = "A\tEY\n\nB\tB IY\n\tK\n";
    expect_error(empty_src, strlen(empty_src), "data.tsv:4: the source is empty");
    const char *empty_tgt = "A\tEY\nB\t  \n";
    expect_error(empty_tgt, strlen(empty_tgt), "data.tsv:2: a target is empty");
    const char *empty_ref = "A\tEY\t\n";
    expect_error(empty_ref, strlen(empty_ref), "data.tsv:1: a target is empty");
    const char bad_utf8[] = "A\tEY\nB\tB IY\nC\xff\tS IY\n";
    expect_error(bad_utf8, sizeof bad_utf8 - 1, "line 3");
}

/* ---- scoring ---- */

static void test_scoring(void **state)
{
    (void)state;
    recur_s2s_score sc = {0};
    const char *refs1[] = {"AE B Z", "EY B IY EH S"};
    const char *hyp_right[] = {"EY B IY EH S"};
    recur_s2s_score_add(&sc, RECUR_LEVEL_WORD, hyp_right, 1, refs1, 2);
    /* one substitution from the closest reference (K AE T, 3 tokens) */
    const char *refs2[] = {"K AE T", "K AA T S"};
    const char *hyp_wrong[] = {"K AH T", "K AE T"};
    recur_s2s_score_add(&sc, RECUR_LEVEL_WORD, hyp_wrong, 2, refs2, 2);
    /* an empty output: every token of the shortest reference is an edit */
    const char *refs3[] = {"D AO G Z", "D AA G"};
    recur_s2s_score_add(&sc, RECUR_LEVEL_WORD, NULL, 0, refs3, 2);
    assert_int_equal(sc.words, 3);
    assert_int_equal(sc.word_errors, 2);
    assert_int_equal(sc.oracle_hits, 2);
    assert_int_equal(sc.token_edits, 0 + 1 + 3);
    assert_int_equal(sc.ref_tokens, 5 + 3 + 3);
    assert_true(fabs(recur_s2s_wer(&sc) - 200.0 / 3) < 1e-9);
    assert_true(fabs(recur_s2s_ter(&sc) - 400.0 / 11) < 1e-9);
    assert_true(fabs(recur_s2s_oracle(&sc) - 200.0 / 3) < 1e-9);
    /* character level: "KAT" vs "CAT" is one edit of three; spaces are tokens */
    recur_s2s_score c = {0};
    const char *r[] = {"CAT"}, *h[] = {"KAT"};
    recur_s2s_score_add(&c, RECUR_LEVEL_CHAR, h, 1, r, 1);
    assert_int_equal(c.token_edits, 1);
    assert_int_equal(c.ref_tokens, 3);
    /* the edit distance itself */
    const int32_t a[] = {1, 2, 3, 4}, b[] = {2, 3, 5, 4, 6};
    assert_int_equal(s2s_edit_distance(a, 4, b, 5), 3);
    assert_int_equal(s2s_edit_distance(a, 0, b, 5), 5);
}

/* ---- a small model ---- */

static const char TRAIN[] = "abc\tX Y\nbcaab\tY Z X\nca\tZ\ndab\tX\ncab\tY Y\n";

static recur_s2s *make(const char *attention, int feed, double init)
{
    recur_s2s_pairs *p;
    recur_error err;
    assert_int_equal(parse(TRAIN, &p, &err), RECUR_OK);
    recur_s2s_config c;
    recur_s2s_config_default(&c);
    c.source_embed = 5;
    c.target_embed = 6;
    c.encoder_hidden = 7;
    c.decoder_hidden = 8;
    c.decoder_layers = 2;
    c.attention = attention;
    c.input_feeding = feed;
    c.dropout = 0;
    c.init_scale = init;
    recur_s2s *s = NULL;
    recur_status st = recur_s2s_create(&s, &c, p, 3, &err);
    if (st)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, RECUR_OK);
    recur_s2s_pairs_free(p);
    return s;
}

static const int32_t SRC[4][6] = {{1, 2, 3}, {2, 3, 1, 1, 2, 4}, {3, 1}, {4, 1, 2, 2}};
static const int SRC_LEN[4] = {3, 6, 2, 4};

static void same_result(const recur_s2s_result *a, const recur_s2s_result *b, double tol)
{
    assert_int_equal(a->n, b->n);
    for (int k = 0; k < a->n; k++) {
        assert_int_equal(a->hyps[k].n, b->hyps[k].n);
        assert_memory_equal(a->hyps[k].ids, b->hyps[k].ids, (size_t)a->hyps[k].n * sizeof(int32_t));
        assert_true(fabs(a->hyps[k].logprob - b->hyps[k].logprob) <= tol);
    }
}

static void decode_with(recur_s2s *s, const int32_t *const *src, const int *len, int N, int beam,
                        int force_beam, const recur_s2s_decode_config *dc0, recur_s2s_result *res)
{
    recur_s2s_decode_config dc = *dc0;
    dc.beam = beam;
    s2s_decoder *d;
    recur_error err;
    int max_S = 0;
    for (int i = 0; i < N; i++)
        max_S = len[i] > max_S ? len[i] : max_S;
    assert_int_equal(s2s_decoder_create(&d, s, N, max_S, beam, &err), RECUR_OK);
    s2s_decoder_force_beam(d, force_beam);
    recur_status st = s2s_decode_many(d, src, len, N, &dc, res, &err);
    if (st)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, RECUR_OK);
    s2s_decoder_free(d);
}

static void test_beam1_is_greedy(void **state)
{
    (void)state;
    const char *atts[] = {"none", "general", "additive", "general"};
    for (int v = 0; v < 4; v++) {
        recur_s2s *s = make(atts[v], v == 3, 0.6);
        s->out_b.w[S2S_EOS] -= 1; /* longer outputs: more steps compared */
        const int32_t *src[4] = {SRC[0], SRC[1], SRC[2], SRC[3]};
        recur_s2s_decode_config dc;
        recur_s2s_decode_config_default(&dc);
        dc.max_len_ratio = 1.5;
        dc.max_len_extra = 2;
        recur_s2s_result g[4], b[4], g8[8];
        decode_with(s, src, SRC_LEN, 4, 1, 0, &dc, g);
        decode_with(s, src, SRC_LEN, 4, 1, 1, &dc, b);
        /* 8 rows: the decoder's weights packed once (5 rows or more), the
         * same words as 4 rows that multiply them in place */
        const int32_t *src8[8];
        int len8[8];
        for (int i = 0; i < 8; i++) {
            src8[i] = SRC[(i + 1) % 4];
            len8[i] = SRC_LEN[(i + 1) % 4];
        }
        decode_with(s, src8, len8, 8, 1, 0, &dc, g8);
        for (int i = 0; i < 8; i++) {
            same_result(&g8[i], &g[(i + 1) % 4], 1e-4);
            recur_s2s_result_clear(&g8[i]);
        }
        int total = 0;
        for (int i = 0; i < 4; i++) {
            same_result(&g[i], &b[i], 1e-9);
            total += g[i].hyps[0].n;
            recur_s2s_result_clear(&g[i]);
            recur_s2s_result_clear(&b[i]);
        }
        assert_true(total > 0); /* not all empty: the comparison has something to compare */
        recur_s2s_free(s);
    }
}

/* ln p(y </s> | x) by the teacher-forced loss (the training path). */
static double forced_logprob(recur_s2s *s, const int32_t *x, int n, const int32_t *y, int m)
{
    enum { MAXT = 16 };
    int32_t src[16], sl = n, tin[MAXT], tout[MAXT], tl = m + 1;
    memcpy(src, x, (size_t)n * sizeof *x);
    for (int i = 0; i <= m; i++) {
        tin[i] = i == 0 ? S2S_BOS : y[i - 1];
        tout[i] = i < m ? y[i] : S2S_EOS;
    }
    s2s_batch b = {1, n, m + 1, src, &sl, tin, tout, &tl};
    s2s_work *w;
    recur_error err;
    assert_int_equal(s2s_work_create(&w, s, n, m + 1, 1, &err), RECUR_OK);
    double nll;
    int64_t count;
    char msg[512];
    assert_int_equal(s2s_batch_loss(s, w, &b, 0, 0, 0, &nll, &count, msg), RECUR_OK);
    s2s_work_free(w);
    return -nll;
}

static void test_beam_finds_best(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        recur_s2s *s = v ? NULL : make("general", 0, 1.0);
        if (v) { /* dot attention with input feeding: equal widths */
            recur_s2s_pairs *p;
            recur_error err;
            assert_int_equal(parse(TRAIN, &p, &err), RECUR_OK);
            recur_s2s_config c;
            recur_s2s_config_default(&c);
            c.source_embed = 4;
            c.target_embed = 4;
            c.encoder_hidden = 3;
            c.decoder_hidden = 6;
            c.attention = "dot";
            c.input_feeding = 1;
            c.dropout = 0;
            c.init_scale = 1.0;
            assert_int_equal(recur_s2s_create(&s, &c, p, 9, &err), RECUR_OK);
            recur_s2s_pairs_free(p);
        }
        const int V = s->V; /* </s> <s> <unk> X Y Z: 4 choices per step besides <s> */
        const int M = 3;    /* outputs of at most 3 tokens, then </s> */
        const int32_t *x = SRC[1];
        const int n = SRC_LEN[1];
        /* enumeration: every sequence of 0..M tokens from {</s>-free, <s>-free} ids */
        double best = -INFINITY;
        int32_t best_y[8];
        int best_m = -1;
        int32_t y[8];
        int emit[8], n_emit = 0;
        for (int id = 0; id < V; id++)
            if (id != S2S_EOS && id != S2S_BOS)
                emit[n_emit++] = id;
        for (int m = 0; m <= M; m++) {
            int total = 1;
            for (int i = 0; i < m; i++)
                total *= n_emit;
            for (int code = 0; code < total; code++) {
                int c = code;
                for (int i = 0; i < m; i++) {
                    y[i] = emit[c % n_emit];
                    c /= n_emit;
                }
                double lp = forced_logprob(s, x, n, y, m);
                if (lp > best) {
                    best = lp;
                    best_m = m;
                    memcpy(best_y, y, (size_t)m * sizeof *y);
                }
            }
        }
        recur_s2s_decode_config dc;
        recur_s2s_decode_config_default(&dc);
        dc.max_len_ratio = 0;
        dc.max_len_extra = M;
        dc.length_alpha = 0;
        dc.nbest = 1;
        recur_s2s_result r;
        const int32_t *src[1] = {x};
        decode_with(s, src, &n, 1, 200, 0, &dc, &r);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.hyps[0].n, best_m);
        assert_memory_equal(r.hyps[0].ids, best_y, (size_t)best_m * sizeof(int32_t));
        assert_true(fabs(r.hyps[0].logprob - best) < 1e-4);
        recur_s2s_result_clear(&r);
        /* a narrow beam's answer has its own teacher-forced log-probability */
        decode_with(s, src, &n, 1, 2, 0, &dc, &r);
        double forced = forced_logprob(s, x, n, r.hyps[0].ids, r.hyps[0].n);
        assert_true(fabs(r.hyps[0].logprob - forced) < 1e-4);
        assert_true(r.hyps[0].logprob <= best + 1e-6);
        recur_s2s_result_clear(&r);
        recur_s2s_free(s);
    }
}

/* ---- padding ---- */

static void test_padding(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        recur_s2s *s = make("additive", v, 0.4);
        recur_model *m = recur_s2s_model(s);
        const size_t P = recur_model_num_params(m);
        /* three pairs, time-major, padded */
        enum { B = 3, S = 6, T = 4 };
        const int32_t ys[B][3] = {{3, 4}, {5}, {4, 4, 3}};
        const int ny[B] = {2, 1, 3};
        const int pick[B] = {1, 2, 3};
        int32_t src[S * B], sl[B], tin[T * B], tout[T * B], tl[B];
        for (int b = 0; b < B; b++) {
            sl[b] = SRC_LEN[pick[b]];
            tl[b] = ny[b] + 1;
            for (int i = 0; i < S; i++)
                src[i * B + b] = i < sl[b] ? SRC[pick[b]][i] : 0;
            for (int i = 0; i < T; i++) {
                tin[i * B + b] = i == 0 ? S2S_BOS : i <= ny[b] ? ys[b][i - 1] : S2S_EOS;
                tout[i * B + b] = i < ny[b] ? ys[b][i] : i == ny[b] ? S2S_EOS : -1;
            }
        }
        s2s_work *w;
        recur_error err;
        char msg[512];
        assert_int_equal(s2s_work_create(&w, s, S, T, B, &err), RECUR_OK);
        s2s_batch batch = {B, S, T, src, sl, tin, tout, tl};
        double nll_all;
        int64_t count_all;
        recur_model_zero_grad(m);
        assert_int_equal(s2s_batch_loss(s, w, &batch, 1, 1, 0.1, &nll_all, &count_all, msg), RECUR_OK);
        recur_real *g_all = malloc(P * sizeof *g_all);
        double *g_sum = calloc(P, sizeof *g_sum);
        memcpy(g_all, recur_model_grads(m), P * sizeof *g_all);
        double nll_sum = 0;
        for (int b = 0; b < B; b++) {
            int32_t s1[S], t1[T], o1[T];
            for (int i = 0; i < sl[b]; i++)
                s1[i] = src[i * B + b];
            for (int i = 0; i < tl[b]; i++) {
                t1[i] = tin[i * B + b];
                o1[i] = tout[i * B + b];
            }
            s2s_batch one = {1, sl[b], tl[b], s1, &sl[b], t1, o1, &tl[b]};
            double nll;
            int64_t count;
            recur_model_zero_grad(m);
            assert_int_equal(s2s_batch_loss(s, w, &one, 1, 1, 0.1, &nll, &count, msg), RECUR_OK);
            assert_int_equal(count, tl[b]);
            nll_sum += nll;
            /* the batch's gradient is of the mean over its tokens */
            for (size_t i = 0; i < P; i++)
                g_sum[i] += (double)recur_model_grads(m)[i] * (double)count / (double)count_all;
        }
        assert_true(fabs(nll_sum - nll_all) < 1e-4 * fabs(nll_all));
        double worst = 0, scale = 0;
        for (size_t i = 0; i < P; i++) {
            worst = fmax(worst, fabs(g_sum[i] - (double)g_all[i]));
            scale = fmax(scale, fabs((double)g_all[i]));
        }
        assert_true(scale > 0);
        assert_true(worst < 1e-4 * scale);
        free(g_all);
        free(g_sum);
        s2s_work_free(w);

        /* batched decoding: each source as alone */
        const int32_t *srcs[4] = {SRC[0], SRC[1], SRC[2], SRC[3]};
        recur_s2s_decode_config dc;
        recur_s2s_decode_config_default(&dc);
        dc.nbest = 3;
        dc.length_alpha = 1;
        recur_s2s_result all[4], one;
        decode_with(s, srcs, SRC_LEN, 4, 3, 0, &dc, all);
        for (int i = 0; i < 4; i++) {
            decode_with(s, srcs + i, SRC_LEN + i, 1, 3, 0, &dc, &one);
            same_result(&all[i], &one, 1e-4);
            recur_s2s_result_clear(&one);
            recur_s2s_result_clear(&all[i]);
        }
        recur_s2s_free(s);
    }
}

/* ---- files and the text API ---- */

static void test_file_round_trip(void **state)
{
    (void)state;
    recur_s2s *s = make("general", 1, 0.5);
    char path[] = "/tmp/recur_s2s_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int n_meta;
    const recur_meta_entry *meta = recur_s2s_meta(s, &n_meta);
    assert_int_equal(recur_checkpoint_save(recur_s2s_model(s), NULL, NULL, path,
                                           recur_s2s_extra_config(s), meta, n_meta, NULL),
                     RECUR_OK);
    recur_s2s *t;
    recur_error err;
    recur_status st = recur_s2s_open(&t, path, &err);
    if (st)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, RECUR_OK);
    assert_int_equal(recur_model_num_params(recur_s2s_model(t)), recur_model_num_params(recur_s2s_model(s)));
    assert_int_equal(recur_s2s_get_config(t)->input_feeding, 1);
    assert_string_equal(recur_s2s_get_config(t)->attention, "general");
    recur_s2s_decode_config dc;
    recur_s2s_decode_config_default(&dc);
    dc.beam = 4;
    dc.nbest = 2;
    char **a, **b;
    double *la, *lb;
    int na, nb;
    assert_int_equal(recur_s2s_decode_text(s, "bca", &dc, &a, &la, &na, &err), RECUR_OK);
    assert_int_equal(recur_s2s_decode_text(t, "bca", &dc, &b, &lb, &nb, &err), RECUR_OK);
    assert_int_equal(na, 2);
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_string_equal(a[i], b[i]);
        assert_true(la[i] == lb[i]);
        free(a[i]);
        free(b[i]);
    }
    assert_true(la[0] >= la[1] - 1e-6 || dc.length_alpha > 0);
    free(a);
    free(b);
    free(la);
    free(lb);
    /* an empty source is an error, an unknown character decodes as <unk> */
    assert_int_not_equal(recur_s2s_decode_text(t, "", &dc, &a, NULL, &na, &err), RECUR_OK);
    int32_t *ids;
    int n, unk;
    assert_int_equal(recur_s2s_encode_source(t, "a?b", 3, &ids, &n, &unk, &err), RECUR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(unk, 1);
    assert_int_equal(ids[1], S2S_SRC_UNK);
    free(ids);
    recur_s2s_free(t);
    /* a language model's file is not a seq2seq model */
    recur_model *lm;
    recur_model_config lc;
    recur_model_config_default(&lc);
    lc.vocab_size = lc.output_size = 5;
    lc.embed_size = 3;
    lc.rnn.hidden_size = 3;
    assert_int_equal(recur_model_create(&lm, &lc, 1, &err), RECUR_OK);
    assert_int_equal(recur_checkpoint_save(lm, NULL, NULL, path, recur_lm_extra_config(RECUR_LEVEL_WORD), NULL, 0, NULL), RECUR_OK);
    assert_int_equal(recur_s2s_open(&t, path, &err), RECUR_ERR_MISMATCH);
    recur_model_free(lm);
    unlink(path);
    recur_s2s_free(s);
}

/* ---- files for the PyTorch reference (tests/seq2seq_torch.py) ---- */

/* Writes NAME.safetensors (the model as `recur seq2seq train` writes it) and
 * NAME.expected.safetensors (a padded batch, recur's loss and every
 * tensor's gradient) next to the test binary. */
static void torch_files(const char *name, const char *attention, int feed, recur_cell cell,
                        int enc_layers, int dec_layers)
{
    recur_s2s_pairs *p;
    recur_error err;
    assert_int_equal(parse(TRAIN, &p, &err), RECUR_OK);
    recur_s2s_config c;
    recur_s2s_config_default(&c);
    c.source_embed = 5;
    c.target_embed = 6;
    c.encoder_hidden = 7;
    c.decoder_hidden = 9;
    c.encoder_layers = enc_layers;
    c.decoder_layers = dec_layers;
    c.attention = attention;
    c.attention_size = 4;
    c.input_feeding = feed;
    c.cell = cell;
    c.dropout = 0;
    c.init_scale = 0.4;
    recur_s2s *s;
    assert_int_equal(recur_s2s_create(&s, &c, p, 17, &err), RECUR_OK);
    recur_s2s_pairs_free(p);
    enum { B = 4, S = 6, T = 5 };
    const int ny[B] = {2, 4, 1, 3};
    int32_t src[S * B], sl[B], tin[T * B], tout[T * B], tl[B];
    for (int b = 0; b < B; b++) {
        sl[b] = SRC_LEN[b];
        tl[b] = ny[b] + 1;
        for (int i = 0; i < S; i++)
            src[i * B + b] = i < sl[b] ? SRC[b][i] : 0;
        for (int i = 0; i < T; i++) {
            int32_t y = (int32_t)(3 + (i * 3 + b) % 3);
            tin[i * B + b] = i == 0 ? S2S_BOS : i <= ny[b] ? tout[(i - 1) * B + b] : S2S_EOS;
            tout[i * B + b] = i < ny[b] ? y : i == ny[b] ? S2S_EOS : -1;
        }
    }
    s2s_work *w;
    assert_int_equal(s2s_work_create(&w, s, S, T, B, &err), RECUR_OK);
    s2s_batch batch = {B, S, T, src, sl, tin, tout, tl};
    double nll;
    int64_t count;
    char msg[512];
    recur_model *m = recur_s2s_model(s);
    recur_model_zero_grad(m);
    assert_int_equal(s2s_batch_loss(s, w, &batch, 0, 1, 0.1, &nll, &count, msg), RECUR_OK);
    char path[700], expected[700];
    snprintf(path, sizeof path, "%s/%s.safetensors", bindir, name);
    snprintf(expected, sizeof expected, "%s/%s.expected.safetensors", bindir, name);
    int n_meta;
    const recur_meta_entry *meta = recur_s2s_meta(s, &n_meta);
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, path, recur_s2s_extra_config(s), meta, n_meta, NULL), RECUR_OK);
    st_writer *sw = st_writer_new();
    const int64_t s_src[2] = {S, B}, s_tgt[2] = {T, B}, s_b[1] = {B}, s_one[1] = {1};
    assert_int_equal(st_writer_add(sw, "src", ST_I32, 2, s_src, src), RECUR_OK);
    assert_int_equal(st_writer_add(sw, "src_len", ST_I32, 1, s_b, sl), RECUR_OK);
    assert_int_equal(st_writer_add(sw, "tgt_in", ST_I32, 2, s_tgt, tin), RECUR_OK);
    assert_int_equal(st_writer_add(sw, "tgt_out", ST_I32, 2, s_tgt, tout), RECUR_OK);
    assert_int_equal(st_writer_add(sw, "tgt_len", ST_I32, 1, s_b, tl), RECUR_OK);
    const double obj = s2s_work_objective(w), ls = 0.1;
    assert_int_equal(st_writer_add_f32_from_double(sw, "objective", 1, s_one, &obj), RECUR_OK);
    assert_int_equal(st_writer_add_f32_from_double(sw, "label_smoothing", 1, s_one, &ls), RECUR_OK);
    for (int i = 0; i < recur_model_num_tensors(m); i++) {
        recur_tensor_info t;
        recur_model_tensor(m, i, &t);
        char gname[160];
        snprintf(gname, sizeof gname, "grad.%s", t.name);
        assert_int_equal(st_writer_add(sw, gname, ST_F32, t.ndim, t.shape, t.grad), RECUR_OK);
    }
    if (st_writer_commit(sw, expected, msg, sizeof msg) != RECUR_OK)
        fail_msg("%s", msg);
    st_writer_free(sw);
    s2s_work_free(w);
    recur_s2s_free(s);
}

static void test_torch_files(void **state)
{
    (void)state;
    torch_files("s2s_torch_feed_general", "general", 1, RECUR_CELL_LSTM, 2, 2);
    torch_files("s2s_torch_additive", "additive", 0, RECUR_CELL_LSTM, 1, 2);
    torch_files("s2s_torch_gru_none", "none", 0, RECUR_CELL_GRU, 2, 1);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *slash = strrchr(argv[0], '/');
    if (slash)
        snprintf(bindir, sizeof bindir, "%.*s", (int)(slash - argv[0]), argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_scoring),
        cmocka_unit_test(test_beam1_is_greedy),
        cmocka_unit_test(test_beam_finds_best),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_torch_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
