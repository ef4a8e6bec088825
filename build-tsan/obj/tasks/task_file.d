build-tsan/obj/tasks/task_file.o: src/tasks/task_file.c \
 src/base/internal.h include/recur.h
src/base/internal.h:
include/recur.h:
