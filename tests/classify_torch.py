#!/usr/bin/python3
"""Checks a classifier recur trained against PyTorch computing from its file.

    /usr/bin/python3 tests/classify_torch.py MODEL SENTENCES PREDICTIONS

MODEL is a `recur classify train` model file, SENTENCES the text given to
`recur classify predict MODEL SENTENCES --json [--explain]`, PREDICTIONS its
output.  The script builds the same classifier as torch.nn modules named as
recur names its tensors (embedding, rnn = nn.LSTM/GRU/RNN, attention = a
Linear with a `context` parameter, classifier = a Linear), loads the file's
weights with load_state_dict(strict=True), reads each sentence through
packed sequences in float64 and pools as the file says: last = the final
states h_n of the last layer (forward, then backward), mean and max over the
sentence's own steps, attention = softmax_t(context . tanh(W h_t + b)).  Every
probability and attention weight must match recur's printed value within
2e-5 (recur computes in float32 and prints 6 significant digits).
"""
import json
import sys

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from checkpoint_torch import read_safetensors  # noqa: E402

TOL = 2e-5


class Classifier(nn.Module):
    def __init__(self, cfg, K, attention):
        super().__init__()
        r = cfg
        cell = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN, "rnn_relu": nn.RNN}[r["cell"]]
        extra = {"nonlinearity": "relu"} if r["cell"] == "rnn_relu" else {}
        D = 2 if r["bidirectional"] else 1
        F = D * r["hidden_size"]
        self.embedding = nn.Embedding(cfg["vocab_size"], cfg["embed_size"])
        self.rnn = cell(cfg["embed_size"], r["hidden_size"], r["num_layers"], bidirectional=bool(D == 2), **extra)
        if attention:
            A = attention
            self.attention = nn.Linear(F, A)
            self.attention.context = nn.Parameter(torch.zeros(A))
        self.classifier = nn.Linear(F, K)
        self.D = D

    def forward(self, ids, pool):
        x = self.embedding(ids).unsqueeze(1)
        T = ids.shape[0]
        y, h = self.rnn(pack_padded_sequence(x, torch.tensor([T])))
        y, _ = pad_packed_sequence(y)
        y = y[:, 0]
        att = None
        if pool == "last":
            h = h[0] if isinstance(h, tuple) else h
            s = torch.cat([h[-2, 0], h[-1, 0]]) if self.D == 2 else h[-1, 0]
        elif pool == "mean":
            s = y.mean(0)
        elif pool == "max":
            s = y.max(0)[0]
        else:
            att = torch.softmax(torch.tanh(self.attention(y)) @ self.attention.context, 0)
            s = (att.unsqueeze(1) * y).sum(0)
        return torch.softmax(self.classifier(s), 0), att


def main():
    model, sentences, predictions = sys.argv[1:4]
    tensors, meta = read_safetensors(model)
    cfg = json.loads(meta["recur.config"])
    vocab = {w: i for i, w in enumerate(json.loads(meta["recur.vocab"]))}
    labels = json.loads(meta["recur.labels"])
    pool = cfg["pool"]
    A = tensors["attention.context"].shape[0] if pool == "attention" else 0
    net = Classifier(cfg, len(labels), A).double()
    net.load_state_dict({k: v.double() for k, v in tensors.items()}, strict=True)
    net.eval()
    worst = 0.0
    with open(sentences) as fs, open(predictions) as fp:
        for n, (line, pred) in enumerate(zip(fs, fp), 1):
            words = line.split()
            ids = torch.tensor([vocab.get(w, vocab["<unk>"]) for w in words])
            with torch.no_grad():
                p, att = net(ids, pool)
            got = json.loads(pred)
            for k, lab in enumerate(labels):
                worst = max(worst, abs(got["probs"][lab] - p[k].item()))
            if got["label"] != labels[int(p.argmax())] and float(p.max() - p.sort()[0][-2]) > 1e-4:
                sys.exit("classify_torch: line %d: recur says %s, PyTorch %s" % (n, got["label"], labels[int(p.argmax())]))
            if att is not None:
                for t, (w, a) in enumerate(got["attention"]):
                    worst = max(worst, abs(a - att[t].item()))
    print("classify_torch: %s (%s, %s): %d sentences, worst difference %.1e" %
          (model, pool, cfg["cell"], n, worst))
    if not worst <= TOL:
        sys.exit("classify_torch: worst difference %.2e above %.0e" % (worst, TOL))


if __name__ == "__main__":
    main()
