build-tsan/obj/base/errors.o: src/base/errors.c src/base/internal.h \
 include/recur.h
src/base/internal.h:
include/recur.h:
