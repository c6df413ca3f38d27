#!/usr/bin/env python3
"""Integration test of `whitebox report` (one JUnit case per check):

- the page of a run folder (a tiny `train --report` run on Fashion-MNIST, or, without the dataset, a
  folder of figures that `whitebox rate` draws) is one self-contained file: every figure inlined as a
  data: URI, no reference to anything outside the page, the configuration and metrics tables present;
- a sweep folder gives one page with the results table and a link to each run's page (written too);
- a folder with nothing a run writes is an error naming it;
- the page in a real browser: headless Chromium (Debian's `chromium`) driven over the DevTools protocol
  through a pipe (--remote-debugging-pipe; no driver library), checking that every image loaded
  (complete, non-zero natural size), that no console error, exception or failed load was raised and
  that no network request left the page; a screenshot is saved next to the JUnit file. Reported as
  skipped where Chromium is missing or cannot start.
"""
import argparse
import base64
import json
import os
import pathlib
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from check_cli import FMNIST, Suite  # noqa: E402


class ChromiumUnavailable(Exception):
    pass


class DevTools:
    """Chromium over --remote-debugging-pipe: JSON messages separated by NUL on fds 3 (in) and 4 (out)."""

    def __init__(self, exe, profile):
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        # the child sees to_r as fd 3 and from_w as fd 4 (moved out of the way first, so neither clobbers the other)
        hi_r, hi_w = os.dup2(to_r, 200, inheritable=True), os.dup2(from_w, 201, inheritable=True)

        def setup():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--hide-scrollbars", "--window-size=1280,1600",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=setup, pass_fds=(3, 4))
        for fd in (to_r, from_w, hi_r, hi_w):
            os.close(fd)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self.receive(deadline)
            if m is None:
                raise TimeoutError(f"no answer to {method} in {timeout} s")
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def receive(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.from_r], [], [], left)
            if not r:
                return None
            chunk = os.read(self.from_r, 1 << 20)
            if not chunk:
                raise ChromiumUnavailable("Chromium closed its DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def wait_event(self, method, timeout=30):
        deadline = time.time() + timeout
        for e in self.events:
            if e.get("method") == method:
                return e
        while True:
            m = self.receive(deadline)
            if m is None:
                raise TimeoutError(f"no {method} in {timeout} s")
            self.events.append(m)
            if m.get("method") == method:
                return m

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_w)
        os.close(self.from_r)


