build-tsan/obj/engine/gemm_avx512.o: src/engine/gemm_avx512.c \
 src/engine/gemm.h src/engine/model_internal.h src/base/internal.h \
 include/recur.h
src/engine/gemm.h:
src/engine/model_internal.h:
src/base/internal.h:
include/recur.h:
