"""Global sensitivity from a sweep: Sobol indices (``saltelli`` design) and Morris elementary
effects (``morris`` design), computed with SALib (extra ``analysis``) for any KPI.

Indices from a small or damaged design mislead quietly, so :func:`sensitivity` says so:

* **Missing values.** A point whose KPI is NaN (no call succeeded, say) cannot enter the
  estimators. The design's structure is kept by leaving out whole groups: a Saltelli base sample
  (``parameters + 2`` points) or a Morris trajectory (``parameters + 1`` points) holding a NaN.
  How many points and groups were left out is in the warnings; fewer than two groups left, or a
  KPI that does not vary at all over the design, is refused with the reason (the indices are
  undefined there).
* **Sample size.** The 95 % confidence half-widths shrink like one over the square root of the
  number of groups. When the widest one exceeds ``target_half_width`` (Sobol indices: absolute;
  Morris ``mu_star``: relative to the largest ``mu_star``), a warning gives the number of groups
  needed, scaled by that rule.
* **Reproducibility.** The bootstrap behind the confidence columns is seeded from ``seed``, so
  the same sweep and seed give the same table.

Warnings are issued as :class:`SensitivityWarning` and kept in ``table.attrs["warnings"]``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from .designs import ParameterRange, salib_problem
from .sweeps import SweepResult

__all__ = ["SENSITIVITY_DESIGNS", "SensitivityWarning", "sensitivity"]

SENSITIVITY_DESIGNS = ("saltelli", "morris")
"""The designs (see :data:`~openbank_sim.experiments.designs.DESIGNS`) whose points indices can
be computed from: Sobol indices from ``saltelli``, elementary effects from ``morris``."""

MORRIS_LEVELS = 4
"""Grid levels of the ``morris`` design (as sampled by :mod:`.designs`)."""


class SensitivityWarning(UserWarning):
    """Indices computed, but from fewer points than the design had or with wide intervals."""


def _salib_seed(seed: int) -> int:
    """A positive seed for SALib derived from ``seed``: SALib's Sobol analysis ignores a seed
    of 0 (it tests the seed for truth), which left the confidence columns unseeded."""
    return int(np.random.SeedSequence(seed).generate_state(1)[0]) or 1


def _complete_groups(y: np.ndarray, size: int) -> np.ndarray:
    """Mask over the groups of ``size`` consecutive points: True where all values are finite."""
    return np.isfinite(y.reshape(-1, size)).all(axis=1)


def sensitivity(
    result: SweepResult, kpi: str, *, seed: int = 0, target_half_width: float = 0.1
) -> pd.DataFrame:
    """Sensitivity indices of ``kpi`` over the varied parameters of a sweep.

    The KPI is averaged over replications at each point first. A ``saltelli`` sweep gives
    first-order (``S1``) and total (``ST``) Sobol indices with 95 % confidence half-widths; a
    ``morris`` sweep gives ``mu_star`` (mean absolute elementary effect), ``mu`` and ``sigma``.

    Args:
        result: a finished ``saltelli`` or ``morris`` sweep.
        kpi: a column of the sweep table.
        seed: seeds the bootstrap of the confidence columns.
        target_half_width: the widest confidence half-width accepted without a warning (see the
            module notes).

    Returns:
        One row per parameter, sorted by importance (``ST`` or ``mu_star``, descending);
        ``attrs["warnings"]`` lists what was left out and whether the sample is too small,
        ``attrs["points_left_out"]`` counts the points not used.

    Raises:
        ValueError: not a sensitivity design, an incomplete sweep, fewer than two usable groups,
            or a KPI constant over the design.
        KeyError: no such KPI in the sweep table.
    """
    d = result.definition
    design = d.get("design")
    if design not in SENSITIVITY_DESIGNS:
        raise ValueError(f"sensitivity needs a 'saltelli' or 'morris' sweep, not {design!r}")
    if kpi not in result.table.columns:
        raise KeyError(f"no KPI {kpi!r} in the sweep table")
    if not target_half_width > 0.0:
        raise ValueError(f"target_half_width must be positive, not {target_half_width!r}")
    paths = list(d["vary"])
    problem = salib_problem([ParameterRange.from_spec(p, d["vary"][p]) for p in paths])
    points = d["points"]
    means = result.table.groupby("point")[kpi].mean()
    if len(means) != len(points):
        raise ValueError("the sweep is incomplete: every point needs at least one finished run")
    y = means.sort_index().to_numpy(dtype=float)
    x = np.array([[pt[p] for p in paths] for pt in points], dtype=float)
    size = len(paths) + (2 if design == "saltelli" else 1)
    group = "base samples" if design == "saltelli" else "trajectories"
    keep = _complete_groups(y, size)
    notes: list[str] = []
    missing = int((~np.isfinite(y)).sum())
    if missing:
        notes.append(
            f"{missing} of {len(y)} points gave no value of {kpi} (NaN); the "
            f"{int((~keep).sum())} of {len(keep)} {group} holding them were left out"
        )
    if keep.sum() < 2:
        raise ValueError(
            f"{kpi}: only {int(keep.sum())} of {len(keep)} {group} have a value at every point; "
            "indices need at least 2"
        )
    rows = np.repeat(keep, size)
    y, x = y[rows], x[rows]
    if np.ptp(y) == 0.0:
        raise ValueError(
            f"{kpi} is {y[0]:.6g} at every point of the design: it does not depend on the "
            "varied parameters, so its indices are undefined"
        )
    groups = int(keep.sum())
    if design == "saltelli":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, seed=_salib_seed(seed))
        df = pd.DataFrame(
            {
                "parameter": paths,
                "S1": res["S1"],
                "S1_conf": res["S1_conf"],
                "ST": res["ST"],
                "ST_conf": res["ST_conf"],
            }
        )
        worst = float(np.nanmax(df[["S1_conf", "ST_conf"]].to_numpy()))
        what = f"Sobol indices: 95 % half-widths up to {worst:.2f}"
        df = df.sort_values("ST", ascending=False, ignore_index=True)
    else:
        from SALib.analyze import morris

        res = morris.analyze(
            problem, x, y, num_levels=MORRIS_LEVELS, seed=_salib_seed(seed), print_to_console=False
        )
        df = pd.DataFrame(
            {
                "parameter": paths,
                "mu_star": res["mu_star"],
                "mu_star_conf": res["mu_star_conf"],
                "mu": res["mu"],
                "sigma": res["sigma"],
            }
        )
        top = float(np.nanmax(df["mu_star"].to_numpy()))
        worst = float(np.nanmax(df["mu_star_conf"].to_numpy())) / top if top > 0 else math.inf
        what = f"mu_star: 95 % half-widths up to {worst:.0%} of the largest mu_star"
        df = df.sort_values("mu_star", ascending=False, ignore_index=True)
    if worst > target_half_width:
        needed = math.ceil(groups * (worst / target_half_width) ** 2)
        notes.append(
            f"{kpi}: the sample is too small for stable indices ({what} with {groups} {group}); "
            f"for half-widths of {target_half_width:g} or less about {needed} {group} are needed "
            f"({needed * size} points)"
        )
    df.attrs["warnings"] = notes
    df.attrs["points_left_out"] = int((~keep).sum()) * size
    for note in notes:
        warnings.warn(note, SensitivityWarning, stacklevel=2)
    return df
