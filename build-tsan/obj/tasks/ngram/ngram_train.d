build-tsan/obj/tasks/ngram/ngram_train.o: src/tasks/ngram/ngram_train.c \
 src/io/atomic_file.h src/base/internal.h include/recur.h \
 src/tasks/ngram/ngram_internal.h
src/io/atomic_file.h:
src/base/internal.h:
include/recur.h:
src/tasks/ngram/ngram_internal.h:
