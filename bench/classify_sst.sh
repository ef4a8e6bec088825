#!/usr/bin/env bash
# Sentence classification on the Stanford Sentiment Treebank, no pretrained
# embeddings: SST-2 and SST-5 test accuracy of `recur classify train`, each
# run choosing its model by dev accuracy (early stopping), over several
# seeds, then their mean and spread; or (MODE=ablation) one row per pooling,
# uni- or bidirectional, with and without --phrases, each run on a fixed
# budget.
#
# usage: bench/classify_sst.sh                      # headline: SST-2 and SST-5, seeds 1 2 3
#        MODE=ablation bench/classify_sst.sh        # the table of docs/classify.md
# environment:
#   SST=../shared/data/sst   TASKS="2 5"   SEEDS="1 2 3"   THREADS=1
#   EPOCHS=12   EARLY_STOP=3   TIME_LIMIT=40m (per run; the best model so far is scored)
#   RECUR=build/recur (the program)   OPTS="..." (more options for every run)   OUT=/tmp/recur-classify-sst (run folders)
#   ABLATION_CLASSES=2   ABLATION_POOLS="last mean max attention"
#   ABLATION_PHRASES="--phrases --no-phrases"   ABLATION_DIRS="--bidirectional --no-bidirectional"
#   REUSE=1: a run whose OUT/NAME.out and NAME.log exist (a finished run with
#            the same options, e.g. one started by hand) is read, not rerun
#
# Published from random initialisation: Kim 2014 CNN-rand 82.7 / 45.0,
# RNTN 85.4 / 45.7 (Socher et al. 2013).
set -euo pipefail
cd "$(dirname "$0")/.."
SST=${SST:-../shared/data/sst}
TASKS=${TASKS:-2 5}
SEEDS=${SEEDS:-1 2 3}
THREADS=${THREADS:-1}
EPOCHS=${EPOCHS:-12}
EARLY_STOP=${EARLY_STOP:-3}
TIME_LIMIT=${TIME_LIMIT:-40m}
OPTS=${OPTS:-}
OUT=${OUT:-/tmp/recur-classify-sst}
MODE=${MODE:-headline}
recur=${RECUR:-build/recur}
[ -x "$recur" ] || { echo "classify_sst: run make first" >&2; exit 1; }
for f in train dev test; do
    [ -r "$SST/$f.txt" ] || { echo "classify_sst: $SST/$f.txt missing" >&2; exit 1; }
done
mkdir -p "$OUT"

# the model every headline run trains (options given in OPTS come later and win)
BASE="--format sst --embed 300 --hidden 150 --bidirectional --pool max --dropout 0.5 --dropout-embed 0.5
      --batch 32 --optim adam --lr 0.001 --clip 5"

# one run: NAME OPTIONS...; prints "dev test epochs seconds"
one_run() {
    local name=$1; shift
    local dir=$OUT/$name
    [ "${REUSE:-0}" = 1 ] && [ -s "$dir.out" ] && [ -s "$dir.log" ] ||
    nice -n 5 "$recur" classify train "$SST/train.txt" "$SST/dev.txt" "$SST/test.txt" $BASE "$@" $OPTS \
        --epochs "$EPOCHS" --early-stop "$EARLY_STOP" --time-limit "$TIME_LIMIT" --threads "$THREADS" \
        --progress log --log-every 1000 --out "$dir" --force > "$dir.out" 2> "$dir.log" ||
        { echo "classify_sst: run $name failed (see $dir.log)" >&2; exit 1; }
    local dev test secs epochs
    dev=$(sed -n 's/^dev .*accuracy \([0-9.]*\)%.*/\1/p' "$dir.out")
    test=$(sed -n 's/^test .*accuracy \([0-9.]*\)%.*/\1/p' "$dir.out")
    secs=$(sed -n 's/^time *\([0-9.]*\) s.*/\1/p' "$dir.out")
    epochs=$(grep -c '^epoch [0-9]* done' "$dir.log" || true)
    echo "$dev $test $epochs $secs"
}

mean_sd() { awk '{ s += $1; q += $1 * $1; n++ } END { m = s / n; v = n > 1 ? (q - n * m * m) / (n - 1) : 0;
                                                   printf "%.2f +- %.2f", m, sqrt(v > 0 ? v : 0) }'; }

if [ "$MODE" = headline ]; then
    printf '%-7s %5s %8s %8s %7s %9s\n' task seed "dev %" "test %" epochs "train s"
    summary=""
    for k in $TASKS; do
        rows=""
        for s in $SEEDS; do
            r=$(one_run "sst$k-seed$s" --classes "$k" --phrases --seed "$s")
            read -r dev test epochs secs <<< "$r"
            printf '%-7s %5s %8s %8s %7s %9s\n' "SST-$k" "$s" "$dev" "$test" "$epochs" "$secs"
            rows+="$dev $test $secs"$'\n'
        done
        summary+=$(printf '%-7s %-14s %-14s %8.0f' "SST-$k" \
            "$(printf '%s' "$rows" | awk 'NF { print $1 }' | mean_sd)" \
            "$(printf '%s' "$rows" | awk 'NF { print $2 }' | mean_sd)" \
            "$(printf '%s' "$rows" | awk 'NF { s += $3; n++ } END { print s / n }')")$'\n'
    done
    echo
    printf '%-7s %-14s %-14s %8s   (mean +- sample standard deviation over seeds %s)\n' task "dev %" "test %" "train s" "$SEEDS"
    printf '%s' "$summary"
else
    k=${ABLATION_CLASSES:-2}
    s=${SEEDS%% *}
    printf 'SST-%s, seed %s, at most %s epochs and %s per run\n' "$k" "$s" "$EPOCHS" \
        "$([ "$TIME_LIMIT" = 0 ] && echo "no time limit" || echo "$TIME_LIMIT")"
    printf '%-10s %-6s %-8s %8s %8s %7s %9s\n' pool reads phrases "dev %" "test %" epochs "train s"
    for phrases in ${ABLATION_PHRASES:---phrases --no-phrases}; do
        for dir in ${ABLATION_DIRS:---bidirectional --no-bidirectional}; do
            for pool in ${ABLATION_POOLS:-last mean max attention}; do
                name="ablation-sst$k-$pool${dir#--}${phrases#--}"
                r=$(one_run "$name" --classes "$k" --seed "$s" --pool "$pool" $dir $phrases)
                read -r dev test epochs secs <<< "$r"
                printf '%-10s %-6s %-8s %8s %8s %7s %9s\n' "$pool" "$([ "$dir" = --bidirectional ] && echo bi || echo uni)" \
                    "$([ "$phrases" = --phrases ] && echo yes || echo no)" "$dev" "$test" "$epochs" "$secs"
            done
        done
    done
fi
