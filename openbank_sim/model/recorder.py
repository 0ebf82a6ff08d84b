"""The streaming recorder: the one place that sees every call.

The model hands each finished attempt to the recorder as one run of :data:`ATTEMPT_FIELDS`
values appended to a flat buffer (:meth:`Recorder.attempt`, or the buffer itself from
:meth:`Recorder.attempt_buffer` on the hot path); every :data:`STAGE_EVERY` attempts the
buffer moves into numpy arrays (freeing its Python floats while they are still in cache: a
run's hot path stays small in memory), and every
``flush_every`` attempts the staged arrays are aggregated together, in arrival order, with
numpy into

* counts by (time bin, partner, product, outcome) and money by (time bin, partner, product),
  kept sparse (only keys that occurred);
* latency histograms of ``ok`` attempts (:class:`~openbank_sim.histogram.LatencyHistogram`,
  0.5 % relative accuracy) per product and per partner, and coarser ones (2 %) per
  (time bin, product) for the timeseries;
* queue-wait sums per pool, and per (time bin, pool) with the attempts admitted.

Memory is bounded whatever the number of calls: the buffers hold at most ``flush_every``
attempts; each histogram holds at most ``histogram.max_bins()`` (about 3,500) bins; the sparse
tables grow with time bins x partners x products, not with calls. Only the optional call log
(``run.record_calls``) grows with calls, by design.

Call KPIs count attempts *arriving* in ``[warmup, horizon)``; money counts attempts arriving in
``[0, horizon)`` (warm-up included). No pandas here: :mod:`openbank_sim.analysis.results` builds tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
from .record import (
    BinLatency,
    BreakerTransitions,
    CallAggregates,
    CallCounts,
    ClientLeverCounts,
    FirstAttempts,
    JourneyCounts,
    MoneyCells,
    PoolWaitMax,
    PoolWaitSums,
    SloAggregates,
)

__all__ = [
    "CALL_LOG_COLUMNS",
    "JOURNEY_ENDINGS",
    "JOURNEY_FAILED_OFFSET",
    "N_OUTCOMES",
    "OUTCOME_NAMES",
    "Recorder",
    "RecorderLayout",
]

TIMESERIES_ALPHA = 0.02
STAGE_EVERY = 512  # attempts buffered as Python objects before they move into numpy arrays
ATTEMPT_FIELDS = 7  # an attempt in the buffer: t0, pp, outcome, latency, wait, revenue, k
PUBLISHED_RUN = 5  # C-UK-8: consecutive requests without an answer that count as downtime
PUBLISHED_NO_ANSWER_S = 30.0  # C-UK-8
# one row per attempt; the last three are the attempt's draws (documented in the README)
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
    "overhead_s",
    "auth_coin",
    "token_service_s",
)


@dataclass(frozen=True)
class RecorderLayout:
    """What a recorder records: the index spaces and the windows the aggregates count in.

    Attributes:
        n_partners, n_products, n_pools: sizes of the index spaces.
        product_pool: the pool index of each product.
        product_cost: the bank's cost per attempt of each product (currency).
        warmup_s, horizon_s: the call-KPI window ``[warmup_s, horizon_s)`` (seconds).
        time_bin_s: width of a timeseries bin (seconds).
        call_log: keep one row per attempt (for sessions chosen by the model).
        slo_period_s: SLO period (seconds; None: no SLO aggregates).
        money_from_s: money counts attempts arriving in ``[money_from_s, horizon_s)``.
    """

    n_partners: int
    n_products: int
    n_pools: int
    product_pool: tuple[int, ...]
    product_cost: tuple[float, ...]
    warmup_s: float
    horizon_s: float
    time_bin_s: float
    call_log: bool = False
    slo_period_s: float | None = None
    money_from_s: float = 0.0


class Recorder:
    """Streaming aggregation of attempts, logical calls and journeys.

    Internally cells are keyed by packed integers (``(bin * PP + pp) * 6 + outcome``); the
    packing never leaves this class: :meth:`aggregates` hands on tables with named axes.

    Args:
        layout: the index spaces and windows.
        flush_every: attempts buffered before aggregation.
    """

    def __init__(self, layout: RecorderLayout, flush_every: int = 65536) -> None:
        self.layout = layout
        self.n_partners = layout.n_partners
        self.n_products = layout.n_products
        self.n_pools = layout.n_pools
        self._product_pool = np.asarray(layout.product_pool, dtype=np.int64)
        self._product_cost = np.asarray(layout.product_cost, dtype=np.float64)
        self.warmup_s = layout.warmup_s
        self.money_from_s = layout.money_from_s
        self.horizon_s = layout.horizon_s
        self.time_bin_s = layout.time_bin_s
        self.flush_every = flush_every
        # every STAGE_EVERY attempts the buffers move into numpy arrays (Python floats freed
        # early keep the hot path's memory small and in cache); they are aggregated together
        # every flush_every attempts, so the sums are those of one buffer of that size
        self._stage_every = STAGE_EVERY if flush_every % STAGE_EVERY == 0 else flush_every
        self._staged: list[tuple[np.ndarray, ...]] = []
        self._staged_n = 0
        self._staged_lc: list[tuple[np.ndarray, np.ndarray]] = []
        # buffers (hot path): attempts as runs of ATTEMPT_FIELDS values, logical calls as
        # pairs (t_first, latency); cleared in place when staged
        self._buf: list[float] = []
        self._stage_at = self._stage_every * ATTEMPT_FIELDS
        self._lc: list[float] = []
        # aggregates, keyed by packed integers (private to this class)
        self._counts: dict[int, int] = defaultdict(int)  # ((bin*PP + pp)*6 + outcome)
        self._revenue: dict[int, float] = defaultdict(float)  # bin*PP + pp, money window
        self._cost: dict[int, float] = defaultdict(float)  # bin*PP + pp, money window
        self._first: dict[int, int] = defaultdict(int)  # bin*PP + pp: first attempts
        self._wait_max: dict[int, float] = {}  # bin*n_pools + pool: longest queue wait (s)
        self._wait_sums: dict[int, list] = {}  # bin*n_pools + pool: [admitted, wait sum (s)]
        self.latency_by_product = [LatencyHistogram() for _ in range(self.n_products)]
        self.latency_by_partner = [LatencyHistogram() for _ in range(self.n_partners)]
        self._latency_by_bin: dict[int, LatencyHistogram] = {}  # bin*P + product
        self.wait_sum = np.zeros(self.n_pools)
        self.wait_count = np.zeros(self.n_pools, dtype=np.int64)
        self.client_latency = LatencyHistogram()
        self._tallies: dict[tuple[int, int], list[int]] = {}
        self.attempts = 0
        self.call_log = layout.call_log
        # published-style availability (C-UK-8): runs of consecutive failed requests
        self._run_len = 0  # failed requests in the current run
        self._run_start = 0.0  # arrival of the run's first failed request
        self.published_down_s = 0.0
        # SLO aggregates by (period, partner)
        self.slo_period_s = layout.slo_period_s
        self._slo_counts: dict[int, list[int]] = {}  # period*n + partner -> [total, failed, ok]
        self._slo_latency: dict[int, LatencyHistogram] = {}
        self._log: list[tuple] = []
        self._log_chunks: list[dict[str, np.ndarray]] = []
        # the clients' levers (only when a client has one)
        self._levers: dict[tuple[int, int, int], list[int]] | None = None
        self._transitions: list[tuple[float, int, int, int, int]] | None = None

    # -- hot path --------------------------------------------------------------------------
    def attempt(
        self,
        t0: float,
        pp: int,
        outcome: int,
        latency: float,
        wait: float,
        revenue: float,
        k: int = 1,
    ) -> None:
        """One finished attempt: arrival time (s), partner*P + product, outcome code, latency
        (s), backend queue wait (s; negative when it never entered a pool), revenue if ok, and
        which attempt of its logical call it is (1 = the first)."""
        buf = self._buf
        buf.extend((t0, pp, outcome, latency, wait, revenue, k))
        if len(buf) >= self._stage_at:
            self._stage()

    def attempt_buffer(self) -> tuple[list[float], list[float], int]:
        """The hot path's way in, without a call per attempt: the attempt buffer (extend it
        with :meth:`attempt`'s seven arguments, in order), the logical-call buffer (extend it
        with :meth:`logical_call`'s two) and the attempt buffer's length at which the caller
        calls :meth:`stage`. Both lists stay the same objects for the recorder's life."""
        return self._buf, self._lc, self._stage_at

    def stage(self) -> None:
        """Move the buffers into numpy arrays (see :meth:`attempt_buffer`)."""
        self._stage()

    def log(self, row: tuple) -> None:
        """One call-log row, in :data:`CALL_LOG_COLUMNS` order."""
        self._log.append(row)
        if len(self._log) >= self.flush_every:
            self._flush_log()

    def logical_call(self, t_first: float, latency: float) -> None:
        """A logical call (first attempt to final outcome, backoff included)."""
        self._lc.extend((t_first, latency))

    def journey_tally(self, journey: int, partner: int) -> list[int]:
        """The tally of finished journeys of ``(journey, partner)`` that started inside
        ``[warmup_s, horizon_s)``, by ending code: the model adds to it (``tally[ending] +=
        1``); :meth:`aggregates` hands the tallies on as journey counts."""
        tally = self._tallies.get((journey, partner))
        if tally is None:
            tally = self._tallies[journey, partner] = [0] * len(JOURNEY_ENDINGS)
        return tally

    # -- the clients' levers ---------------------------------------------------------------
    def _lever_cell(self, t: float, pp: int) -> list[int] | None:
        if not self.warmup_s <= t < self.horizon_s:
            return None
        if self._levers is None:
            self._levers = {}
        P = self.n_products
        key = (int(t // self.time_bin_s), pp // P, pp % P)
        cell = self._levers.get(key)
        if cell is None:
            cell = self._levers[key] = [0, 0]
        return cell

    def retry_suppressed(self, t: float, pp: int) -> None:
        """A retry the client's budget did not allow, decided at ``t`` (s), of partner*P +
        product ``pp``."""
        cell = self._lever_cell(t, pp)
        if cell is not None:
            cell[0] += 1

    def short_circuit(self, t: float, pp: int) -> None:
        """A call the client's breaker failed fast at ``t`` (s), of partner*P + product ``pp``."""
        cell = self._lever_cell(t, pp)
        if cell is not None:
            cell[1] += 1

    def breaker_log(self, partner: int, product: int) -> Callable[[float, int, int], None]:
        """Where the breaker of ``(partner, product)`` reports its state changes
        ``(t_s, from_state, to_state)``."""
        if self._levers is None:
            self._levers = {}
        if self._transitions is None:
            self._transitions = []
        rows = self._transitions

        def transition(t: float, a: int, b: int) -> None:
            rows.append((t, partner, product, a, b))

        return transition

    def uses_levers(self) -> None:
        """A client has a lever: the aggregates carry what the levers did (zeros included)."""
        if self._levers is None:
            self._levers = {}

    # -- aggregation -------------------------------------------------------------------------
    def _journey_cells(self) -> dict[tuple[int, int, int], int]:
        """Journey counts by ``(journey, partner, ending)`` from the tallies (endings that
        never occurred left out)."""
        cells: dict[tuple[int, int, int], int] = {}
        for (journey, partner), tally in self._tallies.items():
            for ending, n in enumerate(tally):
                if n:
                    cells[journey, partner, ending] = n
        return cells

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

    def _stage(self, aggregate: bool = True) -> None:
        """Move the buffered attempts and logical calls into numpy arrays; aggregate them all
        once ``flush_every`` attempts are staged (unless ``aggregate`` is False)."""
        buf = self._buf
        if buf:
            # integers below 2**53 pass through float64 exactly
            a = np.array(buf, dtype=np.float64).reshape(-1, ATTEMPT_FIELDS).T
            buf.clear()
            t, pp, out, lat, wait, rev, k = a
            self._staged.append(
                (
                    t,
                    pp.astype(np.int64),
                    out.astype(np.int64),
                    lat,
                    wait,
                    rev,
                    k.astype(np.int64),
                )
            )
            self._staged_n += a.shape[1]
        lc = self._lc
        if lc:
            pairs = np.array(lc, dtype=np.float64).reshape(-1, 2).T
            lc.clear()
            self._staged_lc.append((pairs[0], pairs[1]))
        if aggregate and self._staged_n >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Aggregate the buffered attempts and logical calls."""
        self._stage(aggregate=False)
        if self._staged_lc:
            t, lat = _joined(self._staged_lc)
            self._staged_lc = []
            keep = (t >= self.warmup_s) & (t < self.horizon_s)
            if keep.any():
                self.client_latency.add_many(lat[keep])
        if not self._staged:
            return
        t, pp, out, lat, wait, rev, k = _joined(self._staged)
        self._staged = []
        self._staged_n = 0
        first = k == 1
        self.attempts += t.size

        P = self.n_products
        PP = self.n_partners * P
        bins = np.floor(t / self.time_bin_s).astype(np.int64)
        money = (t >= self.money_from_s) & (t < self.horizon_s)
        if money.any():
            key = bins[money] * PP + pp[money]
            _accumulate(self._revenue, key, rev[money])
            _accumulate(self._cost, key, self._product_cost[pp[money] % P])

        m = (t >= self.warmup_s) & (t < self.horizon_s)
        if not m.any():
            return
        t, pp, out, lat, wait, bins = t[m], pp[m], out[m], lat[m], wait[m], bins[m]
        keys, n = np.unique((bins * PP + pp) * N_OUTCOMES + out, return_counts=True)
        for k, c in zip(keys.tolist(), n.tolist(), strict=True):
            self._counts[k] += c
        first = first[m]
        if first.any():
            keys, n = np.unique(bins[first] * PP + pp[first], return_counts=True)
            for k, c in zip(keys.tolist(), n.tolist(), strict=True):
                self._first[k] += c

        admitted = wait >= 0.0
        if admitted.any():
            pool = self._product_pool[pp[admitted] % P]
            self.wait_sum += np.bincount(pool, weights=wait[admitted], minlength=self.n_pools)
            self.wait_count += np.bincount(pool, minlength=self.n_pools)
            self._bin_waits(bins[admitted] * self.n_pools + pool, wait[admitted])

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
            hist = self._latency_by_bin.get(k)
            if hist is None:
                hist = self._latency_by_bin[k] = LatencyHistogram(TIMESERIES_ALPHA)
            hist.add_many(lat_sorted[a:b])

    # -- the hand-off ----------------------------------------------------------------------
    def aggregates(self) -> CallAggregates:
        """Flush and hand on everything recorded, as tables with named axes."""
        self.flush()
        P = self.n_products
        PP = self.n_partners * P
        bin_s = self.time_bin_s
        keys = _keys(self._counts)
        rest, outcome = np.divmod(keys, N_OUTCOMES)
        cbin, pp = np.divmod(rest, PP)
        counts = CallCounts(
            bin_s,
            cbin,
            pp // P,
            pp % P,
            outcome,
            np.fromiter(self._counts.values(), dtype=np.int64, count=len(self._counts)),
        )
        fbin, fpp = np.divmod(_keys(self._first), PP)
        first = FirstAttempts(
            bin_s,
            fbin,
            fpp // P,
            fpp % P,
            np.fromiter(self._first.values(), dtype=np.int64, count=len(self._first)),
        )
        wkeys = sorted(self._wait_max)
        wbin, wpool = np.divmod(np.asarray(wkeys, dtype=np.int64), max(1, self.n_pools))
        wait_max = PoolWaitMax(
            bin_s, wbin, wpool, np.asarray([self._wait_max[k] for k in wkeys], dtype=float)
        )
        wait_by_bin = PoolWaitSums.from_cells(
            bin_s,
            {
                divmod(k, max(1, self.n_pools)): (n, total)
                for k, (n, total) in self._wait_sums.items()
            },
        )
        lat_keys = sorted(self._latency_by_bin)
        lat_bin, lat_product = np.divmod(np.asarray(lat_keys, dtype=np.int64), P)
        slo = None
        if self.slo_period_s is not None:
            n = self.n_partners
            slo = SloAggregates(
                self.slo_period_s,
                {divmod(k, n): (v[0], v[1], v[2]) for k, v in self._slo_counts.items()},
                {divmod(k, n): h for k, h in self._slo_latency.items()},
            )
        return CallAggregates(
            counts=counts,
            first_attempts=first,
            wait_max=wait_max,
            wait_by_bin=wait_by_bin,
            revenue=self._money(self._revenue, PP),
            cost=self._money(self._cost, PP),
            journeys=JourneyCounts.from_cells(self._journey_cells()),
            latency_by_product=tuple(self.latency_by_product),
            latency_by_partner=tuple(self.latency_by_partner),
            client_latency=self.client_latency,
            latency_by_bin=BinLatency(
                bin_s, lat_bin, lat_product, tuple(self._latency_by_bin[k] for k in lat_keys)
            ),
            wait_sum_s=self.wait_sum,
            wait_count=self.wait_count,
            published_downtime_s=self.published_downtime(),
            slo=slo,
            attempts=self.attempts,
            call_log=self.call_log_columns() if self.call_log else None,
            client_levers=(
                ClientLeverCounts.from_cells(
                    bin_s, {k: (v[0], v[1]) for k, v in sorted(self._levers.items())}
                )
                if self._levers is not None
                else None
            ),
            breaker_transitions=(
                BreakerTransitions.from_rows(self._transitions)
                if self._transitions is not None
                else None
            ),
        )

    def _bin_waits(self, keys: np.ndarray, wait: np.ndarray) -> None:
        """Keep the longest queue wait, the waits' sum and the admitted attempts per (bin,
        pool) key."""
        order = np.argsort(keys, kind="stable")
        keys, wait = keys[order], wait[order]
        uniq, starts = np.unique(keys, return_index=True)
        longest = np.maximum.reduceat(wait, starts)
        sums = np.add.reduceat(wait, starts)
        admitted = np.diff(np.append(starts, keys.size))
        waits = self._wait_max
        wait_sums = self._wait_sums
        for k, w, total, n in zip(
            uniq.tolist(), longest.tolist(), sums.tolist(), admitted.tolist(), strict=True
        ):
            if w > waits.get(k, -1.0):
                waits[k] = w
            cell = wait_sums.get(k)
            if cell is None:
                wait_sums[k] = [n, total]
            else:
                cell[0] += n
                cell[1] += total

    def _money(self, cells: dict[int, float], PP: int) -> MoneyCells:
        mbin, pp = np.divmod(_keys(cells), PP)
        P = self.n_products
        amount = np.fromiter(cells.values(), dtype=np.float64, count=len(cells))
        return MoneyCells(self.time_bin_s, mbin, pp // P, pp % P, amount)

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
            row = self._slo_counts.setdefault(k, [0, 0, 0])
            row[0] += int(total[i])
            row[1] += int(nfail[i])
            row[2] += int(nok[i])
            sel = (inv == i) & ok
            if sel.any():
                h = self._slo_latency.get(k)
                if h is None:
                    h = self._slo_latency[k] = LatencyHistogram(TIMESERIES_ALPHA)
                h.add_many(lat[sel])


def _keys(cells: dict) -> np.ndarray:
    return np.fromiter(cells.keys(), dtype=np.int64, count=len(cells))


def _accumulate(target: dict, keys: np.ndarray, values: np.ndarray) -> None:
    uniq, inv = np.unique(keys, return_inverse=True)
    sums = np.bincount(inv, weights=values, minlength=uniq.size)
    for k, v in zip(uniq.tolist(), sums.tolist(), strict=True):
        target[k] += v


def _joined(chunks: Sequence[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """The columns of staged ``chunks`` joined in order (one array per column)."""
    if len(chunks) == 1:
        return chunks[0]
    return tuple(np.concatenate(col) for col in zip(*chunks, strict=True))
