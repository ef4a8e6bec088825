/*
 * test_checkpoint.c - checkpoints (src/io/checkpoint.c) end to end:
 *
 *  round trip   save -> open -> load_model for several configurations (plain
 *               encoder, bidirectional with projection and embedding/decoder,
 *               tied GRU with residuals and dropout, deep Elman): every
 *               parameter bit-identical, the configuration equal field by
 *               field, extra metadata and merged extra_config keys returned.
 *  resume       a small LM (embedding + 2-layer LSTM + decoder, all three
 *               dropouts on, so the random state matters) trained N+K steps
 *               in one go equals N steps, a training checkpoint, everything
 *               freed, a fresh model/optimiser restored from the file, and K
 *               more steps - bit for bit, for Adam with clipping and for SGD
 *               with momentum.  Controls show that the comparison can fail:
 *               a resume without the random state, or without the optimiser
 *               state, ends elsewhere.
 *  rejects      one broken file per rule, each with its own message (a
 *               distinctive substring is asserted, every message names the
 *               file, and all messages differ).
 *  atomicity    saving into a missing folder fails with RECUR_ERR_IO naming
 *               the path; a save that fails half-way (RLIMIT_FSIZE in a
 *               forked child) leaves the previous checkpoint byte-identical
 *               and loadable, with no temporary file left behind.
 *  torch        writes ckpt_for_torch.safetensors (a training checkpoint of a
 *               bidirectional LSTM with projection, embedding and decoder)
 *               and ckpt_for_torch.expected.safetensors (inputs and recur's
 *               outputs) next to this test binary; tests/checkpoint_torch.py
 *               loads the first into torch with load_state_dict(strict=True)
 *               and checks the outputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "recur.h"

/* what recur_checkpoint_save says when it fails */
static recur_error save_err;
#include "io/safetensors.h"

static char tmpdir[256];
static char bindir[512] = "."; /* where the test binary lives (torch files go there) */

static int make_tmpdir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/recur_ckpt_XXXXXX", base && base[0] ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static void clean_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[768];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) != 0) {
                clean_dir(p);
                rmdir(p);
            }
        }
    closedir(d);
}

static int remove_tmpdir(void **state)
{
    (void)state;
    clean_dir(tmpdir);
    return rmdir(tmpdir);
}

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", tmpdir, name); }

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_raw(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static recur_model *new_model(const recur_model_config *cfg, uint64_t seed)
{
    recur_model *m = NULL;
    recur_error err;
    if (recur_model_create(&m, cfg, seed, &err) != RECUR_OK)
        fail_msg("recur_model_create: %s", err.msg);
    return m;
}

static recur_checkpoint *open_ok(const char *path)
{
    recur_checkpoint *c = NULL;
    recur_error err;
    if (recur_checkpoint_open(&c, path, &err) != RECUR_OK)
        fail_msg("recur_checkpoint_open(%s): %s", path, err.msg);
    return c;
}

static void assert_config_equal(const recur_model_config *a, const recur_model_config *b)
{
    assert_int_equal(a->vocab_size, b->vocab_size);
    assert_int_equal(a->embed_size, b->embed_size);
    assert_int_equal(a->output_size, b->output_size);
    assert_int_equal(a->tied, b->tied);
    assert_true(a->dropout_embed == b->dropout_embed);
    assert_true(a->dropout_output == b->dropout_output);
    assert_int_equal(a->rnn.cell, b->rnn.cell);
    assert_int_equal(a->rnn.gru_form, b->rnn.gru_form);
    assert_int_equal(a->rnn.input_size, b->rnn.input_size);
    assert_int_equal(a->rnn.hidden_size, b->rnn.hidden_size);
    assert_int_equal(a->rnn.proj_size, b->rnn.proj_size);
    assert_int_equal(a->rnn.num_layers, b->rnn.num_layers);
    assert_int_equal(a->rnn.bidirectional, b->rnn.bidirectional);
    assert_int_equal(a->rnn.residual, b->rnn.residual);
    assert_true(a->rnn.dropout == b->rnn.dropout);
}

/* Every tensor of b has a's name, shape and bits. */
static void assert_params_identical(recur_model *a, recur_model *b)
{
    assert_int_equal(recur_model_num_tensors(a), recur_model_num_tensors(b));
    assert_int_equal(recur_model_num_params(a), recur_model_num_params(b));
    for (int i = 0; i < recur_model_num_tensors(a); i++) {
        recur_tensor_info ta, tb;
        assert_int_equal(recur_model_tensor(a, i, &ta), RECUR_OK);
        assert_int_equal(recur_model_find_tensor(b, ta.name, &tb), RECUR_OK);
        assert_int_equal(ta.ndim, tb.ndim);
        for (int d = 0; d < ta.ndim; d++)
            assert_int_equal(ta.shape[d], tb.shape[d]);
        assert_int_equal(ta.numel, tb.numel);
        if (memcmp(ta.data, tb.data, ta.numel * sizeof(recur_real)) != 0)
            fail_msg("tensor %s differs after the round trip", ta.name);
    }
    assert_memory_equal(recur_model_params(a), recur_model_params(b),
                        recur_model_num_params(a) * sizeof(recur_real));
}

/* ------------------------------------------------------------------------ */
/* (a) round trip                                                            */

static recur_model_config cfg_encoder(void)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = RECUR_CELL_LSTM;
    c.rnn.input_size = 3;
    c.rnn.hidden_size = 4;
    c.rnn.num_layers = 2;
    c.rnn.bidirectional = 1;
    return c;
}

static recur_model_config cfg_proj_lm(void)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.vocab_size = 9;
    c.embed_size = 5;
    c.output_size = 9;
    c.rnn.cell = RECUR_CELL_LSTM;
    c.rnn.hidden_size = 6;
    c.rnn.proj_size = 4;
    c.rnn.num_layers = 2;
    c.rnn.bidirectional = 1;
    c.rnn.dropout = 0.25f;
    c.dropout_embed = 0.1f;
    c.dropout_output = 0.3f;
    return c;
}

static recur_model_config cfg_tied_gru(void)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.vocab_size = 10;
    c.embed_size = 6; /* = 2 directions x 3 */
    c.output_size = 10;
    c.tied = 1;
    c.rnn.cell = RECUR_CELL_GRU;
    c.rnn.gru_form = RECUR_GRU_RESET_BEFORE;
    c.rnn.hidden_size = 3;
    c.rnn.num_layers = 3;
    c.rnn.bidirectional = 1;
    c.rnn.residual = 1;
    c.rnn.dropout = 0.125f;
    return c;
}

static recur_model_config cfg_relu_deep(void)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.rnn.cell = RECUR_CELL_RNN_RELU;
    c.rnn.input_size = 2;
    c.rnn.hidden_size = 5;
    c.rnn.num_layers = 4;
    c.rnn.residual = 1;
    c.rnn.dropout = 0.5f;
    c.output_size = 3;
    return c;
}

static void round_trip_one(const recur_model_config *cfg, const char *file)
{
    char path[300];
    path_in(path, sizeof path, file);
    recur_model *m = new_model(cfg, 42);
    assert_int_equal(recur_model_init_uniform(m, 0.7), RECUR_OK);
    const recur_meta_entry meta[] = {{"note", "a checkpoint for the round trip"},
                                     {"vocab.json", "[\"<eos>\",\"<unk>\",\"caf\xc3\xa9\"]"}};
    const char *extra = "{\"task\":\"lm\",\"level\":\"word\",\"seq\":[1,2,3],\"lr\":0.5}";
    if (recur_checkpoint_save(m, NULL, NULL, path, extra, meta, 2, &save_err) != RECUR_OK)
        fail_msg("save %s: %s", path, save_err.msg);

    recur_checkpoint *c = open_ok(path);
    assert_false(recur_checkpoint_has_train_state(c));
    assert_config_equal(recur_checkpoint_config(c), recur_model_get_config(m));
    assert_string_equal(recur_checkpoint_meta(c, "note"), "a checkpoint for the round trip");
    assert_string_equal(recur_checkpoint_meta(c, "vocab.json"), meta[1].value);
    assert_string_equal(recur_checkpoint_meta(c, "recur.format"), "1");
    assert_null(recur_checkpoint_meta(c, "absent"));
    assert_null(recur_checkpoint_meta(c, "recur.train"));
    /* the application's keys are merged into recur.config, with the model's */
    json_error_t je;
    json_t *j = json_loads(recur_checkpoint_meta(c, "recur.config"), 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "task")), "lm");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "word");
    assert_int_equal(json_array_size(json_object_get(j, "seq")), 3);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "seq"), 2)), 3);
    assert_true(json_real_value(json_object_get(j, "lr")) == 0.5);
    assert_int_equal(json_integer_value(json_object_get(j, "hidden_size")), cfg->rnn.hidden_size);
    json_decref(j);

    recur_model *back = NULL;
    recur_error err;
    if (recur_checkpoint_load_model(c, &back, &err) != RECUR_OK)
        fail_msg("load_model %s: %s", path, err.msg);
    assert_config_equal(recur_model_get_config(back), recur_model_get_config(m));
    assert_params_identical(m, back);
    /* a model file is not a training checkpoint */
    recur_optim_config oc;
    recur_optim_config_default(&oc, RECUR_OPTIM_SGD);
    recur_optim *o = NULL;
    assert_int_equal(recur_optim_create(&o, back, &oc, &err), RECUR_OK);
    recur_train_state ts;
    assert_int_equal(recur_checkpoint_load_train(c, back, o, &ts, &err), RECUR_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, "not a training checkpoint"));
    recur_optim_free(o);
    recur_model_free(back);
    recur_checkpoint_close(c);
    recur_model_free(m);
}

static void test_round_trip(void **state)
{
    (void)state;
    recur_model_config cfgs[] = {cfg_encoder(), cfg_proj_lm(), cfg_tied_gru(), cfg_relu_deep()};
    const char *files[] = {"rt_encoder.safetensors", "rt_proj_lm.safetensors", "rt_tied_gru.safetensors",
                           "rt_relu.safetensors"};
    for (int i = 0; i < 4; i++)
        round_trip_one(&cfgs[i], files[i]);
}

/* Saving refuses what it cannot write faithfully. */
static void test_save_arg_errors(void **state)
{
    (void)state;
    recur_model_config cfg = cfg_encoder();
    recur_model *m = new_model(&cfg, 1);
    char path[300];
    path_in(path, sizeof path, "args.safetensors");
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, path, "{\"hidden_size\":3}", NULL, 0, &save_err), RECUR_ERR_ARG);
    assert_string_equal(recur_model_errmsg(m), ""); /* the message is in err, not on the model */
    assert_non_null(strstr(save_err.msg, "\"hidden_size\" is a model key"));
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, path, "[1]", NULL, 0, &save_err), RECUR_ERR_ARG);
    assert_non_null(strstr(save_err.msg, "not a JSON object"));
    const recur_meta_entry bad[] = {{"recur.train", "{}"}};
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, path, NULL, bad, 1, &save_err), RECUR_ERR_ARG);
    assert_non_null(strstr(save_err.msg, "reserved"));
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, "", NULL, NULL, 0, &save_err), RECUR_ERR_ARG);
    assert_int_equal(access(path, F_OK), -1); /* nothing written */
    recur_model_free(m);
}

