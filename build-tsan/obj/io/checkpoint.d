build-tsan/obj/io/checkpoint.o: src/io/checkpoint.c src/io/safetensors.h \
 include/recur.h src/engine/model_internal.h src/base/internal.h
src/io/safetensors.h:
include/recur.h:
src/engine/model_internal.h:
src/base/internal.h:
