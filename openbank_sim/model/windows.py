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

Booked counts are expected values (floats). Pool statistics describe the windows. Unattended
refreshes are booked per session like the rest of the partner's traffic, and SLOs and
published availability are not evaluated on booked hours.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..histogram import LatencyHistogram
from ..outcomes import JOURNEY_ENDINGS, N_OUTCOMES
from ..rng import Streams, replication_seed, stream_key
from ..spec.schema import PartnerSpec, Spec
from .partners import partner_rate
from .recorder import Recorder
from .span import RunOutput, run_span

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
    out = []
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


@dataclass
class _Measured:
    """Per-session rates of one window, by (global) partner."""

    load: float
    sessions: np.ndarray  # (n_partners,)
    rates: np.ndarray  # (n_partners, K) per-session metrics
    lat_partner: dict[int, LatencyHistogram] = field(default_factory=dict)
    lat_product: list[LatencyHistogram] = field(default_factory=list)
    client: LatencyHistogram | None = None
    wait_sum: np.ndarray | None = None
    wait_count: np.ndarray | None = None
    bins: dict[int, LatencyHistogram] = field(default_factory=dict)
    token_requests: int = 0


class _SummaryPool:
    """Pool statistics accumulated over the windows (what ``by_pool`` reports)."""

    def __init__(self, name: str, servers: int, queue_limit: int | None) -> None:
        self.name = name
        self.servers = servers
        self.queue_limit = queue_limit
        self.busy_s = 0.0
        self.queue_s = 0.0
        self.capacity_s = 0.0
        self.admitted = 0
        self.rejected_down = 0
        self.outages = None

    def capacity_seconds(self) -> float:
        return self.capacity_s


def _metric_layout(n_products: int, n_endings: int) -> dict[str, slice]:
    c = n_products * N_OUTCOMES
    return {
        "counts": slice(0, c),
        "revenue": slice(c, c + n_products),
        "cost": slice(c + n_products, c + 2 * n_products),
        "endings": slice(c + 2 * n_products, c + 2 * n_products + n_endings),
    }


