build-nompi/obj/train/trainer.o: src/train/trainer.c src/base/internal.h \
 include/recur.h src/engine/model_internal.h src/train/parallel.h \
 include/recur_train.h include/recur.h src/train/progress.h \
 src/train/run_dir.h
src/base/internal.h:
include/recur.h:
src/engine/model_internal.h:
src/train/parallel.h:
include/recur_train.h:
include/recur.h:
src/train/progress.h:
src/train/run_dir.h:
