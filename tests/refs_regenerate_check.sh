#!/usr/bin/env bash
# Regenerates the PyTorch references from scratch with this machine's torch
# and runs the parity and trajectory tests against them, so CI proves the
# committed files in tests/ref are not the only thing the tests agree with.
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 tests/ref/make_refs.py "$dir" > /dev/null
for t in test_parity test_trajectory test_parity_f64 test_trajectory_f64; do
  RECUR_REF_DIR="$dir" "build/tests/$t"
done
