build-tsan/obj/text/vocab.o: src/text/vocab.c src/base/internal.h \
 include/recur.h
src/base/internal.h:
include/recur.h:
