build-tsan/obj/engine/simd.o: src/engine/simd.c src/engine/simd.h \
 src/engine/model_internal.h src/base/internal.h include/recur.h
src/engine/simd.h:
src/engine/model_internal.h:
src/base/internal.h:
include/recur.h:
