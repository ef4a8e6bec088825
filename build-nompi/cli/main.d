build-nompi/cli/main.o: cli/main.c cli/commands.h include/recur.h \
 include/recur_train.h include/recur.h
cli/commands.h:
include/recur.h:
include/recur_train.h:
include/recur.h:
