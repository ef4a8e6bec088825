"""PyTorch side of bench/speed.py: one configuration, one thread setting.

Builds the same model as bench/speed.c ([embedding] -> LSTM/GRU/RNN stack ->
linear decoder -> cross-entropy) and times one of three modes:
  train     zero_grad, forward, cross-entropy, backward, clip_grad_norm_(5),
            SGD step; the recurrent state is carried (detached) from one
            batch to the next unless the stack is bidirectional
  score     forward and cross-entropy under torch.no_grad(), eval mode
  generate  batch 1, one token at a time: embedding, stack, decoder, argmax,
            the state carried, under torch.no_grad()
Prints one JSON line: tokens per second (median of the timed steps after
warm-up), the number of timed steps, and peak memory: the process's peak
resident set (VmHWM) at the end less its resident set after `import torch`,
in MiB.  OpenBLAS's thread count comes from the environment
(OPENBLAS_NUM_THREADS), PyTorch's intra-op threads from --torch-threads.
"""
import argparse
import json
import statistics
import time

import torch


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


p = argparse.ArgumentParser()
p.add_argument("--mode", choices=["train", "score", "generate"], required=True)
p.add_argument("--cell", choices=["lstm", "gru", "rnn_tanh"], default="lstm")
p.add_argument("--vocab", type=int, required=True)
p.add_argument("--embed", type=int, required=True)
p.add_argument("--hidden", type=int, required=True)
p.add_argument("--layers", type=int, default=2)
p.add_argument("--bidir", type=int, default=0)
p.add_argument("--out", type=int, required=True)
p.add_argument("--batch", type=int, required=True)
p.add_argument("--steps", type=int, required=True)
p.add_argument("--dropout", type=float, default=0.0)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--min-iters", type=int, default=5)
p.add_argument("--min-time", type=float, default=2.0)
p.add_argument("--max-iters", type=int, default=500)
p.add_argument("--torch-threads", type=int, default=1)
p.add_argument("--autocast", type=int, default=0,
               help="1: the step under torch.autocast('cpu', dtype=torch.bfloat16) (oneDNN's bf16 products)")
a = p.parse_args()

torch.set_num_threads(a.torch_threads)
base_kib = status_kib("VmRSS")
torch.manual_seed(1)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(a.vocab, a.embed)
        rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}[a.cell]
        self.rnn = rnn(a.embed, a.hidden, a.layers, dropout=a.dropout if a.layers > 1 else 0.0,
                       bidirectional=bool(a.bidir))
        self.drop = torch.nn.Dropout(a.dropout)
        self.dec = torch.nn.Linear(a.hidden * (2 if a.bidir else 1), a.out)

    def forward(self, x, state):
        y, state = self.rnn(self.drop(self.emb(x)), state)
        return self.dec(self.drop(y)), state


net = Net()
g = torch.Generator().manual_seed(2)
T, B = a.steps, a.batch


def detach(s):
    if s is None:
        return None
    if isinstance(s, tuple):
        return tuple(t.detach() for t in s)
    return s.detach()


times = []
tokens_per_iter = T * B
if a.mode == "train":
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x = torch.randint(0, a.vocab, (T, B), generator=g)
    y = torch.randint(0, a.out, (T, B), generator=g)
    state = None

    def step():
        global state
        opt.zero_grad(set_to_none=True)
        logits, st = net(x, None if a.bidir else detach(state))
        loss = torch.nn.functional.cross_entropy(logits.view(-1, a.out), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        state = st
elif a.mode == "score":
    net.eval()
    x = torch.randint(0, a.vocab, (T, B), generator=g)
    y = torch.randint(0, a.out, (T, B), generator=g)
    state = None

    def step():
        global state
        with torch.no_grad():
            logits, state = net(x, state)
            torch.nn.functional.cross_entropy(logits.view(-1, a.out), y.view(-1)).item()
else:
    net.eval()
    tokens_per_iter = T  # B is 1: T tokens generated per timed step
    state = None
    tok = torch.zeros(1, 1, dtype=torch.long)

    def step():
        global state, tok
        with torch.no_grad():
            for _ in range(T):
                logits, state = net(tok, state)
                tok = logits.view(-1).argmax().view(1, 1)

if a.autocast:
    plain_step = step

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            plain_step()

for _ in range(a.warmup):
    step()
start = time.perf_counter()
while len(times) < a.max_iters and (len(times) < a.min_iters or time.perf_counter() - start < a.min_time):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
peak_kib = status_kib("VmHWM")
print(json.dumps({"tok_s": tokens_per_iter / statistics.median(times), "iters": len(times),
                  "peak_mib": (peak_kib - base_kib) / 1024.0}))
