#!/usr/bin/python3
"""recur against PyTorch on the same configurations, in one run, alternating.

usage: /usr/bin/python3 bench/speed.py [--envs asis,unset] [--threads 1,2]
           [--configs all|name,...] [--rounds 3] [--min-time 1.5]
           [--tagger CONLL_DIR] [--tagger-only] [--tagger-time 10]
           [--text PTB_TEST] [--lines N] [--sentence-batch 64]
           [--precisions fp32[,bf16][,int8]] [--torch-bf16]
           [--sections lm,classify] [--sst ../shared/data/sst/train.txt]
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
Tagger (--tagger DIR with eng.train and eng.testa of CoNLL-2003): the
BiLSTM-CRF entity tagger of `recur tag train` (bench/speed_tag.c) beside the
same model in PyTorch with its CRF in plain torch ops as NCRF++ writes it
(bench/speed_tag_torch.py): training sentences per second (batches of 10,
SGD with momentum, clipping) and tagging sentences per second (the
development file in batches of 64, Viterbi), for the CRF and the softmax
output, with and without the character BiLSTM.
except that recur's generation of a character model reads layer 0's input
products from a table of e_v W_ih^T (one row per character, made once), so
its count leaves out layer 0's 2*G*H*embed: each side's GF column counts
the work that side does (tokens/s are measured, not derived).

Sentence scoring (configuration ptb-sentences, included in "all"): every
line of PTB test (--text; --lines N: the first N) scored on its own from a
fresh state, with the ptb-small model's shapes, by build/bench/score_sentences
(recur_lm_score_batch) one line at a time (batch 1) and --sentence-batch
lines side by side, and by bench/score_sentences_torch.py batched the same
way (sorted by length, padded, the decoder on real positions only) under
PyTorch's thread settings as above, the fastest kept.  The table gives
sentences per second (median over rounds) and the ratios.

--precisions adds columns for recur at other precisions, run in the same
rounds: bf16 = training and scoring with bfloat16 products
(recur_model_set_precision; AMX or AVX512-BF16), generation with bfloat16
weights in the stepper; int8 = generation with int8 weights (one scale per
output row); "-" where a precision does not apply.  Each gets its tokens per
second and its ratios to recur fp32 (x32) and to PyTorch's best (xT).
--torch-bf16 adds PyTorch under torch.autocast("cpu", torch.bfloat16)
(oneDNN's bfloat16 products) at its intra-op thread count = threads.

g2p-train and g2p-decode (included in "all") time the encoder-decoder
(build/bench/speed_seq2seq against bench/speed_seq2seq_torch.py): training
steps and greedy decoding of 64 words at a time, in words per second (the
tok/s columns); the other precisions do not apply to them.

Peak memory is each process's peak resident set less its resident set
before the model was built (after `import torch` for PyTorch), MiB.

The classifier section (--sections classify) runs build/bench/speed_classify
and bench/speed_classify_torch.py on SST-2's 6,920 training sentences: the
same classifier (embedding, recurrent stack, pooling, linear, softmax
cross-entropy; PyTorch reads packed sequences, so padding reaches neither
side's reverse direction), batches of similar length, Adam with clipping at
5.  It reports training and prediction sentences per second (prediction:
every sentence in length order, batches of 64), PyTorch at its fastest
thread setting for each.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECUR = os.path.join(ROOT, "build", "bench", "speed")
RECUR_SENT = os.path.join(ROOT, "build", "bench", "score_sentences")
TORCH_SENT = os.path.join(ROOT, "bench", "score_sentences_torch.py")
# the ptb-small model's shapes: vocab, embed, hidden, layers
SENTENCE_MODEL = ["--vocab", "10000", "--embed", "200", "--hidden", "200", "--layers", "2"]
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

RECUR_CLS = os.path.join(ROOT, "build", "bench", "speed_classify")
TORCH_CLS = os.path.join(ROOT, "bench", "speed_classify_torch.py")
# name: options of both classifier benchmarks (SST-2 sentences, 2 classes)
CLASSIFY_CONFIGS = [
    ("sst2-bilstm-max", {"cell": "lstm", "embed": 300, "hidden": 150, "layers": 1, "bidir": 1,
                         "pool": "max", "batch": 32, "dropout": 0.5}),
    ("sst2-bilstm-attention", {"cell": "lstm", "embed": 300, "hidden": 150, "layers": 1, "bidir": 1,
                               "pool": "attention", "batch": 32, "dropout": 0.5}),
    ("sst2-gru-last", {"cell": "gru", "embed": 300, "hidden": 300, "layers": 1, "bidir": 0,
                       "pool": "last", "batch": 32, "dropout": 0.5}),
]


def flops_per_token(c, side="torch"):
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
        if side == "recur" and mode == "generate" and layer == 0:
            inp = 0  # recur's stepper reads e_v W_ih^T from its table
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


def torch_settings(threads):
    if threads == 1:
        return [("1 thread", 1, {})]
    return [("torch 1, BLAS %d" % threads, 1, {}),
            ("torch %d" % threads, threads, {}),
            ("torch %d, PASSIVE" % threads, threads, {"OMP_WAIT_POLICY": "PASSIVE"})]


def sentence_rows(a, spec, text):
    """One-at-a-time, batched and PyTorch batched sentence scoring."""
    hdr = "%-17s %3s %12s %12s %12s %8s %8s  %s" % (
        "configuration", "thr", "recur 1 s/s", "recur B s/s", "torch B s/s", "B / 1", "vs torch",
        "torch setting")
    print("\nsentence scoring, %s (sentences per second, batch %d)" % (text, a.sentence_batch))
    print(hdr)
    print("-" * len(hdr))
    timing = ["--min-time", str(a.min_time), "--text", text]
    for threads in [int(t) for t in a.threads.split(",")]:
        ones, ours, theirs = [], [], {s[0]: [] for s in torch_settings(threads)}
        for _ in range(a.rounds):
            ones.append(run([RECUR_SENT] + SENTENCE_MODEL + timing + ["--batch", "1", "--threads", str(threads)],
                            make_env(spec, threads, {})))
            ours.append(run([RECUR_SENT] + SENTENCE_MODEL + timing +
                            ["--batch", str(a.sentence_batch), "--threads", str(threads)],
                            make_env(spec, threads, {})))
            for label, tt, extra in torch_settings(threads):
                theirs[label].append(run(["/usr/bin/python3", TORCH_SENT] + SENTENCE_MODEL + timing +
                                         ["--batch", str(a.sentence_batch), "--torch-threads", str(tt)],
                                         make_env(spec, threads, extra)))
        r1 = statistics.median(r["sent_s"] for r in ones)
        rb = statistics.median(r["sent_s"] for r in ours)
        best, ts = None, 0.0
        for label, rows in theirs.items():
            v = statistics.median(r["sent_s"] for r in rows)
            if v > ts:
                best, ts = label, v
        print("%-17s %3d %12.1f %12.1f %12.1f %8.2f %8.2f  %s" % (
            "ptb-sentences", threads, r1, rb, ts, rb / r1, rb / ts, best), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", default="asis,unset")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--configs", default="all")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=1.5)
    ap.add_argument("--text", default="")
    ap.add_argument("--lines", type=int, default=0)
    ap.add_argument("--sentence-batch", type=int, default=64)
    ap.add_argument("--precisions", default="fp32")
    ap.add_argument("--torch-bf16", action="store_true")
    ap.add_argument("--sections", default="lm,classify")
    ap.add_argument("--sst", default=os.path.join(ROOT, "..", "shared", "data", "sst", "train.txt"))
    ap.add_argument("--tagger", default="", help="CoNLL-2003 folder: run the tagger section")
    ap.add_argument("--tagger-only", action="store_true")
    ap.add_argument("--tagger-time", type=float, default=10)
    a = ap.parse_args()
    if a.tagger:
        tagger_section(a)
        if a.tagger_only:
            return
    sections = a.sections.split(",")
    if "classify" in sections:
        classify_section(a)
    if "lm" not in sections:
        return
    extra_prec = [p for p in a.precisions.split(",") if p != "fp32"]
    for p in extra_prec:
        if p not in ("bf16", "int8"):
            sys.exit("bench/speed.py: --precisions: fp32, bf16 or int8, not %s" % p)
    if not os.access(RECUR, os.X_OK) or not os.access(RECUR_SENT, os.X_OK):
        sys.exit("bench/speed.py: %s or %s missing: run `make` first" % (RECUR, RECUR_SENT))
    configs = CONFIGS if a.configs == "all" else [c for c in CONFIGS if c[0] in a.configs.split(",")]
    sentences = a.configs == "all" or "ptb-sentences" in a.configs.split(",")
    text = None
    if sentences:
        text = a.text
        if not text:
            for d in (os.path.join(ROOT, "..", "shared", "data", "ptb"), "/work/shared/data/ptb"):
                if os.path.exists(os.path.join(d, "ptb.test.txt")):
                    text = os.path.join(d, "ptb.test.txt")
                    break
        if not text or not os.path.exists(text):
            sys.exit("bench/speed.py: no PTB test file for ptb-sentences (give --text)")
        if a.lines > 0:
            cut = "/tmp/speed_sentences_%d.txt" % os.getpid()
            with open(text, encoding="utf-8") as f, open(cut, "w", encoding="utf-8") as g:
                for i, line in enumerate(f):
                    if i >= a.lines:
                        break
                    g.write(line)
            text = cut
    if not configs and not sentences:
        sys.exit("bench/speed.py: no configuration named %s" % a.configs)
    timing = ["--min-time", str(a.min_time)]
    hdr = "%-17s %3s %11s %11s %6s %8s %8s %8s %8s  %s" % (
        "configuration", "thr", "recur tok/s", "torch tok/s", "ratio", "recur GF", "torch GF",
        "recur MiB", "torch MiB", "torch setting")
    for p in extra_prec:
        hdr += "  %9s %5s %5s" % ("recur " + p, "x32", "xT")
    if a.torch_bf16:
        hdr += "  %10s" % "torch bf16"
    for spec in a.envs.split(","):
        print("\n== %s" % env_label(spec))
        if sentences:
            sentence_rows(a, spec, text)
        if not configs:
            continue
        print(hdr)
        print("-" * len(hdr))
        for name, c in configs:
            fl, fl_recur = flops_per_token(c), flops_per_token(c, "recur")
            for threads in [int(t) for t in a.threads.split(",")]:
                settings = [("1 thread", 1, {})]
                if threads > 1:
                    settings = [("torch 1, BLAS %d" % threads, 1, {}),
                                ("torch %d" % threads, threads, {}),
                                ("torch %d, PASSIVE" % threads, threads, {"OMP_WAIT_POLICY": "PASSIVE"})]
                ours, theirs = [], {s[0]: [] for s in settings}
                s2s = c[0].startswith("s2s")
                ours_exe, theirs_exe = (RECUR_S2S, TORCH_S2S) if s2s else (RECUR, TORCH)
                applies = {p: not s2s and (p == "bf16" or c[0] == "generate") for p in extra_prec}
                other = {p: [] for p in extra_prec}
                autocast = []
                for _ in range(a.rounds):
                    ours.append(run([ours_exe] + args_of(c) + timing + ["--threads", str(threads)],
                                    make_env(spec, threads, {})))
                    for p in extra_prec:
                        if applies[p]:
                            other[p].append(run([RECUR] + args_of(c) + timing + ["--threads", str(threads),
                                                                                 "--precision", p],
                                                make_env(spec, threads, {})))
                    if a.torch_bf16 and not s2s:
                        autocast.append(run(["/usr/bin/python3", TORCH] + args_of(c) + timing +
                                            ["--torch-threads", str(threads), "--autocast", "1"],
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
                line = "%-17s %3d %11.0f %11.0f %6.2f %8.1f %8.1f %8.1f %8.1f  %-17s" % (
                    name, threads, rs, ts, rs / ts, rs * fl_recur / 1e9, ts * fl / 1e9, rm, tm, best)
                for p in extra_prec:
                    if applies[p]:
                        v = statistics.median(r["tok_s"] for r in other[p])
                        line += "  %9.0f %5.2f %5.2f" % (v, v / rs, v / ts)
                    else:
                        line += "  %9s %5s %5s" % ("-", "-", "-")
                if a.torch_bf16 and autocast:
                    line += "  %10.0f" % statistics.median(r["tok_s"] for r in autocast)
                print(line.rstrip(), flush=True)
    if text and a.lines > 0:
        os.unlink(text)
    if not configs:
        return
    print("\nFLOPs per token (matrix products): " +
          ", ".join("%s %.2fM" % (n, flops_per_token(c) / 1e6) +
                    (" (recur %.2fM)" % (flops_per_token(c, "recur") / 1e6)
                     if flops_per_token(c, "recur") != flops_per_token(c) else "")
                    for n, c in configs))


def classify_section(a):
    if not os.access(RECUR_CLS, os.X_OK):
        sys.exit("bench/speed.py: %s missing: run `make` first" % RECUR_CLS)
    names = a.configs.split(",")
    configs = [c for c in CLASSIFY_CONFIGS if a.configs == "all" or c[0] in names]
    hdr = "%-22s %3s %9s %9s %6s %9s %9s %6s %8s %8s  %s" % (
        "classifier (sent/s)", "thr", "recur trn", "torch trn", "ratio", "recur prd", "torch prd",
        "ratio", "recur MiB", "torch MiB", "torch setting (train / predict)")
    timing = ["--min-time", str(a.min_time), "--data", a.sst]
    for spec in a.envs.split(","):
        print("\n== classifier section: %s" % env_label(spec))
        print(hdr)
        print("-" * len(hdr))
        for name, opts in configs:
            args = []
            for k, v in opts.items():
                args += ["--" + k, str(v)]
            for threads in [int(t) for t in a.threads.split(",")]:
                settings = torch_settings(threads)
                ours, theirs = [], {s[0]: [] for s in settings}
                for _ in range(a.rounds):
                    ours.append(run([RECUR_CLS] + args + timing + ["--threads", str(threads)],
                                    make_env(spec, threads, {})))
                    for label, tt, extra in settings:
                        theirs[label].append(run(["/usr/bin/python3", TORCH_CLS] + args + timing +
                                                 ["--torch-threads", str(tt)],
                                                 make_env(spec, threads, extra)))
                row = [name, threads]
                best = {}
                for key in ("train_s", "predict_s"):
                    rs = statistics.median(r[key] for r in ours)
                    lab, ts = max(((label, statistics.median(r[key] for r in rows))
                                   for label, rows in theirs.items()), key=lambda x: x[1])
                    best[key] = lab
                    row += [rs, ts, rs / ts]
                rm = max(r["peak_mib"] for r in ours)
                tm = max(r["peak_mib"] for rows in theirs.values() for r in rows)
                print("%-22s %3d %9.0f %9.0f %6.2f %9.0f %9.0f %6.2f %8.1f %8.1f  %s / %s" % (
                    tuple(row) + (rm, tm, best["train_s"], best["predict_s"])), flush=True)


RECUR_TAG = os.path.join(ROOT, "build", "bench", "speed_tag")
TORCH_TAG = os.path.join(ROOT, "bench", "speed_tag_torch.py")
# name: (crf, chars)
TAGGERS = [("bilstm-crf+chars", (1, 1)), ("bilstm-crf", (1, 0)), ("bilstm-softmax+chars", (0, 1))]


def tagger_section(a):
    if not os.access(RECUR_TAG, os.X_OK):
        sys.exit("bench/speed.py: %s missing: run `make` first" % RECUR_TAG)
    files = [os.path.join(a.tagger, "eng.train"), os.path.join(a.tagger, "eng.testa")]
    hdr = "%-21s %3s %10s %10s %6s %10s %10s %6s %9s %9s  %s" % (
        "tagger", "thr", "recur tr/s", "torch tr/s", "ratio", "recur tg/s", "torch tg/s", "ratio",
        "recur MiB", "torch MiB", "torch setting")
    for spec in a.envs.split(","):
        print("\n== tagger, sentences per second (tr: training, tg: tagging); %s" % env_label(spec))
        print(hdr)
        print("-" * len(hdr))
        for name, (crf, chars) in TAGGERS:
            extra = ["--min-time", str(a.tagger_time), "--crf", str(crf), "--chars", str(chars)]
            for threads in [int(t) for t in a.threads.split(",")]:
                settings = [("1 thread", 1, {})]
                if threads > 1:
                    settings = [("torch 1, BLAS %d" % threads, 1, {}), ("torch %d" % threads, threads, {})]
                ours, theirs = [], {s[0]: [] for s in settings}
                for _ in range(a.rounds):
                    ours.append(run([RECUR_TAG] + files + extra + ["--threads", str(threads)],
                                    make_env(spec, threads, {})))
                    for label, tt, env_extra in settings:
                        theirs[label].append(run(["/usr/bin/python3", TORCH_TAG] + files + extra +
                                                 ["--torch-threads", str(tt)], make_env(spec, threads, env_extra)))
                rtr = statistics.median(r["train_sent_s"] for r in ours)
                rtg = statistics.median(r["tag_sent_s"] for r in ours)
                best, ttr = None, 0.0
                for label, rows in theirs.items():
                    v = statistics.median(r["train_sent_s"] for r in rows)
                    if v > ttr:
                        best, ttr = label, v
                ttg = max(statistics.median(r["tag_sent_s"] for r in rows) for rows in theirs.values())
                print("%-21s %3d %10.1f %10.1f %6.2f %10.1f %10.1f %6.2f %9.1f %9.1f  %s" % (
                    name, threads, rtr, ttr, rtr / ttr, rtg, ttg, rtg / ttg,
                    max(r["peak_mib"] for r in ours), max(r["peak_mib"] for r in theirs[best]), best),
                    flush=True)


if __name__ == "__main__":
    main()
