#!/usr/bin/env bash
# `recur plot`, `recur gradflow` and `recur task` end to end (run by `make check`): the
# SVG files they write parse as XML (python3's xml.etree) and hold the
# panels, axis labels, legend entries and one line per run and panel with a
# point per metrics row; the CSV of gradflow has a row per model, layer,
# state and distance with finite positive norms, the tanh RNN's bound rows,
# and the fresh LSTM's cell-state rows.  Bad input: a malformed metrics row
# is named by file and line and nothing is written; a bad model spec is
# refused.  `recur task`: a run stopped inside an epoch and resumed ends with
# the same model file as one run through, a resumed run with another delay
# is refused, and a tanh RNN with a large W_hh under SGD diverges without
# clipping (exit 3) and not with it.
set -uo pipefail
build=${1:-build}
recur=$build/recur
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "inspect_cli: $*" >&2; exit 1; }

# ---- recur plot ---------------------------------------------------------------
mkdir -p "$tmp/lmrun" "$tmp/taskrun"
{
  for e in 1 2; do
    for i in 1 2 3 4; do
      echo "{\"type\":\"log\",\"epoch\":$e,\"step\":$(( (e - 1) * 4 + i )),\"epoch_progress\":0.$(( i * 25 )),\"tokens_per_s\":1000,\"loss\":$(( 6 - e )).5,\"lr\":0.$(( 3 - e )),\"grad_norm\":$(( i * 3 )).0,\"clipped_share\":0.5,\"elapsed_s\":$(( e * 10 + i )),\"eta_s\":1,\"ppl\":$(( 100 / e + i ))}"
    done
    echo "{\"type\":\"epoch\",\"epoch\":$e,\"train_loss\":4.5,\"train_ppl\":90,\"valid_loss\":4.$e,\"valid_ppl\":7$e,\"lr\":0.$(( 3 - e )),\"elapsed_s\":$(( e * 10 + 5 )),\"best\":true}"
  done
} > "$tmp/lmrun/metrics.jsonl"
{
  for i in 1 2 3; do
    echo "{\"type\":\"log\",\"epoch\":1,\"step\":$i,\"epoch_progress\":0.$(( i * 3 )),\"sequences_per_s\":50,\"loss\":0.1$i,\"lr\":0.01,\"grad_norm\":0.$i,\"clipped_share\":0,\"elapsed_s\":$i,\"eta_s\":1}"
  done
  echo '{"type":"epoch","epoch":1,"train_loss":0.12,"valid_mse":0.05,"lr":0.01,"elapsed_s":4,"best":true}'
} > "$tmp/taskrun/metrics.jsonl"
"$recur" plot "$tmp/lmrun/metrics.jsonl" "$tmp/taskrun/metrics.jsonl" --out "$tmp/curves.svg" > "$tmp/plot.out" 2>&1 \
  || fail "plot failed: $(cat "$tmp/plot.out")"
python3 - "$tmp/curves.svg" <<'EOF' || fail "plot: the SVG is not what it should be"
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
for want in ["loss: training (solid), validation (dashed)", "perplexity (log scale)", "validation mse",
             "gradient norm before clipping", "share of steps clipped (%)", "learning rate (log scale)",
             "loss (nats per unit)", "epoch", "lmrun", "taskrun"]:
    assert any(want == t for t in texts), ("missing text", want)
panels = root.findall(".//s:g[@class='panel']", ns)
assert len(panels) == 6, len(panels)
# in the gradient-norm panel: one line per run with a point per log row
for p in panels:
    if p.find("s:text[@class='title']", ns).text != "gradient norm before clipping":
        continue
    groups = p.findall(".//s:g[@class='series']", ns)
    assert [g.get("data-name") for g in groups] == ["lmrun", "taskrun"], groups
    counts = [len(g.find("s:polyline", ns).get("points").split()) for g in groups]
    assert counts == [8, 3], counts
    break
else:
    raise AssertionError("no gradient-norm panel")
# log-scale ticks are powers of ten
ticks = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "tick"]
assert "10" in ticks and "100" in ticks, ticks
EOF
# a malformed row: named by file and line, and no file written
printf '%s\n' '{"type":"log","epoch":1,"epoch_progress":0.5,"loss":1}' 'not json' > "$tmp/bad.jsonl"
out=$("$recur" plot "$tmp/bad.jsonl" --out "$tmp/bad.svg" 2>&1) && fail "a malformed metrics file was accepted"
grep -q "bad.jsonl:2:" <<<"$out" || fail "plot: the message does not name the line: $out"
[ ! -e "$tmp/bad.svg" ] || fail "plot: a file was written despite the error"

# ---- recur gradflow ------------------------------------------------------------------
awk 'BEGIN { srand(3); for (i = 0; i < 300; i++) { s = ""; for (j = 0; j < 8; j++) s = s " " substr("the cat (sat) on \"a\" mat", 1 + int(rand() * 20), 3); print substr(s, 2) } }' > "$tmp/text.txt"
"$recur" gradflow fresh:rnn-tanh:16x1:0.3 fresh:lstm:12x2 "$tmp/text.txt" --distance 12 --warmup 4 --batch 4 \
  --windows 2 --out "$tmp/gf" > "$tmp/gf.out" 2>&1 || fail "gradflow failed: $(cat "$tmp/gf.out")"
grep -q "sigma(W_hh)" "$tmp/gf.out" || fail "gradflow: no singular value reported: $(cat "$tmp/gf.out")"
python3 - "$tmp/gf.csv" "$tmp/gf.svg" <<'EOF' || fail "gradflow: the CSV or SVG is not what it should be"
import sys, csv, math, xml.etree.ElementTree as ET
rows = list(csv.DictReader(open(sys.argv[1])))
rnn = [r for r in rows if r["model"].startswith("fresh rnn-tanh")]
lstm = [r for r in rows if r["model"].startswith("fresh lstm")]
# rnn: 1 layer x h x 12 + 12 bound rows; lstm: 2 layers x (h, c) x 12
assert len([r for r in rnn if r["state"] == "h"]) == 12 and len([r for r in rnn if r["state"] == "bound"]) == 12
assert len([r for r in lstm if r["state"] == "h"]) == 24 and len([r for r in lstm if r["state"] == "c"]) == 24
for r in rows:
    v = float(r["mean"])
    assert math.isfinite(v) and v > 0, r
    if r["state"] != "bound":
        assert float(r["p10"]) <= float(r["median"]) <= float(r["p90"]), r
# the bound starts at the measured mean and lies above it
h = {int(r["distance"]): float(r["mean"]) for r in rnn if r["state"] == "h"}
b = {int(r["distance"]): float(r["mean"]) for r in rnn if r["state"] == "bound"}
assert abs(b[1] - h[1]) <= 1e-6 * h[1]
assert all(b[l] >= h[l] * (1 - 1e-6) for l in h), (h, b)
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[2]).getroot()
panels = root.findall(".//s:g[@class='panel']", ns)
assert len(panels) == 2, len(panels)  # one per layer of the deepest model
legend = [t.text for t in root.findall(".//s:g[@class='legend']/s:text", ns)]
assert any(t.startswith("fresh rnn-tanh 16x1") for t in legend), legend
assert any("bound" in t for t in legend), legend
assert any(t.startswith("fresh lstm 12x2") for t in legend), legend
EOF
out=$("$recur" gradflow fresh:bogus "$tmp/text.txt" --out "$tmp/gf2" 2>&1) && fail "a bad model spec was accepted"
grep -q "fresh:CELL" <<<"$out" || fail "gradflow: unexpected message: $out"
[ ! -e "$tmp/gf2.csv" ] || fail "gradflow: a file was written despite the error"
# ---- recur task ------------------------------------------------------------------
# stopped inside an epoch and resumed: the same model as an uninterrupted run
args=(--delay 6 --hidden 8 --epochs 3 --epoch-steps 5 --valid-size 10 --progress none --threads 1)
"$recur" task adding "${args[@]}" --out "$tmp/ta" > /dev/null 2>&1 || fail "task adding failed"
"$recur" task adding "${args[@]}" --out "$tmp/tb" --max-steps 7 > /dev/null 2>&1 || fail "task adding --max-steps failed"
"$recur" task adding "${args[@]}" --out "$tmp/tb" --resume > /dev/null 2>&1 || fail "task adding --resume failed"
cmp -s "$tmp/ta/best.safetensors" "$tmp/tb/best.safetensors" || fail "a resumed task run differs from an uninterrupted one"
out=$("$recur" task adding "${args[@]}" --delay 7 --out "$tmp/tb" --resume 2>&1) && fail "a resumed run with another delay was accepted"
grep -q "other settings" <<<"$out" || fail "task: unexpected message: $out"
# the exploding side: SGD without clipping diverges (exit 3), with clipping it does not
out=$("$recur" task adding --delay 50 --cell rnn-tanh --hidden 64 --init-scale 0.3 --optim sgd --lr 0.5 --clip 0 \
      --epochs 1 --epoch-steps 40 --valid-size 10 --progress none --out "$tmp/tx" 2>/dev/null); rc=$?
[ $rc -eq 3 ] && grep -q "diverged=1" <<<"$out" || fail "the unclipped run did not diverge (rc $rc): $out"
out=$("$recur" task adding --delay 50 --cell rnn-tanh --hidden 64 --init-scale 0.3 --optim sgd --lr 0.5 --clip 1 \
      --epochs 1 --epoch-steps 40 --valid-size 10 --progress none --out "$tmp/ty" 2>/dev/null) || fail "the clipped run failed"
grep -q "diverged=0" <<<"$out" || fail "the clipped run diverged: $out"
echo "inspect_cli: plot and gradflow write well-formed SVG and CSV; task runs resume exactly; clipping stops a divergence"
