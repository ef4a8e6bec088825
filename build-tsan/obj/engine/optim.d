build-tsan/obj/engine/optim.o: src/engine/optim.c \
 src/engine/model_internal.h src/base/internal.h include/recur.h \
 src/engine/simd.h src/engine/threads.h
src/engine/model_internal.h:
src/base/internal.h:
include/recur.h:
src/engine/simd.h:
src/engine/threads.h:
