#!/usr/bin/env python3
"""Sums up meson's test logs of the given build directories.

Prints one line per build and a closing 'N passed, N failed' line, and
fails when a test failed or when no test ran at all (a suite that silently
executed nothing must not look green).
"""
import json
import os
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}


def main(dirs):
    passed = failed = skipped = 0
    for d in dirs:
        path = os.path.join(d, "meson-logs", "testlog.json")
        p = f = s = 0
        try:
            with open(path) as log:
                for line in log:
                    result = json.loads(line).get("result")
                    if result in PASSED:
                        p += 1
                    elif result in SKIPPED:
                        s += 1
                    else:
                        f += 1
        except OSError as e:
            print(f"{d}: no test log ({e.strerror})")
            f += 1
        print(f"{d}: {p} passed, {f} failed, {s} skipped")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    if passed + failed == 0:
        print("no test was executed")
        return 1
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["build"]))
