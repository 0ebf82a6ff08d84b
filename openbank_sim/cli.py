"""The ``openbank-sim`` command line: run | sweep | compare | optimize | edge | report |
validate | list.

Exit codes: 0 success, 2 bad input (a scenario error, printed on one or two lines without a
traceback; nothing is written to ``--out``); ``optimize`` exits 1 when its certificate does not
hold.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .analysis.folders import (
    COMPARISON_KIND,
    EDGE_KIND,
    REPORT_KIND,
    check_output_folder,
    folder_kind,
)
from .analysis.kpis import KPI_GROUPS
from .analysis.readback import ResultsFolderError
from .errors import ScenarioError, did_you_mean
from .spec.bounds import DESIGN_POINTS, REPLICATIONS, SEED, Bound
from .spec.ranges import DESIGN_NAMES, SAMPLING_DESIGNS, ParameterRange
from .spec.scenario import Scenario, load_scenario, parse_override_value, shipped_scenarios
from .spec.units import format_duration

__all__ = ["main"]


def _parse_sets(items: Sequence[str] | None, option: str = "--set") -> dict[str, object]:
    """``KEY=VALUE`` items of ``option`` (``--set``, ``--set-a``, ...) as overrides."""
    out: dict[str, object] = {}
    for item in items or ():
        if "\n" in item or "\r" in item:
            raise ScenarioError("a line break cannot be part of KEY=VALUE", path=option, value=item)
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(
                "expected KEY=VALUE, e.g. bank.pools.core.servers=64", path=option, value=item
            )
        try:
            out[key.strip()] = parse_override_value(value.strip())
        except ScenarioError as err:
            raise err.within(f"{option} {key.strip()}") from None
    return out


def _load(
    target: str,
    sets: Sequence[str] | None,
    arm_sets: Sequence[str] | None = None,
    arm_option: str = "--set-a",
) -> Scenario:
    """Scenario ``target`` with the ``--set`` overrides, then those of one arm (``arm_sets``
    given as ``arm_option``), each validated like the file."""
    scenario = load_scenario(target)
    overrides = _parse_sets(sets)
    overrides.update(_parse_sets(arm_sets, arm_option))
    return scenario.with_overrides(overrides) if overrides else scenario


def _fmt(value: float) -> str:
    """A number for a table: ``-`` for NaN, whole numbers and values from 1,000 up with
    thousands separators, others to 4 significant digits; never in scientific notation."""
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    digits = max(0, 3 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


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
    if args.out:
        check_output_folder(args.out, args.force, "--force")  # refused before the run
    seed = args.seed if args.seed is not None else scenario.spec.run.seed
    say(
        f"running {scenario.name} (seed {seed}, horizon "
        f"{format_duration(scenario.spec.run.horizon_s)}; estimated {estimate.describe()}) ..."
    )
    if args.intervals:
        _check_intervals(scenario)
    t0 = time.perf_counter()
    progress = False if args.quiet or args.json else None  # a bar when stderr is a terminal
    results = simulate(scenario, seed=seed, allow_long=True, progress=progress)  # estimated
    wall = time.perf_counter() - t0
    intervals, interval_warnings = _intervals(results) if args.intervals else ({}, [])
    if args.json:
        print(_kpis_json(results.kpis, intervals))
    else:
        print(format_kpis(results.kpis, scenario.spec.currency))
        if intervals:
            print(format_intervals(intervals))
        breaches = results.tables.get("slo_breaches")
        if breaches is not None and len(breaches):
            print(format_breaches(breaches))
        say(f"{int(results.kpis['calls_total']):,} calls in {wall:.2f} s wall time")
    if not args.quiet:
        for warning in [*results.warnings, *interval_warnings]:
            print(f"warning: {warning}", file=sys.stderr)
    if args.out:
        fig = latency_throughput(results)
        out = results.save(
            args.out,
            overwrite=args.force,
            extra_files={"latency_throughput.png": lambda path: fig.savefig(path, dpi=110)},
        )
        say(f"results written to {out}/")
    return 0


def _check_intervals(scenario: Scenario) -> None:
    """``--intervals`` needs full traffic and enough time bins after the warm-up (refused
    before the run)."""
    from .analysis.intervals import DEFAULT_BATCHES

    run = scenario.spec.run
    if run.traffic == "windowed":
        raise ScenarioError(
            "single-run intervals need full traffic: the hours between windows are booked "
            "expected values, not one run's time series (replicate instead)",
            path="--intervals",
        )
    # "auto" keeps at least the second half of the run
    measured = run.horizon_s / 2.0 if run.warmup_auto else run.horizon_s - run.warmup_s
    bins = math.ceil(measured / run.time_bin_s)
    if bins < DEFAULT_BATCHES:
        raise ScenarioError(
            f"batch means need at least {DEFAULT_BATCHES} time bins after the warm-up, and "
            f"run.time_bin gives {bins}: shorten run.time_bin or lengthen run.horizon",
            path="--intervals",
        )


def _intervals(results) -> tuple[dict, list[str]]:
    """Batch-means intervals of every KPI that has one, and the warnings they raised."""
    import warnings

    from .analysis.intervals import INTERVAL_KPIS

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = {kpi: results.interval(kpi) for kpi in INTERVAL_KPIS}
    return out, [str(w.message) for w in caught]


def _kpis_json(kpis: dict[str, float], intervals: dict) -> str:
    """The KPI dict as JSON (NaN as null), each KPI with an interval followed by ``KPI_ci``
    ``[low, high]``."""

    def clean(v: float) -> float | None:
        return v if math.isfinite(v) else None

    out: dict[str, object] = {}
    for k, v in kpis.items():
        out[k] = clean(v)
        if k in intervals:
            out[f"{k}_ci"] = [clean(intervals[k].low), clean(intervals[k].high)]
    return json.dumps(out, indent=2)


def format_intervals(intervals: dict) -> str:
    """Batch-means intervals as text lines under an ``[intervals]`` heading."""
    first = next(iter(intervals.values()))
    width = max(len(k) for k in intervals)
    lines = [f"[intervals] {first.level:.0%}, one run, batch means of {first.batches} batches"]
    for kpi, iv in intervals.items():
        flag = "" if iv.uncorrelated else "  (batches correlated: too narrow)"
        lines.append(
            f"  {kpi:<{width}}  {_fmt(iv.estimate)} [{_fmt(iv.low)}, {_fmt(iv.high)}]  "
            f"lag-1 autocorrelation {iv.lag1_autocorrelation:.2f}{flag}"
        )
    return "\n".join(lines)


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
        f"horizon {format_duration(spec.run.horizon_s)}"
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
            r = ParameterRange.from_text(key, spec)
            vary[key] = {"low": r.low, "high": r.high}  # integer or not: the key's type says
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
    "max_replications": REPLICATIONS,
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
        option = "--" + name.replace("_", "-")
        if value < 1:
            raise ScenarioError("must be >= 1", path=option, value=value)
        bound = _COUNT_BOUNDS[name]
        if value > bound.maximum:
            raise ScenarioError(bound.refusal(), path=option, value=value)
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
    from .analysis.kpis import KPI_NAMES
    from .experiments import StoreError, sweep
    from .experiments.executors import ExecutorError

    _check_run_options(args, "n", "replications")
    scenario = _load(args.scenario, args.set)
    kpis = _shown_kpis(args.kpi, scenario.spec.onboarding is not None, KPI_NAMES)
    table = scenario.spec.sweep
    design, n, replications = args.design, args.n, args.replications
    if args.vary:  # replaces the [sweep] table entirely: its design, n and replications too
        vary, is_range = _parse_vary(args.vary)
        if design is None and is_range:
            raise ScenarioError(
                f"a range needs a sampling design: give --design {'|'.join(SAMPLING_DESIGNS)} "
                "(a grid takes lists: KEY=V1,V2,...)",
                path="--design",
            )
        design = design or "grid"
        n = 16 if n is None else n
        replications = 1 if replications is None else replications
    elif table is None:
        raise ScenarioError("nothing to vary: give --vary or a [sweep] table", path="--vary")
    else:
        vary = dict(table.vary)
        design = design or table.design
        n = table.n if n is None else n
        replications = table.replications if replications is None else replications
    if design in ("saltelli", "morris"):
        _require_extra("analysis", "--design", design)
    try:
        result = sweep(
            scenario,
            vary=vary,
            design=design,
            n=n,
            replications=replications,
            seed=args.seed,
            executor=args.executor,
            workers=args.workers,
            address=args.scheduler,
            store=args.out,
            resume=args.resume,
            quiet=args.quiet,
            allow_long=args.allow_long,
            keep=args.keep,
            on_start=lambda points, reps: print(
                f"sweep: {points} points x {reps} replications = {points * reps} runs",
                file=sys.stderr,
            ),
        )
    except (StoreError, ExecutorError) as err:
        print(f"openbank-sim: error: {err}", file=sys.stderr)
        return 2
    params = list(result.definition["vary"])
    summary = result.summary(kpis)
    cols = ["point", *params, "replications", *kpis]
    print(summary[cols].to_string(index=False, float_format=_fmt, line_width=TABLE_WIDTH))
    for note in result.set_aside:
        print(f"warning: {note}", file=sys.stderr)
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
    if args.out:
        check_output_folder(args.out, args.force, "--force", kind=COMPARISON_KIND)
    if len(args.b) > 1 or args.best is not None or args.delta is not None:
        return _cmd_compare_many(args)
    from .analysis.kpis import KPI_NAMES

    args.b = args.b[0]
    a = _load(args.a, args.set, args.set_a, "--set-a")
    b = _load(args.b, args.set, args.set_b, "--set-b")
    onboarding = a.spec.onboarding is not None or b.spec.onboarding is not None
    kpis = _shown_kpis(args.kpi, onboarding, KPI_NAMES)
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
    intervals = s[["mean_a", "mean_b", "diff_mean", "ci_low", "ci_high"]]
    if args.out:
        document = {
            "scenarios": _compared(["A", "B"], [a, b], [args.a, args.b], args),
            "replications": args.replications,
            "seed": args.seed if args.seed is not None else a.spec.run.seed,
            "level": res.level,
            "crn": res.crn,
            "correction": None,
            "summary": _records(s.reset_index()),
            "best": None,
        }
        _write_comparison(args, s.reset_index(), intervals.reset_index(), res.runs, document)
    if args.json:
        print(s.reset_index().to_json(orient="records", indent=2))
        return 0
    print(
        f"A = {a.name} ({args.a}), B = {b.name} ({args.b}); {args.replications} paired "
        f"replications, common random numbers; 95% interval of the mean of B - A"
    )
    shown = intervals.loc[[k for k in kpis if k in intervals.index]]
    print(shown.to_string(float_format=_fmt, line_width=TABLE_WIDTH))
    if not args.kpi:
        print(f"(--kpi KPI shows others; --out DIR writes all {len(intervals)})")
    return 0


REPLICATE_KPIS = (
    "success_rate",
    "latency_mean_s",
    "latency_p95_s",
    "throughput_ok_per_s",
    "calls_rate_limited",
    "revenue_total",
)
"""The KPIs ``replicate`` shows unless ``--kpi`` picks others."""


def _parse_target(text: str | None) -> dict[str, object] | None:
    """``--target KPI:HALF_WIDTH`` (``HALF_WIDTH`` in the KPI's unit, or ``N%`` of its mean)."""
    if text is None:
        return None
    kpi, sep, width = text.partition(":")
    kpi, width = kpi.strip(), width.strip()
    relative = width.endswith("%")
    number = width[:-1] if relative else width
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not sep or not kpi or not math.isfinite(value) or value <= 0:
        raise ScenarioError(
            "expected KPI:HALF_WIDTH with a positive half-width in the KPI's unit, or "
            "KPI:N% of its mean (e.g. latency_p95_s:0.01 or success_rate:0.5%)",
            path="--target",
            value=text,
        )
    return {"kpi": kpi, "half_width": value / 100 if relative else value, "relative": relative}


def _check_kpis(names: Sequence[str], known: Sequence[str], option: str) -> None:
    """Every name a KPI of the runs, or a one-line ScenarioError with a did-you-mean."""
    for name in names:
        if name not in known:
            raise ScenarioError("names no KPI" + did_you_mean(name, known), path=option, value=name)


TABLE_WIDTH = 100
"""Characters a printed table may take before its columns wrap into blocks."""


def _shown_kpis(picked: Sequence[str] | None, onboarding: bool, known: Sequence[str]) -> list[str]:
    """``--kpi`` as given (each checked against ``known``), else the scenario's headlines."""
    from .analysis.kpis import headline_kpis

    if picked:
        _check_kpis(picked, known, "--kpi")
        return list(dict.fromkeys(picked))
    return [k for k in headline_kpis(onboarding) if k in known]


def _sweep_table(summary):
    """A sweep summary as printed: without the per-KPI run counts ``KPI_n`` where they are
    the point's replications (summary.csv keeps them)."""
    same = [
        c
        for c in summary.columns
        if c.endswith("_n")
        and "replications" in summary
        and summary[c].equals(summary["replications"])
    ]
    return summary.drop(columns=same)


def _cmd_replicate(args: argparse.Namespace) -> int:
    from .analysis.kpis import KPI_NAMES
    from .experiments import replicate
    from .experiments.executors import ExecutorError
    from .experiments.stats import HISTOGRAM_RESOLUTION, target_verdict

    _check_run_options(args, "replications", "max_replications")
    target = _parse_target(args.target)
    kpis = list(args.kpi or REPLICATE_KPIS)
    _check_kpis(kpis, KPI_NAMES, "--kpi")
    if target is not None:
        _check_kpis([str(target["kpi"])], KPI_NAMES, "--target")
    if target is not None and args.max_replications < args.replications:
        raise ScenarioError(
            f"must be at least --replications ({args.replications})",
            path="--max-replications",
            value=args.max_replications,
        )
    scenario = _load(args.scenario, args.set)
    try:
        res = replicate(
            scenario,
            n=args.replications,
            seed=args.seed,
            target=target,
            max_replications=args.max_replications,
            executor=args.executor,
            workers=args.workers,
            address=args.scheduler,
            quiet=args.quiet or args.json,
            allow_long=args.allow_long,
        )
    except ExecutorError as err:
        print(f"openbank-sim: error: {err}", file=sys.stderr)
        return 2
    shown = [k for k in kpis if k in res.summary.index]  # a KPI the scenario has no part for
    table = res.summary.loc[shown, ["n", "mean", "ci_low", "ci_high", "half_width"]]
    verdict = target_verdict(res.runs, target, res.level) if target is not None else None
    if args.json:
        out = {
            "scenario": scenario.name,
            "replications": len(res.runs),
            "level": res.level,
            "kpis": {k: {c: float(v) for c, v in r.items()} for k, r in table.iterrows()},
        }
        if target is not None:
            out["target"] = {**target, "met": verdict == "met", "verdict": verdict}
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"{scenario.name}: {len(res.runs)} replications (seeds from {res.runs['seed'].iloc[0]}); "
        f"{res.level:.0%} Student-t interval of each mean"
    )
    print(table.to_string(formatters={c: _fmt for c in table.columns}))
    if verdict is not None:
        words = {
            "met": "met",
            "below resolution": "not met: finer than the latency histogram's bin width "
            f"(+-{HISTOGRAM_RESOLUTION:.1%}), which no number of replications narrows",
            "not met": f"not met after --max-replications {args.max_replications}",
        }
        print(f"target {args.target}: {words[verdict]}")
    return 0


def _compared(
    labels: Sequence[str], scenarios: Sequence[Scenario], targets: Sequence[str], args
) -> list[dict[str, object]]:
    """The compared scenarios as the comparison's JSON lists them: label, name, source and
    the overrides each was run with."""
    out: list[dict[str, object]] = []
    for i, (label, scenario, target) in enumerate(zip(labels, scenarios, targets, strict=True)):
        arm_sets, option = (args.set_a, "--set-a") if i == 0 else (args.set_b, "--set-b")
        overrides = {**_parse_sets(args.set), **_parse_sets(arm_sets, option)}
        out.append(
            {
                "label": label,
                "name": scenario.name,
                "source": target,
                "overrides": {k: _plain(v) for k, v in overrides.items()},
            }
        )
    return out


def _plain(value: object) -> object:
    """An override value as JSON holds it (dates and times as ISO text)."""
    return value if isinstance(value, str | int | float | bool | list | dict) else str(value)


def _records(table) -> list[dict[str, object]]:
    """A DataFrame as a list of records of plain Python values at full precision (NaN is
    written as null)."""
    return table.to_dict(orient="records")


def _write_comparison(args: argparse.Namespace, table, intervals, runs, document) -> None:
    """``compare --out``: the comparison table, the paired intervals, the runs and the JSON
    summary, written as one folder (see :mod:`openbank_sim.analysis.outputs`)."""
    from .analysis.outputs import package_version, write_output

    out = write_output(
        args.out,
        COMPARISON_KIND,
        tables={"comparison.csv": table, "intervals.csv": intervals, "runs.csv": runs},
        documents={"comparison.json": document},
        provenance={"command": "compare", "package_version": package_version()},
        overwrite=args.force,
    )
    if not args.quiet:
        print(f"comparison written to {out}/", file=sys.stderr)


def _number(text: str | None, option: str) -> float | None:
    """A command-line number (None stays None), or a one-line ScenarioError naming the option."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise ScenarioError("expected a number", path=option, value=text) from None


def _cmd_compare_many(args: argparse.Namespace) -> int:
    from .analysis.kpis import KPI_NAMES
    from .experiments.alternatives import compare_alternatives
    from .experiments.executors import ExecutorError

    targets = [args.a, *args.b]
    scenarios = [_load(args.a, args.set, args.set_a, "--set-a")]
    scenarios += [_load(t, args.set, args.set_b, "--set-b") for t in args.b]
    onboarding = any(x.spec.onboarding is not None for x in scenarios)
    kpis = _shown_kpis(args.kpi, onboarding, KPI_NAMES)
    _check_run_options(args, "replications")
    delta = _number(args.delta, "--delta")
    try:
        res = compare_alternatives(
            scenarios,
            n=args.replications,
            seed=args.seed,
            best=args.best,
            delta=delta,
            executor=args.executor,
            workers=args.workers,
            address=args.scheduler,
            quiet=args.quiet,
        )
    except ExecutorError as err:
        print(f"openbank-sim: error: {err}", file=sys.stderr)
        return 2
    except ScenarioError as err:
        if err.path in ("n", "best", "delta"):
            where = {"n": "--replications"}.get(err.path, f"--{err.path}")
            raise ScenarioError(err.reason, path=where, value=err.value) from None
        raise
    s = res.summary
    first = res.labels[0]
    wide = s["mean_a"].xs(res.labels[1], level="scenario").rename(f"mean_{first}").to_frame()
    for lab in res.labels[1:]:
        part = s.xs(lab, level="scenario")[["diff_mean", "ci_low", "ci_high"]]
        wide[[f"{lab}-{first}", f"low_{lab}", f"high_{lab}"]] = part.to_numpy()
    if args.json or args.out:
        out = {
            "scenarios": [
                {"label": lab, "name": name, "source": src}
                for lab, name, src in zip(res.labels, res.names, targets, strict=True)
            ],
            "replications": args.replications,
            "level": res.level,
            "correction": res.correction,
            "summary": json.loads(s.reset_index().to_json(orient="records")),
            "best": res.best,
        }
        if args.out:
            document = {
                **out,
                "summary": _records(s.reset_index()),
                "scenarios": _compared(res.labels, scenarios, targets, args),
                "seed": args.seed if args.seed is not None else scenarios[0].spec.run.seed,
                "crn": res.crn,
            }
            _write_comparison(args, s.reset_index(), wide.reset_index(), res.runs, document)
        if args.json:
            print(json.dumps(out, indent=2, default=str))
            return 0
    names = ", ".join(
        f"{lab} = {name} ({src})"
        for lab, name, src in zip(res.labels, res.names, targets, strict=True)
    )
    print(
        f"{names}; {args.replications} paired replications, common random numbers; "
        f"simultaneous {res.level:.0%} intervals of the mean of X - {first} ({res.correction})"
    )
    shown = wide.loc[[k for k in kpis if k in wide.index]]
    print(shown.to_string(float_format=_fmt, line_width=TABLE_WIDTH))
    if not args.kpi:
        print(f"(--kpi KPI shows others; --out DIR writes all {len(wide)})")
    if res.best is not None:
        print(f"best on {res.best['kpi']}: {res.best['statement']}")
    return 0


_EDGE_OPTIONS = {
    "lever": "--vary",
    "low": "--vary",
    "high": "--vary",
    "levels": "--levels",
    "dwell": "--dwell",
    "seed": "--seed",
    "replications": "--replications",
}


def _parse_edge_vary(text: str) -> tuple[str, float, float]:
    """``KEY=LOW:HIGH`` of ``edge --vary``."""
    key, sep, rng = text.partition("=")
    low, colon, high = rng.partition(":")
    if not sep or not colon or not key.strip():
        raise ScenarioError("expected KEY=LOW:HIGH, e.g. load=0.5:2", path="--vary", value=text)
    try:
        return key.strip(), float(low), float(high)
    except ValueError:
        raise ScenarioError(
            "LOW and HIGH must be numbers, e.g. load=0.5:2", path="--vary", value=text
        ) from None


def _edge_table(result) -> str:
    """The summary as a table: a row per level and direction, each KPI's mean [95 % CI]."""

    def cell(r: Any, kpi: str, scale: float = 1.0) -> str:
        m, lo, hi = (r[f"{kpi}_{x}"] * scale for x in ("mean", "ci_low", "ci_high"))
        return f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]"

    lines = [
        (
            _fmt(r["level_value"]),
            str(r["direction"]),
            cell(r, "success_rate"),
            cell(r, "retry_amplification"),
            cell(r, "backend_wait_mean_s", 1000.0),
            cell(r, "throughput_ok_per_s"),
        )
        for _, r in result.summary.iterrows()
    ]
    head = ("level", "way", "success rate", "attempts/call", "backend wait ms", "ok/s")
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*row) for row in [head, *lines])


def _cmd_edge(args: argparse.Namespace) -> int:
    from .experiments.edge import edge
    from .experiments.executors import ExecutorError

    _check_run_options(args, "replications")
    if args.out:
        check_output_folder(args.out, args.force, "--force", kind=EDGE_KIND)
    scenario = _load(args.scenario, args.set)
    lever, low, high = _parse_edge_vary(args.vary)
    try:
        res = edge(
            scenario,
            lever,
            low,
            high,
            levels=args.levels,
            dwell=args.dwell,
            seed=args.seed,
            replications=args.replications,
            quiet=args.quiet or args.json,
            allow_long=args.allow_long,
            executor=args.executor,
            workers=args.workers,
            address=args.scheduler,
        )
    except ExecutorError as err:
        print(f"openbank-sim: error: {err}", file=sys.stderr)
        return 2
    except ScenarioError as err:
        if err.path in _EDGE_OPTIONS:
            where = _EDGE_OPTIONS[err.path]
            value = args.vary if where == "--vary" else err.value
            raise ScenarioError(err.reason, path=where, value=value) from None
        raise
    gap = res.widest_gap
    if args.json:
        from .analysis.outputs import jsonable

        print(json.dumps(jsonable(res.document()), indent=2, default=str))
    else:
        print(
            f"{scenario.name}: {res.lever} from {_fmt(res.values[0])} to {_fmt(res.values[-1])} "
            f"and back, {len(res.values)} levels of {format_duration(res.dwell_s)} each way "
            f"from {format_duration(res.start_s)}; {len(res.seeds)} run(s), seeds "
            f"{res.seeds[0]}-{res.seeds[-1]}; mean [{res.level:.0%} interval]"
        )
        print(_edge_table(res))
        print(
            f"widest gap (success rate down - up): {_fmt(gap['diff_mean'])} "
            f"[{_fmt(gap['ci_low'])}, {_fmt(gap['ci_high'])}] at {res.lever} = "
            f"{_fmt(gap['level_value'])}"
        )
    if args.out:
        from .analysis.outputs import package_version, write_output
        from .plots import edge_curve

        out = write_output(
            args.out,
            EDGE_KIND,
            tables={
                "edge.csv": res.runs,
                "edge_summary.csv": res.summary,
                "hysteresis.csv": res.hysteresis,
            },
            documents={"edge.json": res.document()},
            figures={"edge_curve.png": edge_curve(res, scenario.as_dict())},
            provenance={
                "command": "edge",
                "scenario": scenario.name,
                "source": scenario.source,
                "vary": args.vary,
                "overrides": {k: _plain(v) for k, v in _parse_sets(args.set).items()},
                "package_version": package_version(),
            },
            overwrite=args.force,
        )
        if not args.quiet and not args.json:
            print(f"edge written to {out}/", file=sys.stderr)
    return 0


def _cmd_optimize(args: argparse.Namespace) -> int:
    from .experiments import StoreError, optimize
    from .experiments.executors import ExecutorError

    scenario = _load(args.scenario, args.set)
    vary: dict[str, object] = {}
    for item in args.vary:
        vary.update(_parse_vary([item])[0])
    _check_run_options(args)
    alpha = _number(args.alpha, "--alpha")
    delta = _number(args.delta, "--delta")
    if args.budget is not None and args.budget < 1:
        raise ScenarioError("must be >= 1", path="--budget", value=args.budget)
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise ScenarioError("exists and is not a directory", path="--out", value=args.out)
    try:
        res = optimize(
            scenario,
            vary=vary,
            minimize=args.minimize,
            maximize=args.maximize,
            subject_to=args.subject_to or (),
            alpha=alpha,
            delta=delta,
            budget=args.budget,
            seed=args.seed,
            executor=args.executor,
            workers=args.workers,
            address=args.scheduler,
            store=args.out,
            resume=args.resume,
            quiet=args.quiet or args.json,
        )
    except (StoreError, ExecutorError) as err:
        print(f"openbank-sim: error: {err}", file=sys.stderr)
        return 2
    except ScenarioError as err:
        options = ("minimize", "maximize", "subject_to", "alpha", "delta", "budget", "vary")
        if err.path in options:
            where = "--" + err.path.replace("_", "-")
            raise ScenarioError(err.reason, path=where, value=err.value) from None
        raise
    if args.json:
        print(res.to_json())
        return 0 if res.holds else 1
    cert = res.certificate
    best = ", ".join(f"{k}={v}" for k, v in (res.best or {}).items()) or "none"
    print(f"best: {best}")
    print(f"certificate: {'holds' if res.holds else 'does not hold'}")
    print(f"  {cert['statement']}")
    for name in [cert["objective"], *(c for c in cert["constraints"])]:
        metric = name.split("<=")[0].split(">=")[0]
        est = res.kpis.get(metric)
        if est is not None:
            print(
                f"  {metric}: {est['mean']:.6g} [{est['ci_low']:.6g}, {est['ci_high']:.6g}] "
                f"({est['n']} replications, {cert['probability']:.0%} interval)"
            )
    print(
        f"{res.runs} runs; {cert['feasible']} feasible, {cert['infeasible']} infeasible, "
        f"{len(cert['undecided'])} undecided of {cert['configurations']}; store: {args.out}",
        file=sys.stderr,
    )
    return 0 if res.holds else 1


def _cmd_report(args: argparse.Namespace) -> int:
    import pandas as pd

    from .analysis.kpis import KPI_NAMES
    from .analysis.results import Results
    from .plots import latency_throughput, sweep_effects

    d = Path(args.dir)
    if args.html:
        from .analysis.html_report import check_html_target

        check_html_target(args.html, "--html")  # refused before anything is read or written
    if args.out:
        _check_out(args.out, "a report needs a directory")
        check_output_folder(args.out, args.force, "--force", kind=REPORT_KIND)
    tables: dict[str, pd.DataFrame] = {}  # file name -> the table shown
    figures: dict[str, Any] = {}  # file name -> the figure drawn (a matplotlib Figure)
    notes: list[str] = []  # the warnings printed, for the HTML report
    html_report = None  # what --html writes
    kind = folder_kind(d)
    if kind in ("comparison", "report"):
        raise ScenarioError(
            f"is the output of {kind}, which report does not read (it reads a results "
            "directory or a sweep store)",
            file=str(d),
        )
    if kind == "sweep" or (kind is None and (d / "runs").is_dir()):
        from .experiments import SweepResult
        from .experiments.sensitivity import (
            SENSITIVITY_DESIGNS,
            SensitivityWarning,
            sensitivity,
        )
        from .experiments.store import StoreError, read_complete_store

        try:
            definition, table = read_complete_store(d)  # every run file and results.csv checked
        except StoreError as err:
            print(f"openbank-sim: error: {err}", file=sys.stderr)
            return 2
        result = SweepResult(table, pd.DataFrame(), d, definition)
        params = list(definition["vary"])
        onboarding = isinstance(definition.get("scenario"), dict) and (
            "onboarding" in definition["scenario"]
        )
        known = [c for c in table.columns if c in KPI_NAMES]
        kpis = _shown_kpis(args.kpi, onboarding, known)
        summary = result.summary(kpis)
        print(
            _sweep_table(summary).to_string(index=False, float_format=_fmt, line_width=TABLE_WIDTH)
        )
        tables["summary.csv"] = summary
        if len(params) <= 3:
            figures["sweep_effects.png"] = sweep_effects(summary, params, kpis)
        if definition["design"] in SENSITIVITY_DESIGNS:
            try:
                from .plots import sensitivity_bars

                for kpi in ("latency_p95_s", "success_rate"):
                    with warnings.catch_warnings():  # printed below, as the CLI's warnings
                        warnings.simplefilter("ignore", SensitivityWarning)
                        try:
                            idx = sensitivity(result, kpi)
                        except ValueError as err:  # undefined indices: say why, go on
                            print(f"\nsensitivity of {kpi}: not computed: {err}")
                            notes.append(f"sensitivity of {kpi}: not computed: {err}")
                            continue
                    print(f"\nsensitivity of {kpi}:")
                    print(idx.to_string(index=False, float_format=_fmt))
                    for note in idx.attrs["warnings"]:
                        print(f"warning: {note}")
                        notes.append(f"sensitivity of {kpi}: {note}")
                    tables[f"sensitivity_{kpi}.csv"] = idx
                    figures[f"sensitivity_{kpi}.png"] = sensitivity_bars(idx, kpi)
            except ImportError:
                print("(install the 'analysis' extra for sensitivity indices)", file=sys.stderr)
        if args.html:
            from .analysis.html_report import sweep_report
            from .analysis.outputs import package_version

            html_report = sweep_report(
                definition,
                summary,
                tables=[
                    (f"Sensitivity of {name[12:-4]}", tables[name])
                    for name in tables
                    if name.startswith("sensitivity_")
                ],
                figures=[
                    (
                        f"Sensitivity indices of {name[12:-4]}"
                        if name.startswith("sensitivity_")
                        else "Each KPI's mean against each varied parameter",
                        fig,
                    )
                    for name, fig in figures.items()
                ],
                warnings=notes,
                source=str(d),
                package_version=package_version(),
            )
    elif kind == "run" or (d / "manifest.json").exists() or (d / "summary.csv").exists():
        results = Results.load(d)  # every file checked: a damaged one is a ResultsFolderError
        currency = results.manifest.get("currency")
        shown = results.kpis
        if args.kpi:
            _check_kpis(args.kpi, list(results.kpis), "--kpi")
            shown = {k: results.kpis[k] for k in dict.fromkeys(args.kpi)}
        print(format_kpis(shown, currency if isinstance(currency, str) else ""))
        tables["summary.csv"] = results.kpi_table()
        figures["latency_throughput.png"] = latency_throughput(results)
        if args.html:
            from .analysis.html_report import run_report

            html_report = run_report(results, source=str(d))
    else:
        raise ScenarioError(
            "not a results directory (no summary.csv) nor a sweep store "
            "(no manifest.json and runs/)",
            file=str(d),
        )
    if html_report is not None:
        from .analysis.html_report import render_html, write_html

        write_html(args.html, render_html(html_report), "--html")
        print(f"HTML report written to {args.html}", file=sys.stderr)
    if args.out:
        from .analysis.outputs import package_version, write_output

        out = write_output(
            args.out,
            REPORT_KIND,
            tables=tables,
            figures=figures,
            provenance={
                "command": "report",
                "source": str(d),
                "source_kind": kind or ("sweep" if (d / "runs").is_dir() else "run"),
                "package_version": package_version(),
            },
            overwrite=args.force,
        )
        print(f"report written to {out}/", file=sys.stderr)
        return 0
    folder = d / "figures"
    folder.mkdir(exist_ok=True)
    for name, fig in figures.items():
        fig.savefig(folder / name, dpi=100)
    print(f"figures written to {folder}/", file=sys.stderr)
    return 0


_ALLOW_LONG = (
    "run even when the estimate of a run exceeds 10^9 attempts, 24 h or this machine's memory"
)


def _version() -> str:
    """The installed package's version (``unknown`` when run from a bare source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openbank_sim")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="openbank-sim",
        description="Simulate open banking API cooperation: gateways, rate limits, capacity, "
        "revenue.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
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
    run.add_argument(
        "--intervals",
        action="store_true",
        help="also give 95%% single-run intervals (batch means) of backend_wait_mean_s, "
        "latency_mean_s, success_rate and throughput_ok_per_s: KPI_ci fields with --json, an "
        "[intervals] section in the table otherwise",
    )
    run.add_argument("--quiet", action="store_true", help="no progress messages or bar")
    run.add_argument(
        "--force",
        action="store_true",
        help="write into an --out folder that holds other files (only this program's own "
        "files are replaced; the others are left untouched)",
    )
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
        help="a parameter to vary; replaces the file's [sweep] table, its design, n and "
        "replications included (a range is integer exactly where the key takes integers)",
    )
    sw.add_argument(
        "--design", choices=DESIGN_NAMES, help="grid for lists; a range needs a sampling design"
    )
    sw.add_argument(
        "--n", type=int, help="points (sampling designs) or SALib's base sample N (default 16)"
    )
    sw.add_argument(
        "--replications",
        type=int,
        help="runs per point (default: 1 with --vary, else the [sweep] table's)",
    )
    sw.add_argument("--seed", type=int, help="base seed (default: the scenario's run.seed)")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE")
    sw.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    sw.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes")
    sw.add_argument(
        "--scheduler", metavar="ADDR", help="Dask scheduler address (default: a LocalCluster)"
    )
    sw.add_argument("--out", metavar="DIR", required=True, help="the result store directory")
    sw.add_argument("--resume", action="store_true", help="skip runs already in the store")
    sw.add_argument(
        "--kpi",
        action="append",
        metavar="KPI",
        help="a KPI to show (repeatable, or comma-separated; default: the scenario's headlines)",
    )
    sw.add_argument(
        "--keep",
        action="append",
        metavar="TABLE",
        help="store this per-run table too (Parquet, one file per run; repeatable): "
        "timeseries, by_partner, ...",
    )
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.add_argument("--allow-long", action="store_true", help=_ALLOW_LONG)
    sw.set_defaults(func=_cmd_sweep)

    rep_ = sub.add_parser(
        "replicate", help="replications of one scenario with intervals, optionally to a target"
    )
    rep_.add_argument("scenario", metavar="FILE|NAME")
    rep_.add_argument("--replications", type=int, default=10, help="replications to start with")
    rep_.add_argument(
        "--target",
        metavar="KPI:HALF_WIDTH",
        help="add replications until KPI's interval half-width is at most HALF_WIDTH "
        "(in the KPI's unit, or N%% of its mean)",
    )
    rep_.add_argument(
        "--max-replications", type=int, default=200, help="cap for --target (default 200)"
    )
    rep_.add_argument(
        "--kpi",
        action="append",
        metavar="KPI",
        help="KPIs to show (repeatable, or comma-separated; default: a few)",
    )
    rep_.add_argument("--seed", type=int, help="base seed (default: the scenario's run.seed)")
    rep_.add_argument("--set", action="append", metavar="KEY=VALUE")
    rep_.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes")
    rep_.add_argument(
        "--scheduler", metavar="ADDR", help="Dask scheduler address (default: a LocalCluster)"
    )
    rep_.add_argument("--workers", type=int)
    rep_.add_argument("--json", action="store_true")
    rep_.add_argument("--quiet", action="store_true", help="no progress bar")
    rep_.add_argument("--allow-long", action="store_true", help=_ALLOW_LONG)
    rep_.set_defaults(func=_cmd_replicate)

    cmp_ = sub.add_parser(
        "compare", help="paired comparison of two scenarios (common random numbers)"
    )
    cmp_.add_argument("a", metavar="A")
    cmp_.add_argument("b", metavar="B", nargs="+", help="one or more scenarios to compare with A")
    cmp_.add_argument(
        "--best",
        metavar="KPI[:min|max]",
        help="which scenario is best on this KPI (smaller is better unless :max)",
    )
    cmp_.add_argument(
        "--delta", metavar="D", help="with --best: more replications until within D of the best"
    )
    cmp_.add_argument(
        "--kpi",
        action="append",
        metavar="KPI",
        help="a KPI to show (repeatable, or comma-separated; default: the scenarios' headlines)",
    )
    cmp_.add_argument("--replications", type=int, default=10)
    cmp_.add_argument("--seed", type=int)
    cmp_.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override applied to every scenario"
    )
    cmp_.add_argument(
        "--set-a",
        dest="set_a",
        action="append",
        metavar="KEY=VALUE",
        help="override applied to A only (after --set)",
    )
    cmp_.add_argument(
        "--set-b",
        dest="set_b",
        action="append",
        metavar="KEY=VALUE",
        help="override applied to B (and every further scenario) only (after --set)",
    )
    cmp_.add_argument(
        "--out",
        metavar="DIR",
        help="write comparison.csv, intervals.csv, runs.csv and comparison.json here",
    )
    cmp_.add_argument(
        "--force",
        action="store_true",
        help="write into an --out folder that holds other files (only this program's own "
        "files are replaced)",
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

    opt = sub.add_parser(
        "optimize",
        help="the best configuration meeting constraints, with a statistical certificate",
    )
    opt.add_argument("scenario", metavar="FILE|NAME")
    opt.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="KEY=LO:HI|KEY=V1,V2,...",
        help="a parameter and its values (integer ranges give every integer)",
    )
    goal = opt.add_mutually_exclusive_group(required=True)
    goal.add_argument("--minimize", metavar="METRIC", help="a KPI, KPI/KPI, or a varied KEY")
    goal.add_argument("--maximize", metavar="METRIC")
    opt.add_argument(
        "--subject-to",
        dest="subject_to",
        action="append",
        metavar="METRIC<=VALUE",
        help="a constraint on a mean (or METRIC>=VALUE); repeat for more",
    )
    opt.add_argument("--alpha", default="0.05", help="1 - the certificate's probability")
    opt.add_argument("--delta", metavar="D", help="indifference zone, in the objective's unit")
    opt.add_argument("--budget", type=int, metavar="RUNS", help="most runs to use")
    opt.add_argument("--seed", type=int)
    opt.add_argument("--set", action="append", metavar="KEY=VALUE")
    opt.add_argument("--workers", type=int)
    opt.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes")
    opt.add_argument("--scheduler", metavar="ADDR")
    opt.add_argument("--out", metavar="DIR", required=True, help="the result store directory")
    opt.add_argument("--resume", action="store_true", help="reuse the runs already in DIR")
    opt.add_argument("--json", action="store_true", help="print best, kpis, certificate, runs")
    opt.add_argument("--quiet", action="store_true")
    opt.set_defaults(func=_cmd_optimize)

    edg = sub.add_parser(
        "edge",
        help="step one lever up and back down inside each run: where the edge is, and "
        "whether a storm outlives its trigger",
    )
    edg.add_argument("scenario", metavar="FILE|NAME")
    edg.add_argument(
        "--vary",
        metavar="KEY=LOW:HIGH",
        required=True,
        help="the lever and its range: load (a multiplier of every partner's arrival rate), "
        "partners.NAME.load, or bank.pools.NAME.servers",
    )
    edg.add_argument("--levels", type=int, default=5, help="values from LOW to HIGH (default 5)")
    edg.add_argument(
        "--dwell", default="10m", help="how long each value is held per direction (default 10m)"
    )
    edg.add_argument("--replications", type=int, default=5, help="runs (default 5)")
    edg.add_argument("--seed", type=int, help="first seed (default: the scenario's run.seed)")
    edg.add_argument("--set", action="append", metavar="KEY=VALUE")
    edg.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes")
    edg.add_argument("--workers", type=int)
    edg.add_argument("--scheduler", metavar="ADDR")
    edg.add_argument(
        "--out", metavar="DIR", help="write edge.csv, edge_summary.csv, hysteresis.csv, a figure"
    )
    edg.add_argument(
        "--force",
        action="store_true",
        help="write into an --out folder that holds other files (only this program's own "
        "files are replaced)",
    )
    edg.add_argument("--json", action="store_true", help="print the result as JSON")
    edg.add_argument("--quiet", action="store_true", help="no progress bar")
    edg.add_argument("--allow-long", action="store_true", help=_ALLOW_LONG)
    edg.set_defaults(func=_cmd_edge)

    rep = sub.add_parser("report", help="summary table and figures of a results dir or sweep store")
    rep.add_argument("dir", metavar="DIR")
    rep.add_argument(
        "--kpi",
        action="append",
        metavar="KPI",
        help="a KPI to show (repeatable, or comma-separated; default: every KPI of a run, the headlines of a sweep)",
    )
    rep.add_argument(
        "--out",
        metavar="OUT",
        help="write summary.csv and figures/ to OUT instead of DIR/figures",
    )
    rep.add_argument(
        "--html",
        metavar="FILE",
        help="also write the report as one self-contained HTML file (figures embedded)",
    )
    rep.add_argument(
        "--force",
        action="store_true",
        help="write into an --out folder that holds other files (only this program's own "
        "files are replaced)",
    )
    rep.set_defaults(func=_cmd_report)

    lst = sub.add_parser("list", help="list the shipped scenarios")
    lst.set_defaults(func=_cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``openbank-sim``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "kpi", None):  # --kpi a,b is --kpi a --kpi b
        args.kpi = [k.strip() for given in args.kpi for k in given.split(",") if k.strip()]
    try:
        return int(args.func(args))
    except (ScenarioError, ResultsFolderError) as err:
        print(f"openbank-sim: error: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:
        from .experiments.executors import ExecutorError

        if isinstance(err, ExecutorError | FileExistsError | FileNotFoundError):
            print(f"openbank-sim: error: {err}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt as err:  # a sweep's says what it kept and how to resume
        print(f"openbank-sim: {err or 'interrupted'}", file=sys.stderr)
        if argv is None:  # the command itself: end now, not after a 1-2 s interpreter teardown
            from multiprocessing import util

            util._exit_function()  # the pool's finalizers: its semaphores are released
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