/* ------------------------------------------------------------------------ */
/* (b) exact resume                                                          */

#define LM_T 5
#define LM_B 3

static recur_model_config cfg_lm(void)
{
    recur_model_config c;
    recur_model_config_default(&c);
    c.vocab_size = 12;
    c.embed_size = 6;
    c.output_size = 12;
    c.rnn.cell = RECUR_CELL_LSTM;
    c.rnn.hidden_size = 8;
    c.rnn.num_layers = 2;
    c.rnn.dropout = 0.3f;
    c.dropout_embed = 0.1f;
    c.dropout_output = 0.2f;
    return c;
}

/* Training steps [from, to): each step's batch is a function of the step. */
static void train_steps(recur_model *m, recur_optim *o, int from, int to, double lr)
{
    recur_run *r = NULL;
    recur_error err;
    assert_int_equal(recur_run_create(&r, m, LM_T, LM_B, &err), RECUR_OK);
    int32_t tok[LM_T * LM_B], tgt[LM_T * LM_B];
    for (int s = from; s < to; s++) {
        for (int i = 0; i < LM_T * LM_B; i++) {
            tok[i] = (int32_t)((s * 7 + i * 5 + (i * i) % 3) % 12);
            tgt[i] = (int32_t)((tok[i] * 3 + 1 + s) % 12);
        }
        recur_batch bt;
        memset(&bt, 0, sizeof bt);
        bt.T = LM_T;
        bt.B = LM_B;
        bt.tokens = tok;
        bt.targets = tgt;
        recur_model_zero_grad(m);
        double loss;
        if (recur_forward(r, &bt, 1, &loss, NULL) != RECUR_OK)
            fail_msg("forward at step %d: %s", s, recur_run_errmsg(r));
        if (recur_backward(r, 1.0, NULL, NULL, NULL) != RECUR_OK)
            fail_msg("backward at step %d: %s", s, recur_run_errmsg(r));
        if (recur_optim_step(o, lr, NULL, NULL) != RECUR_OK)
            fail_msg("optimiser step %d: %s", s, recur_optim_errmsg(o));
    }
    recur_run_free(r);
}

typedef enum resume_mode { RESUME_EXACT, RESUME_RESEED, RESUME_NO_OPTIM } resume_mode;

/* N steps, save, free, restore as `mode` says, K steps; returns the final
 * parameters (malloc'd). */
static recur_real *train_resumed(const recur_optim_config *oc, int N, int K, double lr, const recur_train_state *ts_in,
                                 const char *path, resume_mode mode)
{
    recur_model_config cfg = cfg_lm();
    recur_model *m = new_model(&cfg, 2024);
    recur_optim *o = NULL;
    recur_error err;
    assert_int_equal(recur_optim_create(&o, m, oc, &err), RECUR_OK);
    train_steps(m, o, 0, N, lr);
    if (recur_checkpoint_save(m, o, ts_in, path, "{\"task\":\"lm\"}", NULL, 0, &save_err) != RECUR_OK)
        fail_msg("save %s: %s", path, save_err.msg);
    recur_optim_free(o);
    recur_model_free(m);

    recur_checkpoint *c = open_ok(path);
    assert_true(recur_checkpoint_has_train_state(c));
    /* a different seed: the random state must come from the file */
    m = new_model(recur_checkpoint_config(c), 777);
    assert_int_equal(recur_optim_create(&o, m, oc, &err), RECUR_OK);
    recur_train_state ts;
    if (mode == RESUME_NO_OPTIM) {
        recur_model *w = NULL;
        assert_int_equal(recur_checkpoint_load_model(c, &w, &err), RECUR_OK);
        memcpy(recur_model_params(m), recur_model_params(w), recur_model_num_params(m) * sizeof(recur_real));
        recur_model_free(w);
    } else {
        if (recur_checkpoint_load_train(c, m, o, &ts, &err) != RECUR_OK)
            fail_msg("load_train %s: %s", path, err.msg);
        assert_int_equal(recur_optim_steps(o), N);
        assert_int_equal(ts.step, ts_in->step);
        assert_int_equal(ts.epoch, ts_in->epoch);
        assert_int_equal(ts.position, ts_in->position);
        assert_true(ts.best_val == ts_in->best_val);
        const recur_schedule *a = &ts.schedule, *b = &ts_in->schedule;
        assert_int_equal(a->kind, b->kind);
        assert_true(a->lr0 == b->lr0 && a->decay == b->decay && a->threshold == b->threshold);
        assert_true(a->min_lr == b->min_lr && a->lr == b->lr && a->best == b->best);
        assert_int_equal(a->start, b->start);
        assert_int_equal(a->patience, b->patience);
        assert_int_equal(a->epoch, b->epoch);
        assert_int_equal(a->bad_epochs, b->bad_epochs);
        if (mode == RESUME_RESEED)
            recur_model_seed(m, 2024);
    }
    recur_checkpoint_close(c);
    train_steps(m, o, N, N + K, lr);
    size_t n = recur_model_num_params(m);
    recur_real *p = malloc(n * sizeof *p);
    assert_non_null(p);
    memcpy(p, recur_model_params(m), n * sizeof *p);
    recur_optim_free(o);
    recur_model_free(m);
    return p;
}

static void resume_case(const recur_optim_config *oc, double lr, const recur_train_state *ts, const char *file)
{
    const int N = 4, K = 3;
    char path[300];
    path_in(path, sizeof path, file);
    recur_model_config cfg = cfg_lm();
    recur_model *m = new_model(&cfg, 2024);
    recur_optim *o = NULL;
    recur_error err;
    assert_int_equal(recur_optim_create(&o, m, oc, &err), RECUR_OK);
    train_steps(m, o, 0, N + K, lr);
    size_t n = recur_model_num_params(m);

    recur_real *resumed = train_resumed(oc, N, K, lr, ts, path, RESUME_EXACT);
    if (memcmp(resumed, recur_model_params(m), n * sizeof *resumed) != 0) {
        size_t i = 0;
        while (resumed[i] == recur_model_params(m)[i])
            i++;
        fail_msg("%s: resumed training differs from uninterrupted training at parameter %zu (%.9g vs %.9g)", file, i,
                 (double)resumed[i], (double)recur_model_params(m)[i]);
    }
    /* controls: each missing piece of state changes the result */
    recur_real *reseeded = train_resumed(oc, N, K, lr, ts, path, RESUME_RESEED);
    assert_true(memcmp(reseeded, recur_model_params(m), n * sizeof *reseeded) != 0);
    recur_real *no_optim = train_resumed(oc, N, K, lr, ts, path, RESUME_NO_OPTIM);
    assert_true(memcmp(no_optim, recur_model_params(m), n * sizeof *no_optim) != 0);
    free(resumed);
    free(reseeded);
    free(no_optim);
    recur_optim_free(o);
    recur_model_free(m);
}

static void test_resume_adam(void **state)
{
    (void)state;
    recur_optim_config oc;
    recur_optim_config_default(&oc, RECUR_OPTIM_ADAM);
    oc.clip = 0.5;
    oc.weight_decay = 1e-4;
    recur_train_state ts;
    memset(&ts, 0, sizeof ts);
    ts.step = 4;
    ts.epoch = 2;
    ts.position = 123456789012345;
    ts.best_val = 4.25;
    recur_schedule_init(&ts.schedule, RECUR_SCHED_PLATEAU, 0.01, 0.5, 1);
    ts.schedule.threshold = 1e-3;
    ts.schedule.min_lr = 1e-5;
    recur_schedule_epoch_end(&ts.schedule, 5.0);
    recur_schedule_epoch_end(&ts.schedule, 5.1);
    recur_schedule_epoch_end(&ts.schedule, 5.2); /* decays once */
    recur_schedule_epoch_end(&ts.schedule, 5.3);
    assert_true(ts.schedule.lr < ts.schedule.lr0 && ts.schedule.bad_epochs == 1 && ts.schedule.epoch == 4);
    resume_case(&oc, 0.01, &ts, "resume_adam.safetensors");
}

static void test_resume_sgd_momentum(void **state)
{
    (void)state;
    recur_optim_config oc;
    recur_optim_config_default(&oc, RECUR_OPTIM_SGD);
    oc.momentum = 0.9;
    oc.clip = 0.25;
    recur_train_state ts;
    memset(&ts, 0, sizeof ts);
    ts.step = 4;
    ts.best_val = INFINITY; /* not finite: stored as null */
    recur_schedule_init(&ts.schedule, RECUR_SCHED_DECAY_AFTER, 1.0, 0.5, 4);
    resume_case(&oc, 0.5, &ts, "resume_sgd.safetensors");
}

/* ------------------------------------------------------------------------ */
/* (c) broken files                                                          */

/* What to change while copying a checkpoint with the safetensors writer. */
typedef struct edit {
    const char *drop;        /* tensor left out */
    const char *as_f64;      /* tensor written as F64 */
    const char *reshape;     /* tensor written with shape new_shape (zeros) */
    int64_t new_shape[2];
    const char *perturb;     /* tensor whose first element changes */
    const char *add;         /* extra F32 tensor of 2 elements */
    const char *meta_key;    /* metadata replaced (or added) ... */
    const char *meta_value;  /* ... by this value; NULL: removed */
} edit;

static void rewrite(const char *src, const char *dst, const edit *e)
{
    st_file f;
    char msg[512];
    if (st_read_file(src, &f, msg, sizeof msg) != RECUR_OK)
        fail_msg("%s", msg);
    st_writer *w = st_writer_new();
    assert_non_null(w);
    int seen = 0;
    for (int i = 0; i < f.n_meta; i++) {
        if (e->meta_key && !strcmp(f.meta_keys[i], e->meta_key)) {
            seen = 1;
            if (e->meta_value)
                assert_int_equal(st_writer_meta(w, e->meta_key, e->meta_value), RECUR_OK);
            continue;
        }
        assert_int_equal(st_writer_meta(w, f.meta_keys[i], f.meta_values[i]), RECUR_OK);
    }
    if (e->meta_key && e->meta_value && !seen)
        assert_int_equal(st_writer_meta(w, e->meta_key, e->meta_value), RECUR_OK);
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        assert_int_equal(t->dtype, ST_F32);
        if (e->drop && !strcmp(t->name, e->drop))
            continue;
        float *v = malloc(t->numel * sizeof *v + 1);
        assert_non_null(v);
        memcpy(v, t->data, t->nbytes);
        if (e->as_f64 && !strcmp(t->name, e->as_f64)) {
            double *d = malloc(t->numel * sizeof *d + 1);
            assert_non_null(d);
            for (size_t k = 0; k < t->numel; k++)
                d[k] = v[k];
            assert_int_equal(st_writer_add(w, t->name, ST_F64, t->ndim, t->shape, d), RECUR_OK);
            free(d);
        } else if (e->reshape && !strcmp(t->name, e->reshape)) {
            size_t n = (size_t)(e->new_shape[0] * e->new_shape[1]);
            float *z = calloc(n + 1, sizeof *z);
            assert_non_null(z);
            assert_int_equal(st_writer_add(w, t->name, ST_F32, 2, e->new_shape, z), RECUR_OK);
            free(z);
        } else {
            if (e->perturb && !strcmp(t->name, e->perturb))
                v[0] += 0.5f;
            assert_int_equal(st_writer_add(w, t->name, ST_F32, t->ndim, t->shape, v), RECUR_OK);
        }
        free(v);
    }
    if (e->add) {
        const float two[2] = {1, 2};
        const int64_t shape[1] = {2};
        assert_int_equal(st_writer_add(w, e->add, ST_F32, 1, shape, two), RECUR_OK);
    }
    if (st_writer_commit(w, dst, msg, sizeof msg) != RECUR_OK)
        fail_msg("%s", msg);
    st_writer_free(w);
    st_free(&f);
}

