"""A report you can send: one self-contained HTML file of a run or a sweep.

The file needs nothing beside it: figures are PNGs embedded as base64 ``data:`` URIs, the CSS
is inline, there are no links, scripts or fonts to fetch, and a Content-Security-Policy that
allows only inline styles and ``data:`` images says so to the browser. It holds, in order:

1. the question: the scenario's name and description;
2. the levers: horizon and run control, backend pools, the gateway's auth and limits, the
   client, the partners (read from the scenario the run used, as its manifest keeps it), and
   for a sweep the varied parameters;
3. the KPI table with units and, where one exists, a 95 % interval (a single run: batch means,
   :meth:`Results.interval`; a sweep: the replications' Student-t intervals of its summary);
4. figures (:mod:`openbank_sim.plots`), warnings and provenance (package version, seed,
   SHA-256 of the scenario as JSON with sorted keys, git revision, ...).

:func:`write_html` writes it atomically (a temporary file in the same directory, then a
rename): a crash leaves no half-written report. :func:`check_html_target` refuses, before
anything runs, a path that is a directory or lies in a directory that does not exist.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ScenarioError
from ..spec.units import format_duration
from .kpis import KPI_GROUPS, kpi_unit

if TYPE_CHECKING:
    import pandas as pd

    from ..spec.types import Spec
    from .results import Results

__all__ = [
    "HtmlReport",
    "check_html_target",
    "render_html",
    "run_report",
    "scenario_digest",
    "scenario_levers",
    "sweep_report",
    "write_html",
]

FIGURE_DPI = 100
"""Resolution of the embedded figures (dots per inch); about 800 px wide."""
MAX_PARTNER_ROWS = 40
"""Partners listed one by one among the levers; the rest are counted."""

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #ccc; padding-bottom: 0.2rem;
     margin-top: 2rem; }
h3 { font-size: 1.05rem; margin-bottom: 0.3rem; }
p.question { font-size: 1.1rem; margin-top: 0.2rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #555; }
ul.warnings li { color: #8a4b00; }
p.note { font-size: 0.85rem; color: #555; }
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass
class HtmlReport:
    """What one report shows; :func:`render_html` turns it into the HTML text.

    Attributes:
        title: the heading (the scenario's name).
        question: what the scenario asks (its description).
        levers: (heading, table) pairs: the scenario's inputs that decide the answer.
        kpi_title: the heading of ``kpis``.
        kpis: the KPI table, already formatted as text (columns as shown).
        tables: more (heading, table) pairs shown after the KPIs (sensitivity indices, ...).
        figures: (caption, matplotlib Figure) pairs, embedded as PNG.
        warnings: plain-words warnings about the numbers.
        provenance: name -> value, as shown.
        notes: short remarks printed under the KPI table.
    """

    title: str
    question: str
    levers: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    kpi_title: str = "Key performance indicators"
    kpis: pd.DataFrame | None = None
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# The target file
# --------------------------------------------------------------------------------------------


def check_html_target(path: str | Path, option: str = "path") -> Path:
    """``path`` as a place a report can be written: not a directory, in a directory that
    exists. Nothing is created.

    Raises:
        ScenarioError: naming ``option`` (``--html`` on the command line), the path and why.
    """
    p = Path(path)
    if p.is_dir():
        raise ScenarioError(
            "is a directory; give the report's file name, e.g. report.html",
            path=option,
            value=str(path),
        )
    parent = p.parent
    if not parent.is_dir():
        reason = (
            f"{parent} is a file, so no report can be written inside it"
            if parent.exists()
            else f"the directory {parent} does not exist (it is not created)"
        )
        raise ScenarioError(reason, path=option, value=str(path))
    return p


def write_html(path: str | Path, text: str, option: str = "path") -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8): a temporary file in the same directory,
    flushed to disk, then renamed over ``path``. On any failure the temporary file is removed
    and ``path`` is as it was."""
    target = check_html_target(path, option)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _number(value: Any) -> str:
    """A number as the text tables show it: ``-`` for NaN, thousands separators, 4 significant
    digits, never scientific notation; other values as ``str``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    v = float(value)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.2f}"
    digits = max(0, 3 - math.floor(math.log10(abs(v))))
    return f"{v:.{digits}f}".rstrip("0").rstrip(".")


def _table(df: pd.DataFrame) -> str:
    """A DataFrame as an HTML table, every cell escaped; numbers right-aligned."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            numeric = isinstance(v, int | float) and not isinstance(v, bool)
            cls = ' class="num"' if numeric else ""
            cells.append(f"<td{cls}>{html.escape(_number(v))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(rows) + "\n</table>"


def _png_data_uri(fig: Any) -> tuple[str, int, int]:
    """A matplotlib Figure as a ``data:image/png;base64,...`` URI, with its size in pixels."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    width, height = (round(x) for x in fig.get_size_inches() * FIGURE_DPI)
    return (
        "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"),
        width,
        height,
    )


def render_html(report: HtmlReport) -> str:
    """The report as one HTML document (no external resources)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(report.title)} - openbank_sim report</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(report.title)}</h1>",
        f'<p class="question">{esc(report.question)}</p>',
    ]
    if report.levers:
        parts.append("<h2>Levers</h2>")
        for heading, df in report.levers:
            parts += [f"<h3>{esc(heading)}</h3>", _table(df)]
    if report.kpis is not None:
        parts += [f"<h2>{esc(report.kpi_title)}</h2>", _table(report.kpis)]
        parts += [f'<p class="note">{esc(n)}</p>' for n in report.notes]
    for heading, df in report.tables:
        parts += [f"<h2>{esc(heading)}</h2>", _table(df)]
    if report.figures:
        parts.append("<h2>Figures</h2>")
        for caption, fig in report.figures:
            uri, width, height = _png_data_uri(fig)
            parts.append(
                f'<figure><img src="{uri}" width="{width}" height="{height}" '
                f'alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'
            )
    parts.append("<h2>Warnings</h2>")
    if report.warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in report.warnings)
        parts.append(f'<ul class="warnings">{items}</ul>')
    else:
        parts.append("<p>None.</p>")
    parts.append("<h2>Provenance</h2>")
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in report.provenance.items()
    )
    parts += [f"<table>{rows}</table>", "</body>", "</html>", ""]
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# What a report shows
# --------------------------------------------------------------------------------------------


def scenario_digest(raw: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the scenario table as JSON with sorted keys (dates as ISO strings),
    the form :meth:`Scenario.to_json` writes: the same scenario gives the same digest."""
    text = json.dumps(raw, default=str, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _spec_of(raw: Mapping[str, Any] | None) -> Spec | None:
    """The validated spec of a scenario table kept in a manifest (None when there is none or
    it no longer validates)."""
    if not isinstance(raw, Mapping):
        return None
    from ..spec.scenario import Scenario

    try:
        return Scenario(raw).spec
    except ScenarioError:
        return None


def _duration(seconds: float) -> str:
    return "none" if math.isinf(seconds) else format_duration(seconds)


def _limit_parameters(rule: Any) -> str:
    s = rule.spec
    if s.algorithm == "token_bucket":
        return f"rate {_number(s.rate_per_s)}/s, burst {s.burst}"
    if s.algorithm == "concurrency":
        return f"at most {s.limit} at once"
    text = f"{s.limit} per {format_duration(s.window_s)}"
    return text + (f" ({s.variant})" if s.algorithm == "sliding_window" else "")


def scenario_levers(raw: Mapping[str, Any] | None) -> list[tuple[str, pd.DataFrame]]:
    """The scenario's levers as (heading, table) pairs: run control, backend pools, the
    gateway's auth and limits, the client and the partners, read from the scenario table
    ``raw`` (as a run's or a sweep's manifest keeps it). Empty when ``raw`` is missing or no
    longer validates."""
    import pandas as pd

    spec = _spec_of(raw)
    if spec is None:
        return []
    run = spec.run
    out: list[tuple[str, pd.DataFrame]] = []
    control = [
        ("start", run.start.isoformat()),
        ("horizon", format_duration(run.horizon_s)),
        ("warm-up", "auto (MSER-5)" if run.warmup_auto else format_duration(run.warmup_s)),
        ("time bin", format_duration(run.time_bin_s)),
        ("traffic", run.traffic),
        ("seed (scenario)", str(run.seed)),
        ("currency", spec.currency),
    ]
    out.append(("Horizon and run control", pd.DataFrame(control, columns=["lever", "value"])))
    pools = [
        {
            "pool": p.name,
            "servers": p.servers,
            "queue limit": "unbounded" if p.queue_limit is None else p.queue_limit,
            "capacity schedule": f"{len(p.schedule)} change(s)" if p.schedule else "none",
            "outages": "yes" if p.outages is not None else "none",
            f"cost per server-hour ({spec.currency})": p.cost_per_server_hour,
        }
        for p in spec.bank.pools.values()
    ]
    out.append(("Backend pools (capacity)", pd.DataFrame(pools)))
    gw = spec.gateway
    if gw.auth is not None:
        auth = [
            ("token lifetime", format_duration(gw.auth.token_ttl_s)),
            ("token servers", str(gw.auth.servers)),
            ("failure rate", _number(gw.auth.failure_rate)),
        ]
        out.append(("Gateway auth (OAuth2 tokens)", pd.DataFrame(auth, columns=["lever", "value"])))
    if gw.limits:
        limits = [
            {
                "limit": r.name,
                "scope": r.scope,
                "algorithm": r.spec.algorithm,
                "parameters": _limit_parameters(r),
                "products": "all" if r.products is None else ", ".join(r.products),
                "unattended only": "yes" if r.background_only else "no",
            }
            for r in gw.limits
        ]
        out.append(("Gateway rate limits", pd.DataFrame(limits)))
    else:
        out.append(("Gateway rate limits", pd.DataFrame({"limit": ["none"]})))
    c = spec.client
    client = [
        ("timeout", _duration(c.timeout_s)),
        ("attempts at most", str(c.max_attempts)),
        ("retry on", ", ".join(sorted(c.retry_on)) or "nothing"),
        ("respects Retry-After", "yes" if c.respect_retry_after else "no"),
    ]
    out.append(("Client (default)", pd.DataFrame(client, columns=["lever", "value"])))
    partners = [p for p in spec.partners if not p.template]
    rows = [
        {
            "partner": p.name,
            "sector": p.sector,
            "integration": p.integration,
            "users": p.users,
            "sessions per user-day": p.sessions_per_user_day,
            "journey": p.journey,
            "live from": format_duration(p.live_from_s) if p.live_from_s else "start",
            "growth per year": p.growth_per_year,
        }
        for p in partners[:MAX_PARTNER_ROWS]
    ]
    heading = f"Partners ({len(partners)})"
    if len(partners) > MAX_PARTNER_ROWS:
        heading += f", the first {MAX_PARTNER_ROWS} listed"
    if spec.onboarding is not None:
        heading += "; more go live through onboarding"
    out.append((heading, pd.DataFrame(rows)))
    return out


def _interval_text(low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return "-"
    return f"[{_number(low)}, {_number(high)}]"


def _kpi_table(results: Results) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The run's KPIs with units and batch-means intervals; notes and interval warnings."""
    import pandas as pd

    from .intervals import INTERVAL_KPIS, BatchCorrelationWarning

    currency = results.manifest.get("currency")
    currency = currency if isinstance(currency, str) else ""
    intervals: dict[str, str] = {}
    notes: list[str] = []
    caught_messages: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", BatchCorrelationWarning)
            for kpi in INTERVAL_KPIS:
                iv = results.interval(kpi)
                flag = "" if iv.uncorrelated else " (batches correlated: too narrow)"
                intervals[kpi] = _interval_text(iv.low, iv.high) + flag
        caught_messages = [str(w.message) for w in caught]
        notes.append(
            "Intervals: 95 %, from this one run by batch means of 20 batches "
            f"({', '.join(INTERVAL_KPIS)}); other KPIs have none from one run (replicate)."
        )
    except ValueError as err:
        notes.append(f"No single-run intervals: {err}")
    rows = []
    undefined = []
    for group, names in KPI_GROUPS:
        for name in names:
            if name not in results.kpis:
                continue
            value = results.kpis[name]
            if isinstance(value, float) and math.isnan(value):
                undefined.append(name)
                continue
            rows.append(
                {
                    "group": group,
                    "KPI": name,
                    "value": value,
                    "unit": kpi_unit(name, currency),
                    "95 % interval": intervals.get(name, ""),
                }
            )
    if undefined:
        notes.append(
            "Undefined in this run (a feature off, or nothing to measure), left out: "
            + ", ".join(undefined)
            + "."
        )
    return pd.DataFrame(rows), notes, caught_messages


def _provenance(manifest: Mapping[str, Any], source: str | None) -> dict[str, str]:
    raw = manifest.get("scenario")
    out = {
        "scenario": str(manifest.get("scenario_name", "-")),
        "scenario file": str(manifest.get("scenario_source") or "-"),
        "scenario SHA-256": scenario_digest(raw) if isinstance(raw, Mapping) else "not recorded",
        "seed": str(manifest.get("seed", "-")),
        "package version": str(manifest.get("package_version", "-")),
        "git revision": str(manifest.get("git_revision") or "-"),
    }
    if manifest.get("wall_time_s") is not None:
        out["run wall time"] = f"{_number(float(manifest['wall_time_s']))} s"
    if manifest.get("events") is not None:
        out["simulation events"] = _number(manifest["events"])
    if manifest.get("numpy_version"):
        out["numpy / pandas"] = f"{manifest['numpy_version']} / {manifest.get('pandas_version')}"
    if source is not None:
        out["read from"] = source
    return out


def run_report(results: Results, source: str | None = None) -> HtmlReport:
    """The report of one run: its scenario's question and levers, the KPI table with units and
    single-run intervals, figures (latency and throughput, outcome mix, latency distribution by
    partner, and money over time when the run books money), warnings and provenance.
    ``source``: where the results were read from, shown in the provenance."""
    from ..plots import latency_cdf, latency_throughput, money_over_time, outcome_mix

    m = results.manifest
    raw = m.get("scenario")
    spec = _spec_of(raw if isinstance(raw, Mapping) else None)
    name = str(m.get("scenario_name") or (spec.name if spec else "scenario"))
    question = spec.description if spec is not None and spec.description else name
    kpis, notes, interval_warnings = _kpi_table(results)
    figures: list[tuple[str, Any]] = [
        (
            "Latency percentiles and throughput of ok calls per time bin",
            latency_throughput(results),
        ),
        ("Calls per time bin by outcome", outcome_mix(results)),
        ("Response time of ok calls by partner (cumulative distribution)", latency_cdf(results)),
    ]
    ledger = results.tables.get("ledger")
    if ledger is not None and len(ledger):
        figures.append(("Cumulative revenue, cost and profit", money_over_time(results)))
    seed = m.get("seed")
    return HtmlReport(
        title=f"{name} (seed {seed})" if seed is not None else name,
        question=question,
        levers=scenario_levers(raw if isinstance(raw, Mapping) else None),
        kpis=kpis,
        figures=figures,
        warnings=[*results.warnings, *interval_warnings],
        provenance=_provenance(m, source),
        notes=notes,
    )


def sweep_report(
    definition: Mapping[str, Any],
    summary: pd.DataFrame,
    *,
    tables: Sequence[tuple[str, pd.DataFrame]] = (),
    figures: Sequence[tuple[str, Any]] = (),
    warnings: Sequence[str] = (),
    source: str | None = None,
    package_version: str = "-",
) -> HtmlReport:
    """The report of a sweep store: the base scenario's question and levers, the varied
    parameters, the summary (one row per point: each KPI's mean and 95 % interval over the
    replications, from :meth:`SweepResult.summary`), more tables and figures (sensitivity),
    warnings and provenance."""
    import pandas as pd

    raw = definition.get("scenario")
    raw = raw if isinstance(raw, Mapping) else None
    spec = _spec_of(raw)
    name = spec.name if spec is not None else "sweep"
    params = list(definition.get("vary", {}))
    levers = scenario_levers(raw)
    varied = pd.DataFrame(
        [
            {"parameter": k, "values": json.dumps(v, default=str)}
            for k, v in dict(definition.get("vary", {})).items()
        ]
    )
    replications = definition.get("replications")
    design = definition.get("design")
    levers.insert(0, (f"Varied ({design} design, {replications} replication(s) per point)", varied))
    kpis = [
        c
        for c in summary.columns
        if f"{c}_ci_low" in summary.columns and c not in params and c != "point"
    ]
    currency = spec.currency if spec is not None else ""
    shown = pd.DataFrame({c: summary[c] for c in ["point", *params, "replications"]})
    for k in kpis:
        unit = kpi_unit(k, currency)
        col = f"{k} ({unit})" if unit else k
        shown[col] = [
            _number(v)
            + ("" if math.isnan(lo) or math.isnan(hi) else f" [{_number(lo)}, {_number(hi)}]")
            for v, lo, hi in zip(
                summary[k], summary[f"{k}_ci_low"], summary[f"{k}_ci_high"], strict=True
            )
        ]
    provenance = {
        "scenario": name,
        "scenario SHA-256": scenario_digest(raw) if raw is not None else "not recorded",
        "seed": str(definition.get("seed", "-")),
        "points": str(len(definition.get("points", ()))),
        "package version": package_version,
    }
    if source is not None:
        provenance["read from"] = source
    return HtmlReport(
        title=f"{name}: sweep of {', '.join(params)}",
        question=spec.description if spec is not None and spec.description else name,
        levers=levers,
        kpi_title="Sweep summary: mean [95 % interval] over replications",
        kpis=shown,
        tables=list(tables),
        figures=list(figures),
        warnings=list(warnings),
        provenance=provenance,
        notes=[
            "Intervals: Student t over each point's replications, kept inside what the KPI "
            "can be (shares in [0, 1], widened to the Wilson interval of the pooled counts)."
        ],
    )
