#!/usr/bin/env python3
"""An independent NumPy re-implementation of the official PyTorch CRATE forward pass.

Written from the official code's semantics (Ma-Lab-Berkeley/CRATE `model/crate.py`, as described in
docs crate-spec §1.1-1.4 and Appendix B), not from whitebox's C++, so that agreement between the two is
evidence that a whitebox checkpoint means the same thing to the official model. It needs only Python 3
and NumPy (Debian: python3-numpy); safetensors files are parsed here directly.

The official forward, in PyTorch terms, which this file follows line by line:

    x = Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)')(img)
    x = to_patch_embedding.3(to_patch_embedding.2(to_patch_embedding.1(x)))    # LayerNorm, Linear, LayerNorm
    x = cat([cls_token repeated over b, x], dim=1) + pos_embedding
    for each layer l:                         # transformer.layers.{l} = [PreNorm(Attention), PreNorm(FeedForward)]
        w    = rearrange(qkv(norm0(x)), 'b n (h d) -> b h n d')           # qkv: Linear without bias
        attn = softmax(w @ w^T * dim_head**-0.5, dim=-1)
        out  = to_out.0(rearrange(attn @ w, 'b h n d -> b n (h d)'))        # nn.Identity if heads == 1 and dim_head == dim
        grad_x = out + x                                                    # residual around attention
        y      = norm1(grad_x)
        x1     = F.linear(y, D)          # y D^T
        grad_1 = F.linear(x1, D.t())     # y D^T D
        grad_2 = F.linear(y, D.t())      # y D
        x = relu(y + step * (grad_2 - grad_1) - step * lambd)              # no residual around ISTA
    x = x.mean(dim=1) if pool == 'mean' else x[:, 0]
    logits = mlp_head.1(mlp_head.0(x))                                     # LayerNorm, Linear

nn.LayerNorm: (x - mean) / sqrt(biased var + 1e-5) * weight + bias over the last axis.
nn.Linear: y = x W^T + b with W stored (out_features, in_features).

Usage:
    crate_reference.py MODEL.safetensors --inputs LOGITS.safetensors [--tol 1e-4]
        runs the reference on the "images" of LOGITS.safetensors (written by `whitebox logits`) and
        compares with its "logits"; exit 0 when max|ref - whitebox| / max|ref| <= tol, 1 otherwise.
    crate_reference.py MODEL.safetensors --random 4 [--seed 0] [--out ref.safetensors]
        runs it on N(0, 1) images and prints (or writes) the logits.
The configuration (image size, patch, heads, dim_head, eta, lambda, pool) comes from the model file's
"whitebox.config" metadata, or, for files without it (official weights converted to safetensors),
from the --inputs file's (`whitebox logits` records the configuration it ran); flags override both. dim, depth, classes and the patch dimension are read
from the tensor shapes.

--mutate NAME deliberately breaks one detail of the reference (a negative control for the test:
each mutation must make the comparison fail); see MUTATIONS.
"""
import argparse
import json
import struct
import sys

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1"}

MUTATIONS = {
    "transpose-ista": "use D^T for the ISTA dictionary (square, so only the values can tell)",
    "patch-order": "flatten patches as (p2 p1 c) instead of (p1 p2 c)",
    "head-split": "split qkv into heads as (d h) instead of (h d)",
    "ista-residual": "add a residual connection around ISTA",
    "swap-norms": "swap the two PreNorm LayerNorms of each layer",
    "scale": "scale attention scores by dim**-0.5 instead of dim_head**-0.5",
    "lambda": "use lambda + 0.05 (the threshold must come from the config)",
}


def read_safetensors(path):
    """Returns ({name: ndarray}, metadata dict). Minimal parser of the safetensors format."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        shape = tuple(e["shape"])
        if e["dtype"] == "BF16":
            u = np.frombuffer(data[begin:end], dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        elif e["dtype"] in DTYPES:
            arr = np.frombuffer(data[begin:end], dtype=DTYPES[e["dtype"]])
        else:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {e['dtype']}")
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: tensor {name} has {arr.size} values for shape {shape}")
        tensors[name] = arr.reshape(shape)
    return tensors, meta


def write_safetensors(path, tensors, metadata=None):
    tags = {np.dtype("<f8"): "F64", np.dtype("<f4"): "F32", np.dtype("<i8"): "I64"}
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        b = a.tobytes()
        header[name] = {"dtype": tags[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---------------------------------------------------------------- the official forward, in NumPy

def layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased, as torch
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def linear(x, weight, bias=None):  # torch.nn.functional.linear: x W^T + b
    y = x @ weight.T
    return y if bias is None else y + bias


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def relu(x):
    return np.maximum(x, 0)


def patchify(img, p, mutate=None):
    """einops 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'."""
    b, c, hh, ww = img.shape
    h, w = hh // p, ww // p
    x = img.reshape(b, c, h, p, w, p)            # b c h p1 w p2
    if mutate == "patch-order":
        x = x.transpose(0, 2, 4, 5, 3, 1)        # b h w p2 p1 c   (wrong on purpose)
    else:
        x = x.transpose(0, 2, 4, 3, 5, 1)        # b h w p1 p2 c
    return x.reshape(b, h * w, p * p * c)


def attention(x, sd, prefix, heads, dim_head, dim, mutate=None):
    """Attention.forward of the official code: one projection w used as query, key and value."""
    b, n, _ = x.shape
    w = linear(x, sd[prefix + "qkv.weight"])                           # (b, n, h*d), no bias
    if mutate == "head-split":
        w = w.reshape(b, n, dim_head, heads).transpose(0, 3, 1, 2)     # (d h): wrong on purpose
    else:
        w = w.reshape(b, n, heads, dim_head).transpose(0, 2, 1, 3)     # 'b n (h d) -> b h n d'
    scale = (dim if mutate == "scale" else dim_head) ** -0.5
    dots = np.matmul(w, w.transpose(0, 1, 3, 2)) * scale
    attn = softmax(dots, axis=-1)
    out = np.matmul(attn, w)                                           # (b, h, n, d)
    out = out.transpose(0, 2, 1, 3).reshape(b, n, heads * dim_head)    # 'b h n d -> b n (h d)'
    project_out = not (heads == 1 and dim_head == dim)
    if project_out:
        out = linear(out, sd[prefix + "to_out.0.weight"], sd[prefix + "to_out.0.bias"])
    return out


def feed_forward(x, weight, step_size, lambd, mutate=None):
    """FeedForward.forward of the official code (the ISTA step), verbatim."""
    if mutate == "transpose-ista":
        weight = weight.T
    x1 = linear(x, weight)                     # F.linear(x, self.weight)
    grad_1 = linear(x1, weight.T)              # F.linear(x1, self.weight.t())
    grad_2 = linear(x, weight.T)               # F.linear(x, self.weight.t())
    grad_update = step_size * (grad_2 - grad_1) - step_size * lambd
    return relu(x + grad_update)


def crate_forward(sd, img, cfg, mutate=None):
    eps = cfg["ln_eps"]
    p = cfg["patch_size"]
    heads, dim_head = cfg["heads"], cfg["dim_head"]
    dim = sd["cls_token"].shape[-1]
    # to_patch_embedding: Rearrange, LayerNorm(patch_dim), Linear(patch_dim, dim), LayerNorm(dim)
    x = patchify(img, p, mutate)
    x = layer_norm(x, sd["to_patch_embedding.1.weight"], sd["to_patch_embedding.1.bias"], eps)
    x = linear(x, sd["to_patch_embedding.2.weight"], sd["to_patch_embedding.2.bias"])
    x = layer_norm(x, sd["to_patch_embedding.3.weight"], sd["to_patch_embedding.3.bias"], eps)
    b, n, _ = x.shape
    cls = np.broadcast_to(sd["cls_token"], (b, 1, dim))                # repeat '1 1 d -> b 1 d'
    x = np.concatenate([cls, x], axis=1)
    x = x + sd["pos_embedding"][:, : n + 1]
    lambd = cfg["lambda"] + (0.05 if mutate == "lambda" else 0.0)
    for l in range(cfg["depth"]):
        pre = f"transformer.layers.{l}."
        n0, n1 = pre + "0.norm.", pre + "1.norm."
        if mutate == "swap-norms":
            n0, n1 = n1, n0
        # PreNorm(dim, Attention): fn(norm(x)); residual added by Transformer.forward
        grad_x = attention(layer_norm(x, sd[n0 + "weight"], sd[n0 + "bias"], eps), sd, pre + "0.fn.", heads,
                           dim_head, dim, mutate) + x
        # PreNorm(dim, FeedForward): no residual
        y = layer_norm(grad_x, sd[n1 + "weight"], sd[n1 + "bias"], eps)
        x = feed_forward(y, sd[pre + "1.fn.weight"], cfg["eta"], lambd, mutate)
        if mutate == "ista-residual":
            x = x + grad_x
    x = x.mean(axis=1) if cfg["pool"] == "mean" else x[:, 0]
    x = layer_norm(x, sd["mlp_head.0.weight"], sd["mlp_head.0.bias"], eps)
    return linear(x, sd["mlp_head.1.weight"], sd["mlp_head.1.bias"])


# ---------------------------------------------------------------- configuration and checks

def expected_names(depth, project_out):
    names = ["pos_embedding", "cls_token"]
    for i in (1, 2, 3):
        names += [f"to_patch_embedding.{i}.weight", f"to_patch_embedding.{i}.bias"]
    for l in range(depth):
        pre = f"transformer.layers.{l}."
        names += [pre + "0.norm.weight", pre + "0.norm.bias", pre + "0.fn.qkv.weight"]
        if project_out:
            names += [pre + "0.fn.to_out.0.weight", pre + "0.fn.to_out.0.bias"]
        names += [pre + "1.norm.weight", pre + "1.norm.bias", pre + "1.fn.weight"]
    names += ["mlp_head.0.weight", "mlp_head.0.bias", "mlp_head.1.weight", "mlp_head.1.bias"]
    return names


def resolve_config(sd, meta, args, fallback_meta=None):
    """The configuration: the model file's whitebox.config metadata (else the --inputs file's, which
    `whitebox logits` writes), overridden by flags; sizes from the tensors."""
    cfg = {"pool": "cls", "eta": 0.1, "lambda": 0.1, "ln_eps": 1e-5}
    if "whitebox.config" not in meta and fallback_meta and "whitebox.config" in fallback_meta:
        meta = fallback_meta
    if "whitebox.config" in meta:
        wc = json.loads(meta["whitebox.config"])
        unofficial = {k: wc.get(k) for k, v in [("attention", "mssa"), ("mlp", "ista"), ("output_map", "free"),
                                                 ("dictionary", "complete"), ("ista_residual", False),
                                                 ("learnable_ista", False)] if wc.get(k, v) != v}
        if unofficial:
            raise SystemExit(f"crate_reference: the model uses variants the official CRATE does not have: {unofficial}")
        for k in ("image_size", "patch_size", "channels", "heads", "dim_head", "eta", "lambda", "pool", "ln_eps",
                  "depth", "dim", "num_classes"):
            if k in wc:
                cfg[k] = wc[k]
    for k in ("image_size", "patch_size", "channels", "heads", "dim_head", "eta", "lambda", "pool"):
        v = getattr(args, k)
        if v is not None:
            cfg[k] = v
    # sizes from the tensors
    depth = 0
    while f"transformer.layers.{depth}.0.norm.weight" in sd:
        depth += 1
    dim = sd["cls_token"].shape[-1]
    inner = sd["transformer.layers.0.0.fn.qkv.weight"].shape[0] if depth else None
    for k, v in (("depth", depth), ("dim", dim), ("num_classes", sd["mlp_head.1.weight"].shape[0])):
        if k in cfg and cfg[k] != v:
            raise SystemExit(f"crate_reference: config says {k} = {cfg[k]}, the tensors say {v}")
        cfg[k] = v
    if "heads" not in cfg:
        raise SystemExit("crate_reference: no whitebox.config metadata; pass --heads (and --image-size, --patch-size)")
    if "dim_head" not in cfg and inner is not None:
        cfg["dim_head"] = inner // cfg["heads"]
    if inner is not None and cfg["heads"] * cfg["dim_head"] != inner:
        raise SystemExit(f"crate_reference: heads {cfg['heads']} x dim_head {cfg['dim_head']} != qkv rows {inner}")
    patch_dim = sd["to_patch_embedding.1.weight"].shape[0]
    if "channels" not in cfg:
        cfg["channels"] = 3
    if "patch_size" not in cfg:
        cfg["patch_size"] = int(round((patch_dim / cfg["channels"]) ** 0.5))
    if cfg["patch_size"] ** 2 * cfg["channels"] != patch_dim:
        raise SystemExit(f"crate_reference: patch {cfg['patch_size']}^2 x {cfg['channels']} channels != patch dim {patch_dim}")
    if "image_size" not in cfg:
        side = int(round((sd["pos_embedding"].shape[1] - 1) ** 0.5)) * cfg["patch_size"]
        cfg["image_size"] = side
    # strict: the same names as the official state_dict, nothing more or less (load_state_dict(strict=True))
    project_out = not (cfg["heads"] == 1 and cfg["dim_head"] == dim)
    want = set(expected_names(depth, project_out))
    have = set(sd)
    if want != have:
        raise SystemExit(f"crate_reference: names differ from the official state_dict: missing {sorted(want - have)}, "
                         f"unexpected {sorted(have - want)}")
    shapes = official_shapes(cfg, project_out)
    bad = {k: (tuple(sd[k].shape), s) for k, s in shapes.items() if tuple(sd[k].shape) != s}
    if bad:
        raise SystemExit(f"crate_reference: shapes differ from the official module (file, official): {bad}")
    return cfg


def official_shapes(cfg, project_out):
    """Parameter shapes of the official CRATE(...) module for this configuration (spec Appendix B)."""
    d, kp, c = cfg["dim"], cfg["heads"] * cfg["dim_head"], cfg["num_classes"]
    dp = cfg["patch_size"] ** 2 * cfg["channels"]
    n = (cfg["image_size"] // cfg["patch_size"]) ** 2
    s = {"pos_embedding": (1, n + 1, d), "cls_token": (1, 1, d),
         "to_patch_embedding.1.weight": (dp,), "to_patch_embedding.1.bias": (dp,),
         "to_patch_embedding.2.weight": (d, dp), "to_patch_embedding.2.bias": (d,),
         "to_patch_embedding.3.weight": (d,), "to_patch_embedding.3.bias": (d,),
         "mlp_head.0.weight": (d,), "mlp_head.0.bias": (d,), "mlp_head.1.weight": (c, d), "mlp_head.1.bias": (c,)}
    for l in range(cfg["depth"]):
        pre = f"transformer.layers.{l}."
        s.update({pre + "0.norm.weight": (d,), pre + "0.norm.bias": (d,), pre + "0.fn.qkv.weight": (kp, d),
                  pre + "1.norm.weight": (d,), pre + "1.norm.bias": (d,), pre + "1.fn.weight": (d, d)})
        if project_out:
            s.update({pre + "0.fn.to_out.0.weight": (d, kp), pre + "0.fn.to_out.0.bias": (d,)})
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("model", help="model .safetensors (official state_dict names)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--inputs", help="a `whitebox logits` file: run on its images, compare with its logits")
    src.add_argument("--random", type=int, help="run on N random N(0, 1) images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write the reference images and logits here (safetensors)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max |ref - whitebox| / max |ref| allowed (default 1e-4)")
    ap.add_argument("--precision", choices=["float64", "float32"], default="float64",
                    help="arithmetic of the reference (default float64: a reference more precise than both sides)")
    ap.add_argument("--mutate", choices=sorted(MUTATIONS), help="break one detail on purpose (negative control)")
    for k, t in (("image_size", int), ("patch_size", int), ("channels", int), ("heads", int), ("dim_head", int),
                 ("eta", float), ("lambda", float)):
        ap.add_argument("--" + k.replace("_", "-"), dest=k, type=t)
    ap.add_argument("--pool", choices=["cls", "mean"])
    args = ap.parse_args(argv)

    sd, meta = read_safetensors(args.model)
    io, io_meta = read_safetensors(args.inputs) if args.inputs else (None, None)
    cfg = resolve_config(sd, meta, args, io_meta)
    dt = np.float64 if args.precision == "float64" else np.float32
    sd = {k: v.astype(dt) for k, v in sd.items()}
    shape = (cfg["channels"], cfg["image_size"], cfg["image_size"])
    if args.inputs:
        images = io["images"]
        if tuple(images.shape[1:]) != shape:
            raise SystemExit(f"crate_reference: {args.inputs} images are {images.shape}, the model needs (B, {shape})")
    else:
        images = np.random.default_rng(args.seed).standard_normal((args.random,) + shape).astype(np.float32)
    logits = crate_forward(sd, images.astype(dt), cfg, args.mutate)
    print(f"crate_reference: {args.model}: d {cfg['dim']}, depth {cfg['depth']}, heads {cfg['heads']} x "
          f"{cfg['dim_head']}, patch {cfg['patch_size']}, {shape}, pool {cfg['pool']}, eta {cfg['eta']}, "
          f"lambda {cfg['lambda']}; {images.shape[0]} inputs, {args.precision}"
          + (f", MUTATED: {args.mutate}" if args.mutate else ""))
    if args.out:
        write_safetensors(args.out, {"images": images.astype(np.float32), "logits": logits})
    if not args.inputs:
        np.set_printoptions(precision=6, suppress=True, linewidth=150)
        print(logits)
        return 0
    theirs = io["logits"].astype(np.float64)
    if theirs.shape != logits.shape:
        print(f"FAIL: logits shape {theirs.shape} in {args.inputs}, reference {logits.shape}")
        return 1
    diff = np.abs(theirs - logits)
    scale = np.abs(logits).max()
    rel = diff.max() / scale if scale > 0 else diff.max()
    same_argmax = int((theirs.argmax(1) == logits.argmax(1)).sum())
    ok = bool(rel <= args.tol)
    print(f"{'OK' if ok else 'FAIL'}: max |ref - whitebox| = {diff.max():.3e}, max |ref| = {scale:.3e}, "
          f"relative {rel:.3e} (tol {args.tol:.0e}); argmax agrees on {same_argmax}/{len(logits)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
