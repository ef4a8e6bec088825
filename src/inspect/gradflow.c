/*
 * gradflow.c - how far back in time the gradient of a loss reaches
 * (recur_inspect.h).  dJ(t)/dh(t-l) for every distance l, read as the
 * gradient with respect to the initial state of a window of the last l
 * steps that starts from the state the model really had at t-l: the
 * engine's backward (parity-tested against PyTorch) does the work, so no
 * second implementation of any cell's derivative is needed here.  The cost
 * is O(L^2) steps for distances up to L, fine for the few hundred steps
 * over which gradients are worth looking at.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "recur_inspect.h"

typedef struct flow {
    recur_run *run;
    int32_t *targets;   /* (max_distance, B): -1 but the last row */
    recur_real *d_out;  /* (max_distance, B, R): ones in the last row (no decoder) */
    recur_real *states, *cells; /* (T + 1, L, B, R) and (T + 1, L, B, H): after step s-1 at s */
    recur_real *saved_grads;
} flow;

static void flow_free(flow *f)
{
    recur_run_free(f->run);
    free(f->targets);
    free(f->d_out);
    free(f->states);
    free(f->cells);
    free(f->saved_grads);
}

static double norm2(const recur_real *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)v[i] * (double)v[i];
    return sqrt(s);
}

recur_status recur_gradflow_measure(recur_model *m, const recur_batch *batch, int max_distance,
                                    double *h_norm, double *c_norm, recur_error *err)
{
    const recur_model_config *mc = recur_model_get_config(m);
    const int T = batch->T, B = batch->B, L = mc->rnn.num_layers, H = mc->rnn.hidden_size;
    const int R = mc->rnn.proj_size > 0 ? mc->rnn.proj_size : H;
    const int lstm = mc->rnn.cell == RECUR_CELL_LSTM;
    const int use_loss = mc->output_size > 0 && batch->targets;
    if (mc->rnn.bidirectional)
        return recur_error_set(err, RECUR_ERR_ARG, "gradflow: the model must be unidirectional");
    if (T < 1 || B < 1 || max_distance < 1 || max_distance > T)
        return recur_error_set(err, RECUR_ERR_ARG,
                               "gradflow: needs T >= 1, B >= 1 and 1 <= max distance (%d) <= T (%d)",
                               max_distance, T);
    if (batch->lengths)
        return recur_error_set(err, RECUR_ERR_ARG, "gradflow: sequences must all be full (no lengths)");
    if ((mc->vocab_size > 0) != (batch->tokens != NULL))
        return recur_error_set(err, RECUR_ERR_ARG, "gradflow: the batch needs %s",
                               mc->vocab_size > 0 ? "tokens" : "float inputs");
    const int in = mc->vocab_size > 0 ? 1 : mc->rnn.input_size; /* per step and sequence */
    const size_t state_n = (size_t)L * (size_t)B * (size_t)R, cell_n = (size_t)L * (size_t)B * (size_t)H;
    flow f;
    memset(&f, 0, sizeof f);
    recur_status st = recur_run_create(&f.run, m, max_distance, B, err);
    if (st != RECUR_OK)
        return st;
    f.targets = malloc((size_t)max_distance * (size_t)B * sizeof *f.targets);
    f.d_out = calloc((size_t)max_distance * (size_t)B * (size_t)R, sizeof *f.d_out);
    f.states = calloc((size_t)(T + 1) * state_n, sizeof *f.states);
    f.cells = calloc((size_t)(T + 1) * cell_n, sizeof *f.cells);
    f.saved_grads = malloc(recur_model_num_params(m) * sizeof *f.saved_grads);
    if (!f.targets || !f.d_out || !f.states || !f.cells || !f.saved_grads) {
        flow_free(&f);
        return recur_error_set(err, RECUR_ERR_NOMEM, "gradflow: out of memory");
    }
    memcpy(f.saved_grads, recur_model_grads(m), recur_model_num_params(m) * sizeof *f.saved_grads);
    /* the states after every step, one step at a time (slot s: entering step s) */
    if (batch->h0)
        memcpy(f.states, batch->h0, state_n * sizeof *f.states);
    if (lstm && batch->c0)
        memcpy(f.cells, batch->c0, cell_n * sizeof *f.cells);
    for (int s = 0; s < T - 1 && st == RECUR_OK; s++) {
        recur_batch one = {0};
        one.T = 1;
        one.B = B;
        if (batch->tokens)
            one.tokens = batch->tokens + (size_t)s * (size_t)B;
        else
            one.inputs = batch->inputs + (size_t)s * (size_t)B * (size_t)in;
        one.h0 = f.states + (size_t)s * state_n;
        one.c0 = lstm ? f.cells + (size_t)s * cell_n : NULL;
        st = recur_forward(f.run, &one, 0, NULL, NULL);
        if (st == RECUR_OK) {
            memcpy(f.states + (size_t)(s + 1) * state_n, recur_run_hn(f.run), state_n * sizeof *f.states);
            if (lstm)
                memcpy(f.cells + (size_t)(s + 1) * cell_n, recur_run_cn(f.run), cell_n * sizeof *f.cells);
        }
    }
    /* each distance: the window of the last l steps from the state at t-l */
    for (int l = 1; l <= max_distance && st == RECUR_OK; l++) {
        const int s0 = T - l;
        recur_batch w = {0};
        w.T = l;
        w.B = B;
        if (batch->tokens)
            w.tokens = batch->tokens + (size_t)s0 * (size_t)B;
        else
            w.inputs = batch->inputs + (size_t)s0 * (size_t)B * (size_t)in;
        w.h0 = f.states + (size_t)s0 * state_n;
        w.c0 = lstm ? f.cells + (size_t)s0 * cell_n : NULL;
        const recur_real *d_out = NULL;
        double scale = 0;
        if (use_loss) {
            for (size_t i = 0; i < (size_t)l * (size_t)B; i++)
                f.targets[i] = -1;
            memcpy(f.targets + (size_t)(l - 1) * (size_t)B, batch->targets + (size_t)(T - 1) * (size_t)B,
                   (size_t)B * sizeof *f.targets);
            w.targets = f.targets;
        } else {
            memset(f.d_out, 0, (size_t)l * (size_t)B * (size_t)R * sizeof *f.d_out);
            for (size_t i = 0; i < (size_t)B * (size_t)R; i++)
                f.d_out[(size_t)(l - 1) * (size_t)B * (size_t)R + i] = 1;
            d_out = f.d_out;
        }
        double loss = 0;
        int64_t count = 0;
        st = recur_forward(f.run, &w, 0, &loss, &count);
        /* the mean loss over the B targets, scaled back to their sum: each
         * sequence's gradient is then its own loss's */
        if (st == RECUR_OK && use_loss)
            scale = (double)count;
        if (st == RECUR_OK)
            st = recur_backward(f.run, scale, d_out, NULL, NULL);
        if (st != RECUR_OK)
            break;
        const recur_real *dh = recur_run_d_h0(f.run), *dc = lstm ? recur_run_d_c0(f.run) : NULL;
        for (int k = 0; k < L; k++)
            for (int b = 0; b < B; b++) {
                size_t o = ((size_t)k * (size_t)max_distance + (size_t)(l - 1)) * (size_t)B + (size_t)b;
                h_norm[o] = norm2(dh + ((size_t)k * (size_t)B + (size_t)b) * (size_t)R, (size_t)R);
                if (c_norm)
                    c_norm[o] = dc ? norm2(dc + ((size_t)k * (size_t)B + (size_t)b) * (size_t)H, (size_t)H)
                                   : NAN;
            }
    }
    if (st != RECUR_OK)
        recur_error_set(err, st, "gradflow: %s", recur_run_errmsg(f.run));
    memcpy(recur_model_grads(m), f.saved_grads, recur_model_num_params(m) * sizeof *f.saved_grads);
    flow_free(&f);
    return st;
}

recur_status recur_gradflow_spectral_norm(const recur_model *m, int layer, double *sigma,
                                          recur_error *err)
{
    const recur_model_config *mc = recur_model_get_config(m);
    if (mc->rnn.cell != RECUR_CELL_RNN_TANH && mc->rnn.cell != RECUR_CELL_RNN_RELU)
        return recur_error_set(err, RECUR_ERR_ARG, "spectral norm: only for a plain RNN (tanh or relu)");
    if (layer < 0 || layer >= mc->rnn.num_layers)
        return recur_error_set(err, RECUR_ERR_ARG, "spectral norm: no layer %d", layer);
    char name[64];
    snprintf(name, sizeof name, "rnn.weight_hh_l%d", layer);
    recur_tensor_info w;
    if (recur_model_find_tensor(m, name, &w) != RECUR_OK)
        return recur_error_set(err, RECUR_ERR_ARG, "spectral norm: the model has no %s", name);
    const int H = (int)w.shape[0];
    double *v = malloc(2 * (size_t)H * sizeof *v);
    if (!v)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    double *u = v + H;
    /* a start with a component along every direction, deterministic */
    for (int i = 0; i < H; i++)
        v[i] = 1.0 + 0.37 * sin(1.0 + i);
    double lambda = 0, prev = -1;
    for (int it = 0; it < 10000; it++) {
        double nv = 0;
        for (int i = 0; i < H; i++)
            nv += v[i] * v[i];
        nv = sqrt(nv);
        if (nv == 0)
            break;
        for (int i = 0; i < H; i++)
            v[i] /= nv;
        for (int i = 0; i < H; i++) { /* u = W v */
            double s = 0;
            for (int j = 0; j < H; j++)
                s += (double)w.data[(size_t)i * H + j] * v[j];
            u[i] = s;
        }
        for (int j = 0; j < H; j++) { /* v = W^T u */
            double s = 0;
            for (int i = 0; i < H; i++)
                s += (double)w.data[(size_t)i * H + j] * u[i];
            v[j] = s;
        }
        double uu = 0;
        for (int i = 0; i < H; i++)
            uu += u[i] * u[i];
        lambda = uu; /* v^T W^T W v with |v| = 1 */
        if (fabs(lambda - prev) <= 1e-10 * lambda)
            break;
        prev = lambda;
    }
    free(v);
    *sigma = sqrt(lambda);
    return RECUR_OK;
}
