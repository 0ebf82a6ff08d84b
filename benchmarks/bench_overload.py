"""Peak memory and wall time of overloaded runs, one subprocess per case.

Cases (``--case NAME``, repeatable; default: all):

``server-timeout``
    One backend server at 100x its capacity for 1 h with no queue limit: exponential 1 s
    service (1 attempt/s of capacity) against 100 sessions/s, one one-step journey, a client
    with a 5 s timeout, 3 attempts (retries on timeout and 503) and a user patience of 10 s.
    The queue grows for the whole hour (its waits reach days); the clients give up.
``server-waits``
    The same server and traffic with the defaults of ``[client]`` and the journey: no timeout,
    no patience, so every session waits for its response, which comes up to 99 h later. The
    run is first checked by the feasibility estimate (``simulate`` refuses it when the
    estimate exceeds this machine's memory); the case then runs with ``allow_long=True``.
``ecommerce``
    The shipped ``ecommerce`` scenario with 100x the users of both partners, for its first
    hour (``--ecommerce-horizon``): the token service and both pools overloaded.

Each case runs in a fresh interpreter; this process imports only the standard library, so the
child's peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, read by the child
at its end) is its own. Every line prints that peak, the wall time of the ``simulate`` call, the
attempts simulated and the SimPy events processed.

Usage::

    .venv/bin/python benchmarks/bench_overload.py
    .venv/bin/python benchmarks/bench_overload.py --case server-timeout
    .venv/bin/python benchmarks/bench_overload.py --package /tmp/base   # another tree's package

``--package DIR`` runs the children against the ``openbank_sim`` package found in ``DIR`` (for
example ``git archive <commit> openbank_sim | tar -x -C DIR``), to compare commits on the same
machine: the children then start in a temporary directory with ``PYTHONPATH=DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ("server-timeout", "server-waits", "ecommerce")

# One server, exponential 1 s service, 100 sessions/s (100x its capacity) for 1 h.
SERVER = """\
[run]
horizon = "1h"
warmup = "0s"
time_bin = "10min"

[bank.pools.core]
servers = 1

[bank.products.pay]
pool = "core"
service_time = { dist = "exponential", mean = "1s" }

[journeys.buy]
steps = [{ product = "pay" }]
{patience}
[[partners]]
name = "shop"
users = 1_000_000
sessions_per_user_day = 8.64
journey = "buy"
{client}
"""
TIMEOUT_CLIENT = (
    'client = { timeout = "5s", max_attempts = 3, retry_on = ["timeout", "overloaded"] }'
)

CHILD = r"""
import json, resource, sys, time, tomllib
case, horizon, text = sys.argv[1], sys.argv[2], sys.argv[3]
from openbank_sim import Scenario, load_scenario, simulate
from openbank_sim.spec.feasibility import InfeasibleRunError, check
if case == "ecommerce":
    scenario = load_scenario("ecommerce").with_overrides({
        "run.horizon": horizon, "run.warmup": "0s",
        "partners.0.users": 160_000_000, "partners.1.users": 20_000_000})
else:
    scenario = Scenario(tomllib.loads(text))
try:
    check(scenario.spec)
    refused = ""
except InfeasibleRunError as err:
    refused = str(err)
def peak_mb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1024
before = peak_mb()
t0 = time.perf_counter()
results = simulate(scenario, allow_long=True)
wall = time.perf_counter() - t0
print(json.dumps({
    "peak_mb": peak_mb(), "before_mb": before, "wall_s": wall, "attempts": results.kpis["calls_total"],
    "events": results.manifest["events"], "sim_end_s": results.manifest.get("sim_end_s"),
    "refused": refused,
}))
"""


def _text(case: str) -> str:
    if case == "server-timeout":
        return SERVER.replace("{patience}", 'patience = "10s"\n').replace(
            "{client}", TIMEOUT_CLIENT
        )
    return SERVER.replace("{patience}", "").replace("{client}", "")


def run_case(case: str, package: Path | None, ecommerce_horizon: str) -> dict:
    """Run one case in a fresh interpreter; returns what the child printed."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = str(ROOT)
        if package is not None:
            env["PYTHONPATH"] = str(package)
            cwd = tmp  # so that the working tree's package is not found first
        out = subprocess.run(
            [sys.executable, "-c", CHILD, case, ecommerce_horizon, _text(case)],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            check=False,
        )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    result: dict = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=CASES, help="default: all")
    parser.add_argument("--package", type=Path, help="run against the openbank_sim in DIR")
    parser.add_argument("--ecommerce-horizon", default="1h", help='default "1h"')
    args = parser.parse_args(argv)
    print(
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; package: {args.package or ROOT}"
    )
    for case in args.case or CASES:
        r = run_case(case, args.package, args.ecommerce_horizon)
        if "error" in r:
            print(f"{case:15s} error: {r['error']}")
            continue
        print(
            f"{case:15s} peak RSS {r['peak_mb']:7.0f} MB   wall {r['wall_s']:7.1f} s   "
            f"{r['attempts']:>11,.0f} attempts   {r['events']:>11,} events   "
            f"(before the run: {r['before_mb']:.0f} MB)"
        )
        if r["refused"]:
            print(f"{'':15s} refused without allow_long: {r['refused']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
