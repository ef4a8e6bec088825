#!/usr/bin/python3
"""lm_interop.py - recur's language-model files and PyTorch, both directions.

1. recur -> torch: `recur lm train` makes small models (word LSTM, word GRU,
   LSTM with projection, tied LSTM, character Elman RNN); each file is read
   here by hand (8-byte header length, JSON header, raw F32 data), loaded into
   torch.nn.Embedding + LSTM/GRU/RNN + Linear, and its perplexity computed in
   float64 under the convention of `recur lm eval`; it must match recur's
   within 1e-4 relative.
2. torch -> recur: models made in PyTorch (random weights) are written in the
   same layout by hand (no safetensors package) with recur.format,
   recur.config and recur.vocab, and `recur lm eval` must give PyTorch's
   perplexity within 1e-4 relative.

Usage: /usr/bin/python3 tests/lm_interop.py [PATH/TO/recur]  (default build/recur)
Exit status: 0 when every case agrees, 1 on a mismatch, 77 when torch is missing.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:  # pragma: no cover
    print("SKIP lm_interop: torch is not installed")
    sys.exit(77)

RECUR = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("RECUR_BIN", "build/recur")
TOL = 1e-4


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", (name, info["dtype"])
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + b : base + e]), dtype=torch.float32)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, meta


def write_safetensors(path, tensors, meta):
    header = {"__metadata__": meta}
    blobs, off = [], 0
    for name, t in tensors.items():
        raw = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


class LM(torch.nn.Module):
    """Embedding -> torch RNN -> Linear, named as recur's files name them."""

    def __init__(self, cfg):
        super().__init__()
        V, E, H = cfg["vocab_size"], cfg["embed_size"], cfg["hidden_size"]
        L, P = cfg["num_layers"], cfg["proj_size"]
        self.embedding = torch.nn.Embedding(V, E)
        cell = cfg["cell"]
        if cell == "lstm":
            self.rnn = torch.nn.LSTM(E, H, L, proj_size=P)
        elif cell == "gru":
            assert cfg["gru_form"] == "reset_after", "PyTorch's GRU is the reset-after form"
            self.rnn = torch.nn.GRU(E, H, L)
        else:
            self.rnn = torch.nn.RNN(E, H, L, nonlinearity="tanh" if cell == "rnn_tanh" else "relu")
        self.decoder = torch.nn.Linear(P if P else H, V)

    def nll(self, ids):
        """Summed -log p of ids[1:] given the prefix, one stream from zeros."""
        x = torch.tensor(ids[:-1]).unsqueeze(1)
        y = torch.tensor(ids[1:])
        out, _ = self.rnn(self.embedding(x))
        logits = self.decoder(out.squeeze(1))
        return torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()


def tokens(text, level):
    if level == "char":
        return list(text)
    toks = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        toks += line.split() + ["<eos>"]
    return toks


def torch_ppl(model, vocab, level, text):
    idx = {t: i for i, t in enumerate(vocab)}
    unk = idx.get("<unk>")
    ids = [idx.get(t, unk) for t in tokens(text, level)]
    if level == "word":
        ids = [idx["<eos>"]] + ids  # the first context is <eos>
    with torch.no_grad():
        nll = model.double().nll(ids)
    return math.exp(nll / (len(ids) - 1)), len(ids) - 1


