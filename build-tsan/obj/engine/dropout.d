build-tsan/obj/engine/dropout.o: src/engine/dropout.c \
 src/engine/dropout.h src/engine/model_internal.h src/base/internal.h \
 include/recur.h src/engine/threads.h
src/engine/dropout.h:
src/engine/model_internal.h:
src/base/internal.h:
include/recur.h:
src/engine/threads.h:
