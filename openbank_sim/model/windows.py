"""Windowed traffic: simulate calls only inside observation windows, book the rest.

Calls live in milliseconds, onboarding in months. With ``run.traffic = "windowed"`` calls are
simulated one by one only inside observation windows; between them the sessions implied by the
rate integral are *booked*, priced by what the windows measured:

1. **Placement.** The horizon is cut into spans of ``every``; each span gets one window of
   ``length`` measured time after ``warmup`` (each window starts empty and discards its own
   warm-up). ``placement = "peak"`` puts it on the span's busiest hour (total offered session
   rate of the live partners); ``"stratified"`` walks through the span's load levels (window
   ``k`` takes the hour at load quantile ``frac((k + 1/2) x 0.618...)``), so that the windows
   together cover quiet and busy hours. Every event day (a profile event) gets a window on its
   busiest hour too.
2. **Measurement.** In each window, per partner: sessions started, attempts by product and
   outcome, revenue, per-attempt cost, journey endings, and latency histograms, all divided by
   the sessions to give *per-session* rates.
3. **Booking.** Every hour of the horizon, every live partner's expected sessions (the exact
   rate integral of profile x growth) are priced by the two windows whose offered load is
   nearest to the hour's (one below, one above), interpolated linearly in load; a partner
   not seen in those windows takes the nearest window (in load) that saw it, else the
   per-session rates of partners with the same journey. Latency histograms merge weighted by
   booked sessions.

:func:`run_windowed` runs these as four named steps: :func:`plan_run` (placement),
:func:`simulate_windows` (measurement), :func:`book_hours` (booking) and
:func:`merge_windows` (histograms and waits merged, weighted by the sessions each window
priced); the result is the same :class:`~openbank_sim.model.record.RunRecord` a full run gives.

Booked counts are expected values (floats). Pool statistics describe the windows. Unattended
refreshes are booked per session like the rest of the partner's traffic, and SLOs and
published availability are not evaluated on booked hours.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

import numpy as np

from ..histogram import LatencyHistogram
from ..outcomes import JOURNEY_ENDINGS, N_OUTCOMES
from ..rng import Streams, replication_seed, stream_key
from ..spec.types import PartnerSpec, Spec
from .onboarding import Project
from .partners import partner_rate
from .record import (
    BinLatency,
    CallAggregates,
    CallCounts,
    FirstAttempts,
    JourneyCounts,
    MoneyCells,
    PoolRecord,
    PoolWaitMax,
    RunRecord,
    SloAggregates,
    WindowEnd,
)
from .span import run_span

__all__ = ["plan_windows", "run_windowed"]

HOUR_S = 3600.0
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


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
    """One observation window: measured over ``[start_s, end_s)`` after its warm-up."""

    index: int
    start_s: float
    end_s: float
    warmup_s: float


def _event_days(spec: Spec, partners: tuple[PartnerSpec, ...]) -> list[float]:
    """Start times (s) of every profile event day inside the horizon."""
    run = spec.run
    t0 = dt.datetime.combine(run.start, dt.time())
    years = range(run.start.year, (t0 + dt.timedelta(seconds=run.horizon_s)).year + 1)
    out = set()
    for name in {p.profile for p in partners}:
        for ev in spec.profiles[name].events:
            for y in years:
                try:
                    day = dt.datetime(y, ev.month, ev.day)
                except ValueError:
                    continue
                s = (day - t0).total_seconds()
                if 0 <= s < run.horizon_s:
                    out.add(s)
    return sorted(out)


def plan_windows(spec: Spec, load_per_hour: np.ndarray) -> list[Window]:
    """Where the observation windows go (see the module docstring)."""
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


def _event_windows(spec: Spec, partners, load_per_hour: np.ndarray, start_k: int) -> list[Window]:
    w = spec.run.windows
    assert w is not None  # windowed traffic
    out: list[Window] = []
    starts = np.arange(load_per_hour.size) * HOUR_S
    for day in _event_days(spec, partners):
        cand = np.flatnonzero(
            (starts >= max(day, w.warmup_s))
            & (starts < day + 86400.0)
            & (starts + w.length_s <= spec.run.horizon_s)
        )
        if cand.size:
            h = cand[np.argmax(load_per_hour[cand])]
            out.append(
                Window(
                    start_k + len(out), float(starts[h]), float(starts[h]) + w.length_s, w.warmup_s
                )
            )
    return out


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows go, and the load they are chosen from.

    Attributes:
        sessions_h: expected sessions per (partner, hour) over the horizon.
        load_h: total offered session rate per hour (sessions per second).
        windows: the regular windows, then one per event day.
    """

    sessions_h: np.ndarray
    load_h: np.ndarray
    windows: list[Window]


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
    """What one window measured: per-session rates by (global) partner, and its histograms."""

    load: float
    sessions: np.ndarray  # (n_partners,) sessions started
    rates: np.ndarray  # (n_partners, layout.width) per-session metrics
    lat_partner: dict[int, LatencyHistogram]
    calls: CallAggregates
    token_requests: int


@dataclass
class _PoolTotals:
    """A pool's statistics added up over the windows."""

    busy_s: float = 0.0
    queue_s: float = 0.0
    capacity_s: float = 0.0
    admitted: int = 0
    rejected_down: int = 0


@dataclass(frozen=True)
class Booking:
    """What booking the hours gave: call aggregates by bin, and the session weight each
    window prices (call-KPI hours), for merging the windows' histograms."""

    counts: CallCounts
    first_attempts: FirstAttempts
    revenue: MoneyCells
    cost: MoneyCells
    journeys: JourneyCounts
    weight: np.ndarray  # (n_windows, n_partners) booked sessions priced by each window


def plan_run(spec: Spec, partners: tuple[PartnerSpec, ...]) -> WindowPlan:
    """Step 1: the expected sessions per hour and the windows placed on them."""
    sessions_h = hourly_sessions(spec, partners)  # (n, hours)
    load_h = sessions_h.sum(axis=0) / HOUR_S
    windows = plan_windows(spec, load_h)
    windows += _event_windows(spec, partners, load_h, len(windows))
    if not windows:
        raise ValueError("windowed traffic found no place for a window inside the horizon")
    return WindowPlan(sessions_h, load_h, windows)


def _window_seed(seed: int, win: Window) -> int:
    state = np.random.SeedSequence(
        replication_seed(seed, 0), spawn_key=stream_key("window", str(win.index))
    ).generate_state(1, np.uint64)[0]
    return int(state) >> 1


def _measure(
    calls: CallAggregates, live: list[int], n: int, layout: MetricLayout
) -> tuple[np.ndarray, np.ndarray]:
    """Sessions and per-session rates by global partner from one window's aggregates."""
    sessions = np.zeros(n)
    rates = np.zeros((n, layout.width))
    j = calls.journeys
    for pl, ending, c in zip(j.partner.tolist(), j.ending.tolist(), j.count.tolist(), strict=True):
        g = live[pl]
        sessions[g] += c
        rates[g, layout.endings.start + ending] += c
    k = calls.counts
    for pl, product, o, c in zip(
        k.partner.tolist(), k.product.tolist(), k.outcome.tolist(), k.count.tolist(), strict=True
    ):
        rates[live[pl], product * N_OUTCOMES + o] += c
    for money, col in ((calls.revenue, layout.revenue), (calls.cost, layout.cost)):
        for pl, product, v in zip(
            money.partner.tolist(), money.product.tolist(), money.amount.tolist(), strict=True
        ):
            rates[live[pl], col.start + product] += v
    f = calls.first_attempts
    for pl, product, c in zip(
        f.partner.tolist(), f.product.tolist(), f.count.tolist(), strict=True
    ):
        rates[live[pl], layout.first.start + product] += c
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(sessions[:, None] > 0, rates / np.maximum(sessions, 1)[:, None], 0.0)
    return sessions, per


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


def simulate_windows(
    spec: Spec,
    seed: int,
    partners: tuple[PartnerSpec, ...],
    plan: WindowPlan,
    layout: MetricLayout,
) -> tuple[list[Measured], dict[str, _PoolTotals], int, list[WindowEnd]]:
    """Step 2: simulate every window; returns what each measured, the pool totals over the
    windows, the SimPy events processed and how each window ended."""
    n = len(partners)
    measured: list[Measured] = []
    events = 0
    pools = {name: _PoolTotals() for name in spec.bank.pools}
    ends: list[WindowEnd] = []
    for win in plan.windows:
        live = [i for i, p in enumerate(partners) if p.live_from_s < win.end_s]
        sp = run_span(
            spec,
            tuple(partners[i] for i in live),
            Streams(_window_seed(seed, win)),
            (win.start_s - win.warmup_s, win.end_s),
            (win.start_s, win.end_s),
            money_from_s=win.start_s,
        )
        events += sp.events
        calls = sp.calls
        ends.append(_window_end(calls, win, len(pools)))
        sessions, per = _measure(calls, live, n, layout)
        hours = plan.load_h[int(win.start_s // HOUR_S) : math.ceil(win.end_s / HOUR_S)]
        measured.append(
            Measured(
                load=float(hours.mean()),
                sessions=sessions,
                rates=per,
                lat_partner={live[i]: h for i, h in enumerate(calls.latency_by_partner)},
                calls=calls,
                token_requests=sp.gateway.token_requests if sp.gateway is not None else 0,
            )
        )
        for pool in sp.pools:
            s = pools[pool.name]
            s.busy_s += pool.busy_s
            s.queue_s += pool.queue_s
            s.capacity_s += pool.capacity_seconds()
            s.admitted += pool.admitted
            s.rejected_down += pool.rejected_down
    return measured, pools, events, ends


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
    measured: list[Measured], journey_of: np.ndarray, n_journeys: int, loads: np.ndarray
) -> np.ndarray:
    """Per-session rates (n_windows, n_partners, width), with those of partners a window did
    not see taken from the nearest window (in load) that saw them, else from partners with
    the same journey."""
    n_w = len(measured)
    n = journey_of.size
    rates = np.stack([m.rates for m in measured])
    seen = np.stack([m.sessions > 0 for m in measured])
    pooled = np.zeros((n_w, n_journeys, rates.shape[2]))
    for j in range(n_journeys):
        mask = journey_of == j
        for w, m in enumerate(measured):
            s = m.sessions[mask].sum()
            if s > 0:
                pooled[w, j] = (m.rates[mask] * m.sessions[mask, None]).sum(axis=0) / s
    pooled_seen = np.any(pooled, axis=2)
    for p in range(n):
        have = np.flatnonzero(seen[:, p])
        for w in np.flatnonzero(~seen[:, p]).tolist():
            if have.size:
                rates[w, p] = rates[have[np.argmin(np.abs(loads[have] - loads[w]))], p]
            else:
                jp = journey_of[p]
                cand = np.flatnonzero(pooled_seen[:, jp])
                if cand.size:
                    src = (
                        w if pooled_seen[w, jp] else cand[np.argmin(np.abs(loads[cand] - loads[w]))]
                    )
                    rates[w, p] = pooled[src, jp]
    return rates


def book_hours(
    spec: Spec,
    partners: tuple[PartnerSpec, ...],
    plan: WindowPlan,
    measured: list[Measured],
    layout: MetricLayout,
    bin_s: float,
) -> Booking:
    """Step 3: price every hour's expected sessions by the windows nearest in load."""
    run = spec.run
    n = len(partners)
    P = layout.n_products
    journeys = list(spec.journeys)
    loads = np.array([m.load for m in measured])
    lo, hi, a = _interpolation(loads, plan.load_h)
    journey_of = np.array([journeys.index(p.journey) for p in partners])
    rates = _filled_rates(measured, journey_of, len(journeys), loads)
    n_hours = plan.load_h.size
    hour_bin = (np.arange(n_hours) * HOUR_S // bin_s).astype(np.int64)
    calls_hours = (np.arange(n_hours) * HOUR_S) >= run.warmup_s
    starts = np.flatnonzero(np.diff(np.concatenate(([-1], hour_bin))))
    bins_present = np.unique(hour_bin).tolist()
    counts: dict[tuple[int, int, int, int], float] = {}
    first: dict[tuple[int, int, int], float] = {}
    revenue: dict[tuple[int, int, int], float] = {}
    cost: dict[tuple[int, int, int], float] = {}
    journeys_acc = np.zeros((n, layout.n_endings))
    weight = np.zeros((len(measured), n))
    for p in range(n):
        e = plan.sessions_h[p]
        if not e.any():
            continue
        x = e[:, None] * (a[:, None] * rates[lo, p] + (1.0 - a[:, None]) * rates[hi, p])
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
        journeys_acc[p] = (x * calls_hours[:, None])[:, layout.endings].sum(axis=0)
        ec = e * calls_hours
        np.add.at(weight[:, p], lo, ec * a)
        np.add.at(weight[:, p], hi, ec * (1.0 - a))
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
    )


def merge_windows(
    spec: Spec, n_partners: int, measured: list[Measured], booking: Booking
) -> tuple[CallAggregates, float]:
    """Step 4: the call aggregates of the run: the booked counts and money, and the windows'
    histograms and waits merged weighted by the sessions each window priced; plus the token
    requests booked the same way."""
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
    bin_s = spec.run.time_bin_s
    for w, m in enumerate(measured):
        total = m.sessions.sum()
        if total <= 0:
            continue
        scale_w = weight[w].sum() / total
        for g, h in m.lat_partner.items():
            if m.sessions[g] > 0 and weight[w, g] > 0:
                lat_partner[g].merge(h, weight[w, g] / m.sessions[g])
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
        lb = m.calls.latency_by_bin
        bin_s = lb.bin_s
        by_bin.update(
            zip(zip(lb.bin.tolist(), lb.product.tolist(), strict=True), lb.histograms, strict=True)
        )
    slo = SloAggregates(spec.slo.period_s, {}, {}) if spec.slo is not None else None
    calls = CallAggregates(
        counts=booking.counts,
        first_attempts=booking.first_attempts,
        wait_max=PoolWaitMax.from_cells(bin_s, wait_max),
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
        slo=slo,
        attempts=sum(m.calls.attempts for m in measured),
        call_log=None,
    )
    return calls, token_requests


def run_windowed(
    spec: Spec,
    seed: int,
    partners: tuple[PartnerSpec, ...],
    projects: list[Project],
    wall0: float,
) -> RunRecord:
    """Simulate the observation windows and book the rest of the horizon."""
    run = spec.run
    H = run.horizon_s
    layout = MetricLayout(len(spec.bank.products), len(JOURNEY_ENDINGS))
    plan = plan_run(spec, partners)
    measured, totals, events, ends = simulate_windows(spec, seed, partners, plan, layout)
    bin_s = run.time_bin_s if H <= 60 * 86400.0 else max(run.time_bin_s, 86400.0)
    booking = book_hours(spec, partners, plan, measured, layout, bin_s)
    calls, token_requests = merge_windows(spec, len(partners), measured, booking)
    measured_total = sum(win.end_s - win.start_s for win in plan.windows)
    factor = (H - run.warmup_s) / measured_total  # time averages of the windows
    pools = tuple(
        PoolRecord(
            name,
            p.servers,
            p.queue_limit,
            totals[name].busy_s * factor,
            totals[name].queue_s * factor,
            totals[name].capacity_s * factor,
            totals[name].admitted,
            totals[name].rejected_down,
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
        refreshes_by_partner=(0,) * len(partners),
        consents_lapsed=0,
        events=events,
        sim_end_s=H,
        wall_s=time.perf_counter() - wall0,
        windows=tuple((w.start_s, w.end_s) for w in plan.windows),
        window_ends=tuple(ends),
    )
