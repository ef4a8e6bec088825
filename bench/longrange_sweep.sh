#!/usr/bin/env bash
# bench/longrange_sweep.sh - which cell learns long-range dependencies: the
# adding problem (`recur task adding`) at growing delays for a tanh RNN, a
# GRU and an LSTM, with gradient clipping at 1 and without, each run with
# the same fixed budget of steps; reports the best validation mean squared
# error per delay and the longest delay each solves (mse < 0.01; guessing
# gives 0.167).  A cell that fails a delay is not tried at longer ones.
# Then the exploding side: a tanh RNN with a large initial W_hh trained by
# SGD without clipping (diverges) and the same run with clipping at 1.
#
# usage: bench/longrange_sweep.sh [--quick]  (--quick: delays 10 20, 300 steps;
#        DELAYS="10 20 50 100 200", STEPS=2000, HIDDEN=32, RECUR, OUT;
#        REPORT_ONLY=1: no runs, the table and figures from OUT/results.txt)
# Writes OUT/table.md, OUT/sweep.svg (mse against delay), OUT/exploding.svg
# (training curves of the two exploding-side runs) and every run's folder.
source "$(dirname "$0")/lm_lib.sh"
delays=${DELAYS:-10 20 50 100 200}
steps=${STEPS:-2000}
hidden=${HIDDEN:-32}
if [ $quick = 1 ]; then delays=${DELAYS:-10 20}; steps=${STEPS:-300}; fi
epoch_steps=100
epochs=$(( (steps + epoch_steps - 1) / epoch_steps ))
results=$out/results.txt
report_only=${REPORT_ONLY:-0}
[ "$report_only" = 1 ] || : > "$results"

run() { # NAME ARGS...: one run; its result line goes to results.txt
    local name=$1; shift
    local line
    line=$(nice -n 5 "$recur" task adding --out "$out/$name" --force --progress none --threads 1 \
        --epoch-steps $epoch_steps --epochs $epochs --valid-size 256 "$@" 2> "$out/$name.log" | grep '^result ' || true)
    [ -n "$line" ] || line="result failed=1 $*"
    echo "$line name=$name" >> "$results"
    echo "$line"
}

for clip in 1 0; do
    [ "$report_only" = 1 ] && break
    for cell in rnn-tanh gru lstm; do
        for d in $delays; do
            line=$(run "$cell-clip$clip-d$d" --cell "$cell" --hidden "$hidden" --delay "$d" \
                --optim adam --lr 0.01 --clip "$clip")
            echo "$line" >&2
            case "$line" in *solved=1*) ;; *) break ;; esac
        done
    done
done
# the exploding side: tanh RNN, W_hh ~ U(+-0.3) (spectral radius ~1.4 at 64 units), SGD lr 0.5
for clip in 0 1; do
    [ "$report_only" = 1 ] && break
    run "explode-clip$clip" --cell rnn-tanh --hidden 64 --init-scale 0.3 --delay 50 --optim sgd \
        --lr 0.5 --clip $clip --epochs 3 --log-every 1 >&2
done

python3 - "$results" "$out" "$delays" "$steps" "$hidden" <<'EOF'
import sys, re
path, out, delays, steps, hidden = sys.argv[1], sys.argv[2], [int(d) for d in sys.argv[3].split()], sys.argv[4], sys.argv[5]
rows = {}
explode = {}
for line in open(path):
    kv = dict(re.findall(r'(\w+)=(\S+)', line))
    if 'name' not in kv or 'cell' not in kv:
        continue
    if kv['name'].startswith('explode'):
        explode[kv['clip']] = kv
        continue
    rows.setdefault((kv['cell'], kv['clip']), {})[int(kv['delay'])] = kv
lines = []
lines.append(f"adding problem, {hidden} hidden units, Adam lr 0.01, batch 32, {steps} steps per run; best validation mse (solved: < 0.01, guessing: 0.167)\n")
lines.append("| cell | clip | " + " | ".join(f"delay {d}" for d in delays) + " | longest solved |")
lines.append("|---" * (len(delays) + 3) + "|")
series = []
for cell in ["rnn-tanh", "gru", "lstm"]:
    for clip in ["1", "0"]:
        r = rows.get((cell, clip), {})
        cells, longest, pts = [], "none", []
        for d in delays:
            kv = r.get(d)
            if not kv:
                cells.append("(not tried)")
                continue
            if kv.get('diverged') == '1':
                cells.append("diverged")
                continue
            mse = float(kv['best'])
            pts.append((d, mse))
            ok = kv['solved'] == '1'
            cells.append(f"{mse:.2g}{' solved' if ok else ''}")
            if ok:
                longest = str(d)
        lines.append(f"| {cell} | {'1' if clip == '1' else 'none'} | " + " | ".join(cells) + f" | {longest} |")
        series.append((f"{cell}, clip {'1' if clip == '1' else 'none'}", pts, clip == '0'))
