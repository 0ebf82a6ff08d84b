"""What windowed traffic draws for the whole horizon: outages, consent lapses, refresh rates.

Outages and consent lapses do not depend on traffic, so windowed traffic draws them for the
whole horizon exactly as full traffic does (the same named streams of the run's seed): the same
seed gives the same down intervals, availability and lapsed consents in both. Unattended
refreshes are a Poisson process of ``per_user_day`` per background user whose consent has not
lapsed, so their expected number per hour is a rate integral over the lapse times.

* :func:`horizon_operations`: every pool's down intervals over ``[0, horizon)`` and every
  unattended user's lapse time (:class:`Operations`).
* :func:`hourly_refreshes`: expected refreshes per (partner, hour).
* :func:`down_spells`: the merged down intervals with the set of pools down in each.
* :func:`forced_down`: a timeline that is down over one interval only (to measure calls
  arriving while a pool is down).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..rng import Streams
from ..spec.types import BackgroundSpec, PartnerSpec, Spec
from .bank import Outages
from .span import pool_outages

__all__ = [
    "DownSpell",
    "Operations",
    "consent_lapses",
    "down_spells",
    "forced_down",
    "horizon_operations",
    "hourly_refreshes",
]

HOUR_S = 3600.0


def background_users(p: PartnerSpec) -> int:
    """Unattended users of partner ``p`` (as the partner model counts them)."""
    assert p.background is not None  # only partners with unattended traffic
    return max(1, round(p.users * p.background.share_of_users))


def consent_lapses(p: PartnerSpec, bg: BackgroundSpec, streams: Streams) -> np.ndarray | None:
    """When each unattended user's consent lapses for good (s; inf = never), None without a
    consent: the draws of ``PartnerRuntime._consent_lapses`` from the same stream.

    Consents were granted evenly over the lifetime before t = 0, so the first expiry is uniform
    on ``[0, lifetime)``; each expiry is renewed with ``renewal_probability``, so the number of
    renewals before the lapse is geometric.
    """
    consent = bg.consent
    if consent is None:
        return None
    n = background_users(p)
    gen = streams.generator("partner", p.name, "consent")
    first = gen.random(n) * consent.lifetime_s
    prob = consent.renewal_probability
    u = gen.random(n)
    if prob <= 0.0:
        renewals = np.zeros(n)
    elif prob >= 1.0:
        renewals = np.full(n, np.inf)
    else:
        renewals = np.floor(np.log1p(-u) / math.log(prob))
    return first + renewals * consent.lifetime_s


@dataclass(frozen=True)
class Operations:
    """The horizon's traffic-independent draws.

    Attributes:
        down: pool name -> its down intervals ``(start_s, end_s)`` meeting ``[0, horizon)``
            (clipped to it).
        lapses: partner index -> lapse time (s) of each unattended user, for partners whose
            unattended traffic has a consent.
        consents_lapsed: consents that lapsed while their partner was live, before the horizon.
    """

    down: Mapping[str, tuple[tuple[float, float], ...]]
    lapses: Mapping[int, np.ndarray]
    consents_lapsed: int


def horizon_operations(spec: Spec, partners: tuple[PartnerSpec, ...], seed: int) -> Operations:
    """Outage timelines and consent lapses over the horizon, drawn as full traffic draws them."""
    streams = Streams(seed)
    horizon = spec.run.horizon_s
    down = {}
    for name, pool in spec.bank.pools.items():
        timeline = pool_outages(pool, streams)
        down[name] = tuple(timeline.downtime(0.0, horizon)) if timeline is not None else ()
    lapses = {}
    lapsed = 0
    for i, p in enumerate(partners):
        if p.background is None:
            continue
        lapse = consent_lapses(p, p.background, streams)
        if lapse is None:
            continue
        lapses[i] = lapse
        if p.live_from_s < horizon:
            lapsed += int(np.count_nonzero((lapse >= p.live_from_s) & (lapse < horizon)))
    return Operations(down, lapses, lapsed)


def outage_replica(spec: Spec, pool: str, seed: int) -> Outages | None:
    """A fresh timeline of ``pool`` that follows the horizon's (the same draws)."""
    return pool_outages(spec.bank.pools[pool], Streams(seed))


def forced_down(start_s: float, end_s: float) -> Outages:
    """A timeline that is down over ``[start_s, end_s)`` only."""
    between = iter((start_s,))
    repair = iter((end_s - start_s,))
    return Outages(lambda: next(between, math.inf), lambda: next(repair, 0.0))


def hourly_refreshes(
    spec: Spec, partners: tuple[PartnerSpec, ...], ops: Operations, n_hours: int
) -> np.ndarray:
    """Expected unattended refreshes per (partner, hour) over ``[0, horizon)``.

    Background users x ``per_user_day`` per day, from each partner's go-live, less the users
    whose consent has lapsed: per hour ``per_user_day / 86400`` x the user-seconds of live
    consent in it.
    """
    horizon = spec.run.horizon_s
    bounds = np.minimum(np.arange(n_hours + 1) * HOUR_S, horizon)
    out = np.zeros((len(partners), n_hours))
    for i, p in enumerate(partners):
        bg = p.background
        if bg is None or p.live_from_s >= horizon:
            continue
        t = np.maximum(bounds, p.live_from_s)
        lapse = ops.lapses.get(i)
        if lapse is None:
            user_s = background_users(p) * t
        else:
            # F(t) = sum over users of min(lapse, t): user-seconds of live consent before t
            order = np.sort(lapse)
            prefix = np.concatenate(([0.0], np.cumsum(np.where(np.isfinite(order), order, 0.0))))
            k = np.searchsorted(order, t, side="right")
            user_s = prefix[k] + t * (order.size - k)
        out[i] = np.diff(user_s) * bg.per_user_day / 86400.0
    return out


@dataclass(frozen=True)
class DownSpell:
    """A merged interval during which at least one pool was down.

    Attributes:
        start_s, end_s: the interval (s).
        pools: the pools down at some time in it.
    """

    start_s: float
    end_s: float
    pools: frozenset[str]


def down_spells(ops: Operations) -> list[DownSpell]:
    """The pools' down intervals merged where they overlap, in time order."""
    intervals = sorted((a, b, name) for name, down in ops.down.items() for a, b in down if b > a)
    spells: list[DownSpell] = []
    for a, b, name in intervals:
        if spells and a < spells[-1].end_s:
            last = spells[-1]
            spells[-1] = DownSpell(last.start_s, max(last.end_s, b), last.pools | {name})
        else:
            spells.append(DownSpell(a, b, frozenset((name,))))
    return spells
