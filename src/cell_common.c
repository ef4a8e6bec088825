/* cell_common.c - the parts every cell shares: the input projection of all
 * steps as one product, and its backward. */
#include <string.h>

#include "cell.h"

void cell_input_projection(const recur_model *m, const cell_params *p, dir_buf *s, int T, int B,
                           int fold_rows)
{
    int G = m->gates * m->cfg.rnn.hidden_size;
    size_t rows = (size_t)T * B;
    const recur_real *b_ih = m->params + p->b_ih, *b_hh = m->params + p->b_hh;
    for (size_t r = 0; r < rows; r++) {
        recur_real *g = s->gx + r * G;
        for (int j = 0; j < G; j++)
            g[j] = b_ih[j] + (j < fold_rows ? b_hh[j] : 0);
    }
    recur_gemm(0, 1, (int)rows, G, p->in, 1, s->x, p->in, m->params + p->w_ih, p->in, 1, s->gx, G);
}

void cell_input_backward(recur_model *m, const cell_params *p, dir_buf *s, int T, int B)
{
    int G = m->gates * m->cfg.rnn.hidden_size;
    int rows = T * B;
    recur_real *db = m->grads + p->b_ih;
    for (int r = 0; r < rows; r++) {
        const recur_real *g = s->dgx + (size_t)r * G;
        for (int j = 0; j < G; j++)
            db[j] += g[j];
    }
    recur_gemm(1, 0, G, p->in, rows, 1, s->dgx, G, s->x, p->in, 1, m->grads + p->w_ih, p->in);
    recur_gemm(0, 0, rows, p->in, G, 1, s->dgx, G, m->params + p->w_ih, p->in, 0, s->dx, p->in);
}
