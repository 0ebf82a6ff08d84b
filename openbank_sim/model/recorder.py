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
``[0, horizon)`` (warm-up included). No pandas here: :mod:`openbank_sim.analysis.results` builds tables.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..histogram import LatencyHistogram
from ..outcomes import (
    JOURNEY_ENDINGS,
    JOURNEY_FAILED_OFFSET,
    N_OUTCOMES,
    NO_ANSWER,
    OUTCOME_NAMES,
    Outcome,
)

__all__ = [
    "CALL_LOG_COLUMNS",
    "JOURNEY_ENDINGS",
    "JOURNEY_FAILED_OFFSET",
    "N_OUTCOMES",
    "OUTCOME_NAMES",
    "Recorder",
]

TIMESERIES_ALPHA = 0.02
PUBLISHED_RUN = 5  # C-UK-8: consecutive requests without an answer that count as downtime
PUBLISHED_NO_ANSWER_S = 30.0  # C-UK-8
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
        slo_period_s: float | None = None,
        money_from_s: float = 0.0,
    ) -> None:
        self.n_partners = n_partners
        self.n_products = n_products
        self.n_pools = n_pools
        self._product_pool = np.asarray(product_pool, dtype=np.int64)
        self._product_cost = np.asarray(product_cost, dtype=np.float64)
        self.warmup_s = warmup_s
        self.money_from_s = money_from_s
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
        # published-style availability (C-UK-8): runs of consecutive failed requests
        self._run_len = 0  # failed requests in the current run
        self._run_start = 0.0  # arrival of the run's first failed request
        self.published_down_s = 0.0
        # SLO aggregates by (period, partner)
        self.slo_period_s = slo_period_s
        self.slo_counts: dict[int, list[int]] = {}  # key -> [total, failed, ok]
        self.slo_latency: dict[int, LatencyHistogram] = {}
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
        money = (t >= self.money_from_s) & (t < self.horizon_s)
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

        self._published(t, out, lat)
        if self.slo_period_s is not None:
            self._slo(t, pp // P, out, lat)
        ok = out == Outcome.OK
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

    # -- availability as banks publish it, and SLO aggregates --------------------------------
    def _published(self, t: np.ndarray, out: np.ndarray, lat: np.ndarray) -> None:
        """Down time per C-UK-8: from the first of 5 consecutive requests with no good answer
        within 30 s (503, 5xx, timeout, or slower than 30 s) until the next answered one."""
        order = np.argsort(t, kind="stable")
        t = t[order]
        failed = np.isin(out[order], NO_ANSWER) | (lat[order] > PUBLISHED_NO_ANSWER_S)
        if not failed.any() and self._run_len == 0:
            return
        if self._run_len and not failed[0]:  # the carried run ended with this chunk's first
            self._close_run(float(t[0]))
        edges = np.flatnonzero(np.diff(np.concatenate(([0], failed.view(np.int8), [0]))))
        for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            if self._run_len == 0:
                self._run_start = float(t[a])
            self._run_len += b - a
            if b < t.size:
                self._close_run(float(t[b]))

    def _close_run(self, t_answer: float) -> None:
        if self._run_len >= PUBLISHED_RUN:
            self.published_down_s += t_answer - self._run_start
        self._run_len = 0

    def published_downtime(self) -> float:
        """Seconds counted down in ``[warmup, horizon)`` (closing a run still open)."""
        extra = self.horizon_s - self._run_start if self._run_len >= PUBLISHED_RUN else 0.0
        return self.published_down_s + extra

    def _slo(self, t: np.ndarray, partner: np.ndarray, out: np.ndarray, lat: np.ndarray) -> None:
        period = np.floor(t / self.slo_period_s).astype(np.int64)
        key = period * self.n_partners + partner
        failed = np.isin(out, NO_ANSWER)
        ok = out == Outcome.OK
        uniq, inv = np.unique(key, return_inverse=True)
        total = np.bincount(inv, minlength=uniq.size)
        nfail = np.bincount(inv, weights=failed, minlength=uniq.size)
        nok = np.bincount(inv, weights=ok, minlength=uniq.size)
        for i, k in enumerate(uniq.tolist()):
            row = self.slo_counts.setdefault(k, [0, 0, 0])
            row[0] += int(total[i])
            row[1] += int(nfail[i])
            row[2] += int(nok[i])
            sel = (inv == i) & ok
            if sel.any():
                h = self.slo_latency.get(k)
                if h is None:
                    h = self.slo_latency[k] = LatencyHistogram(TIMESERIES_ALPHA)
                h.add_many(lat[sel])


def _accumulate(target: dict, keys: np.ndarray, values: np.ndarray) -> None:
    uniq, inv = np.unique(keys, return_inverse=True)
    sums = np.bincount(inv, weights=values, minlength=uniq.size)
    for k, v in zip(uniq.tolist(), sums.tolist(), strict=True):
        target[k] += v
