"""Coverage of the single-run batch-means interval (``Results.interval``) on M/M/1 cases.

Each macro-replication is one independent run (seed ``seed + m``) of an M/M/1 queue: Poisson
arrivals, exponential service of 1 s, started empty, with a fixed warm-up; the 95 %
batch-means interval of ``backend_wait_mean_s`` (20 batches) either covers Erlang C's
``Wq = rho / (1 - rho)`` seconds or not. Printed per case: the coverage with its 95 %
Clopper-Pearson interval, the share of runs whose batches were flagged as correlated, the mean
lag-1 autocorrelation and the mean relative half width, with a markdown table.

Cases (``--case``, default both):

* ``rho0.5``: rho 0.5, a 2 h horizon after a 10-minute warm-up, bins of 30 s (the suite's case:
  ``tests/validation/test_warmup_theory.py`` checks 100 runs);
* ``rho0.9``: rho 0.9, 8 h after a 30-minute warm-up, bins of 1 minute.

Usage::

    .venv/bin/python benchmarks/bench_batch_means.py               # 500 runs per case
    .venv/bin/python benchmarks/bench_batch_means.py --runs 50     # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from typing import Any

import numpy as np
from scipy import stats

from openbank_sim import Scenario, simulate

CASES: dict[str, tuple[float, str, str, str]] = {
    # name: (rho, horizon, warm-up, time bin)
    "rho0.5": (0.5, "2h", "10m", "30s"),
    "rho0.9": (0.9, "510m", "30m", "1m"),
}


def mm1(rho: float, horizon: str, warmup: str, time_bin: str) -> Scenario:
    """An M/M/1 queue at ``rho`` with exponential service of 1 s (one session per user-day)."""
    users = round(rho * 86400)
    return Scenario(
        {
            "run": {"horizon": horizon, "warmup": warmup, "time_bin": time_bin},
            "bank": {
                "pools": {"core": {"servers": 1}},
                "products": {
                    "pay": {
                        "pool": "core",
                        "service_time": {"dist": "exponential", "mean": "1s"},
                    }
                },
            },
            "journeys": {"buy": {"steps": [{"product": "pay"}]}},
            "partners": [
                {"name": "shop", "users": users, "sessions_per_user_day": 1.0, "journey": "buy"}
            ],
        }
    )


def clopper_pearson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact binomial interval of ``hits / n``."""
    a = (1.0 - level) / 2.0
    low = stats.beta.ppf(a, hits, n - hits + 1) if hits > 0 else 0.0
    high = stats.beta.ppf(1.0 - a, hits + 1, n - hits) if hits < n else 1.0
    return float(low), float(high)


def run_case(name: str, runs: int, seed: int) -> dict[str, Any]:
    """``runs`` independent runs of case ``name``; coverage and batch statistics."""
    rho, horizon, warmup, time_bin = CASES[name]
    scenario = mm1(rho, horizon, warmup, time_bin)
    wq = rho / (1.0 - rho)  # Erlang C with one server, E[S] = 1 s
    hits = flagged = 0
    r1, rel = [], []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in range(runs):
            iv = simulate(scenario, seed=seed + m).interval("backend_wait_mean_s", level=0.95)
            hits += iv.low <= wq <= iv.high
            flagged += not iv.uncorrelated
            r1.append(iv.lag1_autocorrelation)
            rel.append(iv.half_width / wq)
    low, high = clopper_pearson(hits, runs)
    return {
        "case": name,
        "rho": rho,
        "measured": f"{horizon} - {warmup}",
        "time_bin": time_bin,
        "wq": wq,
        "runs": runs,
        "coverage": hits / runs,
        "ci": (low, high),
        "flagged": flagged / runs,
        "r1": float(np.mean(r1)),
        "rel_half_width": float(np.mean(rel)),
        "wall_s": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500, help="runs per case (default 500)")
    parser.add_argument("--seed", type=int, default=20000, help="first seed (default 20000)")
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    args = parser.parse_args(argv)
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{args.runs} runs per case, seeds from {args.seed}"
    )
    rows = []
    for name in args.case or list(CASES):
        row = run_case(name, args.runs, args.seed)
        rows.append(row)
        low, high = row["ci"]
        print(
            f"{name}: coverage {row['coverage']:.1%} [{low:.1%}, {high:.1%}] of {row['runs']} "
            f"runs; flagged correlated {row['flagged']:.1%}; mean lag-1 autocorrelation "
            f"{row['r1']:+.3f}; mean half width {row['rel_half_width']:.1%} of Wq "
            f"({row['wall_s']:.0f} s)",
            flush=True,
        )
    print()
    print(
        "| case | measured | time bin | Wq (s) | runs | coverage of the 95 % interval [95 % CI] "
        "| flagged correlated | mean lag-1 autocorrelation | mean half width / Wq |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        low, high = row["ci"]
        print(
            f"| M/M/1, rho {row['rho']:g} | {row['measured']} | {row['time_bin']} | "
            f"{row['wq']:g} | {row['runs']} | {row['coverage']:.1%} [{low:.1%}, {high:.1%}] | "
            f"{row['flagged']:.1%} | {row['r1']:+.3f} | {row['rel_half_width']:.1%} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
