build-nompi/cli/lm_sample.o: cli/lm_sample.c cli/lm.h include/recur.h \
 cli/options.h cli/train_options.h include/recur_train.h include/recur.h \
 cli/strbuf.h
cli/lm.h:
include/recur.h:
cli/options.h:
cli/train_options.h:
include/recur_train.h:
include/recur.h:
cli/strbuf.h:
