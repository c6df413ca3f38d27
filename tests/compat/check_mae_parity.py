#!/usr/bin/python3
"""CRATE-MAE parity with PyTorch (docs/CHECKPOINTS.md, issue 13 item 6).

`whitebox mae-grads` builds a model, saves it, and writes its reconstruction, loss and every
trainable gradient on random images with a drawn mask (and the losses of 10 AdamW steps).
scripts/crate_mae_reference.py, an independent PyTorch transcription of the official forward,
loads the same file by the official state-dict names (strict) and runs the same images and mask:
  - float64, tiny configs (plain and norm_pix targets): reconstruction, loss and every gradient agree
    to 1e-10 (max |ref - whitebox| / max(1, max |ref|) per tensor); the two fixed position tables and
    decoder_embed get no gradient on either side;
  - float64: the losses of 10 AdamW steps (lr 1e-4, betas (0.9, 0.999), eps 1e-8, wd 0.01) agree to 1e-10;
  - float32, a realistic config (d 192, 4 + 4 layers, 28 x 28 in 4 x 4 patches, batch 8): the loss to 1e-5;
  - negative controls: each mistake of the reference's --mutate (decoder dictionary transposed,
    +MSSA, biased norm_pix variance, lambda 0.1) must break the float64 agreement.
Exits 77 (meson's "skipped") when the system Python has no torch (Debian: python3-torch).
Usage: check_mae_parity.py --whitebox PATH --reference scripts/crate_mae_reference.py [--keep DIR]
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("check_mae_parity: torch is missing (apt-get install python3-torch); skipping")
    sys.exit(77)

torch.set_num_threads(1)


def run(cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout.strip()


def rel(a, b):
    return float((a - b).abs().max()) / max(1.0, float(b.abs().max()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whitebox", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--keep")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("crate_mae_reference", args.reference)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    failures, rows = [], []
    work = args.keep or tempfile.mkdtemp(prefix="wb-mae-parity-")
    os.makedirs(work, exist_ok=True)

    def whitebox_case(name, flags):
        model, out = os.path.join(work, name + ".model.safetensors"), os.path.join(work, name + ".grads.safetensors")
        run([args.whitebox, "mae-grads", "--out", out, "--save-model", model, "--threads", "1"] + flags)
        return model, ref.read_safetensors(out)[0]

    def reference_grads(model_path, wb, mutate=None):
        """The worst relative difference over reconstruction, loss and gradients, and per-tensor rows."""
        m, cfg = ref.load_model(model_path, mutate)
        loss, pred = m(wb["images"], wb["mask"])
        loss.backward()
        worst, detail = [rel(pred.detach(), wb["pred"]), rel(loss.detach(), wb["loss"])], []
        names = set()
        for name, p in m.named_parameters():
            key = "grad." + name
            if p.grad is None:
                if key in wb and float(wb[key].abs().max()) != 0.0:
                    worst.append(float("inf"))
                    detail.append(f"{name}: no torch gradient, whitebox has one")
                continue
            names.add(key)
            if key not in wb:
                worst.append(float("inf"))
                detail.append(f"{name}: whitebox wrote no gradient")
                continue
            worst.append(rel(p.grad, wb[key]))
        missing = [k for k in wb if k.startswith("grad.") and k not in names and float(wb[k].abs().max()) != 0.0]
        if missing:
            worst.append(float("inf"))
            detail.append(f"whitebox gradients torch lacks: {missing[:3]}")
        return max(worst), len(names), float(loss), detail

    def check(label, ok, line):
        rows.append(f"{'ok  ' if ok else 'FAIL'} {label:<52} {line}")
        if not ok:
            failures.append(f"{label}: {line}")

    tiny = ["--model", "crate-mae-mini-28", "--depth", "2", "--f64", "--batch-size", "3", "--seed", "5"]
    # 1. float64, plain and norm_pix targets; every gradient
    for label, extra in [("f64 tiny, pixel target", []), ("f64 tiny, norm_pix target", ["--norm-pix"]),
                         ("f64 tiny, mask ratio 0.5", ["--mask-ratio", "0.5", "--mask-seed", "9"])]:
        path, wb = whitebox_case(label.split(",")[1].strip().replace(" ", "-"), tiny + extra)
        worst, n, loss, detail = reference_grads(path, wb)
        check(label, worst <= 1e-10, f"loss {loss:.12f}, {n} gradients, worst rel diff {worst:.2e} (tol 1e-10)"
              + ("; " + "; ".join(detail) if detail else ""))
        if "norm_pix" in label:
            norm_pix_case = (path, wb)
        elif "pixel" in label:
            pixel_case = (path, wb)
    # 2. negative controls: must fail
    for mutate, case in [("dict-transpose", pixel_case), ("plus-mssa", pixel_case), ("lambda-0.1", pixel_case),
                         ("biased-var", norm_pix_case)]:
        worst, _, _, _ = reference_grads(case[0], case[1], mutate)
        check(f"negative control {mutate} must differ", worst > 1e-10, f"worst rel diff {worst:.2e}")
    # 3. ten AdamW steps, float64
    path, wb = whitebox_case("steps", tiny + ["--steps", "10", "--lr", "1e-3", "--weight-decay", "0.01"])
    m, _ = ref.load_model(path)
    params = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss, _ = m(wb["images"], wb["mask"])
        loss.backward()
        losses.append(float(loss))
        opt.step()
    diff = max(abs(a - float(b)) / max(1.0, abs(a)) for a, b in zip(losses, wb["losses"]))
    check("f64 10 AdamW steps, same losses", diff <= 1e-10,
          f"loss {losses[0]:.6f} -> {losses[-1]:.6f}, worst rel diff {diff:.2e} (tol 1e-10)")
    # 4. float32, a realistic config
    path, wb = whitebox_case("f32", ["--model", "crate-mae-small-28", "--batch-size", "8", "--seed", "3"])
    m, _ = ref.load_model(path)
    with torch.no_grad():
        loss, pred = m(wb["images"], wb["mask"])
    d = abs(float(loss) - float(wb["loss"])) / max(1.0, abs(float(loss)))
    check("f32 crate-mae-small-28 loss", d <= 1e-5, f"loss {float(loss):.7f}, rel diff {d:.2e} (tol 1e-5); "
          f"reconstruction rel diff {rel(pred, wb['pred']):.2e}")

    print("\n".join(rows))
    if failures:
        print(f"check_mae_parity: {len(failures)} failure(s)")
        return 1
    print(f"check_mae_parity: all {len(rows)} checks passed (files in {work})" if args.keep else
          f"check_mae_parity: all {len(rows)} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
