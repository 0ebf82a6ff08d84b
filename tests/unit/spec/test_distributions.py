"""Unit tests of :mod:`openbank_sim.spec.distributions`: parsing, errors, exact moments, sampling."""

from __future__ import annotations

import dataclasses
import math
import pickle

import numpy as np
import pytest

from openbank_sim.errors import ScenarioError
from openbank_sim.spec.distributions import (
    DIST_NAMES,
    Z95,
    Constant,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Uniform,
    parse_distribution,
)

pytestmark = pytest.mark.filterwarnings("error")


def parse_error(spec: object, *, time_valued: bool) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_distribution(spec, time_valued=time_valued)
    return info.value


# --- parsing every form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"dist": "constant", "value": "5ms"}, Constant(0.005)),
        ({"dist": "constant", "value": "0s"}, Constant(0.0)),
        ({"dist": "exponential", "mean": "2s"}, Exponential(2.0)),
        ({"dist": "gamma", "mean": "1.5s", "cv": 0.5}, Gamma(1.5, 0.5)),
        ({"dist": "uniform", "low": "1s", "high": "3s"}, Uniform(1.0, 3.0)),
        ({"dist": "uniform", "low": "2s", "high": "2s"}, Uniform(2.0, 2.0)),
        ({"dist": "empirical", "values": ["10ms", "1s", "0s"]}, Empirical((0.01, 1.0, 0.0))),
        ({"dist": "lognormal", "mu": -2.3, "sigma": 0.6}, Lognormal(-2.3, 0.6)),
        (
            {"dist": "lognormal", "mean": "120ms", "p95": "300ms"},
            Lognormal.from_mean_p95(0.12, 0.3),
        ),
        ({"dist": "lognormal", "mean": "120ms", "cv": 2}, Lognormal.from_mean_cv(0.12, 2.0)),
    ],
)
def test_time_valued_forms(spec: dict[str, object], expected: Distribution) -> None:
    dist = parse_distribution(spec, time_valued=True)
    assert dist == expected
    assert isinstance(dist, Distribution)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"dist": "constant", "value": 3}, Constant(3.0)),
        ({"dist": "exponential", "mean": 2.5}, Exponential(2.5)),
        ({"dist": "gamma", "mean": 10, "cv": 0.25}, Gamma(10.0, 0.25)),
        ({"dist": "uniform", "low": 0, "high": 4}, Uniform(0.0, 4.0)),
        ({"dist": "empirical", "values": [1, 2.5, 2.5]}, Empirical((1.0, 2.5, 2.5))),
        ({"dist": "lognormal", "mu": 1, "sigma": 0.5}, Lognormal(1.0, 0.5)),
        ({"dist": "lognormal", "mean": 100, "p95": 250}, Lognormal.from_mean_p95(100, 250)),
        ({"dist": "lognormal", "mean": 100, "cv": 0.3}, Lognormal.from_mean_cv(100, 0.3)),
    ],
)
def test_value_valued_forms(spec: dict[str, object], expected: Distribution) -> None:
    dist = parse_distribution(spec, time_valued=False)
    assert dist == expected
    assert all(type(v) is float for v in dist.describe().values() if not isinstance(v, str | list))


def test_time_valued_lognormal_mu_is_in_log_seconds() -> None:
    dist = parse_distribution(
        {"dist": "lognormal", "mu": math.log(0.1), "sigma": 0.5}, time_valued=True
    )
    assert dist.quantile(0.5) == pytest.approx(0.1)  # the median exp(mu), in seconds


def test_parameters_stored_as_floats() -> None:
    assert type(Constant(3).value) is float
    assert type(Exponential(np.float32(2)).mean) is float
    assert Empirical([1, 2]).values == (1.0, 2.0)
    assert Empirical(np.array([1, 2])).values == (1.0, 2.0)


# --- exact means, quantiles, lognormal parametrisations ----------------------------------------


def test_lognormal_from_mean_p95_hits_both() -> None:
    dist = Lognormal.from_mean_p95(0.12, 0.3)
    assert dist.mean == pytest.approx(0.12, rel=1e-12)
    assert dist.quantile(0.95) == pytest.approx(0.3, rel=1e-12)
    # the smaller root: sigma below Z95 (the larger root would be above it)
    assert dist.sigma < Z95


@pytest.mark.parametrize("ratio", [1.0 + 1e-9, 1.001, 2.0, 3.8, math.exp(Z95**2 / 2)])
def test_lognormal_from_mean_p95_across_the_possible_ratios(ratio: float) -> None:
    dist = Lognormal.from_mean_p95(10.0, 10.0 * ratio)
    assert dist.mean == pytest.approx(10.0, rel=1e-12)
    assert dist.quantile(0.95) == pytest.approx(10.0 * ratio, rel=1e-9)


def test_lognormal_from_mean_cv() -> None:
    dist = Lognormal.from_mean_cv(5.0, 1.5)
    assert dist.mean == pytest.approx(5.0, rel=1e-12)
    assert dist.cv == pytest.approx(1.5, rel=1e-12)
    assert dist.sigma == pytest.approx(math.sqrt(math.log(1 + 1.5**2)))


@pytest.mark.parametrize(
    ("dist", "mean", "p95"),
    [
        (Constant(2.0), 2.0, 2.0),
        (Exponential(2.0), 2.0, 2.0 * math.log(20)),
        (Gamma(3.0, 1.0), 3.0, 3.0 * math.log(20)),  # cv = 1 is the exponential
        (Uniform(1.0, 3.0), 2.0, 2.9),
        (Empirical(tuple(float(i) for i in range(1, 21))), 10.5, 19.0),
        (Empirical((5.0,)), 5.0, 5.0),
        (Lognormal(0.0, 1.0), math.exp(0.5), math.exp(Z95)),
    ],
)
def test_exact_mean_and_p95(dist: Distribution, mean: float, p95: float) -> None:
    assert dist.mean == pytest.approx(mean, rel=1e-12)
    assert dist.quantile(0.95) == pytest.approx(p95, rel=1e-9)


def test_quantile_bounds() -> None:
    assert Exponential(1.0).quantile(0.0) == 0.0
    assert Exponential(1.0).quantile(1.0) == math.inf
    assert Uniform(1.0, 3.0).quantile(0.0) == 1.0
    assert Empirical((3.0, 1.0, 2.0)).quantile(0.0) == 1.0
    assert Empirical((3.0, 1.0, 2.0)).quantile(1 / 3) == 1.0
    assert Empirical((3.0, 1.0, 2.0)).quantile(0.34) == 2.0
    with pytest.raises(ValueError):
        Exponential(1.0).quantile(1.5)
    with pytest.raises(ValueError):
        Gamma(1.0, 0.5).quantile(-0.1)


# --- sampling ----------------------------------------------------------------------------------


ALL = [
    Constant(0.5),
    Exponential(2.0),
    Lognormal(0.0, 0.5),
    Gamma(1.0, 0.7),
    Uniform(0.0, 1.0),
    Empirical((1.0, 2.0, 4.0)),
]


@pytest.mark.parametrize("dist", ALL, ids=lambda d: type(d).__name__)
def test_sample_is_a_float64_block(dist: Distribution) -> None:
    rng = np.random.default_rng(7)
    block = dist.sample(rng, 1000)
    assert block.dtype == np.float64
    assert block.shape == (1000,)
    assert np.all(block >= 0)
    assert dist.sample(rng, 0).shape == (0,)


@pytest.mark.parametrize("dist", ALL, ids=lambda d: type(d).__name__)
def test_sample_is_reproducible(dist: Distribution) -> None:
    first = dist.sample(np.random.default_rng(11), 100)
    second = dist.sample(np.random.default_rng(11), 100)
    np.testing.assert_array_equal(first, second)


def test_empirical_draws_only_its_values_and_cannot_be_mutated() -> None:
    dist = Empirical((1.0, 2.0, 4.0))
    block = dist.sample(np.random.default_rng(3), 1000)
    assert set(block.tolist()) == {1.0, 2.0, 4.0}
    block[:] = 99.0  # the block is the caller's copy
    assert set(dist.sample(np.random.default_rng(3), 10).tolist()) <= {1.0, 2.0, 4.0}


@pytest.mark.parametrize("dist", ALL, ids=lambda d: type(d).__name__)
def test_frozen_slotted_hashable_picklable(dist: Distribution) -> None:
    assert not hasattr(dist, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(dist, dataclasses.fields(dist)[0].name, 1.0)
    assert hash(dist) == hash(pickle.loads(pickle.dumps(dist)))
    assert pickle.loads(pickle.dumps(dist)) == dist


# --- describe() round trip ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "dist",
    [*ALL, Lognormal.from_mean_p95(0.12, 0.3), Lognormal.from_mean_cv(0.12, 3.0)],
    ids=lambda d: type(d).__name__,
)
def test_describe_round_trip(dist: Distribution) -> None:
    spec = dist.describe()
    assert spec["dist"] in DIST_NAMES
    assert parse_distribution(spec, time_valued=False) == dist


def test_describe_is_resolved_and_plain() -> None:
    spec = parse_distribution(
        {"dist": "lognormal", "mean": "120ms", "p95": "300ms"}, time_valued=True
    ).describe()
    assert set(spec) == {"dist", "mu", "sigma"}
    assert parse_distribution(
        {"dist": "empirical", "values": ["1s"]}, time_valued=True
    ).describe() == {
        "dist": "empirical",
        "values": [1.0],
    }


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [5, "exponential", ["dist", "exponential"], None])
def test_not_a_table(spec: object) -> None:
    error = parse_error(spec, time_valued=True)
    assert error.path == ""
    assert "table" in error.reason
    assert error.value == spec


def test_missing_dist() -> None:
    error = parse_error({"mean": "1s"}, time_valued=True)
    assert error.path == "dist"
    assert "missing" in error.reason
    assert not error.has_value


def test_unknown_dist_suggests_the_closest() -> None:
    error = parse_error({"dist": "lognorml", "mean": "1s"}, time_valued=True)
    assert error.path == "dist"
    assert "unknown distribution" in error.reason
    assert "did you mean 'lognormal'?" in error.reason
    assert error.value == "lognorml"


def test_non_string_dist() -> None:
    error = parse_error({"dist": 3}, time_valued=False)
    assert error.path == "dist"
    assert "unknown distribution" in error.reason


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"dist": "constant"}, "value"),
        ({"dist": "exponential"}, "mean"),
        ({"dist": "gamma", "mean": "1s"}, "cv"),
        ({"dist": "gamma", "cv": 0.5}, "mean"),
        ({"dist": "uniform", "low": "1s"}, "high"),
        ({"dist": "uniform", "high": "1s"}, "low"),
        ({"dist": "empirical"}, "values"),
        ({"dist": "lognormal", "mu": 1.0}, "sigma"),
        ({"dist": "lognormal", "sigma": 1.0}, "mu"),
        ({"dist": "lognormal", "p95": "1s"}, "mean"),
        ({"dist": "lognormal", "cv": 1.0}, "mean"),
    ],
)
def test_missing_parameter_is_named(spec: dict[str, object], path: str) -> None:
    error = parse_error(spec, time_valued=True)
    assert error.path == path
    assert "missing" in error.reason


@pytest.mark.parametrize(
    "spec", [{"dist": "lognormal"}, {"dist": "lognormal", "mean": "1s"}], ids=["none", "mean-only"]
)
def test_lognormal_without_a_complete_form(spec: dict[str, object]) -> None:
    error = parse_error(spec, time_valued=True)
    assert error.path == ""
    assert "p95" in error.reason
    assert "cv" in error.reason


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "lognormal", "mean": "1s", "p95": "2s", "cv": 1.0},
        {"dist": "lognormal", "mean": "1s", "cv": 1.0, "sigma": 1.0},
        {"dist": "lognormal", "mu": 0.0, "sigma": 1.0, "p95": "2s"},
    ],
)
def test_ambiguous_lognormal(spec: dict[str, object]) -> None:
    error = parse_error(spec, time_valued=True)
    assert error.path == ""
    assert "ambiguous" in error.reason


@pytest.mark.parametrize(
    ("spec", "path", "hint"),
    [
        ({"dist": "exponential", "mean": "1s", "rate": 2}, "rate", ""),
        ({"dist": "exponential", "maen": "1s"}, "maen", "did you mean 'mean'?"),
        ({"dist": "gamma", "mean": "1s", "cv": 0.5, "shape": 2}, "shape", ""),
        ({"dist": "lognormal", "mean": "1s", "p99": "2s"}, "p99", "did you mean 'p95'?"),
        ({"dist": "uniform", "low": "1s", "hi": "2s"}, "hi", "did you mean 'high'?"),
        ({"dist": "constant", "value": "1s", "values": ["1s"]}, "values", "did you mean 'value'?"),
        ({"dist": "empirical", "value": ["1s"]}, "value", "did you mean 'values'?"),
    ],
)
def test_unknown_key(spec: dict[str, object], path: str, hint: str) -> None:
    error = parse_error(spec, time_valued=True)
    assert error.path == path
    assert "unknown key" in error.reason
    assert hint in error.reason


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"dist": "constant", "value": 5}, "value"),
        ({"dist": "exponential", "mean": 0.5}, "mean"),
        ({"dist": "lognormal", "mean": "1s", "p95": 2}, "p95"),
        ({"dist": "uniform", "low": "1s", "high": 2}, "high"),
        ({"dist": "empirical", "values": ["1s", 2]}, "values.1"),
        ({"dist": "gamma", "mean": True, "cv": 0.5}, "mean"),
    ],
)
def test_time_valued_bare_numbers_rejected(spec: dict[str, object], path: str) -> None:
    error = parse_error(spec, time_valued=True)
    assert error.path == path
    assert "needs a unit" in error.reason


@pytest.mark.parametrize(
    ("spec", "path", "reason"),
    [
        ({"dist": "constant", "value": "5s"}, "value", "not a string"),
        ({"dist": "exponential", "mean": "2"}, "mean", "not a string"),
        ({"dist": "exponential", "mean": True}, "mean", "must be a number"),
        ({"dist": "exponential", "mean": None}, "mean", "must be a number"),
        ({"dist": "exponential", "mean": [1]}, "mean", "must be a number"),
        ({"dist": "uniform", "low": 0, "high": False}, "high", "must be a number"),
        ({"dist": "empirical", "values": [1, "2"]}, "values.1", "not a string"),
        ({"dist": "empirical", "values": "1, 2"}, "values", "must be a list"),
        ({"dist": "empirical", "values": 3}, "values", "must be a list"),
        ({"dist": "exponential", "mean": math.inf}, "mean", "finite"),
        ({"dist": "constant", "value": math.nan}, "value", "finite"),
    ],
)
def test_value_valued_wrong_types(spec: dict[str, object], path: str, reason: str) -> None:
    error = parse_error(spec, time_valued=False)
    assert error.path == path
    assert reason in error.reason


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"dist": "gamma", "mean": "1s", "cv": "0.5"}, "cv"),
        ({"dist": "lognormal", "mean": "1s", "cv": "1s"}, "cv"),
        ({"dist": "lognormal", "mu": "1s", "sigma": 0.5}, "mu"),
        ({"dist": "lognormal", "mu": 0.0, "sigma": "0.5"}, "sigma"),
    ],
)
def test_ratios_and_log_parameters_stay_plain_numbers_when_time_valued(
    spec: dict[str, object], path: str
) -> None:
    error = parse_error(spec, time_valued=True)
    assert error.path == path
    assert "not a string" in error.reason


