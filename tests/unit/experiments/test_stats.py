"""Intervals over replications that stay inside what a KPI can be.

Shares in [0, 1] (with the Wilson interval of their pooled counts), quantiles read from the
latency histogram (never narrower than its bin width) and plain means (Student t)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from openbank_sim.experiments.stats import (
    HISTOGRAM_RESOLUTION,
    kpi_interval,
    more_needed,
    summarise,
    t_interval,
    target_half_width,
    target_verdict,
    wilson_interval,
)
from openbank_sim.histogram import DEFAULT_ALPHA


def test_wilson_interval_known_values() -> None:
    z = stats.norm.ppf(0.975)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(z * z / (10 + z * z))  # the rule of 0 successes
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(10 / (10 + z * z))
    lo, hi = wilson_interval(50, 100)
    assert (lo + hi) / 2 == pytest.approx(0.5) and hi - lo == pytest.approx(0.1923, abs=1e-4)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def shares(ok: list[float], total: list[float]) -> pd.DataFrame:
    ok_a, total_a = np.asarray(ok, float), np.asarray(total, float)
    return pd.DataFrame({"calls_ok": ok_a, "calls_total": total_a, "success_rate": ok_a / total_a})


def test_a_share_interval_stays_in_0_1_and_has_width_when_every_run_is_perfect() -> None:
    perfect = shares([500.0] * 5, [500.0] * 5)
    mean, _std, lo, hi = kpi_interval(perfect, "success_rate")
    assert mean == 1.0 and hi == 1.0
    assert lo == pytest.approx(wilson_interval(2500, 2500)[0]) and lo < 1.0
    spread = shares([1000, 995, 1000, 999, 1000], [1000] * 5)
    _m, _s, t_lo, t_hi = t_interval(spread["success_rate"])
    assert t_hi > 1.0  # the plain t interval leaves the range ...
    _m, _s, lo, hi = kpi_interval(spread, "success_rate")
    assert hi == 1.0 and lo == pytest.approx(t_lo)  # ... this one does not
    # without the counts: clipped only
    _m, _s, lo, hi = kpi_interval(spread[["success_rate"]], "success_rate")
    assert (lo, hi) == (pytest.approx(t_lo), 1.0)


def test_share_intervals_cover_at_least_their_level() -> None:
    """5 replications of 200 calls at p = 0.99 (often all ok): coverage >= 95 % over 4,000
    macro-replications (the plain t interval has no width when all five are 100 %)."""
    rng = np.random.default_rng(3)
    p, n, reps, macro = 0.99, 200, 5, 4000
    hits = 0
    for ok in rng.binomial(n, p, size=(macro, reps)):
        _m, _s, lo, hi = kpi_interval(shares(list(ok), [n] * reps), "success_rate")
        hits += lo <= p <= hi
    coverage = hits / macro
    assert coverage >= 0.95, coverage


def test_a_histogram_quantile_interval_is_never_narrower_than_a_bin() -> None:
    assert HISTOGRAM_RESOLUTION == DEFAULT_ALPHA
    same = pd.DataFrame({"latency_p95_s": [0.8] * 4})
    _mean, _std, lo, hi = kpi_interval(same, "latency_p95_s")
    assert (lo, hi) == (pytest.approx(0.8 * 0.995), pytest.approx(0.8 * 1.005))
    wide = pd.DataFrame({"latency_p95_s": [0.7, 0.9, 0.8, 0.85]})
    assert kpi_interval(wide, "latency_p95_s")[2:] == t_interval(wide["latency_p95_s"])[2:]


def test_summarise_states_the_method() -> None:
    runs = shares([90, 95, 99], [100, 100, 100]).assign(latency_p95_s=[1.0, 1.0, 1.0], x=[1, 2, 3])
    s = summarise(runs, ["success_rate", "latency_p95_s", "x"], 0.95)
    assert "Wilson" in s.loc["success_rate", "method"]
    assert "bin width" in s.loc["latency_p95_s", "method"]
    assert s.loc["x", "method"] == "Student t over replications"
    assert s.loc["x", "half_width"] == pytest.approx(stats.t.ppf(0.975, 2) / math.sqrt(3))


def test_a_target_is_judged_on_the_interval_the_summary_reports() -> None:
    """``more_needed`` and ``target_verdict`` use the summaries' interval: a p95 target finer
    than the histogram's bin width is reported as such and asks for no more replications; a
    share's target counts the Wilson widening."""
    p95 = pd.DataFrame({"latency_p95_s": [0.8, 0.8, 0.8]})
    fine = {"kpi": "latency_p95_s", "half_width": 0.001, "relative": True}
    coarse = {"kpi": "latency_p95_s", "half_width": 0.01, "relative": True}
    assert target_verdict(p95, fine, 0.95) == "below resolution"
    assert more_needed(p95.to_dict("records"), fine, 0.95, 100) == 0
    assert target_verdict(p95, coarse, 0.95) == "met"
    perfect = shares([100.0] * 3, [100.0] * 3)  # the t interval has no width, Wilson has
    tight = {"kpi": "success_rate", "half_width": 0.001}
    assert target_verdict(perfect, tight, 0.95) == "not met"
    assert more_needed(perfect.to_dict("records"), tight, 0.95, 100) > 0
    assert target_half_width({"half_width": 0.02, "relative": True}, -3.0) == pytest.approx(0.06)
