"""Regenerate every golden snapshot: ``python -m tests.golden.regenerate [CASE ...]``."""

from __future__ import annotations

import sys
import time

from .cases import CASES, write


def main(argv: list[str]) -> int:
    names = argv or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"unknown golden case(s): {', '.join(unknown)}; known: {', '.join(CASES)}")
        return 2
    for name in names:
        t0 = time.perf_counter()
        path = write(name)
        print(f"{name}: {time.perf_counter() - t0:.1f} s -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
