#!/usr/bin/python3
"""recur against PyTorch on the same configurations, in one run, alternating.

usage: /usr/bin/python3 bench/speed.py [--envs asis,unset] [--threads 1,2]
           [--configs all|name,...] [--rounds 3] [--min-time 1.5]
(run `make` first: it needs build/bench/speed; PyTorch is Debian's
python3-torch, imported only by bench/speed_torch.py.)

For every environment, configuration and thread count it runs, `rounds`
times and alternating, build/bench/speed (recur) and bench/speed_torch.py
under each of PyTorch's thread settings, each as a fresh process.  Each
process prints the median tokens per second of its timed steps after
warm-up; the table gives the median over rounds.  PyTorch is given its
fastest setting: at 2 threads it is tried with 1 intra-op thread (OpenBLAS
on 2), with 2, and with 2 and OMP_WAIT_POLICY=PASSIVE, and the table keeps
the fastest (column "torch setting").  Both sides get the same OpenBLAS
thread count (OPENBLAS_NUM_THREADS = threads) and the same environment.

Environments (--envs): asis = the environment as it is; unset =
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (Debian's OpenBLAS 0.3.21 then
falls back to its SSE3 kernels on this CPU); any other word W runs with
OPENBLAS_CORETYPE=W (SkylakeX: OpenBLAS's AVX-512 kernels).

FLOPs per token count the matrix products only (element-wise work, softmax
and optimiser are not counted), 2*M*N*K each:
  forward  = sum over layers and directions of 2*G*H*(in + H)
             (G = 4 LSTM, 3 GRU, 1 RNN; in = embedding size for layer 0,
             D*H above) + 2*D*H*O for the decoder
  train    = 3 * forward (the forward products, then the gradients of
             their inputs and of their weights)
  score, generate = forward
g2p-train and g2p-decode time the encoder-decoder (bench/speed_seq2seq.c
against bench/speed_seq2seq_torch.py): training steps and greedy decoding
of 64 words at a time, in words per second.
Peak memory is each process's peak resident set less its resident set
before the model was built (after `import torch` for PyTorch), MiB.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECUR = os.path.join(ROOT, "build", "bench", "speed")
TORCH = os.path.join(ROOT, "bench", "speed_torch.py")

# name: (mode, cell, vocab, embed, hidden, layers, bidir, out, batch, steps, dropout)
CONFIGS = [
    ("char-lstm", ("train", "lstm", 65, 512, 512, 2, 0, 65, 32, 64, 0.0)),
    ("char-gru", ("train", "gru", 65, 512, 512, 2, 0, 65, 32, 64, 0.0)),
    ("char-rnn", ("train", "rnn_tanh", 65, 512, 512, 2, 0, 65, 32, 64, 0.0)),
    ("ptb-small", ("train", "lstm", 10000, 200, 200, 2, 0, 10000, 20, 20, 0.0)),
    ("ptb-medium", ("train", "lstm", 10000, 650, 650, 2, 0, 10000, 20, 35, 0.5)),
    ("bilstm-tagger", ("train", "lstm", 20000, 100, 200, 1, 1, 9, 32, 40, 0.0)),
    ("ptb-medium-score", ("score", "lstm", 10000, 650, 650, 2, 0, 10000, 20, 35, 0.0)),
    ("char-generate", ("generate", "lstm", 65, 512, 512, 2, 0, 65, 1, 64, 0.0)),
    # the encoder-decoder (bench/speed_seq2seq.c, bench/speed_seq2seq_torch.py):
    # G2P-sized, 64 words of 8 characters -> 7 phonemes + </s>, bi-LSTM 256
    # encoder, LSTM 256 decoder, general attention; rates are words/s
    ("g2p-train", ("s2s-train", "lstm", 28, 128, 256, 1, 1, 42, 64, 8, 0.2)),
    ("g2p-decode", ("s2s-decode", "lstm", 28, 128, 256, 1, 1, 42, 64, 8, 0.0)),
]
RECUR_S2S = os.path.join(ROOT, "build", "bench", "speed_seq2seq")
TORCH_S2S = os.path.join(ROOT, "bench", "speed_seq2seq_torch.py")
S2S_TGT = 7
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1}


def flops_per_token(c):
    mode, cell, vocab, embed, hidden, layers, bidir, out, batch, steps, dropout = c
    if mode.startswith("s2s"):
        # per word: the encoder over `steps` characters, the decoder, general
        # attention (keys, scores, context), combination and output over
        # S2S_TGT + 1 steps
        G, H, S, T = 4, hidden, steps, S2S_TGT + 1
        enc = S * 2 * 2 * G * H * (embed + H) + S * 2 * H * 2 * H
        dec = T * (2 * G * H * (embed + H) + 2 * 2 * S * 2 * H + 2 * H * 3 * H + 2 * H * out)
        return 3 * (enc + dec) if mode == "s2s-train" else enc + dec
    D = 2 if bidir else 1
    f = 0
    for layer in range(layers):
        inp = embed if layer == 0 else D * hidden
        f += D * 2 * GATES[cell] * hidden * (inp + hidden)
    f += 2 * D * hidden * out
    return 3 * f if mode == "train" else f


def args_of(c):
    mode, cell, vocab, embed, hidden, layers, bidir, out, batch, steps, dropout = c
    if mode.startswith("s2s"):
        return ["--mode", mode[4:], "--embed", str(embed), "--hidden", str(hidden),
                "--batch", str(batch), "--src", str(steps), "--tgt", str(S2S_TGT)]
    return ["--mode", mode, "--cell", cell, "--vocab", str(vocab), "--embed", str(embed),
            "--hidden", str(hidden), "--layers", str(layers), "--bidir", str(bidir),
            "--out", str(out), "--batch", str(batch), "--steps", str(steps),
            "--dropout", str(dropout)]


def make_env(spec, threads, extra):
    env = dict(os.environ)
    if spec != "asis":
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
        if spec != "unset":
            env["OPENBLAS_CORETYPE"] = spec
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env.update(extra)
    return env


def run(cmd, env):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("bench/speed.py: %s failed:\n%s" % (" ".join(cmd), p.stderr))
    return json.loads(p.stdout.strip().splitlines()[-1])


def env_label(spec):
    if spec == "asis":
        ct = os.environ.get("OPENBLAS_CORETYPE")
        l2 = os.environ.get("OPENBLAS_L2_SIZE")
        return "environment as it is (OPENBLAS_CORETYPE=%s, OPENBLAS_L2_SIZE=%s)" % (
            ct or "unset", l2 or "unset")
    if spec == "unset":
        return "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
    return "OPENBLAS_CORETYPE=%s, OPENBLAS_L2_SIZE unset" % spec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", default="asis,unset")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--configs", default="all")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=1.5)
    a = ap.parse_args()
    if not os.access(RECUR, os.X_OK):
        sys.exit("bench/speed.py: %s missing: run `make` first" % RECUR)
    configs = CONFIGS if a.configs == "all" else [c for c in CONFIGS if c[0] in a.configs.split(",")]
    if not configs:
        sys.exit("bench/speed.py: no configuration named %s" % a.configs)
    timing = ["--min-time", str(a.min_time)]
    hdr = "%-17s %3s %11s %11s %6s %8s %8s %8s %8s  %s" % (
        "configuration", "thr", "recur tok/s", "torch tok/s", "ratio", "recur GF", "torch GF",
        "recur MiB", "torch MiB", "torch setting")
    for spec in a.envs.split(","):
        print("\n== %s" % env_label(spec))
        print(hdr)
        print("-" * len(hdr))
        for name, c in configs:
            fl = flops_per_token(c)
            for threads in [int(t) for t in a.threads.split(",")]:
                settings = [("1 thread", 1, {})]
                if threads > 1:
                    settings = [("torch 1, BLAS %d" % threads, 1, {}),
                                ("torch %d" % threads, threads, {}),
                                ("torch %d, PASSIVE" % threads, threads, {"OMP_WAIT_POLICY": "PASSIVE"})]
                ours, theirs = [], {s[0]: [] for s in settings}
                s2s = c[0].startswith("s2s")
                ours_exe, theirs_exe = (RECUR_S2S, TORCH_S2S) if s2s else (RECUR, TORCH)
                for _ in range(a.rounds):
                    ours.append(run([ours_exe] + args_of(c) + timing + ["--threads", str(threads)],
                                    make_env(spec, threads, {})))
                    for label, tt, extra in settings:
                        theirs[label].append(run(["/usr/bin/python3", theirs_exe] + args_of(c) + timing +
                                                 ["--torch-threads", str(tt)],
                                                 make_env(spec, threads, extra)))
                rs = statistics.median(r["tok_s"] for r in ours)
                best, ts = None, 0.0
                for label, rows in theirs.items():
                    v = statistics.median(r["tok_s"] for r in rows)
                    if v > ts:
                        best, ts = label, v
                rm = max(r["peak_mib"] for r in ours)
                tm = max(r["peak_mib"] for r in theirs[best])
                print("%-17s %3d %11.0f %11.0f %6.2f %8.1f %8.1f %8.1f %8.1f  %s" % (
                    name, threads, rs, ts, rs / ts, rs * fl / 1e9, ts * fl / 1e9, rm, tm, best),
                    flush=True)
    print("\n(g2p-*: words/s instead of tokens/s, FLOPs per word)")
    print("FLOPs per token (matrix products): " +
          ", ".join("%s %.2fM" % (n, flops_per_token(c) / 1e6) for n, c in configs))


if __name__ == "__main__":
    main()
