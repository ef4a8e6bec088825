build-tsan/obj/base/version.o: src/base/version.c include/recur.h
include/recur.h:
