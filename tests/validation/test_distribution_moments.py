"""Each distribution's parametrisation (mean, p95, cv) matches what it actually samples.

For every case we draw ``N`` values with a fixed generator and check, each at a 99.9 % level:

* the stated mean lies in the CLT interval ``sample mean ± z * s / sqrt(N)``;
* the stated p95 lies between two order statistics ``X_(r) <= p95 <= X_(s)`` whose ranks come
  from the Binomial(N, 0.95) count of values at or below the true p95 (distribution-free, and
  still conservative for discrete distributions);
* the stated cv lies in ``sample cv ± z * se``, ``se`` from the delta method applied to the
  sample mean and variance (it uses the sample's third and fourth central moments).

Each interval must also be narrow (power): its half width below a stated fraction of the
stated statistic (:func:`theory.assert_power`). The generators are seeded, so the outcome is
deterministic; a negative control shows the same checks reject parameters a few percent off,
so they are not vacuous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats
from theory import assert_power

from openbank_sim.spec.distributions import (
    Constant,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Uniform,
    parse_distribution,
)

N = 200_000
ALPHA = 0.001  # two-sided: 99.9 % intervals
Z = float(stats.norm.ppf(1 - ALPHA / 2))  # ≈ 3.29
SEED = 20_240_601
# Power: the largest half width of each 99.9 % interval, as a fraction of the stated statistic,
# one bound per statistic for every case, set at about 1.5-2x the widest case ("seen"; the
# relative half width grows with the case's cv)
MEAN_MAX_REL_HALF_WIDTH = 0.04  # seen 0.0021 (uniform) to 0.023 (lognormal-mean-p95-near-bound)
P95_MAX_REL_HALF_WIDTH = 0.04  # seen 0 (constant) to 0.022 (lognormal-mean-p95-near-bound)
CV_MAX_REL_HALF_WIDTH = 0.05  # seen 0.0039 (empirical) to 0.033 (lognormal-mean-cv)


@dataclass(frozen=True)
class Case:
    """A distribution and the statistics its parametrisation promises."""

    name: str
    dist: Distribution
    mean: float
    p95: float
    cv: float | None = None


def _cases() -> list[Case]:
    uniform_cv = (2 / math.sqrt(12)) / 2  # sd (high - low)/sqrt(12) over mean (low + high)/2
    values = (0.01, 0.02, 0.02, 0.05, 0.08, 0.2, 0.5, 0.03, 0.04, 0.06)
    values_mean = sum(values) / len(values)
    values_cv = math.sqrt(sum((v - values_mean) ** 2 for v in values) / len(values)) / values_mean
    lognormal_cv = Lognormal.from_mean_cv(0.12, 1.0)
    return [
        Case("constant", Constant(0.25), 0.25, 0.25, 0.0),
        Case("exponential", Exponential(2.0), 2.0, 2.0 * math.log(20), 1.0),
        Case("lognormal-mean-p95", Lognormal.from_mean_p95(0.12, 0.3), 0.12, 0.3),
        Case(
            "lognormal-mean-p95-near-bound",
            Lognormal.from_mean_p95(1.0, 3.8),
            1.0,
            3.8,
        ),
        Case("lognormal-mean-cv", lognormal_cv, 0.12, lognormal_cv.quantile(0.95), 1.0),
        Case(
            "lognormal-mu-sigma",
            Lognormal(-2.0, 0.5),
            math.exp(-2.0 + 0.125),
            math.exp(-2.0 + 0.5 * 1.6448536269514722),
            math.sqrt(math.expm1(0.25)),
        ),
        Case(
            "gamma-cv-0.5", Gamma(1.0, 0.5), 1.0, float(stats.gamma.ppf(0.95, 4, scale=0.25)), 0.5
        ),
        Case("gamma-cv-2", Gamma(3.0, 2.0), 3.0, float(stats.gamma.ppf(0.95, 0.25, scale=12)), 2.0),
        Case("uniform", Uniform(1.0, 3.0), 2.0, 2.9, uniform_cv),
        Case("empirical", Empirical(values), values_mean, 0.5, values_cv),
        Case(
            "parsed-time-valued-lognormal",
            parse_distribution(
                {"dist": "lognormal", "mean": "120ms", "p95": "300ms"}, time_valued=True
            ),
            0.12,
            0.3,
        ),
    ]


CASES = _cases()


def mean_ok(sample: np.ndarray, mean: float) -> bool:
    """Whether ``mean`` is inside the 99.9 % CLT interval of the sample mean."""
    half = Z * sample.std(ddof=1) / math.sqrt(sample.size)
    return abs(sample.mean() - mean) <= half


def p95_interval(sample: np.ndarray) -> tuple[float, float]:
    """A >= 99.9 % interval ``[X_(r), X_(s)]`` for the 95th percentile (inverse CDF)."""
    n = sample.size
    ordered = np.sort(sample)
    r = int(stats.binom.ppf(ALPHA / 2, n, 0.95))  # P(Bin < r) < alpha/2
    s = int(stats.binom.ppf(1 - ALPHA / 2, n, 0.95)) + 1  # P(Bin <= s - 1) >= 1 - alpha/2
    return float(ordered[r - 1]), float(ordered[s - 1])


def p95_ok(sample: np.ndarray, p95: float) -> bool:
    """Whether ``p95`` is inside :func:`p95_interval`."""
    low, high = p95_interval(sample)
    return low <= p95 <= high


def cv_interval(sample: np.ndarray) -> tuple[float, float]:
    """Sample cv and its delta-method standard error.

    With ``cv = sqrt(v) / m``: ``Var(cv_hat) ≈ (cv^4 + (m4 - v^2) / (4 m^2 v) - m3 / m^3) / n``
    where ``v``, ``m3``, ``m4`` are the central moments and ``m`` the mean.
    """
    n = sample.size
    m = float(sample.mean())
    centred = sample - m
    v = float(np.mean(centred**2))
    m3 = float(np.mean(centred**3))
    m4 = float(np.mean(centred**4))
    if v == 0.0:  # a constant: no sampling variability at all
        return 0.0, 0.0
    cv = math.sqrt(v) / m
    variance = (cv**4 + (m4 - v * v) / (4 * m * m * v) - m3 / m**3) / n
    return cv, math.sqrt(max(variance, 0.0))


def cv_ok(sample: np.ndarray, cv: float) -> bool:
    """Whether ``cv`` is inside the 99.9 % delta-method interval of the sample cv."""
    estimate, se = cv_interval(sample)
    if se == 0.0:
        return estimate == pytest.approx(cv, abs=1e-12)
    return abs(estimate - cv) <= Z * se


def draw(dist: Distribution) -> np.ndarray:
    return dist.sample(np.random.default_rng(SEED), N)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_stated_statistics_are_exact(case: Case) -> None:
    assert case.dist.mean == pytest.approx(case.mean, rel=1e-12)
    assert case.dist.quantile(0.95) == pytest.approx(case.p95, rel=1e-9)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_sample_mean(case: Case) -> None:
    sample = draw(case.dist)
    if isinstance(case.dist, Constant):
        assert np.all(sample == case.mean)
        return
    half = Z * sample.std(ddof=1) / math.sqrt(N)
    assert mean_ok(sample, case.mean), f"{sample.mean()} not within {case.mean} ± {half}"
    assert_power(half, case.mean, max_rel_half_width=MEAN_MAX_REL_HALF_WIDTH, label="mean")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_sample_p95(case: Case) -> None:
    sample = draw(case.dist)
    low, high = p95_interval(sample)
    assert p95_ok(sample, case.p95), f"{case.p95} not in [{low}, {high}]"
    assert_power(
        (high - low) / 2.0, case.p95, max_rel_half_width=P95_MAX_REL_HALF_WIDTH, label="p95"
    )


@pytest.mark.parametrize("case", [c for c in CASES if c.cv is not None], ids=lambda c: c.name)
def test_sample_cv(case: Case) -> None:
    assert case.cv is not None
    sample = draw(case.dist)
    estimate, se = cv_interval(sample)
    assert cv_ok(sample, case.cv), f"sample cv {estimate} not within {case.cv} ± {Z * se}"
    if se > 0.0:  # a constant's cv is checked exactly (0), with no interval to bound
        assert_power(Z * se, case.cv, max_rel_half_width=CV_MAX_REL_HALF_WIDTH, label="cv")


@pytest.mark.parametrize(
    "dist",
    [Exponential(2.0), Lognormal.from_mean_p95(0.12, 0.3), Gamma(1.0, 0.5)],
    ids=["exponential", "lognormal", "gamma"],
)
def test_checks_reject_parameters_a_few_percent_off(dist: Distribution) -> None:
    """Negative control: the intervals above are narrow enough to matter."""
    sample = draw(dist)
    estimate, _ = cv_interval(sample)
    assert not mean_ok(sample, dist.mean * 1.03)
    assert not mean_ok(sample, dist.mean * 0.97)
    assert not p95_ok(sample, dist.quantile(0.95) * 1.03)
    assert not p95_ok(sample, dist.quantile(0.95) * 0.97)
    assert not cv_ok(sample, estimate * 1.05)
    assert not cv_ok(sample, estimate * 0.95)
