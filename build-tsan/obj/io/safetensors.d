build-tsan/obj/io/safetensors.o: src/io/safetensors.c \
 src/io/safetensors.h include/recur.h src/io/atomic_file.h \
 src/base/internal.h
src/io/safetensors.h:
include/recur.h:
src/io/atomic_file.h:
src/base/internal.h:
