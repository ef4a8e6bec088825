#!/usr/bin/env bash
# bench/lm_rescore_ptb.sh - n-best rescoring on Penn Treebank: every test
# sentence gets a 10-best list of itself and 9 corruptions (3 with two
# neighbouring words swapped, 3 with a word replaced by one of the 20 most
# frequent training words, 3 with a word dropped; all different, the
# original at a random place, uniform recogniser scores), and `recur lm
# rescore --best` picks one per sentence.  The table gives how often the
# original comes first, and which corruption won otherwise, for the RNN
# model, the KN5 model (`--interpolate KN5 --lambda 0`), their mixture
# (lambda 0.5), and the RNN and the KN5 model with the weight and word bonus
# chosen by `--tune` on 10-best lists made the same way from the first 1,000
# validation sentences (TUNE_LINES=n to change).
#
# usage: bench/lm_rescore_ptb.sh MODEL.safetensors KN5.arpa
#        (DATA=ptb folder, RECUR=binary, LINES=n: the first n test sentences,
#        THREADS=n (default 2), SEED=s (default 1))
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?usage: bench/lm_rescore_ptb.sh MODEL.safetensors KN5.arpa}
kn5=${2:?usage: bench/lm_rescore_ptb.sh MODEL.safetensors KN5.arpa}
data=${DATA:-}
if [ -z "$data" ]; then
    for d in "$root/../shared/data/ptb" /work/shared/data/ptb; do
        if [ -f "$d/ptb.test.txt" ]; then data=$d; break; fi
    done
fi
[ -f "$data/ptb.test.txt" ] || { echo "lm_rescore_ptb.sh: no PTB folder (set DATA)" >&2; exit 2; }
recur=${RECUR:-$root/build/recur}
[ -n "${RECUR:-}" ] || make -s -C "$root" build/recur >&2
threads=${THREADS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# nbest.py TRAIN TEXT LINES SEED OUT_PREFIX: OUT.nbest (id, 0, text),
# OUT.kind (id, kind, text) and OUT.ref (id, original)
cat > "$tmp/nbest.py" <<'PY'
import collections, random, sys
train, text, lines, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
counts = collections.Counter(w for line in open(train, encoding="utf-8") for w in line.split())
frequent = [w for w, _ in counts.most_common(20)]
rng = random.Random(seed)
kept = skipped = 0
with open(out + ".nbest", "w") as nb, open(out + ".kind", "w") as kd, open(out + ".ref", "w") as rf:
    for i, line in enumerate(open(text, encoding="utf-8")):
        if lines and i >= lines:
            break
        words = line.split()
        hyps = {" ".join(words): "original"}
        for kind in ["swap", "replace", "drop"]:
            made = 0
            for _ in range(200):
                if made == 3 or len(words) < 2:
                    break
                w = list(words)
                if kind == "swap":
                    j = rng.randrange(len(w) - 1)
                    w[j], w[j + 1] = w[j + 1], w[j]
                elif kind == "replace":
                    j = rng.randrange(len(w))
                    w[j] = rng.choice([f for f in frequent if f != w[j]])
                else:
                    del w[rng.randrange(len(w))]
                h = " ".join(w)
                if h not in hyps:
                    hyps[h] = kind
                    made += 1
        if len(hyps) < 10:  # too short for 9 different corruptions
            skipped += 1
            continue
        kept += 1
        items = list(hyps.items())
        rng.shuffle(items)
        uid = "s%d" % (i + 1)
        for h, kind in items:
            nb.write("%s\t0\t%s\n" % (uid, h))
            kd.write("%s\t%s\t%s\n" % (uid, kind, h))
        rf.write("%s\t%s\n" % (uid, " ".join(words)))
print(kept, skipped)
PY
read -r kept skipped < <(/usr/bin/python3 "$tmp/nbest.py" "$data/ptb.train.txt" "$data/ptb.test.txt" \
    "${LINES:-0}" "${SEED:-1}" "$tmp/test")
read -r vkept _ < <(/usr/bin/python3 "$tmp/nbest.py" "$data/ptb.train.txt" "$data/ptb.valid.txt" "${TUNE_LINES:-1000}" \
    "$(( ${SEED:-1} + 1 ))" "$tmp/valid")

# row LABEL OPTIONS...: rescore the test lists, count what came first
row() {
    local label=$1; shift
    local start=$SECONDS
    "$recur" lm rescore "$model" "$tmp/test.nbest" --best --threads "$threads" "$@" > "$tmp/best.txt"
    local secs=$(( SECONDS - start ))
    awk -F'\t' -v label="$label" -v secs="$secs" '
        FILENAME == ARGV[1] { kind[$1 "\t" $3] = $2; next }
        { k = kind[$1 "\t" $3]; n++; c[k]++ }
        END { printf "| %-34s | %6d | %7.1f%% | %6.1f%% | %6.1f%% | %6.1f%% | %5d |\n", label, n,
              100 * c["original"] / n, 100 * c["swap"] / n, 100 * c["replace"] / n, 100 * c["drop"] / n, secs }' \
        "$tmp/test.kind" "$tmp/best.txt"
}

# tune NAME OPTIONS...: W and B by --tune on the validation lists
tune() {
    local name=$1; shift
    "$recur" lm rescore "$model" "$tmp/valid.nbest" --tune "$tmp/valid.ref" --best --threads "$threads" "$@" \
        > /dev/null 2> "$tmp/tune_$name.txt"
    sed -n 's/.*weight \([-0-9.]*\), length bonus \([-0-9.]*\):.*/\1 \2/p' "$tmp/tune_$name.txt"
}
read -r weight bonus < <(tune rnn)
read -r kweight kbonus < <(tune kn5 --interpolate "$kn5" --lambda 0)

echo "PTB test, 10-best lists by corruption: $kept sentences ($skipped too short for 9 different corruptions)"
echo "model: $model; n-gram: $kn5; uniform recogniser scores"
echo
echo "| ranking | lists | original first | swap first | replace first | drop first | seconds |"
echo "|---------|------:|---------------:|-----------:|--------------:|-----------:|--------:|"
row "RNN (LM log-probability)"
row "KN5 (--interpolate, --lambda 0)" --interpolate "$kn5" --lambda 0
row "RNN + KN5 (--lambda 0.5)" --interpolate "$kn5" --lambda 0.5
row "RNN, weight $weight, bonus $bonus" --weight "$weight" --length-bonus "$bonus"
row "KN5, weight $kweight, bonus $kbonus" --interpolate "$kn5" --lambda 0 --weight "$kweight" --length-bonus "$kbonus"
echo
echo "weight and word bonus tuned by --tune on $vkept validation lists:"
echo "  RNN: $(sed 's/^recur lm rescore: tuned on [^ ]* //' "$tmp/tune_rnn.txt")"
echo "  KN5: $(sed 's/^recur lm rescore: tuned on [^ ]* //' "$tmp/tune_kn5.txt")"
