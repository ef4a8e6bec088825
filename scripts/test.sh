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
echo "== build and test (AddressSanitizer + UBSan)"
make -j"$jobs" SAN=1 all
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 make SAN=1 check
echo "== PyTorch interchange checks"
make check-python
echo "== examples"
build/examples/encoder > /dev/null
echo "ALL CHECKS PASSED"
