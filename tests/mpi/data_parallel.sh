#!/usr/bin/env bash
# Data-parallel training on 2 ranks (run by `make check` in a build with
# MPI; skipped without mpirun).  On loopback, oversubscribed:
#  - 2 ranks with a global batch B train as 1 process with batch B: the
#    same losses (every step's row) and weights after 20 steps, with dropout
#    and clipping that fires, within float32 summation-order tolerance; also
#    with shares of unequal size (B = 7);
#  - a run on 2 ranks stopped and resumed ends bit for bit where the
#    uninterrupted one does, and a resume on another number of ranks is
#    refused;
#  - killing one rank ends the job with mpirun's message naming the rank and
#    the signal, and leaves a last.safetensors that resumes;
#  - a failure on one rank (tests/mpi/fail_rank.c) ends every rank with
#    that rank's message, and a task that does not split is refused.
set -euo pipefail
build=${1:-build}
fail() { echo "data_parallel: $*" >&2; exit 1; }
command -v mpirun > /dev/null || { echo "data_parallel: no mpirun: skipped"; exit 0; }
# CI runs as root
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
here=$(cd "$(dirname "$0")" && pwd)
recur=$(cd "$build" && pwd)/recur
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
mpi2() { timeout 120 mpirun -np 2 --oversubscribe "$@"; }

# a made-up text: words from a small vocabulary, lines of varying length
awk 'BEGIN { split("the a of to and in that it was he for on are with as his they be at one have this from", w, " ");
             s = 7; for (l = 0; l < 900; l++) { n = 4 + l % 9; line = "";
               for (k = 0; k < n; k++) { s = (s * 1103515245 + 12345) % 2147483648; line = line w[1 + int(s / 65536) % 25] " " }
               print line } }' > all.txt
head -n 800 all.txt > train.txt
tail -n 100 all.txt > valid.txt

common=(--level char --hidden 48 --layers 2 --bptt 12 --dropout 0.3 --clip 0.25 --lr 1
        --progress log --log-every 1 --threads 1 --seed 5 --valid-streams 3)

losses() { sed -n 's/.*"type":"log".*"loss":\([^,]*\),.*/\1/p' "$1"; }
same_losses() { # every step's loss, relative 1e-5
    paste <(losses "$1") <(losses "$2") | awk -v tol="$3" '
        { n++; d = $1 - $2; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2); if (r > worst) worst = r; if (r > tol) bad++ }
        END { printf "  %d losses, largest relative difference %.3g\n", n, worst; exit (n < 20 || bad) }'
}

for B in 8 7; do
    echo "- 2 ranks vs 1 process, global batch $B, 20 steps"
    "$recur" lm train "${common[@]}" --batch $B --max-steps 20 --out one$B train.txt valid.txt 2> one$B.log ||
        { cat one$B.log; fail "1 process failed"; }
    mpi2 "$recur" lm train "${common[@]}" --batch $B --max-steps 20 --out two$B train.txt valid.txt 2> two$B.log ||
        { cat two$B.log; fail "2 ranks failed"; }
    grep -q "data parallel: 2 ranks" two$B.log || fail "the 2-rank run did not say it ran on 2 ranks"
    grep -q '"clipped_share":1' one$B/metrics.jsonl || fail "clipping never fired: the test would not cover it"
    same_losses one$B/metrics.jsonl two$B/metrics.jsonl 1e-5 || fail "losses differ (B=$B)"
    python3 "$here/compare_models.py" one$B/last.safetensors two$B/last.safetensors --rtol 1e-4 --atol 1e-6 ||
        fail "weights differ (B=$B)"
done

echo "- resume on 2 ranks: 7 + 13 steps = 20 steps, bit for bit"
mpi2 "$recur" lm train "${common[@]}" --batch 8 --max-steps 7 --out res train.txt valid.txt 2> res1.log ||
    { cat res1.log; fail "first part failed"; }
mpi2 "$recur" lm train --resume --out res --max-steps 13 2> res2.log || { cat res2.log; fail "resume failed"; }
python3 "$here/compare_models.py" two8/last.safetensors res/last.safetensors --exact || fail "resume is not exact"
cmp <(losses two8/metrics.jsonl) <(losses res/metrics.jsonl) || fail "the resumed run's losses differ"

echo "- resume on another number of ranks is refused"
cp -r res res1
if "$recur" lm train --resume --out res1 --max-steps 1 2> other.log; then fail "resume on 1 rank was accepted"; fi
grep -q "trained on 2 ranks, this run has 1" other.log || { cat other.log; fail "no clear message"; }

echo "- killing rank 1 ends the job; last.safetensors stays whole and resumes"
( rc=0; mpi2 sh -c 'echo $$ > pid.$OMPI_COMM_WORLD_RANK; exec "$0" "$@"' "$recur" lm train --resume \
      --out res --max-steps 1000000 > kill.log 2>&1 || rc=$?; echo $rc > kill.rc ) &
for _ in $(seq 100); do [ -s pid.1 ] && [ "$(grep -c '"type":"log"' res/metrics.jsonl)" -gt 22 ] && break; sleep 0.1; done
[ -s pid.1 ] || fail "rank 1 never started"
kill -9 "$(cat pid.1)"
for _ in $(seq 300); do [ -s kill.rc ] && break; sleep 0.1; done
[ -s kill.rc ] || fail "the job did not end within 30 s of rank 1's death"
[ "$(cat kill.rc)" != 0 ] || fail "the job exited 0 after a rank was killed"
grep -q "rank 1 .*signal 9" kill.log || { cat kill.log; fail "no message naming rank 1 and the signal"; }
python3 "$here/compare_models.py" res/last.safetensors res/last.safetensors --exact > /dev/null ||
    fail "last.safetensors is not readable after the kill"
mpi2 "$recur" lm train --resume --out res --max-steps 1 2> after.log || { cat after.log; fail "no resume after the kill"; }

echo "- a failure on one rank, a task that does not split"
fail_rank=$dir/fail_rank
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I"$here/../../include" \
    -o "$fail_rank" "$here/fail_rank.c" "$(dirname "$recur")/librecur.a" \
    $(pkg-config --libs openblas jansson ompi-c) -lm -lpthread
for mode in step eval nosplit; do
    if mpi2 "$fail_rank" "$dir/f_$mode" $mode > f_$mode.log 2>&1; then cat f_$mode.log; fail "$mode: the job succeeded"; fi
    case $mode in
        step) want="rank 1: epoch 1, step 3: line 17 of the toy data on rank 1 is malformed" ;;
        eval) want="rank 1: evaluation: the toy development data on rank 1 is unreadable" ;;
        nosplit) want="this task splits its batches over 1 rank, the job has 2" ;;
    esac
    grep -q "rank 0 of 2: $want" f_$mode.log || { cat f_$mode.log; fail "$mode: rank 0 did not report '$want'"; }
    grep -q "rank 1 of 2: $want" f_$mode.log || { cat f_$mode.log; fail "$mode: rank 1 did not report '$want'"; }
done
echo "data_parallel: all checks passed"
