"""PyTorch side of bench/first_speed.sh: forward+backward tokens per second
of nn.LSTM/GRU/RNN on the same configuration as bench/lstm_speed.c (float
inputs, gradient of a fixed random linear function of the outputs), the
median of timed iterations after warm-up.  Prints one number."""
import argparse
import statistics
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn_tanh"])
p.add_argument("--hidden", type=int, default=512)
p.add_argument("--layers", type=int, default=2)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--steps", type=int, default=64)
p.add_argument("--iters", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
H = a.hidden
mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn_tanh": torch.nn.RNN}[a.cell](H, H, a.layers)
x = torch.rand(a.steps, a.batch, H) - 0.5
dy = torch.rand(a.steps, a.batch, H) - 0.5
times = []
for it in range(a.warmup + a.iters):
    t0 = time.perf_counter()
    mod.zero_grad()
    y, _ = mod(x)
    y.backward(dy)
    if it >= a.warmup:
        times.append(time.perf_counter() - t0)
print("%.1f" % (a.steps * a.batch / statistics.median(times)))
