build-tsan/obj/tasks/lm/lm_task.o: src/tasks/lm/lm_task.c \
 src/base/base64.h src/base/internal.h include/recur.h \
 include/recur_train.h include/recur.h
src/base/base64.h:
src/base/internal.h:
include/recur.h:
include/recur_train.h:
include/recur.h:
