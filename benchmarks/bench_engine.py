"""Engine speed against a bare SimPy M/M/c loop in the same process, and peak memory.

Three measurements, each printed with its calls, wall seconds and calls per second:

1. **M/M/c speed**: the engine on one pool of ``c = 8`` servers, exponential 100 ms service,
   ``rho = 0.8``, one flat partner, a one-step journey, no gateway features,
   ``record_calls = "none"`` (``scenarios/mmc_validation.toml`` when it exists and has that
   shape, otherwise the same scenario built as a dict), divided by a bare SimPy loop
   (``simpy.Resource``, ``random.Random`` exponential draws, a source process spawning one
   customer process per arrival) on the same parameters and number of customers.
   Target: ratio >= 2.5.
2. **Gateway speed**: the engine with OAuth2 tokens (``token_ttl = "10m"``, many users, so tokens
   are fetched regularly), a generous partner-scope token bucket and two pools (a two-step
   journey over two products on different pools), divided by the same bare loop.
   Target: ratio >= 2.0.
3. **Memory**: peak resident set size of a subprocess running the M/M/c scenario sized to
   5 million calls with ``record_calls = "none"`` (``RUSAGE_CHILDREN.ru_maxrss``, read by a
   small standard-library launcher so that the peak of this process is not inherited), next to
   the peak of a subprocess that only imports the package. Target: < 300 MB.

Speed ratios take the best of ``--repeats`` runs of each side, engine and baseline alternating
so that machine noise hits both. Engine wall time is the whole :func:`openbank_sim.simulate`
call (scenario to :class:`~openbank_sim.Results`, tables included). Targets that fail are
reported as FAIL; the exit status is 0 unless ``--strict`` is given.

Usage::

    .venv/bin/python benchmarks/bench_engine.py            # full: 1M-call cases, 5M for memory
    .venv/bin/python benchmarks/bench_engine.py --quick    # ~10x smaller smoke run
    .venv/bin/python benchmarks/bench_engine.py --profile  # cProfile of case 2, top 15 by tottime
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import random
import subprocess
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simpy

from openbank_sim import Scenario, load_scenario, simulate
from openbank_sim.spec.distributions import Exponential

ROOT = Path(__file__).resolve().parent.parent
MMC_FILE = ROOT / "scenarios" / "mmc_validation.toml"

SERVERS = 8
SERVICE_MEAN_S = 0.1
RHO = 0.8
ARRIVAL_RATE_PER_S = RHO * SERVERS / SERVICE_MEAN_S  # 64 sessions per second
USERS_MMC = 1_000_000
USERS_GATEWAY = 100_000  # one session per user every ~26 min on average: most need a new token
TOKEN_TTL = "10m"
BUCKET_RATE_PER_S = 200.0  # above the mean attempt rate (128 per second): few rejections
BUCKET_BURST = 400

TARGET_MMC_RATIO = 2.5
TARGET_GATEWAY_RATIO = 2.0
TARGET_PEAK_MB = 300.0

FULL_CALLS = 1_000_000
FULL_MEMORY_CALLS = 5_000_000
QUICK_FACTOR = 10


# --------------------------------------------------------------------------------------------
# The bare SimPy baseline
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MMc:
    """M/M/c parameters: ``servers`` workers, mean service in seconds, arrivals per second."""

    servers: int
    service_mean_s: float
    arrival_rate_per_s: float

    @property
    def rho(self) -> float:
        """Utilisation ``lambda * E[S] / c`` (dimensionless)."""
        return self.arrival_rate_per_s * self.service_mean_s / self.servers

    def erlang_c_wait_s(self) -> float:
        """Mean queue wait ``Wq`` in seconds from the Erlang C formula."""
        c, a = self.servers, self.arrival_rate_per_s * self.service_mean_s
        term, head = 1.0, 1.0  # a**k / k!, and its sum over k < c
        for k in range(1, c):
            term *= a / k
            head += term
        tail = term * a / c / (1.0 - self.rho)  # a**c / c! / (1 - rho)
        p_wait = tail / (head + tail)
        return p_wait * self.service_mean_s / (c * (1.0 - self.rho))


@dataclass(frozen=True, slots=True)
class Timing:
    """One timed run: calls simulated, wall and CPU seconds, mean backend queue wait (s)."""

    calls: int
    wall_s: float
    cpu_s: float
    wait_mean_s: float
    note: str = ""

    @property
    def calls_per_s(self) -> float:
        """Calls per wall-clock second."""
        return self.calls / self.wall_s

    @property
    def calls_per_cpu_s(self) -> float:
        """Calls per CPU second of this process (less sensitive to other load)."""
        return self.calls / self.cpu_s


def bare_simpy_mmc(n_customers: int, mmc: MMc, seed: int) -> Timing:
    """The textbook SimPy M/M/c loop: ``n_customers`` Poisson arrivals, FCFS ``Resource``."""
    rng = random.Random(seed)
    expo = rng.expovariate
    service_rate = 1.0 / mmc.service_mean_s
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=mmc.servers)
    total_wait_s = 0.0

    def customer() -> Generator[simpy.Event, Any, None]:
        nonlocal total_wait_s
        arrived = env.now
        with servers.request() as req:
            yield req
            total_wait_s += env.now - arrived
            yield env.timeout(expo(service_rate))

    def source() -> Generator[simpy.Event, Any, None]:
        for _ in range(n_customers):
            yield env.timeout(expo(mmc.arrival_rate_per_s))
            env.process(customer())

    t0, c0 = time.perf_counter(), time.process_time()
    env.process(source())
    env.run()
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return Timing(n_customers, wall_s, cpu_s, total_wait_s / n_customers)


# --------------------------------------------------------------------------------------------
# The engine's scenarios
# --------------------------------------------------------------------------------------------

_DEFAULT_MMC = MMc(SERVERS, SERVICE_MEAN_S, ARRIVAL_RATE_PER_S)


def _seconds(value_s: float) -> str:
    """A duration string in whole seconds (at least 1 s)."""
    return f"{max(1, math.ceil(value_s))}s"


def _spd(users: int, rate_per_s: float) -> float:
    """``sessions_per_user_day`` giving ``rate_per_s`` sessions per second over ``users``."""
    return rate_per_s * 86400.0 / users


def _mmc_dict(horizon_s: float) -> dict[str, Any]:
    """The M/M/c scenario as a TOML file would give it."""
    return {
        "name": "bench_mmc",
        "run": {"horizon": _seconds(horizon_s), "warmup": "0s", "record_calls": "none"},
        "bank": {
            "pools": {"core": {"servers": SERVERS}},
            "products": {
                "pay": {
                    "pool": "core",
                    "service_time": {"dist": "exponential", "mean": f"{SERVICE_MEAN_S * 1e3:g}ms"},
                }
            },
        },
        "journeys": {"buy": {"steps": [{"product": "pay"}]}},
        "partners": [
            {
                "name": "shop",
                "users": USERS_MMC,
                "sessions_per_user_day": _spd(USERS_MMC, ARRIVAL_RATE_PER_S),
                "journey": "buy",
            }
        ],
    }


def _mmc_of(scenario: Scenario) -> MMc | None:
    """The M/M/c parameters of ``scenario``, or None when it is not a plain M/M/c case."""
    spec = scenario.spec
    if len(spec.bank.pools) != 1 or len(spec.bank.products) != 1 or len(spec.partners) != 1:
        return None
    (pool,) = spec.bank.pools.values()
    (product,) = spec.bank.products.values()
    (partner,) = spec.partners
    journey = spec.journeys[partner.journey]
    gateway = spec.gateway
    plain = (
        isinstance(product.service_time, Exponential)
        and pool.queue_limit is None
        and product.error_rate == 0.0
        and partner.profile == "flat"
        and partner.live_from_s == 0.0
        and len(journey.steps) == 1
        and journey.steps[0].probability == 1.0
        and journey.steps[0].think_time is None
        and gateway.auth is None
        and not gateway.limits
        and gateway.overhead is None
        and spec.bank.direct_overhead is None
    )
    if not plain:
        return None
    rate = partner.users * partner.sessions_per_user_day / 86400.0
    return MMc(pool.servers, product.service_time.mean, rate)


def mmc_scenario(n_calls: int) -> tuple[Scenario, MMc, str]:
    """Case 1 sized to about ``n_calls`` calls: ``(scenario, parameters, where it came from)``.

    Uses the shipped ``mmc_validation`` scenario when it exists and is a plain M/M/c case
    (horizon overridden, warm-up set to 0 s so every simulated call is counted), otherwise
    the built-in dict.
    """
    if MMC_FILE.exists():
        shipped = load_scenario("mmc_validation")
        mmc = _mmc_of(shipped)
        if mmc is not None:
            scenario = shipped.with_overrides(
                {
                    "run.horizon": _seconds(n_calls / mmc.arrival_rate_per_s),
                    "run.warmup": "0s",
                    "run.record_calls": "none",
                }
            )
            return scenario, mmc, "scenarios/mmc_validation.toml, horizon overridden"
        note = "scenarios/mmc_validation.toml is not a plain M/M/c case: built-in dict"
    else:
        note = "built-in dict (no scenarios/mmc_validation.toml)"
    horizon_s = n_calls / ARRIVAL_RATE_PER_S
    return Scenario(_mmc_dict(horizon_s)), _DEFAULT_MMC, note


def gateway_scenario(n_calls: int) -> Scenario:
    """Case 2 sized to about ``n_calls`` calls (two per session).

    Auth with a 10 min token TTL over 100,000 users, a partner-scope token bucket of 200 per
    second (burst 400) against 128 attempts per second, and a two-step journey over two
    products on two pools, each an M/M/8 at ``rho = 0.8``.
    """
    service = {"dist": "exponential", "mean": f"{SERVICE_MEAN_S * 1e3:g}ms"}
    raw = {
        "name": "bench_gateway",
        "run": {
            "horizon": _seconds(n_calls / 2 / ARRIVAL_RATE_PER_S),
            "warmup": "0s",
            "record_calls": "none",
        },
        "bank": {
            "pools": {"core": {"servers": SERVERS}, "risk": {"servers": SERVERS}},
            "products": {
                "check": {"kind": "account_info", "pool": "risk", "service_time": service},
                "pay": {"kind": "payment", "pool": "core", "service_time": service},
            },
        },
        "gateway": {
            "auth": {
                "token_ttl": TOKEN_TTL,
                "servers": 4,
                "service_time": {"dist": "exponential", "mean": "20ms"},
            },
            "limits": [
                {
                    "name": "per-partner",
                    "scope": "partner",
                    "algorithm": "token_bucket",
                    "rate": BUCKET_RATE_PER_S,
                    "burst": BUCKET_BURST,
                }
            ],
        },
        "journeys": {"checkout": {"steps": [{"product": "check"}, {"product": "pay"}]}},
        "partners": [
            {
                "name": "shop",
                "users": USERS_GATEWAY,
                "sessions_per_user_day": _spd(USERS_GATEWAY, ARRIVAL_RATE_PER_S),
                "journey": "checkout",
            }
        ],
    }
    return Scenario(raw)


def run_engine(scenario: Scenario, seed: int) -> Timing:
    """Time one :func:`openbank_sim.simulate` call (scenario to Results)."""
    t0, c0 = time.perf_counter(), time.process_time()
    results = simulate(scenario, seed=seed)
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    k = results.kpis
    note = f"engine loop {results.manifest['wall_time_s']:.2f} s"
    if k["token_requests"] > 0 or k["calls_rate_limited"] > 0:
        note += (
            f", {int(k['token_requests']):,} token requests,"
            f" {int(k['calls_rate_limited']):,} rate-limited"
        )
    return Timing(int(k["calls_total"]), wall_s, cpu_s, k["backend_wait_mean_s"], note)


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeedResult:
    """Best engine and best baseline run of one speed comparison."""

    label: str
    engine: Timing
    bare: Timing
    engine_cpu: Timing
    bare_cpu: Timing
    target: float

    @property
    def ratio(self) -> float:
        """Engine calls per second over bare SimPy calls per second."""
        return self.engine.calls_per_s / self.bare.calls_per_s

    @property
    def passed(self) -> bool:
        """Whether the ratio meets the target."""
        return self.ratio >= self.target

    @property
    def cpu_ratio(self) -> float:
        """The same ratio by CPU time, each side's best run by that measure."""
        return self.engine_cpu.calls_per_cpu_s / self.bare_cpu.calls_per_cpu_s


@dataclass(frozen=True, slots=True)
class MemoryResult:
    """Peak RSS (MB) of the engine subprocess and of an import-only subprocess."""

    calls: int
    wall_s: float
    peak_mb: float
    imports_mb: float
    target_mb: float

    @property
    def passed(self) -> bool:
        """Whether the engine's peak stays under the target."""
        return self.peak_mb < self.target_mb


def _line(who: str, i: int, t: Timing) -> str:
    extra = f"  ({t.note})" if t.note else ""
    return (
        f"  {who:<6} run {i}: {t.calls:>10,} calls {t.wall_s:7.2f} s {t.calls_per_s:>8,.0f} calls/s"
        f" (cpu {t.cpu_s:6.2f} s)  Wq {t.wait_mean_s * 1e3:6.2f} ms{extra}"
    )


def compare_speed(
    label: str, scenario: Scenario, mmc: MMc, repeats: int, seed: int, target: float
) -> SpeedResult:
    """Best of ``repeats`` for engine and baseline, alternating; the baseline gets as many
    customers as the engine simulated calls."""
    engines: list[Timing] = []
    bares: list[Timing] = []
    for i in range(1, repeats + 1):
        gc.collect()
        engines.append(run_engine(scenario, seed))
        print(_line("engine", i, engines[-1]), flush=True)
        gc.collect()
        bares.append(bare_simpy_mmc(engines[0].calls, mmc, seed))
        print(_line("bare", i, bares[-1]), flush=True)

    def by_wall(t: Timing) -> float:
        return t.calls_per_s

    def by_cpu(t: Timing) -> float:
        return t.calls_per_cpu_s

    return SpeedResult(
        label,
        max(engines, key=by_wall),
        max(bares, key=by_wall),
        max(engines, key=by_cpu),
        max(bares, key=by_cpu),
        target,
    )


# Linux counts the parent's resident pages in a child's peak RSS (the memory it was forked
# from), so a child spawned by this process after the speed runs would inherit their peak. A
# small launcher that imports only the standard library spawns the measured children instead and
# reads RUSAGE_CHILDREN after each: the largest peak among its finished children.
_LAUNCHER = """\
import json, resource, subprocess, sys

script, calls, seed = sys.argv[1:4]


def run(args):
    done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return rss, json.loads(done.stdout.strip().splitlines()[-1])


imports_rss, _ = run(["--child", "imports"])
engine_rss, engine = run(["--child", "engine", "--calls", calls, "--seed", seed])
print(json.dumps({"imports_rss": imports_rss, "engine_rss": engine_rss, **engine}))
"""


def _rss_mb(ru_maxrss: int) -> float:
    """``ru_maxrss`` in MB (bytes on macOS, KB elsewhere)."""
    return ru_maxrss / 2**20 if sys.platform == "darwin" else ru_maxrss / 1024


def measure_memory(n_calls: int, seed: int) -> MemoryResult:
    """Peak RSS of a subprocess running case 1 sized to ``n_calls`` calls, and of one that only
    imports the package (the import-only child runs first: RUSAGE_CHILDREN keeps the largest
    peak, read after each child)."""
    script = str(Path(__file__).resolve())
    cmd = [sys.executable, "-c", _LAUNCHER, script, str(n_calls), str(seed)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"memory measurement failed:\n{done.stderr}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return MemoryResult(
        out["calls"],
        out["wall_s"],
        _rss_mb(out["engine_rss"]),
        _rss_mb(out["imports_rss"]),
        TARGET_PEAK_MB,
    )


def child_main(kind: str, n_calls: int, seed: int) -> None:
    """Inside a memory child: import only, or run case 1; print one JSON line."""
    if kind == "imports":
        print(json.dumps({"calls": 0, "wall_s": 0.0}))
        return
    scenario, _, _ = mmc_scenario(n_calls)
    t = run_engine(scenario, seed)
    print(json.dumps({"calls": t.calls, "wall_s": t.wall_s}))


def profile_case2(n_calls: int, seed: int, top: int = 15) -> str:
    """cProfile of the engine on case 2; the ``top`` functions by own time, as text."""
    scenario = gateway_scenario(n_calls)
    prof = cProfile.Profile()
    prof.enable()
    simulate(scenario, seed=seed)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _speed_row(r: SpeedResult, what: str) -> str:
    return (
        f"| {what} | >= {r.target:g} x bare | {r.engine.calls_per_s:,.0f} | "
        f"{r.bare.calls_per_s:,.0f} | {r.ratio:.2f} x | {_verdict(r.passed)} |"
    )


def summary_table(r1: SpeedResult, r2: SpeedResult, mem: MemoryResult, mmc: MMc) -> str:
    """A Markdown table for the README's performance section."""
    rows = [
        "| measurement | target | engine | bare SimPy | result | verdict |",
        "|---|---|---|---|---|---|",
        _speed_row(
            r1,
            f"calls/s, M/M/{mmc.servers} rho = {mmc.rho:.2f}, {r1.engine.calls / 1e6:.2g}M calls",
        ),
        _speed_row(
            r2,
            f"calls/s, auth + token bucket + 2 pools, {r2.engine.calls / 1e6:.2g}M calls",
        ),
        f'| peak RSS, {mem.calls / 1e6:.2g}M calls, record_calls = "none" | '
        f"< {mem.target_mb:g} MB | {mem.peak_mb:.0f} MB | - |"
        f" {mem.peak_mb:.0f} MB (imports only: {mem.imports_mb:.0f} MB) | {_verdict(mem.passed)} |",
    ]
    return "\n".join(rows)


