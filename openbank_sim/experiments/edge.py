"""Where the edge is: one lever stepped up and back down inside one run, measured per step.

Separate runs each start empty, so a storm that outlives its trigger (hysteresis, a metastable
failure) shows only inside one run. :func:`edge` makes one run per replication in which the
lever climbs a staircase of ``levels`` values from ``low`` to ``high`` and comes back down,
each value held for ``dwell`` of simulated time (``2 x levels`` steps in all), and measures the
attempts arriving in each step (:mod:`openbank_sim.analysis.periods`): success rate, retry
amplification, mean backend wait and ok throughput, per level and direction (``up``,
``down``). Hysteresis is, per level, the success rate on the way down minus that on the way up,
paired within each run; its interval is over replications.

The staircase starts at the first multiple of ``dwell`` at or after the scenario's warm-up
(the lever at ``low`` until then) and the run ends with the last step. Replication ``r`` uses
seed ``seed + r``, so a comparison (the same edge with a client lever on and off) meets the
same users and draws: common random numbers.

Levers (each built as a transformed spec; the model is unchanged):

* ``load``: a multiplier of every partner's session arrival rate, placed as dated profile
  events (one per step) on every profile; unattended refreshes keep their rate;
* ``partners.NAME.load``: the same for one partner (given a private copy of its profile);
* ``bank.pools.NAME.servers``: the pool's servers, as a capacity schedule of one dated entry
  per step (integers >= 1; the pool's own schedule is replaced).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import ScenarioError, did_you_mean
from ..spec.bounds import EVENT_FACTOR, REPLICATIONS, SEED, SERVERS
from ..spec.profiles import Event, Profile
from ..spec.scenario import Scenario
from ..spec.types import PartnerSpec, ScheduleEntry, Spec
from ..spec.units import format_duration, parse_duration
from .executors import Executor
from .runs import as_scenario, base_scenario, execute, open_executor, scenario_json
from .stats import t_interval

if TYPE_CHECKING:
    from ..analysis.periods import PeriodCounts

__all__ = [
    "EDGE_KPIS",
    "LEVERS",
    "EdgeResult",
    "Lever",
    "Staircase",
    "edge",
    "edge_task",
    "parse_lever",
    "staircase",
    "staircase_spec",
]

LEVERS: tuple[str, ...] = ("load", "partners.NAME.load", "bank.pools.NAME.servers")
"""The keys :func:`edge` can step (NAME: a partner's or a pool's name)."""
EDGE_KPIS: tuple[str, ...] = (
    "success_rate",
    "retry_amplification",
    "backend_wait_mean_s",
    "throughput_ok_per_s",
)
"""The KPIs measured per step, as :mod:`openbank_sim.analysis.periods` defines them."""
DIRECTIONS: tuple[str, ...] = ("up", "down")
MAX_LEVELS = 1000
"""Most levels of a staircase (each is two steps and two rows per replication)."""
_PARTNER_LOAD = re.compile(r"partners\.([^.]+)\.load")
_POOL_SERVERS = re.compile(r"bank\.pools\.([^.]+)\.servers")


# --------------------------------------------------------------------------------------------
# The lever and its staircase


@dataclass(frozen=True)
class Lever:
    """A lever :func:`edge` steps.

    Attributes:
        key: the key as given (``load``, ``partners.shop.load``, ``bank.pools.core.servers``).
        kind: ``"load"``, ``"partner_load"`` or ``"servers"``.
        target: the partners (``partner_load``: the copies of one scenario entry) or the pool
            (``servers``) it acts on; empty for ``load``.
    """

    key: str
    kind: str
    target: tuple[str, ...] = ()

    @property
    def integer(self) -> bool:
        """Whether the lever takes whole numbers only."""
        return self.kind == "servers"


def parse_lever(key: str, spec: Spec) -> Lever:
    """The lever ``key`` names in ``spec``.

    Raises:
        ScenarioError: at path ``lever``: a key that is not one of :data:`LEVERS`, or a
            partner or pool the scenario does not have.
    """
    key = str(key).strip()
    if key == "load":
        return Lever(key, "load")
    m = _PARTNER_LOAD.fullmatch(key)
    if m:
        return Lever(key, "partner_load", _partners_named(m[1], spec.partners, key))
    m = _POOL_SERVERS.fullmatch(key)
    if m:
        if m[1] not in spec.bank.pools:
            raise ScenarioError(
                f"there is no pool named {m[1]!r}{did_you_mean(m[1], list(spec.bank.pools))}; "
                f"the pools are {', '.join(spec.bank.pools)}",
                path="lever",
                value=key,
            )
        return Lever(key, "servers", (m[1],))
    raise ScenarioError(
        f"cannot be stepped; the supported levers are {', '.join(LEVERS)}",
        path="lever",
        value=key,
    )


def _partners_named(name: str, partners: tuple[PartnerSpec, ...], key: str) -> tuple[str, ...]:
    """The partners of the scenario entry ``name``: itself, its copies ``name-1 ..``, or the
    partner at index ``name``."""
    live = [p for p in partners if not p.template]
    exact = [p.name for p in live if p.name == name]
    if exact:
        return tuple(exact)
    copies = [p.name for p in live if re.fullmatch(re.escape(name) + r"-[0-9]+", p.name)]
    if copies:
        return tuple(copies)
    raise ScenarioError(
        f"there is no partner named {name!r}{did_you_mean(name, [p.name for p in live])}; "
        f"the partners are {', '.join(p.name for p in live)}",
        path="lever",
        value=key,
    )


@dataclass(frozen=True)
class Staircase:
    """The lever's values over time.

    Attributes:
        values: the level values, ``low`` to ``high``.
        start_s: when the first step starts (seconds from t = 0; the lever is at ``low``
            before), a multiple of ``dwell_s`` at or after the warm-up.
        dwell_s: how long each step holds its value (whole seconds).
    """

    values: tuple[float, ...]
    start_s: float
    dwell_s: float

    @property
    def end_s(self) -> float:
        """When the last step ends (seconds)."""
        return self.start_s + 2 * len(self.values) * self.dwell_s

    def steps(self) -> list[tuple[float, float, int, str]]:
        """``(begin_s, end_s, level index, direction)`` of every step, in time order: levels
        0 .. n-1 ``up``, then n-1 .. 0 ``down``."""
        n = len(self.values)
        order = [(i, "up") for i in range(n)] + [(i, "down") for i in reversed(range(n))]
        return [
            (self.start_s + k * self.dwell_s, self.start_s + (k + 1) * self.dwell_s, i, d)
            for k, (i, d) in enumerate(order)
        ]

    def edges_s(self) -> np.ndarray:
        """The steps' edges (seconds), ``2 x levels + 1`` of them."""
        return self.start_s + self.dwell_s * np.arange(2 * len(self.values) + 1, dtype=np.float64)


def _level_number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError("must be a number", path=name, value=value)
    x = float(value)
    if not math.isfinite(x):
        raise ScenarioError("must be finite", path=name, value=value)
    return x


def staircase(
    spec: Spec, lever: Lever, low: object, high: object, levels: object, dwell: object
) -> Staircase:
    """The staircase of ``levels`` values from ``low`` to ``high`` (evenly spaced; rounded
    for an integer lever), each held for ``dwell`` (a duration like ``"10m"``, or seconds).

    Raises:
        ScenarioError: naming ``low``, ``high``, ``levels`` or ``dwell``: ``low >= high``,
            fewer than 2 levels, a dwell that is not a positive whole number of seconds, values
            outside what the lever takes (servers: whole numbers >= 1, at most one level per
            whole number; load: >= 0), or a staircase that does not fit in the scenario's
            horizon after its warm-up.
    """
    lo, hi = _level_number(low, "low"), _level_number(high, "high")
    if lo >= hi:
        raise ScenarioError(f"LOW must be below HIGH ({hi:g})", path="low", value=low)
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ScenarioError("must be a whole number >= 2", path="levels", value=levels)
    if levels > MAX_LEVELS:
        raise ScenarioError(f"must be at most {MAX_LEVELS}", path="levels", value=levels)
    if lever.integer:
        for name, x, given in (("low", lo, low), ("high", hi, high)):
            if x != math.floor(x) or x < 1:
                raise ScenarioError(
                    f"servers must be whole numbers >= 1 ({lever.key})", path=name, value=given
                )
        if hi > SERVERS.maximum:
            raise ScenarioError(SERVERS.refusal(), path="high", value=high)
        values = tuple(float(v) for v in np.round(np.linspace(lo, hi, levels)))
        if len(set(values)) < levels:
            raise ScenarioError(
                f"{levels} levels of whole servers from {lo:g} to {hi:g} repeat a value: "
                f"ask for at most {int(hi - lo) + 1}",
                path="levels",
                value=levels,
            )
    else:
        if lo < 0:
            raise ScenarioError("a load multiplier must be >= 0", path="low", value=low)
        if hi > EVENT_FACTOR.maximum:
            raise ScenarioError(EVENT_FACTOR.refusal(), path="high", value=high)
        values = tuple(float(f"{v:.12g}") for v in np.linspace(lo, hi, levels))
    dwell_s = _dwell_s(dwell)
    run = spec.run
    if run.traffic == "windowed":
        raise ScenarioError(
            "the edge needs full traffic: windowed traffic books most hours instead of "
            "simulating them; --set run.traffic=full",
            path="run.traffic",
            value=run.traffic,
        )
    if run.warmup_auto:
        raise ScenarioError(
            "the edge needs a fixed warm-up: the staircase never becomes stationary, which "
            '"auto" assumes; e.g. --set run.warmup=10m',
            path="run.warmup",
            value="auto",
        )
    start_s = math.ceil(run.warmup_s / dwell_s) * dwell_s
    stairs = Staircase(values, float(start_s), dwell_s)
    if stairs.end_s > run.horizon_s:
        raise ScenarioError(
            f"the staircase (2 x {levels} levels x {format_duration(dwell_s)} = "
            f"{format_duration(2 * levels * dwell_s)}, from {format_duration(start_s)}: the "
            f"warm-up rounded up to a whole dwell) ends after the horizon "
            f"({format_duration(run.horizon_s)}); shorten the dwell, take fewer levels, or "
            f"lengthen the horizon (--set run.horizon={format_duration(stairs.end_s)})",
            path="dwell",
            value=dwell,
        )
    return stairs


