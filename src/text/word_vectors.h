/*
 * word_vectors.h - pretrained word vectors read from the files the field
 * distributes, streamed entry by entry (a file of millions of words is never
 * held whole):
 *   text    GloVe's "word v1 ... vD" lines, or word2vec's text format (the
 *           same after a "COUNT DIM" header line).  The vector is a line's
 *           last D numbers and the word everything before them, so the few
 *           words with spaces in them (GloVe 840B) read whole.
 *   binary  word2vec's binary format (-binary 1, GoogleNews-vectors):
 *           "COUNT DIM\n", then per word its bytes up to a space and D
 *           little-endian 4-byte floats, a newline optional.
 * The format is recognised from the bytes after the header and the first
 * word.  Errors name the file and its line (text) or entry (binary).
 */
#ifndef RECUR_WORD_VECTORS_H
#define RECUR_WORD_VECTORS_H

#include "recur.h"

/* Called for each entry in file order; the word is NUL-terminated and both
 * pointers are valid during the call only.  A status other than RECUR_OK
 * (with err set) stops the reading and is returned. */
typedef recur_status (*word_vector_fn)(void *ctx, const char *word, const float *vec, int dim,
                                       recur_error *err);

/* Reads every entry of the file at path; *dim gets the vectors' width.
 * An empty file, or one without a single vector, is RECUR_ERR_FORMAT. */
recur_status word_vectors_read(const char *path, word_vector_fn fn, void *ctx, int *dim, recur_error *err);

#endif
