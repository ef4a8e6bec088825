#!/usr/bin/python3
"""Made-up CoNLL files for tests/tag_torch_check.sh.

    /usr/bin/python3 tests/tag_torch_data.py DIR

Writes DIR/train.{iob2,iob1,iobes,pos} and DIR/dev.* (the same sentences:
words, then the tag column in that scheme; pos is plain labels), and
DIR/sentences.txt: 60 sentences to tag, one a line, full of what the
training files do not have (names never seen, other numbers, other case,
letters outside ASCII, long words) and of mixed case and digits.
"""
import os
import random
import sys

PER = ["John", "Mary", "Smith", "McDonald", "Anna", "Peter", "Lee"]
LOC = ["Paris", "Berlin", "New", "York", "Rome", "Lisbon"]
ORG = ["EU", "NATO", "Reuters", "United", "Nations", "iPhone", "3M"]
FILL = ["the", "said", "in", "on", "visited", "met", "a", "of", "and", "to", "from",
        "talks", "1996", "12:30", "$", "4.5", "Monday", ".", ",", "with"]
UNSEEN = ["Zorblat", "Quexington", "FOOBAR", "nÄïve", "Ölberg", "antidisestablishmentarianism",
          "2023", "99.9%", "THE", "Visited", "pARIS", "mcdonald", "x7Y", "Œuvre", "--", "r2d2",
          "MONDAY", "1,234,567", "Xi", "o'neill"]


def sentence(rng, words_extra=()):
    toks, spans = [], []
    for _ in range(rng.randint(1, 4)):
        for _ in range(rng.randint(0, 3)):
            toks.append(rng.choice(FILL + list(words_extra)))
        typ, names = rng.choice([("PER", PER), ("LOC", LOC), ("ORG", ORG)])
        n = rng.randint(1, 3)
        # no filler between chunks now and then: side by side (IOB1's B- when of one type)
        spans.append((len(toks), len(toks) + n, typ))
        toks.extend(rng.choice(names + list(words_extra)) for _ in range(n))
    if rng.random() < 0.7:
        toks.append(".")
    return toks, spans


def tags(n, spans, scheme):
    out = ["O"] * n
    prev_end, prev_typ = -1, None
    for b, e, typ in spans:
        for t in range(b, e):
            if scheme == "iobes":
                p = ("S" if e - b == 1 else "B") if t == b else ("E" if t == e - 1 else "I")
            elif scheme == "iob2":
                p = "B" if t == b else "I"
            else:  # iob1: B- only right after a chunk of the same type
                p = "B" if t == b and prev_end == b and prev_typ == typ else "I"
            out[t] = p + "-" + typ
        prev_end, prev_typ = e, typ
    return out


def pos(w):
    if any(c.isdigit() for c in w):
        return "CD"
    if not any(c.isalpha() for c in w):
        return "PUNCT"
    return "NNP" if w[0].isupper() else "NN" if w.endswith("s") else "VB"


def write(path, sents, scheme):
    with open(path, "w", encoding="utf-8") as f:
        f.write("-DOCSTART- -X- O\n\n")
        for toks, spans in sents:
            tg = [pos(w) for w in toks] if scheme == "pos" else tags(len(toks), spans, scheme)
            for w, t in zip(toks, tg):
                f.write("%s X %s\n" % (w, t))
            f.write("\n")


def main():
    d = sys.argv[1]
    rng = random.Random(7)
    train = [sentence(rng) for _ in range(150)]
    dev = [sentence(rng) for _ in range(20)]
    for scheme in ("iob2", "iob1", "iobes", "pos"):
        write(os.path.join(d, "train." + scheme), train, scheme)
        write(os.path.join(d, "dev." + scheme), dev, scheme)
    with open(os.path.join(d, "sentences.txt"), "w", encoding="utf-8") as f:
        for i in range(60):
            toks, _ = sentence(rng, UNSEEN)
            if i < 2:
                toks = toks[:1]  # one-word sentences
            f.write(" ".join(toks) + "\n")
        f.write(" ".join(UNSEEN) + "\n")


if __name__ == "__main__":
    main()
