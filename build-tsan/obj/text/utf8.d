build-tsan/obj/text/utf8.o: src/text/utf8.c src/base/internal.h \
 include/recur.h
src/base/internal.h:
include/recur.h:
