#!/usr/bin/env bash
# A checkpoint written by recur loads into PyTorch (load_state_dict with
# strict=True, optimizer.* keys dropped) and computes recur's outputs there:
# build/tests/test_checkpoint writes ckpt_for_torch.safetensors and its
# .expected.safetensors next to itself, tests/checkpoint_torch.py checks them.
# test_checkpoint runs first so the files are fresh (check-python builds
# `all`, not `check`).
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
build/tests/test_checkpoint > "$log" 2>&1 || { cat "$log"; exit 1; }
/usr/bin/python3 tests/checkpoint_torch.py build/tests/ckpt_for_torch.safetensors
