/*
 * fuzz_text.c - libFuzzer target for the text readers: the first byte picks
 * the level (word or character) and where the input splits; the first part
 * is read as a vocabulary's JSON (recur_vocab_from_json), the second as a
 * text (recur_text_check, then recur_corpus_encode with that vocabulary,
 * or with one counted from the text itself when the JSON is refused).  A
 * refusal must come with a message; every id produced must lie inside the
 * vocabulary; a vocabulary must survive its own JSON round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recur.h"

static void check_ids(const recur_vocab *v, const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= recur_vocab_size(v))
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    recur_lm_level level = (data[0] & 1) ? RECUR_LEVEL_CHAR : RECUR_LEVEL_WORD;
    size_t split = size > 1 ? (size_t)(data[0] >> 1) * (size - 1) / 127 : 0;
    const char *json_part = (const char *)data + 1, *text = json_part + split;
    size_t text_len = size - 1 - split;

    char *json = malloc(split + 1);
    if (!json)
        return 0;
    memcpy(json, json_part, split);
    json[split] = '\0';
    recur_vocab *v = NULL;
    recur_error err = {0};
    recur_status st = recur_vocab_from_json(&v, level, json, &err);
    free(json);
    if (st != RECUR_OK && (v || err.msg[0] == '\0'))
        __builtin_trap();
    if (st == RECUR_OK) {
        char *again = NULL;
        recur_vocab *w = NULL;
        if (recur_vocab_to_json(v, &again, &err) != RECUR_OK ||
            recur_vocab_from_json(&w, level, again, &err) != RECUR_OK || recur_vocab_size(w) != recur_vocab_size(v))
            __builtin_trap();
        free(again);
        recur_vocab_free(w);
    }

    err.msg[0] = '\0';
    if (recur_text_check(text, text_len, "fuzz", &err) != RECUR_OK) {
        if (err.msg[0] == '\0')
            __builtin_trap();
        recur_vocab_free(v);
        return 0;
    }
    if (!v) {
        /* a vocabulary counted from the text itself */
        if (recur_vocab_create(&v, level, &err) != RECUR_OK)
            return 0;
        if (recur_vocab_count_text(v, text, text_len, "fuzz", &err) != RECUR_OK ||
            recur_vocab_finish(v, 0, 1, &err) != RECUR_OK) {
            if (err.msg[0] == '\0')
                __builtin_trap();
            recur_vocab_free(v);
            return 0;
        }
    }
    int32_t *ids = NULL;
    size_t n = 0, oov = 0;
    err.msg[0] = '\0';
    st = recur_corpus_encode(v, text, text_len, "fuzz", 0, &ids, &n, &oov, &err);
    if (st == RECUR_OK)
        check_ids(v, ids, n);
    else if (err.msg[0] == '\0')
        __builtin_trap();
    free(ids);
    recur_vocab_free(v);
    return 0;
}
