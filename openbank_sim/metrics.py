"""The streaming recorder: the one place that sees every call.

The model hands each finished attempt to :meth:`Recorder.attempt` (six list appends, nothing
else); every ``flush_every`` attempts the buffers are aggregated with numpy into

* counts by (time bin, partner, product, outcome) and money by (time bin, partner, product),
  kept sparse (only keys that occurred);
* latency histograms of ``ok`` attempts (:class:`~openbank_sim.histogram.LatencyHistogram`,
  0.5 % relative accuracy) per product and per partner, and coarser ones (2 %) per
  (time bin, product) for the timeseries;
* queue-wait sums per pool.

Memory is bounded whatever the number of calls: the buffers hold at most ``flush_every``
attempts; each histogram holds at most ``histogram.max_bins()`` (about 3,500) bins; the sparse
tables grow with time bins x partners x products, not with calls. Only the optional call log
(``run.record_calls``) grows with calls, by design.

Call KPIs count attempts *arriving* in ``[warmup, horizon)``; money counts attempts arriving in
``[0, horizon)`` (warm-up included). No pandas here: :mod:`openbank_sim.results` builds tables.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .histogram import LatencyHistogram

__all__ = ["JOURNEY_ENDINGS", "OUTCOME_NAMES", "Recorder"]

OUTCOME_NAMES = ("ok", "rate_limited", "overloaded", "timeout", "error", "auth_failed")
N_OUTCOMES = len(OUTCOME_NAMES)
# How a journey ended: completed, the user's patience ran out, dropped off at a redirect, or
# a step's final outcome (offset 3 + outcome code; "ok" never ends a journey early).
JOURNEY_ENDINGS = (
    "completed",
    "patience",
    "redirect",
    "_",
    *(f"failed_{o}" for o in OUTCOME_NAMES[1:]),
)
JOURNEY_FAILED_OFFSET = 3
TIMESERIES_ALPHA = 0.02
CALL_LOG_COLUMNS = (
    "t_s",
    "partner",
    "product",
    "user",
    "session",
    "attempt",
    "background",
    "outcome",
    "latency_s",
    "wait_s",
)


class Recorder:
    """Streaming aggregation of attempts, logical calls and journeys.

    Args:
        n_partners, n_products: sizes of the index spaces (partner index, product index).
        product_pool: the pool index of each product.
        product_cost: the bank's cost per attempt of each product (currency).
        warmup_s, horizon_s: the call-KPI window ``[warmup_s, horizon_s)`` (seconds).
        time_bin_s: width of a timeseries bin (seconds).
        call_log: keep one row per attempt (for sessions chosen by the model).
        flush_every: attempts buffered before aggregation.
    """

    def __init__(
        self,
        n_partners: int,
        n_products: int,
        product_pool: list[int],
        product_cost: list[float],
        n_pools: int,
        warmup_s: float,
        horizon_s: float,
        time_bin_s: float,
        call_log: bool = False,
        flush_every: int = 65536,
    ) -> None:
        self.n_partners = n_partners
        self.n_products = n_products
        self.n_pools = n_pools
        self._product_pool = np.asarray(product_pool, dtype=np.int64)
        self._product_cost = np.asarray(product_cost, dtype=np.float64)
        self.warmup_s = warmup_s
        self.horizon_s = horizon_s
        self.time_bin_s = time_bin_s
        self.flush_every = flush_every
        # buffers (hot path)
        self._t: list[float] = []
        self._pp: list[int] = []
        self._out: list[int] = []
        self._lat: list[float] = []
        self._wait: list[float] = []
        self._rev: list[float] = []
        # aggregates
        self.counts: dict[int, int] = defaultdict(int)  # key ((bin*PP + pp)*6 + outcome)
        self.revenue: dict[int, float] = defaultdict(float)  # key bin*PP + pp, [0, horizon)
        self.cost: dict[int, float] = defaultdict(float)  # key bin*PP + pp, [0, horizon)
        self.latency_by_product = [LatencyHistogram() for _ in range(n_products)]
        self.latency_by_partner = [LatencyHistogram() for _ in range(n_partners)]
        self.latency_by_bin: dict[int, LatencyHistogram] = {}  # key bin*P + product
        self.wait_sum = np.zeros(n_pools)
        self.wait_count = np.zeros(n_pools, dtype=np.int64)
        self.client_latency = LatencyHistogram()
        self._lc_t: list[float] = []
        self._lc_lat: list[float] = []
        self.journeys: dict[tuple[int, int, int], int] = defaultdict(
            int
        )  # (journey, partner, ending)
        self.sessions = 0
        self.attempts = 0
        self.call_log = call_log
        self._log: list[tuple] = []
        self._log_chunks: list[dict[str, np.ndarray]] = []

    # -- hot path --------------------------------------------------------------------------
    def attempt(
        self, t0: float, pp: int, outcome: int, latency: float, wait: float, revenue: float
    ) -> None:
        """One finished attempt: arrival time (s), partner*P + product, outcome code, latency
        (s), backend queue wait (s; negative when it never entered a pool), revenue if ok."""
        self._t.append(t0)
        self._pp.append(pp)
        self._out.append(outcome)
        self._lat.append(latency)
        self._wait.append(wait)
        self._rev.append(revenue)
        if len(self._t) >= self.flush_every:
            self.flush()

    def log(self, row: tuple) -> None:
        """One call-log row, in :data:`CALL_LOG_COLUMNS` order."""
        self._log.append(row)
        if len(self._log) >= self.flush_every:
            self._flush_log()

    def logical_call(self, t_first: float, latency: float) -> None:
        """A logical call (first attempt to final outcome, backoff included)."""
        self._lc_t.append(t_first)
        self._lc_lat.append(latency)

    def journey(self, t_start: float, journey: int, partner: int, ending: int) -> None:
        """A finished journey that started at ``t_start`` (s)."""
        if self.warmup_s <= t_start < self.horizon_s:
            self.journeys[journey, partner, ending] += 1

    # -- aggregation -------------------------------------------------------------------------
    def _flush_log(self) -> None:
        if not self._log:
            return
        cols = list(zip(*self._log, strict=True))
        self._log_chunks.append(
            {name: np.asarray(col) for name, col in zip(CALL_LOG_COLUMNS, cols, strict=True)}
        )
        self._log = []

    def call_log_columns(self) -> dict[str, np.ndarray]:
        """The call log as columns, sorted by arrival time (call after :meth:`flush`)."""
        self._flush_log()
        if not self._log_chunks:
            return {}
        out = {k: np.concatenate([c[k] for c in self._log_chunks]) for k in CALL_LOG_COLUMNS}
        order = np.argsort(out["t_s"], kind="stable")
        return {k: v[order] for k, v in out.items()}

    def flush(self) -> None:
        """Aggregate the buffered attempts and logical calls."""
        if self._lc_t:
            t = np.asarray(self._lc_t)
            lat = np.asarray(self._lc_lat)
            self._lc_t, self._lc_lat = [], []
            keep = (t >= self.warmup_s) & (t < self.horizon_s)
            if keep.any():
                self.client_latency.add_many(lat[keep])
        if not self._t:
            return
        t = np.asarray(self._t)
        pp = np.asarray(self._pp, dtype=np.int64)
        out = np.asarray(self._out, dtype=np.int64)
        lat = np.asarray(self._lat)
        wait = np.asarray(self._wait)
        rev = np.asarray(self._rev)
        self._t, self._pp, self._out, self._lat, self._wait, self._rev = [], [], [], [], [], []
        self.attempts += t.size

        P = self.n_products
        PP = self.n_partners * P
        bins = np.floor(t / self.time_bin_s).astype(np.int64)
        money = t < self.horizon_s
        if money.any():
            key = bins[money] * PP + pp[money]
            _accumulate(self.revenue, key, rev[money])
            _accumulate(self.cost, key, self._product_cost[pp[money] % P])

        m = (t >= self.warmup_s) & (t < self.horizon_s)
        if not m.any():
            return
        t, pp, out, lat, wait, bins = t[m], pp[m], out[m], lat[m], wait[m], bins[m]
        keys, n = np.unique((bins * PP + pp) * N_OUTCOMES + out, return_counts=True)
        for k, c in zip(keys.tolist(), n.tolist(), strict=True):
            self.counts[k] += c

        admitted = wait >= 0.0
        if admitted.any():
            pool = self._product_pool[pp[admitted] % P]
            self.wait_sum += np.bincount(pool, weights=wait[admitted], minlength=self.n_pools)
            self.wait_count += np.bincount(pool, minlength=self.n_pools)

        ok = out == 0
        if not ok.any():
            return
        lat, pp, bins = lat[ok], pp[ok], bins[ok]
        product = pp % P
        partner = pp // P
        for k in np.unique(product).tolist():
            self.latency_by_product[k].add_many(lat[product == k])
        for k in np.unique(partner).tolist():
            self.latency_by_partner[k].add_many(lat[partner == k])
        bkey = bins * P + product
        order = np.argsort(bkey, kind="stable")
        bkey, lat_sorted = bkey[order], lat[order]
        uniq, starts = np.unique(bkey, return_index=True)
        ends = [*starts[1:].tolist(), bkey.size]
        for k, a, b in zip(uniq.tolist(), starts.tolist(), ends, strict=True):
            hist = self.latency_by_bin.get(k)
            if hist is None:
                hist = self.latency_by_bin[k] = LatencyHistogram(TIMESERIES_ALPHA)
            hist.add_many(lat_sorted[a:b])


def _accumulate(target: dict, keys: np.ndarray, values: np.ndarray) -> None:
    uniq, inv = np.unique(keys, return_inverse=True)
    sums = np.bincount(inv, weights=values, minlength=uniq.size)
    for k, v in zip(uniq.tolist(), sums.tolist(), strict=True):
        target[k] += v
