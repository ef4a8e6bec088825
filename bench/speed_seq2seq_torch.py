"""PyTorch side of bench/speed.py for the encoder-decoder (bench/speed_seq2seq.c).

The same G2P-sized network written as PyTorch users write it: nn.Embedding,
a bidirectional nn.LSTM encoder, a linear bridge from its final states,
an nn.LSTM decoder over all target steps at once (teacher forcing, no input
feeding), Luong's general attention as batched matrix products (bmm) with
the padding masked, tanh(W_c [ctx; h]), an output nn.Linear, and
F.cross_entropy with label smoothing 0.1; dropout 0.2 on the embeddings and
the attentional vector.
  --mode train   zero_grad, forward, loss, backward, clip_grad_norm_(5),
                 Adam step
  --mode decode  greedy search under torch.no_grad() in eval mode: the
                 encoder once, then tgt + 1 decoder steps of the whole batch
Prints one JSON line: words per second (as tok_s, median of the timed steps
after warm-up), steps timed, peak memory above the resident set after
`import torch` (MiB).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


p = argparse.ArgumentParser()
p.add_argument("--mode", choices=["train", "decode"], required=True)
p.add_argument("--embed", type=int, default=128)
p.add_argument("--hidden", type=int, default=256)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--src", type=int, default=8)
p.add_argument("--tgt", type=int, default=7)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--min-iters", type=int, default=5)
p.add_argument("--min-time", type=float, default=2.0)
p.add_argument("--max-iters", type=int, default=500)
p.add_argument("--torch-threads", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.torch_threads)
base_kib = status_kib("VmRSS")
torch.manual_seed(1)
VS, VT, BOS, EOS = 28, 42, 1, 0


class Seq2Seq(nn.Module):
    def __init__(self, e, h):
        super().__init__()
        self.src_emb = nn.Embedding(VS, e)
        self.encoder = nn.LSTM(e, h, bidirectional=True)
        self.bridge = nn.Linear(2 * h, h)
        self.bridge_c = nn.Linear(2 * h, h)
        self.tgt_emb = nn.Embedding(VT, e)
        self.decoder = nn.LSTM(e, h)
        self.attention = nn.Linear(2 * h, h, bias=False)
        self.combine = nn.Linear(3 * h, h, bias=False)
        self.out = nn.Linear(h, VT)
        self.drop = nn.Dropout(0.2)

    def encode(self, src):
        E, (hn, cn) = self.encoder(self.drop(self.src_emb(src)))
        h0 = torch.tanh(self.bridge(torch.cat([hn[0], hn[1]], -1))).unsqueeze(0)
        c0 = self.bridge_c(torch.cat([cn[0], cn[1]], -1)).unsqueeze(0)
        Eb = E.transpose(0, 1)                      # (B, S, 2H)
        return Eb, self.attention(Eb), (h0, c0)     # keys (B, S, H)

    def attend(self, H, Eb, K, mask):
        """H (T, B, H) -> attentional vectors (T, B, H)."""
        Hb = H.transpose(0, 1)                      # (B, T, H)
        sc = torch.bmm(Hb, K.transpose(1, 2))       # (B, T, S)
        sc = sc.masked_fill(mask.unsqueeze(1), float("-inf"))
        ctx = torch.bmm(torch.softmax(sc, -1), Eb)  # (B, T, 2H)
        att = torch.tanh(self.combine(torch.cat([ctx, Hb], -1)))
        return self.drop(att).transpose(0, 1)

    def forward(self, src, mask, tgt_in):
        Eb, K, st = self.encode(src)
        H, _ = self.decoder(self.drop(self.tgt_emb(tgt_in)), st)
        return self.out(self.attend(H, Eb, K, mask))


net = Seq2Seq(a.embed, a.hidden)
g = torch.Generator().manual_seed(7)
src = torch.randint(1, VS, (a.src, a.batch), generator=g)
mask = torch.zeros(a.batch, a.src, dtype=torch.bool)
y = torch.randint(3, VT, (a.tgt, a.batch), generator=g)
tgt_out = torch.cat([y, torch.full((1, a.batch), EOS)])
tgt_in = torch.cat([torch.full((1, a.batch), BOS), y])
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
if a.mode == "decode":
    net.eval()
    with torch.no_grad():
        net.out.bias[EOS] = -100.0  # every word runs tgt steps, as recur's side


def step():
    if a.mode == "train":
        opt.zero_grad()
        logits = net(src, mask, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, VT), tgt_out.reshape(-1), label_smoothing=0.1)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        return
    with torch.no_grad():
        Eb, K, st = net.encode(src)
        tok = torch.full((1, a.batch), BOS)
        for t in range(a.tgt + 1):
            H, st = net.decoder(net.tgt_emb(tok), st)
            lp = torch.log_softmax(net.out(net.attend(H, Eb, K, mask)), -1)
            if t == a.tgt:
                break  # </s> is forced at the maximum length
            lp[..., BOS] = float("-inf")
            tok = lp.argmax(-1)


times = []
start = None
it = -a.warmup
while True:
    if it == 0:
        start = time.perf_counter()
    if it >= 0 and (len(times) >= a.max_iters or (len(times) >= a.min_iters and time.perf_counter() - start >= a.min_time)):
        break
    t0 = time.perf_counter()
    step()
    if it >= 0:
        times.append(time.perf_counter() - t0)
    it += 1
med = statistics.median(times)
print(json.dumps({"tok_s": a.batch / med, "iters": len(times),
                  "peak_mib": (status_kib("VmHWM") - base_kib) / 1024.0}))
