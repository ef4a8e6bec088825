#!/usr/bin/env bash
# tests/cli_lm_score.sh - `recur lm score` and `recur lm rescore` end to end,
# one case per call (run by tests/test_cli_score.c, so also under SAN=1):
#
#   usage: bash tests/cli_lm_score.sh RECUR_BINARY WORK_DIR CASE
#
# WORK_DIR is shared by the cases: the first that needs them trains a tiny
# word model, a tiny character model and a 3-gram there.
set -euo pipefail
recur=$1 dir=$2 case=$3
cd "$dir"
fail() { echo "cli_lm_score.sh $case: $*" >&2; exit 1; }
# runs a command that must fail with exit status WANT (a sanitizer's report
# exits 99, so it cannot pass for the expected error)
expect_rc() {
    local want=$1 rc=0; shift
    "$@" || rc=$?
    [ "$rc" = "$want" ] || fail "$* exited $rc, want $want: $(cat err.txt 2>/dev/null)"
}

# |a - b| <= tol * max(1, |b|)
close() {
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b;
        if (m < 1) m = 1; exit !(d <= t * m) }'
}

corpus() { # LINES SEED: sentences of a small grammar
    awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed);
        split("the cat|a dog|the bird|my friend|the old man", s, "|");
        split("sat on|looked at|ran to|walked past", v, "|");
        split("the mat|a tree|the house|the red car|a small garden", o, "|");
        for (i = 0; i < n; i++) print s[int(rand() * 5) + 1], v[int(rand() * 4) + 1], o[int(rand() * 5) + 1] }'
}

models() {
    [ -f word.safetensors ] && [ -f char.safetensors ] && [ -f kn3.arpa ] && return 0
    corpus 400 1 > train.txt
    corpus 40 2 > valid.txt
    "$recur" lm train train.txt valid.txt --layers 1 --hidden 24 --embed 16 --epochs 3 --bptt 10 --batch 8 \
        --lr 1 --decay-start 10 --out wrun --progress none --force > /dev/null
    cp wrun/best.safetensors word.safetensors
    "$recur" lm train train.txt valid.txt --level char --layers 1 --hidden 24 --embed 16 --epochs 1 --bptt 20 \
        --batch 8 --out crun --progress none --force > /dev/null
    cp crun/best.safetensors char.safetensors
    "$recur" ngram train --order 3 --discount-fallback train.txt -o kn3.arpa > /dev/null
}

# lines of very different lengths, an empty one and an unknown word
test_text() {
    echo "the cat sat on the mat"
    echo "dog"
    awk 'BEGIN { for (i = 0; i < 60; i++) printf "the old man walked past a small garden "; print "" }'
    echo ""
    echo "a zebra ran to the house"
    awk 'BEGIN { for (i = 0; i < 7; i++) printf "my friend looked at the red car "; print "" }'
    printf 'the bird ran to a tree'  # no final newline
}

