/*
 * conlleval.c - the chunk scorer of the CoNLL shared tasks, counting as the
 * `conlleval` script does (reimplemented, not translated): a correct chunk
 * starts at the same token in gold and guess with the same type, and both
 * end at the same token with no disagreement on the type on the way.
 * Sentence breaks and "-X-" lines are out of every chunk and are not
 * tokens; every other line is a token of the token accuracy.  Percentages,
 * the report's layout and the order of types (byte order) are the script's.
 *
 * The rules are those of conlleval version 2004-01-26, including where it
 * reads IOBES oddly: it knows no S- prefix (S-PER S-PER is one chunk to it)
 * and a B- right after an E- of the same type does not start a chunk.  For
 * IOB1 and IOB2 files they are the scheme's own rules; the trainer scores
 * IOBES tags after converting them to IOB2, so its figures hold for every
 * scheme.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "tasks/tag/tag_internal.h"

static int is(const char *p, const char *s) { return strcmp(p, s) == 0; }

/* conlleval's endOfChunk: between the previous tag and this one */
static int ends(const char *prev, const char *prev_type, const char *cur, const char *cur_type)
{
    if ((is(prev, "B") || is(prev, "I")) && (is(cur, "B") || is(cur, "O")))
        return 1;
    if (is(prev, "E") && (is(cur, "E") || is(cur, "I") || is(cur, "O")))
        return 1;
    if (!is(prev, "O") && !is(prev, ".") && strcmp(prev_type, cur_type) != 0)
        return 1;
    return is(prev, "]") || is(prev, "[");
}

/* conlleval's startOfChunk */
static int starts(const char *prev, const char *prev_type, const char *cur, const char *cur_type)
{
    if (is(cur, "B") && (is(prev, "B") || is(prev, "I") || is(prev, "O")))
        return 1;
    if ((is(prev, "O") || is(prev, "E")) && (is(cur, "I") || is(cur, "E")))
        return 1;
    if (!is(cur, "O") && !is(cur, ".") && strcmp(prev_type, cur_type) != 0)
        return 1;
    return is(cur, "[") || is(cur, "]");
}

typedef struct type_count {
    char name[RECUR_TAG_MAX];
    int64_t gold, guessed, correct;
} type_count;

struct recur_conlleval {
    int64_t tokens, correct_tags, gold, guessed, correct;
    type_count *types;
    int n_types, cap_types;
    int in_correct; /* inside a chunk that gold and guess agree on so far */
    char last_gold[RECUR_TAG_MAX], last_gold_type[RECUR_TAG_MAX];
    char last_guess[RECUR_TAG_MAX], last_guess_type[RECUR_TAG_MAX];
};

recur_status recur_conlleval_create(recur_conlleval **out, recur_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return recur_error_set(err, RECUR_ERR_NOMEM, "out of memory");
    strcpy((*out)->last_gold, "O");
    strcpy((*out)->last_guess, "O");
    return RECUR_OK;
}

void recur_conlleval_free(recur_conlleval *e)
{
    if (!e)
        return;
    free(e->types);
    free(e);
}

static type_count *find_type(recur_conlleval *e, const char *name)
{
    for (int i = 0; i < e->n_types; i++)
        if (!strcmp(e->types[i].name, name))
            return &e->types[i];
    if (e->n_types == e->cap_types) {
        int nc = e->cap_types ? 2 * e->cap_types : 16;
        type_count *t = realloc(e->types, (size_t)nc * sizeof *t);
        if (!t)
            return NULL;
        e->types = t;
        e->cap_types = nc;
    }
    type_count *t = &e->types[e->n_types++];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    return t;
}

recur_status recur_conlleval_add(recur_conlleval *e, const char *word, const char *gold,
                                 const char *guess)
{
    char gp[RECUR_TAG_MAX], gt[RECUR_TAG_MAX], pp[RECUR_TAG_MAX], pt[RECUR_TAG_MAX];
    int boundary = word == NULL || !strcmp(word, "-X-");
    if (boundary) {
        gold = "O";
        guess = "O";
    }
    if (tag_split(gold, gp, gt) || tag_split(guess, pp, pt))
        return RECUR_ERR_ARG;
    int gold_end = ends(e->last_gold, e->last_gold_type, gp, gt);
    int guess_end = ends(e->last_guess, e->last_guess_type, pp, pt);
    int gold_start = starts(e->last_gold, e->last_gold_type, gp, gt);
    int guess_start = starts(e->last_guess, e->last_guess_type, pp, pt);
    type_count *tg = gold_start ? find_type(e, gt) : NULL;
    type_count *tp = guess_start ? find_type(e, pt) : NULL;
    type_count *tl = e->in_correct && gold_end && guess_end ? find_type(e, e->last_gold_type) : NULL;
    if ((gold_start && !tg) || (guess_start && !tp) || (e->in_correct && gold_end && guess_end && !tl))
        return RECUR_ERR_NOMEM;
    if (e->in_correct) {
        if (gold_end && guess_end && !strcmp(e->last_guess_type, e->last_gold_type)) {
            e->in_correct = 0;
            e->correct++;
            tl->correct++;
        } else if (gold_end != guess_end || strcmp(pt, gt) != 0) {
            e->in_correct = 0;
        }
    }
    if (gold_start && guess_start && !strcmp(pt, gt))
        e->in_correct = 1;
    if (gold_start) {
        e->gold++;
        tg->gold++;
    }
    if (guess_start) {
        e->guessed++;
        tp->guessed++;
    }
    if (!boundary) {
        if (!strcmp(gp, pp) && !strcmp(gt, pt))
            e->correct_tags++;
        e->tokens++;
    }
    strcpy(e->last_gold, gp);
    strcpy(e->last_gold_type, gt);
    strcpy(e->last_guess, pp);
    strcpy(e->last_guess_type, pt);
    return RECUR_OK;
}

static void score(recur_chunk_score *s)
{
    s->precision = s->guessed > 0 ? 100.0 * (double)s->correct / (double)s->guessed : 0;
    s->recall = s->gold > 0 ? 100.0 * (double)s->correct / (double)s->gold : 0;
    s->f1 = s->precision + s->recall > 0
                ? 2 * s->precision * s->recall / (s->precision + s->recall)
                : 0;
}

void recur_conlleval_result_get(const recur_conlleval *e, recur_conlleval_result *r)
{
    memset(r, 0, sizeof *r);
    r->tokens = e->tokens;
    r->correct_tags = e->correct_tags;
    r->accuracy = e->tokens > 0 ? 100.0 * (double)e->correct_tags / (double)e->tokens : 0;
    r->overall.gold = e->gold;
    r->overall.guessed = e->guessed;
    r->overall.correct = e->correct + (e->in_correct ? 1 : 0);
    score(&r->overall);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const type_count *)a)->name, ((const type_count *)b)->name);
}

int recur_conlleval_num_types(const recur_conlleval *e) { return e->n_types; }

void recur_conlleval_type(const recur_conlleval *e, int i, recur_chunk_score *s)
{
    memset(s, 0, sizeof *s);
    if (i < 0 || i >= e->n_types)
        return;
    /* sorted on demand: types are few, and adding keeps first-seen order */
    type_count *sorted = malloc((size_t)e->n_types * sizeof *sorted);
    if (!sorted)
        return;
    memcpy(sorted, e->types, (size_t)e->n_types * sizeof *sorted);
    qsort(sorted, (size_t)e->n_types, sizeof *sorted, by_name);
    const type_count *t = &sorted[i];
    strcpy(s->type, t->name);
    s->gold = t->gold;
    s->guessed = t->guessed;
    s->correct = t->correct;
    if (e->in_correct && !strcmp(t->name, e->last_gold_type))
        s->correct++;
    free(sorted);
    score(s);
}

char *recur_conlleval_report(const recur_conlleval *e)
{
    recur_conlleval_result r;
    recur_conlleval_result_get(e, &r);
    size_t cap = 256 + (size_t)e->n_types * 2 * (RECUR_TAG_MAX + 128), n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    n += (size_t)snprintf(buf + n, cap - n,
                          "processed %lld tokens with %lld phrases; found: %lld phrases; correct: %lld.\n",
                          (long long)r.tokens, (long long)r.overall.gold,
                          (long long)r.overall.guessed, (long long)r.overall.correct);
    if (r.tokens > 0)
        n += (size_t)snprintf(buf + n, cap - n,
                              "accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f\n",
                              r.accuracy, r.overall.precision, r.overall.recall, r.overall.f1);
    for (int i = 0; i < e->n_types; i++) {
        recur_chunk_score s;
        recur_conlleval_type(e, i, &s);
        /* the script drops repeats of a type in its sorted list of gold and
         * guessed types unless the name is false to Perl ("" or "0"): such a
         * type gets a row from each list that holds it */
        int rows = 1;
        if (!strcmp(s.type, "") || !strcmp(s.type, "0"))
            rows = (s.gold > 0) + (s.guessed > 0);
        for (int k = 0; k < rows; k++)
            n += (size_t)snprintf(buf + n, cap - n,
                                  "%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %lld\n",
                                  s.type, s.precision, s.recall, s.f1, (long long)s.guessed);
    }
    return buf;
}
