"""Windowed traffic against full traffic: wall time, speed-up and accuracy.

Two measurements:

1. **Accuracy vs speed** on the shipped e-commerce case over 14 days (``load_scenario("ecommerce")``
   with ``run.horizon = "14d"`` and ``run.warmup = "0s"``, full size): a full run and windowed
   runs (``run.traffic = "windowed"``, window warm-up 10 min, ``placement = "stratified"``) for a
   grid of window spacings ``every`` x lengths ``length``, each over the same replication seeds
   (:func:`openbank_sim.rng.replication_seed`). Each grid row shows the mean wall and CPU time
   per run, the speed-up over the full runs (by wall and by CPU time), and the error of the mean
   over replications against the full runs' mean: ``revenue_total`` (%, target within 3%),
   ``success_rate`` (percentage points, target within 1 pp) and ``latency_p95_s`` (%, no
   target). DESIGN.md asks windowed runs to be >= 10x faster.
2. **The three-year case**: ``scenarios/traditional_vs_api.toml`` for both arms
   (``onboarding.integration`` = ``api`` and ``traditional``) with its windows as shipped, one run
   each at the scenario's seed. Target: under 2 minutes each on one core.

Wall time is the whole :func:`openbank_sim.simulate` call (scenario to results, tables
included); CPU time is this process's, which other work on the machine disturbs less. Targets
that fail are reported as FAIL; the exit status is 0 unless ``--strict`` is given.

Usage::

    .venv/bin/python benchmarks/bench_windowed.py            # full: ~20-30 minutes
    .venv/bin/python benchmarks/bench_windowed.py --quick    # smoke run: ~1 minute
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from openbank_sim import Scenario, load_scenario, simulate
from openbank_sim.rng import replication_seed

HORIZON = "14d"
WINDOW_WARMUP = "10m"
PLACEMENT = "stratified"
FULL_EVERY = ("12h", "1d", "2d")
FULL_LENGTH = ("30m", "1h", "2h")
QUICK_EVERY = ("1d", "2d")
QUICK_LENGTH = ("30m", "1h")
REPLICATIONS = 3
QUICK_TRAFFIC_DIVISOR = 20  # --quick: users / 20 on one worker per pool
QUICK_LONG_HORIZON = "1y"  # --quick: the three-year case cut to one year

TARGET_REVENUE_ERROR = 0.03  # relative
TARGET_SUCCESS_ERROR = 0.01  # absolute (1 percentage point)
TARGET_SPEEDUP = 10.0
TARGET_LONG_WALL_S = 120.0


@dataclass(frozen=True, slots=True)
class Run:
    """One timed :func:`simulate` call: wall and CPU seconds, KPIs, SimPy events scheduled."""

    wall_s: float
    cpu_s: float
    kpis: dict[str, float]
    events: int


@dataclass(frozen=True, slots=True)
class Row:
    """One grid point: windowed runs against the full runs' mean."""

    every: str
    length: str
    simulated_share: float  # share of the horizon simulated (windows plus their warm-ups)
    wall_s: float  # mean per run
    cpu_s: float  # mean per run
    events: float  # mean SimPy events per run
    speedup_wall: float
    speedup_cpu: float
    revenue_error: float  # relative, signed
    success_error: float  # absolute, signed
    p95_error: float  # relative, signed

    @property
    def passed(self) -> bool:
        """All three targets met: revenue, success rate, speed-up (by wall time)."""
        return (
            abs(self.revenue_error) <= TARGET_REVENUE_ERROR
            and abs(self.success_error) <= TARGET_SUCCESS_ERROR
            and self.speedup_wall >= TARGET_SPEEDUP
        )


def timed(scenario: Scenario, seed: int | None) -> Run:
    """Run ``scenario`` once and time the whole :func:`simulate` call."""
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    res = simulate(scenario, seed=seed)
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return Run(wall_s, cpu_s, dict(res.kpis), int(res.manifest["events"]))


def ecommerce_14d(quick: bool) -> Scenario:
    """The shipped e-commerce case over 14 days without warm-up (scaled down with ``quick``)."""
    base = load_scenario("ecommerce")
    overrides: dict[str, Any] = {"run.horizon": HORIZON, "run.warmup": "0s"}
    if quick:
        users = [p.users for p in base.spec.partners]
        overrides.update(
            {
                "partners.0.users": users[0] // QUICK_TRAFFIC_DIVISOR,
                "partners.1.users": users[1] // QUICK_TRAFFIC_DIVISOR,
                "bank.pools.core.servers": 1,
                "bank.pools.risk.servers": 1,
            }
        )
    return base.with_overrides(overrides)


def windowed(scenario: Scenario, every: str, length: str) -> Scenario:
    """``scenario`` with windowed traffic: one ``length`` window per ``every``."""
    return scenario.with_overrides(
        {
            "run.traffic": "windowed",
            "run.windows.every": every,
            "run.windows.length": length,
            "run.windows.warmup": WINDOW_WARMUP,
            "run.windows.placement": PLACEMENT,
        }
    )


def _mean(runs: list[Run], kpi: str) -> float:
    return float(np.mean([r.kpis[kpi] for r in runs]))


def simulated_share(scenario: Scenario) -> float:
    """Share of the horizon inside windows and their warm-ups (profiles without event days)."""
    run = scenario.spec.run
    w = run.windows
    assert w is not None
    n_windows = math.floor(run.horizon_s / w.every_s + 1e-9)
    return n_windows * (w.length_s + w.warmup_s) / run.horizon_s


def grid_row(every: str, length: str, runs: list[Run], full: list[Run], share: float) -> Row:
    """Compare windowed ``runs`` with the ``full`` runs (means over replications)."""
    full_wall = float(np.mean([r.wall_s for r in full]))
    full_cpu = float(np.mean([r.cpu_s for r in full]))
    wall = float(np.mean([r.wall_s for r in runs]))
    cpu = float(np.mean([r.cpu_s for r in runs]))
    return Row(
        every=every,
        length=length,
        simulated_share=share,
        wall_s=wall,
        cpu_s=cpu,
        events=float(np.mean([r.events for r in runs])),
        speedup_wall=full_wall / wall,
        speedup_cpu=full_cpu / cpu,
        revenue_error=_mean(runs, "revenue_total") / _mean(full, "revenue_total") - 1.0,
        success_error=_mean(runs, "success_rate") - _mean(full, "success_rate"),
        p95_error=_mean(runs, "latency_p95_s") / _mean(full, "latency_p95_s") - 1.0,
    )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (
        f"Python {platform.python_version()}, SimPy {simpy.__version__}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def accuracy_vs_speed(quick: bool, replications: int, seed: int) -> list[Row]:
    """Measurement 1: the full runs, then every grid point; prints as it goes."""
    base = ecommerce_14d(quick)
    every_grid, length_grid = (QUICK_EVERY, QUICK_LENGTH) if quick else (FULL_EVERY, FULL_LENGTH)
    seeds = [replication_seed(seed, r) for r in range(replications)]
    size = f"users / {QUICK_TRAFFIC_DIVISOR}, one worker per pool" if quick else "full size"
    print(
        f"\n[1] ecommerce over {HORIZON} ({size}), no warm-up; windows: {WINDOW_WARMUP} warm-up,"
        f" {PLACEMENT}; {replications} replication(s), seeds replication_seed({seed}, r)"
    )
    full = []
    for r, s in enumerate(seeds):
        run = timed(base, s)
        full.append(run)
        print(
            f"  full r={r}: {run.wall_s:7.2f} s wall {run.cpu_s:7.2f} s CPU, "
            f"{run.events:,} events, revenue {run.kpis['revenue_total']:,.0f}, "
            f"success {run.kpis['success_rate']:.5f}, p95 {run.kpis['latency_p95_s']:.4f} s",
            flush=True,
        )
    revenue = [r.kpis["revenue_total"] for r in full]
    spread = np.std(revenue, ddof=1) / np.mean(revenue) if len(full) > 1 else float("nan")
    print(
        f"  full mean: {np.mean([r.wall_s for r in full]):.2f} s wall "
        f"{np.mean([r.cpu_s for r in full]):.2f} s CPU; revenue {np.mean(revenue):,.0f} "
        f"(sd over replications {100 * spread:.2f}%), success "
        f"{_mean(full, 'success_rate'):.5f}, p95 {_mean(full, 'latency_p95_s'):.4f} s",
        flush=True,
    )
    rows = []
    for every in every_grid:
        for length in length_grid:
            scenario = windowed(base, every, length)
            runs = [timed(scenario, s) for s in seeds]
            row = grid_row(every, length, runs, full, simulated_share(scenario))
            rows.append(row)
            print(
                f"  windowed every {every:>3} length {length:>3}: {row.wall_s:6.2f} s wall "
                f"{row.cpu_s:6.2f} s CPU, {row.events:,.0f} events, revenue "
                f"{100 * row.revenue_error:+.2f}%",
                flush=True,
            )
    return rows


def print_table(rows: list[Row]) -> None:
    """The grid as a Markdown table."""
    print(
        "\n| every | length | simulated | wall s | CPU s | speed-up (wall) | speed-up (CPU) "
        "| revenue err % | success err pp | p95 err % | targets |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.every} | {r.length} | {100 * r.simulated_share:.1f}% | {r.wall_s:.2f} "
            f"| {r.cpu_s:.2f} | {r.speedup_wall:.1f} x | {r.speedup_cpu:.1f} x "
            f"| {100 * r.revenue_error:+.2f} | {100 * r.success_error:+.3f} "
            f"| {100 * r.p95_error:+.2f} | {_verdict(r.passed)} |"
        )
    print(
        f"targets: |revenue err| <= {100 * TARGET_REVENUE_ERROR:g}%, |success err| <= "
        f"{100 * TARGET_SUCCESS_ERROR:g} pp, speed-up (wall) >= {TARGET_SPEEDUP:g} x; "
        "errors are mean(windowed) vs mean(full) over the same seeds"
    )


def three_years(quick: bool) -> list[tuple[str, Run, bool]]:
    """Measurement 2: both arms of ``traditional_vs_api`` with the shipped windows."""
    base = load_scenario("traditional_vs_api")
    if quick:
        base = base.with_overrides({"run.horizon": QUICK_LONG_HORIZON})
    run = base.spec.run
    w = run.windows
    assert w is not None
    horizon = QUICK_LONG_HORIZON if quick else "3y (as shipped)"
    print(
        f"\n[2] traditional_vs_api over {horizon}: windows every {w.every_s / 86400:g} d, "
        f"length {w.length_s / 3600:g} h, warm-up {w.warmup_s / 60:g} min, {w.placement}; "
        f"seed {run.seed}"
    )
    out = []
    for arm in ("api", "traditional"):
        r = timed(base.with_overrides({"onboarding.integration": arm}), None)
        ok = r.wall_s < TARGET_LONG_WALL_S
        out.append((arm, r, ok))
        k = r.kpis
        print(
            f"  {arm:>11}: {r.wall_s:6.2f} s wall {r.cpu_s:6.2f} s CPU "
            f"(target < {TARGET_LONG_WALL_S:g} s) {_verdict(ok)}; {r.events:,} SimPy "
            f"events, {k['calls_total']:,.0f} calls booked, "
            f"{k['partners_live_end']:.0f} partners live, revenue {k['revenue_total']:,.0f}, "
            f"NPV {k['npv']:,.0f}",
            flush=True,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"users / {QUICK_TRAFFIC_DIVISOR}, a 2 x 2 grid, one replication, "
        f"the long case over {QUICK_LONG_HORIZON}",
    )
    parser.add_argument("--replications", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument("--seed", type=int, default=1, help="base seed of the replications")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    replications = args.replications or (1 if args.quick else REPLICATIONS)

    print(f"openbank_sim windowed-traffic benchmark: {_machine()}")
    t0 = time.perf_counter()
    rows = accuracy_vs_speed(args.quick, replications, args.seed)
    print_table(rows)
    long_runs = three_years(args.quick)
    print(f"\ntotal benchmark time {time.perf_counter() - t0:.0f} s")
    passed = all(r.passed for r in rows) and all(ok for _, _, ok in long_runs)
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
