build-nompi/cli/lm_train.o: cli/lm_train.c cli/lm.h include/recur.h \
 cli/options.h cli/train_options.h include/recur_train.h include/recur.h
cli/lm.h:
include/recur.h:
cli/options.h:
cli/train_options.h:
include/recur_train.h:
include/recur.h:
