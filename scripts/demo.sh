#!/usr/bin/env bash
# The main job on an embedded default: installs what is missing, builds, and
# trains a small character-level language model on the text of Debian's
# fortunes package for about two minutes, then prints samples
# (`recur lm demo`; options pass through, see `build/recur lm demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -j"$(nproc)" all >/dev/null
exec build/recur lm demo "$@"