def _dwell_s(dwell: object) -> float:
    if isinstance(dwell, str):
        try:
            seconds = parse_duration(dwell)
        except ScenarioError as err:
            raise err.within("dwell") from None
    elif isinstance(dwell, int | float) and not isinstance(dwell, bool):
        seconds = float(dwell)
    else:
        raise ScenarioError("must be a duration like '10m'", path="dwell", value=dwell)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ScenarioError("must be a positive duration", path="dwell", value=dwell)
    if seconds != math.floor(seconds):
        raise ScenarioError("must be a whole number of seconds", path="dwell", value=dwell)
    return float(seconds)


# --------------------------------------------------------------------------------------------
# The transformed spec


def _at(spec: Spec, t_s: float) -> dt.datetime:
    return dt.datetime.combine(spec.run.start, dt.time()) + dt.timedelta(seconds=t_s)


def _step_events(spec: Spec, stairs: Staircase) -> tuple[Event, ...]:
    """One dated event per step (and one at ``low`` from t = 0 to the first step)."""
    spans = [(0.0, stairs.start_s, 0)] if stairs.start_s > 0 else []
    spans += [(a, b, i) for a, b, i, _ in stairs.steps()]
    out = []
    for a, b, i in spans:
        when = _at(spec, a)
        out.append(
            Event(
                month=when.month,
                day=when.day,
                factor=stairs.values[i],
                duration_s=b - a,
                time_of_day_s=when.hour * 3600 + when.minute * 60 + when.second,
                year=when.year,
            )
        )
    return tuple(out)


def _with_events(profile: Profile, name: str, events: tuple[Event, ...]) -> Profile:
    return dataclasses.replace(profile, name=name, events=(*profile.events, *events))


