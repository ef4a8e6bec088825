build-tsan/obj/text/corpus.o: src/text/corpus.c src/base/internal.h \
 include/recur.h
src/base/internal.h:
include/recur.h:
