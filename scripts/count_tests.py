#!/usr/bin/env python3
"""Counts test cases over meson builds and prints, as the last line, "N passed, N failed, N skipped".

Each test executable writes a Boost.Test JUnit file (tests/junit-<suite>.xml); every <testcase> is one
test case. An executable that failed without recording a failure (a crash, a sanitizer abort, a
timeout) or that never wrote its file counts as one more failure, so nothing fails silently. A case
with <skipped/> (a Boost.Test precondition that failed, e.g. wbtest::require_dataset for a dataset that
is not installed) counts as skipped, never as passed. A test that writes no JUnit file (a script, e.g.
tests/compat) counts as one case: passed when it exited 0, skipped when meson reports it skipped
(exit 77), failed otherwise.
"""
import json
import pathlib
import sys
import xml.etree.ElementTree as ET


def count(build: pathlib.Path) -> tuple[int, int, int, list[str]]:
    passed = failed = skipped = 0
    notes = []
    log = build / "meson-logs" / "testlog.json"
    if not log.exists():
        return 0, 1, 0, [f"{build}: no test log (the build or the test run did not happen)"]
    for line in log.read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        name = entry["name"]
        exe_ok = entry["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
        junit = build / "tests" / f"junit-{name}.xml"
        p = f = s = 0
        if junit.exists():
            try:
                root = ET.parse(junit).getroot()
                for case in root.iter("testcase"):
                    if case.find("failure") is not None or case.find("error") is not None:
                        f += 1
                    elif case.find("skipped") is not None:
                        s += 1
                    else:
                        p += 1
            except ET.ParseError:
                notes.append(f"{build}/{name}: unreadable JUnit file (aborted run)")
        elif entry["result"] in ("OK", "EXPECTEDFAIL"):
            p = 1  # a test without a JUnit file (a script): one case, passed
        elif entry["result"] == "SKIP":
            s = 1
            notes.append(f"{build}/{name}: skipped")
        if not exe_ok and f == 0:
            f += 1
            notes.append(f"{build}/{name}: executable ended with {entry['result']} "
                         f"(exit {entry.get('returncode')}) without a recorded case failure")
        passed += p
        failed += f
        skipped += s
        print(f"{build.name:>12} {name:<12} {p:5d} passed {f:5d} failed {s:5d} skipped")
    return passed, failed, skipped, notes


def main() -> int:
    total_p = total_f = total_s = 0
    for d in sys.argv[1:]:
        p, f, s, notes = count(pathlib.Path(d))
        total_p += p
        total_f += f
        total_s += s
        for n in notes:
            print(n)
    print(f"{total_p} passed, {total_f} failed, {total_s} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
