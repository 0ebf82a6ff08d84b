"""The feasibility estimate against measured runs of the shipped scenarios.

For each scenario: the estimate of :func:`openbank_sim.spec.feasibility.estimate` (attempts,
run time, memory) next to one run in a fresh subprocess (attempts simulated, wall-clock seconds
of ``simulate``, peak resident set size), printed as a Markdown table.

Usage::

    .venv/bin/python benchmarks/bench_feasibility.py                    # three scenarios
    .venv/bin/python benchmarks/bench_feasibility.py ecommerce medical  # those named
    .venv/bin/python benchmarks/bench_feasibility.py --all              # every shipped one
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from openbank_sim import load_scenario
from openbank_sim.spec.feasibility import estimate
from openbank_sim.spec.scenario import shipped_scenarios

DEFAULT = ("ecommerce", "medical", "uk_open_banking")

_CHILD = """
import json, resource, sys, time
from openbank_sim import load_scenario, simulate
s = load_scenario(sys.argv[1])
t0 = time.perf_counter()
r = simulate(s)
wall = time.perf_counter() - t0
kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall_s": wall, "rss_bytes": kb * 1024,
                  "attempts": r.manifest.get("attempts_simulated", r.kpis["calls_total"])}))
"""


def measure(name: str) -> dict[str, float]:
    """One run of ``name`` in a fresh interpreter: wall seconds, peak RSS, attempts."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, name], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="shipped scenarios (default: three)")
    parser.add_argument("--all", action="store_true", help="every shipped scenario")
    args = parser.parse_args(argv)
    names = list(shipped_scenarios()) if args.all else (args.names or list(DEFAULT))
    print(
        "| scenario | attempts: estimated / simulated | run time: estimated / measured "
        "| memory: estimated / peak RSS |"
    )
    print("|---|---|---|---|")
    for name in names:
        s = load_scenario(name)
        est = estimate(s.spec, s.as_dict())
        got = measure(name)
        print(
            f"| {name} | {est.attempts:,.0f} / {got['attempts']:,.0f} "
            f"({est.attempts / got['attempts']:.2f}x) "
            f"| {est.run_time_s:.1f} s / {got['wall_s']:.1f} s "
            f"({est.run_time_s / got['wall_s']:.2f}x) "
            f"| {est.memory_bytes / 1e6:.0f} MB / {got['rss_bytes'] / 1e6:.0f} MB |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
