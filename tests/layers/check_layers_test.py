#!/usr/bin/env python3
"""Test of the build's layer check (scripts/check_layers.py, run by meson before every library).

The real tree passes; copies of it with one wrong-way include each (across the top-level layers and
across crate/'s sub-layers: instruments -> train, report -> nn, models -> io, a file at the top of
crate/) fail, and the message names the file and line. One JUnit case per check.
Usage: check_layers_test.py --root SOURCE_ROOT --junit PATH
"""
import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

LAYERS = ["tensor", "autograd", "ops", "datasets", "crate"]


def run_check(script, root):
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run([sys.executable, str(script), str(root), str(pathlib.Path(out) / "layer_check.h")],
                           capture_output=True, text=True)
    return p.returncode, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--junit", required=True)
    a = ap.parse_args()
    root = pathlib.Path(a.root)
    script = root / "scripts" / "check_layers.py"
    cases = []

    def case(name, fn):
        try:
            fn()
            cases.append((name, None))
            print(f"ok      {name}")
        except AssertionError as e:
            cases.append((name, str(e)))
            print(f"FAILED  {name}: {e}")

    def real_tree_passes():
        rc, err = run_check(script, root)
        assert rc == 0, f"the source tree fails its own layer check:\n{err}"

    case("the source tree passes", real_tree_passes)

    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp) / "src"
        for layer in LAYERS:
            shutil.copytree(root / layer, copy / layer)

        def wrong_way(rel, include, needle, new_file=False):
            def check():
                path = copy / rel
                saved = None if new_file else path.read_text()
                path.parent.mkdir(parents=True, exist_ok=True)
                lines = [] if new_file else saved.splitlines()
                lines.insert(min(2, len(lines)), f'#include "{include}"')
                path.write_text("\n".join(lines) + "\n")
                try:
                    rc, err = run_check(script, copy)
                finally:
                    path.unlink() if new_file else path.write_text(saved)
                line = min(2, len(lines) - 1) + 1
                assert rc != 0, f"#include \"{include}\" in {rel} passed the layer check"
                assert f"{rel}:{line}:" in err, f"the message does not name {rel}:{line}:\n{err}"
                assert needle in err, f"'{needle}' not in the message:\n{err}"
                rc, err = run_check(script, copy)
                assert rc == 0, f"the copy does not pass again once the include is removed:\n{err}"
            return check

        case("instruments must not include train",
             wrong_way("crate/instruments/measure.cpp", "crate/train/loop.hpp",
                       "crate/instruments/ must not include 'crate/train/'"))
        case("report uses nothing else in crate",
             wrong_way("crate/report/plot.cpp", "crate/nn/module.hpp", "crate/report/ must not include 'crate/nn/'"))
        case("models must not include io",
             wrong_way("crate/models/vision/classifier.cpp", "crate/io/checkpoint.hpp",
                       "crate/models/ must not include 'crate/io/'"))
        case("nn must not include blocks",
             wrong_way("crate/nn/linear.cpp", "crate/blocks/layer.hpp", "crate/nn/ must not include 'crate/blocks/'"))
        case("ops must not include crate",
             wrong_way("ops/matmul.cpp", "crate/nn/module.hpp", "layer 'ops' must not include 'crate/'"))
        case("datasets must not include ops",
             wrong_way("datasets/loader.cpp", "ops/ops.hpp", "layer 'datasets' must not include 'ops/'"))
        case("no source file at the top of crate",
             wrong_way("crate/stray.cpp", "tensor/tensor.hpp", "no source file belongs at the top of crate/",
                       new_file=True))

    suite = ET.Element("testsuite", name="layers", tests=str(len(cases)))
    for name, failure in cases:
        c = ET.SubElement(suite, "testcase", name=name, classname="layers")
        if failure is not None:
            ET.SubElement(c, "failure", message=failure[:2000])
    ET.ElementTree(suite).write(a.junit)
    return 0 if all(f is None for _, f in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
