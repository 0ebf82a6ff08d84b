"""The ``openbank-sim`` command line: run | sweep | compare | report | validate | list.

Exit codes: 0 success, 2 bad input (a scenario error, printed on one or two lines without a
traceback; nothing is written to ``--out``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .analysis.kpis import KPI_GROUPS
from .errors import ScenarioError
from .spec.bounds import DESIGN_POINTS, REPLICATIONS, SEED, Bound
from .spec.ranges import DESIGN_NAMES, ParameterRange
from .spec.scenario import Scenario, load_scenario, parse_override_value, shipped_scenarios

__all__ = ["main"]


def _parse_sets(items: Sequence[str] | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items or ():
        if "\n" in item or "\r" in item:
            raise ScenarioError(
                "a line break cannot be part of KEY=VALUE", path="--set", value=item
            )
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(
                "expected KEY=VALUE, e.g. bank.pools.core.servers=64", path="--set", value=item
            )
        try:
            out[key.strip()] = parse_override_value(value.strip())
        except ScenarioError as err:
            raise err.within(f"--set {key.strip()}") from None
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
    for title, names in KPI_GROUPS:
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


def format_breaches(breaches, worst: int = 5) -> str:
    """The worst SLO breaches (largest miss relative to the target) as text."""
    b = breaches.copy()
    miss = b["value"] / b["target"]
    b["miss"] = miss.where(b["metric"] != "availability", (1 - b["value"]) / (1 - b["target"]))
    b = b.sort_values("miss", ascending=False).head(worst)
    lines = [f"[slo] {len(breaches)} breach(es); worst:"]
    for r in b.itertuples():
        lines.append(
            f"  {r.partner:<12} {r.time:%Y-%m-%d %H:%M}  {r.metric:<15} "
            f"{r.value:.4g} (target {r.target:.4g})"
        )
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    from .plots import latency_throughput
    from .simulation import simulate

    _check_run_options(args)
    scenario = _load(args.scenario, args.set)
    say = (lambda *a: None) if args.quiet or args.json else (lambda *a: print(*a, file=sys.stderr))
    estimate = _feasible(scenario, args.allow_long)
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ScenarioError(
            "exists and is not a directory; results need a directory", path="--out", value=args.out
        )
    seed = args.seed if args.seed is not None else scenario.spec.run.seed
    say(
        f"running {scenario.name} (seed {seed}, horizon "
        f"{scenario.spec.run.horizon_s / 86400:g} d; estimated {estimate.describe()}) ..."
    )
    t0 = time.perf_counter()
    results = simulate(scenario, seed=seed, allow_long=True)  # estimated above
    wall = time.perf_counter() - t0
    if args.json:
        print(results.kpis_json())
    else:
        print(format_kpis(results.kpis, scenario.spec.currency))
        breaches = results.tables.get("slo_breaches")
        if breaches is not None and len(breaches):
            print(format_breaches(breaches))
        say(f"{int(results.kpis['calls_total']):,} calls in {wall:.2f} s wall time")
    if not args.quiet:
        for warning in results.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    if args.out:
        out = results.save(args.out)
        fig = latency_throughput(results)
        fig.savefig(out / "latency_throughput.png", dpi=110)
        say(f"results written to {out}/")
    return 0


def _feasible(scenario: Scenario, allow_long: bool):
    """The feasibility estimate of one run of ``scenario``, refused (InfeasibleRunError)
    beyond its limits unless ``allow_long``."""
    from .spec.feasibility import Limits, check

    limits = Limits(attempts=math.inf, run_time_s=math.inf, memory_bytes=math.inf)
    raw = scenario.as_dict()
    source = scenario.source or "<scenario>"
    return check(scenario.spec, limits if allow_long else None, file=source, raw=raw)


def _cmd_validate(args: argparse.Namespace) -> int:
    scenario = _load(args.scenario, args.set)
    spec = scenario.spec
    estimate = _feasible(scenario, args.allow_long)
    print(
        f"{scenario.source}: ok — {scenario.name}: {len(spec.partners)} partner(s), "
        f"{len(spec.bank.products)} product(s), {len(spec.bank.pools)} pool(s), "
        f"horizon {spec.run.horizon_s / 86400:g} d"
    )
    print(f"  one run: {estimate.describe()}")
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


def _parse_vary(items: Sequence[str]) -> tuple[dict[str, object], bool]:
    """``KEY=V1,V2,...`` (a grid) or ``KEY=LO:HI`` (a range); returns (vary, is_range)."""
    vary: dict[str, object] = {}
    kinds = set()
    for item in items:
        key, sep, spec = item.partition("=")
        key, spec = key.strip(), spec.strip()
        if not sep or not key or not spec:
            raise ScenarioError("expected KEY=V1,V2,... or KEY=LO:HI", path="--vary", value=item)
        if ":" in spec and "," not in spec and not spec.startswith(("{", "[", '"')):
            vary[key] = ParameterRange.from_text(key, spec).as_spec()
            kinds.add("range")
        else:
            try:
                values = [parse_override_value(v.strip()) for v in spec.split(",") if v.strip()]
            except ScenarioError as err:
                raise err.within(f"--vary {key}") from None
            if not values:
                raise ScenarioError("no values", path=f"--vary {key}", value=spec)
            vary[key] = values
            kinds.add("list")
    if len(kinds) > 1:
        raise ScenarioError(
            "mix of lists and ranges: a grid takes lists, sampling designs take ranges",
            path="--vary",
        )
    return vary, kinds == {"range"}


MAX_WORKERS = 1024
"""Most worker processes an executor is asked for."""
_COUNT_BOUNDS = {
    "n": DESIGN_POINTS,
    "replications": REPLICATIONS,
    "workers": Bound(MAX_WORKERS, "each worker is a process of its own with the engine loaded"),
}
_ADDRESS = re.compile(
    r"(?:(?:tcp|tls|ucx|ws|wss)://)?"  # the protocol, tcp by default
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"  # a host or [IPv6]
    r":([0-9]{1,5})/?"  # the port
)
_EXTRAS = {"dask": "distributed", "analysis": "SALib", "parquet": "pyarrow"}


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None


def _require_extra(extra: str, option: str, value: object) -> None:
    if not _installed(_EXTRAS[extra]):
        raise ScenarioError(
            f"needs the {extra!r} extra, which is not installed: "
            f"pip install 'openbank_sim[{extra}]'",
            path=option,
            value=value,
        )


def _check_out(path: str | None, what: str) -> None:
    """``--out`` names a directory, or a place where one can be made (no file in the way)."""
    if path is None:
        return
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ScenarioError(f"exists and is not a directory; {what}", path="--out", value=path)
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ScenarioError(
                    f"{parent} is a file, so no directory can be made inside it",
                    path="--out",
                    value=path,
                )
            break


def _check_run_options(args: argparse.Namespace, *counts: str) -> None:
    """Every option as the file's numbers are checked: the counts (``counts`` and
    ``--workers``) from 1 to their stated maximum, ``--seed`` from 0 to 2^63 - 1, ``--out`` a
    directory, ``--scheduler`` a scheduler address given with ``--executor dask``, and the
    extras the options need installed."""
    for name in (*counts, "workers"):
        value = getattr(args, name, None)
        if value is None:
            continue
        if value < 1:
            raise ScenarioError("must be >= 1", path=f"--{name}", value=value)
        bound = _COUNT_BOUNDS[name]
        if value > bound.maximum:
            raise ScenarioError(bound.refusal(), path=f"--{name}", value=value)
    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed <= SEED.maximum:
        raise ScenarioError(
            f"must be an integer from 0 to {SEED.text()}", path="--seed", value=seed
        )
    executor = getattr(args, "executor", None)
    scheduler = getattr(args, "scheduler", None)
    if scheduler is not None:
        if executor != "dask":
            raise ScenarioError(
                f"applies only with --executor dask (the executor here is {executor})",
                path="--scheduler",
                value=scheduler,
            )
        m = _ADDRESS.fullmatch(scheduler.strip())
        if m is None or not 1 <= int(m.group(2)) <= 65535:
            raise ScenarioError(
                "must be a Dask scheduler address HOST:PORT or tcp://HOST:PORT, e.g. "
                "tcp://10.0.0.5:8786",
                path="--scheduler",
                value=scheduler,
            )
    if executor == "dask":
        _require_extra("dask", "--executor", executor)
    design = getattr(args, "design", None)
    if design in ("saltelli", "morris"):
        _require_extra("analysis", "--design", design)
    _check_out(getattr(args, "out", None), "results need a directory")


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .experiments import StoreError, sweep
    from .experiments.executors import ExecutorError

    _check_run_options(args, "n", "replications")
    scenario = _load(args.scenario, args.set)
    vary = None
    design = args.design
    if args.vary:
        vary, is_range = _parse_vary(args.vary)
        if design is None:
            design = "lhs" if is_range else "grid"
    elif scenario.spec.sweep is None:
        raise ScenarioError("nothing to vary: give --vary or a [sweep] table", path="--vary")
    if design in ("saltelli", "morris"):
        _require_extra("analysis", "--design", design)
    try:
        result = sweep(
            scenario,
            vary=vary,
            design=design,
            n=args.n,
            replications=args.replications,
            seed=args.seed,
            executor=args.executor,
            workers=args.workers,
            address=args.scheduler,
            store=args.out,
            resume=args.resume,
            quiet=args.quiet,
            allow_long=args.allow_long,
        )
    except (StoreError, ExecutorError) as err:
        print(f"openbank-sim: error: {err}", file=sys.stderr)
        return 2
    params = list(result.definition["vary"])
    summary = result.summary(
        ["calls_total", "success_rate", "latency_p95_s", "calls_rate_limited", "revenue_total"]
    )
    cols = [
        "point",
        *params,
        "replications",
        "success_rate",
        "latency_p95_s",
        "calls_rate_limited",
        "revenue_total",
    ]
    print(summary[cols].to_string(index=False))
    n_fail = len(result.failures)
    msg = f"{len(result.table)} runs finished"
    if n_fail:
        msg += f", {n_fail} failed (see {args.out}/failures.jsonl; --resume retries them)"
    print(f"{msg}; store: {args.out}", file=sys.stderr)
    return 1 if n_fail else 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .experiments import compare
    from .experiments.executors import ExecutorError

    _check_run_options(args, "replications")
    a = _load(args.a, args.set)
    b = _load(args.b, args.set)
    try:
        res = compare(
            a,
            b,
            n=args.replications,
            seed=args.seed,
            executor=args.executor,
            workers=args.workers,
            address=args.scheduler,
            quiet=args.quiet,
            allow_long=args.allow_long,
        )
    except ExecutorError as err:
        print(f"openbank-sim: error: {err}", file=sys.stderr)
        return 2
    s = res.summary
    if args.json:
        print(s.reset_index().to_json(orient="records", indent=2))
        return 0
    print(
        f"A = {a.name} ({args.a}), B = {b.name} ({args.b}); {args.replications} paired "
        f"replications, common random numbers; 95% interval of the mean of B - A"
    )
    print(
        s[["mean_a", "mean_b", "diff_mean", "ci_low", "ci_high"]].to_string(
            float_format=lambda v: f"{v:.6g}"
        )
    )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import pandas as pd

    from .analysis.results import Results
    from .plots import latency_throughput, sweep_effects

    d = Path(args.dir)
    figures = d / "figures"
    if (d / "manifest.json").exists() and (d / "runs").is_dir():
        from .experiments import SweepResult
        from .experiments.sensitivity import SENSITIVITY_DESIGNS, sensitivity

        manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        definition = manifest["definition"]
        table_path = d / "results.csv"
        if not table_path.exists():
            raise ScenarioError(
                "the sweep is not complete (no results.csv); finish it with "
                "openbank-sim sweep ... --resume",
                file=str(d),
            )
        result = SweepResult(pd.read_csv(table_path), pd.DataFrame(), d, definition)
        params = list(definition["vary"])
        kpis = ["success_rate", "latency_p95_s", "calls_rate_limited", "throughput_ok_per_s"]
        summary = result.summary(kpis)
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
        figures.mkdir(exist_ok=True)
        if len(params) <= 3:
            sweep_effects(summary, params, kpis).savefig(figures / "sweep_effects.png", dpi=100)
        if definition["design"] in SENSITIVITY_DESIGNS:
            try:
                from .plots import sensitivity_bars

                for kpi in ("latency_p95_s", "success_rate"):
                    idx = sensitivity(result, kpi)
                    print(f"\nsensitivity of {kpi}:")
                    print(idx.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
                    sensitivity_bars(idx, kpi).savefig(figures / f"sensitivity_{kpi}.png", dpi=100)
            except ImportError:
                print("(install the 'analysis' extra for sensitivity indices)", file=sys.stderr)
    elif (d / "summary.csv").exists():
        results = Results.load(d)
        print(format_kpis(results.kpis))
        figures.mkdir(exist_ok=True)
        latency_throughput(results).savefig(figures / "latency_throughput.png", dpi=100)
    else:
        raise ScenarioError(
            "not a results directory (no summary.csv) nor a sweep store "
            "(no manifest.json and runs/)",
            file=str(d),
        )
    print(f"figures written to {figures}/", file=sys.stderr)
    return 0


_ALLOW_LONG = (
    "run even when the estimate of a run exceeds 10^9 attempts, 24 h or this machine's memory"
)


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
    run.add_argument("--allow-long", action="store_true", help=_ALLOW_LONG)
    run.set_defaults(func=_cmd_run)

    val = sub.add_parser(
        "validate", help="check a scenario file without running it and estimate one run"
    )
    val.add_argument("scenario", metavar="FILE|NAME")
    val.add_argument("--set", action="append", metavar="KEY=VALUE")
    val.add_argument("--allow-long", action="store_true", help=_ALLOW_LONG)
    val.set_defaults(func=_cmd_validate)

    sw = sub.add_parser("sweep", help="run a design of experiments into a resumable store")
    sw.add_argument("scenario", metavar="FILE|NAME")
    sw.add_argument(
        "--vary",
        action="append",
        metavar="KEY=V1,V2,...|KEY=LO:HI",
        help="a parameter to vary (replaces the file's [sweep] table)",
    )
    sw.add_argument("--design", choices=DESIGN_NAMES)
    sw.add_argument("--n", type=int, help="points (sampling designs) or SALib's base sample N")
    sw.add_argument("--replications", type=int, help="runs per point (default: [sweep] or 1)")
    sw.add_argument("--seed", type=int, help="base seed (default: the scenario's run.seed)")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE")
    sw.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    sw.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes")
    sw.add_argument(
        "--scheduler", metavar="ADDR", help="Dask scheduler address (default: a LocalCluster)"
    )
    sw.add_argument("--out", metavar="DIR", required=True, help="the result store directory")
    sw.add_argument("--resume", action="store_true", help="skip runs already in the store")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.add_argument("--allow-long", action="store_true", help=_ALLOW_LONG)
    sw.set_defaults(func=_cmd_sweep)

    cmp_ = sub.add_parser(
        "compare", help="paired comparison of two scenarios (common random numbers)"
    )
    cmp_.add_argument("a", metavar="A")
    cmp_.add_argument("b", metavar="B")
    cmp_.add_argument("--replications", type=int, default=10)
    cmp_.add_argument("--seed", type=int)
    cmp_.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override applied to both scenarios"
    )
    cmp_.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes")
    cmp_.add_argument(
        "--scheduler", metavar="ADDR", help="Dask scheduler address (default: a LocalCluster)"
    )
    cmp_.add_argument("--workers", type=int)
    cmp_.add_argument("--json", action="store_true")
    cmp_.add_argument("--quiet", action="store_true")
    cmp_.add_argument("--allow-long", action="store_true", help=_ALLOW_LONG)
    cmp_.set_defaults(func=_cmd_compare)

    rep = sub.add_parser("report", help="summary table and figures of a results dir or sweep store")
    rep.add_argument("dir", metavar="DIR")
    rep.set_defaults(func=_cmd_report)

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
    except (OSError, ValueError) as err:
        from .experiments.executors import ExecutorError

        if isinstance(err, ExecutorError | FileExistsError | FileNotFoundError):
            print(f"openbank-sim: error: {err}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print("openbank-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
