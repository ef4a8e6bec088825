build-tsan/obj/engine/run.o: src/engine/run.c src/engine/cell.h \
 src/engine/model_internal.h src/base/internal.h include/recur.h \
 src/engine/dropout.h src/engine/gemm.h src/engine/simd.h \
 src/engine/threads.h
src/engine/cell.h:
src/engine/model_internal.h:
src/base/internal.h:
include/recur.h:
src/engine/dropout.h:
src/engine/gemm.h:
src/engine/simd.h:
src/engine/threads.h:
