# bench/lm_lib.sh - shared by the bench/lm_*.sh scripts (sourced, not run):
# finds the data and the recur program, works around OpenBLAS's CPU detection,
# runs `recur lm train` and reads its summary.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# find_data SUBDIR FILE: the shared data folder holding SUBDIR/FILE
find_data() {
    local d
    for d in "${DATA:-}" "$root/../shared/data/$1" "/work/shared/data/$1"; do
        if [ -n "$d" ] && [ -f "$d/$2" ]; then (cd "$d" && pwd -P); return 0; fi
    done
    echo "$(basename "$0"): $1/$2 not found (set DATA=folder)" >&2
    exit 2
}

recur=${RECUR:-build/recur}
if [ -z "${RECUR:-}" ]; then
    make -s build/recur >&2
fi

# Debian's OpenBLAS 0.3.21 falls back to its slowest (Prescott) kernels on
# CPUs it does not know; pick the kernels the CPU supports.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -qw avx512f /proc/cpuinfo; then
        export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then
        export OPENBLAS_CORETYPE=Haswell
    fi
fi

# PRECISION=fp32|bf16: the matrix products' precision (recur lm train --precision)
precision=${PRECISION:-fp32}

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; fi
out=${OUT:-build/bench/$(basename "$0" .sh)}
mkdir -p "$out"

# summary FILE KEY FIELD: from the summary lines of `recur lm train`
#   valid      NAME: N tokens predicted, X nats/token, perplexity P
#   test       NAME: N tokens predicted, K oov, X nats/token, perplexity P
ppl_of() { grep "^$2 " "$1" | head -1 | sed 's/.*perplexity //'; }
nats_of() { grep "^$2 " "$1" | head -1 | sed 's/.*, \([0-9.]*\) nats.*/\1/'; }
epochs_of() { grep -c '"type":"epoch"' "$1" || true; }
