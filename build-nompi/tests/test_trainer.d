build-nompi/tests/test_trainer: tests/test_trainer.c \
 include/recur_train.h include/recur.h
include/recur_train.h:
include/recur.h:
