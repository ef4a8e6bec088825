build-tsan/obj/engine/simd_avx512.o: src/engine/simd_avx512.c \
 src/engine/simd.h src/engine/model_internal.h src/base/internal.h \
 include/recur.h src/engine/simd_kernels.inc
src/engine/simd.h:
src/engine/model_internal.h:
src/base/internal.h:
include/recur.h:
src/engine/simd_kernels.inc:
