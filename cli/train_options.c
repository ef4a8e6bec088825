/* train_options.c - the options, settings and signals every `recur TASK train` shares. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fail.h"
#include "train_options.h"

void train_opts_defaults(train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->optim = "sgd";
    o->lr = 1;
    o->schedule = "constant";
    o->decay = 0.5;
    o->clip = 5;
    o->epochs = 10;
    o->seed = 1;
    o->out_dir = "run";
    o->metrics = "";
    o->progress = "auto";
    o->precision = "fp32";
}

int train_opts_rows(train_opts *o, cli_opt *t)
{
    int n = 0;
    t[n++] = CLI_CHOICE("optim", &o->optim, "optimiser", "sgd|adam|adamw");
    t[n++] = CLI_DBL("lr", &o->lr, "LR", "learning rate", 0, 1e6, 1);
    t[n++] = CLI_DBL("momentum", &o->momentum, "M", "SGD momentum", 0, 0.999999, 0);
    t[n++] = CLI_DBL("weight-decay", &o->weight_decay, "W", "weight decay (L2; decoupled with adamw)", 0, 1e3, 0);
    t[n++] = CLI_CHOICE("schedule", &o->schedule, "decay: lr * decay^(epoch - decay-start) after decay-start; plateau: lr * decay when validation stalls", "decay|plateau|constant");
    t[n++] = CLI_DBL("decay", &o->decay, "F", "learning-rate factor of the schedule, in (0, 1]", 0, 1, 1);
    t[n++] = CLI_INT("decay-start", &o->decay_start, "E", "last epoch at the initial rate (schedule decay)", 0, 1e9);
    t[n++] = CLI_INT("patience", &o->patience, "N", "epochs without improvement before a decay (schedule plateau)", 0, 1e9);
    t[n++] = CLI_INT("warmup", &o->warmup, "N", "steps of linear learning-rate warm-up, 0: none", 0, 1e15);
    t[n++] = CLI_DBL("clip", &o->clip, "C", "max global gradient norm at the loss scale, 0: no clipping", 0, 1e12, 0);
    t[n++] = CLI_INT("epochs", &o->epochs, "N", "epochs in all", 1, 1e9);
    t[n++] = CLI_INT("early-stop", &o->early_stop, "N", "stop after N epochs without improvement on validation, 0: never", 0, 1e9);
    t[n++] = CLI_INT("max-steps", &o->max_steps, "N", "stop (resumably) after N steps in this run, 0: no limit", 0, 1e15);
    t[n++] = CLI_DUR("time-limit", &o->time_limit, "TIME", "stop (resumably) after TIME: seconds, or 90s, 15m, 2h; 0: none");
    t[n++] = CLI_INT("seed", &o->seed, "S", "seed of initialisation and dropout", 0, 9.2e18);
    t[n++] = CLI_CHOICE("precision", &o->precision, "matrix products in float32, or in bfloat16 with float32 sums (AMX or AVX512-BF16 where the CPU has them; weights, gradients and optimiser stay float32)", "fp32|bf16");
    t[n++] = CLI_THREADS(&o->threads);
    t[n++] = CLI_STR("out", &o->out_dir, "DIR", "folder for best.safetensors, last.safetensors, metrics.jsonl", NULL);
    t[n++] = CLI_STR("metrics", &o->metrics, "FILE", "metrics (JSON Lines)", "OUT/metrics.jsonl");
    t[n++] = CLI_CHOICE("progress", &o->progress, "live line on a terminal, log lines otherwise", "auto|live|log|none");
    t[n++] = CLI_INT("log-every", &o->log_every, "N", "steps between log lines and metrics rows, 0: ten per epoch", 0, 1e15);
    t[n++] = CLI_FLAG("resume", &o->resume, "continue the run in OUT from last.safetensors");
    t[n++] = CLI_FLAG("force", &o->force, "start anew even if OUT holds a run (its files are replaced as the new run writes its own)");
    return n;
}

int train_opts_session_only(const char *name)
{
    static const char *only[] = {"resume", "force", "threads", "out", "metrics", "progress",
                                 "max-steps", "time-limit", NULL};
    for (int i = 0; only[i]; i++)
        if (!strcmp(name, only[i]))
            return 1;
    return 0;
}

int train_opts_resumable(const char *name)
{
    return train_opts_session_only(name) || !strcmp(name, "epochs") || !strcmp(name, "precision") ||
           !strcmp(name, "log-every") || !strcmp(name, "early-stop");
}

void train_opts_config(const train_opts *o, recur_trainer_config *c)
{
    recur_trainer_config_default(c);
    recur_optim_kind ok = !strcmp(o->optim, "adam")    ? RECUR_OPTIM_ADAM
                          : !strcmp(o->optim, "adamw") ? RECUR_OPTIM_ADAMW
                                                       : RECUR_OPTIM_SGD;
    recur_optim_config_default(&c->optim, ok);
    c->optim.momentum = o->momentum;
    c->optim.weight_decay = o->weight_decay;
    c->optim.clip = o->clip;
    c->lr = o->lr;
    c->schedule = !strcmp(o->schedule, "plateau")    ? RECUR_SCHED_PLATEAU
                  : !strcmp(o->schedule, "constant") ? RECUR_SCHED_CONSTANT
                                                     : RECUR_SCHED_DECAY_AFTER;
    c->decay = o->decay;
    c->decay_start = (int)o->decay_start;
    c->patience = (int)o->patience;
    c->warmup_steps = o->warmup;
    c->epochs = o->epochs;
    c->early_stop = (int)o->early_stop;
    c->max_steps = o->max_steps;
    c->time_limit = o->time_limit;
    c->out_dir = o->out_dir;
    c->metrics_path = o->metrics;
    c->resume = o->resume;
    c->force = o->force;
    c->progress = !strcmp(o->progress, "live")   ? RECUR_PROGRESS_LIVE
                  : !strcmp(o->progress, "log")  ? RECUR_PROGRESS_LOG
                  : !strcmp(o->progress, "none") ? RECUR_PROGRESS_NONE
                                                 : RECUR_PROGRESS_AUTO;
    c->log_every = o->log_every;
    c->stop_flag = &train_stop_signal;
    c->precision = !strcmp(o->precision, "bf16") ? RECUR_PRECISION_BF16 : RECUR_PRECISION_FP32;
}

json_t *train_settings_json(cli_opt *tab)
{
    json_t *opts = json_object();
    for (cli_opt *p = tab; opts && p->name; p++) {
        if (train_opts_session_only(p->name))
            continue;
        char buf[256];
        cli_opt_format(p, buf, sizeof buf);
        json_object_set_new(opts, p->name, json_string(buf));
    }
    return opts;
}

int train_settings_resume(const char *cmd, const char *path, json_t *opts, cli_opt *given,
                          cli_opt *stored, const char *const *also_resumable)
{
    if (!json_is_object(opts)) {
        fprintf(stderr, "%s: --resume: %s holds no stored settings\n", cmd, path);
        return 1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(opts, key, val) {
        cli_opt *so = cli_find_opt(stored, key);
        if (!so || !json_is_string(val) ||
            cli_opt_set("--resume (stored settings)", so, json_string_value(val))) {
            fprintf(stderr, "%s: --resume: %s: stored setting '%s' is not valid\n", cmd, path, key);
            return 1;
        }
    }
    for (int i = 0; given[i].name; i++) {
        if (!given[i].given)
            continue;
        int ok = train_opts_resumable(given[i].name);
        for (int k = 0; also_resumable && also_resumable[k]; k++)
            ok |= !strcmp(given[i].name, also_resumable[k]);
        if (ok) {
            /* the given value replaces the stored one */
            char buf[4096];
            cli_opt_format(&given[i], buf, sizeof buf);
            cli_opt_set(cmd, &stored[i], buf);
            if (given[i].kind == OPT_STRING || given[i].kind == OPT_CHOICE)
                *(const char **)stored[i].dst = *(const char **)given[i].dst;
            continue;
        }
        char a[4096], b[4096];
        cli_opt_format(&given[i], a, sizeof a);
        cli_opt_format(&stored[i], b, sizeof b);
        if (strcmp(a, b) != 0) {
            fprintf(stderr,
                    "%s: --%s %s differs from the resumed run's %s: a resumed run keeps its "
                    "settings (only --epochs, --early-stop, --max-steps, --time-limit, "
                    "--threads, --metrics, --progress and --log-every may change)\n",
                    cmd, given[i].name, a, b);
            return 1;
        }
    }
    return 0;
}

volatile sig_atomic_t train_stop_signal;
static struct sigaction old_int, old_term;
static int installed;

static void on_stop_signal(int sig) { train_stop_signal = sig; }

void train_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the program at once */
    train_stop_signal = 0;
    installed = sigaction(SIGINT, &sa, &old_int) == 0;
    installed |= (sigaction(SIGTERM, &sa, &old_term) == 0) << 1;
}

void train_signals_restore(void)
{
    if (installed & 1)
        sigaction(SIGINT, &old_int, NULL);
    if (installed & 2)
        sigaction(SIGTERM, &old_term, NULL);
    installed = 0;
}

int train_exit_status(recur_status st)
{
    if (st == RECUR_OK)
        return 0;
    if (st == RECUR_ERR_INTERRUPTED)
        return 128 + (train_stop_signal ? (int)train_stop_signal : SIGINT);
    return 1;
}

recur_status train_stored_run(const char *out_dir, const char *key, char *path, size_t path_len,
                              json_t **stored, recur_error *err)
{
    *stored = NULL;
    snprintf(path, path_len, "%s/last.safetensors", out_dir);
    recur_checkpoint *ck;
    recur_status st = recur_checkpoint_open(&ck, path, err);
    if (st != RECUR_OK)
        return st;
    json_error_t je;
    const char *text = recur_checkpoint_meta(ck, key);
    *stored = text ? json_loads(text, 0, &je) : NULL;
    recur_checkpoint_close(ck);
    return RECUR_OK;
}

void train_stored_files(json_t *stored, const char *const names[3], const char **pos, int *npos)
{
    json_t *files = json_object_get(stored, "files");
    if (json_is_array(files)) {
        for (size_t k = 0; k < json_array_size(files) && k < 3; k++) {
            const char *v = json_string_value(json_array_get(files, k));
            if (v && *v)
                pos[(*npos)++] = v;
        }
        return;
    }
    for (int k = 0; k < 3; k++) {
        const char *v = json_string_value(json_object_get(stored, names[k]));
        if (v && *v)
            pos[(*npos)++] = v;
    }
}

int train_cmd_parse(const train_cmd *c, void *opts, int argc, char **argv, const char *pos[3], int *npos,
                    json_t **stored)
{
    *stored = NULL;
    *npos = 0;
    cli_opt tab[TRAIN_CMD_MAX_OPTS];
    c->table(opts, tab);
    int rc = cli_parse(c->name, c->usage, tab, argc, argv, pos, 3, npos);
    if (rc)
        return rc == 1 ? 0 : rc;
    train_opts *given = c->common(opts);
    if (given->resume && given->force)
        return cli_fail(c->name, "--resume and --force exclude each other");
    if (given->resume) {
        /* the stored run's settings, then the options a resumed run may change */
        char path[4200];
        recur_error err = {0};
        if (train_stored_run(given->out_dir, c->record, path, sizeof path, stored, &err))
            return cli_fail(c->name, "--resume: %s", err.msg);
        void *s = malloc(c->opts_size);
        if (!s)
            return cli_fail(c->name, "out of memory");
        c->defaults(s);
        cli_opt stab[TRAIN_CMD_MAX_OPTS];
        c->table(s, stab);
        if (train_settings_resume(c->name, path, json_object_get(*stored, "options"), tab, stab, c->resumable)) {
            free(s);
            return 1;
        }
        train_opts *t = c->common(s);
        t->resume = 1;
        t->out_dir = given->out_dir;
        if (*npos == 0)
            train_stored_files(*stored, c->file_names, pos, npos);
        memcpy(opts, s, c->opts_size);
        free(s);
    }
    if (*npos < 2) {
        fprintf(stderr, "%s: needs a training file and a %s file (try %s --help)\n", c->name, c->second_file,
                c->name);
        return 2;
    }
    return -1;
}
