"""PyTorch side of bench/speed.py's classifier section (bench/speed_classify.c).

The same classifier on the same sentences (SST-2's training sentences):
embedding -> dropout -> LSTM/GRU/RNN stack (bidirectional as asked) read as
packed sequences (so padding never reaches the reverse direction, as in
recur) -> pooling (max over each sentence's own steps, mean, last, or
attention) -> dropout -> linear -> cross-entropy; Adam (lr 1e-3) with
clip_grad_norm_(5).  Batches as recur draws them: shuffled, pools of 50
batches sorted by length.  Prediction: every sentence in length order,
batches of 64, eval mode under torch.no_grad().
Prints one JSON line: {"train_s":..,"predict_s":..,"peak_mib":..}.
"""
import argparse
import json
import random
import re
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--cell", default="lstm")
p.add_argument("--embed", type=int, default=300)
p.add_argument("--hidden", type=int, default=150)
p.add_argument("--layers", type=int, default=1)
p.add_argument("--bidir", type=int, default=1)
p.add_argument("--pool", default="max")
p.add_argument("--batch", type=int, default=32)
p.add_argument("--dropout", type=float, default=0.5)
p.add_argument("--min-time", type=float, default=1.5)
p.add_argument("--torch-threads", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.torch_threads)
torch.manual_seed(1)


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


sents, labels = [], []
for line in open(a.data, encoding="utf-8"):
    root = int(line.strip()[1])
    if root == 2:
        continue
    sents.append(re.findall(r"\(\d ([^()\s]+)\)", line))
    labels.append(0 if root < 2 else 1)
vocab = {}
for s in sents:
    for w in s:
        vocab.setdefault(w, len(vocab))
ids = [torch.tensor([vocab[w] for w in s]) for s in sents]
base_kib = status_kib("VmRSS")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        D = 2 if a.bidir else 1
        self.emb = torch.nn.Embedding(len(vocab), a.embed)
        rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}[a.cell]
        self.rnn = rnn(a.embed, a.hidden, a.layers, dropout=a.dropout if a.layers > 1 else 0.0,
                       bidirectional=bool(a.bidir))
        self.drop = torch.nn.Dropout(a.dropout)
        if a.pool == "attention":
            self.att = torch.nn.Linear(D * a.hidden, D * a.hidden)
            self.ctx = torch.nn.Parameter(torch.rand(D * a.hidden) - 0.5)
        self.out = torch.nn.Linear(D * a.hidden, 2)

    def forward(self, x, lengths):
        e = self.drop(self.emb(x))
        packed = torch.nn.utils.rnn.pack_padded_sequence(e, lengths, enforce_sorted=False)
        y, h = self.rnn(packed)
        if a.pool == "last":
            h = h[0] if isinstance(h, tuple) else h
            s = torch.cat([h[-2], h[-1]], 1) if a.bidir else h[-1]
        else:
            pad = float("-inf") if a.pool == "max" else 0.0
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, padding_value=pad)
            if a.pool == "max":
                s = y.max(0)[0]
            elif a.pool == "mean":
                s = y.sum(0) / lengths.unsqueeze(1).to(y.dtype)
            else:
                score = torch.tanh(self.att(y)) @ self.ctx
                mask = torch.arange(y.shape[0]).unsqueeze(1) >= lengths.unsqueeze(0)
                w = torch.softmax(score.masked_fill(mask, float("-inf")), 0)
                s = (w.unsqueeze(2) * y).sum(0)
        return self.out(self.drop(s))


def batch_of(idx):
    lengths = torch.tensor([len(sents[i]) for i in idx])
    x = torch.nn.utils.rnn.pad_sequence([ids[i] for i in idx])
    return x, lengths, torch.tensor([labels[i] for i in idx])


def epoch_batches(rng):
    order = list(range(len(sents)))
    rng.shuffle(order)
    pool = 50 * a.batch
    out = []
    for p0 in range(0, len(order), pool):
        chunk = sorted(order[p0:p0 + pool], key=lambda i: len(sents[i]))
        out += [chunk[s:s + a.batch] for s in range(0, len(chunk), a.batch)]
    rng.shuffle(out)
    return [batch_of(b) for b in out]


net = Net()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
rng = random.Random(1)
batches = epoch_batches(rng)


def train_step(b):
    x, lengths, y = b
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(net(x, lengths), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
    opt.step()
    return len(lengths)


net.train()
for b in batches[:5]:
    train_step(b)
done, k, t0 = 0, 5, time.perf_counter()
while True:
    if k == len(batches):
        batches, k = epoch_batches(rng), 0
    done += train_step(batches[k])
    k += 1
    if time.perf_counter() - t0 >= a.min_time:
        break
train_s = done / (time.perf_counter() - t0)

net.eval()
by_len = sorted(range(len(sents)), key=lambda i: len(sents[i]))
pred = [batch_of(by_len[s:s + 64]) for s in range(0, len(by_len), 64)]


def predict_all():
    with torch.no_grad():
        for x, lengths, _ in pred:
            torch.softmax(net(x, lengths), 1)


predict_all()
passes, t0 = 0, time.perf_counter()
while True:
    predict_all()
    passes += 1
    if time.perf_counter() - t0 >= a.min_time:
        break
predict_s = passes * len(sents) / (time.perf_counter() - t0)
print(json.dumps({"train_s": train_s, "predict_s": predict_s,
                  "peak_mib": (status_kib("VmHWM") - base_kib) / 1024.0, "sentences": len(sents)}))