/* recur.config of src with one key set to a JSON value (NULL: removed). */
static char *config_with(const char *src, const char *key, json_t *value)
{
    recur_checkpoint *c = open_ok(src);
    json_error_t je;
    json_t *j = json_loads(recur_checkpoint_meta(c, "recur.config"), 0, &je);
    assert_non_null(j);
    if (value)
        json_object_set_new(j, key, value);
    else
        json_object_del(j, key);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    recur_checkpoint_close(c);
    return s;
}

/* recur.train of src with key (in the object `inner`, or at the top when
 * inner is NULL) set to value (NULL: removed). */
static char *train_with(const char *src, const char *inner, const char *key, json_t *value)
{
    recur_checkpoint *c = open_ok(src);
    json_error_t je;
    json_t *j = json_loads(recur_checkpoint_meta(c, "recur.train"), 0, &je);
    assert_non_null(j);
    json_t *o = inner ? json_object_get(j, inner) : j;
    assert_non_null(o);
    if (value)
        json_object_set_new(o, key, value);
    else
        assert_int_equal(json_object_del(o, key), 0);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    recur_checkpoint_close(c);
    return s;
}

#define MAX_REJECTS 40
static char reject_msgs[MAX_REJECTS][512];
static int n_rejects;

static void expect_reject(const char *path, recur_status want, const char *needle)
{
    recur_checkpoint *c = (recur_checkpoint *)0x1;
    recur_error err;
    memset(&err, 0, sizeof err);
    recur_status st = recur_checkpoint_open(&c, path, &err);
    if (st != want || !strstr(err.msg, needle) || !strstr(err.msg, path) || err.status != st)
        fail_msg("%s: got %s (%d) \"%s\"; expected %s with \"%s\" and the path", path, recur_status_str(st), (int)st,
                 err.msg, recur_status_str(want), needle);
    assert_null(c);
    assert_true(n_rejects < MAX_REJECTS);
    for (int i = 0; i < n_rejects; i++)
        if (!strcmp(reject_msgs[i], err.msg))
            fail_msg("two rejects share the message \"%s\"", err.msg);
    snprintf(reject_msgs[n_rejects++], sizeof reject_msgs[0], "%s", err.msg);
}

/* A safetensors image from a header text and dlen data bytes (0x11 each). */
static unsigned char *image(const char *json, size_t dlen, size_t *n)
{
    size_t h = strlen(json);
    *n = 8 + h + dlen;
    unsigned char *b = malloc(*n);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, json, h);
    memset(b + 8 + h, 0x11, dlen);
    return b;
}

