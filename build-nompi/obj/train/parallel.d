build-nompi/obj/train/parallel.o: src/train/parallel.c \
 src/base/internal.h include/recur.h src/train/parallel.h \
 include/recur_train.h include/recur.h
src/base/internal.h:
include/recur.h:
src/train/parallel.h:
include/recur_train.h:
include/recur.h:
