build-tsan/obj/base/rng.o: src/base/rng.c src/base/internal.h \
 include/recur.h
src/base/internal.h:
include/recur.h:
