#!/usr/bin/env bash
# bench/mpi.sh - data-parallel training on this machine: recur on 2 ranks
# x 1 thread (mpirun) against 1 process x 2 threads, and PyTorch 1.13
# DistributedDataParallel (gloo) on 2 processes x 1 thread against 1 process
# x 2 threads, same model and global batch, for
#   ptb-medium  zaremba-medium: 2x650 LSTM, vocabulary 10000, bptt 35,
#               batch 20, dropout 0.5, SGD, clip 5 (PTB)
#   char-lstm   char-rnn: 2x512 LSTM, embedding 64, 65 characters, bptt 100,
#               batch 32, dropout 0.25, Adam (tiny-shakespeare)
# Tokens per second of the global batch over STEPS timed steps after one
# unmeasured step; for recur on 2 ranks the share of a step in the trainer's
# sums over the ranks (waiting for the slower rank included) and the time of
# the gradient allreduce alone (bench/allreduce.c: the gradient's size, the
# ranks back to back), which feeds the cost model of docs/parallel.md.
# Prints a table.  STEPS=4 by default; nice -n 5 applies.
#
#   bash bench/mpi.sh            (needs a build with MPI: make MPI=1)
source "$(dirname "$0")/lm_lib.sh"
steps=${STEPS:-4}
command -v mpirun > /dev/null || { echo "mpi.sh: no mpirun (apt-get install openmpi-bin)" >&2; exit 2; }
make -s build/bench/allreduce >&2
[ "$(sed -n 's/.*"ranks":\([0-9]*\).*/\1/p' <(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun -np 2 --oversubscribe build/bench/allreduce 10 1))" = 2 ] ||
    { echo "mpi.sh: build/ has no MPI (make clean && make MPI=1)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi2() { nice -n 5 mpirun -np 2 --oversubscribe "$@"; }
ptb=$(find_data ptb ptb.train.txt)
shk=$(find_data tinyshakespeare input.txt)
head -c 1003854 "$shk/input.txt" > "$out/shk.train.txt"
tail -c +1003855 "$shk/input.txt" > "$out/shk.valid.txt"

# rate FILE TOKENS_PER_STEP: tokens/s between the first and the last log row
rate() {
    python3 - "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"type":"log"' in l]
a, b = rows[0], rows[-1]
print("%.0f" % ((b["step"] - a["step"]) * int(sys.argv[2]) / (b["elapsed_s"] - a["elapsed_s"])))
PY
}

# recur_run NAME RANKS THREADS ARGS...: prints "tokens/s sum_share"
recur_run() {
    local name=$1 ranks=$2 threads=$3
    shift 3
    local d="$out/$name-$ranks-$threads" launch=(nice -n 5)
    [ "$ranks" -gt 1 ] && launch=(mpi2)
    rm -rf "$d"
    "${launch[@]}" "$recur" lm train "$@" --threads "$threads" --max-steps $((steps + 1)) --log-every 1 \
        --progress log --force --out "$d" > "$d.log" 2>&1 || { cat "$d.log" >&2; exit 1; }
    local share
    share=$(sed -n 's/.*in the sums over the ranks (\(.*\)%)/\1/p' "$d.log")
    echo "$(rate "$d/metrics.jsonl" "$tokens") ${share:--}"
}

torch_run() { # PROCS THREADS ARGS...
    local procs=$1 threads=$2
    shift 2
    nice -n 5 /usr/bin/python3 "$root/bench/mpi_ddp_torch.py" --procs "$procs" --threads "$threads" \
        --steps "$steps" --warmup 1 "$@" 2> "$out/torch.err" |
        python3 -c 'import json,sys; print("%.0f" % json.loads(sys.stdin.readline())["tokens_per_s"])' ||
        { cat "$out/torch.err" >&2; exit 1; }
}

printf '%-12s %9s %11s %11s %9s %9s %11s %11s %9s %8s\n' model params "recur 1x2" "recur 2x1" \
    "sum share" "allreduce" "torch 1x2" "torch DDP" "2x1/DDP" "bytes"
for model in ptb-medium char-lstm; do
    if [ $model = ptb-medium ]; then
        args=(--preset zaremba-medium "$ptb/ptb.train.txt" "$ptb/ptb.valid.txt")
        targs=(--vocab 10000 --embed 650 --hidden 650 --bptt 35 --batch 20 --dropout 0.5 --optim sgd
               --lr 1 --clip 5)
        tokens=$((35 * 20))
    else
        args=(--preset char-rnn "$out/shk.train.txt" "$out/shk.valid.txt")
        targs=(--vocab 65 --embed 64 --hidden 512 --bptt 100 --batch 32 --dropout 0.25 --optim adam
               --lr 0.002 --clip 5)
        tokens=$((100 * 32))
    fi
    read -r r12 _ <<< "$(recur_run $model 1 2 "${args[@]}")"
    read -r r21 share <<< "$(recur_run $model 2 1 "${args[@]}")"
    params=$(sed -n 's/.*: \([0-9]*\) parameters;.*/\1/p' "$out/$model-2-1.log")
    ar=$(mpi2 build/bench/allreduce "$params" 5)
    ar_s=$(echo "$ar" | sed -n 's/.*"seconds":\([^,]*\),.*/\1/p')
    step_s=$(python3 -c "print($tokens / $r21)")
    t12=$(torch_run 1 2 "${targs[@]}")
    t21=$(torch_run 2 1 "${targs[@]}")
    printf '%-12s %9s %11s %11s %8s%% %8.3fs %11s %11s %8.2fx %8s\n' $model "$params" "$r12" "$r21" \
        "$share" "$ar_s" "$t12" "$t21" "$(python3 -c "print($r21 / $t21)")" "$((params * 4))"
    echo "$model $params $ar_s $step_s" >> "$out/costs.txt"
done
echo "tokens/s of the global batch over $steps steps; 1x2: 1 process x 2 threads, 2x1: 2 ranks x 1 thread"
echo "sum share: the trainer's sums over the ranks in the 2-rank run's training time (waits included)"
echo "allreduce: one gradient allreduce alone (bench/allreduce.c), seconds; bytes: the gradient's"

# The ring-allreduce cost model (docs/parallel.md): each rank keeps its
# share of the measured 2-rank step (compute c = step - allreduce), the
# global batch grows with the ranks, and one allreduce of S bytes over R
# ranks on links of bandwidth W with per-message latency a costs
#   2 (R - 1) a + 2 (R - 1) / R * S / W,
# not overlapped with the backward pass.  Efficiency c / (c + allreduce).
echo
python3 - "$out/costs.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
lat = {10: 20e-6, 100: 5e-6}   # per message: TCP on 10 Gbit/s, RDMA on 100 Gbit/s
print("%-12s %6s %8s %10s %10s %8s %9s %12s" % ("model", "ranks", "network", "compute", "allreduce",
                                                 "effic.", "speed-up", "16x faster"))
for name, params, ar_s, step_s in rows:
    S = int(params) * 4
    c = float(step_s) - float(ar_s)
    for R in (8, 64, 512):
        for gbit in (10, 100):
            W = gbit * 1e9 / 8
            t = 2 * (R - 1) * lat[gbit] + 2 * (R - 1) / R * S / W
            e, f = c / (c + t), (c / 16) / (c / 16 + t)
            print("%-12s %6d %5d Gb %9.3fs %9.3fs %7.1f%% %8.1fx %11.1f%%" % (name, R, gbit, c, t, 100 * e,
                                                                          R * e, 100 * f))
print("compute: the 2-rank run's step less its measured allreduce (one rank, 1 thread, its share);")
print("16x faster: the efficiency when a rank computes 16x faster (a many-core node, its threads)")
print("allreduce: ring model, latency 20 us (10 Gbit/s TCP) or 5 us (100 Gbit/s RDMA) per message")
PY
