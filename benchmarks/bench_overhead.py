"""Per-run overhead of a sweep: how much of it is spent outside SimPy's event loop.

A 200-run sweep (10 points x 20 replications) of a scenario of about 1,000 calls per run (one
partner at one session per second for 1,000 s on a pool of exponential 100 ms service), on the
``serial`` executor so that every part of a run is measured in this process: the event loop
(SimPy's steps: the model's calls, attempts and recording), the rest of the model's run (random
streams, partners, pools, the recorder's aggregates), and everything else (tasks, scenario
parse and overrides, the feasibility check, the KPIs, the sweep's table and progress). The
event loop is timed by wrapping the span's run loop; the model's run by ``RunRecord.wall_s``.
Target: under 20 % of the sweep's wall time outside the event loop. A second sweep on the
``processes`` executor (``--workers``, default 2) gives its wall time per run for comparison,
worker start-up included; its table must equal the serial one to the last bit.

Before the measurements, one tiny run is broken down part by part (scenario parse, feasibility
check, model run, event loop, KPIs, tables and manifest of a full ``simulate``).

Usage::

    .venv/bin/python benchmarks/bench_overhead.py
    .venv/bin/python benchmarks/bench_overhead.py --quick    # 40 runs
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
from bench_sweep import scenario as sweep_scenario

from openbank_sim import Scenario
from openbank_sim.analysis.results import build_results, run_kpis
from openbank_sim.experiments import sweep
from openbank_sim.model import span as span_module
from openbank_sim.model.world import run_world
from openbank_sim.spec.feasibility import check

POINTS = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]  # bank.pools.core.servers
REPLICATIONS = 20
SEED = 1
TARGET_OUTSIDE = 0.20


def scenario() -> Scenario:
    """One partner at one session per second for 1,000 s: about 1,000 calls per run (the
    scenario of ``bench_sweep.py``, made small)."""
    return sweep_scenario().with_overrides(
        {
            "name": "bench_overhead",
            "run.horizon": "1000s",
            "run.warmup": "0s",
            "bank.pools.core.servers": 2,
            "partners.0.sessions_per_user_day": 1.0,
        }
    )


class LoopTimer:
    """Wraps the span's run loop and adds up the seconds spent in it."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.runs = 0
        self._inner: Callable[..., int] = span_module._run_to_end

    def __enter__(self) -> LoopTimer:
        inner = self._inner

        def timed(env: Any) -> int:
            t0 = time.perf_counter()
            try:
                return inner(env)
            finally:
                self.seconds += time.perf_counter() - t0
                self.runs += 1

        span_module._run_to_end = timed
        return self

    def __exit__(self, *exc: object) -> None:
        span_module._run_to_end = self._inner


def breakdown(s: Scenario, repeats: int = 50) -> dict[str, float]:
    """Milliseconds per run of each part of one run of ``s`` (means over ``repeats``)."""
    text = json.dumps(s.as_dict())
    parts = dict.fromkeys(
        ("parse and overrides", "feasibility check", "model run", "event loop", "KPIs", "tables"),
        0.0,
    )
    for i in range(repeats):
        t0 = time.perf_counter()
        sc = Scenario(json.loads(text)).with_overrides({"bank.pools.core.servers": 3})
        t1 = time.perf_counter()
        check(sc.spec, file="<bench>", raw=sc.as_dict())
        t2 = time.perf_counter()
        with LoopTimer() as loop:
            record = run_world(sc.spec, i + 1)
        t3 = time.perf_counter()
        run_kpis(record)
        t4 = time.perf_counter()
        build_results(record, sc.as_dict(), None)
        t5 = time.perf_counter()
        parts["parse and overrides"] += t1 - t0
        parts["feasibility check"] += t2 - t1
        parts["model run"] += t3 - t2
        parts["event loop"] += loop.seconds
        parts["KPIs"] += t4 - t3
        parts["tables"] += (t5 - t4) - (t4 - t3)
    return {k: v / repeats * 1e3 for k, v in parts.items()}


def main(argv: list[str] | None = None) -> int:
    """Print the breakdown, the serial sweep's shares and the processes sweep's time."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 runs instead of 200")
    parser.add_argument("--workers", type=int, default=2, help="processes workers (default 2)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    replications = 4 if args.quick else REPLICATIONS
    runs = len(POINTS) * replications
    s = scenario()

    print("one run, part by part (ms per run, mean of 50):")
    for name, ms in breakdown(s).items():
        print(f"  {name:<22} {ms:7.2f}")
    print("  (tables: build_results on top of the KPIs, as simulate() does; sweeps skip it)")

    vary = {"bank.pools.core.servers": POINTS}
    with LoopTimer() as loop:
        t0 = time.perf_counter()
        serial = sweep(s, vary, replications=replications, seed=SEED, executor="serial", quiet=True)
        wall = time.perf_counter() - t0
    calls = serial.table["calls_total"].mean()
    outside = 1.0 - loop.seconds / wall
    ok = outside < TARGET_OUTSIDE and loop.runs == runs
    print(
        f"\nserial sweep: {runs} runs of {calls:,.0f} calls, {wall:.2f} s wall "
        f"({wall / runs * 1e3:.2f} ms per run), event loop {loop.seconds:.2f} s "
        f"({loop.seconds / runs * 1e3:.2f} ms per run)"
    )
    print(
        f"outside the event loop: {outside:.1%} of the wall time "
        f"(target < {TARGET_OUTSIDE:.0%}) {'PASS' if ok else 'FAIL'}"
    )
    t0 = time.perf_counter()
    parallel = sweep(
        s,
        vary,
        replications=replications,
        seed=SEED,
        executor="processes",
        workers=args.workers,
        quiet=True,
    )
    pwall = time.perf_counter() - t0
    same = True
    try:
        pd.testing.assert_frame_equal(parallel.table, serial.table, check_exact=True)
    except AssertionError:
        same = False
    print(
        f"processes sweep ({args.workers} workers, start-up included): {pwall:.2f} s wall "
        f"({pwall / runs * 1e3:.2f} ms per run); table identical to serial: "
        f"{'yes' if same else 'NO'}"
    )
    return 1 if args.strict and not (ok and same) else 0


if __name__ == "__main__":
    sys.exit(main())
