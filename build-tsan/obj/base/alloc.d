build-tsan/obj/base/alloc.o: src/base/alloc.c src/base/internal.h \
 include/recur.h
src/base/internal.h:
include/recur.h:
