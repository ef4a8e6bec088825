/*
 * test_tag_net_f64.c - the tagger's whole network (src/tasks/tag/net.c:
 * character BiLSTM, word embedding and capitalisation features, word
 * BiLSTM, hidden2tag, CRF or softmax) in the double build:
 *
 *  padding     a batch of sentences of different lengths gives each
 *              sentence the emissions, decoding, loss and gradients it gets
 *              alone (1e-10).
 *  gradient    the summed loss's gradient with respect to entries of every
 *              tensor (word and character embeddings, capitalisation
 *              embedding, both stacks, hidden2tag, the CRF's transitions,
 *              start and end) by central finite differences (1e-6), for
 *              the CRF and the softmax output.
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

#include "tasks/tag/tag_task.h"

static char dir[64];
static char train_path[128], dev_path[128];

static const char *TRAIN =
    "-DOCSTART- -X- O O\n\n"
    "John NNP I-NP I-PER\nSmith NNP I-NP I-PER\nvisited VBD I-VP O\nParis NNP I-NP I-LOC\n. . O O\n\n"
    "EU NNP I-NP I-ORG\n\n"
    "He PRP I-NP O\nsaid VBD I-VP O\n\n"
    "The DT I-NP O\nUnited NNP I-NP I-ORG\nNations NNP I-NP I-ORG\nCommissioners NNS I-NP O\n"
    "reconvened VBD I-VP O\nin IN I-PP O\n1996-08-22 CD I-NP O\n. . O O\n";
static const char *DEV = "Mary NNP I-NP I-PER\nwent VBD I-VP O\nto TO I-PP O\nBerlin NNP I-NP I-LOC\n\n";

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/recur_tag_net_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(train_path, sizeof train_path, "%s/train.txt", dir);
    snprintf(dev_path, sizeof dev_path, "%s/dev.txt", dir);
    FILE *f = fopen(train_path, "w");
    fputs(TRAIN, f);
    fclose(f);
    f = fopen(dev_path, "w");
    fputs(DEV, f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

typedef struct fixture {
    recur_tag_corpus *train, *dev;
    recur_tag_task *task;
} fixture;

static void make(fixture *f, int crf)
{
    recur_tag_read_config rc;
    recur_tag_read_config_default(&rc);
    rc.tag_column = 4;
    recur_error err;
    assert_int_equal(recur_tag_corpus_read(&f->train, train_path, &rc, &err), RECUR_OK);
    assert_int_equal(recur_tag_corpus_read(&f->dev, dev_path, &rc, &err), RECUR_OK);
    recur_tagger_config c;
    recur_tagger_config_default(&c);
    c.word_dim = 4;
    c.char_dim = 3;
    c.char_hidden = 3;
    c.caps_dim = 2;
    c.hidden = 5;
    c.layers = 2;
    c.dropout = 0;
    c.crf = crf;
    recur_status st = recur_tag_task_create(&f->task, &c, f->train, f->dev, NULL, 4, 7, &err);
    if (st)
        fail_msg("%s", err.msg);
    /* every parameter away from zero, so no gradient term hides */
    recur_model *m = f->task->m;
    recur_real *p = recur_model_params(m);
    for (size_t i = 0; i < recur_model_num_params(m); i++)
        p[i] = (recur_real)(0.4 * (2 * recur_model_uniform(m) - 1));
}

static void unmake(fixture *f)
{
    recur_tag_task_free(f->task);
    recur_tag_corpus_free(f->train);
    recur_tag_corpus_free(f->dev);
}

static double loss_and_grad(recur_tag_task *t, const int64_t *sents, int B)
{
    char msg[512];
    double loss;
    assert_int_equal(tag_net_forward(&t->net, &t->train, sents, B, 1, 0, msg), RECUR_OK);
    recur_status st = tag_net_backward(&t->net, 1.0, &loss, msg);
    if (st)
        fail_msg("%s", msg);
    return loss;
}

static void check_padding(int crf)
{
    fixture f;
    make(&f, crf);
    recur_tag_task *t = f.task;
    recur_model *m = t->m;
    const size_t np = recur_model_num_params(m);
    const int K = t->net.K;
    /* lengths 8, 1, 5, 2; words of 1 to 13 characters: every character bucket */
    const int64_t sents[4] = {3, 1, 0, 2};
    recur_model_zero_grad(m);
    double batch_loss = loss_and_grad(t, sents, 4);
    const int T = t->net.T;
    recur_real *emit = malloc((size_t)T * 4 * K * sizeof *emit);
    memcpy(emit, t->net.emit, (size_t)T * 4 * K * sizeof *emit);
    recur_real *g_batch = malloc(np * sizeof *g_batch);
    memcpy(g_batch, recur_model_grads(m), np * sizeof *g_batch);
    int32_t dec_batch[64], dec_one[64];
    tag_net_decode(&t->net, dec_batch);
    recur_model_zero_grad(m);
    double sum = 0;
    for (int b = 0; b < 4; b++) {
        sum += loss_and_grad(t, sents + b, 1);
        tag_net_decode(&t->net, dec_one);
        int64_t off = t->train.sent_off[sents[b]];
        int len = (int)(t->train.sent_off[sents[b] + 1] - off);
        for (int s = 0; s < len; s++) {
            assert_int_equal(dec_one[off + s], dec_batch[off + s]);
            for (int k = 0; k < K; k++)
                assert_true(fabs(t->net.emit[(size_t)s * K + k] - emit[((size_t)s * 4 + b) * K + k]) < 1e-12);
        }
    }
    assert_true(fabs(sum - batch_loss) < 1e-10 * fabs(sum));
    const recur_real *g = recur_model_grads(m);
    double worst = 0, gmax = 0;
    for (size_t i = 0; i < np; i++) {
        worst = fmax(worst, fabs(g[i] - g_batch[i]));
        gmax = fmax(gmax, fabs(g[i]));
    }
    assert_true(gmax > 0);
    assert_true(worst < 1e-10 * gmax);
    free(emit);
    free(g_batch);
    unmake(&f);
}

static void test_padding(void **state)
{
    (void)state;
    check_padding(1);
    check_padding(0);
}

static void check_gradient(int crf)
{
    fixture f;
    make(&f, crf);
    recur_tag_task *t = f.task;
    recur_model *m = t->m;
    const int64_t sents[4] = {0, 1, 2, 3};
    recur_model_zero_grad(m);
    loss_and_grad(t, sents, 4);
    const size_t np = recur_model_num_params(m);
    recur_real *g = malloc(np * sizeof *g);
    memcpy(g, recur_model_grads(m), np * sizeof *g);
    recur_real *p = recur_model_params(m);
    int checked_tensors = 0;
    for (int ti = 0; ti < recur_model_num_tensors(m); ti++) {
        recur_tensor_info info;
        recur_model_tensor(m, ti, &info);
        /* a few entries of each tensor: the largest gradients and some others */
        double worst = 0, gmax = 0;
        for (size_t k = 0; k < info.numel; k += 1 + info.numel / 7) {
            size_t i = info.offset + k;
            recur_real keep = p[i];
            const double h = 1e-5;
            p[i] = keep + h;
            recur_model_zero_grad(m);
            double up = loss_and_grad(t, sents, 4);
            p[i] = keep - h;
            recur_model_zero_grad(m);
            double down = loss_and_grad(t, sents, 4);
            p[i] = keep;
            double num = (up - down) / (2 * h);
            worst = fmax(worst, fabs(num - g[i]));
            gmax = fmax(gmax, fabs(num));
        }
        if (gmax == 0)
            continue; /* rows of words or characters the batch does not use */
        checked_tensors++;
        if (worst > 1e-6 * fmax(gmax, 1e-2))
            fail_msg("%s: gradient off by %g (scale %g)", info.name, worst, gmax);
    }
    assert_true(checked_tensors >= (crf ? 20 : 17));
    free(g);
    unmake(&f);
}

static void test_gradient(void **state)
{
    (void)state;
    check_gradient(1);
    check_gradient(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_gradient),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
