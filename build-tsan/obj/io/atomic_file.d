build-tsan/obj/io/atomic_file.o: src/io/atomic_file.c \
 src/io/atomic_file.h src/base/internal.h include/recur.h
src/io/atomic_file.h:
src/base/internal.h:
include/recur.h:
