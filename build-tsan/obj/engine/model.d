build-tsan/obj/engine/model.o: src/engine/model.c \
 src/engine/model_internal.h src/base/internal.h include/recur.h \
 src/engine/threads.h
src/engine/model_internal.h:
src/base/internal.h:
include/recur.h:
src/engine/threads.h:
