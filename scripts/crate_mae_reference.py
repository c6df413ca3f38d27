#!/usr/bin/python3
"""An independent PyTorch transcription of the official CRATE-MAE forward (Ma-Lab-Berkeley/CRATE,
model/crate_ae), written from crate-spec.md §6 and crate-family.md §2.1/§5.2, with the official
state-dict names, so a whitebox MAE checkpoint loads into it with load_state_dict(strict=True).

Plain torch only (Debian's python3-torch 1.13: no safetensors, einops or timm), so the safetensors
reader is below. The masking follows the official gather / append-mask-tokens / unshuffle path
(not whitebox's in-place refill), from a given per-sample mask. `mutate` injects deliberate mistakes
for the negative controls of tests/compat/check_mae_parity.py:
  dict-transpose  the decoder applies D~^T instead of D~
  plus-mssa       the decoder adds MSSA instead of subtracting it
  biased-var      norm_pix divides the variance by n instead of n - 1
  lambda-0.1      the encoder ISTA uses the book's lambda 0.1 instead of 0.5
"""
import json
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64}


def read_safetensors(path):
    """Returns ({name: tensor}, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        raw = bytearray(blob[8 + n + a:8 + n + b])
        t = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]) if b > a else torch.empty(0, dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out, meta


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)  # eps 1e-5 inside blocks
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class TiedAttention(nn.Module):
    """MSSA: one projection U as query, key and value; softmax(w w^T / sqrt(p)) w; out projection."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim))

    def forward(self, x):
        b, n, d = x.shape
        w = self.qkv(x).reshape(b, n, self.heads, d // self.heads).transpose(1, 2)  # b h n p
        attn = torch.softmax(w @ w.transpose(-1, -2) * self.scale, dim=-1)
        out = (attn @ w).transpose(1, 2).reshape(b, n, d)
        return self.to_out(out)


class SparseCoding(nn.Module):
    """The encoder's ISTA step, as the official code writes it with F.linear."""

    def __init__(self, dim, eta, lambd):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim, dim))
        self.eta, self.lambd = eta, lambd

    def forward(self, x):
        x1 = F.linear(x, self.weight)
        grad_1 = F.linear(x1, self.weight.t())
        grad_2 = F.linear(x, self.weight.t())
        return F.relu(x + self.eta * (grad_2 - grad_1) - self.eta * self.lambd)


class Synthesis(nn.Module):
    """The decoder's dictionary: F.linear(x, D~), no bias, no ReLU."""

    def __init__(self, dim, transpose=False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim, dim))
        self.transpose = transpose

    def forward(self, x):
        return F.linear(x, self.weight.t() if self.transpose else self.weight)


class EncoderBlock(nn.Module):
    def __init__(self, dim, heads, eta, lambd):
        super().__init__()
        self.layers = nn.ModuleList([nn.ModuleList([PreNorm(dim, TiedAttention(dim, heads)),
                                                    PreNorm(dim, SparseCoding(dim, eta, lambd))])])

    def forward(self, x):
        for attn, ff in self.layers:
            x = ff(attn(x) + x)
        return x


class DecoderBlock(nn.Module):
    def __init__(self, dim, heads, mutate):
        super().__init__()
        self.sign = 1.0 if mutate == "plus-mssa" else -1.0
        self.layers = nn.ModuleList([nn.ModuleList([PreNorm(dim, Synthesis(dim, mutate == "dict-transpose")),
                                                    PreNorm(dim, TiedAttention(dim, heads))])])

    def forward(self, x):
        for ff, attn in self.layers:
            g = ff(x)
            x = g + self.sign * attn(g)
        return x


class PatchEmbed(nn.Module):
    def __init__(self, channels, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class CrateMAE(nn.Module):
    def __init__(self, cfg, mutate=None):
        super().__init__()
        d, p, ch = cfg["dim"], cfg["patch_size"], cfg["channels"]
        self.p, self.ch = p, ch
        self.norm_pix = cfg.get("norm_pix", False)
        self.mutate = mutate
        n = (cfg["image_size"] // p) ** 2
        lambd = 0.1 if mutate == "lambda-0.1" else cfg["lambda"]
        self.patch_embed = PatchEmbed(ch, p, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, d), requires_grad=False)
        self.blocks = nn.ModuleList([EncoderBlock(d, cfg["heads"], cfg["eta"], lambd) for _ in range(cfg["depth"])])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.decoder_embed = nn.Linear(d, d)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, n + 1, d), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([DecoderBlock(d, cfg["heads"], mutate) for _ in range(cfg["decoder_depth"])])
        self.decoder_norm = nn.LayerNorm(d, eps=1e-6)
        self.decoder_pred = nn.Linear(d, p * p * ch)

    def patchify(self, imgs):
        b, c, h, w = imgs.shape
        p = self.p
        x = imgs.reshape(b, c, h // p, p, w // p, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(b, (h // p) * (w // p), p * p * c)

    def forward_encoder(self, imgs, mask):
        x = self.patch_embed(imgs)
        b, n, d = x.shape
        ids_shuffle = torch.sort(mask, dim=1, stable=True).indices  # kept (0) first, in patch order
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        keep = int((mask[0] == 0).sum())
        ids_keep = ids_shuffle[:, :keep]
        x = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
        x = torch.cat([x, self.mask_token.expand(b, n - keep, d)], dim=1)
        x = torch.gather(x, 1, ids_restore.unsqueeze(-1).expand(-1, -1, d))
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1) + self.decoder_pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_decoder(self, x):
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:, :]

    def forward_loss(self, imgs, pred, mask):
        target = self.patchify(imgs)
        if self.norm_pix:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True, unbiased=self.mutate != "biased-var")
            target = (target - mean) / (var + 1.e-6) ** .5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def forward(self, imgs, mask):
        pred = self.forward_decoder(self.forward_encoder(imgs, mask))
        return self.forward_loss(imgs, pred, mask), pred


def load_model(path, mutate=None):
    """A CrateMAE with the weights and config of a whitebox MAE file."""
    tensors, meta = read_safetensors(path)
    cfg = json.loads(meta["whitebox.config"])
    dtype = torch.float64 if cfg.get("dtype") == "f64" else torch.float32
    model = CrateMAE(cfg, mutate).to(dtype)
    model.load_state_dict(tensors, strict=True)
    return model, cfg
