"""Global sensitivity from a sweep: Sobol indices (``saltelli`` design) and Morris elementary
effects (``morris`` design), computed with SALib (extra ``analysis``) for any KPI."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .designs import ParameterRange, salib_problem
from .sweeps import SweepResult

__all__ = ["SENSITIVITY_DESIGNS", "sensitivity"]

SENSITIVITY_DESIGNS = ("saltelli", "morris")
"""The designs (see :data:`~openbank_sim.experiments.designs.DESIGNS`) whose points indices can
be computed from: Sobol indices from ``saltelli``, elementary effects from ``morris``."""


def sensitivity(result: SweepResult, kpi: str, *, seed: int = 0) -> pd.DataFrame:
    """Sensitivity indices of ``kpi`` over the varied parameters of a sweep.

    The KPI is averaged over replications at each point first. A ``saltelli`` sweep gives
    first-order (``S1``) and total (``ST``) Sobol indices with 95 % confidence half-widths; a
    ``morris`` sweep gives ``mu_star`` (mean absolute elementary effect), ``mu`` and ``sigma``.

    Returns:
        One row per parameter, sorted by importance (``ST`` or ``mu_star``, descending).
    """
    d = result.definition
    design = d.get("design")
    if design not in SENSITIVITY_DESIGNS:
        raise ValueError(f"sensitivity needs a 'saltelli' or 'morris' sweep, not {design!r}")
    if kpi not in result.table.columns:
        raise KeyError(f"no KPI {kpi!r} in the sweep table")
    paths = list(d["vary"])
    problem = salib_problem([ParameterRange.from_spec(p, d["vary"][p]) for p in paths])
    points = d["points"]
    means = result.table.groupby("point")[kpi].mean()
    if len(means) != len(points):
        raise ValueError("the sweep is incomplete: every point needs at least one finished run")
    y = means.sort_index().to_numpy(dtype=float)
    x = np.array([[pt[p] for p in paths] for pt in points], dtype=float)
    if design == "saltelli":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
        df = pd.DataFrame(
            {
                "parameter": paths,
                "S1": res["S1"],
                "S1_conf": res["S1_conf"],
                "ST": res["ST"],
                "ST_conf": res["ST_conf"],
            }
        )
        return df.sort_values("ST", ascending=False, ignore_index=True)
    from SALib.analyze import morris

    res = morris.analyze(problem, x, y, num_levels=4, seed=seed)
    df = pd.DataFrame(
        {
            "parameter": paths,
            "mu_star": res["mu_star"],
            "mu_star_conf": res["mu_star_conf"],
            "mu": res["mu"],
            "sigma": res["sigma"],
        }
    )
    return df.sort_values("mu_star", ascending=False, ignore_index=True)
