#!/usr/bin/env bash
# `recur lm cells` in a real browser (run by `make check`): a small
# character LSTM is trained for a few steps on a text with quotes and
# brackets, its page is opened in headless Chromium (Debian's `chromium`,
# installed through scripts/deps.sh when missing) with two different units
# picked through the URL fragment.  The DOM after the page's script ran must
# hold every character of the text in its own coloured span (not a blank
# page: most spans coloured, many distinct colours), the picker must change
# the colours and the caption, and a screenshot of each must show coloured
# text (its pixels decoded here) and differ from the other.  The numbers of
# the page (correlations, the gates rebuilding the cell state) are checked
# by the command itself and by the correlation table's contents below.
set -uo pipefail
build=${1:-build}
recur=$build/recur
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail() { echo "cells_page: $*" >&2; exit 1; }

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  bash "$root/scripts/deps.sh" chromium >&2 || fail "chromium is missing and could not be installed"
  browser=$(command -v chromium) || fail "chromium is missing and could not be installed"
fi

awk 'BEGIN { srand(5); for (i = 0; i < 120; i++) { s = ""; for (j = 0; j < 6; j++) { w = substr("alpha beta gamma delta", 1 + int(rand() * 17), 4); if (rand() < 0.2) w = "\"" w "\""; if (rand() < 0.2) w = "(" w " [" w "])"; s = s " " w } print substr(s, 2) } }' > "$tmp/text.txt"
"$recur" lm train "$tmp/text.txt" "$tmp/text.txt" --level char --cell lstm --layers 2 --hidden 12 --embed 6 \
  --optim adam --lr 0.01 --bptt 20 --batch 4 --epochs 1 --out "$tmp/run" --progress none --threads 1 > "$tmp/train.out" 2>&1 \
  || fail "training the model failed: $(cat "$tmp/train.out")"
"$recur" lm cells "$tmp/run/best.safetensors" "$tmp/text.txt" --chars 400 --analyse 2000 --out "$tmp/page.html" > "$tmp/cells.out" 2>&1 \
  || fail "lm cells failed: $(cat "$tmp/cells.out")"
grep -q "inside double quotes .*layer" "$tmp/cells.out" || fail "no quote-sensitive cell listed: $(cat "$tmp/cells.out")"
grep -q "bracket depth .*layer" "$tmp/cells.out" || fail "no depth-sensitive cell listed: $(cat "$tmp/cells.out")"
grep -q "http" "$tmp/page.html" && fail "the page refers to the network"

# a word-level or GRU model is refused
"$recur" lm train "$tmp/text.txt" "$tmp/text.txt" --level char --cell gru --layers 1 --hidden 4 --bptt 10 --batch 2 \
  --epochs 1 --out "$tmp/gru" --progress none > /dev/null 2>&1 || fail "training the GRU failed"
out=$("$recur" lm cells "$tmp/gru/best.safetensors" "$tmp/text.txt" --out "$tmp/gru.html" 2>&1) && fail "a GRU model was accepted"
grep -q "needs a character-level LSTM" <<<"$out" || fail "unexpected message: $out"
[ ! -e "$tmp/gru.html" ] || fail "a page was written for a refused model"

run_browser() { # FRAGMENT OUT-PREFIX: the DOM after scripts, and a screenshot
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/profile" \
    --dump-dom "file://$tmp/page.html#$1" > "$tmp/$2.dom" 2> "$tmp/$2.err" || fail "chromium failed: $(tail -3 "$tmp/$2.err")"
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/profile" --hide-scrollbars \
    --window-size=1000,700 --screenshot="$tmp/$2.png" "file://$tmp/page.html#$1" > /dev/null 2>&1 \
    || fail "chromium failed to take a screenshot"
}
run_browser "layer=1&cell=3&q=c" a
run_browser "layer=0&cell=7&q=f" b

python3 - "$tmp" "$tmp/text.txt" <<'EOF' || fail "the page in the browser is not what it should be"
import sys, re, zlib, struct, html
tmp, text_path = sys.argv[1], sys.argv[2]
text = open(text_path, encoding="utf-8").read()

def spans(dom):
    body = dom.split('<div id="text">', 1)[1].split("</div>", 1)[0]
    found = re.findall(r'<span[^>]*style="background-color: (rgb\([^)]*\));?"[^>]*>(.*?)</span>', body, re.S)
    return [c for c, _ in found], "".join(html.unescape(t) for _, t in found)

def png_pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, ihdr
    bpp = 3 if ctype == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line)); prev = line
    return [tuple(r[i:i + 3]) for r in rows for i in range(0, stride, bpp)]

cols = {}
for name, caption in (("a", "layer 1, cell 3, cell state c"), ("b", "layer 0, cell 7, forget gate f")):
    dom = open(f"{tmp}/{name}.dom", encoding="utf-8").read()
    assert caption in dom, ("caption", name)
    c, shown = spans(dom)
    assert len(c) == 400 and text.startswith(shown), (len(c), shown[:40])
    white = sum(1 for x in c if x == "rgb(255, 255, 255)")
    assert white < 0.5 * len(c) and len(set(c)) > 20, (name, white, len(set(c)))
    cols[name] = c
    px = png_pixels(f"{tmp}/{name}.png")
    coloured = sum(1 for p in px if max(p) - min(p) > 40)
    assert coloured > 0.02 * len(px) and len(set(px)) > 50, (name, coloured, len(set(px)))
    cols[name + "px"] = px
diff = sum(1 for x, y in zip(cols["a"], cols["b"]) if x != y)
assert diff > 0.5 * len(cols["a"]), diff
assert cols["apx"] != cols["bpx"]
# the correlation table: a row per property, a quote-sensitive cell listed
dom = open(f"{tmp}/a.dom", encoding="utf-8").read()
for p in ("position in line", "inside double quotes", "inside brackets", "bracket depth", "position in word"):
    assert p in dom, p
EOF
echo "cells_page: the page shows the coloured text in Chromium and its picker changes it"
