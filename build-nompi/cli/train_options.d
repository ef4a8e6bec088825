build-nompi/cli/train_options.o: cli/train_options.c cli/train_options.h \
 cli/options.h include/recur_train.h include/recur.h
cli/train_options.h:
cli/options.h:
include/recur_train.h:
include/recur.h:
