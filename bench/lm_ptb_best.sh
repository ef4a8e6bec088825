#!/usr/bin/env bash
# bench/lm_ptb_best.sh - the best Penn Treebank word model recur trains within
# two hours here: an LSTM with tied input and output embeddings (Press & Wolf
# 2017) and Zaremba's dropout 0.5, init +-0.05, bptt 35, SGD lr 1 decayed each
# epoch after the 6th, clip 5, stopped by --time-limit 2h if not done (the
# model as it is then competes for best).  On a CPU with AMX, bfloat16 products
# make room for Zaremba's medium size: 2x650, 32 epochs, decay 0.83; elsewhere
# 2x400 in float32, 16 epochs, decay 0.7.  Target: test perplexity <= 95; aim
# at Zaremba's medium model, 82.7 (39 epochs, untied).
#
# usage: bench/lm_ptb_best.sh [--quick]   (--quick: 4,000 training lines, 3
#        minutes; TIME=2h, HIDDEN, EPOCHS, DECAY, DECAY_START=6, THREADS=2,
#        PRECISION=fp32|bf16 (defaults as above), DATA, RECUR, OUT)
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
if [ -z "${PRECISION:-}" ] && grep -qw amx_bf16 /proc/cpuinfo; then
    precision=bf16 hidden=${HIDDEN:-650} epochs=${EPOCHS:-32} decay=${DECAY:-0.83}
else
    hidden=${HIDDEN:-400} epochs=${EPOCHS:-16} decay=${DECAY:-0.7}
fi
start=$(date +%s)
"$recur" lm train "$train" "$valid" "$test" --preset zaremba-medium --hidden "$hidden" --tied \
    --dropout 0.5 --init-scale 0.05 --bptt 35 --batch 20 --lr 1 --decay "$decay" --decay-start "${DECAY_START:-6}" \
    --clip 5 --epochs "$epochs" --valid-streams 20 --time-limit "$limit" --out "$out/run" --force --progress log \
    --threads "${THREADS:-2}" --precision "$precision" > "$out/summary.txt" 2> "$out/log.txt"
secs=$(( $(date +%s) - start ))
printf '\n%-40s %7s %9s %9s %9s\n' "PTB word, best within $limit" epochs minutes "valid ppl" "test ppl"
printf '%-40s %7s %9s %9s %9s\n' "recur 2x$hidden LSTM, tied, dropout 0.5, $precision" \
    "$(epochs_of "$out/run/metrics.jsonl")" "$(awk "BEGIN{printf \"%.1f\", $secs/60}")" \
    "$(ppl_of "$out/summary.txt" valid)" "$(ppl_of "$out/summary.txt" test)"
printf '%-40s %7s %9s %9s %9s\n' "target" - 120 - "<= 95"
printf '%-40s %7s %9s %9s %9s\n' "Zaremba medium 2x650 (paper, 39 epochs)" 39 - 86.2 82.7
if [ $quick = 1 ]; then echo "(--quick: 4,000 training lines, 3 minutes: a check of the script, not a result)"; fi
