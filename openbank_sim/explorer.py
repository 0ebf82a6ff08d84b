"""``explore``: an ipywidgets panel for pulling a scenario's levers and seeing what moves.

A strategist picks levers (servers, rate limits, partner size, onboarding mode, costs); each
becomes a slider or a drop-down, and every change runs the scenario again with a quick horizon
(stated on the panel) and redraws a KPI card (with 95 % intervals when replications are on) and
two or three figures. The panel works in Jupyter; its state (:attr:`Explorer.results`,
:attr:`Explorer.kpis`, :attr:`Explorer.figures`, :attr:`Explorer.card`) is plain Python, so its
callbacks run and are tested without a browser.

A lever is ``{dotted key: choices}``: a list or tuple of values gives a drop-down; a dict
``{"low": a, "high": b}`` (optionally ``"step"``) gives a slider, integer exactly where the
scenario's key takes only integers.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .analysis.results import Results
from .errors import ScenarioError
from .spec.scenario import Scenario, load_scenario, takes_only_integers
from .spec.units import format_duration

__all__ = ["Explorer", "default_levers", "explore"]

QUICK_WINDOWS = {"every": "1d", "length": "1h", "warmup": "10m", "placement": "stratified"}
"""Quick mode of a full-traffic scenario of a day or more: windowed traffic, one hour simulated
per day, placed over the hour-of-week load levels (about 5x faster on ``ecommerce``, KPIs within
a few per cent; README "Windowed traffic")."""
QUICK_HORIZON_S = 86400.0
"""A full-traffic scenario that cannot take windows simulates at most one day."""


def _quick_overrides(scenario: Scenario, horizon_s: float | None, quick: bool) -> dict[str, Any]:
    """The overrides that make every run of the panel quick (empty: run as it stands)."""
    run = scenario.spec.run
    out: dict[str, Any] = {}
    if horizon_s is not None and horizon_s != run.horizon_s:
        out["run.horizon"] = format_duration(horizon_s)
        if run.warmup_s >= horizon_s:
            out["run.warmup"] = "0s"
    if not quick or run.traffic == "windowed":
        return out
    if (horizon_s or run.horizon_s) >= QUICK_HORIZON_S:
        windowed = {**out, "run.traffic": "windowed", "run.windows": dict(QUICK_WINDOWS)}
        try:
            scenario.with_overrides(windowed)
            return windowed
        except ScenarioError:
            pass
    if (horizon_s or run.horizon_s) > QUICK_HORIZON_S:
        out["run.horizon"] = format_duration(QUICK_HORIZON_S)
        if run.warmup_s >= QUICK_HORIZON_S:
            out["run.warmup"] = "0s"
    return out


def _quick_note(scenario: Scenario, quick: Mapping[str, Any]) -> str:
    """What the panel's runs are, in words (shown on the panel)."""
    run = scenario.spec.run
    horizon = quick.get("run.horizon", format_duration(run.horizon_s))
    if "run.traffic" in quick:
        return (
            f"quick mode for interactivity: windowed traffic, one hour simulated per day "
            f"(stratified over load levels) over run.horizon = {horizon}; a full run can "
            "differ by a few per cent"
        )
    if "run.horizon" in quick:
        return f"quick mode for interactivity: run.horizon = {horizon} " + (
            f"(the scenario's is {format_duration(run.horizon_s)})"
        )
    return f"runs as the scenario stands: run.horizon = {horizon}"


CARD_KPIS = (
    ("success_rate", "success rate", "%"),
    ("latency_p95_s", "p95 latency", "ms"),
    ("throughput_ok_per_s", "ok calls", "/s"),
    ("calls_rate_limited", "429s", ""),
    ("revenue_total", "revenue", "money"),
    ("npv", "NPV", "money"),
    ("partners_live_end", "partners live", ""),
    ("payback_month", "payback", "month"),
)
"""What the KPI card shows, in order: (KPI, label, unit); a KPI the run lacks is left out."""


def _get(raw: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path`` of a scenario dict, or None where it is not set."""
    node: Any = raw
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node


def default_levers(scenario: Scenario) -> dict[str, Any]:
    """Levers worth pulling in ``scenario``: each pool's servers, each gateway limit's rate,
    the first partner's users and, with ``[onboarding]``, the integration mode."""
    raw = scenario.as_dict()
    levers: dict[str, Any] = {}
    for name, pool in (raw.get("bank", {}).get("pools") or {}).items():
        n = int(pool.get("servers", 1))
        levers[f"bank.pools.{name}.servers"] = {"low": 1, "high": max(4 * n, 8)}
    for i, limit in enumerate(raw.get("gateway", {}).get("limits") or []):
        rate = limit.get("rate")
        if isinstance(rate, (int, float)) and rate > 0:
            levers[f"gateway.limits.{i}.rate"] = {"low": rate / 4, "high": rate * 4}
    partners = raw.get("partners") or []
    if partners and isinstance(partners[0].get("users"), int):
        users = partners[0]["users"]
        levers["partners.0.users"] = {"low": max(1, users // 4), "high": users * 4}
    if "onboarding" in raw:
        levers["onboarding.integration"] = ["api", "traditional"]
    return levers


class Explorer:
    """A scenario, its levers as widgets, and the last run they gave.

    Attributes:
        scenario: the scenario as given (before the quick horizon and the levers).
        controls: dotted key -> its widget.
        card: the KPI card (an ``ipywidgets.HTML``); ``status``: what ran and how long.
        results: the last run's :class:`Results` (replication 0 when replications are on).
        kpis: the card's numbers: KPI -> (mean, low, high) (low/high NaN for one run).
        figures: the figures of the last run (matplotlib Figures).
        runs: how many times the panel has run the scenario.
        panel: the whole panel (an ``ipywidgets.VBox``); Jupyter shows it when it is the
            last expression of a cell.
    """

    def __init__(
        self,
        scenario: Scenario,
        levers: Mapping[str, Any],
        *,
        horizon_s: float | None,
        replications: int,
        seed: int | None,
        quick: bool = True,
    ) -> None:
        import ipywidgets as w

        self.scenario = scenario
        self.replications = replications
        self.seed = scenario.spec.run.seed if seed is None else seed
        self._quick = _quick_overrides(scenario, horizon_s, quick)
        self.horizon_note = (
            _quick_note(scenario, self._quick)
            + f"; seed {self.seed}"
            + (f"; {replications} replications, 95 % intervals" if replications > 1 else "")
        )
        self.controls = {key: self._widget(w, key, choice) for key, choice in levers.items()}
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.card = w.HTML()
        self.status = w.HTML()
        self._plots = w.Output()
        self.results: Results | None = None
        self.kpis: dict[str, tuple[float, float, float]] = {}
        self.figures: list[Any] = []
        self.runs = 0
        self.panel = w.VBox(
            [
                w.HTML(f"<b>{html.escape(scenario.name)}</b>: {html.escape(self.horizon_note)}"),
                w.VBox(list(self.controls.values())),
                self.status,
                self.card,
                self._plots,
            ]
        )

    def _widget(self, w: Any, key: str, choice: Any) -> Any:
        raw = self.scenario.as_dict()
        current = _get(raw, key)
        from .plots import param_label

        label = param_label(key, raw)  # in words with its unit; the key path is the tooltip
        style = {"description_width": "240px"}
        layout = w.Layout(width="600px")
        if isinstance(choice, (list, tuple)):
            options = list(choice)
            if not options:
                raise ScenarioError("a drop-down needs at least one value", path=f"levers.{key}")
            value = current if current in options else options[0]
            return w.Dropdown(
                options=options,
                value=value,
                description=label,
                tooltip=key,
                style=style,
                layout=layout,
            )
        if not isinstance(choice, Mapping) or not {"low", "high"} <= set(choice):
            raise ScenarioError(
                "expected a list of values (a drop-down) or {low, high[, step]} (a slider)",
                path=f"levers.{key}",
                value=choice,
            )
        low, high = choice["low"], choice["high"]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (low, high)):
            raise ScenarioError("low and high must be finite numbers", path=f"levers.{key}")
        if not low < high:
            raise ScenarioError(f"low ({low}) must be below high ({high})", path=f"levers.{key}")
        self.scenario.with_overrides({key: low})  # a key the scenario does not take fails here
        integer = takes_only_integers(raw, key, low)
        if isinstance(current, bool) or not isinstance(current, (int, float)):
            current = low
        value = min(max(current, low), high)
        if integer:
            return w.IntSlider(
                value=round(value),
                min=math.ceil(low),
                max=math.floor(high),
                step=int(choice.get("step", 1)),
                description=label,
                tooltip=key,
                continuous_update=False,
                style=style,
                layout=layout,
            )
        return w.FloatSlider(
            value=float(value),
            min=float(low),
            max=float(high),
            step=float(choice.get("step", (high - low) / 100)),
            description=label,
            tooltip=key,
            continuous_update=False,
            readout_format=".3g",
            style=style,
            layout=layout,
        )

    @property
    def overrides(self) -> dict[str, Any]:
        """The overrides of the next run: the quick horizon and every lever's value."""
        return {**self._quick, **{k: c.value for k, c in self.controls.items()}}

    def _changed(self, _change: Any) -> None:
        self.update()

    def update(self) -> None:
        """Run the scenario with the levers as they stand; redraw the card and figures."""
        import time

        from .simulation import simulate

        t0 = time.perf_counter()
        scenario = self.scenario.with_overrides(self.overrides)
        try:
            if self.replications > 1:
                from .experiments import replicate
                from .rng import replication_seed

                rep = replicate(
                    scenario, n=self.replications, seed=self.seed, executor="serial", quiet=True
                )
                summary = rep.summary
                self.kpis = {
                    k: (float(r["mean"]), float(r["ci_low"]), float(r["ci_high"]))
                    for k, r in summary.iterrows()
                }
                self.results = simulate(scenario, seed=replication_seed(self.seed, 0))
            else:
                self.results = simulate(scenario, seed=self.seed)
                self.kpis = {k: (v, math.nan, math.nan) for k, v in self.results.kpis.items()}
        except ScenarioError as err:
            self.status.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            return
        self.runs += 1
        wall = time.perf_counter() - t0
        runs = f"{self.replications} runs" if self.replications > 1 else "one run"
        self.status.value = f"<small>{runs} in {wall:.1f} s</small>"
        self.card.value = self._card_html()
        self._draw()

    def _card_html(self) -> str:
        currency = html.escape(self.scenario.spec.currency)
        cells = []
        for kpi, label, unit in CARD_KPIS:
            if kpi not in self.kpis or not math.isfinite(self.kpis[kpi][0]):
                continue
            mean, low, high = self.kpis[kpi]
            text = _with_unit(mean, unit, currency)
            if math.isfinite(low) and math.isfinite(high):
                text += (
                    f"<br><small>[{_with_unit(low, unit, currency)}, "
                    f"{_with_unit(high, unit, currency)}]</small>"
                )
            cells.append(
                "<div style='display:inline-block;margin:4px 14px 4px 0;min-width:110px'>"
                f"<div style='color:#555;font-size:85%'>{label}</div>"
                f"<div style='font-size:130%'>{text}</div></div>"
            )
        return "<div>" + "".join(cells) + "</div>"

    def _draw(self) -> None:
        from .plots import latency_throughput, money_over_time, outcome_mix, partners_live

        r = self.results
        assert r is not None
        figures = [latency_throughput(r), outcome_mix(r)]
        if "partners_live_end" in r.kpis and self.scenario.spec.onboarding is not None:
            figures.append(partners_live(r))
        elif "revenue_total" in r.kpis:
            figures.append(money_over_time(r))
        self.figures = figures
        from IPython import get_ipython

        if get_ipython() is None:  # a script or a test: the figures are in self.figures
            return
        with self._plots:
            from IPython.display import clear_output, display

            clear_output(wait=True)
            for fig in figures:
                display(fig)

    def _ipython_display_(self) -> None:  # Jupyter shows the panel
        from IPython.display import display

        display(self.panel)


def _with_unit(value: float, unit: str, currency: str) -> str:
    """A card number with its unit: shares in %, seconds in ms, money with thousands."""
    if unit == "%":
        return f"{value:.2%}"
    if unit == "ms":
        return f"{value * 1000:,.0f} ms"
    if unit == "money":
        return f"{value:,.0f} {currency}"
    if unit == "/s":
        return f"{value:,.2f}/s"
    if unit == "month":
        return f"month {value:.0f}"
    return f"{value:,.0f}"


def explore(
    scenario: Scenario | str | Path = "ecommerce",
    levers: Mapping[str, Any] | None = None,
    *,
    horizon: str | float | None = None,
    replications: int = 1,
    seed: int | None = None,
    quick: bool = True,
    run: bool = True,
) -> Explorer:
    """An interactive panel over ``scenario``'s ``levers`` (see the module docstring).

    Args:
        scenario: a Scenario, a file or a shipped name.
        levers: dotted key -> a list of values (drop-down) or ``{"low", "high"[, "step"]}``
            (slider); default :func:`default_levers`.
        horizon: the horizon of each run (a duration such as ``"6h"``, or seconds); default
            the scenario's.
        quick: run full-traffic scenarios of a day or more as windowed traffic
            (:data:`QUICK_WINDOWS`), or, where they cannot take windows, over one day.
        replications: runs per change; above 1 the card shows 95 % intervals.
        seed: the seed of every run (default the scenario's ``run.seed``).
        run: run once now, so the panel opens with numbers.

    Raises:
        ScenarioError: a lever that is not a key of the scenario, or a bad range or value.
        ImportError: ipywidgets is not installed (``pip install 'openbank_sim[notebook]'``).
    """
    try:
        import ipywidgets  # noqa: F401
    except ImportError as err:  # pragma: no cover - the notebook extra is missing
        raise ImportError("explore needs ipywidgets: pip install 'openbank_sim[notebook]'") from err
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise ScenarioError("must be an integer >= 1", path="replications", value=replications)
    horizon_s = None
    if horizon is not None:
        from .spec.units import parse_duration

        if isinstance(horizon, str):
            try:
                horizon_s = parse_duration(horizon)
            except ScenarioError as err:
                raise ScenarioError(err.reason, path="horizon", value=horizon) from None
        else:
            horizon_s = horizon
        if isinstance(horizon_s, bool) or not (
            isinstance(horizon_s, (int, float)) and math.isfinite(horizon_s) and horizon_s > 0
        ):
            raise ScenarioError("must be a positive duration", path="horizon", value=horizon)
    explorer = Explorer(
        scenario,
        default_levers(scenario) if levers is None else levers,
        horizon_s=None if horizon_s is None else float(horizon_s),
        replications=replications,
        seed=seed,
        quick=quick,
    )
    if run:
        explorer.update()
    return explorer
