"""Probability of correct selection and run budget of ``optimize``, against grid searches.

The case has a known answer. One pool of ``servers`` workers (3 to 10), Poisson arrivals at 10
per second, exponential service of 0.3 s (3 Erlangs offered), 3 minutes measured after a 20 s
warm-up; one server-hour costs 1. Constraint: mean queue wait (``backend_wait_mean_s``) at most
0.05 s. Erlang C gives 0.153 s with 4 servers and 0.0354 s with 5 (3 servers is unstable), so
the cheapest feasible pool has 5 servers; the finite runs measure 0.036 s there (the threshold
is 1.6 standard deviations of one run away).

Each macro-replication is one independent decision (base seed ``seed + m``):

* ``optimize`` with its defaults (alpha 0.05, a first stage of 10 replications, looks at
  10, 20, 40, 80, 160), twice: minimizing ``cost_total`` (a KPI, delta = 0.01; every
  configuration gets its first stage) and minimizing ``bank.pools.core.servers`` directly
  (exact: the cheapest are started first, the costlier never run once one is feasible);
* a full grid with ``R`` replications at every configuration, judged as notebook 02 used to
  judge it: a configuration passes when the upper end of its 95 % t-interval meets the
  threshold; the cheapest passing one is chosen. Its runs are the same seeds as optimize's
  (replication ``r`` of every configuration), so the grid's first ``R <= 10`` replications
  are read from the KPI optimize's run and cost nothing extra here.

Printed: per method, P(correct selection) with its 95 % Clopper-Pearson interval, the share of
decisions with a certificate, and runs per decision (mean, max), with a markdown table.

Usage::

    .venv/bin/python benchmarks/bench_optimize.py                 # 200 macro-replications
    .venv/bin/python benchmarks/bench_optimize.py --macro 20      # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from openbank_sim import Scenario
from openbank_sim.experiments import optimize
from openbank_sim.experiments.executors import ProcessExecutor

SERVERS = "bank.pools.core.servers"
SPACE = {"low": 3, "high": 10}
THRESHOLD_S = 0.05
CONSTRAINT = f"backend_wait_mean_s<={THRESHOLD_S}"
ANSWER = 5
GRID_REPLICATIONS = (2, 3, 5, 10)


def scenario() -> Scenario:
    """The M/M/c of the module docstring."""
    raw: dict[str, Any] = {
        "name": "bench_optimize",
        "run": {"horizon": "3m", "warmup": "20s", "record_calls": "none"},
        "bank": {
            "pools": {"core": {"servers": 4, "cost_per_server_hour": 1.0}},
            "products": {
                "pay": {"pool": "core", "service_time": {"dist": "exponential", "mean": "0.3s"}}
            },
        },
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "partners": [
            {"name": "shop", "users": 864_000, "sessions_per_user_day": 1.0, "journey": "buy"}
        ],
    }
    return Scenario(raw)


def erlang_c_answer() -> int:
    """The fewest servers whose Erlang C mean wait meets the threshold."""
    lam, mean_s = 10.0, 0.3
    a = lam * mean_s
    for c in range(SPACE["low"], SPACE["high"] + 1):
        if a >= c:
            continue
        b = 1.0
        for k in range(1, c + 1):
            b = a * b / (k + a * b)
        erlang_c = b / (1 - (a / c) * (1 - b))
        if erlang_c * mean_s / (c * (1 - a / c)) <= THRESHOLD_S:
            return c
    raise AssertionError("no configuration meets the threshold")


def grid_choice(table: pd.DataFrame, replications: int) -> int | None:
    """The grid's answer from the first ``replications`` of every configuration."""
    passing = []
    for servers, g in table.groupby(SERVERS):
        x = g.sort_values("replication")["backend_wait_mean_s"].to_numpy(dtype=float)[:replications]
        if len(x) < replications or np.isnan(x).any():
            continue
        upper = x.mean() + stats.t.ppf(0.975, replications - 1) * x.std(ddof=1) / np.sqrt(
            replications
        )
        if upper <= THRESHOLD_S:
            passing.append(int(servers))
    return min(passing) if passing else None


def proportion(successes: int, n: int) -> str:
    ci = stats.binomtest(successes, n).proportion_ci(0.95, method="exact")
    return f"{successes / n:.1%} [{ci.low:.1%}, {ci.high:.1%}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--macro", type=int, default=200, help="macro-replications (200)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument("--seed", type=int, default=10_000, help="first base seed")
    args = parser.parse_args(argv)
    assert erlang_c_answer() == ANSWER
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"machine: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {load[0]:.2f}; {args.macro} macro-replications, "
        f"{args.workers} workers"
    )
    k = SPACE["high"] - SPACE["low"] + 1
    print(
        f"case: servers {SPACE['low']}..{SPACE['high']} ({k} configurations), {CONSTRAINT}; "
        f"Erlang C answer: {ANSWER} servers"
    )
    s = scenario()
    rows: dict[str, list[tuple[bool, bool, int]]] = {"kpi": [], "exact": []}
    rows.update({f"grid {r}": [] for r in GRID_REPLICATIONS})
    t0 = time.perf_counter()
    with ProcessExecutor(args.workers) as ex:
        for m in range(args.macro):
            seed = args.seed + m
            for variant, minimize, delta in (("kpi", "cost_total", 0.01), ("exact", SERVERS, None)):
                res = optimize(
                    s,
                    vary={SERVERS: SPACE},
                    minimize=minimize,
                    subject_to=[CONSTRAINT],
                    delta=delta,
                    seed=seed,
                    executor=ex,
                    quiet=True,
                )
                chosen = (res.best or {}).get(SERVERS)
                rows[variant].append((chosen == ANSWER, res.holds, res.runs))
                if variant == "kpi":  # every configuration has at least 10 replications
                    for r in GRID_REPLICATIONS:
                        rows[f"grid {r}"].append(
                            (grid_choice(res.table, r) == ANSWER, False, k * r)
                        )
            if (m + 1) % 20 == 0:
                done = {v: sum(c for c, _h, _r in rows[v]) for v in ("kpi", "exact")}
                print(
                    f"  {m + 1} decisions, {time.perf_counter() - t0:.0f} s; correct so far: "
                    f"KPI objective {done['kpi']}, exact objective {done['exact']}",
                    flush=True,
                )
    names = {
        "kpi": "optimize, minimize cost_total (delta 0.01)",
        "exact": f"optimize, minimize {SERVERS}",
    }
    names.update(
        {f"grid {r}": f"grid, {r} replications x {k}, upper 95 % end" for r in GRID_REPLICATIONS}
    )
    print()
    print(
        "| method | P(correct selection) [95 % CI] | certificate holds | runs per decision: mean (max) |"
    )
    print("|---|---|---|---|")
    for key, label in names.items():
        got = rows[key]
        correct = sum(c for c, _h, _r in got)
        holds = sum(h for _c, h, _r in got)
        runs = np.array([r for _c, _h, r in got])
        cert = f"{holds / len(got):.1%}" if not key.startswith("grid") else "no certificate"
        print(
            f"| {label} | {proportion(correct, len(got))} | {cert} | "
            f"{runs.mean():.1f} ({runs.max()}) |"
        )
    print(f"\n{time.perf_counter() - t0:.0f} s in all", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
