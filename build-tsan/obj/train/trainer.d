build-tsan/obj/train/trainer.o: src/train/trainer.c src/base/internal.h \
 include/recur.h src/train/progress.h include/recur_train.h \
 include/recur.h src/train/run_dir.h
src/base/internal.h:
include/recur.h:
src/train/progress.h:
include/recur_train.h:
include/recur.h:
src/train/run_dir.h:
