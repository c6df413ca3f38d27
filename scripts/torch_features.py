#!/usr/bin/python3
"""Dump the per-layer hidden states of a PyTorch model to safetensors, for `whitebox rate`.

Forward hooks on the named modules record each one's output on one batch; the file holds one float
array per module, named as the module, in the order given (whitebox rate reads them as layers 1..L),
plus the labels when given. Outputs (B, N, d) and (B, d) are written as they are; a 4-D output
(B, C, H, W) of a convolution becomes (B, H*W, C) tokens (--no-conv-tokens refuses it instead); a tuple
output gives its first tensor. Runs with Debian's python3-torch (run it with /usr/bin/python3).

  /usr/bin/python3 scripts/torch_features.py --model mynet.py:build --weights state.pt \\
      --modules blocks.0 blocks.1 blocks.2 --input batch.npy --labels labels.npy --out feats.safetensors
  ./build/experiments/whitebox rate feats.safetensors --labels labels --token 0 --fit pca --out feats

--model FILE.py:FUNC calls FUNC() to build the nn.Module; --weights loads a state_dict (torch.save) into
it; --input is a .npy or a torch.save'd tensor. As a library: dump_features(model, names, x, path, labels).
"""
import argparse
import importlib.util
import json
import struct
import sys

import torch

_DTYPES = {torch.float32: ("F32", torch.float32), torch.float64: ("F64", torch.float64),
           torch.float16: ("F32", torch.float32), torch.bfloat16: ("F32", torch.float32),
           torch.int64: ("I64", torch.int64), torch.int32: ("I64", torch.int64), torch.uint8: ("I64", torch.int64)}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, tensor). float16/bfloat16 are widened to F32, small ints to I64."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors:
        if name in header:
            raise ValueError(f"tensor '{name}' given twice")
        if t.dtype not in _DTYPES:
            raise ValueError(f"tensor '{name}' has dtype {t.dtype}, which is not written (floats and integers are)")
        tag, dt = _DTYPES[t.dtype]
        raw = t.detach().to("cpu", dt).contiguous().numpy().tobytes()
        header[name] = {"dtype": tag, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    import os
    os.replace(tmp, path)


def _as_tokens(name, out, conv_tokens):
    if isinstance(out, (tuple, list)):
        out = next((o for o in out if torch.is_tensor(o)), None)
        if out is None:
            raise ValueError(f"module '{name}' returned no tensor")
    if not torch.is_tensor(out):
        raise ValueError(f"module '{name}' returned {type(out).__name__}, not a tensor")
    if out.dim() == 4:
        if not conv_tokens:
            raise ValueError(f"module '{name}' returned a 4-D tensor {tuple(out.shape)}; allow --conv-tokens")
        b, c, h, w = out.shape
        out = out.reshape(b, c, h * w).transpose(1, 2)  # (B, H*W, C): one token per position
    if out.dim() not in (2, 3):
        raise ValueError(f"module '{name}' returned shape {tuple(out.shape)}; expected (B, d), (B, N, d) or (B, C, H, W)")
    return out.detach().clone()


def dump_features(model, names, x, path, labels=None, conv_tokens=True, metadata=None):
    """Runs model(x) once in eval mode without gradients, recording the outputs of the named modules."""
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        known = ", ".join(n for n in modules if n) or "(none)"
        raise ValueError(f"no module named {', '.join(missing)}; the model has: {known}")
    if len(set(names)) != len(names):
        raise ValueError("a module is named twice")
    got, handles = {}, []
    for n in names:
        def hook(_m, _inp, out, n=n):
            if n not in got:  # the first call of a module reused inside one forward
                got[n] = _as_tokens(n, out, conv_tokens)
        handles.append(modules[n].register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    never = [n for n in names if n not in got]
    if never:
        raise ValueError(f"module(s) {', '.join(never)} never ran in the forward pass")
    tensors = [(n, got[n]) for n in names]
    if labels is not None:
        labels = torch.as_tensor(labels)
        if labels.dtype.is_floating_point:
            raise ValueError("labels must be integers")
        tensors.append(("labels", labels.to(torch.int64)))
    meta = {"source": "scripts/torch_features.py", "modules": ",".join(names)}
    meta.update(metadata or {})
    write_safetensors(path, tensors, meta)
    return tensors


def _load_array(path):
    if path.endswith(".npy"):
        import numpy as np
        return torch.from_numpy(np.load(path, allow_pickle=False))
    t = torch.load(path, map_location="cpu")
    if not torch.is_tensor(t):
        raise ValueError(f"{path}: holds a {type(t).__name__}, not a tensor")
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="FILE.py:FUNC, FUNC() returns the torch.nn.Module")
    ap.add_argument("--weights", help="a state_dict saved with torch.save, loaded strictly")
    ap.add_argument("--modules", nargs="+", required=True, help="module names (model.named_modules()), in layer order")
    ap.add_argument("--input", required=True, help="the batch: .npy or torch.save'd tensor")
    ap.add_argument("--labels", help="integer labels (.npy or .pt), written as 'labels'")
    ap.add_argument("--out", required=True, help="output .safetensors")
    ap.add_argument("--no-conv-tokens", action="store_true", help="refuse 4-D outputs instead of making tokens")
    ap.add_argument("--double", action="store_true", help="run the model in float64")
    a = ap.parse_args(argv)
    file, sep, func = a.model.rpartition(":")
    if not sep or not file.endswith(".py"):
        ap.error(f"--model {a.model}: expected FILE.py:FUNC")
    spec = importlib.util.spec_from_file_location("torch_features_model", file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if not hasattr(mod, func):
        ap.error(f"--model: {file} defines no '{func}'")
    model = getattr(mod, func)()
    if a.weights:
        model.load_state_dict(torch.load(a.weights, map_location="cpu"))
    x = _load_array(a.input)
    if a.double:
        model = model.double()
        x = x.double() if x.dtype.is_floating_point else x
    elif x.dtype == torch.float64:
        x = x.float()
    labels = _load_array(a.labels) if a.labels else None
    tensors = dump_features(model, a.modules, x, a.out, labels, conv_tokens=not a.no_conv_tokens)
    for n, t in tensors:
        print(f"{n}: {tuple(t.shape)} {t.dtype}")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    try:
        main()
    except (ValueError, OSError, RuntimeError) as e:
        print(f"torch_features.py: error: {e}", file=sys.stderr)
        sys.exit(1)
