"""PyTorch side of the sentence-scoring rows of bench/speed.py.

The same model and input as bench/score_sentences.c: words get ids by
first appearance (id 0 is <eos>), each line is <eos> + words + <eos>, and
every line is scored on its own from a zero state: its summed
log-probability of every token after the first.  Lines are sorted by length
(longest first) and run --batch at a time, padded to the longest of the
batch; only the real positions go through the decoder, log-softmax and
gather (PyTorch at its best: no work on padding after the LSTM), under
torch.no_grad() in eval mode.  Passes over the file are timed as the C side
times them; prints one JSON line with sentences and tokens per second.
"""
import argparse
import json
import statistics
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--text", required=True)
p.add_argument("--vocab", type=int, default=10000)
p.add_argument("--embed", type=int, default=200)
p.add_argument("--hidden", type=int, default=200)
p.add_argument("--layers", type=int, default=2)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--min-time", type=float, default=2.0)
p.add_argument("--min-iters", type=int, default=1)
p.add_argument("--torch-threads", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.torch_threads)
torch.manual_seed(1)

ids = {}
lines = []
with open(a.text, encoding="utf-8") as f:
    for line in f:
        seq = [0]
        for w in line.split(" "):
            w = w.strip("\n")
            if w:
                seq.append(ids.setdefault(w, len(ids) + 1))
        seq.append(0)
        lines.append(seq)
assert len(ids) < a.vocab, "the text has more distinct words than --vocab"
predicted = sum(len(s) - 1 for s in lines)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(a.vocab, a.embed)
        self.rnn = torch.nn.LSTM(a.embed, a.hidden, a.layers)
        self.dec = torch.nn.Linear(a.hidden, a.vocab)


net = Net().eval()
order = sorted(range(len(lines)), key=lambda i: -len(lines[i]))
batches = []
for b0 in range(0, len(order), a.batch):
    idx = order[b0:b0 + a.batch]
    steps = len(lines[idx[0]]) - 1
    x = torch.zeros(steps, len(idx), dtype=torch.long)
    y = torch.zeros(steps, len(idx), dtype=torch.long)
    mask = torch.zeros(steps, len(idx), dtype=torch.bool)
    for j, i in enumerate(idx):
        s = lines[i]
        n = len(s) - 1
        x[:n, j] = torch.tensor(s[:-1])
        y[:n, j] = torch.tensor(s[1:])
        mask[:n, j] = True
    col = torch.arange(len(idx)).expand(steps, len(idx))[mask]
    batches.append((torch.tensor(idx), x, y[mask], mask, col))


def score(batch_list):
    out = torch.zeros(len(lines), dtype=torch.float64)
    with torch.no_grad():
        for idx, x, y, mask, col in batch_list:
            h, _ = net.rnn(net.emb(x))
            lp = torch.log_softmax(net.dec(h[mask]), dim=-1).gather(1, y.view(-1, 1)).view(-1)
            per = torch.zeros(len(idx), dtype=torch.float64).index_add_(0, col, lp.double())
            out[idx] = per
    return out


score(batches[:1])  # warm-up
times = []
start = time.perf_counter()
while len(times) < a.min_iters or time.perf_counter() - start < a.min_time:
    t0 = time.perf_counter()
    res = score(batches)
    times.append(time.perf_counter() - t0)
med = statistics.median(times)
print(json.dumps({"sent_s": len(lines) / med, "tok_s": predicted / med, "passes": len(times),
                  "sentences": len(lines), "logprob": float(res.sum())}))
