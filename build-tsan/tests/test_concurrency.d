build-tsan/tests/test_concurrency: tests/test_concurrency.c \
 include/recur.h
include/recur.h:
