#!/usr/bin/env bash
# recur's encoder-decoder against PyTorch: build/tests/test_seq2seq writes
# model files and their expected loss and gradients (s2s_torch_*.safetensors)
# next to itself; tests/seq2seq_torch.py rebuilds each network from torch.nn
# modules, loads the file strictly and compares one forward/backward.
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
build/tests/test_seq2seq > "$log" 2>&1 || { cat "$log"; exit 1; }
/usr/bin/python3 tests/seq2seq_torch.py build/tests/s2s_torch_feed_general.safetensors \
    build/tests/s2s_torch_additive.safetensors build/tests/s2s_torch_gru_none.safetensors
