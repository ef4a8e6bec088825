build-tsan/obj/tasks/lm/sample.o: src/tasks/lm/sample.c \
 src/base/internal.h include/recur.h
src/base/internal.h:
include/recur.h:
