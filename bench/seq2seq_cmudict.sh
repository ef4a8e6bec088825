#!/usr/bin/env bash
# Grapheme-to-phoneme on the CMU dictionary (the g014b2b split, stress
# removed): trains `recur seq2seq` on g014b2b.train less a development split,
# tests on the 12,000 words of g014b2b.ref, and prints the table of
# docs/seq2seq.md (with and without attention, greedy and beam search).
#
#   bash bench/seq2seq_cmudict.sh [DATA_DIR] [OUT_DIR]
#
# The development split is fixed: the words of g014b2b.train in file order
# (alphabetical), every 40th word (the 1st, 41st, ...) with all its
# pronunciations goes to dev (2,671 words), the rest (104,166 words) to
# train.  TIME_LIMIT (default 50m) bounds each training run; MODELS
# (default "attention none") says which rows to train; EXTRA passes further
# options to every `recur seq2seq train`.
set -euo pipefail
data=${1:-/work/shared/data/cmudict}
out=${2:-bench-out/seq2seq_cmudict}
recur=${RECUR:-build/recur}
limit=${TIME_LIMIT:-50m}
models=${MODELS:-"attention none"}
mkdir -p "$out"

# the fixed split: word index (first appearance order) % 40 == 0 -> dev
awk -F'\t' -v dev="$out/dev.tsv" -v train="$out/train.tsv" '
    !($1 in idx) { idx[$1] = n++ }
    { if (idx[$1] % 40 == 0) print > dev; else print > train }' "$data/g014b2b.train"
echo "split: $(cut -f1 "$out/train.tsv" | sort -u | wc -l) train words ($(wc -l < "$out/train.tsv") pronunciations), $(cut -f1 "$out/dev.tsv" | sort -u | wc -l) dev words"

common=(--source-level char --target-level word --cell lstm --embed 128 --hidden 256
        --encoder-layers 1 --decoder-layers 1 --bidirectional --dropout 0.2 --label-smoothing 0.1
        --batch 64 --optim adam --lr 0.002 --clip 5 --epochs 30 --early-stop 4
        --schedule plateau --decay 0.5 --patience 1 --progress log --log-every 500
        --time-limit "$limit")

for m in $models; do
    case $m in
        attention) opts=(--attention general) ;;
        feeding) opts=(--attention general --input-feeding) ;;
        none) opts=(--attention none) ;;
        *) echo "unknown model $m" >&2; exit 2 ;;
    esac
    if [ ! -f "$out/$m/best.safetensors" ] || [ -n "${RETRAIN:-}" ]; then
        nice -n 5 "$recur" seq2seq train "${common[@]}" "${opts[@]}" ${EXTRA:-} --out "$out/$m" --force \
            "$out/train.tsv" "$out/dev.tsv" > "$out/$m.train.log" 2>&1 || { tail "$out/$m.train.log"; exit 1; }
    fi
done

printf '\n| model | decoding | test WER %% | test phoneme error %% | dev WER %% | n-best oracle %% | words/s |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
for m in $models; do
    for beam in 1 5; do
        t=$(nice -n 5 "$recur" seq2seq eval --beam $beam --nbest $beam "$out/$m/best.safetensors" "$data/g014b2b.ref")
        d=$(nice -n 5 "$recur" seq2seq eval --beam $beam "$out/$m/best.safetensors" "$out/dev.tsv")
        wer=$(sed -n 's/^WER *\([0-9.]*\)%.*/\1/p' <<< "$t")
        per=$(sed -n 's/^token error *\([0-9.]*\)%.*/\1/p' <<< "$t")
        orc=$(sed -n 's/^oracle *\([0-9.]*\)%.*/\1/p' <<< "$t")
        sps=$(sed -n 's/^speed .*, \([0-9]*\) sources.*/\1/p' <<< "$t")
        dwer=$(sed -n 's/^WER *\([0-9.]*\)%.*/\1/p' <<< "$d")
        name=$m; [ "$m" = attention ] && name="bi-LSTM + general attention"; [ "$m" = none ] && name="bi-LSTM, no attention"
        [ "$m" = feeding ] && name="bi-LSTM + general attention + input feeding"
        dec=greedy; [ $beam -gt 1 ] && dec="beam $beam"
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$dec" "$wer" "$per" "$dwer" "$orc" "$sps"
    done
done
