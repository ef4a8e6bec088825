/*
 * task.c - training a tagger on the shared trainer (recur_train.h).
 *
 * Vocabularies come from the training file: words by their lookup key
 * (those seen min_count times; <unk> first), characters, and labels (IOBES
 * for a chunk scheme, so the CRF tells a chunk's single, first, inner and
 * last tokens apart; Ratinov & Roth 2009).  With pretrained vectors, the
 * dev and test words that the file covers join the vocabulary (their rows
 * are the file's, as the model will meet them).
 *
 * Batches: each epoch the sentences are shuffled by a generator seeded from
 * the epoch, cut into pools of 50 batches, each pool sorted by length and
 * cut into batches of similar lengths (little padding), and the batches
 * shuffled; so a run stopped inside an epoch resumes at its step with
 * nothing else to restore.  Training singletons read as <unk> with
 * probability unk_replace (Lample et al. 2016), so <unk> learns a vector.
 * The loss is the CRF's (or softmax's) negative log-likelihood summed over
 * a batch's sentences; gradients are its mean over the sentences.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/internal.h"
#include "tasks/tag/tag_task.h"

#define POOL_BATCHES 50

void recur_tagger_config_default(recur_tagger_config *c)
{
    memset(c, 0, sizeof *c);
    c->word_dim = 100;
    c->lowercase = 1;
    c->min_count = 1;
    c->unk_replace = 0.5;
    c->char_dim = 25;
    c->char_hidden = 25;
    c->max_word_chars = 32;
    c->caps_dim = 0;
    c->cell = RECUR_CELL_LSTM;
    c->hidden = 100;
    c->layers = 1;
    c->dropout = 0.5;
    c->crf = 1;
}

void recur_tag_task_free(recur_tag_task *t)
{
    if (!t)
        return;
    tag_net_free(&t->net);
    tag_data_free(&t->train);
    tag_data_free(&t->dev);
    tag_vocabs_free(&t->v);
    recur_model_free(t->m);
    free(t->orig_word);
    free(t->singleton);
    free(t->order);
    free(t->batch_off);
    free(t->pred);
    free(t->extra);
    for (int i = 0; i < 5; i++)
        free(t->meta_text[i]);
    free(t);
}

recur_model *recur_tag_task_model(recur_tag_task *t) { return t->m; }

void recur_tag_task_sizes(const recur_tag_task *t, int *words, int *chars, int *labels,
                          int *pretrained)
{
    *words = recur_vocab_size(t->v.words);
    *chars = recur_vocab_size(t->v.chars);
    *labels = recur_vocab_size(t->v.labels);
    *pretrained = t->pretrained;
}

/* the settings a model file needs to read its inputs (and a run to resume) */
static char *settings_json(const recur_tagger_config *c, const tag_vocabs *v, uint64_t seed)
{
    char seed_text[32];
    snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)seed);
    json_t *j = json_pack("{s:s,s:s,s:i,s:i,s:f,s:f,s:i,s:i,s:i,s:i,s:i}", "seed", seed_text, "scheme",
                          recur_tag_scheme_name(v->scheme), "lowercase", c->lowercase,
                          "max_word_chars", c->max_word_chars, "dropout", c->dropout,
                          "unk_replace", c->unk_replace, "min_count", c->min_count, "crf", c->crf,
                          "word_dim", c->word_dim, "char_hidden", c->char_hidden, "caps_dim",
                          c->caps_dim);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return s;
}

recur_status tag_settings_parse(const char *json, recur_tagger_config *c, tag_vocabs *v,
                                recur_error *err)
{
    json_error_t je;
    json_t *j = json ? json_loads(json, 0, &je) : NULL;
    const char *scheme = json_string_value(json_object_get(j, "scheme"));
    int sc = recur_tag_scheme_parse(scheme);
    json_t *lc = json_object_get(j, "lowercase"), *mw = json_object_get(j, "max_word_chars");
    if (!j || sc < 0 || !json_is_integer(lc) || !json_is_integer(mw) ||
        json_integer_value(mw) < 1) {
        json_decref(j);
        return recur_error_set(err, RECUR_ERR_FORMAT,
                               "the tagger's settings (recur.tag.settings) are missing or malformed");
    }
    recur_tagger_config_default(c);
    v->scheme = (recur_tag_scheme)sc;
    c->lowercase = v->lowercase = (int)json_integer_value(lc);
    c->max_word_chars = v->max_word_chars = (int)json_integer_value(mw);
    json_t *x;
    if ((x = json_object_get(j, "dropout")) && json_is_number(x))
        c->dropout = json_number_value(x);
    if ((x = json_object_get(j, "unk_replace")) && json_is_number(x))
        c->unk_replace = json_number_value(x);
    const char *ints[] = {"crf", "min_count", "word_dim", "char_hidden", "caps_dim"};
    int *dst[] = {&c->crf, &c->min_count, &c->word_dim, &c->char_hidden, &c->caps_dim};
    for (int k = 0; k < 5; k++)
        if ((x = json_object_get(j, ints[k])) && json_is_integer(x))
            *dst[k] = (int)json_integer_value(x);
    if ((x = json_object_get(j, "seed")) && json_is_string(x))
        v->seed = strtoull(json_string_value(x), NULL, 10);
    json_decref(j);
    return RECUR_OK;
}

/* ---- building a new tagger ---------------------------------------------------- */

static recur_status add_key(recur_vocab *v, const char *w, int mode, int64_t n, recur_error *err)
{
    char key[1024];
    size_t kl = word_key(w, mode, key, sizeof key);
    if (recur_vocab_add(v, key, kl, n, NULL) != RECUR_OK)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    return RECUR_OK;
}

static recur_status build_vocabs(recur_tag_task *t, const recur_tagger_config *cfg,
                                 const recur_tag_corpus *train, const recur_tag_corpus *dev,
                                 const recur_tag_corpus *test, const tag_embeddings *emb,
                                 recur_error *err)
{
    tag_vocabs *v = &t->v;
    v->lowercase = cfg->lowercase;
    v->max_word_chars = cfg->max_word_chars;
    v->scheme = train->scheme;
    const int mode = cfg->lowercase ? KEY_NORMAL : KEY_EXACT;
    recur_vocab *counts = NULL;
    recur_status st;
    if ((st = recur_vocab_create(&counts, RECUR_LEVEL_WORD, err)) ||
        (st = recur_vocab_create(&v->words, RECUR_LEVEL_WORD, err)) ||
        (st = recur_vocab_create(&v->chars, RECUR_LEVEL_WORD, err)) ||
        (st = recur_vocab_create(&v->labels, RECUR_LEVEL_WORD, err)))
        goto done;
    if (recur_vocab_add(v->words, "<unk>", 5, 0, NULL) != RECUR_OK ||
        recur_vocab_add(v->chars, "<unk>", 5, 0, NULL) != RECUR_OK)
        goto nomem;
    for (int64_t i = 0; i < train->n_tok; i++) {
        if ((st = add_key(counts, train->words[i], mode, 1, err)))
            goto done;
        const char *w = train->words[i];
        for (size_t p = 0; w[p];) {
            unsigned char c = (unsigned char)w[p];
            size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            if (recur_vocab_add(v->chars, w + p, l, 1, NULL) != RECUR_OK)
                goto nomem;
            p += l;
        }
    }
    for (int32_t i = 0; i < recur_vocab_size(counts); i++)
        if (recur_vocab_count(counts, i) >= cfg->min_count) {
            const char *w = recur_vocab_token(counts, i);
            if (recur_vocab_add(v->words, w, strlen(w), recur_vocab_count(counts, i), NULL) != RECUR_OK)
                goto nomem;
        }
    if (emb) {
        /* words of every file the vectors cover, train's rarer words too */
        const recur_tag_corpus *cs[3] = {train, dev, test};
        for (int k = 0; k < 3; k++)
            for (int64_t i = 0; cs[k] && i < cs[k]->n_tok; i++) {
                char key[1024];
                size_t kl = word_key(cs[k]->words[i], mode, key, sizeof key);
                if (recur_vocab_find(v->words, key, kl) < 0 && tag_embeddings_find(emb, key) >= 0 &&
                    recur_vocab_add(v->words, key, kl, 0, NULL) != RECUR_OK)
                    goto nomem;
            }
    }
    /* labels in the training scheme: IOBES for chunks, sorted for a stable order */
    {
        recur_vocab *raw = NULL;
        if ((st = recur_vocab_create(&raw, RECUR_LEVEL_WORD, err)))
            goto done;
        recur_tag_scheme to = v->scheme == RECUR_TAGS_PLAIN ? RECUR_TAGS_PLAIN : RECUR_TAGS_IOBES;
        char (*conv)[RECUR_TAG_MAX] = malloc((size_t)train->n_tok * sizeof *conv + 1);
        if (!conv) {
            recur_vocab_free(raw);
            goto nomem;
        }
        for (int64_t s = 0; s < train->n_sent && st == RECUR_OK; s++) {
            int64_t o = train->sent_off[s];
            st = recur_tags_convert(train->tags + o, (int)(train->sent_off[s + 1] - o), train->scheme,
                                    to, conv + o, err);
        }
        for (int64_t i = 0; i < train->n_tok && st == RECUR_OK; i++)
            if (recur_vocab_add(raw, conv[i], strlen(conv[i]), 1, NULL) != RECUR_OK)
                st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        free(conv);
        int n = recur_vocab_size(raw);
        const char **names = malloc((size_t)n * sizeof *names + 1);
        if (st == RECUR_OK && !names)
            st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        if (st == RECUR_OK) {
            for (int i = 0; i < n; i++)
                names[i] = recur_vocab_token(raw, i);
            qsort(names, (size_t)n, sizeof *names, tag_strcmp);
            for (int i = 0; i < n && st == RECUR_OK; i++)
                if (recur_vocab_add(v->labels, names[i], strlen(names[i]), 1, NULL) != RECUR_OK)
                    st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
        }
        free(names);
        recur_vocab_free(raw);
    }
    goto done;
nomem:
    st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
done:
    recur_vocab_free(counts);
    return st;
}

int tag_strcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static recur_status build_model(recur_tag_task *t, const recur_tagger_config *c, uint64_t seed,
                                recur_error *err)
{
    const int V = recur_vocab_size(t->v.words), K = recur_vocab_size(t->v.labels);
    const int NC = recur_vocab_size(t->v.chars);
    recur_model_config mc, cc;
    recur_model_config_default(&mc);
    mc.rnn.cell = c->cell;
    mc.rnn.hidden_size = c->hidden;
    mc.rnn.num_layers = c->layers;
    mc.rnn.bidirectional = 1;
    mc.rnn.dropout = (float)c->dropout;
    mc.rnn.input_size = c->word_dim + 2 * c->char_hidden + c->caps_dim;
    recur_model_config_default(&cc);
    cc.vocab_size = NC;
    cc.embed_size = c->char_dim;
    cc.rnn.cell = RECUR_CELL_LSTM;
    cc.rnn.hidden_size = c->char_hidden;
    cc.rnn.bidirectional = 1;
    const int DH = 2 * c->hidden;
    recur_part parts[8];
    int n = 0;
    parts[n++] = (recur_part){.name = "embedding.weight", .ndim = 2, .shape = {V, c->word_dim},
                              .init = sqrt(3.0 / c->word_dim)};
    if (c->char_hidden > 0)
        parts[n++] = (recur_part){.name = "char_rnn", .model = &cc};
    if (c->caps_dim > 0)
        parts[n++] = (recur_part){.name = "caps_embedding.weight", .ndim = 2,
                                  .shape = {CAPS_CLASSES, c->caps_dim}, .init = sqrt(3.0 / c->caps_dim)};
    parts[n++] = (recur_part){.name = "hidden2tag.weight", .ndim = 2, .shape = {K, DH},
                              .init = 1 / sqrt((double)DH)};
    parts[n++] = (recur_part){.name = "hidden2tag.bias", .ndim = 1, .shape = {K},
                              .init = 1 / sqrt((double)DH)};
    if (c->crf) {
        parts[n++] = (recur_part){.name = "crf.transitions", .ndim = 2, .shape = {K, K}, .init = 0};
        parts[n++] = (recur_part){.name = "crf.start_transitions", .ndim = 1, .shape = {K}, .init = 0};
        parts[n++] = (recur_part){.name = "crf.end_transitions", .ndim = 1, .shape = {K}, .init = 0};
    }
    recur_status st = recur_model_create_composite(&t->m, &mc, parts, n, seed, err);
    if (st != RECUR_OK)
        return st;
    /* LSTM forget gates start open (Jozefowicz et al. 2015); character
     * embeddings as small as the word embeddings */
    if (c->cell == RECUR_CELL_LSTM)
        recur_model_set_forget_bias(t->m, 1.0);
    recur_model *ch = recur_model_submodel(t->m, "char_rnn");
    if (ch) {
        recur_model_set_forget_bias(ch, 1.0);
        recur_tensor_info ce;
        if (recur_model_find_tensor(ch, "embedding.weight", &ce) == RECUR_OK) {
            double s = sqrt(3.0 / c->char_dim);
            for (size_t i = 0; i < ce.numel; i++)
                ce.data[i] = (recur_real)((2 * recur_model_uniform(t->m) - 1) * s);
        }
    }
    return RECUR_OK;
}

/* ---- the task's data ------------------------------------------------------------ */

static recur_status prepare(recur_tag_task *t, const recur_tagger_config *c,
                            const recur_tag_corpus *train, const recur_tag_corpus *dev, int batch,
                            recur_error *err)
{
    t->cfg = *c;
    t->batch = batch;
    t->train_c = train;
    t->dev_c = dev;
    recur_status st;
    if ((st = tag_encode(&t->v, train->words, train->tags, train->scheme, train->sent_off,
                         train->n_sent, &t->train, err)) ||
        (st = tag_encode(&t->v, dev->words, NULL, dev->scheme, dev->sent_off, dev->n_sent, &t->dev,
                         err)))
        return st;
    const int64_t n = t->train.n_tok;
    t->orig_word = malloc((size_t)n * sizeof *t->orig_word + 1);
    t->singleton = calloc((size_t)recur_vocab_size(t->v.words) + 1, 1);
    t->order = malloc((size_t)train->n_sent * sizeof *t->order + 1);
    t->n_batches = (train->n_sent + batch - 1) / batch;
    t->batch_off = malloc((size_t)(t->n_batches + 1) * sizeof *t->batch_off);
    t->pred = malloc((size_t)(dev->n_tok > train->n_tok ? dev->n_tok : train->n_tok) * sizeof *t->pred + 1);
    if (!t->orig_word || !t->singleton || !t->order || !t->batch_off || !t->pred)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    memcpy(t->orig_word, t->train.word, (size_t)n * sizeof *t->orig_word);
    /* training words seen once, by their key's count in train */
    int32_t *count = calloc((size_t)recur_vocab_size(t->v.words) + 1, sizeof *count);
    if (!count)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        count[t->orig_word[i]]++;
    for (int32_t w = 1; w < recur_vocab_size(t->v.words); w++)
        t->singleton[w] = count[w] == 1;
    free(count);
    if ((st = tag_net_init(&t->net, t->m, &t->v, c->dropout, err)) ||
        (st = tag_net_reserve(&t->net, &t->train, batch, err)) ||
        (st = tag_net_reserve(&t->net, &t->dev, 64, err)))
        return st;
    t->meta_text[0] = tag_vocab_json(t->v.words);
    t->meta_text[1] = tag_vocab_json(t->v.chars);
    t->meta_text[2] = tag_vocab_json(t->v.labels);
    t->seed_base = t->v.seed;
    t->meta_text[3] = settings_json(c, &t->v, t->v.seed);
    t->extra = strdup("{\"task\":\"tag\"}");
    if (!t->meta_text[0] || !t->meta_text[1] || !t->meta_text[2] || !t->meta_text[3] || !t->extra)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    t->meta[0] = (recur_meta_entry){"recur.tag.words", t->meta_text[0]};
    t->meta[1] = (recur_meta_entry){"recur.tag.chars", t->meta_text[1]};
    t->meta[2] = (recur_meta_entry){"recur.tag.labels", t->meta_text[2]};
    t->meta[3] = (recur_meta_entry){"recur.tag.settings", t->meta_text[3]};
    return RECUR_OK;
}

recur_status recur_tag_task_create(recur_tag_task **out, const recur_tagger_config *cfg,
                                   const recur_tag_corpus *train, const recur_tag_corpus *dev,
                                   const recur_tag_corpus *test, int batch, uint64_t seed,
                                   recur_error *err)
{
    *out = NULL;
    if (batch < 1 || cfg->word_dim < 1 || cfg->hidden < 1 || cfg->layers < 1 ||
        cfg->char_hidden < 0 || (cfg->char_hidden > 0 && cfg->char_dim < 1) || cfg->caps_dim < 0 ||
        cfg->max_word_chars < 1 || !(cfg->dropout >= 0 && cfg->dropout < 1) ||
        !(cfg->unk_replace >= 0 && cfg->unk_replace <= 1) || cfg->min_count < 1)
        return recur_error_set(err, RECUR_ERR_ARG, "tagger: a size, dropout or count out of range");
    if (!train->tags || !dev->tags)
        return recur_error_set(err, RECUR_ERR_ARG, "tagger: training and development files need tags");
    recur_tag_task *t = calloc(1, sizeof *t);
    if (!t)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    recur_tagger_config c = *cfg;
    tag_embeddings emb;
    memset(&emb, 0, sizeof emb);
    recur_status st = RECUR_OK;
    if (c.embeddings && *c.embeddings) {
        /* the lookup keys of every file's words: only their vectors are kept */
        recur_vocab *keys = NULL;
        const recur_tag_corpus *cs[3] = {train, dev, test};
        const int mode = c.lowercase ? KEY_NORMAL : KEY_EXACT;
        if ((st = recur_vocab_create(&keys, RECUR_LEVEL_WORD, err)))
            goto fail;
        for (int k = 0; k < 3 && st == RECUR_OK; k++)
            for (int64_t i = 0; cs[k] && i < cs[k]->n_tok && st == RECUR_OK; i++) {
                char key[1024];
                size_t kl = word_key(cs[k]->words[i], mode, key, sizeof key);
                if (recur_vocab_add(keys, key, kl, 1, NULL) != RECUR_OK)
                    st = recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
            }
        if (st == RECUR_OK)
            st = tag_embeddings_read(&emb, c.embeddings, keys, err);
        recur_vocab_free(keys);
        if (st)
            goto fail;
        c.word_dim = emb.dim;
    }
    t->v.seed = seed;
    if ((st = build_vocabs(t, &c, train, dev, test, c.embeddings && *c.embeddings ? &emb : NULL, err)) ||
        (st = build_model(t, &c, seed, err)))
        goto fail;
    if (emb.rows) {
        recur_tensor_info e;
        recur_model_find_tensor(t->m, "embedding.weight", &e);
        for (int32_t w = 1; w < recur_vocab_size(t->v.words); w++) {
            int64_t r = tag_embeddings_find(&emb, recur_vocab_token(t->v.words, w));
            if (r < 0)
                continue;
            for (int k = 0; k < emb.dim; k++)
                e.data[(size_t)w * emb.dim + k] = emb.vec[(size_t)r * emb.dim + k];
            t->pretrained++;
        }
    }
    if ((st = prepare(t, &c, train, dev, batch, err)))
        goto fail;
    tag_embeddings_free(&emb);
    *out = t;
    return RECUR_OK;
fail:
    tag_embeddings_free(&emb);
    recur_tag_task_free(t);
    return st;
}