lines.append("")
for clip in ["0", "1"]:
    kv = explode.get(clip)
    if kv:
        state = "diverged" if kv['diverged'] == '1' else f"finite, best mse {float(kv['best']):.3g}"
        lines.append(f"exploding side, tanh RNN 64 units, W_hh ~ U(+-0.3), SGD lr 0.5, delay 50, clip {'none' if clip == '0' else '1'}: {state} after {kv['steps']} steps")
text = "\n".join(lines) + "\n"
open(f"{out}/table.md", "w").write(text)
print(text)

# sweep.svg: best mse against delay, log-log, one line per cell and clipping
import math
W, H, ml, mr, mt, mb = 640, 420, 70, 20, 40, 110
colors = {"rnn-tanh": "#d62728", "gru": "#2ca02c", "lstm": "#1f77b4"}
xs = [math.log10(d) for d in delays]
x0, x1 = min(xs) - 0.05, max(xs) + 0.05
y0, y1 = -5, 0
def X(d): return ml + (W - ml - mr) * (math.log10(d) - x0) / (x1 - x0)
def Y(v): return mt + (H - mt - mb) * (1 - (math.log10(max(v, 1e-5)) - y0) / (y1 - y0))
svg = [f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="DejaVu Sans, sans-serif" font-size="12">',
       f'<rect width="100%" height="100%" fill="white"/>',
       f'<text x="{W/2}" y="22" text-anchor="middle" font-weight="bold">adding problem: best validation mse by delay ({steps} steps each)</text>',
       f'<rect x="{ml}" y="{mt}" width="{W-ml-mr}" height="{H-mt-mb}" fill="none" stroke="#444"/>']
for e in range(y0, y1 + 1):
    y = Y(10 ** e)
    svg.append(f'<line x1="{ml}" x2="{W-mr}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/><text x="{ml-5}" y="{y+4:.1f}" text-anchor="end">1e{e}</text>')
for d in delays:
    svg.append(f'<text x="{X(d):.1f}" y="{H-mb+18}" text-anchor="middle">{d}</text>')
ys = Y(0.01)
svg.append(f'<line x1="{ml}" x2="{W-mr}" y1="{ys:.1f}" y2="{ys:.1f}" stroke="#000" stroke-dasharray="2,3"/><text x="{W-mr-4}" y="{ys-4:.1f}" text-anchor="end">solved: mse 0.01</text>')
yg = Y(1/6)
svg.append(f'<line x1="{ml}" x2="{W-mr}" y1="{yg:.1f}" y2="{yg:.1f}" stroke="#999" stroke-dasharray="2,3"/><text x="{W-mr-4}" y="{yg-4:.1f}" text-anchor="end">guessing: 0.167</text>')
svg.append(f'<text x="{ml + (W-ml-mr)/2}" y="{H-mb+36}" text-anchor="middle">delay (sequence length, log scale)</text>')
svg.append(f'<text transform="translate(18,{mt + (H-mt-mb)/2}) rotate(-90)" text-anchor="middle">best validation mse (log scale)</text>')
for i, (name, pts, dashed) in enumerate(series):
    col = colors[name.split(",")[0]]
    dash = ' stroke-dasharray="6,4"' if dashed else ''
    if pts:
        svg.append(f'<polyline fill="none" stroke="{col}" stroke-width="2"{dash} points="' + " ".join(f"{X(d):.1f},{Y(v):.1f}" for d, v in pts) + '"/>')
        for d, v in pts:
            svg.append(f'<circle cx="{X(d):.1f}" cy="{Y(v):.1f}" r="3" fill="{col}"/>')
    lx, ly = ml + (i % 3) * 190, H - mb + 58 + (i // 3) * 20
    svg.append(f'<line x1="{lx}" x2="{lx+26}" y1="{ly}" y2="{ly}" stroke="{col}" stroke-width="2"{dash}/><text x="{lx+32}" y="{ly+4}">{name}</text>')
svg.append('</svg>')
open(f"{out}/sweep.svg", "w").write("\n".join(svg) + "\n")
EOF
if [ -f "$out/explode-clip0/metrics.jsonl" ] && [ -f "$out/explode-clip1/metrics.jsonl" ]; then
    "$recur" plot "$out/explode-clip0/metrics.jsonl" "$out/explode-clip1/metrics.jsonl" \
        --labels "no clipping (diverged),clipped at 1" --x epoch \
        --title "tanh RNN, W_hh ~ U(+-0.3), SGD lr 0.5, adding delay 50" --out "$out/exploding.svg" >&2
fi
if [ $quick = 1 ]; then echo "(--quick: a check of the script, not a result)"; fi
