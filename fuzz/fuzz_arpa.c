/*
 * fuzz_arpa.c - libFuzzer target for the ARPA reader (recur_ngram_load in
 * src/tasks/ngram/ngram_model.c): arbitrary bytes as an ARPA file (through
 * an in-memory file, since the reader takes a path).  A refusal must come
 * with a message; a model it accepts must answer lookups and score a short
 * sentence with finite or -inf log-probabilities, and free cleanly.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "recur.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("arpa", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    recur_ngram *m = NULL;
    recur_error err = {0};
    recur_status st = recur_ngram_load(&m, path, &err);
    if (st != RECUR_OK) {
        if (m || err.msg[0] == '\0')
            __builtin_trap();
    } else {
        if (recur_ngram_order(m) < 1 || recur_ngram_order(m) > RECUR_NGRAM_MAX_ORDER || recur_ngram_vocab_size(m) < 1)
            __builtin_trap();
        for (int k = 1; k <= recur_ngram_order(m); k++)
            if (recur_ngram_count(m, k) < 0)
                __builtin_trap();
        (void)recur_ngram_map(m, "the");
        (void)recur_ngram_word_id(m, "<unk>");
        recur_ngram_free(m);
    }
    close(fd);
    return 0;
}
