/*
 * fuzz_checkpoint.c - libFuzzer target for loading checkpoints
 * (src/io/checkpoint.c on top of src/io/safetensors.c and src/engine/model.c): each input
 * is written to a file (in /dev/shm when it exists, else $TMPDIR or /tmp),
 * then
 *   recur_checkpoint_open      safetensors structure, recur.format,
 *                              recur.config, recur.train, every tensor's
 *                              name, dtype and shape, tied weights;
 *   recur_checkpoint_config / _meta / _has_train_state
 *   recur_checkpoint_load_model
 *   recur_checkpoint_load_train  with an optimiser of the kind (and
 *                              momentum) recur.train names, when it has one;
 *   a tiny forward pass of the loaded model (2 steps, batch 1).
 * A failure must come with a non-empty message and leave *out NULL.  An open
 * that succeeds must load: a model whose every tensor holds the file's F32
 * bits.  Build and run: docs/fuzzing.md (make fuzz-checkpoint).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "recur.h"
#include "io/safetensors.h"

static char path[512];
static volatile unsigned sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/recur_fuzz_ckpt_%ld.safetensors", dir && *dir ? dir : "/tmp", (long)getpid());
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        __builtin_trap();
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0)
            __builtin_trap();
        done += (size_t)n;
    }
    close(fd);
}

/* The loaded model's tensors equal the file's F32 data bit for bit. */
static void check_weights(recur_model *m, const uint8_t *data, size_t size)
{
    st_file f;
    char err[512];
    if (st_parse(data, size, &f, err, sizeof err) != RECUR_OK)
        __builtin_trap(); /* open accepted these bytes */
    for (int i = 0; i < recur_model_num_tensors(m); i++) {
        recur_tensor_info ti;
        if (recur_model_tensor(m, i, &ti) != RECUR_OK)
            __builtin_trap();
        const st_tensor *t = st_find(&f, ti.name);
        if (!t || t->dtype != ST_F32 || t->numel != ti.numel)
            __builtin_trap();
        for (size_t k = 0; k < ti.numel; k++) {
            float v;
            memcpy(&v, (const unsigned char *)t->data + 4 * k, 4);
            if (memcmp(&v, &ti.data[k], sizeof v) != 0)
                __builtin_trap();
        }
    }
    st_free(&f);
}

static void try_train(recur_checkpoint *c, recur_model *m)
{
    const char *train = recur_checkpoint_meta(c, "recur.train");
    json_t *j = train ? json_loads(train, 0, NULL) : NULL;
    json_t *o = json_object_get(j, "optimizer");
    json_int_t kind = json_integer_value(json_object_get(o, "kind"));
    double mom = json_number_value(json_object_get(o, "momentum"));
    json_decref(j);
    recur_optim_config oc;
    recur_optim_config_default(&oc, kind >= RECUR_OPTIM_SGD && kind <= RECUR_OPTIM_ADAMW ? (recur_optim_kind)kind
                                                                                       : RECUR_OPTIM_ADAM);
    oc.momentum = mom >= 0 && mom < 1 ? mom : 0;
    recur_optim *opt = NULL;
    recur_error err;
    if (recur_optim_create(&opt, m, &oc, &err) != RECUR_OK)
        return;
    recur_train_state ts;
    memset(&err, 0, sizeof err);
    recur_status st = recur_checkpoint_load_train(c, m, opt, &ts, &err);
    if (st != RECUR_OK && (err.msg[0] == '\0' || err.status != st))
        __builtin_trap();
    if (st == RECUR_OK)
        sink += (unsigned)ts.step + (unsigned)recur_optim_steps(opt);
    recur_optim_free(opt);
}

static void tiny_forward(recur_model *m)
{
    if (recur_model_num_params(m) > 200000)
        return;
    const recur_model_config *cfg = recur_model_get_config(m);
    recur_run *r = NULL;
    recur_error err;
    if (recur_run_create(&r, m, 2, 1, &err) != RECUR_OK)
        return;
    int32_t tokens[2] = {0, cfg->vocab_size > 1 ? 1 : 0}, targets[2] = {0, -1};
    recur_real *x = calloc((size_t)2 * (cfg->rnn.input_size > 0 ? cfg->rnn.input_size : 1), sizeof *x);
    recur_batch bt;
    memset(&bt, 0, sizeof bt);
    bt.T = 2;
    bt.B = 1;
    bt.tokens = tokens;
    bt.inputs = x;
    bt.targets = cfg->output_size > 0 ? targets : NULL;
    double loss = 0;
    if (x && recur_forward(r, &bt, 0, &loss, NULL) == RECUR_OK)
        sink += recur_run_outputs(r)[0] == 0;
    free(x);
    recur_run_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    recur_checkpoint *c = (recur_checkpoint *)&sink; /* must become NULL on failure */
    recur_error err;
    memset(&err, 0, sizeof err);
    recur_status st = recur_checkpoint_open(&c, path, &err);
    if (st != RECUR_OK) {
        if (c != NULL || err.msg[0] == '\0' || err.status != st)
            __builtin_trap();
        return 0;
    }
    const recur_model_config *cfg = recur_checkpoint_config(c);
    const char *text = recur_checkpoint_meta(c, "recur.config");
    if (!text || !recur_checkpoint_meta(c, "recur.format"))
        __builtin_trap();
    sink += (unsigned)strlen(text) + (unsigned)cfg->rnn.hidden_size;
    recur_model *m = (recur_model *)&sink;
    memset(&err, 0, sizeof err);
    st = recur_checkpoint_load_model(c, &m, &err);
    if (st != RECUR_OK) /* open validated everything load_model needs */
        __builtin_trap();
    check_weights(m, data, size);
    if (recur_checkpoint_has_train_state(c))
        try_train(c, m);
    tiny_forward(m);
    recur_model_free(m);
    recur_checkpoint_close(c);
    return 0;
}
