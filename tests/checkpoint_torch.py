#!/usr/bin/python3
"""Checks that a recur checkpoint loads into PyTorch and computes what recur does.

    /usr/bin/python3 tests/checkpoint_torch.py build/tests/ckpt_for_torch.safetensors

tests/test_checkpoint.c writes two files next to its binary:
  ckpt_for_torch.safetensors           a recur training checkpoint (model
                                       tensors, optimizer.* moments, recur.*
                                       metadata), written by recur_checkpoint_save
  ckpt_for_torch.expected.safetensors  inputs (tokens, lengths, h0, c0) and
                                       recur's outputs for them (y, logits, hn, cn)

This script parses both by hand (no safetensors package), builds
embedding -> nn.LSTM/GRU/RNN -> decoder from the file's recur.config, drops
the optimizer.* keys, loads the rest with load_state_dict(strict=True) - so
every name and shape must be PyTorch's - runs the packed sequences in float64
and compares every output with recur's: |a - b| <= 1e-5 (|b| + 0.1 s), s the
largest |b| of the tensor.  Exit status 0 when everything matches, 1 otherwise.
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TOL = 1e-5
NP_DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "u1"}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("%s: header length %d past the end" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, h in header.items():
        begin, end = h["data_offsets"]
        dt = np.dtype(NP_DTYPES[h["dtype"]])
        count = int(np.prod(h["shape"])) if h["shape"] else 1
        if end - begin != count * dt.itemsize or base + end > len(data):
            raise ValueError("%s: tensor %s has bad offsets" % (path, name))
        arr = np.frombuffer(data, dtype=dt, count=count, offset=base + begin).reshape(h["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


class Net(nn.Module):
    """recur's model: [embedding] -> recurrent stack -> [decoder]."""

    def __init__(self, cfg):
        super().__init__()
        cell = cfg["cell"]
        if cfg["residual"]:
            raise SystemExit("residual connections have no torch.nn module; cannot check")
        if cell == "gru" and cfg["gru_form"] != "reset_after":
            raise SystemExit("the reset-before GRU has no torch.nn module; cannot check")
        inp = cfg["embed_size"] if cfg["vocab_size"] > 0 else cfg["input_size"]
        kw = dict(num_layers=cfg["num_layers"], bidirectional=bool(cfg["bidirectional"]))
        if cell == "lstm":
            self.rnn = nn.LSTM(inp, cfg["hidden_size"], proj_size=cfg["proj_size"], **kw)
        elif cell == "gru":
            self.rnn = nn.GRU(inp, cfg["hidden_size"], **kw)
        else:
            self.rnn = nn.RNN(inp, cfg["hidden_size"], nonlinearity=cell[4:], **kw)
        self.embedding = nn.Embedding(cfg["vocab_size"], cfg["embed_size"]) if cfg["vocab_size"] > 0 else None
        D = 2 if cfg["bidirectional"] else 1
        width = D * (cfg["proj_size"] or cfg["hidden_size"])
        self.decoder = nn.Linear(width, cfg["output_size"]) if cfg["output_size"] > 0 else None
        if self.decoder is not None and cfg["tied"]:
            self.decoder.weight = self.embedding.weight
        self.lstm = cell == "lstm"

    def forward(self, inputs, lengths, h0, c0):
        x = self.embedding(inputs) if self.embedding is not None else inputs
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        if self.lstm:
            out, (hn, cn) = self.rnn(packed, (h0, c0))
        else:
            out, hn = self.rnn(packed, h0)
            cn = None
        y, _ = pad_packed_sequence(out, total_length=inputs.shape[0])
        logits = self.decoder(y) if self.decoder is not None else None
        return y, logits, hn, cn


def error(a, b):
    s = max(b.abs().max().item(), 1e-3)
    return ((a - b).abs() / (b.abs() + 0.1 * s)).max().item()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: checkpoint_torch.py CHECKPOINT  (the expected outputs are CHECKPOINT with "
                 ".expected.safetensors for .safetensors)")
    path = sys.argv[1]
    expected_path = path[:-len(".safetensors")] + ".expected.safetensors" if path.endswith(".safetensors") \
        else path + ".expected"
    torch.set_default_dtype(torch.float64)
    tensors, meta = read_safetensors(path)
    exp, _ = read_safetensors(expected_path)

    if meta.get("recur.format") != "1" or "recur.config" not in meta:
        sys.exit("%s: not a recur checkpoint of format 1" % path)
    cfg = json.loads(meta["recur.config"])
    state = {k: v.double() for k, v in tensors.items() if not k.startswith("optimizer.")}
    n_optim = len(tensors) - len(state)
    if "recur.train" in meta and n_optim == 0:
        sys.exit("%s: a training checkpoint without optimizer.* tensors" % path)
    for k, v in tensors.items():
        if v.dtype != torch.float32:
            sys.exit("%s: tensor %s is %s, recur writes F32" % (path, k, v.dtype))

    net = Net(cfg)
    net.load_state_dict(state, strict=True)  # raises on any missing, extra or misshaped tensor
    net.eval()

    lengths = exp["lengths"].long()
    tokens_or_x = exp["tokens"].long() if cfg["vocab_size"] > 0 else exp["x"].double()
    h0 = exp["h0"].double()
    c0 = exp["c0"].double() if "c0" in exp else None
    with torch.no_grad():
        y, logits, hn, cn = net(tokens_or_x, lengths, h0, c0)

    failures = 0
    results = [("y", y), ("hn", hn)]
    if logits is not None:
        results.append(("logits", logits))
    if cn is not None:
        results.append(("cn", cn))
    for name, got in results:
        want = exp[name].double()
        if tuple(got.shape) != tuple(want.shape):
            print("FAIL %s: torch shape %s, recur %s" % (name, tuple(got.shape), tuple(want.shape)))
            failures += 1
            continue
        e = error(got, want)
        ok = e <= TOL
        failures += 0 if ok else 1
        print("%-6s %-14s error %.2e%s" % ("ok" if ok else "FAIL", name + str(tuple(want.shape)), e,
                                           "" if ok else " > %g" % TOL))
    print("%s: %d model tensors loaded into torch (strict), %d optimizer tensors dropped; %s"
          % (path, len(state), n_optim, "outputs match recur" if not failures else "%d MISMATCHES" % failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
