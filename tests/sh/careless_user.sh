#!/usr/bin/env bash
# recur tried as a careless user would (run by `make check`).  Where its
# results go: an output that is a device, a FIFO or a folder is refused and
# left as it was; a symbolic link is written through (the link stays, the
# file it names gets the model); temporaries of a killed writer are removed
# by the next write of that file; a file-size limit (ulimit -f) is a
# reported error with no temporary left, not a silent SIGXFSZ; standard
# output that cannot be written (/dev/full) and a metrics file that cannot
# be written fail the command.  (And ngram's --memory at the top of its
# range works: the sort buffers grow only as the counts need.)
set -uo pipefail
build=${1:-build}
recur=$build/recur
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "careless_user: $*" >&2; exit 1; }

# a small corpus: 400 lines of 20 words over a 50-word vocabulary
awk 'BEGIN { srand(7); for (i = 0; i < 400; i++) { s = ""; for (j = 0; j < 20; j++) s = s " w" int(rand() * 50); print substr(s, 2) } }' \
    > "$tmp/train.txt"
head -40 "$tmp/train.txt" > "$tmp/valid.txt"

# a FIFO and a folder are refused, and stay what they were
mkfifo "$tmp/fifo"
out=$("$recur" ngram train -q --discount-fallback --order 2 "$tmp/train.txt" -o "$tmp/fifo" 2>&1) && fail "writing to a FIFO succeeded"
grep -q "not a regular file (a FIFO)" <<<"$out" || fail "FIFO: unexpected message: $out"
[ -p "$tmp/fifo" ] || fail "the FIFO was replaced"
mkdir "$tmp/folder"
out=$("$recur" ngram train -q --discount-fallback --order 2 "$tmp/train.txt" -o "$tmp/folder" 2>&1) && fail "writing to a folder succeeded"
grep -q "not a regular file (a folder)" <<<"$out" || fail "folder: unexpected message: $out"
# a device (/dev/null is one for every user)
out=$("$recur" ngram train -q --discount-fallback --order 2 "$tmp/train.txt" -o /dev/null 2>&1) && fail "writing to /dev/null succeeded"
grep -q "not a regular file (a device" <<<"$out" || fail "device: unexpected message: $out"
[ -c /dev/null ] || fail "/dev/null is no longer a device"

# a symbolic link is written through
mkdir "$tmp/real"
ln -s real/model.arpa "$tmp/link.arpa"
"$recur" ngram train -q --discount-fallback --order 2 "$tmp/train.txt" -o "$tmp/link.arpa" || fail "writing through a symlink failed"
[ -L "$tmp/link.arpa" ] || fail "the symlink was replaced by a file"
grep -q '^\\data\\' "$tmp/real/model.arpa" || fail "the symlink's target holds no ARPA model"
# a dangling one is refused
ln -s missing/model.arpa "$tmp/dangling.arpa"
out=$("$recur" ngram train -q --discount-fallback --order 2 "$tmp/train.txt" -o "$tmp/dangling.arpa" 2>&1) && fail "a dangling symlink was written"
grep -q "symbolic link to a missing folder" <<<"$out" || fail "dangling: unexpected message: $out"

# temporaries of a writer that no longer runs are removed; a live one's stay
dead=$(sh -c 'echo $$')
live=$$
echo partial > "$tmp/m.arpa.tmp.$dead.AbCdEf"
echo partial > "$tmp/m.arpa.tmp.$live.GhIjKl"
"$recur" ngram train -q --discount-fallback --order 2 "$tmp/train.txt" -o "$tmp/m.arpa" || fail "training failed"
[ -e "$tmp/m.arpa.tmp.$dead.AbCdEf" ] && fail "a dead writer's temporary file was left"
[ -e "$tmp/m.arpa.tmp.$live.GhIjKl" ] || fail "a live writer's temporary file was removed"
rm -f "$tmp/m.arpa.tmp.$live.GhIjKl"

# ulimit -f: an error naming the file, exit status 1 (not 153), the old model intact, no temporary
cp "$tmp/m.arpa" "$tmp/m.before"
out=$( (ulimit -f 8; "$recur" ngram train -q --discount-fallback --order 3 "$tmp/train.txt" -o "$tmp/m.arpa") 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "under ulimit -f the exit status is $rc, expected 1: $out"
grep -q "File too large" <<<"$out" || fail "ulimit -f: unexpected message: $out"
cmp -s "$tmp/m.arpa" "$tmp/m.before" || fail "ulimit -f: the previous model was changed"
case " $(ls "$tmp" | tr '\n' ' ')" in *.tmp.*) fail "ulimit -f: a temporary file was left: $(ls "$tmp")" ;; esac

# standard output on a full device
out=$("$recur" ngram eval "$tmp/m.arpa" "$tmp/valid.txt" 2>&1 > /dev/full) && fail "ngram eval > /dev/full exited 0"
grep -q "cannot write the standard output" <<<"$out" || fail "/dev/full: unexpected message: $out"

# a metrics file that cannot be written stops training with a message
out=$("$recur" lm train "$tmp/train.txt" "$tmp/valid.txt" --out "$tmp/run" --hidden 8 --embed 8 --epochs 1 \
      --batch 4 --bptt 10 --metrics /dev/full --progress none 2>&1) && fail "training with --metrics /dev/full exited 0"
grep -q "cannot write the metrics file" <<<"$out" || fail "metrics: unexpected message: $out"
# a small model: lm eval's JSON names a file whose name is not UTF-8, and
# its results on a full standard output are an error
"$recur" lm train "$tmp/train.txt" "$tmp/valid.txt" --out "$tmp/lm" --hidden 8 --embed 8 --epochs 1 \
    --batch 4 --bptt 10 --progress none > /dev/null 2>&1 || fail "training a tiny model failed"
bad=$(printf '%s/caf\xe9.txt' "$tmp")
cp "$tmp/valid.txt" "$bad"
line=$("$recur" lm eval --json "$tmp/lm/best.safetensors" "$bad") || fail "lm eval --json on a non-UTF-8 name failed"
/usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["file"].endswith("caf\\xE9.txt"), d' "$line" ||
    fail "lm eval --json: unexpected line: $line"
out=$("$recur" lm eval "$tmp/lm/best.safetensors" "$tmp/valid.txt" 2>&1 > /dev/full) && fail "lm eval > /dev/full exited 0"
grep -q "cannot write the standard output" <<<"$out" || fail "lm eval /dev/full: unexpected message: $out"

# what the readers accept is one rule for lm and ngram: no literal <eos>
# (the line end's token), valid UTF-8, no binary data (/dev/zero refused at
# once, not read until memory runs out)
printf 'a b c\nw1 <eos> w2\n' > "$tmp/eos.txt"
out=$("$recur" lm eval "$tmp/lm/best.safetensors" "$tmp/eos.txt" 2>&1) && fail "lm eval took a literal <eos>"
grep -q "line 2: the word <eos> is reserved" <<<"$out" || fail "lm <eos>: unexpected message: $out"
out=$("$recur" ngram eval "$tmp/m.arpa" "$tmp/eos.txt" 2>&1) && fail "ngram eval took a literal <eos>"
grep -q "line 2: the word '<eos>' is reserved" <<<"$out" || fail "ngram <eos>: unexpected message: $out"
printf 'w1 w2\nw3 caf\xe9 w4\n' > "$tmp/latin1.txt"
out=$("$recur" ngram train -q --order 2 --discount-fallback "$tmp/latin1.txt" -o "$tmp/l.arpa" 2>&1) &&
    fail "ngram train took invalid UTF-8"
grep -q "line 2: invalid UTF-8" <<<"$out" || fail "ngram UTF-8: unexpected message: $out"
out=$("$recur" lm eval "$tmp/lm/best.safetensors" "$tmp/latin1.txt" 2>&1) && fail "lm eval took invalid UTF-8"
grep -q "invalid UTF-8" <<<"$out" || fail "lm UTF-8: unexpected message: $out"
for cmd in "lm eval $tmp/lm/best.safetensors" "ngram eval $tmp/m.arpa"; do
    out=$(timeout 20 "$recur" $cmd /dev/zero 2>&1)
    rc=$?
    [ $rc -eq 1 ] || fail "$cmd /dev/zero: exit status $rc (124: still reading)"
    grep -q "NUL byte" <<<"$out" || fail "$cmd /dev/zero: unexpected message: $out"
done

# a large --memory inside the allowed range costs only what the counts need
"$recur" ngram train -q --discount-fallback --order 3 --memory 1000000 "$tmp/train.txt" -o "$tmp/big.arpa" ||
    fail "ngram train --memory 1000000 failed"
echo "careless_user: all cases passed"