case $case in
eval_agreement)
    # each line's score is `recur lm eval` of the line as a file; batched,
    # one at a time and in any batch size the same, in input order
    models
    test_text > text.txt
    n=$(awk 'END { print NR }' text.txt)
    "$recur" lm score word.safetensors text.txt --summary > score.txt 2> summary.txt
    "$recur" lm score word.safetensors --batch 1 < text.txt > score1.txt
    "$recur" lm score word.safetensors --batch 3 - < text.txt > score3.txt
    [ "$(awk 'END { print NR }' score.txt)" = "$n" ] || fail "$(cat score.txt) lines for $n"
    sum=0 tokens=0
    for i in $(seq 1 "$n"); do
        sed -n "${i}p" text.txt > one.txt
        [ -s one.txt ] || echo > one.txt # an empty line: the file holds its newline
        "$recur" lm eval --json word.safetensors one.txt > one.json
        nll=$(sed 's/.*"nll":\([^,]*\),.*/\1/' one.json)
        pred=$(sed 's/.*"predicted":\([0-9]*\),.*/\1/' one.json)
        read -r lp tok ppl < <(sed -n "${i}p" score.txt)
        read -r lp1 tok1 _ < <(sed -n "${i}p" score1.txt)
        read -r lp3 _ _ < <(sed -n "${i}p" score3.txt)
        close "$lp" "-$nll" 1e-5 || fail "line $i: score $lp, eval -$nll"
        [ "$tok" = "$pred" ] || fail "line $i: $tok tokens, eval predicted $pred"
        close "$lp1" "$lp" 1e-5 || fail "line $i: one at a time $lp1, batched $lp"
        close "$lp3" "$lp" 1e-5 || fail "line $i: batch 3 $lp3, batch 64 $lp"
        [ "$tok1" = "$tok" ] || fail "line $i: token counts differ one at a time"
        close "$ppl" "$(awk -v l="$lp" -v t="$tok" 'BEGIN { printf "%.9g", exp(-l / t) }')" 1e-3 ||
            fail "line $i: perplexity $ppl"
        sum=$(awk -v s="$sum" -v l="$lp" 'BEGIN { printf "%.9f", s + l }')
        tokens=$((tokens + tok))
    done
    # the file's totals: the sum of the lines, <eos> counted per line as eval counts it
    "$recur" lm eval --json word.safetensors text.txt > all.json
    all_tokens=$(sed 's/.*"predicted":\([0-9]*\),.*/\1/' all.json)
    [ "$tokens" = "$all_tokens" ] || fail "lines predict $tokens tokens, eval of the file $all_tokens"
    grep -q "$n lines, $tokens tokens, 1 oov" summary.txt || fail "summary: $(cat summary.txt)"
    total=$(sed 's/.*logprob \([^ ]*\) .*/\1/' summary.txt)
    close "$total" "$sum" 1e-6 || fail "summary total $total, sum of lines $sum"
    # log10 is ln / ln 10
    "$recur" lm score word.safetensors text.txt --log10 > score10.txt
    paste score.txt score10.txt | awk '{ if ((($1 / log(10)) - $4) ^ 2 > 1e-10) exit 1 }' || fail "--log10"
    ;;
json)
    models
    test_text > text.txt
    "$recur" lm score --json word.safetensors text.txt > s.jsonl
    "$recur" lm score word.safetensors text.txt > s.txt
    [ "$(grep -c '^{"line":' s.jsonl)" = 7 ] || fail "$(cat s.jsonl)"
    for i in 1 2 3 4 5 6 7; do
        grep -q "^{\"line\":$i," <(sed -n "${i}p" s.jsonl) || fail "line $i out of order: $(sed -n "${i}p" s.jsonl)"
        jl=$(sed -n "${i}p" s.jsonl | sed 's/.*"logprob":\([^,]*\),.*/\1/')
        read -r lp _ < <(sed -n "${i}p" s.txt)
        close "$jl" "$lp" 1e-6 || fail "json $jl, text $lp"
    done
    grep -q '"line":5,.*"oov":1' s.jsonl || fail "the unknown word: $(sed -n 5p s.jsonl)"
    ;;
char_model)
    # character level: the newline before the line is the context, every
    # character and the final newline are predicted
    models
    printf 'the cat\n\nmy friend ran to the red car\n' > ctext.txt
    "$recur" lm score char.safetensors ctext.txt > cs.txt
    for i in 1 2 3; do
        { echo; sed -n "${i}p" ctext.txt; } > one.txt
        "$recur" lm eval --json char.safetensors one.txt > one.json
        nll=$(sed 's/.*"nll":\([^,]*\),.*/\1/' one.json)
        pred=$(sed 's/.*"predicted":\([0-9]*\),.*/\1/' one.json)
        read -r lp tok _ < <(sed -n "${i}p" cs.txt)
        close "$lp" "-$nll" 1e-5 || fail "line $i: score $lp, eval -$nll"
        [ "$tok" = "$pred" ] || fail "line $i: $tok tokens, eval $pred"
    done
    [ "$(awk 'NR == 2 { print $2 }' cs.txt)" = 1 ] || fail "an empty line predicts its newline: $(cat cs.txt)"
    ;;
interpolate)
    # lambda 0 is the n-gram model alone: its lines sum to `recur ngram eval`;
    # lambda 1 is the RNN alone
    models
    test_text | grep -v zebra > text.txt # the 3-gram has no <unk>: an unknown word has probability 0
    "$recur" lm score word.safetensors text.txt --interpolate kn3.arpa --lambda 0 --log10 > ng.txt
    "$recur" lm score word.safetensors text.txt --interpolate kn3.arpa --lambda 1 > rnn1.txt
    "$recur" lm score word.safetensors text.txt > rnn.txt
    "$recur" lm score word.safetensors text.txt --interpolate kn3.arpa --json --lambda 0.3 > mix.jsonl
    "$recur" ngram eval --sentences kn3.arpa text.txt > ngeval.txt
    want=$("$recur" ngram eval kn3.arpa text.txt | sed -n 's/.*log10 prob \([^,]*\),.*/\1/p')
    got=$(awk '{ s += $1 } END { printf "%.6f", s }' ng.txt)
    close "$got" "$want" 1e-5 || fail "n-gram lines sum to $got, ngram eval $want"
    paste rnn.txt rnn1.txt | awk '{ if (($1 - $4) ^ 2 > 1e-12) exit 1 }' || fail "lambda 1 is not the RNN"
    # log(0.3 e^a + 0.7 e^b) >= 0.3 a + 0.7 b for every token (concavity), so a
    # line's mixture is at least 0.3 rnn + 0.7 ngram
    awk -F'[:,]' '{ for (i = 1; i < NF; i++) { if ($i == "\"logprob\"") l = $(i + 1); if ($i == "\"rnn_logprob\"") r = $(i + 1);
        if ($i == "\"ngram_logprob\"") g = $(i + 1) }
        if (l < 0.3 * r + 0.7 * g - 1e-6 || l >= 0) bad = 1 } END { exit bad }' mix.jsonl ||
        fail "a mixture below 0.3 rnn + 0.7 ngram: $(cat mix.jsonl)"
    # and it is the RNN's own at lambda 1 and the n-gram's at 0 (JSON fields)
    grep -q '"rnn_logprob":null' <("$recur" lm score word.safetensors text.txt --interpolate kn3.arpa --json --lambda 0) ||
        fail "lambda 0 ran the RNN"
    expect_rc 2 "$recur" lm score char.safetensors text.txt --interpolate kn3.arpa 2> err.txt
    grep -q "needs a word model" err.txt || fail "$(cat err.txt)"
    ;;
streaming)
    # a line typed into a pipe is answered before the next one is written
    models
    rm -f in.fifo
    mkfifo in.fifo
    "$recur" lm score word.safetensors < in.fifo > stream.txt &
    pid=$!
    exec 7> in.fifo
    echo "the cat sat on the mat" >&7
    for _ in $(seq 1 600); do [ -s stream.txt ] && break; sleep 0.1; done
    [ "$(awk 'END { print NR }' stream.txt)" = 1 ] || { exec 7>&-; wait $pid; fail "no answer before the next line"; }
    echo "a dog" >&7
    exec 7>&-
    wait $pid || fail "exit status $?"
    [ "$(awk 'END { print NR }' stream.txt)" = 2 ] || fail "$(cat stream.txt)"
    ;;
bad_input)
    models
    printf 'the cat\nca\xc3t\n' > badutf.txt
    expect_rc 1 "$recur" lm score word.safetensors badutf.txt > out.txt 2> err.txt
    grep -q "badutf.txt:2: invalid UTF-8 at column 3" err.txt || fail "$(cat err.txt)"
    [ "$(awk 'END { print NR }' out.txt)" = 1 ] || fail "the line before the bad one is not answered"
    expect_rc 1 "$recur" lm score word.safetensors missing.txt 2> err.txt
    grep -q "missing.txt: cannot open" err.txt || fail "$(cat err.txt)"
    expect_rc 2 "$recur" lm score word.safetensors text.txt --lambda 0.5 2> err.txt
    grep -q "needs --interpolate" err.txt || fail "$(cat err.txt)"
    ;;
rescore_known)
    # totals are score + W * LM + B * words with the LM of `recur lm score`,
    # each id's hypotheses best first, ids in order of first appearance
    models
    printf 'u2\t-1.5\tthe cat sat on the mat\nu1\t0\tmat the on sat cat the\nu2\t0\tcat the\nu1\t0\tthe cat sat on the mat\nu1\t-0.25\tthe cat sat on mat\nu3\t2\t\n' > nb.txt
    cut -f3 nb.txt > texts.txt
    "$recur" lm score word.safetensors texts.txt > lm.txt
    "$recur" lm rescore word.safetensors nb.txt --weight 0.7 --length-bonus 0.4 > out.txt
    paste nb.txt lm.txt | awk -F'\t' '{ n = split($3, w, " "); printf "%s\t%.6f\t%s\n", $1, $2 + 0.7 * $4 + 0.4 * n, $3 }' \
        > want_unsorted.txt
    # ids in order of first appearance (u2, u1, u3), best first inside
    { for id in u2 u1 u3; do awk -F'\t' -v id="$id" '$1 == id' want_unsorted.txt | sort -t"$(printf '\t')" -k2,2gr; done; } > want.txt
    awk -F'\t' '{ print $1, $3 }' out.txt > got_ids.txt
    awk -F'\t' '{ print $1, $3 }' want.txt > want_ids.txt
    cmp -s got_ids.txt want_ids.txt || fail "order: $(cat out.txt) want $(cat want.txt)"
    paste out.txt want.txt | awk -F'\t' '{ d = $2 - $5; if (d * d > 1e-8) exit 1 }' || fail "totals $(cat out.txt)"
    # uniform scores: the model trained on this grammar prefers the sentence to its scramble
    "$recur" lm rescore word.safetensors nb.txt --best > best.txt
    [ "$(sed -n 2p best.txt | cut -f3)" = "the cat sat on the mat" ] || fail "best of u1: $(cat best.txt)"
    [ "$(awk 'END { print NR }' best.txt)" = 3 ] || fail "--best: $(cat best.txt)"
    # weight 0: the recogniser's order
    "$recur" lm rescore word.safetensors nb.txt --weight 0 --best | cut -f3 > w0.txt
    [ "$(sed -n 1p w0.txt)" = "cat the" ] || fail "weight 0: $(cat w0.txt)"
    "$recur" lm rescore word.safetensors nb.txt --json > out.jsonl
    grep -q '^{"id":"u2","rank":1,' out.jsonl || fail "$(head -1 out.jsonl)"
    ;;
