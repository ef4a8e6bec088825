"""PyTorch side of the tagger section of bench/speed.py (bench/speed_tag.c
is recur's): the same BiLSTM-CRF entity tagger on the same CoNLL-2003 files.

Model (as `recur tag train` builds it): character embedding 25 -> character
BiLSTM 25+25 over each word (packed), final states of both directions;
word embedding 100 (words lower-cased, digits as 0), capitalisation
embedding 10; dropout 0.5 on the concatenation; word BiLSTM 100+100
(packed); dropout 0.5; linear layer to the 17 IOBES labels; a linear-chain
CRF written in plain PyTorch ops as NCRF++ writes it (forward algorithm
with logsumexp over a (B, K, K) tensor per step, gold path score by
gathering, Viterbi with max and back-pointers), with the IOBES constraints
as -10000 transitions and start/end transitions.
Timed as recur is timed:
  train  batches of 10 sentences of similar lengths: zero_grad, forward,
         CRF loss (summed over the batch, averaged), backward,
         clip_grad_norm_(5), SGD with momentum 0.9
  tag    the development file in batches of 64 sentences, torch.no_grad(),
         eval mode: forward and Viterbi (after one untimed pass)
Prints one JSON line as speed_tag does.
"""
import argparse
import json
import random
import time

import torch
import torch.nn as nn


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def read_conll(path, col=3):
    sents, cur = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                if cur:
                    sents.append(cur)
                cur = []
                continue
            cur.append((fields[0], fields[col]))
    if cur:
        sents.append(cur)
    return sents


def iob1_to_iobes(tags):
    out = []
    for i, t in enumerate(tags):
        if t == "O":
            out.append(t)
            continue
        p, ty = t.split("-", 1)
        prev = tags[i - 1] if i > 0 else "O"
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        begins = p == "B" or prev == "O" or prev.split("-", 1)[1] != ty
        ends = nxt == "O" or nxt.startswith("B-") or nxt.split("-", 1)[1] != ty
        out.append(("S" if ends else "B") if begins else ("E" if ends else "I"))
        out[-1] += "-" + ty
    return out


def key(w):
    return "".join("0" if c.isdigit() else c.lower() if c < "\x80" else c for c in w)


def caps(w):
    up = sum(c.isascii() and c.isupper() for c in w)
    lo = sum(c.isascii() and c.islower() for c in w)
    if up + lo == 0:
        return 0
    if up == 0:
        return 1
    if lo == 0:
        return 2
    first = next(c for c in w if c.isascii() and c.isalpha())
    return 3 if first.isupper() and up == 1 else 4


class CRF(nn.Module):
    def __init__(self, labels):
        super().__init__()
        K = len(labels)
        self.transitions = nn.Parameter(torch.zeros(K, K))
        self.start = nn.Parameter(torch.zeros(K))
        self.end = nn.Parameter(torch.zeros(K))
        mask = torch.zeros(K, K)
        smask, emask = torch.zeros(K), torch.zeros(K)
        for i, a in enumerate(labels):
            pa, ta = a[0], a[2:]
            if pa in "IE":
                smask[i] = -10000
            if pa in "BI":
                emask[i] = -10000
            for j, b in enumerate(labels):
                pb, tb = b[0], b[2:]
                ok = (pb in "IE" and ta == tb) if pa in "BI" else pb not in "IE"
                if not ok:
                    mask[i, j] = -10000
        self.register_buffer("mask", mask)
        self.register_buffer("smask", smask)
        self.register_buffer("emask", emask)

    def nll(self, emit, tags, mask):  # emit (B, T, K), tags (B, T), mask (B, T) bool
        B, T, K = emit.shape
        trans = self.transitions + self.mask
        alpha = self.start + self.smask + emit[:, 0]
        for t in range(1, T):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans.unsqueeze(0), dim=1) + emit[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
        logz = torch.logsumexp(alpha + self.end + self.emask, dim=1)
        gold = self.start[tags[:, 0]] + emit[:, 0].gather(1, tags[:, :1]).squeeze(1)
        for t in range(1, T):
            step = trans[tags[:, t - 1], tags[:, t]] + emit[:, t].gather(1, tags[:, t:t + 1]).squeeze(1)
            gold = gold + step * mask[:, t]
        lengths = mask.sum(1)
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
        gold = gold + self.end[last]
        return (logz - gold).sum()

    def viterbi(self, emit, mask):
        B, T, K = emit.shape
        trans = self.transitions + self.mask
        score = self.start + self.smask + emit[:, 0]
        bps = []
        for t in range(1, T):
            s, bp = (score.unsqueeze(2) + trans.unsqueeze(0)).max(dim=1)
            s = s + emit[:, t]
            m = mask[:, t].unsqueeze(1)
            score = torch.where(m, s, score)
            bps.append(torch.where(m, bp, torch.arange(K).expand(B, K)))
        score = score + self.end + self.emask
        best = score.argmax(1)
        path = [best]
        for bp in reversed(bps):
            best = bp.gather(1, best.unsqueeze(1)).squeeze(1)
            path.append(best)
        return torch.stack(path[::-1], 1)


class Tagger(nn.Module):
    def __init__(self, V, C, labels, crf=True, chars=True):
        super().__init__()
        self.chars = chars
        self.char_emb = nn.Embedding(C, 25)
        self.char_rnn = nn.LSTM(25, 25, bidirectional=True, batch_first=True)
        self.emb = nn.Embedding(V, 100)
        self.caps = nn.Embedding(5, 10)
        self.drop = nn.Dropout(0.5)
        self.rnn = nn.LSTM(100 + (50 if chars else 0) + 10, 100, bidirectional=True, batch_first=True)
        self.out = nn.Linear(200, len(labels))
        self.crf = CRF(labels) if crf else None

    def emissions(self, words, capsf, chars, char_len, lengths):
        B, T = words.shape
        parts = [self.emb(words)]
        if self.chars:
            packed = nn.utils.rnn.pack_padded_sequence(self.char_emb(chars), char_len, batch_first=True,
                                                       enforce_sorted=False)
            _, (h, _) = self.char_rnn(packed)
            cf = torch.cat([h[0], h[1]], 1)  # (n_words, 50)
            full = torch.zeros(B * T, 50)
            full[self.flat_index] = cf
            parts.append(full.view(B, T, 50))
        parts.append(self.caps(capsf))
        x = self.drop(torch.cat(parts, 2))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y, _ = self.rnn(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=T)
        return self.out(self.drop(y))


def tensors(batch, wv, cv, lv, model):
    B, T = len(batch), max(len(s) for s in batch)
    words = torch.zeros(B, T, dtype=torch.long)
    capsf = torch.zeros(B, T, dtype=torch.long)
    tags = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.bool)
    flat, chars = [], []
    for b, s in enumerate(batch):
        iobes = iob1_to_iobes([t for _, t in s])
        for t, (w, _) in enumerate(s):
            words[b, t] = wv.get(key(w), 0)
            capsf[b, t] = caps(w)
            tags[b, t] = lv.get(iobes[t], 0)
            mask[b, t] = True
            flat.append(b * T + t)
            chars.append([cv.get(c, 0) for c in w[:32]])
    cl = torch.tensor([len(c) for c in chars])
    ct = torch.zeros(len(chars), int(cl.max()), dtype=torch.long)
    for i, c in enumerate(chars):
        ct[i, :len(c)] = torch.tensor(c)
    return words, capsf, ct, cl, torch.tensor([len(s) for s in batch]), tags, mask, torch.tensor(flat)


