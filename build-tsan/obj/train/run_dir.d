build-tsan/obj/train/run_dir.o: src/train/run_dir.c src/train/run_dir.h \
 src/base/internal.h include/recur.h
src/train/run_dir.h:
src/base/internal.h:
include/recur.h:
