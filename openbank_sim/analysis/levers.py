"""What the clients' levers did: KPIs, per-partner and per-bin columns, breaker transitions.

The model hands on :class:`~openbank_sim.model.record.ClientLeverCounts` (retries a budget
suppressed, calls a breaker failed fast, by time bin, partner and product) and
:class:`~openbank_sim.model.record.BreakerTransitions`; this module turns them into the KPIs
``retries_suppressed`` and ``calls_short_circuited`` (zero without levers), columns of
``by_partner`` and ``timeseries`` and the ``breaker_transitions`` table (only for scenarios
whose clients have a lever).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..model.record import BreakerTransitions, CallAggregates, ClientLeverCounts
from ..model.resilience import BREAKER_STATES

__all__ = [
    "LEVER_COLUMNS",
    "breaker_table",
    "lever_cells",
    "lever_kpis",
    "lever_totals_by_partner",
]

LEVER_COLUMNS = ("retries_suppressed", "calls_short_circuited")
"""The columns ``by_partner`` and ``timeseries`` gain when a client has a lever."""


def lever_kpis(calls: CallAggregates) -> dict[str, float]:
    """``retries_suppressed`` and ``calls_short_circuited`` over the call-KPI window."""
    lv = calls.client_levers
    if lv is None:
        return dict.fromkeys(LEVER_COLUMNS, 0.0)
    return {
        "retries_suppressed": float(lv.retries_suppressed.sum()),
        "calls_short_circuited": float(lv.short_circuited.sum()),
    }


def lever_totals_by_partner(lv: ClientLeverCounts, n_partners: int) -> dict[str, np.ndarray]:
    """The lever columns summed per partner (index order)."""
    return {
        "retries_suppressed": np.bincount(
            lv.partner, weights=lv.retries_suppressed, minlength=n_partners
        ).astype(np.int64),
        "calls_short_circuited": np.bincount(
            lv.partner, weights=lv.short_circuited, minlength=n_partners
        ).astype(np.int64),
    }


def lever_cells(lv: ClientLeverCounts) -> dict[tuple[int, int, int], tuple[int, int]]:
    """``{(bin, partner, product): (retries_suppressed, short_circuited)}`` (the time bins of
    the timeseries share the record's bin width)."""
    return {
        (b, q, k): (r, c)
        for b, q, k, r, c in zip(
            lv.bin.tolist(),
            lv.partner.tolist(),
            lv.product.tolist(),
            lv.retries_suppressed.tolist(),
            lv.short_circuited.tolist(),
            strict=True,
        )
    }


def breaker_table(
    tr: BreakerTransitions, partners: Sequence[str], products: Sequence[str], start: object
) -> pd.DataFrame:
    """One row per breaker state change: ``t_s``, ``time``, ``partner``, ``product``,
    ``from_state`` and ``to_state`` (closed, open, half_open)."""
    states = list(BREAKER_STATES)
    return pd.DataFrame(
        {
            "t_s": tr.t_s,
            "time": pd.Timestamp(start) + pd.to_timedelta(tr.t_s, unit="s"),
            "partner": pd.Categorical.from_codes(tr.partner, categories=list(partners)),
            "product": pd.Categorical.from_codes(tr.product, categories=list(products)),
            "from_state": pd.Categorical.from_codes(tr.from_state, categories=states),
            "to_state": pd.Categorical.from_codes(tr.to_state, categories=states),
        }
    )
