build-tsan/obj/train/progress.o: src/train/progress.c \
 src/train/progress.h include/recur_train.h include/recur.h
src/train/progress.h:
include/recur_train.h:
include/recur.h:
