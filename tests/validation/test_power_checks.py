"""The coverage-and-power helper of the validation tests (:mod:`theory`) on made-up intervals."""

from __future__ import annotations

import pytest
from theory import Interval, assert_covers, assert_power


def interval(mean: float, half_width: float) -> Interval:
    """A 99% interval ``mean ± half_width`` of ten replications."""
    return Interval(mean, mean - half_width, mean + half_width, 10, 0.99)


def test_a_narrow_interval_around_the_theory_passes() -> None:
    assert_covers(interval(1.01, 0.04), 1.0, max_rel_half_width=0.05, label="Wq (s)")
    assert_covers(interval(1e-5, 2e-4), 0.0, max_abs_half_width=5e-4, label="difference")


def test_a_wide_interval_fails_though_it_covers_the_theory() -> None:
    """Coverage alone passes; the power check names the half width, the theory and the
    fraction."""
    wide = interval(1.2, 0.6)
    assert 1.0 in wide
    with pytest.raises(AssertionError) as info:
        assert_covers(wide, 1.0, max_rel_half_width=0.05, label="Wq (s)")
    message = str(info.value)
    assert "Wq (s)" in message
    assert "half width 0.6" in message and "theory 1" in message and "0.05 x" in message
    with pytest.raises(AssertionError, match=r"absolute bound 0\.001"):
        assert_covers(interval(0.0, 0.002), 0.0, max_abs_half_width=1e-3, label="difference")


def test_an_interval_that_misses_the_theory_fails() -> None:
    with pytest.raises(AssertionError, match="Wq"):
        assert_covers(interval(1.2, 0.01), 1.0, max_rel_half_width=0.05, label="Wq")


@pytest.mark.parametrize(
    ("theory", "bounds"),
    [
        (1.0, {}),
        (1.0, {"max_rel_half_width": 0.05, "max_abs_half_width": 0.01}),
        (0.0, {"max_rel_half_width": 0.05}),  # relative to 0: use an absolute bound
    ],
)
def test_exactly_one_meaningful_bound_is_required(theory: float, bounds: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        assert_power(0.01, theory, label="x", **bounds)
