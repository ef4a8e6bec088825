#!/usr/bin/env bash
# bench/ngram_ptb.sh - interpolated modified Kneser-Ney 3-gram and 5-gram on
# Penn Treebank (Mikolov's ptb.{train,valid,test}.txt): trains each order with
# `recur ngram train`, evaluates valid and test with `recur ngram eval`, and
# prints perplexity next to the published figures (Mikolov 2012, Table 4.1:
# KN3 148.3, KN5 141.2, SRILM, no count cutoffs), with train time and peak
# memory from /usr/bin/time -v.  A third run trains the 5-gram with a 1 MiB
# sort budget to show the external sort at work: same model, more time.
#
# usage: bench/ngram_ptb.sh [PTB_DIR]      (default: ../shared/data/ptb, or
#        /work/shared/data/ptb; RECUR=path overrides the binary)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
data=${1:-}
if [ -z "$data" ]; then
    for d in "$root/../shared/data/ptb" /work/shared/data/ptb; do
        if [ -f "$d/ptb.train.txt" ]; then data=$d; break; fi
    done
fi
if [ -z "$data" ] || [ ! -f "$data/ptb.train.txt" ]; then
    echo "ngram_ptb.sh: no ptb.train.txt found (give the PTB directory as the argument)" >&2
    exit 2
fi
if [ ! -x /usr/bin/time ]; then
    echo "ngram_ptb.sh: /usr/bin/time is needed (apt-get install time)" >&2
    exit 2
fi
data=$(cd "$data" && pwd -P)
recur=${RECUR:-build/recur}
if [ -z "${RECUR:-}" ]; then
    make -s build/recur >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# seconds from /usr/bin/time's "h:mm:ss" or "m:ss.ss"
to_seconds() {
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }' <<<"$1"
}

ppl_of() { # eval output, file -> perplexity
    grep -F "$2: predicted" "$1" | sed 's/.*perplexity //'
}

declare -A published=([3]=148.3 [5]=141.2)
rows=()
# order:sort memory in MiB; the last row forces the external sort (hundreds
# of spilled runs, merge passes) and must give the same perplexities.
for cfg in 3:256 5:256 5:1; do
    n=${cfg%%:*}
    mem=${cfg##*:}
    arpa="$tmp/kn$n-$mem.arpa"
    /usr/bin/time -v "$recur" ngram train --order "$n" --memory "$mem" --tmpdir "$tmp" \
        "$data/ptb.train.txt" -o "$arpa" >"$tmp/train" 2>"$tmp/time"
    runs=$(sed -n 's/^sorted runs spilled to disk: //p' "$tmp/train")
    wall=$(to_seconds "$(grep 'Elapsed (wall clock)' "$tmp/time" | awk '{print $NF}')")
    rss_kb=$(grep 'Maximum resident set size' "$tmp/time" | awk '{print $NF}')
    "$recur" ngram eval "$arpa" "$data/ptb.valid.txt" "$data/ptb.test.txt" >"$tmp/eval"
    valid=$(ppl_of "$tmp/eval" "$data/ptb.valid.txt")
    test=$(ppl_of "$tmp/eval" "$data/ptb.test.txt")
    ngrams=$(sed -n 's/^ngram [0-9]*=//p' "$arpa" | awk '{ s += $1 } END { print s }')
    size_mb=$(awk -v b="$(stat -c %s "$arpa")" 'BEGIN { printf "%.1f", b / 1048576 }')
    diff=$(awk -v t="$test" -v p="${published[$n]}" 'BEGIN { printf "%+.2f%%", 100 * (t - p) / p }')
    rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.0f", k / 1024 }')
    rows+=("$(printf '| KN%d | %6s | %9s | %8s | %9s | %9s | %7s | %7s | %4s | %9s | %7s |' \
        "$n" "$mem" "$valid" "$test" "${published[$n]}" "$diff" "$wall" "$rss_mb" "${runs:-0}" \
        "$ngrams" "$size_mb")")
    rm -f "$arpa"
done

echo "PTB word level, interpolated modified Kneser-Ney, no cutoffs, <unk> an ordinary word"
echo "train: $data/ptb.train.txt; machine: $(nproc) cores, $(uname -m)"
echo
echo "| model | memory MiB | valid ppl | test ppl | published | test diff | train s | peak MB | runs | n-grams | ARPA MB |"
echo "|-------|-------:|----------:|---------:|----------:|----------:|--------:|--------:|-----:|--------:|--------:|"
printf '%s\n' "${rows[@]}"
