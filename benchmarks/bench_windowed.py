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
3. **Every shipped scenario** that can run both ways at a horizon of 7-14 days (:data:`SCENARIOS`;
   ``traditional_vs_api`` cannot: no partner is live before day 14), full against windowed
   traffic (one 1 h window a day after a 10 min warm-up, stratified) over the same replication
   seeds: errors of the windowed mean against the full mean (revenue, success rate, calls
   rate-limited and overloaded, availability, consents lapsed) and the speed-up by CPU time.

Full runs do not depend on how windowed traffic works, so ``--cache FILE`` keeps their KPIs and
times (keyed by scenario, overrides and seed) and later runs of the benchmark reuse them: the
windowed side can be measured before and after a change to it against the same full runs.

Wall time is the whole :func:`openbank_sim.simulate` call (scenario to results, tables
included); CPU time is this process's, which other work on the machine disturbs less. Targets
that fail are reported as FAIL; the exit status is 0 unless ``--strict`` is given.

Usage::

    .venv/bin/python benchmarks/bench_windowed.py            # full: ~1 hour (full runs dominate)
    .venv/bin/python benchmarks/bench_windowed.py --quick    # smoke run: ~1 minute
    .venv/bin/python benchmarks/bench_windowed.py --only scenarios --cache results/full.json
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
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

# measurement 3: (scenario, overrides, replications); ecommerce as in measurement 1 (shared cache)
SCENARIOS: tuple[tuple[str, dict[str, Any], int], ...] = (
    ("ecommerce", {"run.horizon": "14d", "run.warmup": "0s"}, 3),
    ("medical", {"run.horizon": "7d"}, 3),
    ("education", {"run.horizon": "14d"}, 3),
    ("rate_limits", {"run.horizon": "7d"}, 3),
    ("singles_day", {"run.horizon": "7d"}, 3),
    ("noisy_neighbour", {"run.horizon": "7d"}, 2),
    ("mmc_validation", {"run.horizon": "7d"}, 2),
    ("uk_open_banking", {"run.horizon": "7d"}, 3),
)
SCENARIO_WINDOWS = {"every": "1d", "length": "1h"}
QUICK_SCENARIO_HORIZON = "2d"  # --quick: every scenario over two days, one replication

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


class FullCache:
    """Full-traffic runs kept in a JSON file, keyed by scenario, overrides and seed.

    Full traffic does not depend on how windowed traffic works, so a cached full run stays
    valid across changes to :mod:`openbank_sim.model.windows`. Without a path nothing is kept.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._runs: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            self._runs = json.loads(path.read_text(encoding="utf-8"))

    @staticmethod
    def key(name: str, overrides: dict[str, Any], seed: int | None) -> str:
        return json.dumps([name, overrides, seed], sort_keys=True)

    def run(self, name: str, overrides: dict[str, Any], seed: int | None) -> Run:
        """The full run of ``name`` with ``overrides`` at ``seed``, from the cache or timed now."""
        key = self.key(name, overrides, seed)
        hit = self._runs.get(key)
        if hit is not None:
            return Run(hit["wall_s"], hit["cpu_s"], hit["kpis"], hit["events"])
        run = timed(load_scenario(name).with_overrides(overrides), seed)
        if self.path is not None:
            self._runs[key] = {
                "wall_s": run.wall_s,
                "cpu_s": run.cpu_s,
                "kpis": run.kpis,
                "events": run.events,
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._runs, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        return run


def ecommerce_overrides(quick: bool) -> dict[str, Any]:
    """The shipped e-commerce case over 14 days without warm-up (scaled down with ``quick``)."""
    overrides: dict[str, Any] = {"run.horizon": HORIZON, "run.warmup": "0s"}
    if quick:
        users = [p.users for p in load_scenario("ecommerce").spec.partners]
        overrides.update(
            {
                "partners.0.users": users[0] // QUICK_TRAFFIC_DIVISOR,
                "partners.1.users": users[1] // QUICK_TRAFFIC_DIVISOR,
                "bank.pools.core.servers": 1,
                "bank.pools.risk.servers": 1,
            }
        )
    return overrides


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


def accuracy_vs_speed(quick: bool, replications: int, seed: int, cache: FullCache) -> list[Row]:
    """Measurement 1: the full runs, then every grid point; prints as it goes."""
    overrides = ecommerce_overrides(quick)
    base = load_scenario("ecommerce").with_overrides(overrides)
    every_grid, length_grid = (QUICK_EVERY, QUICK_LENGTH) if quick else (FULL_EVERY, FULL_LENGTH)
    seeds = [replication_seed(seed, r) for r in range(replications)]
    size = f"users / {QUICK_TRAFFIC_DIVISOR}, one worker per pool" if quick else "full size"
    print(
        f"\n[1] ecommerce over {HORIZON} ({size}), no warm-up; windows: {WINDOW_WARMUP} warm-up,"
        f" {PLACEMENT}; {replications} replication(s), seeds replication_seed({seed}, r)"
    )
    full = []
    for r, s in enumerate(seeds):
        run = cache.run("ecommerce", overrides, s)
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


@dataclass(frozen=True, slots=True)
class ScenarioRow:
    """Measurement 3: one shipped scenario, windowed against full (means over replications)."""

    name: str
    horizon: str
    replications: int
    full_cpu_s: float
    windowed_cpu_s: float
    full: dict[str, float]  # KPI means of the full runs
    windowed: dict[str, float]  # KPI means of the windowed runs

    def rel(self, kpi: str) -> float:
        """Relative error of the windowed mean (NaN when the full mean is 0)."""
        f = self.full[kpi]
        return self.windowed[kpi] / f - 1.0 if f else float("nan")

    def diff(self, kpi: str) -> float:
        """Windowed mean minus full mean."""
        return self.windowed[kpi] - self.full[kpi]


SCENARIO_KPIS = (
    "revenue_total",
    "success_rate",
    "calls_total",
    "calls_rate_limited",
    "calls_overloaded",
    "availability",
    "availability_published",
    "consents_lapsed",
)


def shipped_scenarios(
    quick: bool, replications: int | None, seed: int, cache: FullCache
) -> list[ScenarioRow]:
    """Measurement 3: every shipped scenario that runs both ways, full against windowed."""
    print(
        f"\n[3] shipped scenarios, full vs windowed (one {SCENARIO_WINDOWS['length']} window "
        f"per {SCENARIO_WINDOWS['every']}, {WINDOW_WARMUP} warm-up, {PLACEMENT}); seeds "
        f"replication_seed({seed}, r)"
    )
    rows = []
    for name, overrides, reps in SCENARIOS:
        if quick:
            overrides = {**overrides, "run.horizon": QUICK_SCENARIO_HORIZON}
            reps = 1
        reps = replications or reps
        seeds = [replication_seed(seed, r) for r in range(reps)]
        full = [cache.run(name, overrides, s) for s in seeds]
        scenario = windowed(
            load_scenario(name).with_overrides(overrides),
            SCENARIO_WINDOWS["every"],
            SCENARIO_WINDOWS["length"],
        )
        runs = [timed(scenario, s) for s in seeds]
        row = ScenarioRow(
            name,
            overrides["run.horizon"],
            reps,
            float(np.mean([r.cpu_s for r in full])),
            float(np.mean([r.cpu_s for r in runs])),
            {k: _mean(full, k) for k in SCENARIO_KPIS},
            {k: _mean(runs, k) for k in SCENARIO_KPIS},
        )
        rows.append(row)
        print(
            f"  {name:>16} {row.horizon:>4} x{reps}: full {row.full_cpu_s:7.2f} s CPU, windowed "
            f"{row.windowed_cpu_s:6.2f} s CPU; revenue {100 * row.rel('revenue_total'):+.2f}%, "
            f"success {100 * row.diff('success_rate'):+.3f} pp",
            flush=True,
        )
    return rows


def print_scenarios(rows: list[ScenarioRow]) -> None:
    """Measurement 3 as a Markdown table."""
    print(
        "\n| scenario | horizon | reps | full CPU s | windowed CPU s | speed-up | revenue err "
        "| success err | 429s full / windowed | 503s full / windowed | availability full / "
        "windowed | consents lapsed full / windowed |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        rev = r.rel("revenue_total")
        f, w = r.full, r.windowed
        print(
            f"| {r.name} | {r.horizon} | {r.replications} | {r.full_cpu_s:.1f} "
            f"| {r.windowed_cpu_s:.2f} | {r.full_cpu_s / r.windowed_cpu_s:.1f} x "
            f"| {'n/a' if math.isnan(rev) else f'{100 * rev:+.2f} %'} "
            f"| {100 * r.diff('success_rate'):+.2f} pp "
            f"| {f['calls_rate_limited']:,.0f} / {w['calls_rate_limited']:,.0f} "
            f"| {f['calls_overloaded']:,.0f} / {w['calls_overloaded']:,.0f} "
            f"| {f['availability']:.4f} / {w['availability']:.4f} "
            f"| {f['consents_lapsed']:.0f} / {w['consents_lapsed']:.0f} |"
        )


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
    parser.add_argument(
        "--only",
        choices=("grid", "long", "scenarios"),
        action="append",
        help="run only these measurements (repeatable; default all three)",
    )
    parser.add_argument(
        "--cache", type=Path, default=None, help="JSON file keeping full runs for later runs"
    )
    args = parser.parse_args(argv)
    replications = args.replications or (1 if args.quick else REPLICATIONS)
    only = set(args.only or ("grid", "long", "scenarios"))
    cache = FullCache(args.cache)

    print(f"openbank_sim windowed-traffic benchmark: {_machine()}")
    t0 = time.perf_counter()
    rows: list[Row] = []
    long_runs: list[tuple[str, Run, bool]] = []
    if "grid" in only:
        rows = accuracy_vs_speed(args.quick, replications, args.seed, cache)
        print_table(rows)
    if "long" in only:
        long_runs = three_years(args.quick)
    if "scenarios" in only:
        print_scenarios(shipped_scenarios(args.quick, args.replications, args.seed, cache))
    print(f"\ntotal benchmark time {time.perf_counter() - t0:.0f} s")
    passed = all(r.passed for r in rows) and all(ok for _, _, ok in long_runs)
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