def batches(sents, size, rng):
    order = list(range(len(sents)))
    rng.shuffle(order)
    out = []
    for p in range(0, len(order), 50 * size):
        pool = sorted(order[p:p + 50 * size], key=lambda i: len(sents[i]))
        out += [[sents[i] for i in pool[k:k + size]] for k in range(0, len(pool), size)]
    rng.shuffle(out)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("dev")
    ap.add_argument("--min-time", type=float, default=10)
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--crf", type=int, default=1)
    ap.add_argument("--chars", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.torch_threads)
    torch.manual_seed(1)
    rss0 = status_kib("VmRSS")
    train, dev = read_conll(a.train), read_conll(a.dev)
    wv, cv, lv = {"<unk>": 0}, {"<unk>": 0}, {}
    for s in train:
        for w, _ in s:
            wv.setdefault(key(w), len(wv))
            for c in w:
                cv.setdefault(c, len(cv))
        for t in iob1_to_iobes([t for _, t in s]):
            lv.setdefault(t, 0)
    labels = sorted(lv)
    lv = {t: i for i, t in enumerate(labels)}
    model = Tagger(len(wv), len(cv), labels, a.crf == 1, a.chars == 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.015, momentum=0.9)
    rng = random.Random(1)
    # the batches as tensors before timing: recur encodes its data once too
    pre = [tensors(b, wv, cv, lv, model) for b in batches(train, 10, rng)[:400]]
    sentences, step, t0 = 0, 0, 0.0
    warmup = 5
    model.train()
    while True:
        words, capsf, ct, cl, lengths, tags, mask, model.flat_index = pre[step % len(pre)]
        if step == warmup:
            t0, sentences = time.perf_counter(), 0
        opt.zero_grad()
        emit = model.emissions(words, capsf, ct, cl, lengths)
        if model.crf is not None:
            loss = model.crf.nll(emit, tags, mask) / len(lengths)
        else:
            loss = nn.functional.cross_entropy(emit[mask], tags[mask], reduction="sum") / len(lengths)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sentences += len(lengths)
        step += 1
        if step > warmup and time.perf_counter() - t0 >= a.min_time:
            break
    train_s = sentences / (time.perf_counter() - t0)
    model.eval()
    order = sorted(range(len(dev)), key=lambda i: len(dev[i]))
    dev_pre = [tensors([dev[i] for i in order[k:k + 64]], wv, cv, lv, model) for k in range(0, len(order), 64)]
    with torch.no_grad():  # one untimed pass, as recur's side does
        for words, capsf, ct, cl, lengths, tags, mask, model.flat_index in dev_pre:
            emit = model.emissions(words, capsf, ct, cl, lengths)
            model.crf.viterbi(emit, mask) if model.crf is not None else emit.argmax(2)
    tagged, t1 = 0, time.perf_counter()
    with torch.no_grad():
        while True:
            for words, capsf, ct, cl, lengths, tags, mask, model.flat_index in dev_pre:
                emit = model.emissions(words, capsf, ct, cl, lengths)
                if model.crf is not None:
                    model.crf.viterbi(emit, mask)
                else:
                    emit.argmax(2)
            tagged += len(dev)
            if time.perf_counter() - t1 >= a.min_time / 2:
                break
    tag_s = tagged / (time.perf_counter() - t1)
    print(json.dumps({"train_sent_s": round(train_s, 2), "tag_sent_s": round(tag_s, 2), "steps": step - warmup,
                      "peak_mib": round((status_kib("VmHWM") - rss0) / 1024, 1)}))


if __name__ == "__main__":
    main()
