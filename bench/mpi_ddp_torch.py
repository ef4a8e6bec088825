"""PyTorch side of bench/mpi.sh: the language models of the data-parallel
benchmark trained with DistributedDataParallel (gloo) on --procs processes
of one thread each, or in one process (--procs 1) with --threads threads.

Model as recur's presets build it: embedding -> dropout -> LSTM stack
(dropout between layers) -> dropout -> linear decoder -> cross-entropy;
the state carried (detached) from step to step; global batch --batch
split over the processes (each its share of the streams); SGD with
clip_grad_norm_ (zaremba-medium) or Adam (char-rnn).  Token ids are drawn
at random: speed does not depend on them.  Prints one JSON line from rank
0: tokens per second of the global batch over the timed steps (after
--warmup steps) and the seconds per step spent in DDP's allreduce hooks is
not separable, so only the total is reported.
"""
import argparse
import json
import os
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

p = argparse.ArgumentParser()
p.add_argument("--vocab", type=int, required=True)
p.add_argument("--embed", type=int, required=True)
p.add_argument("--hidden", type=int, required=True)
p.add_argument("--layers", type=int, default=2)
p.add_argument("--bptt", type=int, required=True)
p.add_argument("--batch", type=int, required=True)
p.add_argument("--dropout", type=float, default=0.0)
p.add_argument("--optim", choices=["sgd", "adam"], default="sgd")
p.add_argument("--lr", type=float, default=1.0)
p.add_argument("--clip", type=float, default=5.0)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--procs", type=int, default=2)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--port", type=int, default=29517)
a = p.parse_args()


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(a.vocab, a.embed)
        self.drop = torch.nn.Dropout(a.dropout)
        self.rnn = torch.nn.LSTM(a.embed, a.hidden, a.layers, dropout=a.dropout)
        self.dec = torch.nn.Linear(a.hidden, a.vocab)

    def forward(self, x, h):
        y, h = self.rnn(self.drop(self.emb(x)), h)
        return self.dec(self.drop(y)), h


def run(rank, procs):
    torch.set_num_threads(a.threads)
    if procs > 1:
        os.environ["MASTER_ADDR"] = "127.0.0.1"
        os.environ["MASTER_PORT"] = str(a.port)
        dist.init_process_group("gloo", rank=rank, world_size=procs)
    torch.manual_seed(1)
    net = Net()
    model = torch.nn.parallel.DistributedDataParallel(net) if procs > 1 else net
    share = a.batch * (rank + 1) // procs - a.batch * rank // procs
    opt = (torch.optim.SGD(model.parameters(), lr=a.lr) if a.optim == "sgd"
           else torch.optim.Adam(model.parameters(), lr=a.lr))
    g = torch.Generator().manual_seed(100 + rank)
    h = None
    t0 = None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            if procs > 1:
                dist.barrier()
            t0 = time.perf_counter()
        x = torch.randint(0, a.vocab, (a.bptt, share), generator=g)
        y = torch.randint(0, a.vocab, (a.bptt, share), generator=g)
        opt.zero_grad()
        out, h = model(x, h)
        h = tuple(s.detach() for s in h)
        # this share's part of the global batch's mean (as recur scales it)
        loss = torch.nn.functional.cross_entropy(out.view(-1, a.vocab), y.view(-1),
                                                 reduction="sum") / (a.bptt * a.batch)
        if a.optim == "sgd":
            loss = loss * a.bptt  # Zaremba's scale: summed over the steps
        # DDP averages over the processes; recur sums the shares: scale alike
        (loss * procs).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
    if procs > 1:
        dist.barrier()
    dt = time.perf_counter() - t0
    if rank == 0:
        print(json.dumps({"procs": procs, "threads": a.threads,
                          "tokens_per_s": a.steps * a.bptt * a.batch / dt,
                          "seconds_per_step": dt / a.steps}), flush=True)
    if procs > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    if a.procs > 1:
        mp.spawn(run, args=(a.procs,), nprocs=a.procs, join=True)
    else:
        run(0, 1)
