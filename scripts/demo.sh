#!/usr/bin/env bash
# The main job on an embedded default: installs what is missing, builds, and
# runs it.  Until the language-model command lands this is the encoder
# example (a bidirectional LSTM trained through a loss of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -j"$(nproc)" all >/dev/null
if build/recur lm demo --help >/dev/null 2>&1; then
  exec build/recur lm demo "$@"
fi
exec build/examples/encoder
