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
make check
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
echo "== threads under ThreadSanitizer"
make tsan-check
echo "== PyTorch interchange checks"
make check-python
echo "== examples"
build/examples/encoder > /dev/null
echo "ALL CHECKS PASSED"
