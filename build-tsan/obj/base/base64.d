build-tsan/obj/base/base64.o: src/base/base64.c src/base/base64.h
src/base/base64.h:
