build-tsan/obj/tasks/ngram/ngram_sort.o: src/tasks/ngram/ngram_sort.c \
 src/base/internal.h include/recur.h src/tasks/ngram/ngram_internal.h
src/base/internal.h:
include/recur.h:
src/tasks/ngram/ngram_internal.h:
