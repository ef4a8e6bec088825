#!/usr/bin/env bash
# `recur classify` end to end on tiny made-up data (run by `make check`, also
# under SAN=1): train -> predict -> eval in both input formats, the outputs'
# shapes, and bad input refused with the file and line and a non-zero exit.
set -euo pipefail
build=${1:-build}
recur=$build/recur
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "classify_cli: $*" >&2; exit 1; }

# sentiment that a word decides: "good"/"great" positive, "bad"/"awful" negative
gen() { # N SEED
    awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed);
        split("the film was a plot and story acting it", filler, " ");
        split("good great", pos, " "); split("bad awful", neg, " ");
        for (i = 0; i < n; i++) {
            y = i % 2; len = 2 + int(rand() * 6); k = int(rand() * len); s = "";
            for (j = 0; j < len; j++) {
                w = j == k ? (y ? pos[1 + int(rand() * 2)] : neg[1 + int(rand() * 2)]) : filler[1 + int(rand() * 9)];
                s = s (j ? " " : "") w;
            }
            print (y ? "pos" : "neg") "\t" s;
        } }'
}
gen 400 1 > "$tmp/train.tsv"
gen 60 2 > "$tmp/dev.tsv"
gen 60 3 > "$tmp/test.tsv"

"$recur" classify train "$tmp/train.tsv" "$tmp/dev.tsv" "$tmp/test.tsv" --embed 16 --hidden 12 \
    --pool attention --epochs 6 --batch 16 --lr 0.01 --dropout 0 --dropout-embed 0 --threads 1 \
    --progress none --out "$tmp/run" > "$tmp/train.out" || fail "training failed"
grep -q '^dev .*accuracy' "$tmp/train.out" || fail "no dev score: $(cat "$tmp/train.out")"
acc=$(sed -n 's/^test .*accuracy \([0-9.]*\)%.*/\1/p' "$tmp/train.out")
awk -v a="$acc" 'BEGIN { exit !(a >= 90) }' || fail "test accuracy $acc% < 90% on separable data"
model=$tmp/run/best.safetensors

# resume: the stored files and settings, more epochs; a changed model setting is refused
"$recur" classify train --resume --out "$tmp/run" --epochs 7 --progress none > "$tmp/resume.out" 2> "$tmp/resume.err" ||
    fail "resume failed: $(cat "$tmp/resume.err")"
grep -q '^test .*accuracy' "$tmp/resume.out" || fail "the resumed run did not score the stored test file"
if "$recur" classify train --resume --out "$tmp/run" --hidden 13 --progress none > /dev/null 2> "$tmp/resume.err"; then
    fail "resume accepted another --hidden"
fi
grep -q -- "--hidden" "$tmp/resume.err" || fail "resume refusal: $(cat "$tmp/resume.err")"

# predict: a header, then label and probabilities per line; from stdin too
printf 'the film was good\nit was awful\n' > "$tmp/in.txt"
"$recur" classify predict "$model" "$tmp/in.txt" > "$tmp/pred.tsv"
[ "$(head -1 "$tmp/pred.tsv")" = "$(printf 'label\tneg\tpos')" ] || fail "predict header: $(head -1 "$tmp/pred.tsv")"
[ "$(sed -n 2p "$tmp/pred.tsv" | cut -f1)" = pos ] || fail "'the film was good' not pos"
[ "$(sed -n 3p "$tmp/pred.tsv" | cut -f1)" = neg ] || fail "'it was awful' not neg"
awk -F'\t' 'NR > 1 { s = $2 + $3; if (s < 0.9999 || s > 1.0001) exit 1 }' "$tmp/pred.tsv" || fail "probabilities do not sum to 1"
cat "$tmp/in.txt" | "$recur" classify predict "$model" --json --explain > "$tmp/pred.jsonl"
[ "$(wc -l < "$tmp/pred.jsonl")" -eq 2 ] || fail "JSON Lines: $(cat "$tmp/pred.jsonl")"
grep -q '^{"label":"pos","probs":{"neg":[0-9.e-]*,"pos":[0-9.e-]*},"attention":\[\["the",' "$tmp/pred.jsonl" ||
    fail "JSON line: $(head -1 "$tmp/pred.jsonl")"

