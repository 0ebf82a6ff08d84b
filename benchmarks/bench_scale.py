"""Scale: calls per second and peak memory from 10^5 to 10^7 calls, and one bank day.

1. **The same scenario at growing sizes**: case 2 of ``bench_engine.py`` (OAuth2 tokens over
   100,000 users, a partner-scope token bucket, a two-step journey over two M/M/8 pools at
   ``rho = 0.8``, ``record_calls = "none"``), its horizon scaled to about 10^5, 10^6 and 10^7
   calls. Each size runs in a fresh subprocess (started by a launcher that imports only the
   standard library, so that no child inherits another's pages); printed: calls, wall seconds
   of the whole :func:`~openbank_sim.simulate` call, calls per second, SimPy events per call
   and the child's peak RSS. Linear time shows as a flat calls/s column, flat memory as a flat
   RSS column.
2. **A bank day**: the shipped ``uk_open_banking`` case (aggregators' unattended refreshes
   under the PSD2 cap of 4 per customer a day, auth, gateway overhead, outages, SLOs) with
   every partner's ``users`` and every pool's ``servers`` multiplied by ``--bank-scale``
   (default 100: 6.6 million users), over one day of full traffic from midnight: its calls,
   wall time and peak RSS.

Usage::

    .venv/bin/python benchmarks/bench_scale.py            # 10^5, 10^6, 10^7 calls; bank day x100
    .venv/bin/python benchmarks/bench_scale.py --quick    # 10^5 and 10^6; bank day x10
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FULL_SIZES = (100_000, 1_000_000, 10_000_000)
QUICK_SIZES = (100_000, 1_000_000)

_LAUNCHER = """\
import resource, subprocess, sys

done = subprocess.run([sys.executable, *sys.argv[1:]], capture_output=True, text=True)
if done.returncode != 0:
    sys.exit(done.stderr)
print(done.stdout.strip().splitlines()[-1])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _rss_mb(ru_maxrss: int) -> float:
    """``ru_maxrss`` in MB (bytes on macOS, KB elsewhere)."""
    return ru_maxrss / 2**20 if sys.platform == "darwin" else ru_maxrss / 1024


def in_child(*args: str) -> tuple[dict[str, Any], float]:
    """Run this script with ``--child *args`` under the launcher: (its JSON line, peak RSS MB)."""
    cmd = [sys.executable, "-c", _LAUNCHER, str(Path(__file__).resolve()), "--child", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{done.stderr}")
    out, rss = done.stdout.strip().splitlines()[-2:]
    return json.loads(out), _rss_mb(int(rss))


def bank_day(scale: float) -> Any:
    """``uk_open_banking`` with users and servers times ``scale``, one day from midnight."""
    from openbank_sim import load_scenario

    base = load_scenario("uk_open_banking")
    raw = base.as_dict()
    overrides: dict[str, Any] = {
        "run.horizon": "1d",
        "run.warmup": "0s",
        "run.record_calls": "none",
    }
    for i, p in enumerate(raw["partners"]):
        overrides[f"partners.{i}.users"] = round(p["users"] * scale)
    for name, pool in raw["bank"]["pools"].items():
        overrides[f"bank.pools.{name}.servers"] = max(1, round(pool["servers"] * scale))
    overrides["gateway.auth.servers"] = max(1, round(raw["gateway"]["auth"]["servers"] * scale))
    return base.with_overrides(overrides)


def child(kind: str, size: float) -> None:
    """Inside a child: run one case and print one JSON line."""
    from openbank_sim import simulate

    if kind == "size":
        sys.path.insert(0, str(HERE))
        from bench_engine import gateway_scenario

        scenario = gateway_scenario(int(size))
    else:
        scenario = bank_day(size)
    users = sum(p.users for p in scenario.spec.partners)
    t0 = time.perf_counter()
    res = simulate(scenario, seed=1)
    wall = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "calls": res.kpis["calls_total"],
                "wall_s": wall,
                "events": res.manifest["events"],
                "users": users,
                "success_rate": res.kpis["success_rate"],
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Print the size table and the bank day."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^5 and 10^6 calls; bank day x10")
    parser.add_argument("--bank-scale", type=float, default=None, help="users and servers x")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], float(args.child[1]))
        return 0
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    scale = args.bank_scale if args.bank_scale is not None else (10.0 if args.quick else 100.0)
    print(
        f"openbank_sim scale benchmark: Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )
    print("\n[1] case 2 (auth + token bucket + two pools, two-step journey), record_calls none")
    print("| calls | wall s | calls/s | events/call | peak RSS |")
    print("|---:|---:|---:|---:|---:|")
    for n in sizes:
        out, rss = in_child("size", str(n))
        print(
            f"| {out['calls']:,.0f} | {out['wall_s']:.1f} | {out['calls'] / out['wall_s']:,.0f} "
            f"| {out['events'] / out['calls']:.2f} | {rss:,.0f} MB |"
        )
    out, rss = in_child("bank", str(scale))
    print(
        f"\n[2] a bank day: uk_open_banking x{scale:g} ({out['users']:,} users), one day of full "
        f"traffic: {out['calls']:,.0f} calls in {out['wall_s']:.1f} s "
        f"({out['calls'] / out['wall_s']:,.0f} calls/s, {out['events'] / out['calls']:.2f} "
        f"events/call), success rate {out['success_rate']:.4f}, peak RSS {rss:,.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
