#!/usr/bin/python3
"""PyTorch peers of whitebox's causal language models, for the parity test
(tests/crate/models/text/test_text_parity.cpp). Run with Debian's /usr/bin/python3 and python3-torch.

My own transcription of the official modules (crate-family.md §2.4, §2.5, §5.3), written from their
description, not from whitebox's C++:
  CRATE-GPT (PR #13): nanoGPT's GPT with Block = prenorm_1 -> CausalSelfAttention with q = k = v =
    c_attn(x) (no bias), masked_fill(-inf) above the diagonal from the registered `attn.bias` buffer,
    softmax, @ q, c_proj (bias); residual; prenorm_2 -> ISTA (no residual); no ln_f; lm_head tied.
  CRATE-LM: the same attention, the overcomplete ISTA (W (4d, d), two steps, decoded by W), ln_f.
  GPT-2: nanoGPT (c_attn d -> 3d, GELU MLP of 4d with nn.GELU(), ln_f, bias flag).

  text_peer.py JOB [JOB...] [--steps 10] [--lr 1e-3]      JOB = MODE:IN:OUT:CONTROL, all in one process
  MODE grads: IN is safetensors with the model's parameters (official names), "ids" and "targets" (i64),
      and metadata "config" (JSON: family, vocab_size, block_size, dim, depth, heads, bias, eta, lambda).
      Loads the parameters with load_state_dict(strict=True), then writes OUT with "loss" and
      "grad.<name>" for every parameter, in float64.
  MODE adamw: float32, AdamW(betas=(0.9, 0.95), eps 1e-8, weight_decay 0.1 on tensors of >= 2 dims, none
      on the others), `steps` steps on the fixed batch; OUT holds "losses" (steps,) before each update.
  With "attention": "tssa" in the config, the CRATE blocks run ToST's causal TSSA (CausalTSSA below).
  Controls (each must break parity): no-mask (the causal mask missing), ln-f (an ln_f added to
  CRATE-GPT), attn-bias-param (attn.bias a parameter instead of a buffer: the strict load fails),
  no-denom-bias (TSSA without its positional bias).
CONTROL none runs the model as transcribed. A job that fails writes no OUT. Exit status: the number of
failed jobs; 2 when torch is missing is told apart by its message on stderr.
"""
import argparse
import json
import math
import struct
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    sys.stderr.write("text_peer: PyTorch is missing (apt-get install python3-torch)\n")
    sys.exit(2)

DT = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
NP = {torch.float32: ("F32", 4), torch.float64: ("F64", 8), torch.int64: ("I64", 8)}


def read_st(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + b:base + e]), dtype=DT[h["dtype"]]).clone()
        out[name] = t.reshape(h["shape"])
    return out, meta


def write_st(path, tensors):
    header, chunks, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        code, size = NP[t.dtype]
        raw = t.numpy().tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


