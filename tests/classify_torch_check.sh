#!/usr/bin/env bash
# Classifiers trained by `recur classify train` (one per pooling, LSTM and
# GRU, bi- and unidirectional, 1 and 2 layers) predict what PyTorch computes
# from their files (tests/classify_torch.py): names, shapes, gate orders,
# the final states of both directions, the masks and the attention.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk 'BEGIN { srand(5); split("a b c d e f g h i j k l", w, " "); split("x y z", lab, " ");
    for (i = 0; i < 120; i++) { n = 1 + int(rand() * 12); s = "";
        for (j = 0; j < n; j++) s = s (j ? " " : "") w[1 + int(rand() * 12)];
        print lab[1 + int(rand() * 3)] "\t" s } }' > "$tmp/train.tsv"
head -20 "$tmp/train.tsv" > "$tmp/dev.tsv"
cut -f2 "$tmp/dev.tsv" > "$tmp/sentences.txt"
echo "a never seen b words c d e f g h i j k l a b c d e f g h i j k l" >> "$tmp/sentences.txt"
for spec in "last lstm --bidirectional 2" "last gru --no-bidirectional 1" "mean lstm --bidirectional 1" \
            "max gru --bidirectional 2" "attention lstm --bidirectional 2" "attention rnn-tanh --no-bidirectional 1"; do
    read -r pool cell dir layers <<< "$spec"
    out=$tmp/$pool-$cell-$layers
    build/recur classify train "$tmp/train.tsv" "$tmp/dev.tsv" --pool "$pool" --cell "$cell" $dir --layers "$layers" \
        --embed 12 --hidden 10 --epochs 2 --lr 0.02 --dropout 0.3 --threads 1 --progress none --out "$out" > /dev/null
    explain=$([ "$pool" = attention ] && echo --explain || true)
    build/recur classify predict "$out/best.safetensors" "$tmp/sentences.txt" --json $explain > "$tmp/pred.jsonl"
    /usr/bin/python3 tests/classify_torch.py "$out/best.safetensors" "$tmp/sentences.txt" "$tmp/pred.jsonl"
done
