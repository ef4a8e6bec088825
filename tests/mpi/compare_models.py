#!/usr/bin/env python3
"""compare_models.py A B [--exact | --rtol R --atol A]: the tensors of two
safetensors files (the standard library only).  --exact: every tensor
bit for bit; otherwise |a - b| <= atol + rtol |b| everywhere.  Prints the
largest difference; exits 1 on a mismatch or a tensor only one file has."""
import json
import struct
import sys
from array import array


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        code = {"F32": "f", "F64": "d", "I64": "q", "I32": "i"}[info["dtype"]]
        a = array(code)
        a.frombytes(data[lo:hi])
        out[name] = (info["dtype"], data[lo:hi], a)
    return out


def main():
    args = sys.argv[1:]
    exact = "--exact" in args
    rtol = float(args[args.index("--rtol") + 1]) if "--rtol" in args else 1e-4
    atol = float(args[args.index("--atol") + 1]) if "--atol" in args else 1e-6
    a, b = read(args[0]), read(args[1])
    if set(a) != set(b):
        print("tensors differ:", sorted(set(a) ^ set(b)))
        return 1
    worst, where, bad = 0.0, "", 0
    for name in sorted(a):
        if exact:
            if a[name][1] != b[name][1]:
                print(f"{name}: not bit-identical")
                bad = 1
            continue
        for x, y in zip(a[name][2], b[name][2]):
            d = abs(x - y)
            if d > worst:
                worst, where = d, name
            if d > atol + rtol * abs(y):
                bad = 1
    if not exact:
        print(f"largest difference {worst:.3g} ({where})")
    else:
        print("bit-identical" if not bad else "NOT bit-identical")
    return bad


sys.exit(main())
