"""The engine, scale and per-run overhead benchmarks run end to end in their quick modes.

Only that it finishes and reports: speed ratios depend on the machine, so no timing is asserted.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
BENCH = BENCHMARKS / "bench_engine.py"

RESULT_LINES = (
    re.compile(r"^\[1\] mmc speed ratio: .* = \d+\.\d+ \(target >= 2\.5\) (PASS|FAIL)$", re.M),
    re.compile(r"^\[2\] gateway speed ratio: .* = \d+\.\d+ \(target >= 2\) (PASS|FAIL)$", re.M),
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


def _quick(script: str) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/SCRIPT --quick``; it must exit 0."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_quick_scale_benchmark_prints_its_table_and_the_bank_day() -> None:
    """``bench_scale.py --quick``: one row per size (calls, wall, calls/s, events/call, RSS)."""
    done = _quick("bench_scale.py")
    rows = re.findall(
        r"^\| ([\d,]+) \| [\d.]+ \| [\d,]+ \| [\d.]+ \| [\d,]+ MB \|$", done.stdout, re.M
    )
    assert len(rows) == 2, done.stdout
    assert re.search(r"^\[2\] a bank day: uk_open_banking x10 \([\d,]+ users\)", done.stdout, re.M)


def test_quick_overhead_benchmark_reports_the_share_outside_the_event_loop() -> None:
    """``bench_overhead.py --quick``: the part-by-part breakdown and the serial sweep's share."""
    done = _quick("bench_overhead.py")
    assert re.search(r"^  event loop +\d+\.\d\d$", done.stdout, re.M), done.stdout
    assert re.search(
        r"^outside the event loop: \d+\.\d% of the wall time \(target < 20%\) (PASS|FAIL)$",
        done.stdout,
        re.M,
    )
    assert "table identical to serial: yes" in done.stdout
