#!/usr/bin/python3
"""Checks a tagger recur trained against PyTorch computing from its file.

    /usr/bin/python3 tests/tag_torch.py MODEL SENTENCES EMISSIONS PREDICTIONS

MODEL is a `recur tag train` model file; SENTENCES one sentence a line
(words split at spaces); EMISSIONS what build/tests/tag_emissions MODEL
SENTENCES printed (recur's emissions, best path score and labels: all
sentences in one padded batch); PREDICTIONS what `recur tag predict MODEL
SENTENCES --format text` printed (word/TAG).

The script builds the tagger from torch.nn modules under PyTorch's own
names - embedding, caps_embedding (nn.Embedding), char_rnn.embedding and
char_rnn.rnn (nn.LSTM/GRU/RNN, bidirectional), rnn (the word stack),
hidden2tag (nn.Linear), crf (transitions [from, to], start_transitions,
end_transitions) - loads the file's tensors with load_state_dict(strict=True)
and recomputes in float64 from the vocabularies in the file's __metadata__:
a word is looked up by its key (lower-cased ASCII with the digits 0-9 as 0
when "lowercase" is set, else as written; <unk>, id 0, when absent), its
first max_word_chars code points by character (<unk> when unseen) through
the character BiLSTM whose final states (forward then backward) follow the
word's embedding, then the capitalisation class's embedding (no letters,
lower, upper, initial capital, mixed; ASCII letters only), the word stack
and hidden2tag.  Decoding: argmax per word (softmax), or Viterbi with
start/end transitions where a chunk scheme forbids, as -inf, a B-/I- not
followed by I-/E- of its type, I-/E- after anything else, a sentence that
starts with I-/E- or ends with B-/I-.

Compared: every emission within 1e-5 (|a - b| <= 1e-5 (1 + |b|)), the best
path's score within 1e-5 relative (recur prints float32 emissions to 9
digits and sums the path in double), and on every word recur's labels and
the CLI's tags (read back into IOBES as conlleval reads chunks) against
PyTorch's path; a differing sequence is accepted only as a tie (PyTorch
scores both within 1e-6).  A checkpoint PyTorch cannot load, a gate order,
a direction, a lookup rule or a CRF constraint of its own fails the check.
"""
import json
import sys

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from checkpoint_torch import read_safetensors  # noqa: E402

TOL = 1e-5
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN, "rnn_relu": nn.RNN}


def recurrent(cfg, input_size):
    """nn.LSTM/GRU/RNN for a recur.config stack (only what PyTorch has)."""
    if cfg["cell"] == "gru" and cfg.get("gru_form", "reset_after") != "reset_after":
        sys.exit("tag_torch: GRU form %s is not PyTorch's" % cfg["gru_form"])
    if cfg.get("proj_size") or cfg.get("residual"):
        sys.exit("tag_torch: projections and residual stacks are not checked here")
    extra = {"nonlinearity": "relu"} if cfg["cell"] == "rnn_relu" else {}
    return CELLS[cfg["cell"]](input_size, cfg["hidden_size"], cfg["num_layers"],
                              bidirectional=bool(cfg["bidirectional"]), **extra)


class CharRNN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embedding = nn.Embedding(cfg["vocab_size"], cfg["embed_size"])
        self.rnn = recurrent(cfg, cfg["embed_size"])

    def forward(self, words):
        """Final states of both directions of each word's characters."""
        _, h = self.rnn(pack_sequence([self.embedding(w) for w in words], enforce_sorted=False))
        h = h[0] if isinstance(h, tuple) else h
        return torch.cat([h[0], h[1]], 1)


class CRF(nn.Module):
    def __init__(self, K):
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(K, K))
        self.start_transitions = nn.Parameter(torch.zeros(K))
        self.end_transitions = nn.Parameter(torch.zeros(K))


class Tagger(nn.Module):
    def __init__(self, cfg, K):
        super().__init__()
        parts = {p["name"]: p for p in cfg["parts"]}
        V, E = parts["embedding.weight"]["shape"]
        self.embedding = nn.Embedding(V, E)
        self.char_rnn = CharRNN(parts["char_rnn"]["model"]) if "char_rnn" in parts else None
        if "caps_embedding.weight" in parts:
            self.caps_embedding = nn.Embedding(*parts["caps_embedding.weight"]["shape"])
        else:
            self.caps_embedding = None
        self.rnn = recurrent(cfg, cfg["input_size"])
        self.hidden2tag = nn.Linear(2 * cfg["hidden_size"], K)
        self.crf = CRF(K) if "crf.transitions" in parts else None

    def emissions(self, sents):
        """sents: [(word ids, [char ids per word], caps ids)] -> [T x K]."""
        xs = []
        for words, chars, caps in sents:
            x = [self.embedding(words)]
            if self.char_rnn is not None:
                x.append(self.char_rnn(chars))
            if self.caps_embedding is not None:
                x.append(self.caps_embedding(caps))
            xs.append(torch.cat(x, 1))
        y, lengths = pad_packed_sequence(self.rnn(pack_sequence(xs, enforce_sorted=False))[0])
        return [self.hidden2tag(y[:n, b]) for b, n in enumerate(lengths.tolist())]


def word_key(w, lowercase):
    if not lowercase:
        return w
    return "".join("0" if "0" <= c <= "9" else c.lower() if c < "\x80" else c for c in w)


def word_caps(w):
    letters = [c for c in w if "a" <= c <= "z" or "A" <= c <= "Z"]
    upper = sum(c <= "Z" for c in letters)
    if not letters:
        return 0
    if upper == 0:
        return 1
    if upper == len(letters):
        return 2
    return 3 if upper == 1 and letters[0] <= "Z" else 4


def scheme_masks(labels, chunked):
    """-inf where the scheme forbids: (transitions, start, end) additive masks."""
    K = len(labels)
    trans, start, end = torch.zeros(K, K, dtype=torch.float64), torch.zeros(K, dtype=torch.float64), \
        torch.zeros(K, dtype=torch.float64)
    if not chunked:
        return trans, start, end
    ninf = float("-inf")
    for i, a in enumerate(labels):
        pa, ta = a[0], a[2:]
        if pa in "IE":
            start[i] = ninf
        if pa in "BI":
            end[i] = ninf
        for j, b in enumerate(labels):
            pb, tb = b[0], b[2:]
            ok = pb in "IE" and ta == tb if pa in "BI" else pb not in "IE"
            if not ok:
                trans[i, j] = ninf
    return trans, start, end


def path_score(e, path, trans, start, end):
    s = start[path[0]] + end[path[-1]] + sum(e[t, k] for t, k in enumerate(path))
    return float(s + sum(trans[path[t - 1], path[t]] for t in range(1, len(path))))


def viterbi(e, trans, start, end):
    d = start + e[0]
    back = []
    for t in range(1, e.shape[0]):
        m, arg = (d.unsqueeze(1) + trans).max(0)
        back.append(arg)
        d = m + e[t]
    d = d + end
    best = [int(d.argmax())]
    for arg in reversed(back):
        best.append(int(arg[best[-1]]))
    return best[::-1], float(d.max())


def to_iobes(tags, scheme):
    """Tags of a chunk scheme read as conlleval reads them, written in IOBES."""
    if scheme in ("plain", "iobes"):
        return tags
    out = []
    for t, tag in enumerate(tags):
        if tag == "O":
            out.append(tag)
            continue
        prev = tags[t - 1] if t else "O"
        nxt = tags[t + 1] if t + 1 < len(tags) else "O"
        begins = tag[0] == "B" or prev == "O" or prev[2:] != tag[2:]
        ends = nxt == "O" or nxt[0] == "B" or nxt[2:] != tag[2:]
        out.append(("S" if ends else "B") if begins else ("E" if ends else "I"))
        out[-1] += tag[1:]
    return out


