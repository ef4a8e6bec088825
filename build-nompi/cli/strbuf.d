build-nompi/cli/strbuf.o: cli/strbuf.c cli/strbuf.h
cli/strbuf.h:
