#!/usr/bin/env bash
# Regenerates the PyTorch references from scratch with this machine's torch
# and runs the parity and trajectory tests against them, so CI proves the
# committed files in tests/ref are not the only thing the tests agree with.
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 tests/ref/make_refs.py --wide "$dir" > /dev/null
for t in test_parity test_trajectory test_parity_f64 test_trajectory_f64; do
  RECUR_REF_DIR="$dir" "build/tests/$t"
done
# the production shapes at every SIMD level this CPU has, on 1 and 2 threads
for simd in portable avx2 native; do
  for threads in 1 2; do
    RECUR_REF_DIR="$dir" RECUR_SIMD=$simd RECUR_TEST_THREADS=$threads build/tests/test_parity > /dev/null 2>&1 ||
      { echo "test_parity failed with RECUR_SIMD=$simd RECUR_TEST_THREADS=$threads"; exit 1; }
  done
done
