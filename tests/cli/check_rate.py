#!/usr/bin/python3
"""Integration test of `whitebox rate` and scripts/torch_features.py (one JUnit case per check).

- the same features as .npy, stored .npz, deflated .npz and safetensors give the same numbers, and these
  equal an independent NumPy computation (R, R^c against given subspaces, MCR^2, PCA-fitted R^c,
  sparsity, the SRR objective), with the conventions as flags;
- `whitebox rate` on the features `whitebox measure --dump-features` writes equals `whitebox measure`
  on the same model and images (float64; skipped without Fashion-MNIST);
- bad input (NaN / inf, mismatched labels, layers of different width, truncated or corrupt .npy/.npz)
  is an error naming the array and the index, with a non-zero exit;
- torch_features.py on a small PyTorch model the test builds: the file holds each hooked module's
  output, and `whitebox rate` reads it (skipped without torch).
Run with the system Python (/usr/bin/python3: Debian's python3-numpy and python3-torch).
"""
import argparse
import csv
import pathlib
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from check_cli import FMNIST, Suite  # noqa: E402

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None
try:
    import torch
except ImportError:
    torch = None

EPS2 = 0.01


def unit(z):
    return z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-12)


def ref_r(z, eps2=EPS2, normalize=True):
    z = unit(z) if normalize else z
    n, d = z.shape
    return 0.5 * np.linalg.slogdet(np.eye(d) + d / (n * eps2) * z.T @ z)[1]


def ref_rc(z, u, eps2=EPS2, normalize=True):
    n = z.shape[0]
    total = 0.0
    for uk in u:  # (p, d)
        w = z @ uk.T
        w = unit(w) if normalize else w
        p = uk.shape[0]
        total += 0.5 * np.linalg.slogdet(np.eye(p) + p / (n * eps2) * w.T @ w)[1]
    return total


def ref_mcr2(z, labels, eps2=EPS2):
    z = unit(z)
    n, d = z.shape
    comp = 0.0
    for j in range(labels.max() + 1):
        zj = z[labels == j]
        if len(zj):
            comp += len(zj) / (2 * n) * np.linalg.slogdet(np.eye(d) + d / (len(zj) * eps2) * zj.T @ zj)[1]
    return ref_r(z, eps2) - comp


def ref_pca(z, labels, p):
    u = []
    for j in range(labels.max() + 1):
        zj = z[labels == j]
        w, v = np.linalg.eigh(zj.T @ zj / len(zj))
        u.append(v[:, ::-1][:, :p].T)
    return np.stack(u)


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def close(a, b, rel=1e-9, what=""):
    assert abs(a - b) <= rel * max(1.0, abs(b)), f"{what}: {a!r} != {b!r}"


def write_safetensors(path, arrays):
    import json
    header, blobs, off = {}, [], 0
    for name, a in arrays.items():
        tag = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}[a.dtype]
        raw = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": tag, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    pathlib.Path(path).write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whitebox", required=True)
    ap.add_argument("--torch-features", required=True)
    ap.add_argument("--junit", required=True)
    a = ap.parse_args()
    s = Suite(a.whitebox)
    if np is None:
        s.skip("rate: every check", "the system Python has no NumPy (python3-numpy)")
        s.write_junit(a.junit)
        return 0
    rng = np.random.default_rng(4)
    with tempfile.TemporaryDirectory(prefix="wb-rate-") as tmp:
        t = pathlib.Path(tmp)
        # two layers of 40 tokens of width 8, the second ReLU'd (sparse), two classes, subspaces (2, 3, 8)
        h1 = rng.standard_normal((40, 8))
        h2 = np.maximum(h1 @ rng.standard_normal((8, 8)), 0)
        labels = rng.integers(0, 2, size=40)
        u = np.stack([np.linalg.qr(rng.standard_normal((8, 3)))[0].T for _ in range(2)])
        np.savez(t / "stored.npz", h1=h1, h2=h2, labels=labels.astype(np.int32), u=u)
        np.savez_compressed(t / "deflated.npz", h1=h1, h2=h2, labels=labels.astype(np.int32), u=u)
        write_safetensors(t / "st.safetensors", {"h1": h1, "h2": h2, "labels": labels.astype(np.int64), "u": u})
        np.save(t / "stack.npy", np.stack([h1, h2]).astype(np.float64))  # (L, S, d): --layout layers
        np.save(t / "u.npy", u)

        def rate(name, *extra):
            out = t / name
            s.expect(["rate", *extra, "--out", out, "--no-plot"], True, "R(Z)")
            return read_csv(f"{out}.csv")

        def formats_agree():
            base = rate("stored", t / "stored.npz", "--labels", "labels", "--subspaces", "u")
            for name, args in (("deflated", [t / "deflated.npz", "--labels", "labels", "--subspaces", "u"]),
                               ("st", [t / "st.safetensors", "--labels", "labels", "--subspaces", "u"])):
                other = rate(name, *args)
                for r0, r1 in zip(base, other):
                    for k in ("r_mean", "rc_mean", "mcr2_mean", "nonzero_mean", "srr_mean"):
                        close(float(r1[k]), float(r0[k]), 1e-15, f"{name} {k}")
            stack = rate("stack", t / "stack.npy", "--layout", "layers", "--subspaces", "u",
                         "--subspaces-file", t / "u.npy")
            for r0, r1 in zip(base, stack):
                close(float(r1["rc_mean"]), float(r0["rc_mean"]), 1e-15, "stack rc")
        s.check("rate: .npy, stored and deflated .npz and safetensors agree", formats_agree)

        def matches_numpy():
            rows = rate("ref", t / "deflated.npz", "--labels", "labels", "--subspaces", "u", "--lambda", "0.3")
            for row, z in zip(rows, (h1, h2)):
                r, rc = ref_r(z), ref_rc(z, u)
                close(float(row["r_mean"]), r, 1e-9, "R")
                close(float(row["rc_mean"]), rc, 1e-9, "R^c")
                close(float(row["delta_r_mean"]), r - rc, 1e-9, "dR")
                close(float(row["mcr2_mean"]), ref_mcr2(z, labels), 1e-9, "MCR^2")
                close(float(row["nonzero_mean"]), np.count_nonzero(z) / z.size, 1e-12, "nonzero")
                close(float(row["srr_mean"]), rc + 0.3 * np.abs(z).sum() - r, 1e-9, "SRR")
        s.check("rate: R, R^c, dR, MCR^2, sparsity and SRR equal a NumPy computation", matches_numpy)

        def conventions():
            rows = rate("conv", t / "deflated.npz", "--features", "h1", "--subspaces", "u", "--eps", "0.5",
                        "--eps-plain", "--raw-tokens")
            close(float(rows[0]["r_mean"]), ref_r(h1, 0.25, normalize=False), 1e-9, "R, eps plain, raw tokens")
            close(float(rows[0]["rc_mean"]), ref_rc(h1, u, 0.25, normalize=False), 1e-9, "R^c, eps plain, raw tokens")
        s.check("rate: the conventions are flags (--eps-plain, --raw-tokens)", conventions)

        def fitted_pca():
            rows = rate("pca", t / "stored.npz", "--features", "h1", "--labels", "labels", "--fit", "pca", "--dim", "3")
            close(float(rows[0]["rc_mean"]), ref_rc(h1, ref_pca(h1, labels, 3)), 1e-8, "R^c of PCA subspaces")
            out = s.expect(["rate", t / "stored.npz", "--features", "h1", "--fit", "clusters", "--clusters", "2",
                            "--dim", "2"], True, "R^c(Z|U)")
            assert "MCR^2" not in out, "MCR^2 without labels"
        s.check("rate: subspaces fitted per class (PCA) and per cluster", fitted_pca)

        def writes_png():
            s.expect(["rate", t / "stored.npz", "--subspaces", "u", "--out", t / "fig"], True, "fig.png")
            assert (t / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
            assert '"eps_is_squared": true' in (t / "fig.json").read_text(), "the JSON lacks the convention"
        s.check("rate: writes the per-layer figure and the JSON with its convention", writes_png)

        # ---- bad input
        bad = np.array(h1)
        bad[7, 3] = np.nan
        np.savez(t / "nan.npz", h1=h1, h2=bad)
        s.check("rate: NaN is named with its array and index",
                lambda: s.expect(["rate", t / "nan.npz"], False, "array 'h2'", "nan", "[7, 3]"))
        inf = np.array(h1)
        inf[0, 5] = -np.inf
        np.save(t / "inf.npy", inf)
        s.check("rate: inf is named with its array and index",
                lambda: s.expect(["rate", t / "inf.npy"], False, "array 'inf'", "-inf", "[0, 5]"))
        np.savez(t / "width.npz", a=h1, b=h1[:, :6])
        s.check("rate: layers of different width are named",
                lambda: s.expect(["rate", t / "width.npz"], False, "layer 1 ('b') has width 6", "layer 0 ('a') has width 8"))
        np.savez(t / "labels.npz", h=h1, y=labels[:39])
        s.check("rate: labels that do not fit the features are named",
                lambda: s.expect(["rate", t / "labels.npz", "--labels", "y"], False, "array 'y'", "[39]", "expected (40)"))
        np.savez(t / "sub.npz", h=h1, u=u[:, :, :7])
        s.check("rate: subspaces of the wrong width are named",
                lambda: s.expect(["rate", t / "sub.npz", "--subspaces", "u"], False, "array 'u'", "[2, 3, 7]"))
        s.check("rate: a missing array is named with the ones present",
                lambda: s.expect(["rate", t / "stored.npz", "--features", "h9"], False, "no array 'h9'", "'h1' [40, 8]"))
        npy = (t / "inf.npy").read_bytes()

        def truncations(data, suffix, needle_any):
            for cut in sorted({5, 11, 127, len(data) // 2, len(data) - 1}):
                p = t / f"cut{cut}{suffix}"
                p.write_bytes(data[:cut])
                rc, out = s.run("rate", p)
                assert rc == 1, f"exit {rc} for a {suffix} cut at {cut} of {len(data)} bytes:\n{out[-800:]}"
                assert str(p) in out and any(n in out for n in needle_any), f"cut at {cut}: {out[-800:]}"
        s.check("rate: a truncated .npy is an error naming the file",
                lambda: truncations(npy, ".npy", ("truncated", "not a .npy", "header", "safetensors")))
        npz = (t / "deflated.npz").read_bytes()
        s.check("rate: a truncated .npz is an error naming the file",
                lambda: truncations(npz, ".npz", ("truncated", "zip", "header", "safetensors", "corrupt")))

        def corrupt_member():
            data = bytearray((t / "deflated.npz").read_bytes())
            data[60] ^= 0x55  # inside the first member's deflate stream
            (t / "flip.npz").write_bytes(bytes(data))
            s.expect(["rate", t / "flip.npz"], False, "flip.npz: member", "h1.npy")
        s.check("rate: a corrupt deflate stream or CRC names the member", corrupt_member)

        def bad_npy_headers():
            hdr = "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }"
            for descr, order, needle in (("'>f8'", "False", "big-endian"), ("'<f8'", "True", "fortran_order"),
                                         ("'<c16'", "False", "is not read"), ("'|O'", "False", "simple numeric")):
                h = hdr.replace("'>f8'", descr).replace("False", order)
                h = h + " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
                (t / "h.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + b"\0" * 64)
                s.expect(["rate", t / "h.npy"], False, "h.npy", needle)
            # a zip bomb's declaration: 4 GiB from a few bytes
            body = zlib.compress(b"\0" * 100)[2:-4]
            name = b"x.npy"
            local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0, 0, len(body), 0xfffffff0, len(name), 0) + name
            cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 8, 0, 0, 0, len(body), 0xfffffff0, len(name),
                             0, 0, 0, 0, 0, 0) + name
            eocd = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(cd), len(local) + len(body), 0)
            (t / "bomb.npz").write_bytes(local + body + cd + eocd)
            s.expect(["rate", t / "bomb.npz"], False, "bomb.npz: member 'x.npy'", "more than deflate can produce")
        s.check("rate: bad .npy headers and an impossible .npz size are refused", bad_npy_headers)

        # ---- equality with `whitebox measure` on the same model's features
        if not FMNIST.exists():
            s.skip("rate equals measure on the same model's features", "Fashion-MNIST is not installed (scripts/setup.sh)")
        else:
            def equals_measure():
                run = t / "run"
                s.expect(["train", "--dim", "16", "--depth", "2", "--heads", "2", "--patch", "7", "--train-limit", "64",
                          "--test-limit", "32", "--batch-size", "32", "--quiet", "--epochs", "1", "--no-plot", "--out", run],
                         True)
                s.expect(["measure", "--checkpoint", run / "model.safetensors", "--f64", "--limit", "24", "--batch-size",
                          "16", "--out", t / "m", "--no-plot", "--dump-features", t / "f.safetensors"], True, "wrote the features")
                m = read_csv(t / "m.csv")
                lam = "0.1"
                ln1 = rate("r_ln1", t / "f.safetensors", "--features", "ln1", "--subspaces", "subspaces")
                half = rate("r_half", t / "f.safetensors", "--features", "z_half", "--subspaces", "subspaces")
                out = rate("r_out", t / "f.safetensors", "--features", "output", "--subspaces", "subspaces", "--lambda", lam)
                assert len(m) == len(ln1) == 2
                for l in range(2):
                    pairs = (("rc_in", ln1, "rc"), ("rc_half", half, "rc"), ("rc_out", out, "rc"), ("r_out", out, "r"),
                             ("delta_r", out, "delta_r"), ("nonzero", out, "nonzero"), ("l1", out, "l1"),
                             ("srr", out, "srr"))
                    for mq, rows, rq in pairs:
                        for stat in ("mean", "std"):
                            # measure's CSV has 8 significant digits
                            close(float(rows[l][f"{rq}_{stat}"]), float(m[l][f"{mq}_{stat}"]), 2e-7,
                                  f"layer {l + 1} {mq}_{stat}")
            s.check("rate equals measure on the same model's features", equals_measure)

        # ---- scripts/torch_features.py on a PyTorch model built here
        if torch is None:
            s.skip("torch_features.py dumps the hooked modules' outputs", "the system Python has no torch (python3-torch)")
            s.skip("torch_features.py refuses an unknown module", "the system Python has no torch (python3-torch)")
        else:
            (t / "net.py").write_text(
                "import torch\n"
                "class Net(torch.nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        torch.manual_seed(0)\n"
                "        self.embed = torch.nn.Linear(6, 16)\n"
                "        self.blocks = torch.nn.ModuleList([torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0,\n"
                "                                            batch_first=True) for _ in range(2)])\n"
                "        self.conv = torch.nn.Conv2d(1, 4, 3)\n"
                "    def forward(self, x):\n"
                "        z = self.embed(x)\n"
                "        for b in self.blocks:\n"
                "            z = b(z)\n"
                "        self.conv(x[:, None, :, :])\n"
                "        return z\n"
                "def build():\n"
                "    return Net()\n")
            x = rng.standard_normal((5, 7, 6)).astype(np.float32)
            np.save(t / "x.npy", x)
            np.save(t / "y.npy", np.arange(5) % 2)

            def dumps_and_rates():
                # in this process (one torch import); the CLI's exit status is checked by the next case
                import importlib.util
                spec = importlib.util.spec_from_file_location("torch_features", a.torch_features)
                tf = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(tf)
                tf.main(["--model", f"{t / 'net.py'}:build", "--modules", "embed", "blocks.0", "blocks.1", "--input",
                         str(t / "x.npy"), "--labels", str(t / "y.npy"), "--double", "--out", str(t / "tf.safetensors")])
                sys.path.insert(0, str(t))
                import net  # noqa: E402 - the model file written above
                model = net.build().double().eval()
                with torch.no_grad():
                    xt = torch.from_numpy(x).double()
                    e = model.embed(xt)
                    b0 = model.blocks[0](e)
                    b1 = model.blocks[1](b0)
                rows = rate("tf", t / "tf.safetensors", "--labels", "labels", "--token", "0", "--fit", "pca", "--dim", "2")
                for row, z in zip(rows, (e, b0, b1)):
                    z0 = z[:, 0, :].numpy()
                    close(float(row["r_mean"]), ref_r(z0), 1e-9, "R of a hooked module's token 0")
                    close(float(row["mcr2_mean"]), ref_mcr2(z0, np.arange(5) % 2), 1e-9, "MCR^2")
                full = rate("tf_full", t / "tf.safetensors", "--features", "blocks.1")
                assert full[0]["r_mean"], "no R for the full token stack"
                close(float(full[0]["r_mean"]), float(np.mean([ref_r(zb) for zb in b1.numpy()])), 1e-9, "R per sample")
                conv = tf.dump_features(model.float(), ["conv"], torch.from_numpy(x), str(t / "conv.safetensors"))
                assert tuple(conv[0][1].shape) == (5, 20, 4), f"conv tokens {tuple(conv[0][1].shape)}"
                s.expect(["rate", t / "conv.safetensors"], True, "conv")
            s.check("torch_features.py dumps the hooked modules' outputs", dumps_and_rates)

            def unknown_module():
                p = subprocess.run([sys.executable, a.torch_features, "--model", f"{t / 'net.py'}:build", "--modules",
                                    "blocks.7", "--input", t / "x.npy", "--out", t / "no.safetensors"],
                                   capture_output=True, text=True, timeout=120)
                assert p.returncode == 1 and "no module named blocks.7" in p.stderr, p.stdout + p.stderr
                assert not (t / "no.safetensors").exists(), "a file was written"
            s.check("torch_features.py refuses an unknown module", unknown_module)

    s.write_junit(a.junit)
    failed = [c for c in s.cases if c[1] is not None and not c[2]]
    print(f"{len(s.cases) - len(failed)} of {len(s.cases)} rate checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
