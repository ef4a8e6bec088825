build-nompi/cli/lm_demo.o: cli/lm_demo.c cli/lm.h include/recur.h \
 cli/options.h cli/train_options.h include/recur_train.h include/recur.h \
 cli/strbuf.h
cli/lm.h:
include/recur.h:
cli/options.h:
cli/train_options.h:
include/recur_train.h:
include/recur.h:
cli/strbuf.h:
