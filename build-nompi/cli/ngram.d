build-nompi/cli/ngram.o: cli/ngram.c include/recur.h
include/recur.h:
