/*
 * test_classify.c - sentence classification's data and files.
 *
 *  sst trees     hand-made trees: every node an item in pre-order, its label
 *                and the leaves under it; lower-casing.
 *  mapping       --classes 5 / 2 (neutral dropped, 0-1 negative, 3-4
 *                positive), with and without phrases (each phrase once).
 *  tsv           label<TAB>text lines, whitespace, lower-casing, labels.
 *  malformed     unbalanced parentheses, a label that is not a number 0..4,
 *                an empty line, a line without a tab, empty text, an unknown
 *                label at evaluation: each an error naming file and line.
 *  classifier    a classifier's file opened through the library: a padded
 *                batch of sentences of 1..30 words gives each its
 *                probabilities alone (float, vector-sized widths), they sum
 *                to 1, attention weights sum to 1 over the words and are 0
 *                past them, unknown words read as <unk>, and a file of
 *                another task is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <cmocka.h>

#include "tasks/classify/cls_dataset.h"

static recur_cls_dataset *parse(const char *text, recur_cls_format f, int classes, int phrases, int lower,
                                recur_error *err)
{
    recur_cls_read_config c;
    recur_cls_read_config_default(&c);
    c.format = f;
    c.classes = classes;
    c.phrases = phrases;
    c.lower = lower;
    recur_cls_dataset *d = NULL;
    recur_status st = recur_cls_dataset_parse(&d, text, strlen(text), "x.txt", &c, err);
    if (st != RECUR_OK)
        assert_null(d);
    return d;
}

static void words_are(const recur_cls_dataset *d, size_t i, const char *expect)
{
    char buf[512] = "";
    for (int k = 0; k < recur_cls_dataset_length(d, i); k++) {
        if (k)
            strcat(buf, " ");
        strcat(buf, recur_cls_dataset_word(d, i, k));
    }
    assert_string_equal(buf, expect);
}

static const char *TREES = "(3 (2 (2 The) (2 Rock)) (4 (3 is) (4 great)))\n"
                           "(1 (1 bad) (2 film))\n"
                           "  (2 (2 so) (2 so))  \n";

static void test_sst_tree(void **s)
{
    (void)s;
    recur_error err;
    cls_corpus c;
    assert_int_equal(cls_read_sst(&c, TREES, strlen(TREES), "t", 0, &err), RECUR_OK);
    assert_int_equal(c.n, 13);
    /* pre-order: root, (2 The Rock), The, Rock, (4 is great), is, great */
    static const int sst[13] = {3, 2, 2, 2, 4, 3, 4, 1, 1, 2, 2, 2, 2};
    static const int len[13] = {4, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1};
    static const int root[13] = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0};
    static const int line[13] = {1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3};
    for (int i = 0; i < 13; i++) {
        assert_int_equal(c.items[i].sst, sst[i]);
        assert_int_equal(c.items[i].len, len[i]);
        assert_int_equal(c.items[i].root, root[i]);
        assert_int_equal(c.items[i].line, line[i]);
    }
    assert_string_equal(cls_word(&c, c.items[4].first), "is");
    assert_string_equal(cls_word(&c, c.items[4].first + 1), "great");
    assert_string_equal(cls_word(&c, c.items[0].first), "The");
    cls_corpus_free(&c);

    recur_cls_dataset *d = parse(TREES, RECUR_CLS_SST, 5, 0, 1, &err);
    assert_non_null(d);
    assert_int_equal(recur_cls_dataset_size(d), 3);
    words_are(d, 0, "the rock is great"); /* lower-cased */
    words_are(d, 2, "so so");
    assert_string_equal(recur_cls_dataset_label(d, 0), "3");
    assert_string_equal(recur_cls_dataset_label(d, 1), "1");
    assert_string_equal(recur_cls_dataset_label(d, 2), "2");
    recur_cls_dataset_free(d);
}

static void test_sst_mapping(void **s)
{
    (void)s;
    recur_error err;
    /* 2 classes, roots: the neutral third sentence is dropped */
    recur_cls_dataset *d = parse(TREES, RECUR_CLS_SST, 2, 0, 0, &err);
    assert_int_equal(recur_cls_dataset_size(d), 2);
    assert_string_equal(recur_cls_dataset_label(d, 0), "positive");
    assert_string_equal(recur_cls_dataset_label(d, 1), "negative");
    words_are(d, 1, "bad film");
    char *labels;
    recur_cls_read_config rc;
    recur_cls_read_config_default(&rc);
    rc.format = RECUR_CLS_SST;
    rc.classes = 2;
    assert_int_equal(recur_cls_dataset_labels_json(d, &rc, &labels, &err), RECUR_OK);
    assert_string_equal(labels, "[\"negative\",\"positive\"]");
    free(labels);
    recur_cls_dataset_free(d);

    /* 2 classes with phrases: every non-neutral node */
    d = parse(TREES, RECUR_CLS_SST, 2, 1, 0, &err);
    assert_int_equal(recur_cls_dataset_size(d), 6);
    static const char *const words2[6] = {"The Rock is great", "is great", "is", "great", "bad film", "bad"};
    static const char *const labels2[6] = {"positive", "positive", "positive", "positive", "negative", "negative"};
    for (int i = 0; i < 6; i++) {
        words_are(d, (size_t)i, words2[i]);
        assert_string_equal(recur_cls_dataset_label(d, (size_t)i), labels2[i]);
    }
    recur_cls_dataset_free(d);

    /* 5 classes with phrases: the second "(2 so)" of a sentence is the same phrase */
    d = parse(TREES, RECUR_CLS_SST, 5, 1, 0, &err);
    assert_int_equal(recur_cls_dataset_size(d), 12);
    words_are(d, 10, "so so");
    words_are(d, 11, "so");
    assert_string_equal(recur_cls_dataset_label(d, 4), "4");
    rc.classes = 5;
    assert_int_equal(recur_cls_dataset_labels_json(d, &rc, &labels, &err), RECUR_OK);
    assert_string_equal(labels, "[\"0\",\"1\",\"2\",\"3\",\"4\"]");
    free(labels);
    recur_cls_dataset_free(d);

    /* a root is kept even when an earlier phrase was the same */
    d = parse("(3 (3 good))\n(3 good)\n", RECUR_CLS_SST, 5, 1, 0, &err);
    assert_int_equal(recur_cls_dataset_size(d), 2); /* root 1, root 2; the phrase (3 good) of line 1 once */
    recur_cls_dataset_free(d);
}

static void test_tsv(void **s)
{
    (void)s;
    recur_error err;
    const char *text = "pos\tA  Good\tFilm\r\nneg\t bad \nneutral\tso-so";
    recur_cls_dataset *d = parse(text, RECUR_CLS_TSV, 0, 0, 1, &err);
    assert_non_null(d);
    assert_int_equal(recur_cls_dataset_size(d), 3);
    words_are(d, 0, "a good film");
    words_are(d, 1, "bad");
    words_are(d, 2, "so-so");
    assert_string_equal(recur_cls_dataset_label(d, 0), "pos");
    assert_int_equal(recur_cls_dataset_line(d, 2), 3);
    recur_cls_read_config rc;
    recur_cls_read_config_default(&rc);
    char *labels;
    assert_int_equal(recur_cls_dataset_labels_json(d, &rc, &labels, &err), RECUR_OK);
    assert_string_equal(labels, "[\"neg\",\"neutral\",\"pos\"]"); /* sorted */
    free(labels);
    recur_cls_dataset_free(d);
    /* one label only: no classifier */
    d = parse("a\tx\na\ty\n", RECUR_CLS_TSV, 0, 0, 0, &err);
    assert_int_not_equal(recur_cls_dataset_labels_json(d, &rc, &labels, &err), RECUR_OK);
    recur_cls_dataset_free(d);
}

static void rejects(const char *text, recur_cls_format f, const char *where, const char *what)
{
    recur_error err = {0};
    recur_cls_dataset *d = parse(text, f, 5, 0, 0, &err);
    if (d)
        fail_msg("accepted: %s", text);
    if (!strstr(err.msg, where) || !strstr(err.msg, what))
        fail_msg("message '%s' lacks '%s' or '%s'", err.msg, where, what);
    assert_int_equal(err.status, RECUR_ERR_FORMAT);
}

static void test_malformed(void **s)
{
    (void)s;
    rejects("(3 (2 a) (2 b))\n(3 (2 a) (2 b)\n", RECUR_CLS_SST, "x.txt:2", "unbalanced parentheses");
    rejects("(3 (2 a) (2 b)))\n", RECUR_CLS_SST, "x.txt:1:", "unbalanced parentheses");
    rejects("(2 a)\n(2 b)\n)\n", RECUR_CLS_SST, "x.txt:3:", "unbalanced parentheses");
    rejects("(2 a)\n(2 b)\n(x (2 a))\n", RECUR_CLS_SST, "x.txt:3:", "label 'x' is not a number");
    rejects("(2 (7 a))\n", RECUR_CLS_SST, "x.txt:1:", "label '7' is not a number 0..4");
    rejects("(2 a)\n\n(2 b)\n", RECUR_CLS_SST, "x.txt:2", "empty line");
    rejects("(2 a b)\n", RECUR_CLS_SST, "x.txt:1:", "a second word in a leaf");
    rejects("(2 a) (2 b)\n", RECUR_CLS_SST, "x.txt:1:", "text after the tree");
    rejects("(2 )\n", RECUR_CLS_SST, "x.txt:1:", "a node without words");
    rejects("pos\tgood\nbad film\n", RECUR_CLS_TSV, "x.txt:2", "no tab");
    rejects("pos\tgood\nneg\t   \n", RECUR_CLS_TSV, "x.txt:2", "empty text");
    rejects("pos\tgood\n\nneg\tbad\n", RECUR_CLS_TSV, "x.txt:2", "empty line");
    rejects("\tgood\n", RECUR_CLS_TSV, "x.txt:1", "empty label");

    /* an unknown label when encoding for evaluation */
    recur_error err = {0};
    recur_cls_dataset *d = parse("pos\ta\nneg\tb\nmaybe\tc\n", RECUR_CLS_TSV, 0, 0, 0, &err);
    assert_non_null(d);
    cls_labels l;
    assert_int_equal(cls_labels_parse(&l, "[\"neg\",\"pos\"]", &err), RECUR_OK);
    recur_vocab *v;
    assert_int_equal(recur_cls_dataset_vocab(d, 1, 0, &v, &err), RECUR_OK);
    cls_data data;
    assert_int_equal(cls_encode(d, v, &l, &data, &err), RECUR_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "x.txt:3: label 'maybe' is not one of"));
    cls_labels_free(&l);
    cls_labels bad;
    assert_int_not_equal(cls_labels_parse(&bad, "[\"a\",\"a\"]", &err), RECUR_OK);
    assert_int_not_equal(cls_labels_parse(&bad, "[\"a\"]", &err), RECUR_OK);
    recur_vocab_free(v);
    recur_cls_dataset_free(d);
}

/* ---- a classifier's file ------------------------------------------------------------------- */

#define NS 8
#define WORDS 40