static void test_rejects(void **state)
{
    (void)state;
    n_rejects = 0;
    char good[300], tied[300], train[300], p[300];
    path_in(good, sizeof good, "good.safetensors");
    path_in(tied, sizeof tied, "tied.safetensors");
    path_in(train, sizeof train, "train.safetensors");
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.rnn.cell = RECUR_CELL_LSTM;
    cfg.rnn.input_size = 3;
    cfg.rnn.hidden_size = 4;
    recur_model *m = new_model(&cfg, 5);
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, good, NULL, NULL, 0, &save_err), RECUR_OK);
    recur_optim_config oc;
    recur_optim_config_default(&oc, RECUR_OPTIM_ADAM);
    recur_optim *o = NULL;
    recur_error err;
    assert_int_equal(recur_optim_create(&o, m, &oc, &err), RECUR_OK);
    recur_train_state ts;
    memset(&ts, 0, sizeof ts);
    recur_schedule_init(&ts.schedule, RECUR_SCHED_CONSTANT, 0.1, 1, 0);
    assert_int_equal(recur_checkpoint_save(m, o, &ts, train, NULL, NULL, 0, &save_err), RECUR_OK);
    recur_optim_free(o);
    recur_model_free(m);
    recur_model_config tc = cfg_tied_gru();
    m = new_model(&tc, 6);
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, tied, NULL, NULL, 0, &save_err), RECUR_OK);
    recur_model_free(m);
    recur_checkpoint_close(open_ok(good));
    recur_checkpoint_close(open_ok(tied));
    recur_checkpoint_close(open_ok(train));

    /* not a file, no file, empty file */
    path_in(p, sizeof p, "a_folder");
    assert_int_equal(mkdir(p, 0700), 0);
    expect_reject(p, RECUR_ERR_IO, "Is a directory");
    path_in(p, sizeof p, "no_such.safetensors");
    expect_reject(p, RECUR_ERR_IO, "cannot open");
    path_in(p, sizeof p, "empty.safetensors");
    write_raw(p, "", 0);
    expect_reject(p, RECUR_ERR_FORMAT, "0 bytes, too short");

    /* truncated: the last tensor's bytes run past the end */
    size_t n;
    unsigned char *b = read_all(good, &n);
    path_in(p, sizeof p, "truncated.safetensors");
    write_raw(p, b, n - 5);
    expect_reject(p, RECUR_ERR_FORMAT, "outside the data area");
    /* header length past the end of the file */
    unsigned char *b2 = malloc(n);
    assert_non_null(b2);
    memcpy(b2, b, n);
    uint64_t big = (uint64_t)n;
    for (int i = 0; i < 8; i++)
        b2[i] = (unsigned char)(big >> (8 * i));
    path_in(p, sizeof p, "header_past_end.safetensors");
    write_raw(p, b2, n);
    expect_reject(p, RECUR_ERR_FORMAT, "exceeds file size");
    /* garbage JSON: the header's bytes scrambled */
    memcpy(b2, b, n);
    memcpy(b2 + 8, "{\"x\":\x01\x02garbage", 15);
    path_in(p, sizeof p, "garbage_json.safetensors");
    write_raw(p, b2, n);
    expect_reject(p, RECUR_ERR_FORMAT, "not valid JSON");
    free(b2);
    free(b);

    /* offsets overlapping */
    size_t in;
    unsigned char *img = image("{\"__metadata__\":{\"recur.format\":\"1\"},"
                               "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                               12, &in);
    path_in(p, sizeof p, "overlap.safetensors");
    write_raw(p, img, in);
    free(img);
    expect_reject(p, RECUR_ERR_FORMAT, "overlap tensor");

    /* metadata */
    path_in(p, sizeof p, "no_config.safetensors");
    rewrite(good, p, &(edit){.meta_key = "recur.config"});
    expect_reject(p, RECUR_ERR_FORMAT, "not a recur model");
    path_in(p, sizeof p, "format2.safetensors");
    rewrite(good, p, &(edit){.meta_key = "recur.format", .meta_value = "2"});
    expect_reject(p, RECUR_ERR_VERSION, "format version 2 is newer");
    path_in(p, sizeof p, "formatx.safetensors");
    rewrite(good, p, &(edit){.meta_key = "recur.format", .meta_value = "x"});
    expect_reject(p, RECUR_ERR_FORMAT, "recur.format \"x\" is not a positive integer");
    path_in(p, sizeof p, "config_not_json.safetensors");
    rewrite(good, p, &(edit){.meta_key = "recur.config", .meta_value = "{cell: lstm"});
    expect_reject(p, RECUR_ERR_FORMAT, "recur.config is not a JSON object");
    char *cj = config_with(good, "hidden_size", json_string("4"));
    path_in(p, sizeof p, "config_wrong_type.safetensors");
    rewrite(good, p, &(edit){.meta_key = "recur.config", .meta_value = cj});
    free(cj);
    expect_reject(p, RECUR_ERR_FORMAT, "\"hidden_size\" must be an integer");
    cj = config_with(good, "cell", json_string("transformer"));
    path_in(p, sizeof p, "config_bad_cell.safetensors");
    rewrite(good, p, &(edit){.meta_key = "recur.config", .meta_value = cj});
    free(cj);
    expect_reject(p, RECUR_ERR_FORMAT, "\"cell\" must be one of rnn_tanh, rnn_relu, lstm, gru");
    cj = config_with(good, "bidirectional", NULL);
    path_in(p, sizeof p, "config_missing_key.safetensors");
    rewrite(good, p, &(edit){.meta_key = "recur.config", .meta_value = cj});
    free(cj);
    expect_reject(p, RECUR_ERR_FORMAT, "\"bidirectional\" must be true or false");
    cj = config_with(good, "proj_size", json_integer(4));
    path_in(p, sizeof p, "config_invalid.safetensors");
    rewrite(good, p, &(edit){.meta_key = "recur.config", .meta_value = cj});
    free(cj);
    expect_reject(p, RECUR_ERR_FORMAT, "projection size 4 must be smaller than hidden size 4");
    /* a few hundred bytes claiming a model of gigabytes: refused before any
     * model of that size is allocated */
    cj = config_with(good, "hidden_size", json_integer(20000));
    char *cj2 = NULL;
    {
        json_error_t je;
        json_t *j = json_loads(cj, 0, &je);
        assert_non_null(j);
        json_object_set_new(j, "input_size", json_integer(20000));
        cj2 = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    free(cj);
    path_in(p, sizeof p, "config_too_big.safetensors");
    rewrite(good, p, &(edit){.meta_key = "recur.config", .meta_value = cj2});
    free(cj2);
    expect_reject(p, RECUR_ERR_MISMATCH, "needs 3200160000 parameters (12800640000 bytes of F32), more than the file's");
    path_in(p, sizeof p, "train_not_json.safetensors");
    rewrite(train, p, &(edit){.meta_key = "recur.train", .meta_value = "[]"});
    expect_reject(p, RECUR_ERR_FORMAT, "recur.train is not a JSON object");
    struct {
        const char *file, *inner, *key;
        json_t *value;
        const char *needle;
    } tr[] = {
        {"train_steps_negative.safetensors", "optimizer", "steps", json_integer(-1),
         "recur.train: optimizer \"steps\" must be an integer >= 0"},
        {"train_no_lr.safetensors", "schedule", "lr", NULL, "recur.train: schedule \"lr0\", \"decay\""},
        {"train_rng_0x.safetensors", NULL, "rng",
         json_pack("[s,s,s,s]", "0x00000000000001", "0000000000000001", "0000000000000001", "0000000000000001"),
         "recur.train: \"rng\" words must be 16 hex digits"},
        {"train_kind.safetensors", "optimizer", "kind", json_integer(7), "optimizer \"kind\" must be 0 (SGD)"},
        {"train_position.safetensors", NULL, "position", json_string("12"),
         "\"step\", \"epoch\" and \"position\" must be integers"},
    };
    for (size_t i = 0; i < sizeof tr / sizeof *tr; i++) {
        char *tj = train_with(train, tr[i].inner, tr[i].key, tr[i].value);
        path_in(p, sizeof p, tr[i].file);
        rewrite(train, p, &(edit){.meta_key = "recur.train", .meta_value = tj});
        free(tj);
        expect_reject(p, RECUR_ERR_FORMAT, tr[i].needle);
    }

    /* tensors */
    path_in(p, sizeof p, "missing_tensor.safetensors");
    rewrite(good, p, &(edit){.drop = "rnn.bias_hh_l0"});
    expect_reject(p, RECUR_ERR_MISMATCH, "tensor 'rnn.bias_hh_l0' is missing");
    path_in(p, sizeof p, "missing_moment.safetensors");
    rewrite(train, p, &(edit){.drop = "optimizer.v.rnn.weight_hh_l0"});
    expect_reject(p, RECUR_ERR_MISMATCH, "tensor 'optimizer.v.rnn.weight_hh_l0' is missing");
    path_in(p, sizeof p, "extra_tensor.safetensors");
    rewrite(good, p, &(edit){.add = "rnn.extra"});
    expect_reject(p, RECUR_ERR_MISMATCH, "unexpected tensor 'rnn.extra'");
    path_in(p, sizeof p, "moment_in_model_file.safetensors");
    rewrite(good, p, &(edit){.add = "optimizer.m.rnn.bias_ih_l0"});
    expect_reject(p, RECUR_ERR_MISMATCH, "unexpected tensor 'optimizer.m.rnn.bias_ih_l0'");
    path_in(p, sizeof p, "wrong_shape.safetensors");
    rewrite(good, p, &(edit){.reshape = "rnn.weight_hh_l0", .new_shape = {16, 5}});
    expect_reject(p, RECUR_ERR_MISMATCH, "tensor 'rnn.weight_hh_l0': expected shape [16, 4], got [16, 5]");
    path_in(p, sizeof p, "wrong_rank.safetensors");
    rewrite(good, p, &(edit){.reshape = "rnn.bias_ih_l0", .new_shape = {16, 1}});
    expect_reject(p, RECUR_ERR_MISMATCH, "tensor 'rnn.bias_ih_l0': expected shape [16], got [16, 1]");
    path_in(p, sizeof p, "f64.safetensors");
    rewrite(good, p, &(edit){.as_f64 = "rnn.weight_ih_l0"});
    expect_reject(p, RECUR_ERR_MISMATCH, "tensor 'rnn.weight_ih_l0' has dtype F64, expected F32");
    path_in(p, sizeof p, "tied_differs.safetensors");
    rewrite(tied, p, &(edit){.perturb = "decoder.weight"});
    expect_reject(p, RECUR_ERR_MISMATCH, "decoder.weight differs from embedding.weight");
    /* the copies themselves are good: an empty edit opens */
    path_in(p, sizeof p, "copy.safetensors");
    rewrite(tied, p, &(edit){0});
    recur_checkpoint_close(open_ok(p));
    fprintf(stderr, "  %d broken files rejected, each with its own message\n", n_rejects);
}

/* ------------------------------------------------------------------------ */
/* (d) atomicity                                                             */

static void test_save_missing_folder(void **state)
{
    (void)state;
    recur_model_config cfg = cfg_encoder();
    recur_model *m = new_model(&cfg, 3);
    char path[300];
    path_in(path, sizeof path, "no/such/folder/model.safetensors");
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, path, NULL, NULL, 0, &save_err), RECUR_ERR_IO);
    assert_non_null(strstr(save_err.msg, path));
    recur_model_free(m);
}

