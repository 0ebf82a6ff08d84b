"""Sweep speed-up of the ``processes`` executor over ``serial``.

One grid sweep of 8 points x 2 replications (16 runs) of a one-pool scenario sized to take
about 1-2 s per run (one hour at about 40 calls per second, about 140 000 calls), run once with
``executor="serial"`` and once with ``executor="processes"`` on ``--workers`` workers (default
2). Each wall time is the whole :func:`openbank_sim.experiments.sweep` call, worker start-up
included. Both tables must be identical to the last bit. Target: speed-up >= 1.7 with 2
workers; the verdict is printed as PASS or FAIL, and the exit status is 0 unless ``--strict``
is given and the target is missed. The speed-up depends on free cores: the machine's load
average is printed next to it.

Usage::

    .venv/bin/python benchmarks/bench_sweep.py
    .venv/bin/python benchmarks/bench_sweep.py --workers 4 --target 3.0
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any

import pandas as pd

from openbank_sim import Scenario
from openbank_sim.experiments import SweepResult, sweep

POINTS = [5, 6, 7, 8, 9, 10, 11, 12]  # bank.pools.core.servers: offered load 4 Erlang
REPLICATIONS = 2
SEED = 1


def scenario() -> Scenario:
    """One partner at about 40 calls per second on a pool of exponential 100 ms service."""
    raw: dict[str, Any] = {
        "name": "bench_sweep",
        "run": {"horizon": "1h", "warmup": "5m", "seed": SEED, "time_bin": "10m"},
        "bank": {
            "pools": {"core": {"servers": 6}},
            "products": {
                "pay": {
                    "kind": "payment",
                    "pool": "core",
                    "service_time": {"dist": "exponential", "mean": "100ms"},
                }
            },
        },
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "partners": [
            {"name": "shop", "users": 86400, "sessions_per_user_day": 40.0, "journey": "buy"}
        ],
    }
    return Scenario(raw)


def timed_sweep(executor: str, workers: int | None) -> tuple[SweepResult, float]:
    """The benchmark sweep on one executor: (result, wall seconds)."""
    t0 = time.perf_counter()
    res = sweep(
        scenario(),
        {"bank.pools.core.servers": POINTS},
        replications=REPLICATIONS,
        seed=SEED,
        executor=executor,
        workers=workers,
        quiet=True,
    )
    return res, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Run both sweeps, print wall times, the speed-up and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--target", type=float, default=1.7, help="speed-up to pass (1.7)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)

    runs = len(POINTS) * REPLICATIONS
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"machine: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"sweep: {len(POINTS)} points x {REPLICATIONS} replications = {runs} runs")

    serial, serial_s = timed_sweep("serial", None)
    calls = serial.table["calls_total"].mean()
    print(
        f"serial:                 {serial_s:7.2f} s wall ({serial_s / runs:.2f} s per run, "
        f"{calls:,.0f} calls per run)"
    )
    parallel, parallel_s = timed_sweep("processes", args.workers)
    print(f"processes ({args.workers} workers):  {parallel_s:7.2f} s wall (start-up included)")

    identical = serial.failures.empty and parallel.failures.empty
    try:
        pd.testing.assert_frame_equal(parallel.table, serial.table, check_exact=True)
    except AssertionError:
        identical = False
    print(f"tables identical: {'yes' if identical else 'NO'}")

    speedup = serial_s / parallel_s
    ok = identical and speedup >= args.target
    print(
        f"speed-up: {serial_s:.2f} s / {parallel_s:.2f} s = {speedup:.2f}x "
        f"(target >= {args.target:g} with {args.workers} workers) {'PASS' if ok else 'FAIL'}"
    )
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