def _machine() -> str:
    return (
        f"Python {platform.python_version()}, SimPy {simpy.__version__}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="~10x smaller sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=None, help="runs per side (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="only profile case 2")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--child", choices=("imports", "engine"), help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child_main(args.child, args.calls, args.seed)
        return 0
    shrink = QUICK_FACTOR if args.quick else 1
    n_calls = FULL_CALLS // shrink
    n_memory = FULL_MEMORY_CALLS // shrink
    repeats = args.repeats or (1 if args.quick else 3)
    if args.profile:
        print(f"cProfile of the engine on case 2 ({n_calls:,} calls), top 15 by tottime")
        print(profile_case2(n_calls, args.seed))
        return 0

    print(f"openbank_sim engine benchmark: {_machine()}")
    print(
        f"best of {repeats} by wall time, engine and bare SimPy alternating;"
        " Wq = mean backend queue wait"
    )

    scenario1, mmc, source = mmc_scenario(n_calls)
    print(
        f"\n[1] M/M/c: c = {mmc.servers}, exponential {mmc.service_mean_s * 1e3:g} ms service,"
        f" {mmc.arrival_rate_per_s:g} arrivals/s, rho = {mmc.rho:.2f}"
        f" (Erlang C Wq {mmc.erlang_c_wait_s() * 1e3:.2f} ms); {source}"
    )
    r1 = compare_speed("mmc", scenario1, mmc, repeats, args.seed, TARGET_MMC_RATIO)

    scenario2 = gateway_scenario(n_calls)
    print(
        f"\n[2] gateway: auth (token_ttl {TOKEN_TTL}, {USERS_GATEWAY:,} users), token bucket"
        f" {BUCKET_RATE_PER_S:g}/s burst {BUCKET_BURST} (partner scope), two-step journey over"
        f" two M/M/{SERVERS} pools; baseline: the M/M/c loop of [1]"
    )
    r2 = compare_speed("gateway", scenario2, _DEFAULT_MMC, repeats, args.seed, TARGET_GATEWAY_RATIO)

    print(f"\n[3] memory: case 1 sized to {n_memory:,} calls in a subprocess")
    mem = measure_memory(n_memory, args.seed)
    print(
        f"  engine child: {mem.calls:,} calls {mem.wall_s:.2f} s "
        f"{mem.calls / mem.wall_s:,.0f} calls/s, peak RSS {mem.peak_mb:.1f} MB"
    )
    print(f"  import-only child (python + import openbank_sim): peak RSS {mem.imports_mb:.1f} MB")

    print("\nResults")
    for i, r in enumerate((r1, r2), start=1):
        print(
            f"[{i}] {r.label} speed ratio: engine {r.engine.calls_per_s:,.0f} calls/s"
            f" / bare SimPy {r.bare.calls_per_s:,.0f} calls/s = {r.ratio:.3f}"
            f" (target >= {r.target:g}) {_verdict(r.passed)}"
        )
        print(
            f"    by CPU time: engine {r.engine_cpu.calls_per_cpu_s:,.0f}"
            f" / bare {r.bare_cpu.calls_per_cpu_s:,.0f} calls per CPU second = {r.cpu_ratio:.3f}"
        )
    print(
        f"[3] memory peak RSS: {mem.peak_mb:.1f} MB for {mem.calls:,} calls"
        f" (imports only {mem.imports_mb:.1f} MB; target < {mem.target_mb:g} MB)"
        f" {_verdict(mem.passed)}"
    )
    print(f"\nSummary ({_machine()})\n")
    print(summary_table(r1, r2, mem, mmc))
    all_passed = r1.passed and r2.passed and mem.passed
    return 1 if args.strict and not all_passed else 0


if __name__ == "__main__":
    sys.exit(main())