def main():
    model, sentences, emissions, predictions = sys.argv[1:5]
    tensors, meta = read_safetensors(model)
    cfg = json.loads(meta["recur.config"])
    settings = json.loads(meta["recur.tag.settings"])
    words = {w: i for i, w in enumerate(json.loads(meta["recur.tag.words"]))}
    chars = {c: i for i, c in enumerate(json.loads(meta["recur.tag.chars"]))}
    labels = json.loads(meta["recur.tag.labels"])
    net = Tagger(cfg, len(labels)).double()
    net.load_state_dict({k: v.double() for k, v in tensors.items()}, strict=True)
    net.eval()
    scheme = settings["scheme"]
    trans, start, end = scheme_masks(labels, scheme != "plain")
    if net.crf is not None:
        trans = trans + net.crf.transitions.detach()
        start = start + net.crf.start_transitions.detach()
        end = end + net.crf.end_transitions.detach()

    with open(sentences, encoding="utf-8") as f:
        text = [line.split() for line in f if line.split()]
    sents = []
    for ws in text:
        ids = torch.tensor([words.get(word_key(w, settings["lowercase"]), 0) for w in ws])
        cs = [torch.tensor([chars.get(c, 0) for c in w[:settings["max_word_chars"]]]) for w in ws]
        caps = torch.tensor([word_caps(w) for w in ws])
        sents.append((ids, cs, caps))
    with torch.no_grad():
        emits = net.emissions(sents)
    with open(emissions) as f:
        got = [json.loads(line) for line in f]
    with open(predictions, encoding="utf-8") as f:
        pred = [[tok.rsplit("/", 1)[1] for tok in line.split()] for line in f if line.split()]
    if not len(got) == len(pred) == len(text):
        sys.exit("tag_torch: %d sentences, %d emission lines, %d predicted lines" %
                 (len(text), len(got), len(pred)))
    worst = worst_score = 0.0
    tokens = ties = 0
    wrong = []
    for n, (ws, e, g, p) in enumerate(zip(text, emits, got, pred), 1):
        r = torch.tensor(g["emit"], dtype=torch.float64)
        if r.shape != e.shape:
            sys.exit("tag_torch: sentence %d: emissions %s, PyTorch %s" % (n, tuple(r.shape), tuple(e.shape)))
        worst = max(worst, float(((r - e).abs() / (1 + e.abs())).max()))
        if net.crf is not None:
            best, score = viterbi(e, trans, start, end)
            worst_score = max(worst_score, abs(g["score"] - score) / (1 + abs(score)))
        else:
            best = e.argmax(1).tolist()
        mine = [labels[k] for k in best]
        for what, theirs in (("recur's labels", g["labels"]), ("recur tag predict", to_iobes(p, scheme))):
            if theirs == mine:
                continue
            # accepted only as a tie: recur's path scores (in PyTorch) as high as PyTorch's
            if not set(theirs) <= set(labels):
                wrong.append("sentence %d: %s says %s: not the tagger's labels" % (n, what, " ".join(theirs)))
                continue
            ids = [labels.index(t) for t in theirs]
            if net.crf is not None:
                gap = path_score(e, best, trans, start, end) - path_score(e, ids, trans, start, end)
            else:
                gap = max(float(e[t, best[t]] - e[t, ids[t]]) for t in range(len(ids)))
            if gap > 1e-6:
                wrong.append("sentence %d (%s): %s says %s, PyTorch %s" %
                             (n, " ".join(ws), what, " ".join(theirs), " ".join(mine)))
            else:
                ties += 1
        tokens += len(ws)
    print("tag_torch: %s (%s, %s, %s): %d sentences, %d words, %d differing tag sequences%s; worst "
          "emission difference %.1e, worst path score difference %.1e" %
          (model, scheme, cfg["cell"], "crf" if net.crf is not None else "softmax", len(text), tokens,
           len(wrong), " (and %d ties)" % ties if ties else "", worst, worst_score))
    if wrong:
        sys.exit("tag_torch: " + "\ntag_torch: ".join(wrong[:3]))
    if not worst <= TOL:
        sys.exit("tag_torch: worst emission difference %.2e above %.0e" % (worst, TOL))
    if not worst_score <= TOL:
        sys.exit("tag_torch: worst path score difference %.2e above %.0e" % (worst_score, TOL))


if __name__ == "__main__":
    main()