class CausalSSA(nn.Module):
    """CRATE's causal MSSA: q = k = v = c_attn(x)."""

    def __init__(self, cfg, control):
        super().__init__()
        d, T = cfg["dim"], cfg["block_size"]
        self.h = cfg["heads"]
        self.c_attn = nn.Linear(d, d, bias=False)
        self.c_proj = nn.Linear(d, d, bias=True)
        mask = torch.tril(torch.ones(T, T)).view(1, 1, T, T)
        if control == "attn-bias-param":
            self.bias = nn.Parameter(mask)
        else:
            self.register_buffer("bias", mask, persistent=True)
        self.masked = control != "no-mask"

    def forward(self, x):
        B, T, C = x.shape
        w = self.c_attn(x).view(B, T, self.h, C // self.h).transpose(1, 2)
        att = (w @ w.transpose(-2, -1)) * (1.0 / math.sqrt(w.size(-1)))
        if self.masked:
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ w).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class CausalTSSA(nn.Module):
    """ToST's causal token-statistics attention (crate-family.md §2.7), head k at time t: S_t the running
    sum of squared projections (clamped at 1e-12), the energy sum_i (W_t^2 / S_t + denom_bias[k, t]),
    Pi = softmax over heads of temp_k times it, m the Pi-weighted running mean of W^2, and
    Y = -Pi W / (1 + m); then c_proj. temp (K, 1), denom_bias (K, block_size, 1)."""

    def __init__(self, cfg, control):
        super().__init__()
        d, T = cfg["dim"], cfg["block_size"]
        self.h = cfg["heads"]
        self.c_attn = nn.Linear(d, d, bias=False)
        self.c_proj = nn.Linear(d, d, bias=True)
        self.temp = nn.Parameter(torch.ones(self.h, 1))
        self.denom_bias = nn.Parameter(torch.zeros(self.h, T, 1))
        self.use_bias = control != "no-denom-bias"

    def forward(self, x):
        B, T, C = x.shape
        w = self.c_attn(x).view(B, T, self.h, C // self.h).transpose(1, 2)  # (B, K, T, p)
        sq = w * w
        running = torch.cumsum(sq, dim=2).clamp_min(1e-12)
        energy = sq / running
        if self.use_bias:
            energy = energy + self.denom_bias[:, :T, :]
        pi = F.softmax(self.temp * energy.sum(dim=-1), dim=1)  # (B, K, T): over heads
        mass = torch.cumsum(pi, dim=2) + 1e-8
        m = torch.cumsum(pi.unsqueeze(-1) * sq, dim=2) / mass.unsqueeze(-1)
        y = -(pi.unsqueeze(-1) * w) / (1.0 + m)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Ista(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["dim"]
        self.over = cfg["family"] == "crate-lm"
        self.weight = nn.Parameter(torch.empty(4 * d if self.over else d, d))
        self.eta, self.lambd = cfg["eta"], cfg["lambda"]
        self.steps = cfg.get("ista_steps", 2)

    def forward(self, x):
        W, eta, lam = self.weight, self.eta, self.lambd
        if not self.over:
            x1 = F.linear(x, W)
            grad_1 = F.linear(x1, W.t())
            grad_2 = F.linear(x, W.t())
            return F.relu(x + eta * (grad_2 - grad_1) - eta * lam)
        a = F.relu(eta * F.linear(x, W) - eta * lam)
        for _ in range(self.steps - 1):
            a = F.relu(a + eta * F.linear(x - a @ W, W) - eta * lam)
        return a @ W


class CrateBlock(nn.Module):
    def __init__(self, cfg, control):
        super().__init__()
        d = cfg["dim"]
        self.prenorm_1 = nn.LayerNorm(d)
        self.attn = CausalTSSA(cfg, control) if cfg.get("attention") == "tssa" else CausalSSA(cfg, control)
        self.prenorm_2 = nn.LayerNorm(d)
        self.ista = Ista(cfg)

    def forward(self, x):
        x = x + self.attn(self.prenorm_1(x))
        return self.ista(self.prenorm_2(x))


class GptAttention(nn.Module):
    def __init__(self, cfg, control):
        super().__init__()
        d, T, b = cfg["dim"], cfg["block_size"], cfg["bias"]
        self.h = cfg["heads"]
        self.c_attn = nn.Linear(d, 3 * d, bias=b)
        self.c_proj = nn.Linear(d, d, bias=b)
        mask = torch.tril(torch.ones(T, T)).view(1, 1, T, T)
        if control == "attn-bias-param":
            self.bias = nn.Parameter(mask)
        else:
            self.register_buffer("bias", mask, persistent=True)
        self.masked = control != "no-mask"

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        if self.masked:
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class LayerNormB(nn.Module):
    """nanoGPT's LayerNorm with an optional bias."""

    def __init__(self, d, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class GptBlock(nn.Module):
    def __init__(self, cfg, control):
        super().__init__()
        d, b = cfg["dim"], cfg["bias"]
        self.ln_1 = LayerNormB(d, b)
        self.attn = GptAttention(cfg, control)
        self.ln_2 = LayerNormB(d, b)
        self.mlp = nn.Module()
        self.mlp.c_fc = nn.Linear(d, 4 * d, bias=b)
        self.mlp.c_proj = nn.Linear(4 * d, d, bias=b)
        self.gelu = nn.GELU()

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp.c_proj(self.gelu(self.mlp.c_fc(self.ln_2(x))))


class LM(nn.Module):
    def __init__(self, cfg, control):
        super().__init__()
        d, fam = cfg["dim"], cfg["family"]
        block = GptBlock if fam == "gpt2" else CrateBlock
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg["vocab_size"], d),
            wpe=nn.Embedding(cfg["block_size"], d),
            h=nn.ModuleList([block(cfg, control) for _ in range(cfg["depth"])])))
        self.has_ln_f = fam != "crate-gpt" or control == "ln-f"
        if self.has_ln_f:
            self.transformer["ln_f"] = LayerNormB(d, cfg["bias"] or fam != "gpt2")
        self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, idx, targets):
        T = idx.size(1)
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T))
        for b in self.transformer.h:
            x = b(x)
        if self.has_ln_f:
            x = self.transformer.ln_f(x)
        logits = self.lm_head(x)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def build(args, dtype):
    tensors, meta = read_st(args.inp)
    cfg = json.loads(meta["config"])
    model = LM(cfg, args.control).to(dtype)
    state = {k: v.to(dtype) for k, v in tensors.items() if k not in ("ids", "targets")}
    # The official state dict also holds the causal-mask buffers and the tied lm_head; whitebox's
    # file has neither, so they come from the module itself (a buffer is not a learned weight).
    own = model.state_dict()
    for k, v in own.items():
        if (k.endswith("attn.bias") and k not in dict(model.named_parameters())) or k == "lm_head.weight":
            state.setdefault(k, v)
        if args.control == "ln-f" and k.startswith("transformer.ln_f."):
            state.setdefault(k, v)  # the added ln_f at its init (weight 1, bias 0): still a different model
    model.load_state_dict(state, strict=True)  # a RuntimeError fails this job (no OUT written)
    return model, tensors["ids"], tensors["targets"]