def open_in_chromium(exe, pages, screenshot, profile):
    """Loads each page in turn in one browser; returns [(images, problems)] and writes the first's screenshot."""
    dt = DevTools(exe, profile)
    try:
        try:
            targets = dt.send("Target.getTargets", timeout=20)
        except (TimeoutError, ChromiumUnavailable, OSError) as e:
            err = dt.proc.stderr.read1(4000).decode(errors="replace") if dt.proc.poll() is not None else ""
            raise ChromiumUnavailable(f"Chromium did not start ({e}) {err.strip()[:300]}")
        tabs = [x for x in targets["targetInfos"] if x["type"] == "page"]
        target = tabs[0]["targetId"] if tabs else dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.send(f"{domain}.enable", session=sid)
        results = []
        for n, page in enumerate(pages):
            dt.events.clear()
            dt.send("Page.navigate", {"url": page.resolve().as_uri()}, session=sid)
            dt.wait_event("Page.loadEventFired", timeout=30)
            res = dt.send("Runtime.evaluate", {"returnByValue": True, "expression":
                          "JSON.stringify(Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, "
                          "i.naturalHeight]))"}, session=sid)
            images = json.loads(res["result"]["value"])
            if n == 0:
                shot = dt.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=sid)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            time.sleep(0.2)  # late console and network events
            try:
                dt.send("Runtime.evaluate", {"expression": "1"}, session=sid)
            except RuntimeError:
                pass
            problems = []
            for e in dt.events:
                m, p = e.get("method"), e.get("params", {})
                if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    problems.append(f"console.{p['type']}: {p.get('args')}")
                elif m == "Runtime.exceptionThrown":
                    problems.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
                elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                    problems.append(f"log error: {p['entry'].get('text')} {p['entry'].get('url', '')}")
                elif m == "Network.loadingFailed":
                    problems.append(f"failed load: {p.get('errorText')}")
                elif m == "Network.requestWillBeSent":
                    url = p.get("request", {}).get("url", "")
                    if not (url.startswith("data:") or url == page.resolve().as_uri()):
                        problems.append(f"network request to {url}")
            results.append((images, problems))
        return results
    finally:
        dt.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whitebox", required=True)
    ap.add_argument("--junit", required=True)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    a = ap.parse_args()
    s = Suite(a.whitebox)
    with tempfile.TemporaryDirectory(prefix="wb-report-") as tmp:
        t = pathlib.Path(tmp)
        run = t / "run"
        if FMNIST.exists():
            s.check("report: train --report writes the run's page",
                    lambda: s.expect(["train", "--dim", "16", "--depth", "2", "--heads", "2", "--patch", "7",
                                      "--train-limit", "64", "--test-limit", "32", "--batch-size", "32", "--quiet",
                                      "--epochs", "2", "--measure-every", "1", "--measure-limit", "8", "--out", run,
                                      "--report"], True, "report.html"))
        else:
            # no dataset: a run folder of the files a run writes, with figures drawn by `whitebox rate`
            run.mkdir()
            (run / "options.json").write_text(json.dumps({"epochs": 1, "model": {"dim": 8, "depth": 2}}))
            (run / "metrics.jsonl").write_text(json.dumps({"kind": "epoch", "epoch": 1, "train_loss": 2.3,
                                                           "test_accuracy": 0.1}) + "\n")
            hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (6, 3), }"
            hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
            values = struct.pack("<18d", *[((7 * i) % 11) - 5.0 for i in range(18)])
            (run / "f.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + values)
            s.check("report: a figure for the page", lambda: s.expect(["rate", run / "f.npy", "--out", run / "rate"], True))
            s.check("report: writes the run's page", lambda: s.expect(["report", run], True, "report.html"))
        page = run / "report.html"

        def self_contained():
            html = page.read_text()
            imgs = re.findall(r'<img[^>]*src="([^"]*)"', html)
            assert imgs, "no figure on the page"
            assert all(u.startswith("data:image/png;base64,") for u in imgs), "a figure is not inlined"
            refs = re.findall(r'(?:src|href)="([^"]*)"', html)
            assert all(u.startswith("data:") for u in refs), f"references outside the page: {refs}"
            assert "<script" not in html, "the page has a script"
            for needle in ("<h2>Configuration", "<h2>Metrics", "<h2>Figures", "curves.png" if FMNIST.exists() else "rate.png"):
                assert needle in html, f"'{needle}' not on the page"
            if FMNIST.exists():
                assert "<h2>Per-layer measurements" in html and "rc_in" in html, "no per-layer measurements"
        s.check("report: the page is self-contained (figures inlined, no outside reference, no script)", self_contained)

        def sweep():
            sw = t / "sweep"
            for r in ("a/seed0", "b/seed0"):
                shutil.copytree(run, sw / r, ignore=shutil.ignore_patterns("*.safetensors", "checkpoint-*", "report.html"))
            (sw / "results.csv").write_text("variant,seeds,test_accuracy_mean\na,1,0.5\nb,1,0.25\n")
            s.expect(["report", sw], True, "a sweep of 2 runs")
            html = (sw / "report.html").read_text()
            for needle in ('href="a/seed0/report.html"', 'href="b/seed0/report.html"', "<h2>Results", "test_accuracy_mean"):
                assert needle in html, f"'{needle}' not on the sweep page"
            assert (sw / "a" / "seed0" / "report.html").exists(), "the run's page was not written"
        s.check("report: a sweep gives the results table and a link to each run's page", sweep)
        (t / "empty").mkdir()
        s.check("report: a folder without a run is named",
                lambda: s.expect(["report", t / "empty"], False, "empty", "not a run folder"))
        s.check("report: a missing folder is named",
                lambda: s.expect(["report", t / "none"], False, "none"))

        name = "report: the page in headless Chromium: every image loaded, no console error, a screenshot"
        if not page.exists():
            s.skip(name, "no page was written (see the checks above)")
        elif not (a.chromium and pathlib.Path(a.chromium).exists()):
            s.skip(name, "Chromium is not installed (Debian's chromium; scripts/setup.sh installs it)")
        else:
            shot = pathlib.Path(a.junit).parent / "report-screenshot.png"
            # a negative control, in the same browser: a broken inline image and an outside reference
            broken = t / "broken.html"
            broken.write_text('<!DOCTYPE html><html><body><img alt="bad" src="data:image/png;base64,AAAA">'
                              '<img alt="far" src="http://127.0.0.1:9/x.png"></body></html>')
            try:
                (images, problems), (bad_images, bad_problems) = open_in_chromium(a.chromium, [page, broken], shot,
                                                                                  t / "profile")
            except ChromiumUnavailable as e:
                s.skip(name, str(e))
                s.skip("report: the browser check fails on a broken page (negative control)", str(e))
            else:
                def control():
                    assert [i for i in bad_images if not (i[1] and i[2] > 0)], f"broken images pass: {bad_images}"
                    assert any("network request" in p for p in bad_problems), f"no outside request seen: {bad_problems}"
                s.check("report: the browser check fails on a broken page (negative control)", control)
                def browser():
                    assert images, "the browser found no image"
                    bad = [i for i in images if not (i[1] and i[2] > 0 and i[3] > 0)]
                    assert not bad, f"images that did not load: {bad}"
                    assert not problems, f"the browser reported: {problems}"
                    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "no screenshot"
                    print(f"        {len(images)} images loaded; screenshot {shot}")
                s.check(name, browser)
    s.write_junit(a.junit)
    failed = [c for c in s.cases if c[1] is not None and not c[2]]
    print(f"{len(s.cases) - len(failed)} of {len(s.cases)} report checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