static void test_save_fails_keeps_old(void **state)
{
    (void)state;
    char path[300];
    path_in(path, sizeof path, "keep.safetensors");
    recur_model_config small = cfg_encoder();
    recur_model *m = new_model(&small, 10);
    assert_int_equal(recur_checkpoint_save(m, NULL, NULL, path, NULL, NULL, 0, &save_err), RECUR_OK);
    size_t n0;
    unsigned char *before = read_all(path, &n0);
    int entries = count_entries(tmpdir);

    /* a bigger model whose file cannot fit under the size limit */
    recur_model_config cfg = cfg_encoder();
    cfg.rnn.hidden_size = 64;
    recur_model *big = new_model(&cfg, 11);
    assert_true(recur_model_num_params(big) * 4 > 65536);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {16384, 16384};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(10);
        recur_status st = recur_checkpoint_save(big, NULL, NULL, path, NULL, NULL, 0, &save_err);
        if (st != RECUR_ERR_IO)
            _exit(11);
        if (!strstr(save_err.msg, path))
            _exit(12);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    size_t n1;
    unsigned char *after = read_all(path, &n1);
    assert_int_equal(n1, n0);
    assert_memory_equal(after, before, n0);
    assert_int_equal(count_entries(tmpdir), entries); /* no temporary file left */
    recur_checkpoint *c = open_ok(path);
    recur_model *back = NULL;
    recur_error err;
    assert_int_equal(recur_checkpoint_load_model(c, &back, &err), RECUR_OK);
    assert_params_identical(m, back);
    recur_model_free(back);
    recur_checkpoint_close(c);
    /* and the same save without the limit succeeds */
    assert_int_equal(recur_checkpoint_save(big, NULL, NULL, path, NULL, NULL, 0, &save_err), RECUR_OK);
    c = open_ok(path);
    assert_int_equal(recur_checkpoint_config(c)->rnn.hidden_size, 64);
    recur_checkpoint_close(c);
    free(before);
    free(after);
    recur_model_free(big);
    recur_model_free(m);
}

/* ------------------------------------------------------------------------ */
/* (e) a checkpoint for torch's load_state_dict                               */

#define TT 5
#define TB 3

static void add_real(st_writer *w, const char *name, int ndim, const int64_t *shape, const recur_real *v)
{
#ifdef RECUR_DOUBLE
    assert_int_equal(st_writer_add(w, name, ST_F64, ndim, shape, v), RECUR_OK);
#else
    assert_int_equal(st_writer_add(w, name, ST_F32, ndim, shape, v), RECUR_OK);
#endif
}

