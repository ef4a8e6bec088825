#!/usr/bin/env bash
# Taggers trained by `recur tag train` compute what PyTorch computes from
# their files (tests/tag_torch.py): names and shapes (strict loading), gate
# orders, the character BiLSTM's final states, the vocabulary keys and
# capitalisation classes, the CRF's transitions and scheme constraints.
# Emissions and best path scores come from build/tests/tag_emissions; the
# tags from `recur tag predict`.  Made-up CoNLL data (tests/tag_torch_data.py).
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 tests/tag_torch_data.py "$tmp"
common="--epochs 25 --lr 0.05 --threads 1 --progress none --seed 3"
while IFS='|' read -r name scheme opts; do
    out=$tmp/$name
    # shellcheck disable=SC2086
    build/recur tag train "$tmp/train.$scheme" "$tmp/dev.$scheme" $common $opts --out "$out" > /dev/null
    build/tests/tag_emissions "$out/best.safetensors" "$tmp/sentences.txt" > "$tmp/emit.jsonl"
    build/recur tag predict "$out/best.safetensors" "$tmp/sentences.txt" --format text > "$tmp/pred.txt"
    /usr/bin/python3 tests/tag_torch.py "$out/best.safetensors" "$tmp/sentences.txt" "$tmp/emit.jsonl" "$tmp/pred.txt"
done <<'SPECS'
crf-chars-caps-lstm|iob2|--word-dim 12 --char-dim 6 --char-hidden 5 --caps-dim 3 --hidden 8
softmax-gru-2layers|pos|--output softmax --char-hidden 0 --caps-dim 4 --cell gru --layers 2 --word-dim 10 --hidden 7
crf-iob1-rnn-chars|iob1|--cell rnn-tanh --word-dim 8 --char-dim 5 --char-hidden 4 --max-word-chars 5 --caps-dim 0 --hidden 6
crf-iobes-gru-exact|iobes|--cell gru --no-lowercase --word-dim 9 --char-dim 4 --char-hidden 3 --caps-dim 2 --hidden 5 --min-count 2
SPECS
