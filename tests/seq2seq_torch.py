#!/usr/bin/python3
"""PyTorch reference for recur's encoder-decoder: one forward/backward on fixed weights.

    /usr/bin/python3 tests/seq2seq_torch.py build/tests/s2s_torch_NAME.safetensors ...

tests/test_seq2seq.c writes, for several variants, the model file (as
`recur seq2seq train` writes it) and NAME.expected.safetensors: a padded
batch, recur's mean label-smoothed loss and the gradient of every tensor.
This script builds the same network from torch.nn modules named as in
docs/seq2seq.md (nn.Embedding, nn.LSTM/nn.GRU, nn.Linear), loads the file
with load_state_dict(strict=True) - so every name and shape must be
PyTorch's - computes the loss in float64 with F.cross_entropy(label_smoothing)
and compares the loss and every gradient: |a - b| <= 2e-4 * max|b| + 1e-7
per tensor.  Exit status 0 when everything matches.
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")
from checkpoint_torch import read_safetensors  # noqa: E402

RNN = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn-tanh": nn.RNN, "rnn-relu": nn.RNN}


def make_rnn(cell, inp, hidden, layers, bidirectional):
    kw = {"nonlinearity": "relu"} if cell == "rnn-relu" else {}
    return RNN[cell](inp, hidden, layers, bidirectional=bidirectional, **kw)


class Encoder(nn.Module):
    def __init__(self, c, vs):
        super().__init__()
        self.embedding = nn.Embedding(vs, c["source_embed"])
        self.rnn = make_rnn(c["cell"], c["source_embed"], c["encoder_hidden"], c["encoder_layers"],
                            c["bidirectional"])


class Additive(nn.Module):
    def __init__(self, hd, ws, a):
        super().__init__()
        self.query = nn.Linear(hd, a, bias=False)
        self.key = nn.Linear(ws, a)
        self.v = nn.Linear(a, 1, bias=False)


class Seq2Seq(nn.Module):
    def __init__(self, c, vs, vt, bridge):
        super().__init__()
        self.c = c
        self.lstm = c["cell"] == "lstm"
        hd, e, ws = c["decoder_hidden"], c["target_embed"], c["encoder_hidden"] * (2 if c["bidirectional"] else 1)
        self.hd, self.ws, self.feed = hd, ws, c["input_feeding"]
        if self.feed:
            self.rnn = make_rnn(c["cell"], e + hd, hd, c["decoder_layers"], False)
            self.target_embedding = nn.Embedding(vt, e)
        else:
            self.embedding = nn.Embedding(vt, e)
            self.rnn = make_rnn(c["cell"], e, hd, c["decoder_layers"], False)
        self.encoder = Encoder(c, vs)
        self.bridge_kind = bridge
        if bridge == "linear":
            self.bridge = nn.Linear(ws, hd)
            if self.lstm:
                self.bridge_c = nn.Linear(ws, hd)
        att = c["attention"]
        self.att = att
        if att == "general":
            self.attention = nn.Linear(ws, hd, bias=False)
        elif att == "additive":
            self.attention = Additive(hd, ws, c["attention_size"])
        if att != "none":
            self.attention_combine = nn.Linear(ws + hd, hd, bias=False)
        self.out = nn.Linear(hd, vt)

    def initial(self, hn, cn):
        """Decoder layer l starts from encoder layer clamp(Le - Ld + l)'s final states."""
        c = self.c
        le, ld, de = c["encoder_layers"], c["decoder_layers"], 2 if c["bidirectional"] else 1
        if self.bridge_kind == "zero":
            return None

        def gather(x):
            rows = []
            for l in range(ld):
                e = min(max(le - ld + l, 0), le - 1)
                rows.append(torch.cat([x[e * de + d] for d in range(de)], dim=-1))
            return torch.stack(rows)
        if self.bridge_kind == "copy":
            h0 = gather(hn)
            return (h0, gather(cn)) if self.lstm else h0
        h0 = torch.tanh(self.bridge(gather(hn)))
        return (h0, self.bridge_c(gather(cn))) if self.lstm else h0

    def attend(self, h, E, mask):
        """h (B, Hd), E (S, B, Ws), mask (S, B) true where padded -> ctx (B, Ws)."""
        if self.att == "dot":
            sc = (E * h.unsqueeze(0)).sum(-1)
        elif self.att == "general":
            sc = (self.attention(E) * h.unsqueeze(0)).sum(-1)
        else:
            u = torch.tanh(self.attention.query(h).unsqueeze(0) + self.attention.key(E))
            sc = self.attention.v(u).squeeze(-1)
        sc = sc.masked_fill(mask, float("-inf"))
        a = torch.softmax(sc, dim=0)
        return (a.unsqueeze(-1) * E).sum(0)

    def combine(self, ctx, h):
        if self.att == "none":
            return h
        return torch.tanh(self.attention_combine(torch.cat([ctx, h], dim=-1)))

    def forward(self, src, src_len, tgt_in):
        S, B = src.shape
        packed = nn.utils.rnn.pack_padded_sequence(self.encoder.embedding(src), src_len, enforce_sorted=False)
        out, st = self.encoder.rnn(packed)
        E, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=S)
        hn, cn = (st if self.lstm else (st, None))
        state = self.initial(hn, cn)
        mask = torch.arange(S).unsqueeze(1) >= src_len.unsqueeze(0)
        T = tgt_in.shape[0]
        atts = []
        if not self.feed:
            H, _ = self.rnn(self.embedding(tgt_in), state)
            for t in range(T):
                ctx = self.attend(H[t], E, mask) if self.att != "none" else None
                atts.append(self.combine(ctx, H[t]))
        else:
            prev = torch.zeros(B, self.hd, dtype=E.dtype)
            for t in range(T):
                x = torch.cat([self.target_embedding(tgt_in[t]), prev], dim=-1).unsqueeze(0)
                h, state = self.rnn(x, state)
                ctx = self.attend(h[0], E, mask)
                prev = self.combine(ctx, h[0])
                atts.append(prev)
        return self.out(torch.stack(atts))


def check(path):
    tensors, meta = read_safetensors(path)
    exp, _ = read_safetensors(path.replace(".safetensors", ".expected.safetensors"))
    cfg = json.loads(meta["recur.config"])
    c = cfg["seq2seq"]
    vs = len(json.loads(meta["recur.seq2seq.source_vocab"]))
    vt = len(json.loads(meta["recur.seq2seq.target_vocab"]))
    net = Seq2Seq(c, vs, vt, c["bridge"]).double()
    state = {k: v.double() for k, v in tensors.items()}
    net.load_state_dict(state, strict=True)
    src, sl = exp["src"].long(), exp["src_len"].long()
    tin, tout = exp["tgt_in"].long(), exp["tgt_out"].long()
    logits = net(src, sl, tin)
    ls = float(exp["label_smoothing"][0])
    loss = F.cross_entropy(logits.reshape(-1, vt), tout.reshape(-1), ignore_index=-1, label_smoothing=ls)
    loss.backward()
    ok = True
    want = float(exp["objective"][0])
    if abs(loss.item() - want) > 1e-5 * abs(want) + 1e-6:
        print("%s: loss %.8f, recur %.8f" % (path, loss.item(), want))
        ok = False
    named = dict(net.named_parameters())
    for name in tensors:
        g = named[name].grad
        r = exp["grad." + name].double()
        scale = g.abs().max().item()
        err = (g - r).abs().max().item()
        if err > 2e-4 * scale + 1e-7:
            print("%s: gradient of %s differs by %.3g (largest %.3g)" % (path, name, err, scale))
            ok = False
    print("%s: %s, loss %.6f, %d tensors compared (%s attention%s, %s)" % (
        path, "ok" if ok else "MISMATCH", loss.item(), len(tensors), c["attention"],
        ", input feeding" if c["input_feeding"] else "", c["cell"]))
    return ok


if __name__ == "__main__":
    torch.set_num_threads(1)
    results = [check(p) for p in sys.argv[1:]]
    sys.exit(0 if results and all(results) else 1)
