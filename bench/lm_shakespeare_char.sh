#!/usr/bin/env bash
# bench/lm_shakespeare_char.sh - a character model of tiny-shakespeare in one
# hour: the first 90% of input.txt (1,003,854 characters) for training, the
# last 10% for validation; `--preset char-rnn` (2x512 LSTM, embedding 64,
# dropout 0.25, Adam lr 0.002, bptt 100, batch 32, mean loss, clip 5) with the
# decay brought forward to suit one hour, stopped by --time-limit 1h.
# Reports validation nats and bits per character.  Target: <= 1.46 nats/char,
# aim < 1.40.
#
# usage: bench/lm_shakespeare_char.sh [--quick]  (--quick: 2 minutes; TIME=1h,
#        HIDDEN=512, LAYERS=2, DROPOUT=0.25, EPOCHS=100, THREADS=2,
#        PRECISION=fp32|bf16, DATA, RECUR, OUT)
source "$(dirname "$0")/lm_lib.sh"
data=$(find_data tinyshakespeare input.txt)
input=$data/input.txt
n=$(wc -c < "$input")
ntrain=$(( n * 9 / 10 ))
head -c "$ntrain" "$input" > "$out/train.txt"
tail -c +"$(( ntrain + 1 ))" "$input" > "$out/valid.txt"
limit=${TIME:-1h}
if [ $quick = 1 ]; then limit=${TIME:-2m}; fi
hidden=${HIDDEN:-512} layers=${LAYERS:-2} dropout=${DROPOUT:-0.25}
start=$(date +%s)
"$recur" lm train "$out/train.txt" "$out/valid.txt" --preset char-rnn --hidden "$hidden" \
    --layers "$layers" --dropout "$dropout" --decay 0.9 --decay-start 4 --epochs "${EPOCHS:-100}" --time-limit "$limit" \
    --valid-streams 32 \
    --out "$out/run" --force --progress log --threads "${THREADS:-2}" --precision "$precision" \
    > "$out/summary.txt" 2> "$out/log.txt"
secs=$(( $(date +%s) - start ))
nats=$(nats_of "$out/summary.txt" valid)
printf '\n%-36s %7s %9s %11s %11s\n' "tiny-shakespeare char, $limit" epochs minutes "valid nats" "valid bits"
printf '%-36s %7s %9s %11s %11s\n' "recur ${layers}x$hidden LSTM, dropout $dropout, $precision" \
    "$(epochs_of "$out/run/metrics.jsonl")" "$(awk "BEGIN{printf \"%.1f\", $secs/60}")" \
    "$nats" "$(awk "BEGIN{printf \"%.4f\", $nats/log(2)}")"
printf '%-36s %7s %9s %11s %11s\n' "target" - 60 "<= 1.46" "<= 2.106"
if [ $quick = 1 ]; then echo "(--quick: 2 minutes: a check of the script, not a result)"; fi