static void test_classifier_file(void **s)
{
    (void)s;
    recur_error err;
    recur_vocab *v;
    assert_int_equal(recur_vocab_create(&v, RECUR_LEVEL_WORD, &err), RECUR_OK);
    char word[WORDS][16];
    for (int i = 0; i < WORDS; i++) {
        snprintf(word[i], sizeof word[i], "w%d", i);
        assert_int_equal(recur_vocab_add(v, word[i], strlen(word[i]), WORDS - i, NULL), RECUR_OK);
    }
    assert_int_equal(recur_vocab_finish(v, 0, 1, &err), RECUR_OK);
    recur_cls_model_config c;
    memset(&c, 0, sizeof c);
    recur_model_config_default(&c.base);
    c.base.vocab_size = recur_vocab_size(v);
    c.base.embed_size = 40;
    c.base.rnn.hidden_size = 48;
    c.base.rnn.bidirectional = 1;
    c.base.rnn.num_layers = 2;
    c.pool = RECUR_POOL_ATTENTION;
    c.classes = 3;
    recur_model *m;
    assert_int_equal(recur_cls_model_create(&m, &c, 5, &err), RECUR_OK);
    recur_tensor_info t;
    assert_int_equal(recur_model_find_tensor(m, "attention.context", &t), RECUR_OK);
    assert_int_equal(t.shape[0], 96);
    assert_int_equal(recur_model_find_tensor(m, "classifier.weight", &t), RECUR_OK);
    assert_int_equal(t.shape[0], 3);
    assert_int_equal(t.shape[1], 96);

    char dir[] = "/tmp/recur_test_classifyXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    char *vj;
    assert_int_equal(recur_vocab_to_json(v, &vj, &err), RECUR_OK);
    recur_cls_read_config rc;
    recur_cls_read_config_default(&rc);
    rc.lower = 1;
    char *extra = recur_cls_extra_config(RECUR_POOL_ATTENTION, &rc);
    recur_meta_entry meta[2] = {{"recur.vocab", vj}, {"recur.labels", "[\"a\",\"b\",\"c\"]"}};
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, path, extra, meta, 2, &err), RECUR_OK);

    recur_classifier *cl;
    assert_int_equal(recur_classifier_open(&cl, path, NS, &err), RECUR_OK);
    assert_int_equal(recur_classifier_num_classes(cl), 3);
    assert_string_equal(recur_classifier_label(cl, 2), "c");
    assert_int_equal(recur_classifier_label_index(cl, "b"), 1);
    assert_int_equal(recur_classifier_pool(cl), RECUR_POOL_ATTENTION);
    assert_int_equal(recur_classifier_read_config(cl)->lower, 1);

    /* sentences of 1..30 words, some unknown ("W3" is lower-cased to a known word) */
    static const int32_t lens[NS] = {30, 1, 7, 19, 2, 30, 11, 5};
    const char *sent[NS][30];
    const char *const *words[NS];
    uint64_t r = 77;
    for (int b = 0; b < NS; b++) {
        for (int k = 0; k < lens[b]; k++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            int w = (int)((r >> 33) % (WORDS + 5));
            sent[b][k] = w < WORDS ? word[w] : w == WORDS ? "W3" : "unseen";
        }
        words[b] = sent[b];
    }
    double probs[NS * 3], alone[3], att[NS][30];
    int best[NS];
    assert_int_equal(recur_classifier_classify(cl, words, lens, NS, probs, best), RECUR_OK);
    for (int b = 0; b < NS; b++) {
        double sum = 0, asum = 0;
        for (int k = 0; k < 3; k++)
            sum += probs[b * 3 + k];
        assert_true(fabs(sum - 1) < 1e-5);
        for (int k = 0; k < 30; k++) {
            att[b][k] = recur_classifier_attention(cl, b, k);
            if (k < lens[b])
                asum += att[b][k];
            else
                assert_true(att[b][k] == 0);
        }
        assert_true(fabs(asum - 1) < 1e-5);
    }
    /* the classifier reads the first layer's input product from a table:
     * the same as the network on the model in memory, which multiplies */
    {
        cls_net *net;
        int32_t tok[30 * NS];
        for (int b = 0; b < NS; b++)
            for (int k = 0; k < 30; k++) {
                const char *w = k < lens[b] ? sent[b][k] : "w0";
                if (!strcmp(w, "W3"))
                    w = "w3";
                int32_t id = recur_vocab_find(v, w, strlen(w));
                tok[k * NS + b] = id >= 0 ? id : recur_vocab_unk(v);
            }
        assert_int_equal(cls_net_create(&net, m, RECUR_POOL_ATTENTION, 0, 30, NS, &err), RECUR_OK);
        assert_int_equal(cls_net_forward(net, tok, lens, 30, NS, 0), RECUR_OK);
        double direct = 0;
        for (int i = 0; i < NS * 3; i++)
            direct = fmax(direct, fabs((double)cls_net_probs(net)[i] - probs[i]));
        printf("  classifier (input table) vs network in memory: %.1e\n", direct);
        assert_true(direct < 1e-5);
        cls_net_free(net);
    }
    double worst = 0, worst_att = 0;
    for (int b = 0; b < NS; b++) {
        int bb;
        assert_int_equal(recur_classifier_classify(cl, &words[b], &lens[b], 1, alone, &bb), RECUR_OK);
        for (int k = 0; k < 3; k++)
            worst = fmax(worst, fabs(alone[k] - probs[b * 3 + k]));
        for (int k = 0; k < lens[b]; k++)
            worst_att = fmax(worst_att, fabs(recur_classifier_attention(cl, 0, k) - att[b][k]));
        assert_int_equal(bb, best[b]);
    }
    printf("  batch of %d vs alone: probabilities %.1e, attention %.1e\n", NS, worst, worst_att);
    assert_true(worst < 1e-5);
    assert_true(worst_att < 1e-5);
    /* "W3" reads as w3 (lower-cased), "unseen" as <unk> */
    const char *a1[] = {"W3", "unseen"}, *a2[] = {"w3", "<unk>"};
    const char *const *pa[1] = {a1}, *const *pb[1] = {a2};
    int two = 2;
    double p1[3], p2[3];
    assert_int_equal(recur_classifier_classify(cl, pa, &two, 1, p1, NULL), RECUR_OK);
    assert_int_equal(recur_classifier_classify(cl, pb, &two, 1, p2, NULL), RECUR_OK);
    assert_memory_equal(p1, p2, sizeof p1);
    /* bad calls */
    int zero = 0;
    assert_int_equal(recur_classifier_classify(cl, pa, &zero, 1, p1, NULL), RECUR_ERR_ARG);
    assert_int_equal(recur_classifier_classify(cl, pa, &two, NS + 1, p1, NULL), RECUR_ERR_ARG);
    recur_classifier_free(cl);

    /* a file of another task */
    recur_model_config lc;
    recur_model_config_default(&lc);
    lc.vocab_size = 5;
    lc.embed_size = 4;
    lc.output_size = 5;
    lc.rnn.hidden_size = 4;
    recur_model *lm;
    assert_int_equal(recur_model_create(&lm, &lc, 1, &err), RECUR_OK);
    assert_int_equal(recur_checkpoint_save(lm, NULL, NULL, path, "{\"task\":\"lm\",\"level\":\"word\"}", NULL, 0, &err),
                     RECUR_OK);
    assert_int_not_equal(recur_classifier_open(&cl, path, 1, &err), RECUR_OK);
    assert_non_null(strstr(err.msg, "'lm'"));
    recur_model_free(lm);

    unlink(path);
    rmdir(dir);
    free(vj);
    free(extra);
    recur_model_free(m);
    recur_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sst_tree),
        cmocka_unit_test(test_sst_mapping),
        cmocka_unit_test(test_tsv),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_classifier_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
