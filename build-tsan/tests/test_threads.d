build-tsan/tests/test_threads: tests/test_threads.c \
 /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h \
 /usr/include/x86_64-linux-gnu/openblas-pthread/openblas_config.h \
 src/engine/gemm.h src/engine/model_internal.h src/base/internal.h \
 include/recur.h src/engine/threads.h
/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h:
/usr/include/x86_64-linux-gnu/openblas-pthread/openblas_config.h:
src/engine/gemm.h:
src/engine/model_internal.h:
src/base/internal.h:
include/recur.h:
src/engine/threads.h:
