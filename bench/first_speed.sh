#!/usr/bin/env bash
# First speed figure: forward+backward tokens/s of a 2-layer LSTM, hidden 512,
# batch 32, 64 steps, recur beside PyTorch in the same run, alternating.
# PyTorch gets its fastest thread setting here (1 intra-op thread; its own
# OpenMP threads fight OpenBLAS's); recur's OpenBLAS uses THREADS threads.
# usage: bench/first_speed.sh [ROUNDS]   (run `make` first)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cfg="--hidden 512 --layers 2 --batch 32 --steps 64 --iters 15"
printf '%-8s %-7s %14s %14s %8s\n' round threads "recur tok/s" "torch tok/s" ratio
for threads in 1 2; do
  for r in $(seq "$rounds"); do
    ours=$(OPENBLAS_NUM_THREADS=$threads build/bench/lstm_speed $cfg --threads "$threads")
    theirs=$(OPENBLAS_NUM_THREADS=$threads /usr/bin/python3 bench/lstm_speed_torch.py $cfg --threads 1)
    printf '%-8s %-7s %14s %14s %8.2f\n' "$r" "$threads" "$ours" "$theirs" "$(echo "$ours / $theirs" | bc -l)"
  done
done
