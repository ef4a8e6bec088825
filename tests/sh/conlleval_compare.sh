#!/usr/bin/env bash
# `recur tag eval` against the CoNLL shared task's own conlleval script
# (version 2004-01-26, Perl), on random files that mix every prefix
# (B I E S O and conlleval's [ ] .), type changes, hyphenated types,
# sentence breaks, -X- boundary lines and -DOCSTART- lines: the reports must
# be byte for byte the same.  The script is not part of recur: set
# CONLLEVAL=/path/to/conlleval.pl to run this check (skipped otherwise).
set -euo pipefail
build=${1:-build}
if [ -z "${CONLLEVAL:-}" ] || [ ! -f "$CONLLEVAL" ]; then
    echo "conlleval_compare: skipped (set CONLLEVAL to the path of conlleval.pl)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for seed in $(seq 1 40); do
    python3 - "$seed" > "$tmp/f.txt" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
prefixes = ["B", "I", "E", "S", "O", "O", "O", "[", "]", "."] if r.random() < 0.3 else \
           ["B", "I", "O", "O"] if r.random() < 0.5 else ["B", "I", "E", "S", "O", "O"]
types = ["PER", "LOC", "ORG", "MISC-X", ""]
def tag():
    p = r.choice(prefixes)
    if p == "O":
        return "O"
    t = r.choice(types)
    return p + ("-" + t if t or r.random() < 0.5 else "")
for s in range(r.randint(1, 30)):
    if r.random() < 0.1:
        print("-DOCSTART- -X- O O")
        print()
    for i in range(r.randint(1, 12)):
        word = "-X-" if r.random() < 0.03 else "w%d" % r.randint(0, 9)
        g = tag()
        p = g if r.random() < 0.6 else tag()
        print(word, "NN", g, p)
    if r.random() < 0.9:
        print()
PY
    perl "$CONLLEVAL" < "$tmp/f.txt" > "$tmp/perl.out"
    "$build/recur" tag eval "$tmp/f.txt" > "$tmp/recur.out"
    if ! cmp -s "$tmp/perl.out" "$tmp/recur.out"; then
        echo "conlleval_compare: seed $seed differs:" >&2
        diff "$tmp/perl.out" "$tmp/recur.out" >&2 || true
        exit 1
    fi
done
echo "conlleval_compare: 40 random files scored exactly as conlleval.pl scores them"
