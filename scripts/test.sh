#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as errors,
# runs every test program (float and double builds), then the whole suite
# again under AddressSanitizer + UndefinedBehaviorSanitizer, then the checks
# that need PyTorch (Python scripts under tests/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)
echo "== build and test (release)"
make -j"$jobs" all
# with Open MPI (deps.sh installs it) make check also runs tests/mpi/ on 2 ranks
make check
if command -v mpirun > /dev/null && [ "$(make -s -f Makefile --eval='p:;@echo $(MPI)' p)" != 1 ]; then
    echo "mpirun is installed but the build found no Open MPI (pkg-config ompi-c)"; exit 1
fi
echo "== the build without MPI (one process; refuses to run as one of several under mpirun)"
make -j"$jobs" MPI=0 BUILD=build-nompi build-nompi/recur build-nompi/tests/test_trainer
build-nompi/tests/test_trainer > /dev/null
if command -v mpirun > /dev/null; then
    printf 'a short text for two ranks\n%.0s' $(seq 50) > build-nompi/t.txt
    if OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 2 --oversubscribe \
        build-nompi/recur lm train --hidden 8 --out build-nompi/run --force build-nompi/t.txt \
        build-nompi/t.txt > build-nompi/mpi.log 2>&1; then
        echo "a build without MPI trained under mpirun -np 2"; exit 1
    fi
    grep -q "built without MPI" build-nompi/mpi.log || { cat build-nompi/mpi.log; exit 1; }
fi
if grep -qw avx512f /proc/cpuinfo; then
    # OpenBLAS's own AVX-512 kernels for the large products, recur's for the
    # recurrent and few-row ones: the mixed path, checked against the references
    echo "== numerical tests with OPENBLAS_CORETYPE=SkylakeX"
    for t in test_parity test_padding test_simd test_trajectory test_input_cache test_stepper; do
        OPENBLAS_CORETYPE=SkylakeX build/tests/$t > /dev/null || { echo "$t failed with SkylakeX kernels"; exit 1; }
    done
fi
echo "== build and test (AddressSanitizer + UBSan)"
make -j"$jobs" SAN=1 all
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 make SAN=1 check
echo "== fuzzing the text and ARPA readers briefly"
make -j"$jobs" fuzz-readers > /dev/null
make fuzz-readers-run FUZZ_SECONDS=15
echo "== threads under ThreadSanitizer"
make tsan-check
echo "== PyTorch interchange checks"
make check-python
echo "== examples"
build/examples/encoder > /dev/null
echo "ALL CHECKS PASSED"
