#!/usr/bin/env bash
# bench/lm_ptb_best.sh - the best Penn Treebank word model recur trains within
# two hours here: a 2x400 LSTM with tied input and output embeddings (Press &
# Wolf 2017) and Zaremba's dropout 0.5, bptt 35, SGD lr 1 decayed by 0.7 each
# epoch after 6, 16 epochs, clip 5, stopped by --time-limit 2h if not done (the
# model as it is then competes for best).  Target: test perplexity <= 95.
#
# usage: bench/lm_ptb_best.sh [--quick]   (--quick: 4,000 training lines, 3
#        minutes; TIME=2h, HIDDEN=400, EPOCHS=16, DECAY=0.7,
#        DECAY_START=6, THREADS=2, PRECISION=fp32|bf16, DATA, RECUR, OUT)
source "$(dirname "$0")/lm_lib.sh"
data=$(find_data ptb ptb.train.txt)
train=$data/ptb.train.txt valid=$data/ptb.valid.txt test=$data/ptb.test.txt
limit=${TIME:-2h}
if [ $quick = 1 ]; then
    head -n 4000 "$train" > "$out/train.quick.txt"
    head -n 400 "$valid" > "$out/valid.quick.txt"
    head -n 400 "$test" > "$out/test.quick.txt"
    train=$out/train.quick.txt valid=$out/valid.quick.txt test=$out/test.quick.txt
    limit=${TIME:-3m}
fi
hidden=${HIDDEN:-400}
start=$(date +%s)
"$recur" lm train "$train" "$valid" "$test" --preset zaremba-medium --hidden "$hidden" --tied \
    --dropout 0.5 --init-scale 0.05 --bptt 35 --batch 20 --lr 1 --decay "${DECAY:-0.7}" --decay-start "${DECAY_START:-6}" \
    --clip 5 --epochs "${EPOCHS:-16}" --valid-streams 20 --time-limit "$limit" --out "$out/run" --force --progress log \
    --threads "${THREADS:-2}" --precision "$precision" > "$out/summary.txt" 2> "$out/log.txt"
secs=$(( $(date +%s) - start ))
printf '\n%-40s %7s %9s %9s %9s\n' "PTB word, best within $limit" epochs minutes "valid ppl" "test ppl"
printf '%-40s %7s %9s %9s %9s\n' "recur 2x$hidden LSTM, tied, dropout 0.5, $precision" \
    "$(epochs_of "$out/run/metrics.jsonl")" "$(awk "BEGIN{printf \"%.1f\", $secs/60}")" \
    "$(ppl_of "$out/summary.txt" valid)" "$(ppl_of "$out/summary.txt" test)"
printf '%-40s %7s %9s %9s %9s\n' "target" - 120 - "<= 95"
printf '%-40s %7s %9s %9s %9s\n' "Zaremba medium 2x650 (paper, 39 epochs)" 39 - 86.2 82.7
if [ $quick = 1 ]; then echo "(--quick: 4,000 training lines, 3 minutes: a check of the script, not a result)"; fi