static void test_torch_files(void **state)
{
    (void)state;
    char path[600], expected[600], msg[512];
    snprintf(path, sizeof path, "%s/ckpt_for_torch.safetensors", bindir);
    snprintf(expected, sizeof expected, "%s/ckpt_for_torch.expected.safetensors", bindir);
    recur_model_config cfg = cfg_proj_lm();
    recur_model *m = new_model(&cfg, 31);
    assert_int_equal(recur_model_init_uniform(m, 0.5), RECUR_OK);
    const int L = cfg.rnn.num_layers, D = 2, H = cfg.rnn.hidden_size, P = cfg.rnn.proj_size, O = cfg.output_size;
    const int32_t lengths[TB] = {TT, 2, 4};
    int32_t tokens[TT * TB], targets[TT * TB];
    for (int i = 0; i < TT * TB; i++) {
        tokens[i] = (int32_t)((i * 4 + 1) % cfg.vocab_size);
        targets[i] = (int32_t)((i * 2 + 3) % O);
    }
    recur_real h0[2 * 2 * TB * 4], c0[2 * 2 * TB * 6];
    assert_true(L * D * TB * P <= (int)(sizeof h0 / sizeof *h0) && L * D * TB * H <= (int)(sizeof c0 / sizeof *c0));
    for (int i = 0; i < L * D * TB * P; i++)
        h0[i] = (recur_real)(0.1 * sin(1.0 + i));
    for (int i = 0; i < L * D * TB * H; i++)
        c0[i] = (recur_real)(0.2 * cos(2.0 + i));

    /* one Adam step so that the file holds optimiser moments too */
    recur_run *r = NULL;
    recur_error err;
    assert_int_equal(recur_run_create(&r, m, TT, TB, &err), RECUR_OK);
    recur_batch bt;
    memset(&bt, 0, sizeof bt);
    bt.T = TT;
    bt.B = TB;
    bt.tokens = tokens;
    bt.targets = targets;
    bt.lengths = lengths;
    bt.h0 = h0;
    bt.c0 = c0;
    recur_optim_config oc;
    recur_optim_config_default(&oc, RECUR_OPTIM_ADAM);
    recur_optim *o = NULL;
    assert_int_equal(recur_optim_create(&o, m, &oc, &err), RECUR_OK);
    recur_model_zero_grad(m);
    assert_int_equal(recur_forward(r, &bt, 1, NULL, NULL), RECUR_OK);
    assert_int_equal(recur_backward(r, 1.0, NULL, NULL, NULL), RECUR_OK);
    assert_int_equal(recur_optim_step(o, 0.01, NULL, NULL), RECUR_OK);
    recur_train_state ts;
    memset(&ts, 0, sizeof ts);
    ts.step = 1;
    recur_schedule_init(&ts.schedule, RECUR_SCHED_CONSTANT, 0.01, 1, 0);
    if (recur_checkpoint_save(m, o, &ts, path, "{\"task\":\"torch-check\"}", NULL, 0, &save_err) != RECUR_OK)
        fail_msg("%s", save_err.msg);

    /* the outputs of the model as loaded back from that file */
    recur_checkpoint *c = open_ok(path);
    recur_model *back = NULL;
    assert_int_equal(recur_checkpoint_load_model(c, &back, &err), RECUR_OK);
    recur_checkpoint_close(c);
    assert_params_identical(m, back);
    recur_run *r2 = NULL;
    assert_int_equal(recur_run_create(&r2, back, TT, TB, &err), RECUR_OK);
    bt.targets = NULL;
    assert_int_equal(recur_forward(r2, &bt, 0, NULL, NULL), RECUR_OK);

    st_writer *w = st_writer_new();
    assert_non_null(w);
    const int64_t s_tok[2] = {TT, TB}, s_len[1] = {TB};
    const int64_t s_h[3] = {L * D, TB, P}, s_c[3] = {L * D, TB, H};
    const int64_t s_y[3] = {TT, TB, D * P}, s_lg[3] = {TT, TB, O};
    assert_int_equal(st_writer_meta(w, "about", "inputs and recur's outputs for tests/checkpoint_torch.py"), RECUR_OK);
    assert_int_equal(st_writer_add(w, "tokens", ST_I32, 2, s_tok, tokens), RECUR_OK);
    assert_int_equal(st_writer_add(w, "lengths", ST_I32, 1, s_len, lengths), RECUR_OK);
    add_real(w, "h0", 3, s_h, h0);
    add_real(w, "c0", 3, s_c, c0);
    add_real(w, "y", 3, s_y, recur_run_outputs(r2));
    add_real(w, "logits", 3, s_lg, recur_run_logits(r2));
    add_real(w, "hn", 3, s_h, recur_run_hn(r2));
    add_real(w, "cn", 3, s_c, recur_run_cn(r2));
    if (st_writer_commit(w, expected, msg, sizeof msg) != RECUR_OK)
        fail_msg("%s", msg);
    st_writer_free(w);
    fprintf(stderr, "  wrote %s\n  and %s\n  (check: /usr/bin/python3 tests/checkpoint_torch.py %s)\n", path, expected,
            path);
    recur_run_free(r2);
    recur_run_free(r);
    recur_optim_free(o);
    recur_model_free(back);
    recur_model_free(m);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *slash = argv[0] ? strrchr(argv[0], '/') : NULL;
    if (slash)
        snprintf(bindir, sizeof bindir, "%.*s", (int)(slash - argv[0]), argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_save_arg_errors),
        cmocka_unit_test(test_resume_adam),
        cmocka_unit_test(test_resume_sgd_momentum),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_save_missing_folder),
        cmocka_unit_test(test_save_fails_keeps_old),
        cmocka_unit_test(test_torch_files),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
