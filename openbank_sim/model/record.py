"""What a run hands on: the typed :class:`RunRecord` (no pandas, no SimPy).

The model's one output. Aggregates are sparse tables with named axes (one row per cell that
occurred, in the order the model booked them) and their own bin width, so that nothing
downstream decodes a key or guesses a bin width. Full and windowed traffic produce the same
types; for windowed traffic the counts are expected values (floats), the pools' time integrals
describe the observation windows (their down intervals are the horizon's) and
:class:`WindowedEvaluation` says which hours were simulated and which booked.
:mod:`openbank_sim.analysis` turns a record into tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..histogram import LatencyHistogram
from ..spec.types import PartnerSpec, Spec
from .onboarding import Project

__all__ = [
    "BinLatency",
    "BreakerTransitions",
    "CallAggregates",
    "CallCounts",
    "ClientLeverCounts",
    "FirstAttempts",
    "JourneyCounts",
    "MoneyCells",
    "PoolRecord",
    "PoolWaitMax",
    "PoolWaitSums",
    "RunRecord",
    "SloAggregates",
    "WindowEnd",
    "WindowedEvaluation",
]

_EMPTY = np.zeros(0, dtype=np.int64)


def _ints(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64) if len(values) else _EMPTY


def _floats(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64) if len(values) else np.zeros(0)


def _axes(keys: Iterable[tuple[int, ...]], n_axes: int) -> list[np.ndarray]:
    """The key tuples as ``n_axes`` int64 arrays (order kept)."""
    columns: list[list[int]] = [[] for _ in range(n_axes)]
    for key in keys:
        for column, k in zip(columns, key, strict=True):
            column.append(k)
    return [_ints(c) for c in columns]


@dataclass(frozen=True)
class CallCounts:
    """Attempts arriving in the call-KPI window, by (time bin, partner, product, outcome).

    Attributes:
        bin_s: width of a time bin (seconds); bin ``b`` starts at ``b * bin_s``.
        bin, partner, product, outcome: the axes (int64 arrays of equal length; outcome
            codes are :class:`~openbank_sim.outcomes.Outcome` values).
        count: attempts in the cell (int64 when simulated, float64 when booked).
    """

    bin_s: float
    bin: np.ndarray
    partner: np.ndarray
    product: np.ndarray
    outcome: np.ndarray
    count: np.ndarray

    @classmethod
    def from_cells(
        cls, bin_s: float, cells: Mapping[tuple[int, int, int, int], float]
    ) -> CallCounts:
        """From ``{(bin, partner, product, outcome): count}`` (order kept)."""
        b, partner, product, outcome = _axes(cells.keys(), 4)
        count = np.fromiter(cells.values(), dtype=np.float64, count=len(cells))
        if np.all(count == np.floor(count)):  # simulated counts; booked ones are expected values
            count = count.astype(np.int64)
        return cls(bin_s, b, partner, product, outcome, count)


@dataclass(frozen=True)
class FirstAttempts:
    """First attempts of logical calls arriving in the call-KPI window, by (time bin, partner,
    product): with :class:`CallCounts` (every attempt) they give the retry amplification.

    Attributes:
        bin_s: width of a time bin (seconds).
        bin, partner, product: the axes (int64 arrays of equal length).
        count: first attempts in the cell (float64 when booked).
    """

    bin_s: float
    bin: np.ndarray
    partner: np.ndarray
    product: np.ndarray
    count: np.ndarray

    @classmethod
    def from_cells(cls, bin_s: float, cells: Mapping[tuple[int, int, int], float]) -> FirstAttempts:
        """From ``{(bin, partner, product): count}`` (order kept)."""
        b, partner, product = _axes(cells.keys(), 3)
        return cls(bin_s, b, partner, product, _floats(list(cells.values())))


@dataclass(frozen=True)
class PoolWaitMax:
    """The longest backend queue wait of an admitted attempt, by (time bin, pool), sorted.

    Attributes:
        bin_s: width of a time bin (seconds).
        bin, pool: the axes (int64 arrays of equal length).
        wait_max_s: the longest wait in the cell (seconds).
    """

    bin_s: float
    bin: np.ndarray
    pool: np.ndarray
    wait_max_s: np.ndarray

    @classmethod
    def from_cells(cls, bin_s: float, cells: Mapping[tuple[int, int], float]) -> PoolWaitMax:
        """From ``{(bin, pool): seconds}`` (sorted here)."""
        keys = sorted(cells)
        b, pool = _axes(keys, 2)
        return cls(bin_s, b, pool, _floats([cells[k] for k in keys]))


@dataclass(frozen=True)
class PoolWaitSums:
    """Backend queue waits of admitted attempts by (time bin of arrival, pool), sorted: the
    per-bin means that warm-up detection and batch-means intervals work on.

    Attributes:
        bin_s: width of a time bin (seconds).
        bin, pool: the axes (int64 arrays of equal length).
        admitted: attempts admitted to the pool in the cell (float64 when booked).
        wait_sum_s: their queue waits summed (seconds).
    """

    bin_s: float
    bin: np.ndarray
    pool: np.ndarray
    admitted: np.ndarray
    wait_sum_s: np.ndarray

    @classmethod
    def from_cells(
        cls, bin_s: float, cells: Mapping[tuple[int, int], tuple[float, float]]
    ) -> PoolWaitSums:
        """From ``{(bin, pool): (admitted, wait sum in seconds)}`` (sorted here)."""
        keys = sorted(cells)
        b, pool = _axes(keys, 2)
        admitted = [cells[k][0] for k in keys]
        simulated = all(isinstance(n, int) for n in admitted)
        return cls(
            bin_s,
            b,
            pool,
            _ints([int(n) for n in admitted]) if simulated else _floats(admitted),
            _floats([cells[k][1] for k in keys]),
        )


@dataclass(frozen=True)
class MoneyCells:
    """An amount of money (currency) by (time bin, partner, product).

    Attributes:
        bin_s: width of a time bin (seconds).
        bin, partner, product: the axes (int64 arrays of equal length).
        amount: the amount in the cell (currency).
    """

    bin_s: float
    bin: np.ndarray
    partner: np.ndarray
    product: np.ndarray
    amount: np.ndarray

    @classmethod
    def from_cells(cls, bin_s: float, cells: Mapping[tuple[int, int, int], float]) -> MoneyCells:
        """From ``{(bin, partner, product): amount}`` (order kept)."""
        b, partner, product = _axes(cells.keys(), 3)
        return cls(bin_s, b, partner, product, _floats(list(cells.values())))


@dataclass(frozen=True)
class JourneyCounts:
    """Finished journeys that started in the call-KPI window, by (journey, partner, ending).

    Attributes:
        journey, partner, ending: the axes (int64 arrays; ending codes are
            :class:`~openbank_sim.outcomes.JourneyEnding` values).
        count: journeys in the cell (float64 when booked).
    """

    journey: np.ndarray
    partner: np.ndarray
    ending: np.ndarray
    count: np.ndarray

    @classmethod
    def from_cells(cls, cells: Mapping[tuple[int, int, int], float]) -> JourneyCounts:
        """From ``{(journey, partner, ending): count}`` (order kept)."""
        journey, partner, ending = _axes(cells.keys(), 3)
        values = list(cells.values())
        simulated = all(isinstance(v, int) for v in values)
        count = _ints([int(v) for v in values]) if simulated else _floats(values)
        return cls(journey, partner, ending, count)


@dataclass(frozen=True)
class ClientLeverCounts:
    """What the clients' levers did, by (time bin, partner, product), call-KPI window.

    Attributes:
        bin_s: width of a time bin (s).
        bin, partner, product: the axes (int64 arrays).
        retries_suppressed: retries the retry budget did not allow (dated at the decision).
        short_circuited: calls the circuit breaker failed fast (dated at the refused attempt).
    """

    bin_s: float
    bin: np.ndarray
    partner: np.ndarray
    product: np.ndarray
    retries_suppressed: np.ndarray
    short_circuited: np.ndarray

    @classmethod
    def from_cells(
        cls, bin_s: float, cells: Mapping[tuple[int, int, int], tuple[int, int]]
    ) -> ClientLeverCounts:
        """From ``{(bin, partner, product): (retries_suppressed, short_circuited)}``."""
        b, partner, product = _axes(cells.keys(), 3)
        values = list(cells.values())
        return cls(
            bin_s,
            b,
            partner,
            product,
            _ints([v[0] for v in values]),
            _ints([v[1] for v in values]),
        )

    @classmethod
    def empty(cls, bin_s: float) -> ClientLeverCounts:
        """No lever acted."""
        return cls.from_cells(bin_s, {})


@dataclass(frozen=True)
class BreakerTransitions:
    """Every state change of the clients' circuit breakers, in time order (the whole run).

    Attributes:
        t_s: when (s from the start).
        partner, product: whose breaker (int64 index arrays).
        from_state, to_state: state codes (:data:`~openbank_sim.model.resilience.BREAKER_STATES`:
            0 closed, 1 open, 2 half-open).
    """

    t_s: np.ndarray
    partner: np.ndarray
    product: np.ndarray
    from_state: np.ndarray
    to_state: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[float, int, int, int, int]]) -> BreakerTransitions:
        """From ``(t_s, partner, product, from_state, to_state)`` rows (sorted here by time)."""
        rows = sorted(rows, key=lambda r: r[0])
        return cls(
            _floats([r[0] for r in rows]),
            _ints([r[1] for r in rows]),
            _ints([r[2] for r in rows]),
            _ints([r[3] for r in rows]),
            _ints([r[4] for r in rows]),
        )


@dataclass(frozen=True)
class BinLatency:
    """Latency histograms of ``ok`` attempts by (time bin, product), sorted by bin then product.

    Attributes:
        bin_s: width of a time bin (seconds).
        bin, product: the axes (int64 arrays).
        histograms: one histogram per row.
    """

    bin_s: float
    bin: np.ndarray
    product: np.ndarray
    histograms: tuple[LatencyHistogram, ...]

    @classmethod
    def from_cells(
        cls, bin_s: float, cells: Mapping[tuple[int, int], LatencyHistogram]
    ) -> BinLatency:
        """From ``{(bin, product): histogram}`` (sorted here)."""
        keys = sorted(cells)
        return cls(
            bin_s,
            _ints([b for b, _ in keys]),
            _ints([k for _, k in keys]),
            tuple(cells[k] for k in keys),
        )


@dataclass(frozen=True)
class SloAggregates:
    """What the SLO evaluation needs, by (period, partner).

    Attributes:
        period_s: the SLO period (seconds), aligned to t = 0.
        counts: ``(total, failed, ok)`` attempts by ``(period, partner)``.
        latency: histogram of ``ok`` latencies by ``(period, partner)``.
        booked_counts: windowed traffic: ``(total, failed, ok)`` booked attempts (expected
            values) by ``(period, partner)`` for the periods not simulated.
    """

    period_s: float
    counts: Mapping[tuple[int, int], tuple[int, int, int]]
    latency: Mapping[tuple[int, int], LatencyHistogram]
    booked_counts: Mapping[tuple[int, int], tuple[float, float, float]] = field(
        default_factory=dict
    )


@dataclass(frozen=True)
class CallAggregates:
    """Everything recorded about calls (see :mod:`openbank_sim.model.recorder` for the windows
    each aggregate counts in).

    Attributes:
        counts: attempts by (bin, partner, product, outcome), call-KPI window.
        first_attempts: first attempts of logical calls by (bin, partner, product).
        wait_max: the longest queue wait by (bin, pool).
        wait_by_bin: queue waits summed and attempts admitted by (bin, pool).
        revenue, cost: the bank's revenue and per-attempt cost (currency) by (bin, partner,
            product), money window.
        journeys: finished journeys by (journey, partner, ending).
        latency_by_product, latency_by_partner: histograms of ``ok`` attempts' latency (s).
        client_latency: histogram of logical-call latency (s, backoff included).
        latency_by_bin: coarser histograms by (bin, product) for the timeseries.
        wait_sum_s, wait_count: backend queue wait summed (s) and attempts admitted, per pool.
        published_downtime_s: down time as banks publish it (C-UK-8), seconds.
        slo: SLO aggregates (None without an ``[slo]`` section or when not evaluated).
        attempts: attempts simulated (all of them, warm-up included).
        call_log: the call log as columns sorted by arrival (None when not recorded).
        client_levers: what the clients' retry budgets and circuit breakers did (None: no
            client has one).
        breaker_transitions: the breakers' state changes (None: no client has a breaker).
    """

    counts: CallCounts
    first_attempts: FirstAttempts
    wait_max: PoolWaitMax
    wait_by_bin: PoolWaitSums
    revenue: MoneyCells
    cost: MoneyCells
    journeys: JourneyCounts
    latency_by_product: tuple[LatencyHistogram, ...]
    latency_by_partner: tuple[LatencyHistogram, ...]
    client_latency: LatencyHistogram
    latency_by_bin: BinLatency
    wait_sum_s: np.ndarray
    wait_count: np.ndarray
    published_downtime_s: float
    slo: SloAggregates | None
    attempts: int
    call_log: Mapping[str, np.ndarray] | None
    client_levers: ClientLeverCounts | None = None
    breaker_transitions: BreakerTransitions | None = None


@dataclass(frozen=True)
class PoolRecord:
    """A backend pool's time integrals over the call-KPI window.

    Attributes:
        name, servers, queue_limit: as configured (``queue_limit`` None for unbounded).
        busy_s: worker-seconds busy; queue_s: attempt-seconds waiting.
        capacity_s: worker-seconds available (the schedule integrated).
        admitted: attempts admitted; rejected_down: attempts turned away during an outage.
        downtime: the pool's down intervals ``(start_s, end_s)`` in the call-KPI window
            (empty without outages).
        servers_min, servers_max: the fewest and most workers its capacity schedule gives in
            the call-KPI window (both ``servers`` without a schedule).
        dropped_expired: attempts dropped unserved at their client's deadline
            (``drop_expired``); shed_background: unattended attempts shed with 503
            (``shed_background_above``). Both count attempts arriving in the call-KPI window.
    """

    name: str
    servers: int
    queue_limit: int | None
    busy_s: float
    queue_s: float
    capacity_s: float
    admitted: int
    rejected_down: int
    downtime: tuple[tuple[float, float], ...]
    servers_min: int
    servers_max: int
    dropped_expired: int = 0
    shed_background: int = 0


@dataclass(frozen=True)
class WindowEnd:
    """How an observation window of windowed traffic ended: its last time bin.

    Attributes:
        attempts, first_attempts: attempts and first attempts arriving in the bin.
        wait_max_s: the longest queue wait per pool in the bin (seconds; 0 when none).
    """

    attempts: float
    first_attempts: float
    wait_max_s: tuple[float, ...]


@dataclass(frozen=True)
class WindowedEvaluation:
    """Which parts of a windowed run were evaluated from simulated traffic, which were booked.

    Attributes:
        simulated: the windows' measured intervals ``(start_s, end_s)`` inside ``[warmup,
            horizon)`` that meet no outage (overlapping windows counted once): published
            availability and the SLO periods inside them come from their simulated calls.
        down_windows: ``(start_s, end_s, pools)`` of the windows that measured calls arriving
            while ``pools`` were down.
        booked_s: seconds of ``[warmup, horizon)`` outside the simulated intervals.
        published_simulated_s: published (C-UK-8) downtime measured in the simulated intervals.
        published_booked_s: published downtime estimated on booked time from the booked share
            ``q`` of requests without a good answer: ``q^5 (5 - 4q)`` of the time.
        slo_simulated_periods, slo_booked_periods: SLO periods evaluated each way (0 without
            an ``[slo]`` section).
        replayed_limits: names of the limits whose state was replayed into the windows.
        replayed_attempts: attempts the limiter replay processed.
    """

    simulated: tuple[tuple[float, float], ...]
    down_windows: tuple[tuple[float, float, tuple[str, ...]], ...]
    booked_s: float
    published_simulated_s: float
    published_booked_s: float
    slo_simulated_periods: int
    slo_booked_periods: int
    replayed_limits: tuple[str, ...]
    replayed_attempts: int


@dataclass(frozen=True)
class RunRecord:
    """One run of a scenario, as the model saw it: the typed hand-off to the analysis.

    Attributes:
        spec, seed: what was run.
        calls: the call aggregates.
        pools: one record per backend pool (scenario order).
        token_pool: the gateway's token service, when simulated (None otherwise).
        token_requests: token requests served (expected value for windowed traffic).
        partner_names, product_names, pool_names, journey_names: the index spaces.
        partners: the live partners (the scenario's own and the onboarded ones), in index order.
        projects: every onboarding project.
        sessions_by_partner, refreshes_by_partner: sessions and unattended refreshes started.
        consents_lapsed: unattended consents that lapsed.
        events: SimPy events processed.
        sim_end_s: simulated time at the end (the run drains past the horizon).
        wall_s: wall-clock time of the run (s).
        windows: windowed traffic: the measured windows ``(start_s, end_s)``; None otherwise.
        window_ends: windowed traffic: how each window ended; None otherwise.
        evaluation: windowed traffic: what was simulated and what booked; None otherwise.
    """

    spec: Spec
    seed: int
    calls: CallAggregates
    pools: tuple[PoolRecord, ...]
    token_pool: PoolRecord | None
    token_requests: float
    partner_names: tuple[str, ...]
    product_names: tuple[str, ...]
    pool_names: tuple[str, ...]
    journey_names: tuple[str, ...]
    partners: tuple[PartnerSpec, ...]
    projects: tuple[Project, ...]
    sessions_by_partner: tuple[float, ...]
    refreshes_by_partner: tuple[int, ...]
    consents_lapsed: int
    events: int
    sim_end_s: float
    wall_s: float
    windows: tuple[tuple[float, float], ...] | None = None
    window_ends: tuple[WindowEnd, ...] | None = None
    evaluation: WindowedEvaluation | None = None