def recur_eval(path, text_path):
    r = subprocess.run([RECUR, "lm", "eval", "--json", path, text_path], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"recur lm eval failed: {r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def corpus(seed, lines):
    subj = ["the cat", "a dog", "my friend", "the old man", "a bird"]
    verb = ["sees", "likes", "eats", "finds", "follows", "hears"]
    obj = ["the fish", "a ball", "the tall tree", "some bread", "the house", "a song"]
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(lines):
        a, b, c = (int(torch.randint(len(s), (1,), generator=g)) for s in (subj, verb, obj))
        out.append(f"{subj[a]} {verb[b]} {obj[c]}")
    return "\n".join(out) + "\n"


def check(name, ours, theirs, n_ours, n_theirs):
    rel = abs(ours - theirs) / theirs
    ok = rel <= TOL and n_ours == n_theirs
    print(f"{'ok  ' if ok else 'FAIL'} {name:40s} recur {ours:.6f}  torch {theirs:.6f}  rel {rel:.2e}  tokens {n_ours}/{n_theirs}")
    return ok


def main():
    ok = True
    with tempfile.TemporaryDirectory(prefix="recur_interop_") as d:
        train, valid, test = (os.path.join(d, f) for f in ("train.txt", "valid.txt", "test.txt"))
        for path, seed, n in ((train, 1, 400), (valid, 2, 40), (test, 3, 50)):
            with open(path, "w") as f:
                f.write(corpus(seed, n))
        with open(test) as f:
            test_text = f.read()

        # 1. recur -> torch
        cases = [
            ("word lstm 2 layers", ["--cell", "lstm", "--layers", "2", "--hidden", "24"], "word"),
            ("word gru", ["--cell", "gru", "--layers", "2", "--hidden", "20"], "word"),
            ("word lstm projection", ["--cell", "lstm", "--hidden", "24", "--proj", "12"], "word"),
            ("word lstm tied", ["--cell", "lstm", "--hidden", "16", "--tied"], "word"),
            ("char rnn-tanh", ["--cell", "rnn-tanh", "--hidden", "24", "--level", "char",
                               "--optim", "adam", "--lr", "0.01", "--loss-scale", "mean"], "char"),
        ]
        for i, (name, args, level) in enumerate(cases):
            out = os.path.join(d, f"run{i}")
            cmd = [RECUR, "lm", "train", train, valid, "--out", out, "--epochs", "1", "--bptt", "10",
                   "--batch", "8", "--progress", "none", "--threads", "1"] + args
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL {name}: recur lm train: {r.stderr}")
                ok = False
                continue
            path = os.path.join(out, "best.safetensors")
            tensors, meta = read_safetensors(path)
            cfg = json.loads(meta["recur.config"])
            vocab = json.loads(meta["recur.vocab"])
            assert cfg["task"] == "lm" and cfg["level"] == level
            model = LM(cfg)
            model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("optimizer.")})
            theirs, n_theirs = torch_ppl(model, vocab, level, test_text)
            res = recur_eval(path, test)
            ok &= check("recur->torch " + name, res["perplexity"], theirs, res["predicted"], n_theirs)

        # 2. torch -> recur
        vocab = ["<eos>", "<unk>"] + sorted(set(tokens(corpus(1, 400), "word")) - {"<eos>"})
        chars = sorted(set(corpus(1, 400))) + ["<unk>"]
        tcases = [
            ("word lstm", "lstm", 2, 20, 0, "word", vocab),
            ("word lstm projection", "lstm", 1, 20, 8, "word", vocab),
            ("word gru", "gru", 2, 16, 0, "word", vocab),
            ("word rnn-relu", "rnn_relu", 1, 16, 0, "word", vocab),
            ("char lstm", "lstm", 1, 16, 0, "char", chars),
        ]
        torch.manual_seed(0)
        for name, cell, L, H, P, level, voc in tcases:
            E = 12
            cfg = {"cell": cell, "gru_form": "reset_after", "input_size": E, "hidden_size": H,
                   "proj_size": P, "num_layers": L, "bidirectional": False, "residual": False,
                   "dropout": 0.0, "vocab_size": len(voc), "embed_size": E, "output_size": len(voc),
                   "tied": False, "dropout_embed": 0.0, "dropout_output": 0.0,
                   "task": "lm", "level": level}
            model = LM(cfg)
            with torch.no_grad():  # larger weights than the default, for sharper distributions
                for p in model.parameters():
                    p.mul_(2.0)
            path = os.path.join(d, f"torch_{cell}_{level}_{P}.safetensors")
            meta = {"format": "pt", "recur.format": "1", "recur.config": json.dumps(cfg),
                    "recur.vocab": json.dumps(voc, ensure_ascii=False)}
            write_safetensors(path, dict(model.state_dict()), meta)
            theirs, n_theirs = torch_ppl(model, voc, level, test_text)
            res = recur_eval(path, test)
            ok &= check("torch->recur " + name, res["perplexity"], theirs, res["predicted"], n_theirs)
    print("lm_interop: " + ("all cases agree" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
