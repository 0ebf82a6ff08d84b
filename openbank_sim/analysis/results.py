"""Results of one run: the KPI dict, tables as pandas DataFrames, save / load, provenance.

Built from the :class:`~openbank_sim.model.record.RunRecord` of
:func:`openbank_sim.model.world.run_world` once the run is over; this is where pandas first
appears. The KPI names and their semantics are a public
contract (DESIGN.md, "Outputs" and "Semantics of the numbers").
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ..histogram import LatencyHistogram
from ..model.record import (
    BinLatency,
    CallAggregates,
    CallCounts,
    JourneyCounts,
    MoneyCells,
    PoolWaitSums,
    RunRecord,
)
from ..model.recorder import CALL_LOG_COLUMNS
from ..outcomes import JOURNEY_ENDINGS, N_OUTCOMES, OUTCOME_NAMES, JourneyEnding, Outcome
from .folders import RUN_FORMAT, RUN_KIND, write_folder
from .intervals import DEFAULT_BATCHES, BatchMeansInterval, interval_of
from .kpis import KPI_GROUPS, KPI_NAMES
from .levers import LEVER_COLUMNS, breaker_table, lever_cells, lever_kpis, lever_totals_by_partner
from .money import LedgerRow, ledger_rows, ledger_table, onboarding_kpis, partners_table
from .readback import read_folder, table_shape
from .slo import evaluate_slo, union_length
from .storms import storm_kpis, storm_warnings
from .warmup import WarmupChoice

__all__ = ["KPI_GROUPS", "KPI_NAMES", "Results", "build_results"]

NAN = float("nan")


def _ratio(a: float, b: float) -> float:
    return a / b if b else NAN


@functools.cache
def _git_revision() -> str | None:
    """The source tree's git revision, asked once per process (None outside a checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@functools.cache
def _version() -> str:
    try:
        from importlib.metadata import version

        return version("openbank_sim")
    except Exception:  # not installed (running from a source tree)
        return "0+unknown"


def _repr_float(value: float) -> str:
    """A float written so that reading it back gives the same float (full precision)."""
    return repr(float(value))


class Results:
    """KPIs and tables of one run.

    Attributes:
        kpis: KPI name -> value (floats; NaN where a feature is off or undefined).
        tables: table name -> DataFrame (``timeseries``, ``timeseries_latency``,
            ``timeseries_wait``, ``by_partner``, ``by_product``, ``by_pool``, ``journeys``, optional ``calls``).
        manifest: provenance: scenario as resolved, seed, versions, git revision, wall time,
            event count.
        histograms: latency histograms of ok attempts by ``"product:NAME"`` /
            ``"partner:NAME"`` and ``"client"`` (logical calls), for plots and merging.
    """

    def __init__(
        self,
        kpis: Mapping[str, float],
        tables: Mapping[str, pd.DataFrame],
        manifest: Mapping[str, Any],
        histograms: Mapping[str, LatencyHistogram] | None = None,
    ) -> None:
        self.kpis = dict(kpis)
        self.tables = dict(tables)
        self.manifest = dict(manifest)
        self.histograms = dict(histograms or {})

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def __repr__(self) -> str:
        k = self.kpis
        return (
            f"Results({self.manifest.get('scenario_name')!r}, seed={self.manifest.get('seed')}, "
            f"calls_total={k.get('calls_total')}, success_rate={k.get('success_rate'):.4f})"
        )

    @property
    def warnings(self) -> list[str]:
        """Plain-words warnings about the run (retry storms, queue waits past the client
        timeout, unsettled windows, see :mod:`openbank_sim.analysis.storms`; an automatic
        warm-up that found no truncation point, see :mod:`openbank_sim.analysis.warmup`);
        empty when none."""
        return list(self.manifest.get("warnings") or [])

    def interval(
        self, kpi: str, level: float = 0.95, batches: int = DEFAULT_BATCHES
    ) -> BatchMeansInterval:
        """A confidence interval of a steady-state mean from this one run, by batch means.

        The time bins after the warm-up are cut into ``batches`` contiguous batches; see
        :mod:`openbank_sim.analysis.intervals` for the formula and its assumptions. Supported
        KPIs: :data:`~openbank_sim.analysis.intervals.INTERVAL_KPIS` (``backend_wait_mean_s``,
        ``latency_mean_s``, ``success_rate``, ``throughput_ok_per_s``).

        Returns:
            estimate (the KPI), low, high, level, batches, lag-1 autocorrelation of the batch
            means, and ``uncorrelated``; when False a
            :class:`~openbank_sim.analysis.intervals.BatchCorrelationWarning` is raised too.

        Raises:
            ValueError: a KPI without a single-run interval (the message lists those with one),
                windowed traffic, or fewer time bins after the warm-up than batches.
        """
        return interval_of(self, kpi, level, batches)

    def kpi_table(self) -> pd.DataFrame:
        """The KPIs as a two-column DataFrame (``kpi``, ``value``)."""
        return pd.DataFrame({"kpi": list(self.kpis), "value": list(self.kpis.values())})

    def kpis_json(self) -> str:
        """The KPI dict as JSON (NaN and infinities as null)."""
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in self.kpis.items()
        }
        return json.dumps(clean, indent=2)

    def to_html(self, path: str | Path, *, source: str | None = None) -> Path:
        """Write the run's report to ``path`` as one self-contained HTML file and return it.

        The question (the scenario's description), its levers, the KPI table with units and
        single-run intervals, figures embedded as PNG, warnings and provenance; no external
        resources (see :mod:`openbank_sim.analysis.html_report`). Written atomically.
        ``source``: where these results were read from, shown in the provenance.

        Raises:
            ScenarioError: ``path`` is a directory or its directory does not exist (nothing is
                written).
        """
        from .html_report import check_html_target, render_html, run_report, write_html

        check_html_target(path)
        return write_html(path, render_html(run_report(self, source)))

    # -- persistence -----------------------------------------------------------------------
    def save(
        self,
        directory: str | Path,
        overwrite: bool = False,
        *,
        extra_files: Mapping[str, Callable[[Path], object]] | None = None,
    ) -> Path:
        """Write the run to ``directory`` atomically (a complete folder or none) and return it.

        Tables go to Parquet when pyarrow is installed, CSV otherwise; ``summary.csv``
        (``kpi,value``, floats at full precision), ``histograms.json`` and ``manifest.json``
        (``kind = "openbank_sim.run"``, with the rows and columns of every table) always.
        ``extra_files`` maps more file names (e.g. ``"latency_throughput.png"``) to writers
        called with the path to write, inside the same atomic step.

        A folder holding anything that is not this project's own output (see
        :mod:`openbank_sim.analysis.folders`) is refused with
        :class:`~openbank_sim.analysis.folders.OutputFolderError` unless ``overwrite``; even
        then only this project's files are replaced and every other file stays untouched.
        """

        def write(tmp: Path) -> None:
            fmt = "parquet" if _has_pyarrow() else "csv"
            with (tmp / "summary.csv").open("w", encoding="utf-8") as fh:
                fh.write("kpi,value\n")
                for k, v in self.kpis.items():
                    fh.write(f"{k},{float(v)!r}\n")
            written = {}
            shapes = {}
            for name, df in self.tables.items():
                path = tmp / f"{name}.{fmt}"
                if fmt == "parquet":
                    df.to_parquet(path, index=False)
                else:
                    df.to_csv(path, index=False, float_format=_repr_float)
                written[name] = path.name
                shapes[name] = table_shape(df)
            (tmp / "histograms.json").write_text(
                json.dumps({k: h.to_dict() for k, h in self.histograms.items()}), encoding="utf-8"
            )
            for file_name, writer in (extra_files or {}).items():
                writer(tmp / file_name)
            manifest: dict[str, Any] = {"kind": RUN_KIND, "format": RUN_FORMAT}
            manifest.update((k, v) for k, v in self.manifest.items() if k not in manifest)
            manifest.update(
                tables=written,
                table_shapes=shapes,
                summary_kpis=len(self.kpis),
            )
            (tmp / "manifest.json").write_text(
                json.dumps(manifest, indent=2, default=str, allow_nan=True), encoding="utf-8"
            )

        return write_folder(directory, write, overwrite)

    @classmethod
    def load(cls, directory: str | Path) -> Results:
        """Read a folder written by :meth:`save`, checking every file of it.

        Only this project's files are read, by their own names, inside the folder; a manifest
        whose table paths are absolute or leave the folder is refused.

        Raises:
            ResultsFolderError: a missing or malformed piece (the error names the file and what
                is wrong).
        """
        kpis, tables, manifest, hists = read_folder(directory)
        return cls(kpis, tables, manifest, hists)


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Building results from a run
# --------------------------------------------------------------------------------------------


def _hist_stats(h: LatencyHistogram) -> dict[str, float]:
    if h.count == 0:
        return {
            "latency_mean_s": NAN,
            "latency_p50_s": NAN,
            "latency_p95_s": NAN,
            "latency_p99_s": NAN,
        }
    p50, p95, p99 = h.quantiles([0.5, 0.95, 0.99])
    return {
        "latency_mean_s": h.mean,
        "latency_p50_s": p50,
        "latency_p95_s": p95,
        "latency_p99_s": p99,
    }


def run_kpis(record: RunRecord) -> dict[str, float]:
    """The KPIs of a run (:data:`~.kpis.KPI_NAMES`), without building its tables: what a
    sweep's worker sends back. The same numbers as :func:`build_results` gives."""
    return _kpis(record)[0]


def _kpis(
    record: RunRecord,
) -> tuple[dict[str, float], list[LedgerRow], pd.DataFrame | None]:
    """The KPIs, the ledger rows (sorted) and the SLO breaches table (None without SLOs)."""
    spec = record.spec
    run = spec.run
    calls_rec = record.calls
    partners = record.partner_names
    measured_s = run.horizon_s - run.warmup_s
    counts = calls_rec.counts

    by_outcome = (
        np.bincount(counts.outcome, weights=counts.count, minlength=N_OUTCOMES)
        if counts.count.size
        else np.zeros(N_OUTCOMES)
    )
    calls = {f"calls_{o}": float(by_outcome[i]) for i, o in enumerate(OUTCOME_NAMES)}
    calls_total = float(by_outcome.sum())

    overall = LatencyHistogram()
    for h in calls_rec.latency_by_product:
        overall.merge(h)
    lat = _hist_stats(overall)
    wait_count = float(calls_rec.wait_count.sum())
    jc = calls_rec.journeys
    started = float(jc.count.sum()) if jc.count.size else 0
    completed = float(jc.count[jc.ending == JourneyEnding.COMPLETED.value].sum()) if started else 0
    rows, money = ledger_rows(record)
    onboarding = onboarding_kpis(record, rows)

    avail = 1.0 - union_length([iv for pool in record.pools for iv in pool.downtime]) / measured_s
    slo_table = None
    breach_hours = 0.0
    if spec.slo is not None and calls_rec.slo is not None:
        pool_of = {name: i for i, name in enumerate(record.pool_names)}
        partner_down = []
        for p in record.partners:
            used = {spec.bank.products[s.product].pool for s in spec.journeys[p.journey].steps}
            if p.background is not None:
                used.add(spec.bank.products[p.background.product].pool)
            partner_down.append([iv for u in used for iv in record.pools[pool_of[u]].downtime])
        slo_counts: Mapping[tuple[int, int], Sequence[float]] = {
            **calls_rec.slo.booked_counts,  # windowed traffic: booked periods (expected values)
            **calls_rec.slo.counts,
        }
        slo_table = evaluate_slo(
            spec.slo,
            partners,
            # booked counts are floats; evaluate_slo only compares and divides them
            cast("Mapping[tuple[int, int], Sequence[int]]", slo_counts),
            calls_rec.slo.latency,
            partner_down,
            (run.warmup_s, run.horizon_s),
            pd.Timestamp(run.start),
            [p.live_from_s for p in record.partners],
        )
        breached = slo_table.drop_duplicates(["partner", "period"])
        breach_hours = float(breached["period_length_s"].sum()) / 3600.0  # partner-hours
    client = calls_rec.client_latency
    kpis: dict[str, float] = {
        "calls_total": calls_total,
        **calls,
        "calls_dropped_expired": float(sum(p.dropped_expired for p in record.pools)),
        "calls_shed_background": float(sum(p.shed_background for p in record.pools)),
        "token_requests": record.token_requests,
        "success_rate": _ratio(calls["calls_ok"], calls_total),
        "throughput_ok_per_s": calls["calls_ok"] / measured_s,
        **lat,
        "client_latency_p95_s": client.quantile(0.95) if client.count else NAN,
        "backend_wait_mean_s": _ratio(float(calls_rec.wait_sum_s.sum()), wait_count),
        "availability": avail,
        "availability_published": 1.0 - calls_rec.published_downtime_s / measured_s,
        "consents_lapsed": record.consents_lapsed,
        "slo_breach_hours": breach_hours,
        "warmup_used_s": run.warmup_s,
        "journeys_started": started,
        "journeys_completed": completed,
        "journeys_abandoned": started - completed,
        "conversion_rate": _ratio(completed, started),
        **storm_kpis(record),
        **lever_kpis(calls_rec),
        **money,
        **onboarding,
    }
    return {k: float(kpis[k]) for k in KPI_NAMES}, rows, slo_table


def build_results(
    record: RunRecord,
    scenario_raw: Mapping[str, Any],
    source: str | None,
    *,
    warmup: WarmupChoice | None = None,
) -> Results:
    """Turn a :class:`~openbank_sim.model.record.RunRecord` into :class:`Results`.

    ``warmup``: how ``run.warmup = "auto"`` chose the record's warm-up (None for a fixed one);
    it goes to the manifest (``warmup_auto``) and, when unsettled, to the warnings.
    """
    spec = record.spec
    run = spec.run
    calls_rec = record.calls
    partners, products = record.partner_names, record.product_names
    measured_s = run.horizon_s - run.warmup_s
    kpis, rows, slo_table = _kpis(record)
    client = calls_rec.client_latency
    journeys = _journey_table(calls_rec.journeys, record.journey_names)
    ledger = ledger_table(rows, run.start)

    tables = {
        "timeseries": _timeseries(calls_rec, partners, products, run),
        "timeseries_latency": _timeseries_latency(calls_rec.latency_by_bin, products, run),
        "timeseries_wait": _timeseries_wait(calls_rec.wait_by_bin, record.pool_names, run),
        "by_partner": _by_partner(record),
        "by_product": _by_product(record),
        "by_pool": _by_pool(record, measured_s),
        "journeys": journeys,
        "partners": partners_table(record),
        "ledger": ledger,
    }
    if slo_table is not None:
        tables["slo_breaches"] = slo_table
    if calls_rec.call_log is not None:
        tables["calls"] = _call_table(calls_rec.call_log, partners, products)
    if calls_rec.breaker_transitions is not None:
        tables["breaker_transitions"] = breaker_table(
            calls_rec.breaker_transitions, partners, products, run.start
        )

    hists = {f"product:{n}": h for n, h in zip(products, calls_rec.latency_by_product, strict=True)}
    hists.update(
        {f"partner:{n}": h for n, h in zip(partners, calls_rec.latency_by_partner, strict=True)}
    )
    hists["client"] = client
    manifest = {
        "scenario_name": spec.name,
        "scenario_source": source,
        "scenario": scenario_raw,
        "seed": record.seed,
        "start": run.start.isoformat(),
        "currency": spec.currency,
        "horizon_s": run.horizon_s,
        "warmup_s": run.warmup_s,
        "time_bin_s": run.time_bin_s,
        "package_version": _version(),
        "git_revision": _git_revision(),
        "wall_time_s": record.wall_s,
        "events": record.events,
        "attempts_simulated": calls_rec.attempts,
        "sim_end_s": record.sim_end_s,
        "windows_s": [list(w) for w in record.windows] if record.windows is not None else None,
        "warnings": storm_warnings(record) + (warmup.warnings() if warmup is not None else []),
        "warmup_auto": warmup.as_dict() if warmup is not None else None,
        "windowed_evaluation": _evaluation(record),
        "numpy_version": np.__version__,
        "pandas_version": pd.__version__,
    }
    return Results(kpis, tables, manifest, hists)


def _evaluation(record: RunRecord) -> dict[str, Any] | None:
    """Windowed traffic: which hours were evaluated from simulated traffic, which booked."""
    ev = record.evaluation
    if ev is None:
        return None
    return {
        "simulated_s": [list(iv) for iv in ev.simulated],
        "simulated_total_s": sum(b - a for a, b in ev.simulated),
        "booked_s": ev.booked_s,
        "down_windows_s": [[a, b, list(pools)] for a, b, pools in ev.down_windows],
        "availability": "the horizon's outage timeline (all hours)",
        "availability_published": {
            "simulated_downtime_s": ev.published_simulated_s,
            "booked_downtime_s": ev.published_booked_s,
            "booked_rule": "q^5 (5 - 4q) of booked time, q = booked share without a good answer",
        },
        "slo_periods": {
            "simulated": ev.slo_simulated_periods,
            "booked": ev.slo_booked_periods,
            "booked_metrics": ["error_rate", "availability"],
        },
        "replayed_limits": list(ev.replayed_limits),
        "replayed_attempts": ev.replayed_attempts,
    }


def _count_frame(group: np.ndarray, counts: CallCounts, n_groups: int) -> np.ndarray:
    """Counts by (group, outcome) as an (n_groups, 6) array."""
    out = np.zeros((n_groups, N_OUTCOMES), dtype=counts.count.dtype)
    if counts.count.size:
        np.add.at(out, (group, counts.outcome), counts.count)
    return out


def _with_counts(df: pd.DataFrame, counts: np.ndarray) -> pd.DataFrame:
    for i, o in enumerate(OUTCOME_NAMES):
        df[f"calls_{o}"] = counts[:, i]
    total = counts.sum(axis=1)
    df["calls_total"] = total
    with np.errstate(invalid="ignore", divide="ignore"):
        df["success_rate"] = np.where(total > 0, counts[:, 0] / np.maximum(total, 1), np.nan)
    return df


def _money_by(money: MoneyCells, group: np.ndarray, size: int) -> np.ndarray:
    """Money summed by ``group`` (an axis of ``money``), in booking order."""
    out = np.zeros(size)
    for g, v in zip(group.tolist(), money.amount.tolist(), strict=True):
        out[g] += v
    return out


def _timeseries(calls: CallAggregates, partners, products, run) -> pd.DataFrame:
    c = calls.counts
    dtype = c.count.dtype
    key_counts: dict[tuple[int, int, int], np.ndarray] = {}
    for b, q, k, o, v in zip(
        c.bin.tolist(),
        c.partner.tolist(),
        c.product.tolist(),
        c.outcome.tolist(),
        c.count.tolist(),
        strict=True,
    ):
        row = key_counts.setdefault((b, q, k), np.zeros(N_OUTCOMES, dtype=dtype))
        row[o] += v
    revenue = _money_cells(calls.revenue)
    cost = _money_cells(calls.cost)
    f = calls.first_attempts
    first = dict(
        zip(
            zip(f.bin.tolist(), f.partner.tolist(), f.product.tolist(), strict=True),
            f.count.tolist(),
            strict=True,
        )
    )
    levers = lever_cells(calls.client_levers) if calls.client_levers is not None else None
    rows = sorted({*key_counts, *revenue, *cost, *(levers or ())})
    cols = [f"calls_{o}" for o in OUTCOME_NAMES]
    if not rows:
        return pd.DataFrame(
            columns=[
                "bin",
                "t_start_s",
                "time",
                "partner",
                "product",
                *cols,
                "calls_total",
                "first_attempts",
                "revenue",
                "cost",
                *(LEVER_COLUMNS if levers is not None else ()),
            ]
        )
    bin_s = c.bin_s
    b = np.array([r[0] for r in rows])
    counts = np.array([key_counts.get(r, np.zeros(N_OUTCOMES, dtype=dtype)) for r in rows])
    df = pd.DataFrame(
        {
            "bin": b,
            "t_start_s": b * bin_s,
            "time": pd.Timestamp(run.start) + pd.to_timedelta(b * bin_s, unit="s"),
            "partner": pd.Categorical.from_codes([r[1] for r in rows], categories=partners),
            "product": pd.Categorical.from_codes([r[2] for r in rows], categories=products),
        }
    )
    for i, col in enumerate(cols):
        df[col] = counts[:, i]
    df["calls_total"] = counts.sum(axis=1)
    df["first_attempts"] = np.array([first.get(r, 0) for r in rows], dtype=f.count.dtype)
    df["revenue"] = [revenue.get(r, 0.0) for r in rows]
    df["cost"] = [cost.get(r, 0.0) for r in rows]
    if levers is not None:
        for i, col in enumerate(LEVER_COLUMNS):
            df[col] = np.array([levers.get(r, (0, 0))[i] for r in rows], dtype=np.int64)
    return df


def _money_cells(money: MoneyCells) -> dict[tuple[int, int, int], float]:
    """``{(bin, partner, product): amount}``; every table of the run shares one bin width."""
    return dict(
        zip(
            zip(money.bin.tolist(), money.partner.tolist(), money.product.tolist(), strict=True),
            money.amount.tolist(),
            strict=True,
        )
    )


def _timeseries_latency(lb: BinLatency, products, run) -> pd.DataFrame:
    rows = []
    for b, k, h in zip(lb.bin.tolist(), lb.product.tolist(), lb.histograms, strict=True):
        p50, p95, p99 = h.quantiles([0.5, 0.95, 0.99])
        rows.append((b, b * lb.bin_s, products[k], h.count, h.mean, p50, p95, p99))
    df = pd.DataFrame(
        rows,
        columns=[
            "bin",
            "t_start_s",
            "product",
            "calls_ok",
            "latency_mean_s",
            "latency_p50_s",
            "latency_p95_s",
            "latency_p99_s",
        ],
    )
    df["time"] = pd.Timestamp(run.start) + pd.to_timedelta(df["t_start_s"], unit="s")
    return df


def _timeseries_wait(w: PoolWaitSums, pools: Sequence[str], run) -> pd.DataFrame:
    """Backend queue waits by (time bin of arrival, pool): admitted attempts, summed and mean
    wait (seconds)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(w.admitted > 0, w.wait_sum_s / np.maximum(w.admitted, 1), np.nan)
    t_start = w.bin * w.bin_s
    return pd.DataFrame(
        {
            "bin": w.bin,
            "t_start_s": t_start.astype(np.float64),
            "time": pd.Timestamp(run.start) + pd.to_timedelta(t_start, unit="s"),
            "pool": pd.Categorical.from_codes(w.pool, categories=list(pools)),
            "admitted": w.admitted,
            "wait_sum_s": w.wait_sum_s,
            "wait_mean_s": mean,
        }
    )


def _journey_table(journeys: JourneyCounts, names: Sequence[str]) -> pd.DataFrame:
    agg: dict[tuple[str, str], int] = {}
    for j, e, n in zip(
        journeys.journey.tolist(), journeys.ending.tolist(), journeys.count.tolist(), strict=True
    ):
        key = (names[j], JOURNEY_ENDINGS[e])
        agg[key] = agg.get(key, 0) + n
    df = pd.DataFrame(
        [(j, e, n) for (j, e), n in sorted(agg.items())], columns=["journey", "ending", "count"]
    )
    if len(df):
        df["share"] = df["count"] / df.groupby("journey")["count"].transform("sum")
    else:
        df["share"] = pd.Series(dtype=float)
    return df


def _by_partner(record: RunRecord) -> pd.DataFrame:
    calls = record.calls
    n = len(record.partner_names)
    counts = _count_frame(calls.counts.partner, calls.counts, n)
    df = pd.DataFrame(
        {
            "partner": list(record.partner_names),
            "integration": [p.integration for p in record.partners],
            "sector": [p.sector for p in record.partners],
            "sessions": list(record.sessions_by_partner),
            "refreshes": list(record.refreshes_by_partner),
        }
    )
    df = _with_counts(df, counts)
    stats = [_hist_stats(h) for h in calls.latency_by_partner]
    for col in ("latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s"):
        df[col] = [s[col] for s in stats]
    df["revenue"] = _money_by(calls.revenue, calls.revenue.partner, n)
    df["cost"] = _money_by(calls.cost, calls.cost.partner, n)
    started = np.zeros(n)
    completed = np.zeros(n)
    j = calls.journeys
    for p, e, c in zip(j.partner.tolist(), j.ending.tolist(), j.count.tolist(), strict=True):
        started[p] += c
        if e == JourneyEnding.COMPLETED:
            completed[p] += c
    df["journeys_started"] = started
    df["journeys_completed"] = completed
    with np.errstate(invalid="ignore", divide="ignore"):
        df["conversion_rate"] = np.where(started > 0, completed / np.maximum(started, 1), np.nan)
    if calls.client_levers is not None:
        for col, values in lever_totals_by_partner(calls.client_levers, n).items():
            df[col] = values
    return df


def _by_product(record: RunRecord) -> pd.DataFrame:
    spec = record.spec
    calls = record.calls
    P = len(record.product_names)
    counts = _count_frame(calls.counts.product, calls.counts, P)
    prods = list(spec.bank.products.values())
    df = pd.DataFrame(
        {
            "product": list(record.product_names),
            "kind": [p.kind for p in prods],
            "pool": [p.pool for p in prods],
        }
    )
    df = _with_counts(df, counts)
    stats = [_hist_stats(h) for h in calls.latency_by_product]
    for col in ("latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s"):
        df[col] = [s[col] for s in stats]
    df["revenue"] = _money_by(calls.revenue, calls.revenue.product, P)
    df["cost"] = _money_by(calls.cost, calls.cost.product, P)
    return df


def _by_pool(record: RunRecord, measured_s: float) -> pd.DataFrame:
    calls = record.calls
    spec = record.spec
    product_pool = [record.pool_names.index(p.pool) for p in spec.bank.products.values()]
    c = calls.counts
    rejected = np.zeros(len(record.pools), dtype=c.count.dtype)
    for k, o, v in zip(c.product.tolist(), c.outcome.tolist(), c.count.tolist(), strict=True):
        if o == Outcome.OVERLOADED:
            rejected[product_pool[k]] += v
    rows = []
    for i, pool in enumerate(record.pools):
        n = float(calls.wait_count[i])
        rows.append(
            {
                "pool": pool.name,
                "servers": pool.servers,
                "servers_min": pool.servers_min,
                "servers_mean": pool.capacity_s / measured_s,
                "servers_max": pool.servers_max,
                "queue_limit": pool.queue_limit if pool.queue_limit is not None else -1,
                "utilization": pool.busy_s / pool.capacity_s,
                "mean_busy_servers": pool.busy_s / measured_s,
                "mean_queue_length": pool.queue_s / measured_s,
                "wait_mean_s": float(calls.wait_sum_s[i]) / n if n else NAN,
                "wait_max_s": _pool_wait_max(calls, i),
                "admitted": n,
                "rejected": int(rejected[i]),
                "rejected_while_down": pool.rejected_down,
                "dropped_expired": pool.dropped_expired,
                "shed_background": pool.shed_background,
                "availability": 1.0 - union_length(pool.downtime) / measured_s,
            }
        )
    tp = record.token_pool
    if tp is not None:
        rows.append(
            {
                "pool": tp.name,
                "servers": tp.servers,
                "servers_min": tp.servers,
                "servers_mean": float(tp.servers),
                "servers_max": tp.servers,
                "queue_limit": -1,
                "utilization": tp.busy_s / (tp.servers * measured_s),
                "mean_busy_servers": tp.busy_s / measured_s,
                "mean_queue_length": tp.queue_s / measured_s,
                "wait_mean_s": NAN,
                "wait_max_s": NAN,
                "admitted": record.token_requests,
                "rejected": 0,
                "rejected_while_down": 0,
                "dropped_expired": 0,
                "shed_background": 0,
                "availability": 1.0,
            }
        )
    return pd.DataFrame(rows)


def _pool_wait_max(calls: CallAggregates, pool: int) -> float:
    waits = calls.wait_max.wait_max_s[calls.wait_max.pool == pool]
    return float(waits.max()) if waits.size else NAN


def _call_table(log: Mapping[str, np.ndarray], partners, products) -> pd.DataFrame:
    if not log:
        return pd.DataFrame(columns=list(CALL_LOG_COLUMNS))
    return pd.DataFrame(
        {
            "t_s": log["t_s"].astype(float),
            "partner": pd.Categorical.from_codes(log["partner"].astype(int), categories=partners),
            "product": pd.Categorical.from_codes(log["product"].astype(int), categories=products),
            "user": log["user"].astype(np.int64),
            "session": log["session"].astype(np.int64),
            "attempt": log["attempt"].astype(np.int64),
            "background": log["background"].astype(bool),
            "outcome": pd.Categorical.from_codes(
                log["outcome"].astype(int), categories=list(OUTCOME_NAMES)
            ),
            "latency_s": log["latency_s"].astype(float),
            "wait_s": np.where(log["wait_s"] < 0, np.nan, log["wait_s"]).astype(float),
            "overhead_s": log["overhead_s"].astype(float),
            "auth_coin": log["auth_coin"].astype(float),
            "token_service_s": log["token_service_s"].astype(float),
        }
    )
