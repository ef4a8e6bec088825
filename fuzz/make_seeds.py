#!/usr/bin/env python3
"""make_seeds.py - writes the seed corpus of fuzz/fuzz_safetensors.c into
fuzz/seeds/: a few tiny valid safetensors files laid out as the writer in
src/io/safetensors.c lays them out (compact JSON, padded with spaces to a
multiple of 8, tensors contiguous in insertion order).

A few seeds break one rule each (bad_*), so mutations start next to the
checks for overlapping ranges, gaps, too many dims and overflowing shapes.

Run from the repository root: python3 fuzz/make_seeds.py
"""
import json
import os
import struct

SIZES = {"F32": 4, "F64": 8, "I32": 4, "I64": 8, "U8": 1, "F16": 2, "BF16": 2}
PACK = {"F32": "<f", "F64": "<d", "I32": "<i", "I64": "<q", "U8": "<B", "F16": "<e", "BF16": None}


def encode(dtype, values):
    if dtype == "BF16":  # the top half of an F32
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return b"".join(struct.pack(PACK[dtype], v) for v in values)


def image(tensors, meta=None):
    """tensors: list of (name, dtype, shape, values)."""
    header = {}
    if meta:
        header["__metadata__"] = meta
    data = b""
    for name, dtype, shape, values in tensors:
        raw = encode(dtype, values)
        n = 1
        for d in shape:
            n *= d
        assert len(raw) == n * SIZES[dtype], name
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


SEEDS = {
    "empty.safetensors": image([]),
    "f32_meta.safetensors": image(
        [("w", "F32", [2, 2], [1.0, -2.0, 0.5, 0.0]), ("b", "F64", [1], [3.0])],
        {"format": "pt", "recur.format": "1"},
    ),
    "dtypes.safetensors": image(
        [
            ("f32", "F32", [1], [1.5]),
            ("f64", "F64", [1], [-1e300]),
            ("i32", "I32", [2], [-1, 7]),
            ("i64", "I64", [1], [1 << 40]),
            ("u8", "U8", [3], [0, 128, 255]),
            ("f16", "F16", [1], [1.0]),
            ("bf16", "BF16", [1], [2.0]),
        ]
    ),
    "scalar_zero.safetensors": image(
        [("s", "F32", [], [0.25]), ("z", "F32", [0, 3], []), ("t", "F64", [1, 1, 1], [2.0])]
    ),
    "lstm.safetensors": image(
        [
            ("rnn.weight_ih_l0", "F32", [4, 1], [0.1, 0.2, 0.3, 0.4]),
            ("rnn.weight_hh_l0", "F32", [4, 1], [0.5, 0.6, 0.7, 0.8]),
            ("rnn.bias_ih_l0", "F32", [4], [0.0, 1.0, 0.0, 0.0]),
            ("rnn.bias_hh_l0", "F32", [4], [0.0, 0.0, 0.0, 0.0]),
        ],
        {"recur.config": '{"cell":"lstm","hidden_size":1}'},
    ),
}



def raw(header_text, data_len):
    """An image with the header text as given and data_len bytes of data."""
    text = header_text.encode()
    return struct.pack("<Q", len(text)) + text + bytes(range(data_len))


F32_AT = '"%s":{"dtype":"F32","shape":[%d],"data_offsets":[%d,%d]}'
SEEDS.update({
    "bad_overlap.safetensors": raw("{" + F32_AT % ("a", 2, 0, 8) + "," + F32_AT % ("b", 2, 4, 12) + "}", 12),
    "bad_gap.safetensors": raw("{" + F32_AT % ("a", 1, 0, 4) + "," + F32_AT % ("b", 1, 8, 12) + "}", 12),
    "bad_dims.safetensors": raw('{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}', 1),
    "bad_numel.safetensors": raw('{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', 8),
    "bad_meta.safetensors": raw('{"__metadata__":["x"],"a":[0]}', 0),
})

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
    os.makedirs(out, exist_ok=True)
    for name, blob in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)
        print(f"{name}: {len(blob)} bytes")