# eval: accuracy, per-class figures, macro-F1, confusion matrix
"$recur" classify eval "$model" "$tmp/test.tsv" > "$tmp/eval.txt"
for what in '^accuracy ' '^macro-F1 ' '^neg  *[0-9.]* ' '^pos  *[0-9.]* ' '^confusion'; do
    grep -q "$what" "$tmp/eval.txt" || fail "eval lacks $what: $(cat "$tmp/eval.txt")"
done
"$recur" classify eval "$model" "$tmp/test.tsv" --json | grep -q '"confusion":\[\[' || fail "eval --json"

# bad input: the file and line, a non-zero exit
expect_fail() { # WHAT PATTERN CMD...
    local what=$1 pat=$2; shift 2
    if "$@" > "$tmp/out" 2> "$tmp/err"; then fail "$what: accepted"; fi
    grep -q "$pat" "$tmp/err" || fail "$what: message '$(cat "$tmp/err")' lacks '$pat'"
}
printf 'pos\tgood\nmaybe\tso so\n' > "$tmp/unknown.tsv"
expect_fail "unknown label" "unknown.tsv:2: label 'maybe'" "$recur" classify eval "$model" "$tmp/unknown.tsv"
printf 'pos\tgood\nneg bad\n' > "$tmp/notab.tsv"
expect_fail "no tab" "notab.tsv:2: no tab" "$recur" classify train "$tmp/notab.tsv" "$tmp/dev.tsv" --out "$tmp/bad" --progress none
[ ! -e "$tmp/bad" ] || fail "a refused run left $tmp/bad"
printf 'good film\n\nbad\n' > "$tmp/empty.txt"
expect_fail "empty line" "empty.txt:2: empty line" "$recur" classify predict "$model" "$tmp/empty.txt"
printf '(3 (2 a) (3 good)\n' > "$tmp/bad.sst"
expect_fail "unbalanced" "bad.sst:1: unbalanced parentheses" "$recur" classify train "$tmp/bad.sst" "$tmp/bad.sst" --format sst --out "$tmp/bad" --progress none
printf '(3 (2 a) (3 good))\n(2 (x a) (3 good))\n' > "$tmp/bad2.sst"
expect_fail "label" "bad2.sst:2:5: label 'x' is not a number" "$recur" classify train "$tmp/bad2.sst" "$tmp/bad2.sst" --format sst --out "$tmp/bad" --progress none

# SST trees: 2 classes from the trees' labels, phrases, max pooling, unidirectional GRU
awk -F'\t' '{ n = split($2, w, " "); s = ""; lab = $1 == "pos" ? 4 : 0;
    for (i = 1; i <= n; i++) { l = (w[i] ~ /good|great/) ? 4 : (w[i] ~ /bad|awful/) ? 0 : 2; s = s " (" l " " w[i] ")" }
    print "(" lab s ")" }' "$tmp/train.tsv" > "$tmp/train.sst"
awk -F'\t' '{ n = split($2, w, " "); s = ""; lab = $1 == "pos" ? 3 : 1;
    for (i = 1; i <= n; i++) s = s " (2 " w[i] ")"; print "(" lab s ")" }' "$tmp/dev.tsv" > "$tmp/dev.sst"
echo "(2 (2 neutral) (2 words))" >> "$tmp/dev.sst"
"$recur" classify train "$tmp/train.sst" "$tmp/dev.sst" --format sst --classes 2 --phrases --lower \
    --cell gru --no-bidirectional --pool max --embed 16 --hidden 12 --epochs 3 --lr 0.01 --threads 1 \
    --progress none --out "$tmp/sst" > "$tmp/sst.out" || fail "SST training failed"
grep -q '^dev .*: 60 sentences' "$tmp/sst.out" || fail "SST dev (neutral root dropped): $(cat "$tmp/sst.out")"
"$recur" classify eval "$tmp/sst/best.safetensors" "$tmp/dev.sst" | grep -q '^negative ' || fail "SST eval labels"
expect_fail "--explain" "needs a model with attention" "$recur" classify predict "$tmp/sst/best.safetensors" --explain "$tmp/in.txt"
echo "classify_cli: train, predict, eval and bad input checked"
