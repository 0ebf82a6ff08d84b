"""Retry storms made visible: retry amplification, queue waits past the client timeout, and
the plain-words warnings a run carries about them.

A client that times out and retries multiplies the offered load; if queues then grow, more
attempts time out and the system can stay overloaded after the trigger is gone (a metastable
failure). Two signals show it in a run:

* **retry amplification** of a time bin: attempts arriving in it / first attempts of logical
  calls arriving in it (1 when nothing is retried). ``retry_amplification_peak`` is the largest
  over the bins with at least :data:`MIN_FIRST_ATTEMPTS` first attempts (fewer carry no
  signal: one call retried twice is not a storm);
* **the longest queue wait** of a pool (``backend_wait_max_s``) against the timeout of the
  clients that call it: an attempt queued longer than its client waits is served for nobody.

Warnings fire when amplification exceeds :data:`AMPLIFICATION_WARNING` in some bin, when a
pool's wait exceeds its clients' timeout, and when observation windows of windowed traffic end
unsettled. Their outcome depends strongly on the seed, so each warning says to replicate.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from ..model.record import RunRecord
from ..spec.units import format_duration

__all__ = [
    "AMPLIFICATION_WARNING",
    "MIN_FIRST_ATTEMPTS",
    "amplification_by_bin",
    "storm_kpis",
    "storm_warnings",
    "windows_unsettled",
]

AMPLIFICATION_WARNING = 1.5
"""Attempts per first attempt in a bin above which a run warns of a retry storm."""
MIN_FIRST_ATTEMPTS = 30
"""First attempts a bin needs for its amplification to count."""

_REPLICATE = (
    "Results of such a scenario vary strongly between seeds: replicate "
    "(openbank-sim compare or sweep with --replications) before trusting one run."
)


def amplification_by_bin(record: RunRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time bins (index), attempts and first attempts in each, over every partner and product;
    bins sorted, both tables in the record's own bin width."""
    counts = record.calls.counts
    first = record.calls.first_attempts
    bins = np.union1d(counts.bin, first.bin)
    attempts = np.zeros(bins.size)
    firsts = np.zeros(bins.size)
    if counts.bin.size:
        np.add.at(attempts, np.searchsorted(bins, counts.bin), counts.count)
    if first.bin.size:
        np.add.at(firsts, np.searchsorted(bins, first.bin), first.count)
    return bins, attempts, firsts


def _peak(attempts: np.ndarray, firsts: np.ndarray) -> tuple[float, np.ndarray]:
    """The peak amplification over bins with enough first attempts, and every bin's ratio
    (NaN where a bin has too few)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(firsts >= MIN_FIRST_ATTEMPTS, attempts / firsts, np.nan)
    peak = float(np.nanmax(ratio)) if np.isfinite(ratio).any() else math.nan
    return peak, ratio


def storm_kpis(record: RunRecord) -> dict[str, float]:
    """``retry_amplification_peak``, ``backend_wait_max_s`` and ``windows_unsettled`` (0 for
    full traffic, which has no windows)."""
    _bins, attempts, firsts = amplification_by_bin(record)
    peak, _ratio = _peak(attempts, firsts)
    waits = record.calls.wait_max.wait_max_s
    unsettled = windows_unsettled(record)
    return {
        "retry_amplification_peak": peak,
        "backend_wait_max_s": float(waits.max()) if waits.size else math.nan,
        "windows_unsettled": float(len(unsettled)) if unsettled is not None else 0.0,
    }


def windows_unsettled(record: RunRecord) -> list[int] | None:
    """Windowed traffic: the windows that ended unsettled, their last time bin showing retry
    amplification above :data:`AMPLIFICATION_WARNING` or a queue wait beyond the clients'
    timeout (None for full traffic)."""
    if record.window_ends is None:
        return None
    timeouts = _pool_timeouts(record)
    limit = [timeouts.get(name, math.inf) for name in record.pool_names]
    out = []
    for i, end in enumerate(record.window_ends):
        amplified = (
            end.first_attempts >= MIN_FIRST_ATTEMPTS
            and end.attempts / end.first_attempts > AMPLIFICATION_WARNING
        )
        queued = any(w > t for w, t in zip(end.wait_max_s, limit, strict=True))
        if amplified or queued:
            out.append(i)
    return out


def _when(record: RunRecord, t_s: float) -> str:
    start = dt.datetime.combine(record.spec.run.start, dt.time())
    return (start + dt.timedelta(seconds=float(t_s))).strftime("%Y-%m-%d %H:%M")


def _pool_timeouts(record: RunRecord) -> dict[str, float]:
    """For each pool, the shortest client timeout among the partners whose calls reach it."""
    spec = record.spec
    out: dict[str, float] = {}
    for p in record.partners:
        products = {s.product for s in spec.journeys[p.journey].steps}
        if p.background is not None:
            products.add(p.background.product)
        for product in products:
            pool = spec.bank.products[product].pool
            out[pool] = min(out.get(pool, math.inf), p.client.timeout_s)
    return out


def storm_warnings(record: RunRecord) -> list[str]:
    """Plain-words warnings about retry storms and unsettled windows (empty when none)."""
    warnings: list[str] = []
    bins, attempts, firsts = amplification_by_bin(record)
    peak, ratio = _peak(attempts, firsts)
    bin_s = record.calls.counts.bin_s
    hot = np.flatnonzero(ratio > AMPLIFICATION_WARNING)
    if hot.size:
        at = int(np.nanargmax(ratio))
        warnings.append(
            f"Retry storm: from {_when(record, bins[hot[0]] * bin_s)} the clients sent more "
            f"than {AMPLIFICATION_WARNING:g} attempts per logical call, up to {peak:.2f} in the "
            f"time bin from {_when(record, bins[at] * bin_s)} ({hot.size} bin(s) of "
            f"{format_duration(bin_s)} above {AMPLIFICATION_WARNING:g}): retries multiply the "
            f"offered load. {_REPLICATE}"
        )
    wm = record.calls.wait_max
    timeouts = _pool_timeouts(record)
    for i, name in enumerate(record.pool_names):
        timeout = timeouts.get(name, math.inf)
        rows = np.flatnonzero((wm.pool == i) & (wm.wait_max_s > timeout))
        if rows.size:
            worst = rows[np.argmax(wm.wait_max_s[rows])]
            warnings.append(
                f"Pool {name!r}: queue waits reached {wm.wait_max_s[worst]:.1f} s (at "
                f"{_when(record, wm.bin[worst] * wm.bin_s)}), beyond the {timeout:g} s client "
                f"timeout, first in the time bin from "
                f"{_when(record, wm.bin[rows[0]] * wm.bin_s)}: attempts time out while still "
                f"queued and the pool serves work nobody waits for. {_REPLICATE}"
            )
    unsettled = windows_unsettled(record)
    if unsettled and record.windows is not None:
        first_w = record.windows[unsettled[0]]
        warnings.append(
            f"{len(unsettled)} of {len(record.windows)} observation window(s) ended unsettled "
            f"(queue wait above the client timeout or retry amplification above "
            f"{AMPLIFICATION_WARNING:g} at the window's end), the first at "
            f"{_when(record, first_w[0])}: the hours booked from them cannot be trusted; run "
            f"this scenario with full traffic, or with longer windows. {_REPLICATE}"
        )
    return warnings
