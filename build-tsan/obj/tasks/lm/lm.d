build-tsan/obj/tasks/lm/lm.o: src/tasks/lm/lm.c src/base/internal.h \
 include/recur.h
src/base/internal.h:
include/recur.h:
