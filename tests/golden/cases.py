"""The golden cases: every shipped scenario at seed 1 on a shortened horizon.

Each case is a shipped scenario's name plus the overrides that shorten it (each run well
under 10 s on one core). The snapshot of a case holds its KPIs and, per table, the row count
and the exact sum (``math.fsum``, independent of row order) of every numeric column, written
with ``repr`` so that comparing is bit for bit.

Regenerate after a change that is meant to move numbers (and say which moved, and why, in the
commit message)::

    .venv/bin/python -m tests.golden.regenerate
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent
SEED = 1

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "ecommerce": ("ecommerce", {"run.horizon": "6h", "run.warmup": "1h"}),
    "education": ("education", {"run.horizon": "2d"}),
    "medical": ("medical", {"run.horizon": "1d"}),
    "mmc_validation": ("mmc_validation", {"run.horizon": "30m", "run.warmup": "5m"}),
    "noisy_neighbour": ("noisy_neighbour", {"run.horizon": "20m", "run.warmup": "5m"}),
    "rate_limits": ("rate_limits", {"run.horizon": "1h"}),
    "singles_day": ("singles_day", {"run.horizon": "36h", "run.warmup": "20h"}),
    "uk_open_banking": ("uk_open_banking", {"run.horizon": "1d"}),
    "retry_storm": ("retry_storm", {"run.horizon": "12h"}),
    "retry_storm_client_levers": (
        "retry_storm",
        {
            "run.horizon": "12h",
            "client.retry_budget": {"ratio": 0.1, "min_per_s": 0.02, "window": "10s"},
            "client.circuit_breaker": {"failure_rate": 0.5, "window": 20, "open_for": "30s"},
        },
    ),
    "traditional_vs_api_api": (
        "traditional_vs_api",
        {"run.horizon": "6mo", "onboarding.integration": "api"},
    ),
    "traditional_vs_api_traditional": (
        "traditional_vs_api",
        {"run.horizon": "6mo", "onboarding.integration": "traditional"},
    ),
}


def _number(value: Any) -> Any:
    """A JSON-safe exact form of a number: floats as ``repr`` strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    return repr(float(value))


def snapshot(name: str) -> dict[str, Any]:
    """Run one golden case and return its snapshot (KPIs and table fingerprints)."""
    import numpy as np

    from openbank_sim import load_scenario, simulate

    base, overrides = CASES[name]
    results = simulate(load_scenario(base).with_overrides(overrides), seed=SEED)
    tables: dict[str, Any] = {}
    for tname in sorted(results.tables):
        df = results.tables[tname]
        sums = {}
        for col in df.columns:
            values = df[col]
            if values.dtype.kind in "biuf":
                arr = np.asarray(values, dtype=np.float64)
                finite = arr[np.isfinite(arr)]
                sums[str(col)] = _number(math.fsum(finite.tolist()))
        tables[tname] = {"rows": len(df), "sums": sums}
    return {
        "case": name,
        "scenario": base,
        "overrides": overrides,
        "seed": SEED,
        "kpis": {k: _number(v) for k, v in results.kpis.items()},
        "tables": tables,
    }


def path_of(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def write(name: str) -> Path:
    """Regenerate one snapshot file."""
    path = path_of(name)
    path.write_text(json.dumps(snapshot(name), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path