tune)
    # a toy list where the error is smallest exactly for 2 < W < 3: in u1 the
    # reference is the hypothesis the LM prefers, and the recogniser prefers
    # the other by 2 x the LM difference (the reference wins for W > 2); in u2
    # the reference is the one the LM dislikes, ahead by 3 x the difference
    # (it wins for W < 3).  Hypotheses of an id have the same words, so the
    # length bonus changes nothing.
    models
    printf 'the cat sat on the mat\nmat the on sat cat the\na dog ran to a tree\na dog ran to tree a\n' > pair.txt
    "$recur" lm score word.safetensors pair.txt | cut -f1 > pair_lm.txt
    read -r l1 l2 l3 l4 < <(paste -sd' ' pair_lm.txt)
    awk -v a="$l1" -v b="$l2" -v c="$l3" -v d="$l4" 'BEGIN {
        # u1: hi = the one with the higher LM score (the reference)
        if (a >= b) { hi = "the cat sat on the mat"; lo = "mat the on sat cat the"; dd = a - b }
        else { hi = "mat the on sat cat the"; lo = "the cat sat on the mat"; dd = b - a }
        printf "u1\t0\t%s\nu1\t%.9f\t%s\n", hi, 2 * dd, lo > "tune_nb.txt"; printf "u1\t%s\n", hi > "tune_ref.txt"
        if (c >= d) { hi = "a dog ran to a tree"; lo = "a dog ran to tree a"; dd = c - d }
        else { hi = "a dog ran to tree a"; lo = "a dog ran to a tree"; dd = d - c }
        printf "u2\t0\t%s\nu2\t%.9f\t%s\n", hi, 3 * dd, lo >> "tune_nb.txt"; printf "u2\t%s\n", lo >> "tune_ref.txt" }'
    "$recur" lm rescore word.safetensors tune_nb.txt --tune tune_ref.txt --best > tuned.txt 2> tune_err.txt
    w=$(sed -n 's/.*weight \([0-9.]*\),.*/\1/p' tune_err.txt)
    awk -v w="$w" 'BEGIN { exit !(w > 2 && w < 3) }' || fail "tuned weight $w: $(cat tune_err.txt)"
    grep -q "WER 0.00%" tune_err.txt || fail "$(cat tune_err.txt)"
    cut -f1,3 tuned.txt | cmp -s - tune_ref.txt || fail "top hypotheses $(cat tuned.txt)"
    # from any start the same interval
    "$recur" lm rescore word.safetensors tune_nb.txt --tune tune_ref.txt --weight 50 --best > /dev/null 2> tune_err2.txt
    w=$(sed -n 's/.*weight \([0-9.]*\),.*/\1/p' tune_err2.txt)
    awk -v w="$w" 'BEGIN { exit !(w > 2 && w < 3) }' || fail "tuned weight from 50: $(cat tune_err2.txt)"
    ;;
malformed)
    models
    check_bad() { # FILE MESSAGE [OPTIONS...]
        local f=$1 msg=$2; shift 2
        expect_rc 1 "$recur" lm rescore word.safetensors "$f" "$@" > out.txt 2> err.txt
        grep -qF "$msg" err.txt || fail "$f: $(cat err.txt), want $msg"
        [ ! -s out.txt ] || fail "$f: output written: $(cat out.txt)"
    }
    printf 'u1\t0\tthe cat\nu1 0 the dog\n' > nb1.txt
    check_bad nb1.txt "nb1.txt:2: expected id<TAB>score<TAB>text, found no tab"
    printf 'u1\t0\tthe cat\nu1\t0\tthe dog\nu2\tbig\tthe dog\n' > nb2.txt
    check_bad nb2.txt "nb2.txt:3: score 'big' is not a finite number"
    printf 'u1\t0\tthe cat\n\t0\tthe dog\n' > nb3.txt
    check_bad nb3.txt "nb3.txt:2: empty id"
    printf 'u1\t0\n' > nb4.txt
    check_bad nb4.txt "nb4.txt:1: expected id<TAB>score<TAB>text, found one tab"
    printf 'u1\tnan\tthe cat\n' > nb5.txt
    check_bad nb5.txt "nb5.txt:1: score 'nan' is not a finite number"
    printf 'u1\t0\tthe cat\nu2\t0\ta dog\n' > nb6.txt
    printf 'u1\tthe cat\n' > ref6.txt
    check_bad nb6.txt "ref6.txt: no reference for id 'u2'" --tune ref6.txt
    printf 'u1\tthe cat\nu2 a dog\n' > ref7.txt
    check_bad nb6.txt "ref7.txt:2: expected id<TAB>text, found no tab" --tune ref7.txt
    printf 'u1\tthe cat\nu1\ta dog\n' > ref8.txt
    check_bad nb6.txt "ref8.txt: id 'u1' has more than one reference" --tune ref8.txt
    ;;
*)
    fail "unknown case"
    ;;
esac
