"""The ``openbank-sim`` command line: run | validate | list.

Exit codes: 0 success, 2 bad input (a scenario error, printed on one or two lines without a
traceback; nothing is written to ``--out``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import ScenarioError
from .scenario import Scenario, load_scenario, parse_override_value, shipped_scenarios

__all__ = ["main"]

_KPI_GROUPS = (
    (
        "calls",
        (
            "calls_total",
            "calls_ok",
            "calls_rate_limited",
            "calls_overloaded",
            "calls_timeout",
            "calls_error",
            "calls_auth_failed",
            "token_requests",
            "success_rate",
            "throughput_ok_per_s",
            "latency_mean_s",
            "latency_p50_s",
            "latency_p95_s",
            "latency_p99_s",
            "client_latency_p95_s",
            "backend_wait_mean_s",
            "availability",
        ),
    ),
    (
        "journeys",
        ("journeys_started", "journeys_completed", "journeys_abandoned", "conversion_rate"),
    ),
    (
        "money",
        (
            "revenue_total",
            "cost_total",
            "profit_total",
            "npv",
            "payback_month",
            "partner_cost_total",
        ),
    ),
    (
        "onboarding",
        (
            "partners_live_end",
            "partners_in_pipeline_end",
            "time_to_market_mean_days",
            "time_to_market_p90_days",
            "onboarding_cost_total",
            "cost_per_partner",
        ),
    ),
)


class _UsageError(Exception):
    pass


def _parse_sets(items: Sequence[str] | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(
                "expected KEY=VALUE, e.g. bank.pools.core.servers=64", path="--set", value=item
            )
        out[key.strip()] = parse_override_value(value.strip())
    return out


def _load(target: str, sets: Sequence[str] | None) -> Scenario:
    scenario = load_scenario(target)
    overrides = _parse_sets(sets)
    return scenario.with_overrides(overrides) if overrides else scenario


def _fmt(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    return f"{value:.4g}"


def format_kpis(kpis: dict[str, float], currency: str = "") -> str:
    """The KPI dict as an aligned text table, grouped."""
    width = max(len(k) for k in kpis)
    lines = []
    for title, names in _KPI_GROUPS:
        lines.append(f"[{title}]")
        for name in names:
            if name in kpis:
                unit = (
                    f" {currency}"
                    if title == "money" and name != "payback_month" and not math.isnan(kpis[name])
                    else ""
                )
                lines.append(f"  {name:<{width}}  {_fmt(kpis[name])}{unit}")
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    from .plots import latency_throughput
    from .simulation import simulate

    scenario = _load(args.scenario, args.set)
    say = (lambda *a: None) if args.quiet or args.json else (lambda *a: print(*a, file=sys.stderr))
    if args.seed is not None and args.seed < 0:
        raise ScenarioError("must be a non-negative integer", path="--seed", value=args.seed)
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ScenarioError(
            "exists and is not a directory; results need a directory", path="--out", value=args.out
        )
    seed = args.seed if args.seed is not None else scenario.spec.run.seed
    say(
        f"running {scenario.name} (seed {seed}, horizon "
        f"{scenario.spec.run.horizon_s / 86400:g} d) ..."
    )
    t0 = time.perf_counter()
    results = simulate(scenario, seed=seed)
    wall = time.perf_counter() - t0
    if args.json:
        print(results.kpis_json())
    else:
        print(format_kpis(results.kpis, scenario.spec.currency))
        say(f"{int(results.kpis['calls_total']):,} calls in {wall:.2f} s wall time")
    if args.out:
        out = results.save(args.out)
        fig = latency_throughput(results)
        fig.savefig(out / "latency_throughput.png", dpi=110)
        say(f"results written to {out}/")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    scenario = _load(args.scenario, args.set)
    spec = scenario.spec
    print(
        f"{scenario.source}: ok — {scenario.name}: {len(spec.partners)} partner(s), "
        f"{len(spec.bank.products)} product(s), {len(spec.bank.pools)} pool(s), "
        f"horizon {spec.run.horizon_s / 86400:g} d"
    )
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    shipped = shipped_scenarios()
    width = max((len(n) for n in shipped), default=0)
    for name, path in shipped.items():
        try:
            description = load_scenario(path).description
        except ScenarioError as err:
            description = f"(invalid: {err})"
        print(f"{name:<{width}}  {description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="openbank-sim",
        description="Simulate open banking API cooperation: gateways, rate limits, capacity, "
        "revenue.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one scenario and print its KPIs")
    run.add_argument("scenario", metavar="FILE|NAME", help="a TOML file or a shipped name")
    run.add_argument("--seed", type=int, help="run seed (default: the scenario's run.seed)")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a value by dotted path, e.g. bank.pools.core.servers=64",
    )
    run.add_argument(
        "--out", metavar="DIR", help="write tables, summary.csv, manifest.json and a figure here"
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print only the KPI dict as JSON on stdout (NaN as null)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress messages")
    run.set_defaults(func=_cmd_run)

    val = sub.add_parser("validate", help="check a scenario file without running it")
    val.add_argument("scenario", metavar="FILE|NAME")
    val.add_argument("--set", action="append", metavar="KEY=VALUE")
    val.set_defaults(func=_cmd_validate)

    lst = sub.add_parser("list", help="list the shipped scenarios")
    lst.set_defaults(func=_cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``openbank-sim``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ScenarioError as err:
        print(f"openbank-sim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("openbank-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
