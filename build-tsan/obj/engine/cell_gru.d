build-tsan/obj/engine/cell_gru.o: src/engine/cell_gru.c src/engine/cell.h \
 src/engine/model_internal.h src/base/internal.h include/recur.h \
 src/engine/gemm.h src/engine/simd.h src/engine/threads.h
src/engine/cell.h:
src/engine/model_internal.h:
src/base/internal.h:
include/recur.h:
src/engine/gemm.h:
src/engine/simd.h:
src/engine/threads.h:
