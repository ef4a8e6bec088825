#!/usr/bin/env bash
# bench/tag_conll.sh - BiLSTM(-CRF) taggers on CoNLL-2003 (dev eng.testa,
# test eng.testb), no pretrained embeddings, and three tables:
#   ner       the entity tagger (column 4, IOB1) as `recur tag train`'s
#             defaults build it: character BiLSTM 25+25, word embedding 100,
#             capitalisation embedding 10, BiLSTM 100+100, dropout 0.5, CRF,
#             SGD lr 0.015 momentum 0.9 decayed by 0.95 an epoch, clip 5,
#             batch 10, up to 50 epochs (early stopping after 10 without a
#             better dev F1) or TIME_LIMIT; next to the published figures
#             with random embeddings.
#   pos       the same tagger and budget on column 2: test accuracy, with
#             the default SGD and with Adam (lr 0.002), which converges
#             faster on the 45 part-of-speech labels.
#   ablation  ABL_EPOCHS epochs each (a budget this machine affords): the
#             headline model over SEEDS seeds (mean +- spread, half the
#             range), then softmax instead of the CRF, and each without the
#             character BiLSTM.
# Each row gives its training time on this machine (wall clock: runs made
# side by side on a shared machine take longer) and its epochs ("-": not
# run).  A run
# whose OUT/NAME/train.out holds final scores is reused, so runs may be
# made separately (in parallel) and the script re-run to print the tables.
#
# usage: bench/tag_conll.sh [--quick] [ner|pos|ablation ...]
#   env: DATA=conll2003 folder, RECUR=binary, OUT=folder (default
#   bench-out/tag_conll), THREADS=n (1), SEEDS=n (3), TIME_LIMIT (45m),
#   ABL_EPOCHS (6), PRINT_ONLY=1 (print the tables of the runs made, run
#   nothing).  --quick: 1,500 training sentences, 2 epochs (a check
#   of the script, not a result).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${DATA:-$root/../shared/data/conll2003}
recur=${RECUR:-$root/build/recur}
out=${OUT:-$root/bench-out/tag_conll}
threads=${THREADS:-1}
seeds=${SEEDS:-3}
limit=${TIME_LIMIT:-45m}
abl_epochs=${ABL_EPOCHS:-6}
quick=0
parts=()
for arg in "$@"; do
    case $arg in
        --quick) quick=1 ;;
        ner|pos|ablation) parts+=("$arg") ;;
        *) echo "usage: $0 [--quick] [ner|pos|ablation ...]" >&2; exit 2 ;;
    esac
done
[ ${#parts[@]} -gt 0 ] || parts=(ner pos ablation)
[ -f "$data/eng.train" ] || { echo "$0: no $data/eng.train (set DATA)" >&2; exit 1; }
[ -x "$recur" ] || { echo "$0: $recur missing: run make" >&2; exit 1; }
mkdir -p "$out"
train=$data/eng.train dev=$data/eng.testa test=$data/eng.testb
extra=()
if [ $quick = 1 ]; then
    awk 'BEGIN{n=0} {print} /^$/{if(++n>=1500) exit}' "$train" > "$out/train.quick"
    train=$out/train.quick
    extra=(--epochs 2)
    out=$out/quick
    mkdir -p "$out"
fi

# run NAME ARGS...: trains into OUT/NAME unless its train.out has scores
run() {
    local name=$1
    shift
    if grep -q "^test " "$out/$name/train.out" 2> /dev/null; then return 0; fi
    if [ "${PRINT_ONLY:-0}" = 1 ]; then return 0; fi
    mkdir -p "$out/$name"
    nice -n 5 "$recur" tag train "$train" "$dev" "$test" --out "$out/$name/run" --force \
        --progress log --log-every 100000 --threads "$threads" --time-limit "$limit" "$@" "${extra[@]}" \
        > "$out/$name/train.out" 2> "$out/$name/train.log"
}
# field NAME WHAT: a figure of a run's final scores
field() {
    local f=$out/$1/train.out
    if [ ! -f "$f" ]; then echo "-"; return; fi
    case $2 in
        devf1) sed -n 's/^dev   F1 \([0-9.]*\).*/\1/p' "$f" ;;
        testf1) sed -n 's/^test  F1 \([0-9.]*\).*/\1/p' "$f" ;;
        devacc) sed -n 's/^dev .*accuracy \([0-9.]*\)%.*/\1/p' "$f" ;;
        testacc) sed -n 's/^test .*accuracy \([0-9.]*\)%.*/\1/p' "$f" ;;
        minutes) sed -n 's/^time  \([0-9.]*\) s.*/\1/p' "$f" | awk '{printf "%.1f", $1 / 60}' ;;
        epochs) grep -c '"type":"epoch"' "$out/$1/run/metrics.jsonl" 2> /dev/null || echo "-" ;;
    esac
}
row() { printf '%-34s %7s %8s %8s %8s\n' "$@"; }

for part in "${parts[@]}"; do
    case $part in
    ner)
        run ner-crf-chars-s1 --tag-column 4 --seed 1
        echo
        row "NER (CoNLL-2003 eng.testb)" epochs minutes "dev F1" "test F1"
        row "recur BiLSTM-CRF+chars+caps" "$(field ner-crf-chars-s1 epochs)" \
            "$(field ner-crf-chars-s1 minutes)" "$(field ner-crf-chars-s1 devf1)" "$(field ner-crf-chars-s1 testf1)"
        row "Ma & Hovy 2016 (random emb.)" - - - 80.76
        row "Collobert et al. 2011 (random)" - - - 81.47
        row "Lample et al. 2016 (random, chars)" - - - 83.63
        row "Huang et al. 2015 (spelling feats)" - - - 84.26
        ;;
    pos)
        run pos-crf-chars-s1 --tag-column 2 --seed 1
        run pos-crf-chars-adam-s1 --tag-column 2 --seed 1 --optim adam --lr 0.002
        echo
        row "POS (CoNLL-2003 column 2)" epochs minutes "dev acc" "test acc"
        for n in pos-crf-chars-s1:"BiLSTM-CRF+chars+caps, SGD" pos-crf-chars-adam-s1:"BiLSTM-CRF+chars+caps, Adam"; do
            name=${n%%:*}
            row "${n#*:}" "$(field $name epochs)" "$(field $name minutes)" "$(field $name devacc)" \
                "$(field $name testacc)"
        done
        ;;
    ablation)
        a=(--tag-column 4 --epochs "$abl_epochs")
        for s in $(seq 1 "$seeds"); do run "abl-crf-chars-s$s" "${a[@]}" --seed "$s"; done
        run abl-softmax-chars-s1 "${a[@]}" --seed 1 --output softmax
        run abl-crf-nochars-s1 "${a[@]}" --seed 1 --char-hidden 0
        run abl-softmax-nochars-s1 "${a[@]}" --seed 1 --output softmax --char-hidden 0
        echo
        row "NER ablation, $abl_epochs epochs each" epochs minutes "dev F1" "test F1"
        list=()
        for s in $(seq 1 "$seeds"); do
            n=abl-crf-chars-s$s
            row "CRF + chars + caps, seed $s" "$(field $n epochs)" "$(field $n minutes)" "$(field $n devf1)" \
                "$(field $n testf1)"
            list+=("$(field $n testf1)")
        done
        printf '%s\n' "${list[@]}" | awk '{s += $1; if (NR == 1 || $1 < lo) lo = $1; if (NR == 1 || $1 > hi) hi = $1}
            END {printf "%-34s %7s %8s %8s %8s\n", "  mean +- spread (" NR " seeds)", "", "", "",
                 sprintf("%.2f+-%.2f", s / NR, (hi - lo) / 2)}'
        for n in abl-softmax-chars-s1:"softmax + chars + caps" abl-crf-nochars-s1:"CRF + caps, no chars" \
                 abl-softmax-nochars-s1:"softmax + caps, no chars"; do
            name=${n%%:*}
            row "${n#*:}" "$(field $name epochs)" "$(field $name minutes)" "$(field $name devf1)" "$(field $name testf1)"
        done
        ;;
    esac
done
if [ $quick = 1 ]; then echo "(--quick: 1,500 training sentences, 2 epochs: a check of the script, not a result)"; fi
