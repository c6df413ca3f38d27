#!/usr/bin/python3
"""Checkpoint compatibility with the official PyTorch CRATE, checked against a NumPy reference.

For several configurations, a whitebox model saved by crate::save_model is run by `whitebox logits`
and by scripts/crate_reference.py (an independent NumPy version of the official `model/crate.py`
forward that reads the same file by the official state_dict names): the logits must agree to
`tol` (max |ref - whitebox| / max |ref|: 1e-4 for float32 models, 1e-10 for float64). Then:
  - crate-mini-28 trained for 16 steps, on Fashion-MNIST test images (when the dataset is installed);
  - a file written by another writer (the reference's, tensors in another order, no whitebox
    metadata, as a PyTorch conversion would write it), loaded by whitebox with --model;
  - negative controls: each deliberate mistake in the reference (--mutate) must make the comparison
    fail, so the tolerance is tight enough to see a transposed dictionary or a wrong patch order.

Run by meson (tests/compat/meson.build) with the system Python (/usr/bin/python3), which has NumPy
from Debian's python3-numpy; exits 77 (meson's "skipped") when NumPy is missing.
Usage: check_compat.py --whitebox PATH --make-models PATH --reference scripts/crate_reference.py
"""
import argparse
import contextlib
import importlib.util
import io
import os
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np  # noqa: F401  (the reference needs it)
except ImportError:
    print("check_compat: NumPy is missing (apt-get install python3-numpy); skipping")
    sys.exit(77)

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def run(cmd):
    t = time.time()
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout.strip(), time.time() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whitebox", required=True)
    ap.add_argument("--make-models", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--keep", help="work in this directory and keep the files")
    args = ap.parse_args()

    spec = importlib.util.spec_from_file_location("crate_reference", args.reference)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    def reference(model, inputs, tol, mutate=None, extra=()):
        """Runs crate_reference.main; returns (exit code, its summary line)."""
        out = io.StringIO()
        argv = [model, "--inputs", inputs, "--tol", str(tol)] + (["--mutate", mutate] if mutate else []) + list(extra)
        with contextlib.redirect_stdout(out):
            rc = ref.main(argv)
        return rc, out.getvalue().strip().splitlines()[-1]

    failures = []
    rows = []

    def compare(label, model, inputs, tol, extra=()):
        rc, line = reference(model, inputs, tol, extra=extra)
        rows.append(f"{label:<44} {line}")
        if rc != 0:
            failures.append(f"{label}: {line}")

    with contextlib.ExitStack() as stack:
        work = args.keep or stack.enter_context(tempfile.TemporaryDirectory(prefix="wb-compat-"))
        os.makedirs(work, exist_ok=True)
        wb = [args.whitebox]
        print(run([args.make_models, work])[0])

        # 1. random (perturbed) models of several configurations, on random inputs
        models = {"crate-mini-28": 1e-4, "crate-mini-32": 1e-4, "custom-mean": 1e-4, "custom-mean-f64": 1e-10,
                  "custom-identity": 1e-4}
        for name, tol in models.items():
            m = os.path.join(work, name + ".safetensors")
            lg = os.path.join(work, name + ".logits.safetensors")
            run(wb + ["logits", "--checkpoint", m, "--random", 6, "--seed", 11, "--out", lg, "--threads", 2])
            compare(f"{name} (random init, N(0,1) inputs)", m, lg, tol)

        # 2. a briefly trained model on real test images
        if os.path.isdir(FASHION_DIR):
            run_dir = os.path.join(work, "trained")
            run(wb + ["train", "--model", "crate-mini-28", "--epochs", 2, "--warmup-epochs", 0, "--train-limit", 512,
                      "--test-limit", 32, "--batch-size", 64, "--lr", "2e-3", "--no-plot", "--quiet", "--threads", 2,
                      "--seed", 5, "--out", run_dir])
            m = os.path.join(run_dir, "model.safetensors")
            lg = os.path.join(work, "trained.logits.safetensors")
            run(wb + ["logits", "--checkpoint", m, "--data", "fashion-mnist", "--limit", 32, "--out", lg, "--threads", 2])
            compare("crate-mini-28 (trained 16 steps, fashion-mnist)", m, lg, 1e-4)
            m0 = os.path.join(work, "crate-mini-28.safetensors")
            lg0 = os.path.join(work, "crate-mini-28.fashion.safetensors")
            run(wb + ["logits", "--checkpoint", m0, "--data", "fashion-mnist", "--limit", 32, "--out", lg0])
            compare("crate-mini-28 (random init, fashion-mnist)", m0, lg0, 1e-4)
        else:
            rows.append(f"(no {FASHION_DIR}: the trained-model and test-image checks were not run)")

        # 3. weights written by another program (no whitebox metadata, another tensor order), loaded with --model
        for name in ("crate-mini-28", "crate-mini-32"):
            sd, _ = ref.read_safetensors(os.path.join(work, name + ".safetensors"))
            conv = os.path.join(work, name + ".converted.safetensors")
            ref.write_safetensors(conv, {k: sd[k] for k in sorted(sd, reverse=True)}, {"format": "pt"})
            lg = os.path.join(work, name + ".converted.logits.safetensors")
            run(wb + ["logits", "--checkpoint", conv, "--model", name, "--random", 4, "--seed", 3, "--out", lg])
            side, channels = (28, 1) if name == "crate-mini-28" else (32, 3)
            compare(f"{name} (foreign file, loaded with --model)", conv, lg, 1e-4,
                    ["--heads", "4", "--patch-size", "4", "--image-size", str(side), "--channels", str(channels)])

        # 4. negative controls: every mutation of the reference must be caught
        m = os.path.join(work, "crate-mini-32.safetensors")
        lg = os.path.join(work, "crate-mini-32.logits.safetensors")
        for mutate in sorted(ref.MUTATIONS):
            rc, line = reference(m, lg, 1e-4, mutate)
            caught = rc != 0
            rows.append(f"{'mutation ' + mutate + (' caught' if caught else ' MISSED'):<44} {line}")
            if not caught:
                failures.append(f"mutation {mutate} ({ref.MUTATIONS[mutate]}) was not detected: {line}")
        # the reference insists on the official names: a renamed tensor must be refused
        sd, meta = ref.read_safetensors(m)
        sd = dict(sd)
        sd["transformer.layers.0.1.fn.dictionary"] = sd.pop("transformer.layers.0.1.fn.weight")
        bad = os.path.join(work, "renamed.safetensors")
        ref.write_safetensors(bad, sd, meta)
        try:
            reference(bad, lg, 1e-4)
            failures.append("a file with a renamed tensor was accepted by the reference")
            rows.append("renamed tensor                               MISSED")
        except SystemExit as e:
            rows.append(f"{'renamed tensor refused (reference)':<44} {str(e)[:100]}")
        r = subprocess.run(wb + ["logits", "--checkpoint", bad, "--random", "1", "--out", os.path.join(work, "x")],
                           capture_output=True, text=True)
        if r.returncode == 0 or "transformer.layers.0.1.fn.weight" not in r.stderr:
            failures.append(f"whitebox did not refuse the renamed tensor by name (exit {r.returncode}): {r.stderr}")
        rows.append(f"{'renamed tensor refused (whitebox)':<44} {r.stderr.strip().splitlines()[-1] if r.stderr else ''}")

    print("\n".join(rows))
    if failures:
        print(f"\n{len(failures)} failure(s):\n  " + "\n  ".join(failures))
        return 1
    print("\ncheckpoint compatibility: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