def staircase_spec(spec: Spec, lever: Lever, stairs: Staircase) -> Spec:
    """``spec`` with ``lever`` following ``stairs`` and the horizon at the staircase's end.

    ``load`` adds one dated event per step to every profile; ``partners.NAME.load`` gives those
    partners a private copy of their profile (named ``PROFILE@edge:PARTNER``) with the events;
    ``bank.pools.NAME.servers`` gives the pool ``low`` servers and one dated schedule entry
    per step instead of its own schedule.
    """
    run = dataclasses.replace(spec.run, horizon_s=stairs.end_s, time_bin_s=stairs.dwell_s)
    out = dataclasses.replace(spec, run=run)
    if lever.kind == "load":
        events = _step_events(spec, stairs)
        profiles = {n: _with_events(p, n, events) for n, p in spec.profiles.items()}
        return dataclasses.replace(out, profiles=MappingProxyType(profiles))
    if lever.kind == "partner_load":
        events = _step_events(spec, stairs)
        profiles = dict(spec.profiles)
        partners = []
        for p in spec.partners:
            if p.name in lever.target:
                private = f"{p.profile}@edge:{p.name}"
                profiles[private] = _with_events(spec.profiles[p.profile], private, events)
                p = dataclasses.replace(p, profile=private)
            partners.append(p)
        return dataclasses.replace(
            out, profiles=MappingProxyType(profiles), partners=tuple(partners)
        )
    (name,) = lever.target
    entries = tuple(
        ScheduleEntry(_at(spec, a), _at(spec, b), int(stairs.values[i]), False)
        for a, b, i, _ in stairs.steps()
    )
    pool = dataclasses.replace(
        spec.bank.pools[name], servers=int(stairs.values[0]), schedule=entries
    )
    pools = {**spec.bank.pools, name: pool}
    bank = dataclasses.replace(spec.bank, pools=MappingProxyType(pools))
    return dataclasses.replace(out, bank=bank)


# --------------------------------------------------------------------------------------------
# The result


@dataclass
class EdgeResult:
    """The edge of one scenario along one lever.

    Attributes:
        scenario: the scenario's name.
        lever: the lever's key.
        values: the level values, ``low`` to ``high``.
        dwell_s: each step's length (seconds); start_s: the first step's start (seconds).
        seeds: the replications' seeds.
        level: the confidence level of the intervals.
        runs: one row per (replication, step): ``lever``, ``level`` (1 = ``low``),
            ``level_value``, ``direction`` (``up``/``down``), ``replication``, ``seed``,
            ``t_start_s``, the :data:`EDGE_KPIS`, ``attempts`` and ``first_attempts``.
        summary: one row per (level, direction): ``level``, ``level_value``, ``direction``,
            ``n`` and, per KPI, ``KPI_mean``, ``KPI_ci_low``, ``KPI_ci_high`` (Student-t over
            replications, kept inside what the KPI can be: a share in [0, 1], amplification
            >= 1, waits and throughput >= 0).
        hysteresis: one row per level: ``level``, ``level_value``, ``n``, ``diff_mean``,
            ``ci_low``, ``ci_high``: the success rate down minus up, paired within runs (the
            interval kept in [-1, 1]).
    """

    scenario: str
    lever: str
    values: tuple[float, ...]
    dwell_s: float
    start_s: float
    seeds: tuple[int, ...]
    level: float
    runs: pd.DataFrame
    summary: pd.DataFrame
    hysteresis: pd.DataFrame

    @property
    def widest_gap(self) -> dict[str, float]:
        """The level whose success rate differs most between down and up: ``level``,
        ``level_value``, ``diff_mean``, ``ci_low``, ``ci_high`` (NaN when nothing was
        measured)."""
        h = self.hysteresis.dropna(subset=["diff_mean"])
        if not len(h):
            keys = ("level", "level_value", "diff_mean", "ci_low", "ci_high")
            return dict.fromkeys(keys, math.nan)
        row = h.loc[h["diff_mean"].abs().idxmax()]
        return {
            k: float(row[k]) for k in ("level", "level_value", "diff_mean", "ci_low", "ci_high")
        }

    def document(self) -> dict[str, Any]:
        """The result as a JSON-able dict (what ``edge --json`` prints and ``--out`` writes)."""
        return {
            "scenario": self.scenario,
            "lever": self.lever,
            "values": list(self.values),
            "dwell_s": self.dwell_s,
            "start_s": self.start_s,
            "seeds": list(self.seeds),
            "level": self.level,
            "summary": self.summary.to_dict(orient="records"),
            "hysteresis": self.hysteresis.to_dict(orient="records"),
            "widest_gap": self.widest_gap,
        }


_RANGES = {  # what each KPI can be: intervals are kept inside
    "success_rate": (0.0, 1.0),
    "retry_amplification": (1.0, math.inf),
    "backend_wait_mean_s": (0.0, math.inf),
    "throughput_ok_per_s": (0.0, math.inf),
}


def _summary(runs: pd.DataFrame, level: float) -> pd.DataFrame:
    rows = []
    for (lv, value, direction), g in runs.groupby(
        ["level", "level_value", "direction"], sort=False
    ):
        row: dict[str, Any] = {
            "level": lv,
            "level_value": value,
            "direction": direction,
            "n": len(g),
        }
        for k in EDGE_KPIS:
            mean, _std, lo, hi = t_interval(g[k].to_numpy(dtype=float), level)
            floor, ceiling = _RANGES[k]
            if math.isfinite(lo):
                lo, hi = max(floor, lo), min(ceiling, hi)
            row[f"{k}_mean"], row[f"{k}_ci_low"], row[f"{k}_ci_high"] = mean, lo, hi
        rows.append(row)
    out = pd.DataFrame(rows)
    out["direction"] = pd.Categorical(out["direction"], categories=list(DIRECTIONS))
    return out.sort_values(["direction", "level"]).reset_index(drop=True)


def _hysteresis(runs: pd.DataFrame, level: float) -> pd.DataFrame:
    wide = runs.pivot(
        index=["level", "level_value", "replication"], columns="direction", values="success_rate"
    )
    rows = []
    for (lv, value), g in wide.groupby(level=["level", "level_value"], sort=True):
        diff = (g["down"] - g["up"]).to_numpy(dtype=float)
        mean, _std, lo, hi = t_interval(diff, level)
        if math.isfinite(lo):  # a difference of two shares
            lo, hi = max(-1.0, lo), min(1.0, hi)
        rows.append(
            {
                "level": lv,
                "level_value": value,
                "n": int(np.isfinite(diff).sum()),
                "diff_mean": mean,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# The experiment


def edge(
    scenario: Scenario | str | Path,
    lever: str,
    low: float,
    high: float,
    *,
    levels: int = 5,
    dwell: str | float = "10m",
    seed: int | None = None,
    replications: int = 5,
    level: float = 0.95,
    overrides: Mapping[str, Any] | None = None,
    quiet: bool = True,
    allow_long: bool = False,
    executor: str | Executor = "serial",
    workers: int | None = None,
    address: str | None = None,
) -> EdgeResult:
    """Step ``lever`` from ``low`` to ``high`` and back inside one run per replication.

    Args:
        scenario: a Scenario, a TOML file or a shipped name.
        lever: one of :data:`LEVERS` (``load``: a multiplier of every partner's arrival rate;
            ``partners.NAME.load``: of one partner's; ``bank.pools.NAME.servers``).
        low, high: the lever's lowest and highest values (multipliers, or servers).
        levels: how many values, evenly spaced from ``low`` to ``high`` (>= 2).
        dwell: how long each value is held per direction (a duration, or seconds; whole
            seconds); the staircase takes ``2 x levels x dwell`` after the warm-up and must
            fit in the horizon.
        seed: the first replication's seed (default the scenario's ``run.seed``); replication
            ``r`` uses ``seed + r``.
        replications: runs (>= 1; intervals need 2).
        level: the confidence level of the intervals.
        overrides: dotted-path overrides applied to the scenario first.
        quiet: no progress bar.
        allow_long: run even when the feasibility estimate of a run exceeds its limits.
        executor, workers, address: where the replications run (``serial``, ``processes``
            or ``dask``, as for :func:`~openbank_sim.experiments.replicate`); every executor
            gives the same numbers.

    Raises:
        ScenarioError: a bad lever, staircase, seed or replication count (the path names the
            argument), or a run the feasibility estimate refuses.
    """
    from ..spec.feasibility import check

    s = as_scenario(scenario)
    if overrides:
        s = s.with_overrides(overrides)
    spec = s.spec
    if not 0.0 < level < 1.0:
        raise ScenarioError("must be in (0, 1)", path="level", value=level)
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise ScenarioError("must be a whole number >= 1", path="replications", value=replications)
    if replications > REPLICATIONS.maximum:
        raise ScenarioError(REPLICATIONS.refusal(), path="replications", value=replications)
    first = spec.run.seed if seed is None else seed
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise ScenarioError(f"must be an integer from 0 to {SEED.text()}", path="seed", value=seed)
    if first + replications - 1 > SEED.maximum:
        raise ScenarioError(
            f"seed + replications - 1 must be at most {SEED.text()}", path="seed", value=seed
        )
    lv = parse_lever(lever, spec)
    stairs = staircase(spec, lv, low, high, levels, dwell)
    stepped = staircase_spec(spec, lv, stairs)
    if not allow_long:
        check(stepped, file=s.source or "<scenario>", raw=s.as_dict())
    seeds = tuple(range(first, first + replications))
    steps = stairs.steps()
    rows: list[dict[str, Any]] = []
    text = scenario_json(s)
    tasks = [
        (r, text, s.source, lv.key, low, high, levels, dwell, run_seed)
        for r, run_seed in enumerate(seeds)
    ]
    done: dict[int, PeriodCounts] = {}
    with open_executor(executor, workers, address) as ex:
        for _task, result, _err in execute(tasks, ex, f"edge {s.name}", quiet, fn=edge_task):
            assert result is not None  # execute raises the first error
            done[result["run_id"]] = result["counts"]
    for r, run_seed in enumerate(seeds):
        counts = done[r]
        kpis = counts.kpis()
        for k, (a, _b, i, direction) in enumerate(steps):
            row: dict[str, Any] = {
                "lever": lv.key,
                "level": i + 1,
                "level_value": stairs.values[i],
                "direction": direction,
                "replication": r,
                "seed": run_seed,
                "t_start_s": a,
            }
            row.update({name: float(kpis[name][k]) for name in EDGE_KPIS})
            row["attempts"] = float(counts.attempts[k])
            row["first_attempts"] = float(counts.first_attempts[k])
            rows.append(row)
    runs = pd.DataFrame(rows)
    return EdgeResult(
        scenario=s.name,
        lever=lv.key,
        values=stairs.values,
        dwell_s=stairs.dwell_s,
        start_s=stairs.start_s,
        seeds=seeds,
        level=level,
        runs=runs,
        summary=_summary(runs, level),
        hysteresis=_hysteresis(runs, level),
    )


def edge_task(task: tuple) -> dict[str, Any]:
    """One replication of an edge: ``(run_id, scenario_json, source, lever, low, high, levels,
    dwell, seed)`` -> ``run_id`` and ``counts`` (the
    :class:`~openbank_sim.analysis.periods.PeriodCounts` of the staircase's steps). Module
    level, so every executor runs exactly this code on exactly these inputs; the staircase is
    rebuilt from them (the same spec :func:`edge` checked)."""
    from ..analysis.periods import period_counts
    from ..model.world import run_world

    run_id, text, source, key, low, high, levels, dwell, seed = task
    spec = base_scenario(text, source).spec
    lv = parse_lever(key, spec)
    stairs = staircase(spec, lv, low, high, levels, dwell)
    counts = period_counts(run_world(staircase_spec(spec, lv, stairs), seed), stairs.edges_s())
    return {"run_id": run_id, "counts": counts}
