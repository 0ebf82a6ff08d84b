"""The engine benchmark runs end to end in its quick mode.

Only that it finishes and reports: speed ratios depend on the machine, so no timing is asserted.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_engine.py"

RESULT_LINES = (
    re.compile(r"^\[1\] mmc speed ratio: .* = \d+\.\d+ \(target >= 0\.5\) (PASS|FAIL)$", re.M),
    re.compile(r"^\[2\] gateway speed ratio: .* = \d+\.\d+ \(target >= 0\.3\) (PASS|FAIL)$", re.M),
    re.compile(r"^\[3\] memory peak RSS: \d+\.\d MB for [\d,]+ calls .* (PASS|FAIL)$", re.M),
)


def test_quick_benchmark_runs_and_reports_three_results() -> None:
    """``bench_engine.py --quick`` exits 0 and prints the three result lines and the table."""
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for pattern in RESULT_LINES:
        assert pattern.search(done.stdout), f"missing {pattern.pattern!r} in:\n{done.stdout}"
    assert "| measurement | target | engine | bare SimPy | result | verdict |" in done.stdout
