/*
 * task.c - `recur task adding|copy [OPTIONS]`: trains a recurrent model on
 * the adding problem or the copy task at a chosen delay (recur_longrange.h)
 * with the shared trainer, and reports the best validation figure and
 * whether the task counts as solved.  The last line of the output is one
 * machine-readable summary ("result task=... solved=0|1 ...") for the
 * sweep in bench/longrange_sweep.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "options.h"
#include "recur_longrange.h"
#include "train_options.h"

int cli_task(int argc, char **argv);

typedef struct task_opts {
    const char *cell;
    long long delay, hidden, layers, embed, batch, epoch_steps, valid_size, copy_length, copy_symbols;
    double init_scale, forget_bias;
    train_opts train;
} task_opts;

static int table(task_opts *o, cli_opt *t)
{
    int n = 0;
    t[n++] = CLI_INT("delay", &o->delay, "N", "adding: sequence length; copy: steps from the last symbol to the delimiter", 1, 1000000);
    t[n++] = CLI_CHOICE("cell", &o->cell, "recurrent cell", "lstm|gru|rnn-tanh|rnn-relu");
    t[n++] = CLI_INT("hidden", &o->hidden, "N", "hidden units per layer", 1, 1 << 16);
    t[n++] = CLI_INT("layers", &o->layers, "N", "recurrent layers", 1, RECUR_MAX_LAYERS);
    t[n++] = CLI_INT("embed", &o->embed, "N", "copy: embedding size, 0: the hidden size", 0, 1 << 16);
    t[n++] = CLI_DBL("init-scale", &o->init_scale, "S", "uniform init in [-S, S], 0: PyTorch's default", 0, 100, 0);
    t[n++] = CLI_DBL("forget-bias", &o->forget_bias, "B", "LSTM forget-gate bias after init", -100, 100, 0);
    t[n++] = CLI_INT("batch", &o->batch, "B", "sequences per step (drawn fresh each step)", 1, 4096);
    t[n++] = CLI_INT("epoch-steps", &o->epoch_steps, "N", "steps per epoch (validation after each)", 1, 1e12);
    t[n++] = CLI_INT("valid-size", &o->valid_size, "N", "validation sequences (fixed by the seed)", 1, 1 << 20);
    t[n++] = CLI_INT("copy-length", &o->copy_length, "K", "copy: symbols to remember", 1, 64);
    t[n++] = CLI_INT("copy-symbols", &o->copy_symbols, "S", "copy: alphabet size", 2, 1000);
    n += train_opts_rows(&o->train, t + n);
    t[n] = CLI_END;
    return n;
}

static void defaults(task_opts *o)
{
    memset(o, 0, sizeof *o);
    train_opts_defaults(&o->train);
    o->cell = "lstm";
    o->delay = 50;
    o->hidden = 64;
    o->layers = 1;
    o->init_scale = 0;
    o->forget_bias = 1;
    o->batch = 32;
    o->epoch_steps = 100;
    o->valid_size = 512;
    o->copy_length = 10;
    o->copy_symbols = 8;
    o->train.optim = "adam";
    o->train.lr = 0.001;
    o->train.clip = 1;
    o->train.epochs = 20;
    o->train.out_dir = "task-run";
}

static recur_cell cell_of(const char *s)
{
    return !strcmp(s, "lstm")       ? RECUR_CELL_LSTM
           : !strcmp(s, "gru")      ? RECUR_CELL_GRU
           : !strcmp(s, "rnn-relu") ? RECUR_CELL_RNN_RELU
                                    : RECUR_CELL_RNN_TANH;
}

int cli_task(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "adding") && strcmp(argv[1], "copy"))) {
        int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"));
        fprintf(help ? stdout : stderr,
                "usage: recur task adding|copy [OPTIONS]\n\n"
                "long-range tasks (see docs/gradients.md):\n"
                "  adding  the adding problem: sum the two marked values of a sequence of N\n"
                "  copy    the copy task: recall K symbols after a delay of N steps\n\n"
                "`recur task adding --help` lists the options and defaults.\n");
        return help ? 0 : 2;
    }
    const char *kind = argv[1];
    char cmd[64];
    snprintf(cmd, sizeof cmd, "recur task %s", kind);
    task_opts o;
    defaults(&o);
    cli_opt tab[64];
    table(&o, tab);
    int npos;
    int rc = cli_parse(cmd, "[OPTIONS]\n\n"
                            "Trains a recurrent model on the task at --delay N with the shared trainer\n"
                            "(fresh batches every step, a fixed validation set); prints the best\n"
                            "validation figure and whether the task is solved (adding: mean squared\n"
                            "error < 0.01, guessing gives 0.167; copy: accuracy >= 0.99, guessing\n"
                            "gives 1/S).",
                       tab, argc - 1, argv + 1, NULL, 0, &npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (o.train.resume && o.train.force) {
        fprintf(stderr, "%s: --resume and --force exclude each other\n", cmd);
        return 2;
    }
    recur_set_num_threads((int)o.train.threads);
    recur_longrange_config lc;
    recur_longrange_config_default(&lc);
    lc.kind = !strcmp(kind, "adding") ? RECUR_LONGRANGE_ADDING : RECUR_LONGRANGE_COPY;
    lc.delay = (int)o.delay;
    lc.batch = (int)o.batch;
    lc.epoch_steps = o.epoch_steps;
    lc.valid_size = (int)o.valid_size;
    lc.copy_length = (int)o.copy_length;
    lc.copy_symbols = (int)o.copy_symbols;
    lc.seed = (uint64_t)o.train.seed;
    json_t *opts = train_settings_json(tab);
    /* what a resumed run may change (epochs, early stop, log interval) is not compared */
    const char *key;
    json_t *val;
    void *iter_tmp;
    json_object_foreach_safe(opts, iter_tmp, key, val) {
        (void)val;
        if (train_opts_resumable(key))
            json_object_del(opts, key);
    }
    char *settings = json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(opts);
    recur_model *m = NULL;
    recur_longrange_task *task = NULL;
    recur_trainer *tr = NULL;
    recur_error err = {0};
    rc = 1;
    if (!settings) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        goto done;
    }
    if (o.train.resume) {
        /* the run's model; its settings must be the ones given now */
        char path[4200];
        snprintf(path, sizeof path, "%s/last.safetensors", o.train.out_dir);
        recur_checkpoint *ck;
        if (recur_checkpoint_open(&ck, path, &err) != RECUR_OK) {
            fprintf(stderr, "%s: --resume: %s\n", cmd, err.msg);
            goto done;
        }
        const char *stored = recur_checkpoint_meta(ck, "recur.task.settings");
        int same = stored && !strcmp(stored, settings);
        if (!same)
            fprintf(stderr, "%s: --resume: %s was trained with other settings (%s); give the same options\n",
                    cmd, path, stored ? stored : "none stored");
        recur_status st = same ? recur_checkpoint_load_model(ck, &m, &err) : RECUR_ERR_MISMATCH;
        recur_checkpoint_close(ck);
        if (!same)
            goto done;
        if (st != RECUR_OK) {
            fprintf(stderr, "%s: --resume: %s\n", cmd, err.msg);
            goto done;
        }
    } else {
        recur_cell cell = cell_of(o.cell);
        if (recur_longrange_model_create(&m, &lc, cell, (int)o.hidden, (int)o.layers, (int)o.embed,
                                         o.init_scale, (uint64_t)o.train.seed, &err) != RECUR_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err.msg);
            goto done;
        }
        if (cell == RECUR_CELL_LSTM && recur_model_set_forget_bias(m, o.forget_bias) != RECUR_OK) {
            fprintf(stderr, "%s: %s\n", cmd, recur_model_errmsg(m));
            goto done;
        }
    }
    if (recur_longrange_task_create(&task, m, &lc, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
        goto done;
    }
    recur_meta_entry meta[1] = {{"recur.task.settings", settings}};
    recur_task tk = recur_longrange_task_callbacks(task);
    tk.meta = meta;
    tk.n_meta = 1;
    recur_trainer_config tc;
    train_opts_config(&o.train, &tc);
    train_signals_install();
    if (recur_trainer_create(&tr, m, &tk, &tc, &err) != RECUR_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err.msg);
        goto done;
    }
    recur_trainer_message(tr, "%s, delay %lld: %s %lldx%lld, %zu parameters; %s lr %g, clip %g, batch %lld",
                          kind, o.delay, o.cell, o.layers, o.hidden, recur_model_num_params(m),
                          o.train.optim, o.train.lr, o.train.clip, o.batch);
    recur_status st = recur_trainer_run(tr);
    const recur_train_state *ts = recur_trainer_state(tr);
    const int adding = lc.kind == RECUR_LONGRANGE_ADDING;
    int diverged = st == RECUR_ERR_NONFINITE;
    if (st != RECUR_OK && !diverged) {
        if (st != RECUR_ERR_INTERRUPTED)
            fprintf(stderr, "%s: %s\n", cmd, recur_trainer_errmsg(tr));
        rc = train_exit_status(st);
        goto done;
    }
    if (diverged)
        fprintf(stderr, "%s: %s\n", cmd, recur_trainer_errmsg(tr));
    double best = adding ? ts->best_val : -ts->best_val; /* the trainer keeps -accuracy */
    int has_best = recur_trainer_has_best(tr);
    int solved = has_best && !diverged &&
                 (adding ? best < RECUR_ADDING_SOLVED_MSE : best >= RECUR_COPY_SOLVED_ACCURACY);
    if (!has_best)
        best = NAN;
    printf("%s delay %lld, %s %lldx%lld, clip %g: best validation %s %.4g after %lld steps, %.1f s: %s\n",
           kind, o.delay, o.cell, o.layers, o.hidden, o.train.clip, adding ? "mse" : "accuracy", best,
           (long long)ts->step, recur_trainer_seconds(tr),
           diverged ? "diverged" : solved ? "solved" : "not solved");
    printf("result task=%s delay=%lld cell=%s hidden=%lld clip=%g best=%.6g steps=%lld seconds=%.1f "
           "diverged=%d solved=%d\n",
           kind, o.delay, o.cell, o.hidden, o.train.clip, best, (long long)ts->step,
           recur_trainer_seconds(tr), diverged, solved);
    rc = diverged ? 3 : 0;
done:
    train_signals_restore();
    recur_trainer_free(tr);
    recur_longrange_task_free(task);
    recur_model_free(m);
    free(settings);
    return rc;
}
