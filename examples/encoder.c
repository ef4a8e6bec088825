/*
 * encoder.c - the recurrent stack as an encoder module inside your own C
 * program: build a 2-layer bidirectional LSTM, run it on a batch of
 * variable-length sequences, read every hidden state and the final states,
 * put your own loss on top and backpropagate it through the stack.
 *
 * The task here is made up so the example is self-contained: each sequence
 * is random vectors, and the target is the mean of its first input feature
 * over time, to be read off the mean-pooled encoder states by a fixed
 * projection.  The loss falls as the encoder learns.
 *
 * Build: make examples   Run: build/examples/encoder
 */
#include <stdio.h>
#include <stdlib.h>

#include "recur.h"

enum { T = 12, B = 8, IN = 5, H = 16, STEPS = 300 };

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

int main(void)
{
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    cfg.rnn.cell = RECUR_CELL_LSTM;
    cfg.rnn.input_size = IN;
    cfg.rnn.hidden_size = H;
    cfg.rnn.num_layers = 2;
    cfg.rnn.bidirectional = 1;

    recur_error err;
    recur_model *model = NULL;
    recur_run *run = NULL;
    recur_optim *opt = NULL;
    if (recur_model_create(&model, &cfg, 7, &err) || recur_run_create(&run, model, T, B, &err)) {
        fprintf(stderr, "encoder: %s\n", err.msg);
        return 1;
    }
    recur_optim_config oc;
    recur_optim_config_default(&oc, RECUR_OPTIM_ADAM);
    oc.clip = 1.0;
    if (recur_optim_create(&opt, model, &oc, &err)) {
        fprintf(stderr, "encoder: %s\n", err.msg);
        return 1;
    }

    const int W = 2 * H; /* forward and backward states, concatenated */
    static float x[T * B * IN], d_out[T * B * 2 * H];
    int32_t lengths[B];
    unsigned seed = 1;
    for (int step = 1; step <= STEPS; step++) {
        float target[B];
        for (int b = 0; b < B; b++) {
            lengths[b] = 3 + (int)((frand(&seed) + 1) * 4.5f); /* 3..12 */
            if (lengths[b] > T)
                lengths[b] = T;
            target[b] = 0;
        }
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++)
                for (int k = 0; k < IN; k++) {
                    float v = frand(&seed);
                    x[(t * B + b) * IN + k] = v;
                    if (k == 0 && t < lengths[b])
                        target[b] += v / (float)lengths[b];
                }
        recur_batch batch = {.T = T, .B = B, .inputs = x, .lengths = lengths};
        if (recur_forward(run, &batch, 1, NULL, NULL)) {
            fprintf(stderr, "encoder: %s\n", recur_run_errmsg(run));
            return 1;
        }
        /* our own head: mean-pool each sequence's states, sum them, compare */
        const float *y = recur_run_outputs(run); /* (T, B, 2H), zero past each length */
        double loss = 0;
        for (int b = 0; b < B; b++) {
            double pred = 0;
            for (int t = 0; t < lengths[b]; t++)
                for (int j = 0; j < W; j++)
                    pred += y[(t * B + b) * W + j] / lengths[b];
            double diff = pred - target[b];
            loss += diff * diff / B;
            for (int t = 0; t < T; t++)
                for (int j = 0; j < W; j++)
                    d_out[(t * B + b) * W + j] = t < lengths[b] ? (float)(2 * diff / B / lengths[b]) : 0;
        }
        recur_model_zero_grad(model);
        /* loss_scale 0: the model has no decoder; our gradient enters as d_outputs */
        if (recur_backward(run, 0.0, d_out, NULL, NULL)) {
            fprintf(stderr, "encoder: %s\n", recur_run_errmsg(run));
            return 1;
        }
        double norm;
        if (recur_optim_step(opt, 0.01, &norm, NULL)) {
            fprintf(stderr, "encoder: %s\n", recur_optim_errmsg(opt));
            return 1;
        }
        if (step == 1 || step % 50 == 0)
            printf("step %3d  loss %.5f  grad norm %.4f  final forward state h[0][0] %+.4f\n", step, loss, norm,
                   recur_run_hn(run)[0]);
    }
    recur_optim_free(opt);
    recur_run_free(run);
    recur_model_free(model);
    return 0;
}
