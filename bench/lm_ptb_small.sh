#!/usr/bin/env bash
# bench/lm_ptb_small.sh - Zaremba et al. (2014) "small" word model on Penn
# Treebank (2x200 LSTM, no dropout, bptt 20, batch 20, SGD lr 1 halved each
# epoch after 4, 13 epochs, init +-0.1, clip 5: `--preset zaremba-small`), and
# the validation and test perplexity of the best epoch next to the paper's
# 120.7 / 114.5 and PyTorch's word_language_model on this machine (118.3 /
# 113.2 in 42 minutes).  Target: test <= 115 in well under PyTorch's time.
#
# usage: bench/lm_ptb_small.sh [--quick]   (--quick: 4,000 training lines, one
#        epoch, to check the script; DATA=ptb folder, RECUR=binary, OUT=folder,
#        THREADS=n (default 2), PRECISION=fp32|bf16)
source "$(dirname "$0")/lm_lib.sh"
data=$(find_data ptb ptb.train.txt)
train=$data/ptb.train.txt valid=$data/ptb.valid.txt test=$data/ptb.test.txt
extra=()
if [ $quick = 1 ]; then
    head -n 4000 "$train" > "$out/train.quick.txt"
    head -n 400 "$valid" > "$out/valid.quick.txt"
    head -n 400 "$test" > "$out/test.quick.txt"
    train=$out/train.quick.txt valid=$out/valid.quick.txt test=$out/test.quick.txt
    extra=(--epochs 1)
fi
start=$(date +%s)
"$recur" lm train "$train" "$valid" "$test" --preset zaremba-small --out "$out/run" --force \
    --progress log --threads "${THREADS:-2}" --precision "$precision" "${extra[@]}" > "$out/summary.txt" 2> "$out/log.txt"
secs=$(( $(date +%s) - start ))
printf '\n%-34s %7s %9s %9s %9s\n' "PTB word, zaremba-small" epochs minutes "valid ppl" "test ppl"
printf '%-34s %7s %9s %9s %9s\n' "recur ($(basename "$recur"), ${OPENBLAS_CORETYPE:-auto}), $precision" \
    "$(epochs_of "$out/run/metrics.jsonl")" "$(awk "BEGIN{printf \"%.1f\", $secs/60}")" \
    "$(ppl_of "$out/summary.txt" valid)" "$(ppl_of "$out/summary.txt" test)"
printf '%-34s %7s %9s %9s %9s\n' "Zaremba et al. 2014 (paper)" 13 - 120.7 114.5
printf '%-34s %7s %9s %9s %9s\n' "PyTorch word_language_model, here" 13 42 118.3 113.2
if [ $quick = 1 ]; then echo "(--quick: 4,000 training lines, one epoch: a check of the script, not a result)"; fi