recur_status recur_tag_task_open(recur_tag_task **out, const char *checkpoint,
                                 const recur_tag_corpus *train, const recur_tag_corpus *dev,
                                 int batch, recur_error *err)
{
    *out = NULL;
    recur_tag_task *t = calloc(1, sizeof *t);
    if (!t)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    recur_checkpoint *ck = NULL;
    recur_tagger_config c;
    recur_status st = recur_checkpoint_open(&ck, checkpoint, err);
    if (st == RECUR_OK)
        st = tag_vocabs_load(&t->v, ck, &c, err);
    if (st == RECUR_OK)
        st = recur_checkpoint_load_model(ck, &t->m, err);
    recur_checkpoint_close(ck);
    if (st == RECUR_OK && train->scheme != t->v.scheme)
        st = recur_error_set(err, RECUR_ERR_MISMATCH, "%s: the run was trained on %s tags, the file has %s",
                             train->path, recur_tag_scheme_name(t->v.scheme),
                             recur_tag_scheme_name(train->scheme));
    if (st == RECUR_OK)
        st = prepare(t, &c, train, dev, batch, err);
    if (st != RECUR_OK) {
        recur_tag_task_free(t);
        return st;
    }
    *out = t;
    return RECUR_OK;
}

recur_status tag_vocabs_load(tag_vocabs *v, recur_checkpoint *ck, recur_tagger_config *c,
                             recur_error *err)
{
    recur_status st;
    if ((st = tag_vocab_from_json(&v->words, recur_checkpoint_meta(ck, "recur.tag.words"), "words", err)) ||
        (st = tag_vocab_from_json(&v->chars, recur_checkpoint_meta(ck, "recur.tag.chars"), "characters", err)) ||
        (st = tag_vocab_from_json(&v->labels, recur_checkpoint_meta(ck, "recur.tag.labels"), "labels", err)) ||
        (st = tag_settings_parse(recur_checkpoint_meta(ck, "recur.tag.settings"), c, v, err)))
        return st;
    if (v->scheme != RECUR_TAGS_PLAIN)
        for (int32_t k = 0; k < recur_vocab_size(v->labels); k++)
            if (!tag_in_scheme(recur_vocab_token(v->labels, k), RECUR_TAGS_IOBES))
                return recur_error_set(err, RECUR_ERR_FORMAT, "the tagger's label '%s' is not an IOBES tag",
                                       recur_vocab_token(v->labels, k));
    return RECUR_OK;
}

/* ---- the callbacks ------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int64_t task_epoch_steps(void *ctx) { return ((recur_tag_task *)ctx)->n_batches; }

static void shuffle(int64_t *a, int64_t n, uint64_t *state)
{
    for (int64_t i = n - 1; i > 0; i--) {
        *state = mix64(*state);
        int64_t j = (int64_t)(*state % (uint64_t)(i + 1));
        int64_t tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
    }
}

static recur_status task_epoch_begin(void *ctx, int64_t epoch, int64_t first, char *msg)
{
    (void)first;
    (void)msg;
    recur_tag_task *t = ctx;
    const int64_t n = t->train.n_sent, B = t->batch;
    uint64_t state = mix64(t->seed_base ^ ((uint64_t)epoch * 0xd1b54a32d192ed03ull));
    for (int64_t i = 0; i < n; i++)
        t->order[i] = i;
    shuffle(t->order, n, &state);
    int64_t *pairs = malloc((size_t)POOL_BATCHES * B * 2 * sizeof *pairs);
    int64_t *starts = malloc((size_t)t->n_batches * sizeof *starts + 1);
    if (!pairs || !starts) {
        free(pairs);
        free(starts);
        return recur_seterr(msg, RECUR_ERR_NOMEM, "out of memory");
    }
    for (int64_t p = 0; p < n; p += POOL_BATCHES * B) {
        int64_t m = n - p < POOL_BATCHES * B ? n - p : POOL_BATCHES * B;
        tag_sort_by_length(t->train.sent_off, t->order + p, m, pairs);
    }
    free(pairs);
    /* batches in a shuffled order: batch_off[k] is where batch k starts */
    for (int64_t k = 0; k < t->n_batches; k++)
        starts[k] = k * B;
    shuffle(starts, t->n_batches, &state);
    for (int64_t k = 0; k < t->n_batches; k++)
        t->batch_off[k] = starts[k];
    free(starts);
    return RECUR_OK;
}

static recur_status task_step(void *ctx, int64_t epoch, int64_t index, double *loss_sum,
                              int64_t *count, char *msg)
{
    (void)epoch;
    recur_tag_task *t = ctx;
    const int64_t s0 = t->batch_off[index];
    const int B = (int)(t->train.n_sent - s0 < t->batch ? t->train.n_sent - s0 : t->batch);
    const int64_t *sents = t->order + s0;
    /* one word of the model's generator keys this step's draws */
    uint64_t key = (uint64_t)(recur_model_uniform(t->m) * 9007199254740992.0);
    uint64_t state = mix64(key ^ 0xa0761d6478bd642full);
    for (int b = 0; b < B; b++)
        for (int64_t i = t->train.sent_off[sents[b]]; i < t->train.sent_off[sents[b] + 1]; i++) {
            int32_t w = t->orig_word[i];
            t->train.word[i] = w;
            if (t->singleton[w] && t->cfg.unk_replace > 0) {
                state = mix64(state);
                if ((double)(state >> 11) * 0x1.0p-53 < t->cfg.unk_replace)
                    t->train.word[i] = 0;
            }
        }
    recur_status st = tag_net_forward(&t->net, &t->train, sents, B, 1, key, msg);
    double loss = 0;
    if (st == RECUR_OK)
        st = tag_net_backward(&t->net, 1.0 / B, &loss, msg);
    for (int b = 0; b < B; b++)
        for (int64_t i = t->train.sent_off[sents[b]]; i < t->train.sent_off[sents[b] + 1]; i++)
            t->train.word[i] = t->orig_word[i];
    if (st != RECUR_OK)
        return st;
    *loss_sum = loss;
    *count = B;
    return RECUR_OK;
}

static recur_status task_evaluate(void *ctx, recur_eval *ev, char *msg)
{
    recur_tag_task *t = ctx;
    recur_status st = tag_predict(&t->net, &t->dev, t->pred, 64, msg);
    if (st != RECUR_OK)
        return st;
    recur_conlleval *e = NULL;
    recur_error err = {0};
    if ((st = recur_conlleval_create(&e, &err)) ||
        (st = tag_score(&t->v, t->dev_c, t->pred, e, &err))) {
        recur_conlleval_free(e);
        return recur_seterr(msg, st, "%s", err.msg);
    }
    recur_conlleval_result r;
    recur_conlleval_result_get(e, &r);
    recur_conlleval_free(e);
    int f1 = recur_eval_add(ev, "f1", r.overall.f1);
    int acc = recur_eval_add(ev, "accuracy", r.accuracy);
    recur_eval_add(ev, "precision", r.overall.precision);
    recur_eval_add(ev, "recall", r.overall.recall);
    ev->decisive = t->v.scheme == RECUR_TAGS_PLAIN ? acc : f1;
    ev->higher_better = 1;
    return RECUR_OK;
}

static void task_format_epoch(void *ctx, double train_loss, const recur_eval *ev, char *buf, size_t n)
{
    recur_tag_task *t = ctx;
    int k = 0;
    if (!isnan(train_loss))
        k = snprintf(buf, n, "train loss %.4f/sentence | ", train_loss);
    if (t->v.scheme == RECUR_TAGS_PLAIN)
        snprintf(buf + k, n - (size_t)k, "dev accuracy %.2f%%", ev->m[1].value);
    else
        snprintf(buf + k, n - (size_t)k, "dev F1 %.2f (P %.2f R %.2f), accuracy %.2f%%",
                 ev->m[0].value, ev->m[2].value, ev->m[3].value, ev->m[1].value);
}

recur_task recur_tag_task_callbacks(recur_tag_task *t)
{
    recur_task k;
    memset(&k, 0, sizeof k);
    k.ctx = t;
    k.unit = "sentence";
    k.epoch_steps = task_epoch_steps;
    k.epoch_begin = task_epoch_begin;
    k.step = task_step;
    k.evaluate = task_evaluate;
    k.format_epoch = task_format_epoch;
    k.extra_config = t->extra;
    k.meta = t->meta;
    k.n_meta = 4;
    return k;
}