def run_job(args):
    torch.manual_seed(0)
    if args.mode == "grads":
        model, ids, y = build(args, torch.float64)
        loss = model(ids, y)
        loss.backward()
        out = {"loss": loss.detach().reshape(1)}
        for n, p in model.named_parameters():
            if n == "lm_head.weight":
                continue
            out["grad." + n] = p.grad if p.grad is not None else torch.zeros_like(p)
        write_st(args.out, out)
        return
    model, ids, y = build(args, torch.float32)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and n != "lm_head.weight"]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    losses = []
    for _ in range(args.steps):
        opt.zero_grad()
        loss = model(ids, y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    write_st(args.out, {"losses": torch.tensor(losses, dtype=torch.float64)})


def main():
    # One job per argument, "MODE:IN:OUT:CONTROL" (MODE grads or adamw), all in one process, so torch is
    # imported once. A job that fails (e.g. the strict load refuses the weights) writes no OUT, says why on
    # stderr, and the others still run; the exit status is the number of failed jobs (at most 100).
    ap = argparse.ArgumentParser()
    ap.add_argument("jobs", nargs="+", help="MODE:IN:OUT:CONTROL")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()
    failed = 0
    for spec in args.jobs:
        parts = spec.split(":")
        if len(parts) != 4 or parts[0] not in ("grads", "adamw") or \
                parts[3] not in ("none", "no-mask", "ln-f", "attn-bias-param", "no-denom-bias"):
            sys.exit(f"text_peer: bad job {spec!r} (want MODE:IN:OUT:CONTROL)")
        job = argparse.Namespace(mode=parts[0], inp=parts[1], out=parts[2], control=parts[3],
                                 steps=args.steps, lr=args.lr)
        try:
            run_job(job)
        except RuntimeError as e:
            sys.stderr.write(f"text_peer: {spec}: {e}\n")
            failed += 1
    sys.exit(min(failed, 100))


if __name__ == "__main__":
    main()
