/*
 * make_checkpoint_seeds.c - writes the seed corpus of fuzz/fuzz_checkpoint.c
 * with recur's own writer (recur_checkpoint_save), so the seeds are exactly
 * what recur produces:
 *   lstm_model      a model file: LSTM, input 2, hidden 2, 1 layer
 *   gru_tied_adam   a training checkpoint: embedding 4 x 2, bidirectional
 *                   reset-before GRU of 1 unit, tied decoder, Adam moments
 *   lstmp_sgd       a training checkpoint: bidirectional LSTM with projection
 *                   (hidden 2, proj 1), decoder, SGD with momentum
 *   rnn_deep        a model file: 2-layer Elman relu with residual, decoder
 * Every dimension is tiny so that the files stay small (a few hundred bytes
 * of tensors) and mutations land in the header more often than in floats.
 *
 * Build and run: make fuzz-checkpoint-seeds (writes fuzz/seeds_checkpoint/).
 */
#include <stdio.h>
#include <string.h>

#include "recur.h"

/* what recur_checkpoint_save says when it fails */
static recur_error save_err;

/* kind: a recur_optim_kind for a training checkpoint, -1 for a model file */
static int save(const recur_model_config *cfg, int kind, double momentum, const char *dir,
                const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    recur_model *m = NULL;
    recur_error err;
    if (recur_model_create(&m, cfg, 7, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        return 1;
    }
    recur_optim *o = NULL;
    recur_train_state ts;
    memset(&ts, 0, sizeof ts);
    recur_schedule_init(&ts.schedule, RECUR_SCHED_PLATEAU, 0.1, 0.5, 1);
    ts.step = 3;
    ts.best_val = 2.5;
    if (kind >= 0) {
        recur_optim_config oc;
        recur_optim_config_default(&oc, (recur_optim_kind)kind);
        oc.momentum = momentum;
        oc.clip = 1;
        if (recur_optim_create(&o, m, &oc, &err) != RECUR_OK) {
            fprintf(stderr, "%s: %s\n", name, err.msg);
            recur_model_free(m);
            return 1;
        }
    }
    const recur_meta_entry meta[] = {{"note", "seed"}};
    recur_status st = recur_checkpoint_save(m, o, o ? &ts : NULL, path, "{\"task\":\"fuzz\"}", meta, 1, &save_err);
    if (st != RECUR_OK)
        fprintf(stderr, "%s: %s\n", name, save_err.msg);
    else
        printf("wrote %s\n", path);
    recur_optim_free(o);
    recur_model_free(m);
    return st != RECUR_OK;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "fuzz/seeds_checkpoint";
    int fails = 0;
    recur_model_config c;

    recur_model_config_default(&c);
    c.rnn.cell = RECUR_CELL_LSTM;
    c.rnn.input_size = 2;
    c.rnn.hidden_size = 2;
    fails += save(&c, -1, 0, dir, "lstm_model");

    recur_model_config_default(&c);
    c.vocab_size = 4;
    c.embed_size = 2;
    c.output_size = 4;
    c.tied = 1;
    c.rnn.cell = RECUR_CELL_GRU;
    c.rnn.gru_form = RECUR_GRU_RESET_BEFORE;
    c.rnn.hidden_size = 1;
    c.rnn.bidirectional = 1;
    c.dropout_embed = 0.25f;
    fails += save(&c, RECUR_OPTIM_ADAM, 0, dir, "gru_tied_adam");

    recur_model_config_default(&c);
    c.rnn.cell = RECUR_CELL_LSTM;
    c.rnn.input_size = 1;
    c.rnn.hidden_size = 2;
    c.rnn.proj_size = 1;
    c.rnn.bidirectional = 1;
    c.output_size = 2;
    fails += save(&c, RECUR_OPTIM_SGD, 0.9, dir, "lstmp_sgd");

    recur_model_config_default(&c);
    c.rnn.cell = RECUR_CELL_RNN_RELU;
    c.rnn.input_size = 1;
    c.rnn.hidden_size = 1;
    c.rnn.num_layers = 2;
    c.rnn.residual = 1;
    c.rnn.dropout = 0.5f;
    c.output_size = 2;
    fails += save(&c, -1, 0, dir, "rnn_deep");
    return fails ? 1 : 0;
}
