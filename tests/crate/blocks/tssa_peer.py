#!/usr/bin/python3
"""PyTorch peer of whitebox's TSSA (ops/tssa, crate/blocks/tssa) for the parity test
(tests/crate/blocks/test_tssa_parity.cpp). Run with Debian's /usr/bin/python3 and python3-torch.

My own transcription of ToST's operators as crate-family.md §2.7 describes them (RobinWu218/ToST
`AttentionTSSA` in tost_vision/tost.py and `CausalSelfAttention_TSSA` in tost_lang/model_TSSA.py),
in their (batch, head, token, channel) layout with torch's own normalize / softmax / cumsum, not
from whitebox's C++:

  tssa_peer.py IN OUT [--controls C1,C2,...]
    IN: safetensors (float64) with w (B, n, K p), temp (K), bias (K, T_max, 1), g (B, n, K p) the
    output weighting, x (B, n, d) and the block's parameters block.qkv.weight, block.qkv.bias,
    block.temp, block.to_out.0.weight, block.to_out.0.bias; metadata "heads".
    OUT: for each control C (default "none", the faithful transcription), C/y.vision, C/y.causal,
    C/y.block and the gradients of sum(g * y) for each: C/grad.vision.w, C/grad.vision.temp,
    C/grad.causal.w, C/grad.causal.temp, C/grad.causal.bias, C/grad.block.<parameter> (one process,
    one torch import, for every control).
  Controls (each must break parity): no-colnorm (raw squared projections in Pi), softmax-tokens (Pi
  normalised over tokens instead of heads), full-statistics (the causal form with whole-sequence sums,
  not running ones), no-bias-sum (the causal bias added once instead of to each of the p channels).
Exit 0 on success, 2 when torch is missing.
"""
import argparse
import json
import struct
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.stderr.write("tssa_peer: PyTorch is missing (apt-get install python3-torch)\n")
    sys.exit(2)

DT = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def read_st(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        t = torch.frombuffer(bytearray(data[8 + n + b:8 + n + e]), dtype=DT[h["dtype"]]).clone()
        out[name] = t.reshape(h["shape"])
    return out, meta


def write_st(path, tensors):
    header, chunks, off = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().to(torch.float64).numpy().tobytes()
        header[name] = {"dtype": "F64", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def heads_first(w, k):
    b, n, c = w.shape
    return w.view(b, n, k, c // k).transpose(1, 2)  # (B, K, n, p)


def tokens_first(y):
    b, k, n, p = y.shape
    return y.transpose(1, 2).reshape(b, n, k * p)


def vision_tssa(w, temp, k, control):
    w = heads_first(w, k)
    normed = w if control == "no-colnorm" else F.normalize(w, dim=-2)  # each channel over the tokens
    logits = normed.pow(2).sum(dim=-1) * temp.view(k, 1)  # (B, K, n)
    pi = F.softmax(logits, dim=2 if control == "softmax-tokens" else 1)
    share = pi / (pi.sum(dim=-1, keepdim=True) + 1e-8)
    m = torch.matmul(share.unsqueeze(-2), w.pow(2))  # (B, K, 1, p)
    return tokens_first(-(w * pi.unsqueeze(-1)) * (1.0 / (1.0 + m)))


def causal_tssa(w, temp, bias, k, control):
    w = heads_first(w, k)
    t = w.shape[2]
    sq = w.pow(2)
    run = sq.sum(dim=-2, keepdim=True).expand_as(sq) if control == "full-statistics" else torch.cumsum(sq, dim=-2)
    ratio = sq / run.clamp_min(1e-12)
    if control == "no-bias-sum":
        energy = ratio.sum(dim=-1) + bias[:, :t, 0]
    else:
        energy = (ratio + bias[:, :t, :]).sum(dim=-1)
    pi = F.softmax(energy * temp.view(k, 1), dim=1)  # (B, K, T)
    if control == "full-statistics":
        num = (sq * pi.unsqueeze(-1)).sum(dim=-2, keepdim=True)
        den = (pi.sum(dim=-1, keepdim=True) + 1e-8).unsqueeze(-1)
    else:
        num = torch.cumsum(sq * pi.unsqueeze(-1), dim=-2)
        den = (pi.cumsum(dim=-1) + 1e-8).unsqueeze(-1)
    return tokens_first(-(w * pi.unsqueeze(-1)) * (1.0 / (1.0 + num / den)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--controls", default="none")
    a = ap.parse_args()
    t, meta = read_st(a.inp)
    k = int(meta["heads"])
    res = {}
    for control in a.controls.split(","):
        for name, v in run(t, k, control).items():
            res[control + "/" + name] = v
    write_st(a.out, res)
    return 0


def run(t, k, control):
    g = t["g"]
    res = {}

    w, temp = t["w"].clone().requires_grad_(), t["temp"].clone().requires_grad_()
    y = vision_tssa(w, temp, k, control)
    (y * g).sum().backward()
    res.update({"y.vision": y, "grad.vision.w": w.grad, "grad.vision.temp": temp.grad})

    w, temp = t["w"].clone().requires_grad_(), t["temp"].clone().requires_grad_()
    bias = t["bias"].clone().requires_grad_()
    y = causal_tssa(w, temp, bias, k, control)
    (y * g).sum().backward()
    res.update({"y.causal": y, "grad.causal.w": w.grad, "grad.causal.temp": temp.grad, "grad.causal.bias": bias.grad})

    names = ["qkv.weight", "qkv.bias", "temp", "to_out.0.weight", "to_out.0.bias"]
    p = {n: t["block." + n].clone().requires_grad_() for n in names}
    x = t["x"]
    wb = F.linear(x, p["qkv.weight"], p["qkv.bias"])
    y = F.linear(vision_tssa(wb, p["temp"], k, control), p["to_out.0.weight"], p["to_out.0.bias"])
    (y * g).sum().backward()
    res["y.block"] = y
    for n in names:
        res["grad.block." + n] = p[n].grad
    return res


if __name__ == "__main__":
    sys.exit(main())
