# recur - build with GNU make.  `make` builds the library, the CLI, tests,
# examples and benchmarks; `make check` runs the tests.  SAN=1 builds
# everything with AddressSanitizer + UBSan into build-san/; TSAN=1 with
# ThreadSanitizer into build-tsan/ (`make tsan-check`).
CC      ?= cc
PKGS    := openblas jansson
# Data-parallel training over MPI (docs/parallel.md): Open MPI when found
# (Debian's libopenmpi-dev), or MPI=1 / MPI=0.  Without it, or started
# without mpirun, training runs as one process.
MPI     ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
PKGS    += ompi-c
MPI_DEF := -DRECUR_MPI
endif
ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(TSAN),1)
BUILD   ?= build-tsan
OPT     := -O1 -g -fsanitize=thread
else
BUILD   ?= build
OPT     := -O2 -g
endif
CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L $(OPT) -Wall -Wextra -Werror -fPIC -MMD -MP \
           -Iinclude -Isrc $(MPI_DEF) $(shell pkg-config --cflags $(PKGS))
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lm -lpthread
ifeq ($(SAN),1)
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(TSAN),1)
LDFLAGS += -fsanitize=thread
endif

# The version, from include/recur.h; the shared library is
# librecur.so.MAJOR.MINOR.PATCH with the SONAME librecur.so.MAJOR.
version_part = $(shell sed -n 's/^\#define RECUR_VERSION_$(1) \([0-9][0-9]*\)$$/\1/p' include/recur.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION       := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SONAME        := librecur.so.$(VERSION_MAJOR)
# The library exports only the headers' RECUR_API (recur.h, recur_train.h, recur_classify.h, recur_seq2seq.h, recur_tag.h).
LIB_CFLAGS    := -fvisibility=hidden

# The library's sources, one folder per concern (docs/architecture.md).
LIB_SRC   := $(sort $(wildcard src/*/*.c src/*/*/*.c))
LIB_OBJ   := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
LIB64_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/obj64/%.o)
CLI_SRC   := $(sort $(wildcard cli/*.c))
CLI_OBJ   := $(CLI_SRC:cli/%.c=$(BUILD)/cli/%.o)
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TESTS     := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# programs the PyTorch checks (tests/*_check.sh) run: not tests themselves
TEST_TOOLS := $(BUILD)/tests/tag_emissions
EX_SRC    := $(sort $(wildcard examples/*.c))
EXAMPLES  := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCHES   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

SHARED := $(BUILD)/librecur.so.$(VERSION) $(BUILD)/$(SONAME) $(BUILD)/librecur.so
all: $(BUILD)/librecur.a $(SHARED) $(BUILD)/recur $(TESTS) $(TEST_TOOLS) $(EXAMPLES) $(BENCHES)

# parallel.c alone differs with MPI: rebuilt when MPI changes
$(BUILD)/mpi-$(MPI).flag:
	@mkdir -p $(dir $@)
	@rm -f $(BUILD)/mpi-*.flag
	@touch $@
$(BUILD)/obj/train/parallel.o $(BUILD)/obj64/train/parallel.o: $(BUILD)/mpi-$(MPI).flag

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIB_CFLAGS) -c $< -o $@
$(BUILD)/obj64/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIB_CFLAGS) -DRECUR_DOUBLE -c $< -o $@
$(BUILD)/librecur.a: $(LIB_OBJ)
	ar rcs $@ $^
$(BUILD)/librecur64.a: $(LIB64_OBJ)
	ar rcs $@ $^
$(BUILD)/librecur.so.$(VERSION): $(LIB_OBJ) src/librecur.map
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SONAME) -Wl,--version-script=src/librecur.map -o $@ $(LIB_OBJ) $(LDLIBS)
# the SONAME's link (what programs load) and the link for -lrecur
$(BUILD)/$(SONAME) $(BUILD)/librecur.so: $(BUILD)/librecur.so.$(VERSION)
	ln -sfn librecur.so.$(VERSION) $@

$(BUILD)/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/recur: $(CLI_OBJ) $(BUILD)/librecur.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Tests named test_*_f64.c run against the double-precision build.
$(BUILD)/tests/test_%_f64: tests/test_%_f64.c tests/*.h $(BUILD)/librecur64.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DRECUR_DOUBLE $(LDFLAGS) -o $@ $< $(BUILD)/librecur64.a $(LDLIBS) -lcmocka
$(BUILD)/tests/%: tests/%.c tests/*.h $(BUILD)/librecur.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librecur.a $(LDLIBS) -lcmocka
$(BUILD)/examples/%: examples/%.c $(BUILD)/librecur.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librecur.a $(LDLIBS)
$(BUILD)/bench/%: bench/%.c $(BUILD)/librecur.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librecur.a $(LDLIBS)

# Runs every test program; each is a cmocka group that exits non-zero on
# failure.  Then the shell checks of the library as a dependency (tests/sh/:
# exported symbols, SONAME, install), which build programs against the
# library the way other projects do; not under SAN=1, whose library needs
# the sanitizers' runtime loaded first.
SH_CHECKS := $(if $(filter 1,$(SAN)),,$(sort $(wildcard tests/sh/*.sh)))
# End-to-end checks of the `recur` program (tests/cli/), in every build.
CLI_CHECKS := $(sort $(wildcard tests/cli/*.sh))
# With MPI (and mpirun), the data-parallel checks on 2 ranks; not under
# SAN=1, whose leak checker reports Open MPI's own allocations.
MPI_CHECKS := $(if $(filter 1,$(SAN)),,$(if $(filter 1,$(MPI)),$(sort $(wildcard tests/mpi/*.sh))))
check: all
	@fail=0; for t in $(TESTS); do echo "== $$t"; $$t || fail=1; done; \
	 for s in $(CLI_CHECKS); do echo "== $$s"; bash $$s $(BUILD) || fail=1; done; \
	 for s in $(SH_CHECKS); do echo "== $$s"; CC="$(CC)" MAKE="$(MAKE)" bash $$s $(BUILD) || fail=1; done; \
	 for s in $(MPI_CHECKS); do echo "== $$s"; bash $$s $(BUILD) || fail=1; done; \
	 if [ $$fail -ne 0 ]; then echo "SOME TESTS FAILED"; exit 1; fi; echo "ALL TEST PROGRAMS PASSED"

# The threading promises of recur.h under ThreadSanitizer: the library and
# the tests that use threads, built with -fsanitize=thread (build-tsan/).
TSAN_TESTS := test_concurrency test_threads
tsan-check:
	$(MAKE) TSAN=1 $(TSAN_TESTS:%=build-tsan/tests/%)
	@for t in $(TSAN_TESTS); do echo "== $$t (ThreadSanitizer)"; \
	   TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/$$t || exit 1; done; echo "NO DATA RACES FOUND"

# Checks that need PyTorch (/usr/bin/python3 with Debian's python3-torch):
# every tests/*_check.sh script, run from the repository root.
PY_CHECKS := $(sort $(wildcard tests/*_check.sh))
check-python: all
	@fail=0; for s in $(PY_CHECKS); do echo "== $$s"; bash $$s || fail=1; done; \
	 if [ $$fail -ne 0 ]; then echo "SOME PYTHON CHECKS FAILED"; exit 1; fi; echo "ALL PYTHON CHECKS PASSED"

# libFuzzer target for the safetensors reader (needs clang); see docs/fuzzing.md.
# It links only what it calls, so it builds whatever state the rest of src/ is in.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Wall -Wextra -Werror \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc
fuzz: $(BUILD)/fuzz_safetensors
$(BUILD)/fuzz_safetensors: fuzz/fuzz_safetensors.c src/io/safetensors.c src/io/atomic_file.c src/io/safetensors.h include/recur.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(shell pkg-config --cflags jansson) -o $@ fuzz/fuzz_safetensors.c src/io/safetensors.c src/io/atomic_file.c src/base/errors.c src/base/version.c \
	  $(shell pkg-config --libs jansson) -lm
fuzz-run: $(BUILD)/fuzz_safetensors
	@mkdir -p $(BUILD)/fuzz-corpus
	$(BUILD)/fuzz_safetensors -max_total_time=$(FUZZ_SECONDS) -dict=fuzz/safetensors.dict \
	  $(BUILD)/fuzz-corpus fuzz/seeds

# libFuzzer target for opening and loading checkpoints (src/io/checkpoint.c over
# the safetensors reader, the model, a tiny forward pass); see docs/fuzzing.md.
# Like the rule above it links only the sources it needs.
FUZZ_CKPT_SRC := fuzz/fuzz_checkpoint.c $(addprefix src/,io/checkpoint.c io/safetensors.c io/atomic_file.c \
                 $(addprefix engine/,model.c run.c cell_common.c cell_gru.c cell_lstm.c cell_rnn.c optim.c \
                 schedule.c blas.c gemm_avx512.c gemm_bf16.c gemm_bf16_pass.c simd.c simd_avx2.c simd_avx512.c threads.c dropout.c) \
                 base/errors.c base/alloc.c base/rng.c base/version.c)
fuzz-checkpoint: $(BUILD)/fuzz_checkpoint
$(BUILD)/fuzz_checkpoint: $(FUZZ_CKPT_SRC) $(wildcard src/*/*.h) include/recur.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(shell pkg-config --cflags jansson openblas) -o $@ $(FUZZ_CKPT_SRC) \
	  $(shell pkg-config --libs jansson openblas) -lm -lpthread
fuzz-checkpoint-run: $(BUILD)/fuzz_checkpoint
	@mkdir -p $(BUILD)/fuzz-corpus-checkpoint
	$(BUILD)/fuzz_checkpoint -max_total_time=$(FUZZ_SECONDS) -dict=fuzz/checkpoint.dict \
	  $(BUILD)/fuzz-corpus-checkpoint fuzz/seeds_checkpoint
# libFuzzer targets for the text readers (fuzz/fuzz_text.c: vocabulary JSON,
# text checks, corpus encoding) and the ARPA reader (fuzz/fuzz_arpa.c), over
# the whole library compiled by clang with the fuzzer's instrumentation
# (build/fuzz-obj/); see docs/fuzzing.md.  `make fuzz-readers-run` runs each
# for FUZZ_SECONDS; scripts/test.sh runs them briefly.
# a comma inside $(subst)
, := ,
FUZZ_LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/fuzz-obj/%.o)
FUZZ_OBJ_CFLAGS := $(subst -fsanitize=fuzzer$(,)address,-fsanitize=fuzzer-no-link$(,)address,$(FUZZ_CFLAGS)) \
                   -Wno-unused-command-line-argument $(shell pkg-config --cflags $(PKGS))
$(BUILD)/fuzz-obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_OBJ_CFLAGS) -c $< -o $@
$(BUILD)/fuzz-obj/librecur.a: $(FUZZ_LIB_OBJ)
	ar rcs $@ $^
$(BUILD)/fuzz_%: fuzz/fuzz_%.c $(BUILD)/fuzz-obj/librecur.a include/recur.h
	clang $(FUZZ_CFLAGS) $(shell pkg-config --cflags $(PKGS)) -o $@ $< $(BUILD)/fuzz-obj/librecur.a $(LDLIBS)
FUZZ_READERS := text arpa
fuzz-readers: $(FUZZ_READERS:%=$(BUILD)/fuzz_%)
fuzz-readers-run: fuzz-readers
	@for t in $(FUZZ_READERS); do mkdir -p $(BUILD)/fuzz-corpus-$$t; echo "== fuzz_$$t ($(FUZZ_SECONDS) s)"; \
	  $(BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 $(BUILD)/fuzz-corpus-$$t fuzz/seeds_$$t \
	    > $(BUILD)/fuzz_$$t.log 2>&1 || { tail -40 $(BUILD)/fuzz_$$t.log; exit 1; }; done; echo "NO FUZZ FINDINGS"

# Rewrites fuzz/seeds_checkpoint/ with recur's own checkpoint writer.
fuzz-checkpoint-seeds: $(BUILD)/librecur.a
	@mkdir -p $(BUILD) fuzz/seeds_checkpoint
	$(CC) $(CFLAGS) $(LDFLAGS) -o $(BUILD)/make_checkpoint_seeds fuzz/make_checkpoint_seeds.c $(BUILD)/librecur.a $(LDLIBS)
	$(BUILD)/make_checkpoint_seeds fuzz/seeds_checkpoint

# Installing: the headers, both libraries (the shared one with its SONAME's
# link and the link for -lrecur), the CLI, its man pages (made from its
# --help texts by scripts/make_man.sh) and a pkg-config file for the float
# build.  DESTDIR stages; uninstall removes exactly those files.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PCDIR      ?= $(LIBDIR)/pkgconfig
MANDIR     ?= $(PREFIX)/share/man
HEADERS    := $(notdir $(sort $(wildcard include/recur*.h)))
INSTALLED  := $(HEADERS:%=$(INCLUDEDIR)/%) $(LIBDIR)/librecur.a $(LIBDIR)/librecur.so.$(VERSION) $(LIBDIR)/$(SONAME) \
              $(LIBDIR)/librecur.so $(BINDIR)/recur $(PCDIR)/recur.pc
$(BUILD)/man/recur.1: $(BUILD)/recur scripts/make_man.sh
	rm -rf $(BUILD)/man
	sh scripts/make_man.sh $(BUILD)/recur $(BUILD)/man
man: $(BUILD)/man/recur.1
# written at every install: it holds the install's directories
$(BUILD)/recur.pc: FORCE
	@mkdir -p $(BUILD)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: recur' 'Description: recurrent neural networks (LSTM, GRU, RNN) in C' 'Version: $(VERSION)' \
	  'Requires.private: $(PKGS)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lrecur' \
	  'Libs.private: -lm -lpthread' > $@
install: $(BUILD)/librecur.a $(SHARED) $(BUILD)/recur $(BUILD)/recur.pc $(BUILD)/man/recur.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(HEADERS:%=include/%) $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(BUILD)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(BUILD)/librecur.a $(DESTDIR)$(LIBDIR)/librecur.a
	install -m 755 $(BUILD)/librecur.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librecur.so.$(VERSION)
	ln -sfn librecur.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn librecur.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librecur.so
	install -m 755 $(BUILD)/recur $(DESTDIR)$(BINDIR)/recur
	install -m 644 $(BUILD)/recur.pc $(DESTDIR)$(PCDIR)/recur.pc
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED)) $(DESTDIR)$(MANDIR)/man1/recur.1 $(DESTDIR)$(MANDIR)/man1/recur-*.1

# header dependencies written by -MMD
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

clean:
	rm -rf build build-san build-tsan build-nompi

.PHONY: all check check-python tsan-check man fuzz-readers fuzz-readers-run clean install uninstall FORCE fuzz fuzz-run fuzz-checkpoint fuzz-checkpoint-run fuzz-checkpoint-seeds
