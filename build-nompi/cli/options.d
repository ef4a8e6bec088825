build-nompi/cli/options.o: cli/options.c cli/options.h
cli/options.h:
