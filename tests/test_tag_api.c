/*
 * test_tag_api.c - a tagger trained on the shared trainer and used through
 * the public API (recur_tag.h): the trainer's best model loads with
 * recur_tagger_open and tags sentences given as arrays of strings, in the
 * training file's scheme (IOB1 here); its scores on the development file
 * are the trainer's; a batch of sentences tags as each sentence alone; the
 * model file's tensors carry PyTorch-style names; a file of another task
 * is refused by name.
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

#include "recur_tag.h"

static char dir[64], train_path[128], dev_path[128], out_dir[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/recur_tag_api_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(train_path, sizeof train_path, "%s/train.txt", dir);
    snprintf(dev_path, sizeof dev_path, "%s/dev.txt", dir);
    snprintf(out_dir, sizeof out_dir, "%s/run", dir);
    const char *people[] = {"John", "Mary", "Peter", "Anna"}, *places[] = {"Paris", "Berlin", "Rome"};
    const char *paths[2] = {train_path, dev_path};
    unsigned seed = 3;
    for (int f = 0; f < 2; f++) {
        FILE *fp = fopen(paths[f], "w");
        for (int s = 0; s < (f ? 12 : 80); s++) {
            seed = seed * 1103515245u + 12345u;
            fprintf(fp, "%s I-PER\n", people[(seed >> 8) % 4]);
            if ((seed >> 12) & 1)
                fprintf(fp, "Smith I-PER\n");
            /* two adjacent persons: B- in IOB1 */
            if ((seed >> 13) % 4 == 0)
                fprintf(fp, "and O\n%s I-PER\n%s B-PER\n", people[(seed >> 16) % 4], people[(seed >> 18) % 4]);
            fprintf(fp, "visited O\n%s I-LOC\n. O\n\n", places[(seed >> 20) % 3]);
        }
        fclose(fp);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void test_train_and_tag(void **state)
{
    (void)state;
    recur_tag_read_config rc;
    recur_tag_read_config_default(&rc);
    recur_tag_corpus *train, *dev;
    recur_error err;
    assert_int_equal(recur_tag_corpus_read(&train, train_path, &rc, &err), RECUR_OK);
    assert_int_equal(recur_tag_corpus_read(&dev, dev_path, &rc, &err), RECUR_OK);
    assert_int_equal(recur_tag_corpus_scheme(train), RECUR_TAGS_IOB1);
    recur_tagger_config c;
    recur_tagger_config_default(&c);
    c.word_dim = 12;
    c.hidden = 12;
    c.char_dim = 6;
    c.char_hidden = 6;
    c.caps_dim = 3;
    c.dropout = 0.2;
    recur_tag_task *task;
    assert_int_equal(recur_tag_task_create(&task, &c, train, dev, NULL, 8, 1, &err), RECUR_OK);
    recur_task k = recur_tag_task_callbacks(task);
    recur_trainer_config tc;
    recur_trainer_config_default(&tc);
    recur_optim_config_default(&tc.optim, RECUR_OPTIM_ADAM);
    tc.lr = 0.02;
    tc.epochs = 12;
    tc.out_dir = out_dir;
    tc.progress = getenv("TAG_API_LOG") ? RECUR_PROGRESS_LOG : RECUR_PROGRESS_NONE;
    recur_trainer *tr;
    assert_int_equal(recur_trainer_create(&tr, recur_tag_task_model(task), &k, &tc, &err), RECUR_OK);
    assert_int_equal(recur_trainer_run(tr), RECUR_OK);
    double best_f1 = -recur_trainer_state(tr)->best_val; /* kept negated: lower is better */
    char best[256];
    snprintf(best, sizeof best, "%s", recur_trainer_best_path(tr));
    recur_trainer_free(tr);
    recur_tag_task_free(task);
    if (!(best_f1 >= 90))
        fail_msg("best dev F1 %g", best_f1);

    recur_tagger *tg;
    assert_int_equal(recur_tagger_open(&tg, best, &err), RECUR_OK);
    assert_int_equal(recur_tagger_scheme(tg), RECUR_TAGS_IOB1);
    /* the development file scores as the trainer scored the best epoch */
    recur_conlleval *e;
    assert_int_equal(recur_conlleval_create(&e, &err), RECUR_OK);
    assert_int_equal(recur_tagger_eval_corpus(tg, dev, e), RECUR_OK);
    recur_conlleval_result r;
    recur_conlleval_result_get(e, &r);
    assert_true(fabs(r.overall.f1 - best_f1) < 1e-9);
    recur_conlleval_free(e);

    /* sentences as arrays of strings, tags in IOB1 */
    const char *s1[] = {"Mary", "Smith", "visited", "Rome", "."};
    const char *s2[] = {"John", "and", "Anna", "Peter", "visited", "Paris", "."};
    const char *tags[16];
    assert_int_equal(recur_tagger_tag(tg, s1, 5, tags), RECUR_OK);
    const char *want1[] = {"I-PER", "I-PER", "O", "I-LOC", "O"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(tags[i], want1[i]);
    char alone[7][RECUR_TAG_MAX];
    assert_int_equal(recur_tagger_tag(tg, s2, 7, tags), RECUR_OK);
    for (int i = 0; i < 7; i++)
        snprintf(alone[i], sizeof alone[i], "%s", tags[i]);
    assert_string_equal(alone[3], "B-PER"); /* a person right after a person */
    /* a batch tags each sentence as alone */
    const char *both[12];
    memcpy(both, s1, sizeof s1);
    memcpy(both + 5, s2, sizeof s2);
    int64_t off[3] = {0, 5, 12};
    assert_int_equal(recur_tagger_tag_batch(tg, both, off, 2, tags), RECUR_OK);
    for (int i = 0; i < 5; i++)
        assert_string_equal(tags[i], want1[i]);
    for (int i = 0; i < 7; i++)
        assert_string_equal(tags[5 + i], alone[i]);
    /* unknown words and characters are fine; empty input is not */
    const char *odd[] = {"Zyxw\xc3\xa9", "visited", "Qqq"};
    assert_int_equal(recur_tagger_tag(tg, odd, 3, tags), RECUR_OK);
    assert_int_equal(recur_tagger_tag(tg, odd, 0, tags), RECUR_ERR_ARG);
    const char *empty[] = {""};
    assert_int_equal(recur_tagger_tag(tg, empty, 1, tags), RECUR_ERR_ARG);
    recur_tagger_free(tg);

    /* PyTorch's names in the file */
    recur_checkpoint *ck;
    assert_int_equal(recur_checkpoint_open(&ck, best, &err), RECUR_OK);
    recur_model *m;
    assert_int_equal(recur_checkpoint_load_model(ck, &m, &err), RECUR_OK);
    const char *names[] = {"embedding.weight", "rnn.weight_ih_l0_reverse", "char_rnn.rnn.weight_hh_l0",
                           "char_rnn.embedding.weight", "caps_embedding.weight", "hidden2tag.weight",
                           "hidden2tag.bias", "crf.transitions", "crf.start_transitions",
                           "crf.end_transitions"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        recur_tensor_info info;
        if (recur_model_find_tensor(m, names[i], &info) != RECUR_OK)
            fail_msg("no tensor %s", names[i]);
    }
    recur_model_free(m);
    recur_checkpoint_close(ck);

    /* a file of another task */
    recur_model_config lc;
    recur_model_config_default(&lc);
    lc.vocab_size = lc.output_size = 5;
    lc.embed_size = 4;
    lc.rnn.hidden_size = 4;
    assert_int_equal(recur_model_create(&m, &lc, 1, &err), RECUR_OK);
    char lm_path[256];
    snprintf(lm_path, sizeof lm_path, "%s/lm.safetensors", dir);
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, lm_path, recur_lm_extra_config(RECUR_LEVEL_WORD), NULL, 0, &err),
                     RECUR_OK);
    recur_model_free(m);
    assert_int_equal(recur_tagger_open(&tg, lm_path, &err), RECUR_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, "'lm'"));
    recur_tag_corpus_free(train);
    recur_tag_corpus_free(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_and_tag),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
