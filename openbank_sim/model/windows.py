"""Windowed traffic: simulate calls only inside observation windows, book the rest.

Calls live in milliseconds, onboarding in months. With ``run.traffic = "windowed"`` calls are
simulated one by one only inside observation windows; between them the traffic implied by the
rate integrals is *booked*, priced by what the windows measured. What does not depend on traffic
is drawn for the whole horizon, exactly as full traffic draws it (:mod:`.horizon`): every pool's
outage timeline and every unattended user's consent lapse.

1. **Placement.** The horizon is cut into spans of ``every``; each span gets one window of
   ``length`` measured time after ``warmup``. ``placement = "peak"`` puts it on the span's busiest
   hour (total offered session rate of the live partners); ``"stratified"`` walks through the
   span's load levels (window ``k`` takes the hour at load quantile ``frac((k + 1/2) x
   0.618...)``), so that the windows together cover quiet and busy hours. Every event day (a
   profile event) gets a window on its busiest hour too. Windows avoid hours in which a pool is
   down (when the span has others). Each pool set that goes down gets *down windows* on its
   longest outages (at most :data:`DOWN_WINDOWS`, :data:`DOWN_LENGTH_S` long): the window's
   pools of that set are down for its whole measured time, to price calls arriving while they
   are down.
2. **Memory.** Each window starts with an empty backend and a fresh gateway, and its warm-up
   refills what forgets quickly (queues, token buckets, concurrency). Fixed and sliding window
   limits that remember longer than the warm-up are handed the state full traffic would have
   left at the window's start, by replaying through the limiters only the traffic they saw
   before it (:mod:`.limiter_replay`); refreshes that replay has waiting to retry inside the
   window are started there. Windows follow the horizon's consent lapses.
3. **Measurement.** In each window, per partner: sessions started, attempts by product and
   outcome, revenue, per-attempt cost, journey endings, and latency histograms, all divided by
   the sessions to give *per-session* rates; unattended refreshes (told apart in the window's call
   log) the same *per refresh started*.
4. **Booking.** Every hour of the horizon, every live partner's expected sessions (the exact rate
   integral of profile x growth) and expected refreshes (background users whose consent has not
   lapsed x ``per_user_day``) are priced by the two windows whose offered load is nearest to the
   hour's (one below, one above), interpolated linearly in load; a partner not seen in those
   windows takes the nearest window (in load) that saw it, else the rates of partners with the
   same journey (refreshes: the same product). The share of an hour during which a pool the
   partner calls is down is priced by the down windows instead (503s, failed journeys, the
   limiters' view of the retries). Latency histograms merge weighted by booked traffic.

:func:`run_windowed` runs these as named steps: :func:`plan_run` (placement), :func:`simulate_windows`
(memory and measurement), :func:`book_hours` (booking), :func:`merge_windows` (histograms and
waits merged, weighted by the traffic each window priced) and :func:`evaluate_hours` (published
availability and SLO counts); the result is the same :class:`~openbank_sim.model.record.RunRecord`
a full run gives, with a :class:`~openbank_sim.model.record.WindowedEvaluation` saying which
hours were simulated and which booked.

Booked counts are expected values (floats). Pool statistics describe the regular windows.
Availability and the pools' down intervals are the horizon's; published availability (C-UK-8)
and SLO periods are evaluated from simulated traffic inside the windows (hours clear of outages)
and from the booked figures elsewhere (see :func:`evaluate_hours`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..histogram import LatencyHistogram
from ..outcomes import JOURNEY_ENDINGS, N_OUTCOMES, NO_ANSWER, Outcome
from ..rng import Streams, replication_seed, stream_key
from ..spec.profiles import event_begins
from ..spec.schema import event_window_hours
from ..spec.types import PartnerSpec, PoolSpec, RunSpec, Spec
from .bank import Outages, capacity_steps, scheduled_range
from .gateway import Gateway
from .horizon import (
    DownSpell,
    Operations,
    down_spells,
    forced_down,
    horizon_operations,
    hourly_refreshes,
)
from .limiter_replay import REPLAY_MEMORIES, LimiterReplay, limit_memory_s, replayed_limits
from .onboarding import Project
from .partners import partner_rate
from .progress import ProgressHook, SpanTick
from .record import (
    BinLatency,
    CallAggregates,
    CallCounts,
    FirstAttempts,
    JourneyCounts,
    MoneyCells,
    PoolRecord,
    PoolWaitMax,
    PoolWaitSums,
    RunRecord,
    SloAggregates,
    WindowedEvaluation,
    WindowEnd,
)
from .span import EXTRA_REFRESH_ID, SpanSetup, run_span

__all__ = ["DOWN_WINDOWS", "plan_windows", "run_windowed"]

HOUR_S = 3600.0
DAY_S = 86400.0
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
DOWN_WINDOWS = 2
"""Down windows per set of pools that goes down (on its longest outages)."""
DOWN_LENGTH_S = 1800.0
"""Measured time of a down window (at most ``run.windows.length``): calls arriving while a pool
is down fail fast and alike, so half an hour prices them well."""
_NO_ANSWER = np.asarray([int(o) for o in NO_ANSWER])


def _cumulative(edges: np.ndarray, rate: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The rate integral from 0 to each time in ``t`` (piecewise-constant rate)."""
    cum = np.concatenate(([0.0], np.cumsum(rate * np.diff(edges))))
    return np.interp(t, edges, cum)


def hourly_sessions(spec: Spec, partners: tuple[PartnerSpec, ...]) -> np.ndarray:
    """Expected sessions per (partner, hour) over ``[0, horizon)`` (after each go-live)."""
    run = spec.run
    n_hours = math.ceil(run.horizon_s / HOUR_S)
    bounds = np.minimum(np.arange(n_hours + 1) * HOUR_S, run.horizon_s)
    out = np.zeros((len(partners), n_hours))
    for i, p in enumerate(partners):
        if p.live_from_s >= run.horizon_s:
            continue
        edges, factors = partner_rate(p, spec.profiles[p.profile], run.start, run.horizon_s)
        rate = p.users * p.sessions_per_user_day / 86400.0 * factors
        cum = _cumulative(edges, rate, np.maximum(bounds, p.live_from_s))
        out[i] = np.diff(cum)
    return out


@dataclass(frozen=True)
class Window:
    """One observation window: measured over ``[start_s, end_s)`` after its warm-up.

    ``down``: the pools kept down over the measured time (a down window), else empty.
    """

    index: int
    start_s: float
    end_s: float
    warmup_s: float
    down: frozenset[str] = frozenset()

    @property
    def span_start_s(self) -> float:
        """When the window's simulation starts (its warm-up's start)."""
        return self.start_s - self.warmup_s


def _event_days(spec: Spec, partners: tuple[PartnerSpec, ...]) -> list[float]:
    """Start times (s) of every profile event day inside the horizon: the midnight of the day
    an event occurrence begins on."""
    run = spec.run
    out = set()
    for name in {p.profile for p in partners}:
        for begin, _ in event_begins(spec.profiles[name], run.start, run.horizon_s):
            out.add(math.floor(begin / DAY_S) * DAY_S)
    return sorted(out)


def _clear_hours(n_hours: int, warmup_s: float, length_s: float, spells: Sequence[DownSpell]):
    """For each hour start, whether a window there (warm-up included) meets no outage."""
    starts = np.arange(n_hours) * HOUR_S
    clear = np.ones(n_hours, dtype=bool)
    for sp in spells:
        clear &= ~((starts - warmup_s < sp.end_s) & (starts + length_s > sp.start_s))
    return clear


def plan_windows(
    spec: Spec, load_per_hour: np.ndarray, clear: np.ndarray | None = None
) -> list[Window]:
    """Where the observation windows go (see the module docstring); ``clear`` marks the hours
    whose window would meet no outage (preferred when a span has any)."""
    w = spec.run.windows
    assert w is not None  # windowed traffic
    horizon = spec.run.horizon_s
    n_hours = load_per_hour.size
    hours_per_window = max(1, math.ceil(w.length_s / HOUR_S))
    # mean load over the hours a window starting at hour h would measure
    kernel = np.ones(hours_per_window) / hours_per_window
    mean_load = np.convolve(load_per_hour, kernel, mode="full")[hours_per_window - 1 :]
    starts = np.arange(n_hours) * HOUR_S
    ok = (starts - w.warmup_s >= 0.0) & (starts + w.length_s <= horizon)
    windows: list[Window] = []
    k = 0
    span_start = 0.0
    while span_start + w.every_s <= horizon + 1e-9:
        in_span = ok & (starts >= span_start) & (starts < span_start + w.every_s)
        cand = np.flatnonzero(in_span)
        if clear is not None and np.any(in_span & clear):
            cand = np.flatnonzero(in_span & clear)
        if cand.size:
            if w.placement == "peak":
                h = cand[np.argmax(mean_load[cand])]
            else:
                order = cand[np.argsort(mean_load[cand], kind="stable")]
                q = ((k + 0.5) * GOLDEN) % 1.0
                h = order[min(order.size - 1, int(q * order.size))]
            windows.append(Window(k, float(starts[h]), float(starts[h]) + w.length_s, w.warmup_s))
            k += 1
        span_start += w.every_s
    return windows


def _event_windows(
    spec: Spec,
    partners: tuple[PartnerSpec, ...],
    load_per_hour: np.ndarray,
    start_k: int,
    clear: np.ndarray,
) -> list[Window]:
    w = spec.run.windows
    assert w is not None  # windowed traffic
    out: list[Window] = []
    for day in _event_days(spec, partners):
        hours = np.asarray(event_window_hours(day, spec.run.horizon_s, w), dtype=np.int64)
        # the spec refuses windows that leave an event day without room for a window
        assert hours.size, "an event day without room for a window"
        cand = hours[clear[hours]] if np.any(clear[hours]) else hours
        h = int(cand[np.argmax(load_per_hour[cand])])
        start = h * HOUR_S
        out.append(Window(start_k + len(out), start, start + w.length_s, w.warmup_s))
    return out


def _down_windows(spec: Spec, spells: Sequence[DownSpell], start_k: int) -> list[Window]:
    """Down windows on the longest outages of each pool set that goes down."""
    w = spec.run.windows
    assert w is not None  # windowed traffic
    by_set: dict[frozenset[str], list[DownSpell]] = {}
    for sp in spells:
        by_set.setdefault(sp.pools, []).append(sp)
    out: list[Window] = []
    for pools in sorted(by_set, key=sorted):
        longest = sorted(by_set[pools], key=lambda sp: (-(sp.end_s - sp.start_s), sp.start_s))
        for sp in sorted(longest[:DOWN_WINDOWS], key=lambda sp: sp.start_s):
            a = sp.start_s
            length = min(w.length_s, DOWN_LENGTH_S)
            out.append(Window(start_k + len(out), a, a + length, min(w.warmup_s, a), pools))
    return out


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows go, and the traffic they price.

    Attributes:
        sessions_h: expected sessions per (partner, hour) over the horizon.
        refreshes_h: expected unattended refreshes per (partner, hour).
        load_h: total offered session rate per hour (sessions per second).
        windows: the regular windows, then one per event day.
        down_windows: the down windows (calls arriving while pools are down).
        spells: the horizon's outages, merged over pools.
    """

    sessions_h: np.ndarray
    refreshes_h: np.ndarray
    load_h: np.ndarray
    windows: list[Window]
    down_windows: list[Window] = field(default_factory=list)
    spells: list[DownSpell] = field(default_factory=list)


@dataclass(frozen=True)
class MetricLayout:
    """Columns of a per-session rate vector: counts by (product, outcome), then revenue and
    cost by product, then journey endings, then first attempts by product."""

    n_products: int
    n_endings: int

    @property
    def counts(self) -> slice:
        return slice(0, self.n_products * N_OUTCOMES)

    @property
    def revenue(self) -> slice:
        c = self.n_products * N_OUTCOMES
        return slice(c, c + self.n_products)

    @property
    def cost(self) -> slice:
        c = self.n_products * N_OUTCOMES
        return slice(c + self.n_products, c + 2 * self.n_products)

    @property
    def endings(self) -> slice:
        c = self.n_products * N_OUTCOMES + 2 * self.n_products
        return slice(c, c + self.n_endings)

    @property
    def first(self) -> slice:
        return slice(self.endings.stop, self.endings.stop + self.n_products)

    @property
    def width(self) -> int:
        return self.first.stop


@dataclass
class Measured:
    """What one window measured: per-session and per-refresh rates by (global) partner, its
    histograms, and what the evaluation of its hours needs."""

    window: Window
    load: float
    sessions: np.ndarray  # (n_partners,) sessions started
    rates: np.ndarray  # (n_partners, layout.width) per session
    refreshes: np.ndarray  # (n_partners,) unattended refreshes started
    refresh_rates: np.ndarray  # (n_partners, layout.width) per refresh
    lat_partner: dict[int, LatencyHistogram]
    calls: CallAggregates
    token_requests: int
    live: list[int]  # global index of each of the window's partners

    @property
    def units(self) -> np.ndarray:
        """Sessions plus refreshes started, per partner: what the window's histograms cover."""
        return self.sessions + self.refreshes


@dataclass
class _PoolTotals:
    """A pool's statistics added up over the windows."""

    busy_s: float = 0.0
    queue_s: float = 0.0
    capacity_s: float = 0.0
    admitted: int = 0
    rejected_down: int = 0
    dropped_expired: int = 0
    shed_background: int = 0


@dataclass(frozen=True)
class Booking:
    """What booking the hours gave: call aggregates by bin, the traffic weight each window prices
    (call-KPI hours), for merging the windows' histograms, and booked figures per hour.

    Attributes:
        hour_partner: booked ``(total, failed, ok)`` attempts per (hour, partner), (hours, n, 3).
        hour_no_answer: per hour, ``(attempts, no-answer attempts)`` booked on up time and on
            down time, (hours, 2, 2).
        rejected_down: pool name -> attempts booked ``overloaded`` while the pool was down.
    """

    counts: CallCounts
    first_attempts: FirstAttempts
    revenue: MoneyCells
    cost: MoneyCells
    journeys: JourneyCounts
    weight: np.ndarray  # (n_windows, n_partners) booked traffic priced by each window
    hour_partner: np.ndarray
    hour_no_answer: np.ndarray
    rejected_down: dict[str, float]


def _uses(spec: Spec, p: PartnerSpec) -> tuple[frozenset[str], frozenset[str]]:
    """The pools a partner's sessions call, and those its unattended refreshes call."""
    products = spec.bank.products
    sessions = frozenset(products[s.product].pool for s in spec.journeys[p.journey].steps)
    bg = (
        frozenset((products[p.background.product].pool,))
        if p.background is not None
        else frozenset()
    )
    return sessions, bg


def plan_run(spec: Spec, partners: tuple[PartnerSpec, ...], ops: Operations) -> WindowPlan:
    """Step 1: the expected traffic per hour and the windows placed on it."""
    w = spec.run.windows
    assert w is not None  # windowed traffic
    sessions_h = hourly_sessions(spec, partners)  # (n, hours)
    refreshes_h = hourly_refreshes(spec, partners, ops, sessions_h.shape[1])
    load_h = sessions_h.sum(axis=0) / HOUR_S
    spells = down_spells(ops)
    clear = _clear_hours(load_h.size, w.warmup_s, w.length_s, spells)
    windows = plan_windows(spec, load_h, clear if spells else None)
    windows += _event_windows(spec, partners, load_h, len(windows), clear)
    if not windows:
        raise ValueError("windowed traffic found no place for a window inside the horizon")
    down = _down_windows(spec, spells, len(windows))
    return WindowPlan(sessions_h, refreshes_h, load_h, windows, down, spells)


def _window_seed(seed: int, win: Window) -> int:
    state = np.random.SeedSequence(
        replication_seed(seed, 0), spawn_key=stream_key("window", str(win.index))
    ).generate_state(1, np.uint64)[0]
    return int(state) >> 1


def _measure(
    calls: CallAggregates, live: list[int], n: int, layout: MetricLayout
) -> tuple[np.ndarray, np.ndarray]:
    """Sessions and their metrics (totals, not yet per session) by global partner."""
    sessions = np.zeros(n)
    totals = np.zeros((n, layout.width))
    j = calls.journeys
    for pl, ending, c in zip(j.partner.tolist(), j.ending.tolist(), j.count.tolist(), strict=True):
        g = live[pl]
        sessions[g] += c
        totals[g, layout.endings.start + ending] += c
    k = calls.counts
    for pl, product, o, c in zip(
        k.partner.tolist(), k.product.tolist(), k.outcome.tolist(), k.count.tolist(), strict=True
    ):
        totals[live[pl], product * N_OUTCOMES + o] += c
    for money, col in ((calls.revenue, layout.revenue), (calls.cost, layout.cost)):
        for pl, product, v in zip(
            money.partner.tolist(), money.product.tolist(), money.amount.tolist(), strict=True
        ):
            totals[live[pl], col.start + product] += v
    f = calls.first_attempts
    for pl, product, c in zip(
        f.partner.tolist(), f.product.tolist(), f.count.tolist(), strict=True
    ):
        totals[live[pl], layout.first.start + product] += c
    return sessions, totals


def _per(totals: np.ndarray, units: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(units[:, None] > 0, totals / np.maximum(units, 1)[:, None], 0.0)


def _refresh_part(
    spec: Spec, calls: CallAggregates, live: list[int], n: int, layout: MetricLayout, win: Window
) -> tuple[np.ndarray, np.ndarray]:
    """Unattended refreshes started in the window and the metrics of the unattended attempts
    arriving in it (totals), by global partner, from the window's call log."""
    refreshes = np.zeros(n)
    totals = np.zeros((n, layout.width))
    log = calls.call_log
    if not log:
        return refreshes, totals
    t = log["t_s"]
    sel = log["background"].astype(bool) & (t >= win.start_s) & (t < win.end_s)
    if not sel.any():
        return refreshes, totals
    partner = np.asarray(live)[log["partner"][sel].astype(np.int64)]
    product = log["product"][sel].astype(np.int64)
    outcome = log["outcome"][sel].astype(np.int64)
    products = list(spec.bank.products.values())
    fee = np.array([p.fee for p in products])
    cost = np.array([p.cost for p in products])
    np.add.at(totals, (partner, product * N_OUTCOMES + outcome), 1.0)
    ok = outcome == Outcome.OK
    np.add.at(totals, (partner[ok], layout.revenue.start + product[ok]), fee[product[ok]])
    np.add.at(totals, (partner, layout.cost.start + product), cost[product])
    first = log["attempt"][sel] == 1
    np.add.at(totals, (partner[first], layout.first.start + product[first]), 1.0)
    rid = -1 - log["session"][sel].astype(np.int64)
    started = (log["attempt"][sel] == 1) & (rid < EXTRA_REFRESH_ID)
    np.add.at(refreshes, partner[started], 1.0)
    return refreshes, totals


def _replay_pieces(windows: Sequence[Window], span_s: float) -> list[tuple[float, float]]:
    """The union of ``[span start - span_s, span start)`` over windows (clipped at 0)."""
    pieces: list[tuple[float, float]] = []
    for a, b in sorted((max(0.0, w.span_start_s - span_s), w.span_start_s) for w in windows):
        if b <= a:
            continue
        if pieces and a <= pieces[-1][1]:
            pieces[-1] = (pieces[-1][0], max(pieces[-1][1], b))
        else:
            pieces.append((a, b))
    return pieces


@dataclass
class _Simulated:
    """Step 2's results."""

    measured: list[Measured]  # regular and event windows, in plan order
    down: list[Measured]  # down windows, in plan order
    pools: dict[str, _PoolTotals]
    events: int
    replayed_attempts: int
    replayed_background: bool  # unattended refreshes pass a replayed limit
    ends: list[WindowEnd]  # how each regular and event window ended, in plan order


def _window_end(calls: CallAggregates, win: Window, n_pools: int) -> WindowEnd:
    """The traffic and queue waits of the window's last time bin."""
    last = math.ceil(win.end_s / calls.counts.bin_s) - 1
    c, f, wm = calls.counts, calls.first_attempts, calls.wait_max
    return WindowEnd(
        float(c.count[c.bin == last].sum()),
        float(f.count[f.bin == last].sum()),
        tuple(
            float(wm.wait_max_s[(wm.bin == last) & (wm.pool == i)].max(initial=0.0))
            for i in range(n_pools)
        ),
    )


def _window_tick(progress: ProgressHook, k: int, n: int, win: Window) -> SpanTick:
    """A span tick telling ``progress`` how far window ``k`` of ``n`` has got."""
    start_s, length_s = win.span_start_s, (win.end_s - win.span_start_s) or 1.0

    def tick(now_s: float) -> None:
        progress(k + min(max(now_s - start_s, 0.0) / length_s, 1.0), n)

    return tick


def simulate_windows(
    spec: Spec,
    seed: int,
    partners: tuple[PartnerSpec, ...],
    plan: WindowPlan,
    layout: MetricLayout,
    ops: Operations,
    progress: ProgressHook | None = None,
) -> _Simulated:
    """Step 2: simulate every window (in time order, the limiter replay running ahead of
    them); returns what each measured, the pool totals over the regular windows, the SimPy
    events processed and the attempts replayed. ``progress`` hears windows done (fractional
    within the one under way) out of all windows."""
    run = spec.run
    w = run.windows
    assert w is not None  # windowed traffic
    n = len(partners)
    limits = replayed_limits(spec.gateway, w.warmup_s)
    all_windows = [*plan.windows, *plan.down_windows]
    replay = None
    if limits:
        span_s = REPLAY_MEMORIES * max(
            limit_memory_s(spec.gateway.limits[li].spec) for li in limits
        )
        replay = LimiterReplay(
            spec, partners, ops, seed, limits, _replay_pieces(all_windows, span_s)
        )
        if replay.empty:
            replay = None
    background = any(p.background is not None for p in partners)
    span_spec = replace(spec, run=replace(run, record_calls=1.0)) if background else spec
    results: dict[int, Measured] = {}
    events = 0
    pools = {name: _PoolTotals() for name in spec.bank.pools}
    ends: dict[int, WindowEnd] = {}
    for k, win in enumerate(sorted(all_windows, key=lambda x: (x.span_start_s, x.index))):
        live = [i for i, p in enumerate(partners) if p.live_from_s < win.end_s]
        span_of = {g: i for i, g in enumerate(live)}
        outages: dict[str, Outages | None] = {
            name: (forced_down(win.start_s, win.end_s) if name in win.down else None)
            for name in spec.bank.pools
        }
        refreshes: dict[int, list[tuple[float, int]]] = {}
        install = None
        if replay is not None:
            replay.advance_to(win.span_start_s)
            waiting = replay.waiting_refreshes(win.span_start_s, win.end_s)
            refreshes = {span_of[g]: c for g, c in waiting.items() if g in span_of}
            install = _installer(replay, live)
        setup = SpanSetup(
            outages=outages,
            consent_lapses={span_of[g]: v for g, v in ops.lapses.items() if g in span_of},
            gateway=install,
            refreshes=refreshes,
        )
        sp = run_span(
            span_spec,
            tuple(partners[i] for i in live),
            Streams(_window_seed(seed, win)),
            (win.span_start_s, win.end_s),
            (win.start_s, win.end_s),
            money_from_s=win.start_s,
            setup=setup,
            tick=_window_tick(progress, k, len(all_windows), win) if progress else None,
        )
        events += sp.events
        calls = sp.calls
        ends[win.index] = _window_end(calls, win, len(pools))
        sessions, totals = _measure(calls, live, n, layout)
        refreshes_n, refresh_totals = _refresh_part(spec, calls, live, n, layout, win)
        if background:
            totals = totals - refresh_totals
            totals[np.abs(totals) < 1e-9 * (1.0 + np.abs(refresh_totals))] = 0.0
        hours = plan.load_h[int(win.start_s // HOUR_S) : math.ceil(win.end_s / HOUR_S)]
        results[win.index] = Measured(
            window=win,
            load=float(hours.mean()),
            sessions=sessions,
            rates=_per(totals, sessions),
            refreshes=refreshes_n,
            refresh_rates=_per(refresh_totals, refreshes_n),
            lat_partner={live[i]: h for i, h in enumerate(calls.latency_by_partner)},
            calls=calls,
            token_requests=sp.gateway.token_requests if sp.gateway is not None else 0,
            live=live,
        )
        if win.down:
            continue
        for pool in sp.pools:
            s = pools[pool.name]
            s.busy_s += pool.busy_s
            s.queue_s += pool.queue_s
            s.capacity_s += pool.capacity_seconds()
            s.admitted += pool.admitted
            s.rejected_down += pool.rejected_down
            s.dropped_expired += pool.dropped_expired
            s.shed_background += pool.shed_background
    return _Simulated(
        [results[x.index] for x in plan.windows],
        [results[x.index] for x in plan.down_windows],
        pools,
        events,
        replay.attempts if replay is not None else 0,
        replay is not None and replay.replays_refreshes,
        [ends[x.index] for x in plan.windows],
    )


def _installer(replay: LimiterReplay, live: list[int]):
    def install(gateway: Gateway) -> None:
        replay.install(gateway, live)

    return install


def _interpolation(
    loads: np.ndarray, load_h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every hour, the windows just below (``lo``) and above (``hi``) its load and the
    weight ``a`` of ``lo`` (linear in load)."""
    order = np.argsort(loads, kind="stable")
    pos = np.searchsorted(loads[order], load_h)
    hi = order[np.clip(pos, 0, order.size - 1)]
    lo = order[np.clip(pos - 1, 0, order.size - 1)]
    span = loads[hi] - loads[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(span > 0, (loads[hi] - load_h) / span, 1.0)  # weight of `lo`
    return lo, hi, np.clip(a, 0.0, 1.0)


def _filled_rates(
    rates: np.ndarray, units: np.ndarray, group_of: np.ndarray, n_groups: int, loads: np.ndarray
) -> np.ndarray:
    """Per-unit rates (n_windows, n_partners, width) with those of partners a window did not
    see taken from the nearest window (in load) that saw them, else from partners of the same
    group (journey, or refreshed product). ``units``: (n_windows, n_partners) measured."""
    n_w = rates.shape[0]
    n = group_of.size
    rates = rates.copy()
    seen = units > 0
    pooled = np.zeros((n_w, n_groups, rates.shape[2]))
    for j in range(n_groups):
        mask = group_of == j
        for w in range(n_w):
            s = units[w, mask].sum()
            if s > 0:
                pooled[w, j] = (rates[w, mask] * units[w, mask, None]).sum(axis=0) / s
    pooled_seen = np.any(pooled, axis=2)
    for p in range(n):
        have = np.flatnonzero(seen[:, p])
        for w in np.flatnonzero(~seen[:, p]).tolist():
            if have.size:
                rates[w, p] = rates[have[np.argmin(np.abs(loads[have] - loads[w]))], p]
            elif group_of[p] >= 0:
                jp = group_of[p]
                cand = np.flatnonzero(pooled_seen[:, jp])
                if cand.size:
                    src = (
                        w if pooled_seen[w, jp] else cand[np.argmin(np.abs(loads[cand] - loads[w]))]
                    )
                    rates[w, p] = pooled[src, jp]
    return rates


@dataclass(frozen=True)
class _Pricing:
    """Rates of one kind of traffic (sessions or refreshes) in a set of windows, filled in,
    and for every hour the two windows nearest in load."""

    rates: np.ndarray  # (n_windows, n, width)
    lo: np.ndarray
    hi: np.ndarray
    a: np.ndarray
    index: np.ndarray  # the windows' positions in the merged list


def _pricing(
    measured: Sequence[Measured],
    positions: Sequence[int],
    kind: str,
    group_of: np.ndarray,
    n_groups: int,
    load_h: np.ndarray,
    warmup_s: float,
    by_time: bool = False,
) -> _Pricing:
    """Rates of ``kind`` ("sessions", "refreshes") in ``measured`` and, for every hour, the
    windows that price it: nearest in offered load, or with ``by_time`` nearest in time (the
    windows' midpoints against the hours'). Hours after the run's warm-up are priced only by
    windows measured after it, when there are any: a window inside the warm-up sees the
    transient from t = 0 that the call KPIs leave out."""
    if by_time:
        keys = np.array([0.5 * (m.window.start_s + m.window.end_s) for m in measured])
        targets = (np.arange(load_h.size) + 0.5) * HOUR_S
    else:
        keys = np.array([m.load for m in measured])
        targets = load_h
    if kind == "sessions":
        rates = np.stack([m.rates for m in measured])
        units = np.stack([m.sessions for m in measured])
    else:
        rates = np.stack([m.refresh_rates for m in measured])
        units = np.stack([m.refreshes for m in measured])
    lo, hi, a = _interpolation(keys, targets)
    after = np.flatnonzero([m.window.start_s >= warmup_s for m in measured])
    if 0 < after.size < len(measured):
        late = np.arange(targets.size) * HOUR_S >= warmup_s
        lo2, hi2, a2 = _interpolation(keys[after], targets[late])
        lo[late], hi[late], a[late] = after[lo2], after[hi2], a2
    filled = _filled_rates(rates, units, group_of, n_groups, keys)
    return _Pricing(filled, lo, hi, a, np.asarray(positions, dtype=np.int64))


def _hour_overlap(spells: Sequence[DownSpell], n_hours: int) -> np.ndarray:
    """Seconds of each hour inside each spell, (n_spells, n_hours)."""
    out = np.zeros((len(spells), n_hours))
    for j, sp in enumerate(spells):
        h0 = int(sp.start_s // HOUR_S)
        h1 = min(n_hours, math.ceil(sp.end_s / HOUR_S))
        for h in range(h0, h1):
            a, b = max(sp.start_s, h * HOUR_S), min(sp.end_s, (h + 1) * HOUR_S)
            out[j, h] = max(0.0, b - a)
    return out


def book_hours(
    spec: Spec,
    partners: tuple[PartnerSpec, ...],
    plan: WindowPlan,
    sim: _Simulated,
    layout: MetricLayout,
    bin_s: float,
) -> Booking:
    """Step 3: price every hour's expected sessions and refreshes by the windows nearest in
    load, and the hours' down time by the down windows."""
    run = spec.run
    n = len(partners)
    P = layout.n_products
    journeys = list(spec.journeys)
    products = list(spec.bank.products)
    measured = sim.measured
    all_measured = [*measured, *sim.down]
    journey_of = np.array([journeys.index(p.journey) for p in partners])
    bg_of = np.array(
        [products.index(p.background.product) if p.background is not None else -1 for p in partners]
    )
    up = {
        "sessions": _pricing(
            measured,
            range(len(measured)),
            "sessions",
            journey_of,
            len(journeys),
            plan.load_h,
            run.warmup_s,
        ),
        # refresh prices follow the replayed limiters' state in time, else the load
        "refreshes": _pricing(
            measured,
            range(len(measured)),
            "refreshes",
            bg_of,
            P,
            plan.load_h,
            run.warmup_s,
            by_time=sim.replayed_background,
        ),
    }
    # down time: per pool set, the hours' seconds down and the down windows that price them
    n_hours = plan.load_h.size
    hour_len = np.diff(np.minimum(np.arange(n_hours + 1) * HOUR_S, run.horizon_s))
    overlap = _hour_overlap(plan.spells, n_hours)
    down_sets: dict[frozenset[str], np.ndarray] = {}
    for j, sp in enumerate(plan.spells):
        down_sets.setdefault(sp.pools, np.zeros(n_hours))
        down_sets[sp.pools] += overlap[j]
    down_pricing: dict[frozenset[str], dict[str, _Pricing]] = {}
    for pools in down_sets:
        pos = [len(measured) + i for i, m in enumerate(sim.down) if m.window.down == pools]
        ms = [all_measured[i] for i in pos]
        down_pricing[pools] = {
            "sessions": _pricing(
                ms, pos, "sessions", journey_of, len(journeys), plan.load_h, run.warmup_s
            ),
            "refreshes": _pricing(
                ms, pos, "refreshes", bg_of, P, plan.load_h, run.warmup_s, sim.replayed_background
            ),
        }
    hour_bin = (np.arange(n_hours) * HOUR_S // bin_s).astype(np.int64)
    calls_hours = (np.arange(n_hours) * HOUR_S) >= run.warmup_s
    starts = np.flatnonzero(np.diff(np.concatenate(([-1], hour_bin))))
    bins_present = np.unique(hour_bin).tolist()
    counts: dict[tuple[int, int, int, int], float] = {}
    first: dict[tuple[int, int, int], float] = {}
    revenue: dict[tuple[int, int, int], float] = {}
    cost: dict[tuple[int, int, int], float] = {}
    journeys_acc = np.zeros((n, layout.n_endings))
    weight = np.zeros((len(all_measured), n))
    hour_partner = np.zeros((n_hours, n, 3))
    hour_no_answer = np.zeros((n_hours, 2, 2))
    rejected_down = {name: 0.0 for name in spec.bank.pools}
    pool_of_product = np.array([spec.bank.products[k].pool for k in products])
    no_answer_cols = np.zeros(layout.width, dtype=bool)
    for k in range(P):
        no_answer_cols[k * N_OUTCOMES + _NO_ANSWER] = True
    ok_cols = np.zeros(layout.width, dtype=bool)
    ok_cols[np.arange(P) * N_OUTCOMES + int(Outcome.OK)] = True
    count_cols = np.zeros(layout.width, dtype=bool)
    count_cols[layout.counts] = True
    overloaded_cols = np.arange(P) * N_OUTCOMES + int(Outcome.OVERLOADED)
    for p in range(n):
        sessions_used, bg_used = _uses(spec, partners[p])
        x = np.zeros((n_hours, layout.width))
        for kind, units_h, used in (
            ("sessions", plan.sessions_h[p], sessions_used),
            ("refreshes", plan.refreshes_h[p], bg_used),
        ):
            if not units_h.any():
                continue
            down_parts = [
                (pools, units_h * frac / hour_len)
                for pools, frac in down_sets.items()
                if pools & used and frac.any()
            ]
            units_up = units_h
            if down_parts:
                units_up = np.maximum(units_h - sum(u for _, u in down_parts), 0.0)
            parts: list[tuple[_Pricing, np.ndarray, frozenset[str]]] = [
                (up[kind], units_up, frozenset())
            ]
            parts += [(down_pricing[pools][kind], u, pools) for pools, u in down_parts]
            for pr, e, pools in parts:
                rates = pr.rates
                xk = e[:, None] * (
                    pr.a[:, None] * rates[pr.lo, p] + (1.0 - pr.a[:, None]) * rates[pr.hi, p]
                )
                x += xk
                ec = e * calls_hours
                np.add.at(weight[:, p], pr.index[pr.lo], ec * pr.a)
                np.add.at(weight[:, p], pr.index[pr.hi], ec * (1.0 - pr.a))
                xc = xk * calls_hours[:, None]
                side = 1 if pools else 0
                hour_no_answer[:, side, 0] += xc[:, count_cols].sum(axis=1)
                hour_no_answer[:, side, 1] += xc[:, no_answer_cols].sum(axis=1)
                if pools:
                    for k, pool in enumerate(pool_of_product):
                        if pool in pools:
                            rejected_down[pool] += float(xc[:, overloaded_cols[k]].sum())
        if not x.any():
            continue
        per_bin = np.add.reduceat(x, starts, axis=0)
        per_bin_calls = np.add.reduceat(x * calls_hours[:, None], starts, axis=0)
        for bi, b in enumerate(bins_present):
            row = per_bin[bi]
            crow = per_bin_calls[bi]
            for k in range(P):
                rev = float(row[layout.revenue.start + k])
                cst = float(row[layout.cost.start + k])
                if rev:
                    revenue[b, p, k] = rev
                if cst:
                    cost[b, p, k] = cst
                for o in range(N_OUTCOMES):
                    v = float(crow[k * N_OUTCOMES + o])
                    if v:
                        counts[b, p, k, o] = v
                v = float(crow[layout.first.start + k])
                if v:
                    first[b, p, k] = v
        xc = x * calls_hours[:, None]
        journeys_acc[p] = xc[:, layout.endings].sum(axis=0)
        hour_partner[:, p, 0] = xc[:, count_cols].sum(axis=1)
        hour_partner[:, p, 1] = xc[:, no_answer_cols].sum(axis=1)
        hour_partner[:, p, 2] = xc[:, ok_cols].sum(axis=1)
    endings = {
        (int(journey_of[p]), p, ending): float(journeys_acc[p, ending])
        for p in range(n)
        for ending in range(layout.n_endings)
        if journeys_acc[p, ending]
    }
    return Booking(
        CallCounts.from_cells(bin_s, counts),
        FirstAttempts.from_cells(bin_s, first),
        MoneyCells.from_cells(bin_s, revenue),
        MoneyCells.from_cells(bin_s, cost),
        JourneyCounts.from_cells(endings),
        weight,
        hour_partner,
        hour_no_answer,
        rejected_down,
    )


def merge_windows(
    spec: Spec, n_partners: int, measured: Sequence[Measured], booking: Booking
) -> tuple[CallAggregates, float]:
    """Step 4: the call aggregates of the run: the booked counts and money, and the windows'
    histograms and waits merged weighted by the traffic each window priced; plus the token
    requests booked the same way. ``measured``: regular, event and down windows, in the order
    of the booking's weights."""
    P = len(spec.bank.products)
    n_pools = len(spec.bank.pools)
    weight = booking.weight
    lat_partner = [LatencyHistogram() for _ in range(n_partners)]
    lat_product = [LatencyHistogram() for _ in range(P)]
    client = LatencyHistogram()
    wait_sum = np.zeros(n_pools)
    wait_count = np.zeros(n_pools)
    token_requests = 0.0
    by_bin: dict[tuple[int, int], LatencyHistogram] = {}
    wait_max: dict[tuple[int, int], float] = {}
    wait_by_bin: dict[tuple[int, int], tuple[float, float]] = {}
    bin_s = spec.run.time_bin_s
    for w, m in enumerate(measured):
        units = m.units
        total = units.sum()
        if total <= 0:
            continue
        scale_w = weight[w].sum() / total
        for g, h in m.lat_partner.items():
            if units[g] > 0 and weight[w, g] > 0:
                lat_partner[g].merge(h, weight[w, g] / units[g])
        for k, h in enumerate(m.calls.latency_by_product):
            if scale_w > 0:
                lat_product[k].merge(h, scale_w)
        if scale_w > 0:
            token_requests += m.token_requests * scale_w
            client.merge(m.calls.client_latency, scale_w)
            wait_sum += m.calls.wait_sum_s * scale_w
            wait_count = wait_count + m.calls.wait_count * scale_w
        wm = m.calls.wait_max
        for key, v in zip(
            zip(wm.bin.tolist(), wm.pool.tolist(), strict=True), wm.wait_max_s.tolist(), strict=True
        ):
            wait_max[key] = max(v, wait_max.get(key, v))
        wb = m.calls.wait_by_bin
        wait_by_bin.update(
            zip(
                zip(wb.bin.tolist(), wb.pool.tolist(), strict=True),
                zip(wb.admitted.tolist(), wb.wait_sum_s.tolist(), strict=True),
                strict=True,
            )
        )
        lb = m.calls.latency_by_bin
        bin_s = lb.bin_s
        by_bin.update(
            zip(zip(lb.bin.tolist(), lb.product.tolist(), strict=True), lb.histograms, strict=True)
        )
    calls = CallAggregates(
        counts=booking.counts,
        first_attempts=booking.first_attempts,
        wait_max=PoolWaitMax.from_cells(bin_s, wait_max),
        wait_by_bin=PoolWaitSums.from_cells(bin_s, wait_by_bin),
        revenue=booking.revenue,
        cost=booking.cost,
        journeys=booking.journeys,
        latency_by_product=tuple(lat_product),
        latency_by_partner=tuple(lat_partner),
        client_latency=client,
        latency_by_bin=BinLatency.from_cells(bin_s, by_bin),
        wait_sum_s=wait_sum,
        wait_count=wait_count,
        published_downtime_s=0.0,
        slo=None,
        attempts=sum(m.calls.attempts for m in measured),
        call_log=None,
    )
    return calls, token_requests


def _published_share(q: np.ndarray) -> np.ndarray:
    """Share of time counted down as banks publish it (C-UK-8: from the first of 5 consecutive
    requests without a good answer to the next answered one) for a Poisson stream of requests
    each unanswered with probability ``q``: between answered requests the unanswered run has
    ``n`` requests with ``P(n) = (1 - q) q^n``, so the share is
    ``E[n; n >= 5] / E[n + 1] = q^5 (5 - 4 q)``."""
    return q**5 * (5.0 - 4.0 * q)


def _overlap(a: float, b: float, intervals: Sequence[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, y) - max(a, x)) for x, y in intervals)


def evaluate_hours(
    spec: Spec,
    partners: tuple[PartnerSpec, ...],
    plan: WindowPlan,
    sim: _Simulated,
    booking: Booking,
    replayed: tuple[str, ...],
) -> tuple[float, SloAggregates | None, WindowedEvaluation]:
    """Step 5: published availability and SLO counts, from simulated traffic where the windows
    simulated it and from booked figures elsewhere.

    *Simulated hours* are the measured time of the regular and event windows that meet no
    outage (overlapping windows count once): there the C-UK-8 runs of the simulated requests
    give the published downtime, and the windows' own counts and latency histograms the SLO
    periods that lie inside them. Everywhere else (booked time) the published downtime is the
    share :func:`_published_share` of the booked unanswered share of each hour (up time and down
    time apart), and an SLO period is evaluated on its booked counts (``error_rate``) and the
    horizon's outages (``availability``); its latency targets are not evaluated, since booked
    hours have no latency of their own.
    """
    run = spec.run
    t0, t1 = run.warmup_s, run.horizon_s
    spell_iv = [(sp.start_s, sp.end_s) for sp in plan.spells]
    simulated: list[Measured] = []
    for m in sim.measured:
        win = m.window
        if win.start_s < t0 or _overlap(win.start_s, win.end_s, spell_iv) > 0.0:
            continue
        if any(
            _overlap(win.start_s, win.end_s, [(o.window.start_s, o.window.end_s)]) > 0.0
            for o in simulated
        ):
            continue
        simulated.append(m)
    sim_iv = sorted((m.window.start_s, min(m.window.end_s, t1)) for m in simulated)
    published_sim = float(sum(m.calls.published_downtime_s for m in simulated))
    published_booked = 0.0
    booked_s = 0.0
    n_hours = plan.load_h.size
    hna = booking.hour_no_answer
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(hna[:, :, 0] > 0, hna[:, :, 1] / np.maximum(hna[:, :, 0], 1e-300), 0.0)
    share = _published_share(np.clip(q, 0.0, 1.0))
    for h in range(n_hours):
        a, b = max(h * HOUR_S, t0), min((h + 1) * HOUR_S, t1)
        if b <= a:
            continue
        down = _overlap(a, b, spell_iv)
        up = max(0.0, (b - a) - down - _overlap(a, b, sim_iv))
        booked_s += up + down
        published_booked += up * float(share[h, 0]) + down * float(share[h, 1])
    slo = None
    sim_periods: set[int] = set()
    booked_periods = 0
    if spec.slo is not None:
        period = spec.slo.period_s
        counts: dict[tuple[int, int], tuple[int, int, int]] = {}
        latency: dict[tuple[int, int], LatencyHistogram] = {}
        for m in simulated:
            ws, we = m.window.start_s, m.window.end_s
            inside = {
                k
                for k in range(int(max(ws, t0) // period), math.ceil(min(we, t1) / period))
                if max(k * period, t0) >= ws and min((k + 1) * period, t1) <= we
            }
            if m.calls.slo is None or not inside:
                continue
            sim_periods |= inside
            for (k, ps), v in m.calls.slo.counts.items():
                if k in inside:
                    counts[k, m.live[ps]] = v
            for (k, ps), hist in m.calls.slo.latency.items():
                if k in inside:
                    latency[k, m.live[ps]] = hist
        booked: dict[tuple[int, int], list[float]] = {}
        hp = booking.hour_partner
        for h in np.flatnonzero(hp.any(axis=(1, 2))).tolist():
            ha, hb = h * HOUR_S, (h + 1) * HOUR_S
            for k in range(int(ha // period), math.ceil(hb / period)):
                if k in sim_periods:
                    continue
                frac = (min(hb, (k + 1) * period) - max(ha, k * period)) / HOUR_S
                if frac <= 0.0:
                    continue
                for p in np.flatnonzero(hp[h].any(axis=1)).tolist():
                    row = booked.setdefault((k, p), [0.0, 0.0, 0.0])
                    for i in range(3):
                        row[i] += frac * float(hp[h, p, i])
        all_periods = range(int(t0 // period), math.ceil(t1 / period))
        booked_periods = sum(1 for k in all_periods if k not in sim_periods)
        slo = SloAggregates(
            period,
            counts,
            latency,
            booked_counts={k: (v[0], v[1], v[2]) for k, v in booked.items()},
        )
    evaluation = WindowedEvaluation(
        simulated=tuple(sim_iv),
        down_windows=tuple(
            (m.window.start_s, m.window.end_s, tuple(sorted(m.window.down))) for m in sim.down
        ),
        booked_s=booked_s,
        published_simulated_s=published_sim,
        published_booked_s=published_booked,
        slo_simulated_periods=len(sim_periods),
        slo_booked_periods=booked_periods,
        replayed_limits=replayed,
        replayed_attempts=sim.replayed_attempts,
    )
    return published_sim + published_booked, slo, evaluation


def _scheduled(pool: PoolSpec, run: RunSpec, horizon_s: float) -> tuple[int, int]:
    """The fewest and most workers ``pool``'s schedule gives over the measured horizon."""
    if not pool.schedule:
        return pool.servers, pool.servers
    times, caps = capacity_steps(pool.servers, pool.schedule, run.start, horizon_s)
    return scheduled_range(times, caps, run.warmup_s, horizon_s)


def run_windowed(
    spec: Spec,
    seed: int,
    partners: tuple[PartnerSpec, ...],
    projects: list[Project],
    wall0: float,
    progress: ProgressHook | None = None,
) -> RunRecord:
    """Simulate the observation windows and book the rest of the horizon."""
    run = spec.run
    w = run.windows
    assert w is not None  # windowed traffic
    H = run.horizon_s
    layout = MetricLayout(len(spec.bank.products), len(JOURNEY_ENDINGS))
    ops = horizon_operations(spec, partners, seed)
    plan = plan_run(spec, partners, ops)
    sim = simulate_windows(spec, seed, partners, plan, layout, ops, progress)
    bin_s = run.time_bin_s if H <= 60 * 86400.0 else max(run.time_bin_s, 86400.0)
    booking = book_hours(spec, partners, plan, sim, layout, bin_s)
    calls, token_requests = merge_windows(spec, len(partners), [*sim.measured, *sim.down], booking)
    replayed = tuple(
        spec.gateway.limits[li].name for li in replayed_limits(spec.gateway, w.warmup_s)
    )
    published_s, slo, evaluation = evaluate_hours(spec, partners, plan, sim, booking, replayed)
    calls = replace(calls, published_downtime_s=published_s, slo=slo)
    measured_total = sum(win.end_s - win.start_s for win in plan.windows)
    factor = (H - run.warmup_s) / measured_total  # time averages of the windows
    totals = sim.pools
    pools = tuple(
        PoolRecord(
            name,
            p.servers,
            p.queue_limit,
            totals[name].busy_s * factor,
            totals[name].queue_s * factor,
            totals[name].capacity_s * factor,
            totals[name].admitted,
            round(booking.rejected_down[name]),
            tuple((max(a, run.warmup_s), min(b, H)) for a, b in ops.down[name] if b > run.warmup_s),
            *_scheduled(p, run, H),
            # the regular windows' counts scaled to the horizon, as their time integrals are
            round(totals[name].dropped_expired * factor),
            round(totals[name].shed_background * factor),
        )
        for name, p in spec.bank.pools.items()
    )
    return RunRecord(
        spec=spec,
        seed=seed,
        calls=calls,
        pools=pools,
        token_pool=None,
        token_requests=token_requests,
        partner_names=tuple(p.name for p in partners),
        product_names=tuple(spec.bank.products),
        pool_names=tuple(spec.bank.pools),
        journey_names=tuple(spec.journeys),
        partners=partners,
        projects=tuple(projects),
        sessions_by_partner=tuple(float(s) for s in plan.sessions_h.sum(axis=1)),
        refreshes_by_partner=tuple(round(float(r)) for r in plan.refreshes_h.sum(axis=1)),
        consents_lapsed=ops.consents_lapsed,
        events=sim.events,
        sim_end_s=H,
        wall_s=time.perf_counter() - wall0,
        windows=tuple((win.start_s, win.end_s) for win in plan.windows),
        window_ends=tuple(sim.ends),
        evaluation=evaluation,
    )