@pytest.mark.parametrize(
    ("spec", "path", "reason"),
    [
        ({"dist": "constant", "value": -1}, "value", ">= 0"),
        ({"dist": "exponential", "mean": 0}, "mean", "> 0"),
        ({"dist": "exponential", "mean": -2.0}, "mean", "> 0"),
        ({"dist": "lognormal", "mean": 0, "cv": 1}, "mean", "> 0"),
        ({"dist": "lognormal", "mean": -1, "p95": 2}, "mean", "> 0"),
        ({"dist": "lognormal", "mu": 0, "sigma": 0}, "sigma", "> 0"),
        ({"dist": "lognormal", "mu": 0, "sigma": -1}, "sigma", "> 0"),
        ({"dist": "gamma", "mean": 0, "cv": 1}, "mean", "> 0"),
        ({"dist": "uniform", "low": -1, "high": 1}, "low", ">= 0"),
        ({"dist": "uniform", "low": 2, "high": 1}, "high", ">= low"),
        ({"dist": "empirical", "values": []}, "values", "empty"),
        ({"dist": "empirical", "values": [1, -0.5]}, "values.1", ">= 0"),
    ],
)
def test_out_of_range_values(spec: dict[str, object], path: str, reason: str) -> None:
    error = parse_error(spec, time_valued=False)
    assert error.path == path
    assert reason in error.reason
    assert error.has_value


@pytest.mark.parametrize(
    ("spec", "path", "value"),
    [
        ({"dist": "exponential", "mean": "0s"}, "mean", "0s"),
        ({"dist": "exponential", "mean": "-1s"}, "mean", "-1s"),
        ({"dist": "uniform", "low": "3s", "high": "1s"}, "high", "1s"),
        ({"dist": "empirical", "values": ["1s", "-2s"]}, "values.1", "-2s"),
        ({"dist": "empirical", "values": []}, "values", []),
    ],
)
def test_errors_report_the_value_as_written(
    spec: dict[str, object], path: str, value: object
) -> None:
    error = parse_error(spec, time_valued=True)
    assert error.path == path
    assert error.value == value


@pytest.mark.parametrize("cv", [0, 0.0, -0.5])
@pytest.mark.parametrize("dist", ["gamma", "lognormal"])
def test_cv_must_be_positive_and_suggests_constant(dist: str, cv: float) -> None:
    error = parse_error({"dist": dist, "mean": "1s", "cv": cv}, time_valued=True)
    assert error.path == "cv"
    assert "> 0" in error.reason
    assert "constant" in error.reason


def test_impossible_lognormal_p95_suggests_cv() -> None:
    error = parse_error({"dist": "lognormal", "mean": "100ms", "p95": "500ms"}, time_valued=True)
    assert error.path == "p95"
    assert error.value == "500ms"
    message = str(error)
    assert "p95" in message
    assert "cv" in message
    assert "no lognormal" in error.reason
    assert "5" in error.reason  # the ratio
    assert "3.868" in error.reason  # the bound


@pytest.mark.parametrize(("mean", "p95"), [(100, 100), (100, 50)])
def test_lognormal_p95_must_exceed_the_mean(mean: float, p95: float) -> None:
    error = parse_error({"dist": "lognormal", "mean": mean, "p95": p95}, time_valued=False)
    assert error.path == "p95"
    assert "exceed the mean" in error.reason


def test_the_largest_p95_ratio_is_accepted() -> None:
    bound = math.exp(Z95**2 / 2)
    assert bound == pytest.approx(3.868, abs=5e-4)
    Lognormal.from_mean_p95(1.0, bound)
    with pytest.raises(ScenarioError):
        Lognormal.from_mean_p95(1.0, bound * (1 + 1e-9))


def test_error_paths_can_be_prefixed() -> None:
    error = parse_error({"dist": "empirical", "values": ["1s", "x"]}, time_valued=True)
    assert error.within("api.endpoints.pay.service").path == "api.endpoints.pay.service.values.1"


def test_constructors_validate_too() -> None:
    with pytest.raises(ScenarioError) as info:
        Exponential(-1.0)
    assert info.value.path == "mean"
    with pytest.raises(ScenarioError) as info:
        Gamma(1.0, 0.0)
    assert info.value.path == "cv"
    with pytest.raises(ScenarioError) as info:
        Empirical(())
    assert info.value.path == "values"
    with pytest.raises(ScenarioError) as info:
        Constant(True)
    assert info.value.path == "value"
