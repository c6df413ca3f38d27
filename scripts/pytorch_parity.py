#!/usr/bin/env python3
"""Parity of whitebox checkpoints with the official PyTorch CRATE (Ma-Lab-Berkeley/CRATE model/crate.py).

NOT RUN IN WHITEBOX'S OWN TESTS: it needs PyTorch, safetensors, einops and a checkout of
https://github.com/Ma-Lab-Berkeley/CRATE, none of which the build machines have (PyTorch is not a
Debian package). The test suite checks the same thing against scripts/crate_reference.py, a NumPy
re-implementation of the official forward (tests/compat). This script is for users who have torch;
it exits with status 2 and says what is missing otherwise.

Two subcommands:

  check   --checkpoint model.safetensors --logits logits.safetensors --crate-repo PATH [--tol 1e-4]
          Builds the official CRATE module with the configuration of the checkpoint's "whitebox.config"
          metadata (or the LOGITS file's, for converted official weights), loads the weights with load_state_dict(safetensors.torch.load_file(...), strict=True),
          runs it on the "images" of LOGITS (written by `whitebox logits`) and compares with its "logits".
          Exit 0 when max |torch - whitebox| / max |torch| <= tol, 1 otherwise.
          Make LOGITS with:  whitebox logits --checkpoint model.safetensors --random 8 --out logits.safetensors

  convert --pth official.pth --out official.safetensors
          Converts an official PyTorch checkpoint (a state_dict, possibly under "model" or "state_dict",
          possibly with "module." prefixes) to a float32 safetensors file whitebox loads with
          `whitebox eval --checkpoint official.safetensors --model crate-small` (name the configuration:
          the file has no whitebox metadata).

The official code fixes lambd = 0.1 in FeedForward.__init__ and takes the step size as `ista`; `check`
sets each layer's `lambd` attribute to the checkpoint's lambda, so non-default values compare too.
"""
import argparse
import json
import os
import sys


def need_torch():
    missing = []
    mods = {}
    for name in ("torch", "safetensors.torch", "einops"):
        try:
            mods[name] = __import__(name, fromlist=["_"])
        except ImportError:
            missing.append(name)
    if missing:
        sys.stderr.write(
            "pytorch_parity: missing Python packages: " + ", ".join(missing) + "\n"
            "  pip install torch safetensors einops   (this script cannot run without them; whitebox's own\n"
            "  test of the same property is tests/compat, against the NumPy reference scripts/crate_reference.py)\n")
        sys.exit(2)
    return mods


def official_crate_class(repo):
    path = os.path.join(repo or "", "model", "crate.py")
    if not repo or not os.path.isfile(path):
        sys.stderr.write(f"pytorch_parity: --crate-repo must be a checkout of Ma-Lab-Berkeley/CRATE (no {path});\n"
                         "  git clone https://github.com/Ma-Lab-Berkeley/CRATE\n")
        sys.exit(2)
    sys.path.insert(0, os.path.abspath(repo))
    from model.crate import CRATE  # the official module, unchanged
    return CRATE


def check(args):
    mods = need_torch()
    torch, st = mods["torch"], mods["safetensors.torch"]
    CRATE = official_crate_class(args.crate_repo)
    from safetensors import safe_open
    with safe_open(args.checkpoint, framework="pt") as f:
        meta = f.metadata() or {}
    if "whitebox.config" not in meta:  # e.g. converted official weights: use the config `whitebox logits` ran
        with safe_open(args.logits, framework="pt") as f:
            meta = f.metadata() or {}
    if "whitebox.config" not in meta:
        sys.stderr.write(f"pytorch_parity: neither {args.checkpoint} nor {args.logits} has whitebox.config metadata\n")
        sys.exit(2)
    c = json.loads(meta["whitebox.config"])
    for k, v in (("attention", "mssa"), ("mlp", "ista"), ("output_map", "free"), ("dictionary", "complete"),
                 ("ista_residual", False), ("learnable_ista", False)):
        if c.get(k, v) != v:
            sys.stderr.write(f"pytorch_parity: the model uses {k} = {c[k]}, which the official CRATE does not have\n")
            sys.exit(2)
    model = CRATE(image_size=c["image_size"], patch_size=c["patch_size"], num_classes=c["num_classes"], dim=c["dim"],
                  depth=c["depth"], heads=c["heads"], mlp_dim=c["dim"], pool=c.get("pool", "cls"),
                  channels=c["channels"], dim_head=c["dim_head"], dropout=0.0, emb_dropout=0.0,
                  ista=c.get("eta", 0.1))
    for attn, ff in model.transformer.layers:
        ff.fn.lambd = c.get("lambda", 0.1)
    state = st.load_file(args.checkpoint)
    model.load_state_dict(state, strict=True)  # raises on any missing, unexpected or mis-shaped tensor
    model.eval()
    dtype = torch.float64 if args.float64 else torch.float32
    model.to(dtype)
    io = st.load_file(args.logits)
    with torch.no_grad():
        out = model(io["images"].to(dtype))
    theirs = io["logits"].to(torch.float64)
    out = out.to(torch.float64)
    diff = (out - theirs).abs().max().item()
    scale = out.abs().max().item()
    rel = diff / scale if scale > 0 else diff
    agree = (out.argmax(1) == theirs.argmax(1)).sum().item()
    ok = rel <= args.tol
    print(f"{'OK' if ok else 'FAIL'}: official CRATE ({c['name']}, strict load) vs whitebox on {len(out)} inputs: "
          f"max |diff| {diff:.3e}, max |logit| {scale:.3e}, relative {rel:.3e} (tol {args.tol:.0e}); "
          f"argmax agrees on {agree}/{len(out)}")
    return 0 if ok else 1


def convert(args):
    mods = need_torch()
    torch, st = mods["torch"], mods["safetensors.torch"]
    try:
        obj = torch.load(args.pth, map_location="cpu", weights_only=True)
    except Exception as e:  # older files pickle other objects next to the weights
        if not args.trust_pickle:
            sys.stderr.write(f"pytorch_parity: {args.pth} does not load with weights_only=True ({e});\n"
                             "  pass --trust-pickle to unpickle it fully (only for files you trust)\n")
            return 2
        obj = torch.load(args.pth, map_location="cpu", weights_only=False)
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    state = {}
    for k, v in obj.items():
        if not hasattr(v, "dtype"):
            continue
        k = k[len("module."):] if k.startswith("module.") else k
        state[k] = v.detach().to(torch.float32).contiguous()
    st.save_file(state, args.out, metadata={"format": "pt"})
    print(f"{args.out}: {len(state)} tensors; load with: whitebox eval --checkpoint {args.out} --model <config>")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="official CRATE on a whitebox checkpoint vs whitebox's logits")
    c.add_argument("--checkpoint", required=True)
    c.add_argument("--logits", required=True, help="written by `whitebox logits`")
    c.add_argument("--crate-repo", help="checkout of Ma-Lab-Berkeley/CRATE")
    c.add_argument("--tol", type=float, default=1e-4)
    c.add_argument("--float64", action="store_true", help="run the official model in float64")
    v = sub.add_parser("convert", help="official .pth state_dict -> safetensors for whitebox")
    v.add_argument("--pth", required=True)
    v.add_argument("--out", required=True)
    v.add_argument("--trust-pickle", action="store_true", help="allow torch.load(weights_only=False)")
    args = ap.parse_args()
    return check(args) if args.cmd == "check" else convert(args)


if __name__ == "__main__":
    sys.exit(main())
