"""Sensitivity indices from a sweep table: known answers, missing values, small samples, seeds.

The sweeps here are synthetic: the points come from the real designs
(:func:`openbank_sim.experiments.designs.sweep_points`) and the "KPI" is a closed-form function
of them, so the indices have known values and no simulation runs.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from openbank_sim.experiments import SweepResult
from openbank_sim.experiments.designs import sweep_points
from openbank_sim.experiments.sensitivity import SensitivityWarning, sensitivity

PI = math.pi
ISHIGAMI_VARY = {f"x{i}": {"low": -PI, "high": PI} for i in (1, 2, 3)}


def ishigami(p: dict[str, float], a: float = 7.0, b: float = 0.1) -> float:
    """The Ishigami function (Ishigami and Homma 1990), a standard Sobol test case."""
    return math.sin(p["x1"]) + a * math.sin(p["x2"]) ** 2 + b * p["x3"] ** 4 * math.sin(p["x1"])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[list[float], list[float]]:
    """Its first-order and total Sobol indices in closed form."""
    v1 = 0.5 * (1 + b * PI**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * PI**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v]


def synthetic_sweep(design: str, n: int, kpi_of, vary=ISHIGAMI_VARY) -> SweepResult:
    """A finished one-replication sweep of ``design`` whose KPI ``y`` is ``kpi_of(point)``."""
    points = sweep_points(vary, design, n, seed=5)
    table = pd.DataFrame(
        {
            "run_id": range(len(points)),
            "point": range(len(points)),
            "replication": 0,
            "y": [kpi_of(p) for p in points],
        }
    )
    definition = {"design": design, "vary": vary, "points": points, "n": n}
    return SweepResult(table, pd.DataFrame(), None, definition)


def with_nan(result: SweepResult, points) -> SweepResult:
    """``result`` with the KPI of the given points (by index) replaced by NaN."""
    table = result.table.copy()
    table.loc[table["point"].isin(list(points)), "y"] = math.nan
    return SweepResult(table, result.failures, None, result.definition)


def test_sobol_indices_of_the_ishigami_function() -> None:
    """A large Saltelli design recovers the closed-form indices within their intervals."""
    result = synthetic_sweep("saltelli", 4096, ishigami)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SensitivityWarning)  # large enough: no warning
        idx = sensitivity(result, "y").set_index("parameter")
    s1, st = ishigami_indices()
    for i, name in enumerate(("x1", "x2", "x3")):
        row = idx.loc[name]
        assert abs(row["S1"] - s1[i]) <= max(2 * row["S1_conf"], 0.02), (name, row["S1"])
        assert abs(row["ST"] - st[i]) <= max(2 * row["ST_conf"], 0.02), (name, row["ST"])
    assert idx.index.tolist() == ["x1", "x2", "x3"]  # by ST: 0.558, 0.442, 0.244
    assert idx.attrs["warnings"] == [] and idx.attrs["points_left_out"] == 0


def test_a_small_sample_warns_with_the_size_needed() -> None:
    result = synthetic_sweep("saltelli", 4, ishigami)
    with pytest.warns(SensitivityWarning, match=r"too small .* about (\d+) base samples") as rec:
        idx = sensitivity(result, "y")
    needed = int(next(w for w in rec).message.args[0].split("about ")[1].split()[0])
    worst = float(np.nanmax(idx[["S1_conf", "ST_conf"]].to_numpy()))
    assert needed == math.ceil(4 * (worst / 0.1) ** 2) and needed > 4
    assert idx.attrs["warnings"] and "too small" in idx.attrs["warnings"][0]


def test_the_confidence_columns_are_reproducible_with_a_seed() -> None:
    """Same sweep, same seed: the same table, bootstrap columns included; another seed moves
    only the bootstrap columns."""
    result = synthetic_sweep("saltelli", 64, ishigami)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SensitivityWarning)
        a, b = sensitivity(result, "y"), sensitivity(result, "y")
        c = sensitivity(result, "y", seed=9)
        m1 = sensitivity(synthetic_sweep("morris", 8, ishigami), "y")
        m2 = sensitivity(synthetic_sweep("morris", 8, ishigami), "y")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(m1, m2)
    pd.testing.assert_series_equal(a["S1"], c["S1"])
    assert not np.allclose(a["S1_conf"], c["S1_conf"])


@pytest.mark.parametrize(("design", "group"), [("saltelli", 5), ("morris", 4)])
def test_nan_points_are_left_out_with_their_group(design: str, group: int) -> None:
    """A NaN leaves out its whole base sample (trajectory); the rest gives finite indices,
    equal to those of the design without that group."""
    clean = synthetic_sweep(design, 40, ishigami)
    damaged = with_nan(clean, [2 * group + 1])  # inside the third group
    with pytest.warns(SensitivityWarning, match=r"1 of \d+ points gave no value of y .* 1 of 40"):
        idx = sensitivity(damaged, "y")
    assert idx.attrs["points_left_out"] == group
    assert np.isfinite(idx.drop(columns="parameter").to_numpy()).all()
    # the same indices as a design that never had the third group
    table = clean.table[~clean.table["point"].between(2 * group, 3 * group - 1)].copy()
    table["point"] = range(len(table))
    points = [p for i, p in enumerate(clean.definition["points"]) if i // group != 2]
    reduced = SweepResult(table, pd.DataFrame(), None, {**clean.definition, "points": points})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SensitivityWarning)
        expected = sensitivity(reduced, "y")
    main = "S1" if design == "saltelli" else "mu_star"
    pd.testing.assert_series_equal(idx[main], expected[main])


def test_undefined_indices_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="does not depend on the varied parameters"):
        sensitivity(synthetic_sweep("saltelli", 8, lambda p: 3.0), "y")
    with pytest.raises(ValueError, match="only 1 of 8 base samples"):
        sensitivity(with_nan(synthetic_sweep("saltelli", 8, ishigami), range(5, 40, 5)), "y")
    with pytest.raises(ValueError, match="target_half_width"):
        sensitivity(synthetic_sweep("saltelli", 8, ishigami), "y", target_half_width=0.0)
