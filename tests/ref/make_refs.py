#!/usr/bin/python3
"""Independent PyTorch references for recur's parity and trajectory tests.

Regenerate (needs PyTorch, run with the interpreter that has it):

    /usr/bin/python3 tests/ref/make_refs.py [OUTDIR]      # OUTDIR defaults to tests/ref

The output is deterministic for a given PyTorch build (every case has its own
fixed seed).  The generated .safetensors files are committed, so CI never runs
this script: `make check` builds tests/test_parity.c and tests/test_trajectory.c
(and their *_f64 double-precision variants), which read these files from
tests/ref (or from $RECUR_REF_DIR) and compare librecur against them.  Rerun the
script only when a case is added or changed, and commit the files with it.

Files
-----
parity_<cell>_l<L>_d<D>[_proj].safetensors
    cell in rnn_tanh, rnn_relu, lstm, gru (PyTorch's reset-after GRU),
    gru_before (the reset-before GRU, see below), L in {1, 3} layers,
    D in {1, 2} directions, LSTM with and without proj_size.  Weights U(+-0.5) so the nonlinearities leave their linear
    range; packed sequences of different lengths (at least one full, one
    shorter); random h0/c0; the gradient of
        loss = sum(dy*y) + sum(dhn*hn) [+ sum(dcn*cn)]
    with random dy also at padded positions (which must have no effect).
    Tensors (F64, lengths I64): rnn.<param> (PyTorch names), x, lengths, h0,
    c0, dy, dhn, dcn, outputs y (zeros at padding), hn, cn, and gradients
    grad.rnn.<param>, grad.x, grad.h0, grad.c0.
    __metadata__ "config": JSON {cell, input_size, hidden_size, proj_size,
    num_layers, bidirectional, T, B}.

    gru_before: PyTorch has no module for the reset-before GRU
        n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)
    so these files come from gru_explicit(): the equations written with
    explicit torch ops in float64, a per-step loop over the packed lengths
    (inactive steps copy the state, outputs are zero there, each sequence's
    backward direction starts at its own last token), gradients by autograd.
    Before any file is written, the same loop in reset-after form is checked
    against torch.nn.GRU on packed sequences (outputs, states and every
    gradient within 1e-12), so the loop itself is proven on the form that
    torch implements.  The tensors (nn.GRU's names) are those of the gru files.

traj_sgd.safetensors, traj_sgd_momentum.safetensors, traj_adam.safetensors
    20 steps of truncated-BPTT training of a small LSTM language model
    (Embedding(11, 6) -> LSTM(6, 8, 2 layers) -> Linear(8, 11)), Zaremba
    batching of one token stream, hidden state carried (detached) from step
    to step, loss = mean cross-entropy over the T*B targets, global-norm
    clipping exactly as the design says (if norm >= clip: g *= clip/norm; no
    epsilon), then the PyTorch optimiser step.  Tensors: initial parameters
    under their names, `tokens` (I64 stream), `losses` and pre-clip
    `grad_norms` per step (F64), `clipped` per step (I64 0/1), final
    parameters under `final.<name>`.  __metadata__ "config" has everything.

Options: --only SUBSTRING writes only the files whose name contains it (for
example `--only gru_before`), so that adding cases leaves the committed files
untouched.

Everything is computed in float64, so the references are exact to ~1e-12 and
the tests measure only librecur's own rounding (float32 in the default build,
hence its looser tolerances; the *_f64 tests use a RECUR_DOUBLE build and
tight ones).  For the trajectories this means the reference is the exact
trajectory, not a float32 PyTorch run: a float32 librecur drifts from it only
by its own rounding, which stays far below the tolerances over 20 steps (the
script checks that no step's norm is near the clip threshold, where rounding
could flip the clipping decision).
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_default_dtype(torch.float64)

# ---------------------------------------------------------------------------
# safetensors writer (written here; there is no safetensors package)

_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64", torch.int32: "I32"}


def save_safetensors(path, tensors, metadata):
    """tensors: dict name -> torch tensor (written in sorted name order)."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in _DTYPES:
            raise ValueError("unsupported dtype %s for %s" % (t.dtype, name))
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    """Reads back what save_safetensors wrote (self-check only)."""
    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    npt = {"F64": "<f8", "F32": "<f4", "I64": "<i8", "I32": "<i4"}
    for name, h in header.items():
        b, e = h["data_offsets"]
        arr = np.frombuffer(data[base + b:base + e], dtype=npt[h["dtype"]]).reshape(h["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


# ---------------------------------------------------------------------------
# parity cases

# gru_before comes last so that the earlier cases keep their seeds (1000 + index).
CELLS = ["rnn_tanh", "rnn_relu", "lstm", "gru", "gru_before"]


def parity_cases():
    cases = []
    for cell in CELLS:
        for L in (1, 3):
            for D in (1, 2):
                for proj in ((False, True) if cell == "lstm" else (False,)):
                    cases.append((cell, L, D, proj))
    return cases


def case_name(cell, L, D, proj):
    return "parity_%s_l%d_d%d%s" % (cell, L, D, "_proj" if proj else "")


# Production shapes (--wide): hidden sizes that are not multiples of the
# vector width and wider than one thread's share (70, 650), batches of 8
# and more, so the vector main loops, the packed product path and the split
# of hidden units over threads are compared with PyTorch.  Too large to
# commit (the 650-wide files are tens of MB): tests/refs_regenerate_check.sh
# makes them in a temporary folder and runs test_parity on them.
WIDE = [  # (cell, L, D, proj, T, B, H, input)
    ("rnn_tanh", 2, 2, False, 6, 9, 70, 33),
    ("rnn_relu", 2, 1, False, 6, 9, 70, 33),
    ("lstm", 2, 2, False, 6, 9, 70, 33),
    ("lstm", 2, 2, True, 5, 8, 70, 33),
    ("gru", 2, 2, False, 6, 9, 70, 33),
    ("gru_before", 2, 2, False, 6, 9, 70, 33),
    ("lstm", 1, 1, False, 4, 8, 650, 20),
    ("gru", 1, 2, False, 4, 8, 650, 20),
]


def wide_name(cell, L, D, proj, H):
    return "wide_%s_l%d_d%d%s_h%d" % (cell, L, D, "_proj" if proj else "", H)


# Committed middle shapes: hidden 20 is one full vector of 16 (8 for AVX2)
# plus a tail, and splits unevenly over two threads (16 + 4); batch 6.
MID = [(cell, 2, 2, proj, 5, 6, 20, 7)
       for cell in CELLS for proj in ((False, True) if cell == "lstm" else (False,))]


def mid_name(cell, L, D, proj, H):
    return "mid_%s_l%d_d%d%s_h%d" % (cell, L, D, "_proj" if proj else "", H)


def make_module(cell, inp, H, L, bidir, P):
    if cell == "lstm":
        return nn.LSTM(inp, H, num_layers=L, bidirectional=bidir, proj_size=P)
    if cell in ("gru", "gru_before"):
        return nn.GRU(inp, H, num_layers=L, bidirectional=bidir)
    return nn.RNN(inp, H, num_layers=L, bidirectional=bidir,
                  nonlinearity="tanh" if cell == "rnn_tanh" else "relu")


# ---------------------------------------------------------------------------
# the GRU from its equations (PyTorch has no reset-before module)

def gru_explicit(params, x, lengths, h0, L, D, H, form):
    """A multi-layer (bi)directional GRU over packed lengths with explicit ops.

    params: dict of nn.GRU's parameter names -> tensors (autograd leaves).
    x (T, B, in), lengths (B) int64, h0 (L*D, B, H).  form: "after" (PyTorch's
    n = tanh(W_in x + b_in + r*(W_hn h + b_hn))) or "before" (Cho et al.'s
    n = tanh(W_in x + b_in + W_hn (r*h) + b_hn)).  Step t of sequence b is
    active when t < lengths[b]; an inactive step keeps the state and outputs
    zero.  The backward direction runs t = T-1 .. 0, so each sequence starts
    at its own last token (its padded steps come first and keep h0).
    Returns y (T, B, D*H) and hn (L*D, B, H)."""
    T, B = x.shape[0], x.shape[1]
    active = [(t < lengths).unsqueeze(1) for t in range(T)]  # (B, 1) bool
    layer_in = x
    hn = []
    for l in range(L):
        outs = []
        for d in range(D):
            sfx = "_l%d%s" % (l, "_reverse" if d else "")
            w_ih, w_hh = params["weight_ih" + sfx], params["weight_hh" + sfx]
            b_ih, b_hh = params["bias_ih" + sfx], params["bias_hh" + sfx]
            w_ir, w_iz, w_in = w_ih[:H], w_ih[H:2 * H], w_ih[2 * H:]
            w_hr, w_hz, w_hn = w_hh[:H], w_hh[H:2 * H], w_hh[2 * H:]
            b_ir, b_iz, b_in = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
            b_hr, b_hz, b_hn = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
            h = h0[l * D + d]
            ys = [None] * T
            for t in (range(T - 1, -1, -1) if d else range(T)):
                xt = layer_in[t]
                r = torch.sigmoid(xt @ w_ir.t() + b_ir + h @ w_hr.t() + b_hr)
                z = torch.sigmoid(xt @ w_iz.t() + b_iz + h @ w_hz.t() + b_hz)
                if form == "after":
                    n = torch.tanh(xt @ w_in.t() + b_in + r * (h @ w_hn.t() + b_hn))
                else:
                    n = torch.tanh(xt @ w_in.t() + b_in + (r * h) @ w_hn.t() + b_hn)
                hnew = (1.0 - z) * n + z * h
                h = torch.where(active[t], hnew, h)
                ys[t] = torch.where(active[t], hnew, torch.zeros_like(hnew))
            outs.append(torch.stack(ys))
            hn.append(h)
        layer_in = torch.cat(outs, dim=2) if D == 2 else outs[0]
    return layer_in, torch.stack(hn)


def check_gru_explicit():
    """The explicit loop in reset-after form against torch.nn.GRU (packed
    sequences, 1 and 3 layers, 1 and 2 directions): outputs, final states and
    every gradient of a random linear objective must agree to 1e-12."""
    for i, (L, D) in enumerate([(1, 1), (1, 2), (3, 1), (3, 2)]):
        g = torch.Generator().manual_seed(500 + i)
        T, B, inp, H = 6, 4, 5, 4
        gru = nn.GRU(inp, H, num_layers=L, bidirectional=D == 2).double()
        with torch.no_grad():
            for _, p in gru.named_parameters():
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * 0.5)
        lengths = torch.tensor([3, T, 1, 5], dtype=torch.int64)
        x = torch.rand(T, B, inp, generator=g) * 2 - 1
        h0 = torch.rand(L * D, B, H, generator=g) * 2 - 1
        dy = torch.rand(T, B, D * H, generator=g) * 2 - 1
        dhn = torch.rand(L * D, B, H, generator=g) * 2 - 1

        x1, h01 = x.clone().requires_grad_(True), h0.clone().requires_grad_(True)
        out, hn1 = gru(pack_padded_sequence(x1, lengths, enforce_sorted=False), h01)
        y1, _ = pad_packed_sequence(out, total_length=T)
        gru.zero_grad()
        ((dy * y1).sum() + (dhn * hn1).sum()).backward()
        g1 = {k: p.grad.clone() for k, p in gru.named_parameters()}

        params = {k: p.detach().clone().requires_grad_(True) for k, p in gru.named_parameters()}
        x2, h02 = x.clone().requires_grad_(True), h0.clone().requires_grad_(True)
        y2, hn2 = gru_explicit(params, x2, lengths, h02, L, D, H, "after")
        ((dy * y2).sum() + (dhn * hn2).sum()).backward()

        pairs = [("y", y1, y2), ("hn", hn1, hn2), ("grad.x", x1.grad, x2.grad),
                 ("grad.h0", h01.grad, h02.grad)]
        pairs += [("grad." + k, g1[k], params[k].grad) for k in g1]
        for what, a, b in pairs:
            err = (a.detach() - b.detach()).abs().max().item()
            assert err <= 1e-12, ("explicit GRU differs from nn.GRU", L, D, what, err)
        # the reset-before form is a different function on the same weights
        y3, _ = gru_explicit(params, x, lengths, h0, L, D, H, "before")
        assert (y3 - y2).abs().max().item() > 1e-3
    print("explicit GRU loop (reset after) matches torch.nn.GRU to 1e-12")


def make_parity(outdir, index, cell, L, D, proj, wide=None, namer=None):
    g = torch.Generator().manual_seed(1000 + index)

    def U(*shape, scale=1.0):
        return (torch.rand(*shape, generator=g) * 2.0 - 1.0) * scale

    def randint(lo, hi):  # inclusive
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    T = randint(5, 7)
    B = 3
    inp = 5
    H = randint(4, 6)
    P = 3 if proj else 0
    if wide:
        T, B, H, inp = wide
        P = H // 2 + 2 if proj else 0
    S = P if P else H  # output / recurrent state size
    is_lstm = cell == "lstm"

    rnn = make_module(cell, inp, H, L, D == 2, P)
    rnn.double()
    with torch.no_grad():
        for _, p in rnn.named_parameters():
            p.copy_(U(*p.shape, scale=0.5))

    # lengths: one full, one strictly shorter, the third anything in 1..T;
    # the positions shuffled so that the batch is not sorted.
    lens = [T, randint(1, T - 1)] + [randint(1, T) for _ in range(B - 2)]
    perm = torch.randperm(B, generator=g).tolist()
    lengths = torch.tensor([lens[perm[b]] for b in range(B)], dtype=torch.int64)

    x = U(T, B, inp)
    h0 = U(L * D, B, S)
    c0 = U(L * D, B, H) if is_lstm else None
    dy = U(T, B, D * S)           # includes values at padded positions
    dhn = U(L * D, B, S)
    dcn = U(L * D, B, H) if is_lstm else None

    xr = x.clone().requires_grad_(True)
    h0r = h0.clone().requires_grad_(True)
    c0r = c0.clone().requires_grad_(True) if is_lstm else None
    rnn.zero_grad()
    if cell == "gru_before":
        params = dict(rnn.named_parameters())
        y, hn = gru_explicit(params, xr, lengths, h0r, L, D, H, "before")
        cn = None
    else:
        packed = pack_padded_sequence(xr, lengths, enforce_sorted=False)
        if is_lstm:
            out, (hn, cn) = rnn(packed, (h0r, c0r))
        else:
            out, hn = rnn(packed, h0r)
            cn = None
        y, _ = pad_packed_sequence(out, total_length=T)
    loss = (dy * y).sum() + (dhn * hn).sum()
    if is_lstm:
        loss = loss + (dcn * cn).sum()
    loss.backward()

    # sanity: padding of y is zero, grad.x at padding is zero
    for b in range(B):
        assert torch.all(y[lengths[b]:, b] == 0)
        assert torch.all(xr.grad[lengths[b]:, b] == 0)

    t = {}
    for name, p in rnn.named_parameters():
        t["rnn." + name] = p.detach().clone()
        t["grad.rnn." + name] = p.grad.detach().clone()
    t["x"] = x
    t["lengths"] = lengths
    t["h0"] = h0
    t["dy"] = dy
    t["dhn"] = dhn
    t["y"] = y.detach()
    t["hn"] = hn.detach()
    t["grad.x"] = xr.grad.detach()
    t["grad.h0"] = h0r.grad.detach()
    if is_lstm:
        t["c0"] = c0
        t["dcn"] = dcn
        t["cn"] = cn.detach()
        t["grad.c0"] = c0r.grad.detach()
    config = {"cell": cell, "input_size": inp, "hidden_size": H, "proj_size": P,
              "num_layers": L, "bidirectional": 1 if D == 2 else 0, "T": T, "B": B}
    meta = {"config": json.dumps(config, sort_keys=True),
            "generator": "tests/ref/make_refs.py", "torch": torch.__version__}
    name = namer(cell, L, D, proj, H) if wide else case_name(cell, L, D, proj)
    path = os.path.join(outdir, name + ".safetensors")
    save_safetensors(path, t, meta)

    # self-check: what was written reads back bit for bit
    back, bmeta = load_safetensors(path)
    assert set(back) == set(t) and json.loads(bmeta["config"]) == config
    for k in t:
        assert torch.equal(back[k], t[k].detach()), k
    return path


# ---------------------------------------------------------------------------
# training trajectories

V, E, HID, LAYERS = 11, 6, 8, 2
TT, BB, STEPS = 6, 4, 20


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, HID, num_layers=LAYERS)
        self.decoder = nn.Linear(HID, V)

    def forward(self, tokens, state):
        out, state = self.rnn(self.embedding(tokens), state)
        return self.decoder(out), state


def token_stream(g, n):
    """A first-order Markov stream with a few likely successors per token, so
    that the model has something to learn and the loss moves visibly."""
    trans = torch.full((V, V), 0.02)
    for a in range(V):
        succ = torch.randperm(V, generator=g)[:2]
        trans[a, succ[0]] += 3.0
        trans[a, succ[1]] += 1.0
    trans = trans / trans.sum(1, keepdim=True)
    toks = [int(torch.randint(0, V, (1,), generator=g))]
    for _ in range(n - 1):
        toks.append(int(torch.multinomial(trans[toks[-1]], 1, generator=g)))
    return torch.tensor(toks, dtype=torch.int64)


def clip_by_global_norm(params, clip):
    """The design's rule: one L2 norm over every gradient; if norm >= clip,
    scale every gradient by clip/norm (no epsilon, unlike clip_grad_norm_)."""
    norm = torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in params)).item()
    clipped = clip > 0 and norm >= clip
    if clipped:
        for p in params:
            p.grad.mul_(clip / norm)
    return norm, clipped


def make_traj(outdir, name, seed, opt):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # module default initialisation
    model = LM().double()
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}

    n_cols = STEPS * TT + 1          # rows needed: STEPS*T inputs + 1 target
    tokens = token_stream(g, BB * n_cols)
    # Zaremba batching: the stream cut into B contiguous columns;
    # data[r, b] = tokens[b * n_cols + r].
    data = tokens.view(BB, n_cols).t().contiguous()

    params = list(model.parameters())
    if opt["optimizer"] == "sgd":
        optim = torch.optim.SGD(params, lr=opt["lr"], momentum=opt["momentum"],
                                weight_decay=opt["weight_decay"])
    elif opt["optimizer"] == "adamw":
        optim = torch.optim.AdamW(params, lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]),
                                  eps=opt["eps"], weight_decay=opt["weight_decay"])
    else:
        optim = torch.optim.Adam(params, lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]),
                                 eps=opt["eps"], weight_decay=opt["weight_decay"])

    state = (torch.zeros(LAYERS, BB, HID), torch.zeros(LAYERS, BB, HID))
    losses, norms, clipped = [], [], []
    for k in range(STEPS):
        inp = data[k * TT:k * TT + TT]
        tgt = data[k * TT + 1:k * TT + TT + 1]
        state = (state[0].detach(), state[1].detach())
        optim.zero_grad()
        logits, state = model(inp, state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))
        loss.backward()
        norm, c = clip_by_global_norm(params, opt["clip"])
        # rounding in a float32 run must not be able to flip the decision
        assert abs(norm - opt["clip"]) > 1e-3 * opt["clip"], (name, k, norm)
        optim.step()
        losses.append(loss.item())
        norms.append(norm)
        clipped.append(1 if c else 0)

    t = dict(init)
    for kname, v in model.state_dict().items():
        t["final." + kname] = v.detach().clone()
    t["tokens"] = tokens
    t["losses"] = torch.tensor(losses)
    t["grad_norms"] = torch.tensor(norms)
    t["clipped"] = torch.tensor(clipped, dtype=torch.int64)
    config = {"vocab_size": V, "embed_size": E, "hidden_size": HID, "num_layers": LAYERS,
              "cell": "lstm", "T": TT, "B": BB, "steps": STEPS,
              "batching": "zaremba: data[r][b] = tokens[b*(steps*T+1) + r]; step k inputs "
                          "rows k*T..k*T+T-1, targets rows k*T+1..k*T+T; state carried",
              "loss": "mean cross-entropy over T*B targets",
              "precision": "float64", "seed": seed}
    config.update(opt)
    meta = {"config": json.dumps(config, sort_keys=True),
            "generator": "tests/ref/make_refs.py", "torch": torch.__version__}
    path = os.path.join(outdir, name + ".safetensors")
    save_safetensors(path, t, meta)
    print("%-22s losses %.4f -> %.4f, clipped %d/%d, norms %.3f..%.3f"
          % (name, losses[0], losses[-1], sum(clipped), STEPS, min(norms), max(norms)))
    return path


TRAJ = [
    ("traj_sgd", 7001, {"optimizer": "sgd", "lr": 1.0, "momentum": 0.0, "weight_decay": 0.0,
                        "beta1": 0.0, "beta2": 0.0, "eps": 0.0, "clip": 0.25}),
    ("traj_sgd_momentum", 7002, {"optimizer": "sgd", "lr": 0.5, "momentum": 0.9,
                                 "weight_decay": 1e-3, "beta1": 0.0, "beta2": 0.0, "eps": 0.0,
                                 "clip": 0.3}),
    ("traj_adam", 7003, {"optimizer": "adam", "lr": 0.01, "momentum": 0.0, "weight_decay": 0.0,
                         "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "clip": 0.35}),
    # weight decay: Adam's L2 term in the gradient, AdamW's decoupled decay
    ("traj_adam_wd", 7004, {"optimizer": "adam", "lr": 0.01, "momentum": 0.0, "weight_decay": 0.05,
                            "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "clip": 0.35}),
    ("traj_adamw", 7005, {"optimizer": "adamw", "lr": 0.01, "momentum": 0.0, "weight_decay": 0.1,
                          "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "clip": 0.35}),
]


def main():
    args = sys.argv[1:]
    only = None
    wide = "--wide" in args
    if wide:
        args.remove("--wide")
    if "--only" in args:
        k = args.index("--only")
        if k + 1 >= len(args):
            sys.exit("--only needs a substring of the file names")
        only = args[k + 1]
        del args[k:k + 2]
    outdir = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(outdir, exist_ok=True)
    check_gru_explicit()
    n = 0
    for i, (cell, L, D, proj) in enumerate(parity_cases()):
        if only is None or only in case_name(cell, L, D, proj):
            make_parity(outdir, i, cell, L, D, proj)
            n += 1
    for i, (cell, L, D, proj, T, B, H, inp) in enumerate(MID):
        if only is None or only in mid_name(cell, L, D, proj, H):
            make_parity(outdir, 400 + i, cell, L, D, proj, (T, B, H, inp), mid_name)
            n += 1
    if wide:
        for i, (cell, L, D, proj, T, B, H, inp) in enumerate(WIDE):
            if only is None or only in wide_name(cell, L, D, proj, H):
                make_parity(outdir, 500 + i, cell, L, D, proj, (T, B, H, inp), wide_name)
                n += 1
    print("%d parity files" % n)
    for name, seed, opt in TRAJ:
        if only is None or only in name:
            make_traj(outdir, name, seed, opt)


if __name__ == "__main__":
    main()