def run_windowed(
    spec: Spec, seed: int, partners: tuple[PartnerSpec, ...], projects: list, wall0: float
) -> Any:
    """Simulate the observation windows and book the rest of the horizon."""

    run = spec.run
    H = run.horizon_s
    n = len(partners)
    products = list(spec.bank.products)
    P = len(products)
    E = len(JOURNEY_ENDINGS)
    layout = _metric_layout(P, E)
    K = layout["endings"].stop
    journeys = list(spec.journeys)
    sessions_h = hourly_sessions(spec, partners)  # (n, hours)
    load_h = sessions_h.sum(axis=0) / HOUR_S
    windows = plan_windows(spec, load_h)
    windows += _event_windows(spec, partners, load_h, len(windows))
    if not windows:
        raise ValueError("windowed traffic found no place for a window inside the horizon")

    measured: list[_Measured] = []
    events = 0
    simulated_attempts = 0
    pools = {
        name: _SummaryPool(name, p.servers, p.queue_limit) for name, p in spec.bank.pools.items()
    }
    for win in windows:
        live = [i for i, p in enumerate(partners) if p.live_from_s < win.end_s]
        sub = tuple(partners[i] for i in live)
        wseed = (
            int(
                np.random.SeedSequence(
                    replication_seed(seed, 0), spawn_key=stream_key("window", str(win.index))
                ).generate_state(1, np.uint64)[0]
            )
            >> 1
        )
        sp = run_span(
            spec,
            sub,
            Streams(wseed),
            (win.start_s - win.warmup_s, win.end_s),
            (win.start_s, win.end_s),
            money_from_s=win.start_s,
        )
        events += sp.events
        rec = sp.recorder
        sessions = np.zeros(n)
        rates = np.zeros((n, K))
        for (_j, pl, ending), c in rec.journeys.items():
            g = live[pl]
            sessions[g] += c
            rates[g, layout["endings"].start + ending] += c
        PP = len(sub) * P
        for key, c in rec.counts.items():
            rest, o = divmod(key, N_OUTCOMES)
            pp = rest % PP
            g = live[pp // P]
            rates[g, (pp % P) * N_OUTCOMES + o] += c
        for key, v in rec.revenue.items():
            rates[live[(key % PP) // P], layout["revenue"].start + key % P] += v
        for key, v in rec.cost.items():
            rates[live[(key % PP) // P], layout["cost"].start + key % P] += v
        with np.errstate(invalid="ignore", divide="ignore"):
            per = np.where(sessions[:, None] > 0, rates / np.maximum(sessions, 1)[:, None], 0.0)
        m = _Measured(
            load=float(load_h[int(win.start_s // HOUR_S) : math.ceil(win.end_s / HOUR_S)].mean()),
            sessions=sessions,
            rates=per,
        )
        m.lat_partner = {live[i]: h for i, h in enumerate(rec.latency_by_partner)}
        m.lat_product = rec.latency_by_product
        m.client = rec.client_latency
        m.wait_sum, m.wait_count = rec.wait_sum, rec.wait_count
        m.bins = rec.latency_by_bin
        m.token_requests = sp.gateway.token_requests if sp.gateway is not None else 0
        simulated_attempts += rec.attempts
        measured.append(m)
        for pool in sp.pools:
            s = pools[pool.name]
            s.busy_s += pool.busy_s
            s.queue_s += pool.queue_s
            s.capacity_s += pool.capacity_seconds()
            s.admitted += pool.admitted
            s.rejected_down += pool.rejected_down

    # ---- booking -------------------------------------------------------------------------
    loads = np.array([m.load for m in measured])
    order = np.argsort(loads, kind="stable")
    sorted_loads = loads[order]
    n_hours = load_h.size
    pos = np.searchsorted(sorted_loads, load_h)
    hi = order[np.clip(pos, 0, order.size - 1)]
    lo = order[np.clip(pos - 1, 0, order.size - 1)]
    span = loads[hi] - loads[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(span > 0, (loads[hi] - load_h) / span, 1.0)  # weight of `lo`
    a = np.clip(a, 0.0, 1.0)

    n_w = len(measured)
    journey_of = np.array([journeys.index(p.journey) for p in partners])
    rates = np.stack([m.rates for m in measured])  # (n_w, n, K)
    seen = np.stack([m.sessions > 0 for m in measured])  # (n_w, n)
    pooled = np.zeros((n_w, len(journeys), K))
    for j in range(len(journeys)):
        mask = journey_of == j
        for w, m in enumerate(measured):
            s = m.sessions[mask].sum()
            if s > 0:
                pooled[w, j] = (m.rates[mask] * m.sessions[mask, None]).sum(axis=0) / s
    pooled_seen = pooled.any(axis=2)
    # fill the rates of partners a window did not see
    for p in range(n):
        have = np.flatnonzero(seen[:, p])
        for w in np.flatnonzero(~seen[:, p]):
            if have.size:
                rates[w, p] = rates[have[np.argmin(np.abs(loads[have] - loads[w]))], p]
            else:
                j = journey_of[p]
                cand = np.flatnonzero(pooled_seen[:, j])
                if cand.size:
                    src = (
                        w if pooled_seen[w, j] else cand[np.argmin(np.abs(loads[cand] - loads[w]))]
                    )
                    rates[w, p] = pooled[src, j]

    bin_s = run.time_bin_s if H <= 60 * 86400.0 else max(run.time_bin_s, 86400.0)
    hour_bin = (np.arange(n_hours) * HOUR_S // bin_s).astype(np.int64)
    calls_hours = (np.arange(n_hours) * HOUR_S) >= run.warmup_s
    booked = Recorder(
        n_partners=n,
        n_products=P,
        product_pool=[0] * P,
        product_cost=[0.0] * P,
        n_pools=len(pools),
        warmup_s=run.warmup_s,
        horizon_s=H,
        time_bin_s=bin_s,
    )
    booked.attempts = simulated_attempts
    weight = np.zeros((n_w, n))  # booked sessions priced by each window (call KPI hours)
    journeys_acc = np.zeros((n, E))
    for p in range(n):
        e = sessions_h[p]
        if not e.any():
            continue
        x = e[:, None] * (a[:, None] * rates[lo, p] + (1.0 - a[:, None]) * rates[hi, p])
        per_bin = np.add.reduceat(
            x, np.flatnonzero(np.diff(np.concatenate(([-1], hour_bin)))), axis=0
        )
        bins_present = np.unique(hour_bin)
        per_bin_calls = np.add.reduceat(
            x * calls_hours[:, None],
            np.flatnonzero(np.diff(np.concatenate(([-1], hour_bin)))),
            axis=0,
        )
        for bi, b in enumerate(bins_present.tolist()):
            row = per_bin[bi]
            crow = per_bin_calls[bi]
            for k in range(P):
                key = b * n * P + p * P + k
                rev = float(row[layout["revenue"].start + k])
                cost = float(row[layout["cost"].start + k])
                if rev:
                    booked.revenue[key] += rev
                if cost:
                    booked.cost[key] += cost
                for o in range(N_OUTCOMES):
                    v = float(crow[k * N_OUTCOMES + o])
                    if v:
                        booked.counts[((b * n * P + p * P + k) * N_OUTCOMES) + o] += v
        journeys_acc[p] = (x * calls_hours[:, None])[:, layout["endings"]].sum(axis=0)
        ec = e * calls_hours
        np.add.at(weight[:, p], lo, ec * a)
        np.add.at(weight[:, p], hi, ec * (1.0 - a))
    for p in range(n):
        for ending in range(E):
            if journeys_acc[p, ending]:
                booked.journeys[journey_of[p], p, ending] += float(journeys_acc[p, ending])

    # latency and waits, weighted by booked sessions
    booked.latency_by_partner = [LatencyHistogram() for _ in range(n)]
    booked.latency_by_product = [LatencyHistogram() for _ in range(P)]
    booked.wait_sum = np.zeros(len(pools))
    booked.wait_count = np.zeros(len(pools))
    token_requests = 0.0
    for w, m in enumerate(measured):
        total = m.sessions.sum()
        if total <= 0:
            continue
        scale_w = weight[w].sum() / total
        for g, h in m.lat_partner.items():
            if m.sessions[g] > 0 and weight[w, g] > 0:
                booked.latency_by_partner[g].merge(h, weight[w, g] / m.sessions[g])
        for k, h in enumerate(m.lat_product):
            if scale_w > 0:
                booked.latency_by_product[k].merge(h, scale_w)
        if scale_w > 0:
            token_requests += m.token_requests * scale_w
            booked.client_latency.merge(m.client, scale_w)
            booked.wait_sum += m.wait_sum * scale_w
            booked.wait_count = booked.wait_count + m.wait_count * scale_w
        booked.latency_by_bin.update(m.bins)
    measured_total = sum(win.end_s - win.start_s for win in windows)
    for s in pools.values():  # time averages of the windows, over the measured horizon
        factor = (H - run.warmup_s) / measured_total
        s.busy_s *= factor
        s.queue_s *= factor
        s.capacity_s *= factor

    return RunOutput(
        spec=spec,
        seed=seed,
        recorder=booked,
        pools=list(pools.values()),
        token_pool=None,
        token_requests=token_requests,
        partner_names=[p.name for p in partners],
        product_names=products,
        pool_names=list(spec.bank.pools),
        journey_names=journeys,
        partners=partners,
        projects=projects,
        sessions_by_partner=[float(s) for s in sessions_h.sum(axis=1)],
        refreshes_by_partner=[0] * n,
        consents_lapsed=0,
        events=events,
        sim_end_s=H,
        wall_s=time.perf_counter() - wall0,
        windows=[(w.start_s, w.end_s) for w in windows],
    )
