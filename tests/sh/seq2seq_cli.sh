#!/usr/bin/env bash
# `recur seq2seq` end to end on tiny data: train -> decode -> eval, the
# outputs' formats, n-best with log-probabilities, standard input, resuming
# a run stopped by --max-steps, and bad input refused with file and line.
set -euo pipefail
build=${1:-build}
recur=$build/recur
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "seq2seq_cli: $*" >&2; exit 1; }

# a toy spelling-to-sound lexicon: letters to upper-case "phonemes", reversed
words="cab bad dab abc cad dac bac acd bca dcb abd bda cda adc dbca abcd badc cdab"
for w in $words; do
    printf '%s\t%s\n' "$w" "$(echo "$w" | rev | sed 's/./& /g; s/ $//' | tr a-d A-D)"
done > "$dir/train.tsv"
head -4 "$dir/train.tsv" > "$dir/dev.tsv"
printf 'cab\tB A C\tC A B\nddd\tD D D\n' > "$dir/test.tsv"

opts=(--hidden 16 --embed 8 --batch 4 --epochs 3 --progress none --seed 3 --attention additive)
"$recur" seq2seq train "${opts[@]}" --out "$dir/run" "$dir/train.tsv" "$dir/dev.tsv" "$dir/test.tsv" > "$dir/train.out"
grep -q '^test  .*test.tsv: 2 words, greedy: WER' "$dir/train.out" || { cat "$dir/train.out"; fail "no test line"; }
grep -q '^test  .*beam: WER' "$dir/train.out" || fail "no beam test line"
model=$dir/run/best.safetensors
[ -f "$model" ] || fail "no best model"

# decode: a ready dictionary, one line per source, in order, from a file and stdin
printf 'cab\nabcd\n\ndcba\n' > "$dir/in.txt"
"$recur" seq2seq decode "$model" "$dir/in.txt" > "$dir/out.tsv"
[ "$(wc -l < "$dir/out.tsv")" = 3 ] || fail "decode printed $(wc -l < "$dir/out.tsv") lines, not 3"
[ "$(cut -f1 "$dir/out.tsv" | tr '\n' ' ')" = "cab abcd dcba " ] || fail "sources out of order"
awk -F'\t' 'NF != 2 || $2 !~ /^[A-D<>a-z]+( [A-D<>a-z]+)*$|^$/ { exit 1 }' "$dir/out.tsv" || fail "bad output: $(cat "$dir/out.tsv")"
"$recur" seq2seq decode "$model" - < "$dir/in.txt" | cmp - "$dir/out.tsv" || fail "stdin differs from the file"
# n-best: N lines per source with a log-probability, best first
"$recur" seq2seq decode --beam 4 --nbest 3 "$model" "$dir/in.txt" > "$dir/nbest.tsv"
[ "$(wc -l < "$dir/nbest.tsv")" = 9 ] || fail "n-best printed $(wc -l < "$dir/nbest.tsv") lines, not 9"
awk -F'\t' 'NF != 3 || $3 > 0 { exit 1 }' "$dir/nbest.tsv" || fail "n-best lines lack log-probabilities"

# eval: the figures and the oracle
"$recur" seq2seq eval --beam 3 --nbest 3 "$model" "$dir/test.tsv" > "$dir/eval.out"
for k in '^WER ' '^token error ' '^oracle ' '2 sources, 3 references'; do
    grep -q "$k" "$dir/eval.out" || { cat "$dir/eval.out"; fail "eval lacks $k"; }
done

# resuming a run stopped after 3 steps goes on to the end
"$recur" seq2seq train "${opts[@]}" --out "$dir/r2" --max-steps 3 "$dir/train.tsv" "$dir/dev.tsv" > /dev/null 2>&1
[ -f "$dir/r2/last.safetensors" ] || fail "no last.safetensors after --max-steps"
"$recur" seq2seq train --resume --out "$dir/r2" --progress none > "$dir/resume.out" 2>&1 || { cat "$dir/resume.out"; fail "resume failed"; }
[ -f "$dir/r2/best.safetensors" ] || fail "the resumed run kept no model"
if "$recur" seq2seq train --resume --out "$dir/r2" --hidden 32 > /dev/null 2>&1; then fail "a resumed run took another --hidden"; fi

# bad input: file and line named, non-zero exit, nothing trained
expect_error() { # file, message
    if "$recur" seq2seq train "${opts[@]}" --out "$dir/bad" --force "$1" "$dir/dev.tsv" > /dev/null 2> "$dir/err"; then
        fail "$1 was accepted"
    fi
    grep -q "$2" "$dir/err" || fail "message '$(cat "$dir/err")' lacks '$2'"
    [ ! -e "$dir/bad/best.safetensors" ] || fail "a model was written for bad input"
}
printf 'cab\tB A C\nbad B A D\n' > "$dir/notab.tsv"
expect_error "$dir/notab.tsv" "notab.tsv:2: no tab"
printf 'cab\tB A C\n\tB A D\n' > "$dir/nosrc.tsv"
expect_error "$dir/nosrc.tsv" "nosrc.tsv:2: the source is empty"
printf 'cab\tB A C\nbad\t \n' > "$dir/notgt.tsv"
expect_error "$dir/notgt.tsv" "notgt.tsv:2: a target is empty"
printf 'cab\tB A C\nbad\tB A D\nb\xffd\tB D\n' > "$dir/utf8.tsv"
expect_error "$dir/utf8.tsv" "line 3"
printf 'ok\n\xff\n' > "$dir/badin.txt"
if "$recur" seq2seq decode "$model" "$dir/badin.txt" > /dev/null 2> "$dir/err"; then fail "bad decode input accepted"; fi
grep -q "badin.txt:2" "$dir/err" || fail "decode error lacks the line: $(cat "$dir/err")"
if "$recur" seq2seq eval "$dir/train.tsv" "$dir/test.tsv" > /dev/null 2>&1; then fail "eval took a text file as model"; fi
echo "seq2seq_cli: train, decode (file, stdin, n-best), eval, resume and bad input all behave"
