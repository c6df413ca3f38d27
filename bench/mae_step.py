#!/usr/bin/python3
"""CRATE-MAE training step, whitebox against PyTorch on the same shapes and threads (issue 13 item 7).

One forward + backward + AdamW step of crate-mae-mini-28 (or --model) in float32 on a batch of N(0,1)
images with a drawn mask. whitebox: `whitebox mae-grads --steps K` run twice (K = warmup and
warmup + steps), so process start, model build and the first forward cancel out of the difference;
PyTorch: scripts/crate_mae_reference.py loaded from the same file, the same images and mask,
torch.optim.AdamW, median of --steps timed steps after --warmup. Peak memory: each side's max RSS
(getrusage of its own process). Run by hand, never as a test:
  /usr/bin/python3 bench/mae_step.py --whitebox build/experiments/whitebox --threads 2 [--batch-size 64]
"""
import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def whitebox_run(exe, args, steps, threads):
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", exe, "mae-grads", *args, "--steps", str(steps), "--threads",
                        str(threads)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(r.stdout + r.stderr)
    return time.perf_counter() - t, int(r.stderr.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whitebox", help="build/experiments/whitebox")
    ap.add_argument("--model", default="crate-mae-mini-28")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--torch-threads", type=int, help="torch intra-op threads (default --threads; 1 with 2 OpenBLAS "
                    "threads was fastest on 2 cores, crate-family.md §5.1)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--files", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_child:
        return torch_side(a)
    if not a.whitebox:
        ap.error("--whitebox is required")
    with tempfile.TemporaryDirectory(prefix="wb-mae-bench-") as tmp:
        model, grads = os.path.join(tmp, "m.safetensors"), os.path.join(tmp, "g.safetensors")
        base = ["--model", a.model, "--batch-size", str(a.batch_size), "--out", grads, "--save-model", model]
        t0, _ = whitebox_run(a.whitebox, base, a.warmup, a.threads)
        t1, rss = whitebox_run(a.whitebox, base, a.warmup + a.steps, a.threads)
        wb = (t1 - t0) / a.steps
        tt = a.torch_threads or a.threads
        env = dict(os.environ, OMP_NUM_THREADS=str(tt), OPENBLAS_NUM_THREADS=str(a.threads))
        r = subprocess.run([sys.executable, __file__, "--torch-child", "--files", f"{model},{grads}",
                            "--threads", str(tt), "--warmup", str(a.warmup), "--steps", str(a.steps)],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            sys.exit(r.stdout + r.stderr)
        pt, prss, config = r.stdout.strip().splitlines()[-1].split(" ", 2)
        pt, prss = float(pt), int(prss)
    b = a.batch_size
    print(f"{a.model}, batch {b}, float32, whitebox {a.threads} threads; torch {config}, "
          f"OPENBLAS_NUM_THREADS={a.threads}")
    print(f"whitebox: {wb * 1e3:8.1f} ms/step  {b / wb:8.1f} img/s  peak RSS {rss / 1024:7.1f} MiB")
    print(f"pytorch : {pt * 1e3:8.1f} ms/step  {b / pt:8.1f} img/s  peak RSS {prss / 1024:7.1f} MiB")
    print(f"ratio   : whitebox {pt / wb:.2f}x PyTorch's throughput, {rss / prss:.2f}x its memory")
    return 0


def torch_side(a):
    import torch
    torch.set_num_threads(a.threads)
    spec = importlib.util.spec_from_file_location("ref", os.path.join(HERE, "..", "scripts", "crate_mae_reference.py"))
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    model_path, grads_path = a.files.split(",")
    m, _ = ref.load_model(model_path)
    wb = ref.read_safetensors(grads_path)[0]
    x, mask = wb["images"], wb["mask"]
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4)
    times = []
    for i in range(a.warmup + a.steps):
        t = time.perf_counter()
        opt.zero_grad()
        loss, _ = m(x, mask)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{statistics.median(times)} {rss} intra-op-threads={torch.get_num_threads()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
