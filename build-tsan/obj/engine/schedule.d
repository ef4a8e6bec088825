build-tsan/obj/engine/schedule.o: src/engine/schedule.c include/recur.h
include/recur.h:
