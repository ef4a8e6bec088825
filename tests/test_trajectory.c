/*
 * test_trajectory.c - 20 steps of truncated-BPTT training of a small LSTM
 * language model (Embedding(11,6) -> LSTM(6,8,2 layers) -> Linear(8,11))
 * against PyTorch's float64 trajectory (tests/ref/traj_*.safetensors, made by
 * tests/ref/make_refs.py): the same initial weights, the same Zaremba batches
 * of one token stream, the hidden state carried from step to step, the
 * design's global-norm clipping, then SGD (plain; with momentum and weight
 * decay), Adam (with and without weight decay) or AdamW.  Each step's loss and pre-clip gradient norm must agree to
 * 1e-4 relative and its clipping decision exactly; the final parameters to
 * 1e-3 (ref_util.h's metric).  The double build (test_trajectory_f64.c)
 * holds them to 1e-9 / 1e-8.  The float build's own rounding drifts by
 * ~1e-6 over these 20 steps (measured with float32 PyTorch).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ref_util.h"

#ifdef RECUR_DOUBLE
#define TRAJ_STEP_TOL 1e-9
#define TRAJ_FINAL_TOL 1e-8
#define TRAJ_BUILD "f64"
#else
#define TRAJ_STEP_TOL 1e-4
#define TRAJ_FINAL_TOL 1e-3
#define TRAJ_BUILD "f32"
#endif

static int is_param_name(const char *n)
{
    return !strncmp(n, "embedding.", 10) || !strncmp(n, "rnn.", 4) || !strncmp(n, "decoder.", 8);
}

static void run_trajectory(void **state)
{
    const char *name = *state;
    ref_report rep;
    ref_report_init(&rep, name, TRAJ_FINAL_TOL);

    st_file f;
    assert_true(ref_open(name, &f));
    json_t *cfg = ref_config(&f);
    assert_non_null(cfg);
    int ok = 1;
    int V = ref_cfg_int(cfg, "vocab_size", &ok), E = ref_cfg_int(cfg, "embed_size", &ok);
    int H = ref_cfg_int(cfg, "hidden_size", &ok), L = ref_cfg_int(cfg, "num_layers", &ok);
    int T = ref_cfg_int(cfg, "T", &ok), B = ref_cfg_int(cfg, "B", &ok);
    int steps = ref_cfg_int(cfg, "steps", &ok);
    const char *opt_s = ref_cfg_str(cfg, "optimizer", &ok);
    const char *cell_s = ref_cfg_str(cfg, "cell", &ok);
    double lr = ref_cfg_num(cfg, "lr", &ok), clip = ref_cfg_num(cfg, "clip", &ok);
    double momentum = ref_cfg_num(cfg, "momentum", &ok);
    double wd = ref_cfg_num(cfg, "weight_decay", &ok);
    double beta1 = ref_cfg_num(cfg, "beta1", &ok), beta2 = ref_cfg_num(cfg, "beta2", &ok);
    double eps = ref_cfg_num(cfg, "eps", &ok);
    assert_true(ok);
    assert_string_equal(cell_s, "lstm");
    recur_optim_kind kind = RECUR_OPTIM_SGD;
    if (!strcmp(opt_s, "sgd"))
        kind = RECUR_OPTIM_SGD;
    else if (!strcmp(opt_s, "adam"))
        kind = RECUR_OPTIM_ADAM;
    else if (!strcmp(opt_s, "adamw"))
        kind = RECUR_OPTIM_ADAMW;
    else
        fail_msg("%s: unknown optimizer %s", name, opt_s);

    recur_model_config mc;
    recur_model_config_default(&mc);
    mc.vocab_size = V;
    mc.embed_size = E;
    mc.output_size = V;
    mc.tied = 0;
    mc.dropout_embed = 0.0f;
    mc.dropout_output = 0.0f;
    mc.rnn.cell = RECUR_CELL_LSTM;
    mc.rnn.input_size = E;
    mc.rnn.hidden_size = H;
    mc.rnn.proj_size = 0;
    mc.rnn.num_layers = L;
    mc.rnn.bidirectional = 0;
    mc.rnn.residual = 0;
    mc.rnn.dropout = 0.0f;

    recur_model *m = NULL;
    recur_error err;
    memset(&err, 0, sizeof err);
    if (recur_model_create(&m, &mc, 99, &err) != RECUR_OK)
        fail_msg("%s: recur_model_create: %s", name, err.msg);

    /* initial weights: every model tensor from the reference, one to one */
    int n_tensors = recur_model_num_tensors(m), n_ref = 0;
    for (int i = 0; i < f.n_tensors; i++)
        if (is_param_name(f.tensors[i].name))
            n_ref++;
    if (n_tensors != n_ref)
        ref_fail(&rep, "model has %d tensors, reference %d", n_tensors, n_ref);
    for (int i = 0; i < n_tensors; i++) {
        recur_tensor_info info;
        assert_int_equal(recur_model_tensor(m, i, &info), RECUR_OK);
        const st_tensor *t = st_find(&f, info.name);
        if (!t || t->numel != info.numel) {
            ref_fail(&rep, "tensor %s missing from the reference or of another size", info.name);
            continue;
        }
        recur_real *w = ref_real(t);
        assert_non_null(w);
        memcpy(info.data, w, info.numel * sizeof *w);
        free(w);
    }
    if (rep.failures)
        fail_msg("%s: the model does not match the reference's parameters", name);

    recur_optim_config oc;
    recur_optim_config_default(&oc, kind);
    oc.kind = kind;
    oc.momentum = momentum;
    oc.weight_decay = wd;
    if (kind == RECUR_OPTIM_ADAM || kind == RECUR_OPTIM_ADAMW) {
        oc.beta1 = beta1;
        oc.beta2 = beta2;
        oc.eps = eps;
    }
    oc.clip = clip;
    recur_optim *o = NULL;
    if (recur_optim_create(&o, m, &oc, &err) != RECUR_OK)
        fail_msg("%s: recur_optim_create: %s", name, err.msg);
    recur_run *r = NULL;
    if (recur_run_create(&r, m, T, B, &err) != RECUR_OK)
        fail_msg("%s: recur_run_create: %s", name, err.msg);

    /* Zaremba batching: data[row][b] = tokens[b * n_rows + row] */
    const st_tensor *tt = ref_get(&f, "tokens"), *tloss = ref_get(&f, "losses");
    const st_tensor *tnorm = ref_get(&f, "grad_norms"), *tclip = ref_get(&f, "clipped");
    assert_true(tt && tloss && tnorm && tclip);
    const int n_rows = steps * T + 1;
    assert_int_equal(tt->numel, (size_t)B * n_rows);
    assert_int_equal(tloss->numel, (size_t)steps);
    int64_t *tokens = ref_i64(tt), *ref_clipped = ref_i64(tclip);
    double *ref_losses = ref_double(tloss), *ref_norms = ref_double(tnorm);
    assert_true(tokens && ref_clipped && ref_losses && ref_norms);

    int32_t *inp = malloc((size_t)T * B * sizeof *inp), *tgt = malloc((size_t)T * B * sizeof *tgt);
    const size_t ns = (size_t)L * B * H;
    recur_real *h = calloc(ns, sizeof *h), *c = calloc(ns, sizeof *c);
    assert_true(inp && tgt && h && c);

    double worst_loss = 0.0, worst_norm = 0.0;
    const int verbose = getenv("RECUR_TEST_VERBOSE") != NULL; /* per-step errors */
    for (int k = 0; k < steps; k++) {
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                inp[t * B + b] = (int32_t)tokens[(size_t)b * n_rows + (size_t)k * T + t];
                tgt[t * B + b] = (int32_t)tokens[(size_t)b * n_rows + (size_t)k * T + t + 1];
            }
        recur_batch batch;
        memset(&batch, 0, sizeof batch);
        batch.T = T;
        batch.B = B;
        batch.tokens = inp;
        batch.targets = tgt;
        batch.h0 = h;
        batch.c0 = c;
        double loss = 0.0, norm = 0.0;
        int64_t count = 0;
        int clipped = -1;
        recur_model_zero_grad(m);
        if (recur_forward(r, &batch, 1, &loss, &count) != RECUR_OK) {
            ref_fail(&rep, "step %d: recur_forward: %s", k, recur_run_errmsg(r));
            break;
        }
        if (count != (int64_t)T * B)
            ref_fail(&rep, "step %d: loss counted %lld targets, want %d", k, (long long)count,
                     T * B);
        if (recur_backward(r, 1.0, NULL, NULL, NULL) != RECUR_OK) {
            ref_fail(&rep, "step %d: recur_backward: %s", k, recur_run_errmsg(r));
            break;
        }
        /* carry the state (the run's buffers are overwritten by the next forward) */
        const recur_real *hn = recur_run_hn(r), *cn = recur_run_cn(r);
        if (!hn || !cn) {
            ref_fail(&rep, "step %d: no final state", k);
            break;
        }
        memcpy(h, hn, ns * sizeof *h);
        memcpy(c, cn, ns * sizeof *c);
        if (recur_optim_step(o, lr, &norm, &clipped) != RECUR_OK) {
            ref_fail(&rep, "step %d: recur_optim_step: %s", k, recur_optim_errmsg(o));
            break;
        }
        double el = ref_scalar_err(loss, ref_losses[k]);
        double en = ref_scalar_err(norm, ref_norms[k]);
        if (verbose)
            fprintf(stderr, "  %s step %2d: loss %.9f (rel %.1e)  norm %.9f (rel %.1e)  clipped %d\n",
                    name, k, loss, el, norm, en, clipped);
        if (el > worst_loss)
            worst_loss = el;
        if (en > worst_norm)
            worst_norm = en;
        if (!(el <= TRAJ_STEP_TOL))
            ref_fail(&rep, "step %d: loss %.9g, want %.9g (rel %.3g)", k, loss, ref_losses[k], el);
        if (!(en <= TRAJ_STEP_TOL))
            ref_fail(&rep, "step %d: grad norm %.9g, want %.9g (rel %.3g)", k, norm,
                     ref_norms[k], en);
        if (clipped != (int)ref_clipped[k])
            ref_fail(&rep, "step %d: clipped=%d, want %d (norm %.9g, clip %g)", k, clipped,
                     (int)ref_clipped[k], norm, clip);
    }
    if (recur_optim_steps(o) != steps)
        ref_fail(&rep, "recur_optim_steps = %lld, want %d", (long long)recur_optim_steps(o), steps);

    for (int i = 0; i < n_tensors; i++) {
        recur_tensor_info info;
        assert_int_equal(recur_model_tensor(m, i, &info), RECUR_OK);
        char ref_name[160];
        snprintf(ref_name, sizeof ref_name, "final.%s", info.name);
        ref_compare(&rep, &f, ref_name, ref_name, info.data, info.numel);
    }

    fprintf(stderr,
            "trajectory[%s] %-18s worst loss rel %.2e, grad-norm rel %.2e, final params %.2e "
            "(%s)%s\n",
            TRAJ_BUILD, name, worst_loss, worst_norm, rep.worst, rep.worst_name,
            rep.failures ? "  FAILED" : "");

    free(inp);
    free(tgt);
    free(h);
    free(c);
    free(tokens);
    free(ref_clipped);
    free(ref_losses);
    free(ref_norms);
    recur_run_free(r);
    recur_optim_free(o);
    recur_model_free(m);
    json_decref(cfg);
    st_free(&f);
    if (rep.failures)
        fail_msg("%s: %d mismatches (see above)", name, rep.failures);
}

#define CASE(n) {n, run_trajectory, NULL, NULL, (void *)(n)}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE("traj_sgd"),
        CASE("traj_sgd_momentum"),
        CASE("traj_adam"),
        CASE("traj_adam_wd"),
        CASE("traj_adamw"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
