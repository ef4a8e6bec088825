#!/usr/bin/env bash
# `recur tag` end to end on a tiny made-up CoNLL file: train -> predict
# (CoNLL file, plain text, standard input) -> eval (FILE and --gold/--pred),
# the tagger file's task check, and malformed inputs: a message naming the
# file and line, a non-zero exit, nothing written.
set -euo pipefail
build=${1:-build}
recur=$build/recur
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "tag_cli: $*" >&2; exit 1; }

python3 - "$tmp" <<'PY'
import random, sys
r = random.Random(5)
people = ["John", "Mary", "Peter", "Anna"]
places = ["Paris", "Berlin", "Rome", "Oslo"]
verbs = ["visited", "left", "saw", "liked"]
def sentence():
    p, v, q = r.choice(people), r.choice(verbs), r.choice(places)
    rows = [(p, "NNP", "I-PER")]
    if r.random() < 0.5:
        rows.append(("Smith", "NNP", "I-PER"))
    rows += [(v, "VBD", "O"), (q, "NNP", "I-LOC"), (".", ".", "O")]
    return rows
for name, n in (("train", 120), ("dev", 20)):
    with open(f"{sys.argv[1]}/{name}.txt", "w") as f:
        f.write("-DOCSTART- -X- O\n\n")
        for _ in range(n):
            for w, pos, ne in sentence():
                f.write(f"{w} {pos} {ne}\n")
            f.write("\n")
PY

"$recur" tag train "$tmp/train.txt" "$tmp/dev.txt" "$tmp/dev.txt" --out "$tmp/run" --epochs 8 \
    --optim adam --lr 0.01 --batch 8 --hidden 16 --word-dim 16 --char-hidden 8 --char-dim 8 \
    --caps-dim 4 --progress none > "$tmp/train.out"
grep -q "^test  F1" "$tmp/train.out" || fail "no test score: $(cat "$tmp/train.out")"
f1=$(sed -n 's/^test  F1 \([0-9.]*\).*/\1/p' "$tmp/train.out")
awk -v f="$f1" 'BEGIN { exit !(f >= 90) }' || fail "test F1 $f1 < 90 on a trivial task"
[ -f "$tmp/run/best.safetensors" ] || fail "no best.safetensors"

# a run stopped inside an epoch resumes bit for bit
small=(--epochs 3 --batch 8 --hidden 8 --word-dim 8 --char-hidden 4 --char-dim 4 --caps-dim 2 --progress none)
"$recur" tag train "$tmp/train.txt" "$tmp/dev.txt" --out "$tmp/whole" "${small[@]}" > /dev/null
"$recur" tag train "$tmp/train.txt" "$tmp/dev.txt" --out "$tmp/parts" "${small[@]}" --max-steps 20 > /dev/null
"$recur" tag train --out "$tmp/parts" --resume --progress none > /dev/null
cmp -s "$tmp/whole/best.safetensors" "$tmp/parts/best.safetensors" || fail "a resumed run differs"

# pretrained vectors: found as written, lower-cased or digit-normalised;
# dev words the file covers ("Zurich") join the vocabulary
printf 'Lena NNP I-PER\nvisited VBD O\nZurich NNP I-LOC\n. . O\n\n' >> "$tmp/dev.txt"
{ echo "4 3"; echo "Paris 0.1 0.2 0.3"; echo "zurich 0.3 0.2 0.1"; echo "visited 1 2 3"; echo "unseen 1 1 1"; } > "$tmp/emb.txt"
"$recur" tag train "$tmp/train.txt" "$tmp/dev.txt" --out "$tmp/run_emb" --epochs 1 --embeddings "$tmp/emb.txt" \
    --hidden 8 --char-hidden 0 --progress log > /dev/null 2> "$tmp/emb.log"
grep -q "vocabulary 16 words (3 pretrained)" "$tmp/emb.log" || fail "embeddings: $(grep vocabulary "$tmp/emb.log")"
# the same words in word2vec's binary format (1.0f is 00 00 80 3f)
one='\000\000\200\077'
{ printf '4 3\n'; for w in Paris zurich visited unseen; do printf "%s $one$one$one\n" "$w"; done; } > "$tmp/emb.bin"
"$recur" tag train "$tmp/train.txt" "$tmp/dev.txt" --out "$tmp/run_emb_bin" --epochs 1 --embeddings "$tmp/emb.bin" \
    --hidden 8 --char-hidden 0 --progress log > /dev/null 2> "$tmp/emb.log"
grep -q "vocabulary 16 words (3 pretrained)" "$tmp/emb.log" || fail "binary embeddings: $(grep vocabulary "$tmp/emb.log")"
printf 'Paris 0.1 0.2 0.3\nRome 0.1 x 0.3\n' > "$tmp/emb.txt"
if "$recur" tag train "$tmp/train.txt" "$tmp/dev.txt" --out "$tmp/run_emb2" --embeddings "$tmp/emb.txt" \
    --progress none > /dev/null 2> "$tmp/err"; then fail "a malformed vector file was accepted"; fi
grep -q "emb.txt:2: 'x' is not a number" "$tmp/err" || fail "embeddings error: $(cat "$tmp/err")"
[ ! -e "$tmp/run_emb2" ] || fail "wrote a run for a malformed vector file"

# predict a CoNLL file: the tag as a new last column, structure kept
"$recur" tag predict "$tmp/run/best.safetensors" "$tmp/dev.txt" > "$tmp/pred.txt"
[ "$(wc -l < "$tmp/pred.txt")" = "$(wc -l < "$tmp/dev.txt")" ] || fail "predict changed the line count"
head -1 "$tmp/pred.txt" | grep -qx -- "-DOCSTART- -X- O O" || fail "-DOCSTART- not passed through"
awk 'NF && NF != 4 { exit 1 }' "$tmp/pred.txt" || fail "a predicted line without 4 columns"
"$recur" tag eval "$tmp/pred.txt" > "$tmp/eval1.txt"
grep -q "^processed" "$tmp/eval1.txt" || fail "eval printed no report"
"$recur" tag eval --gold "$tmp/dev.txt" --pred "$tmp/pred.txt" > "$tmp/eval2.txt"
cmp -s "$tmp/eval1.txt" "$tmp/eval2.txt" || fail "eval FILE and --gold/--pred differ"
# the same F1 as the trainer's final score on the same file (less -DOCSTART-)
f1_eval=$(sed -n 's/.*FB1: *\([0-9.]*\)$/\1/p' "$tmp/eval1.txt" | head -1)
[ "$f1_eval" = "$(printf '%.2f' "$f1")" ] || fail "eval F1 $f1_eval, train's $f1"

# plain text from standard input: word/TAG
printf 'John Smith visited Paris .\nMary left Oslo .\n' |
    "$recur" tag predict "$tmp/run/best.safetensors" - > "$tmp/text.out"
[ "$(wc -l < "$tmp/text.out")" = 2 ] || fail "text: $(cat "$tmp/text.out")"
grep -q "^John/I-PER Smith/I-PER visited/O Paris/I-LOC ./O$" "$tmp/text.out" ||
    fail "text output: $(cat "$tmp/text.out")"

# a model of another task is refused by name
"$recur" tag predict "$tmp/dev.txt" "$tmp/dev.txt" 2> "$tmp/err" > /dev/null && fail "a text file loaded as a model"

# malformed training files: file and line named, nothing written
bad_run() {
    local want=$1
    shift
    rm -rf "$tmp/bad"
    if "$recur" tag train "$tmp/bad.txt" "$tmp/dev.txt" --out "$tmp/bad" --epochs 1 --progress none "$@" \
        > /dev/null 2> "$tmp/err"; then fail "accepted a bad file ($want)"; fi
    grep -q -- "$want" "$tmp/err" || fail "message '$(cat "$tmp/err")' lacks '$want'"
    [ ! -e "$tmp/bad" ] || fail "wrote $tmp/bad for a bad input"
}
printf 'a NN O\nb NN\n' > "$tmp/bad.txt"
bad_run "bad.txt:2: 2 columns where the file's first line has 3"
printf 'a B-X\nb E-X\n' > "$tmp/bad.txt"
bad_run "bad.txt:2: the tag 'E-X' is not a tag of iob2" --scheme iob2
: > "$tmp/bad.txt"
bad_run "bad.txt"
awk 'BEGIN { for (i = 0; i < 10000; i++) print "w O" }' > "$tmp/bad.txt"
bad_run "bad.txt:1001: the sentence from line 1 is longer than 1000 tokens"
printf 'a O\n' > "$tmp/bad.txt"
printf 'a O\nb\n' > "$tmp/bad_pred.txt"
if "$recur" tag eval --gold "$tmp/bad.txt" --pred "$tmp/bad_pred.txt" > /dev/null 2> "$tmp/err"; then
    fail "eval accepted files of different lengths"
fi
grep -q "ends at line 2" "$tmp/err" || fail "eval: $(cat "$tmp/err")"
echo "tag_cli: train -> predict -> eval on a made-up file (test F1 $f1), malformed inputs refused"
