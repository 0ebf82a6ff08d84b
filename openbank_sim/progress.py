"""A progress bar for one run: over simulated time, or over windows for windowed traffic.

The bar goes to stderr (tqdm; a widget in Jupyter), shows an ETA, and stays when the run is
done. ``enabled=None`` shows it only when stderr is a terminal (the CLI's default); the model
hears nothing of it but a :data:`~openbank_sim.model.progress.ProgressHook`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .model.progress import ProgressHook

__all__ = ["run_bar"]

_HOUR_S = 3600.0


@contextmanager
def run_bar(desc: str, windowed: bool, enabled: bool | None) -> Iterator[ProgressHook | None]:
    """A hook that drives a bar named ``desc``; ``None`` (no hook at all) when disabled.

    Full traffic counts simulated hours of the horizon; windowed traffic counts windows.
    """
    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        yield None
        return
    from tqdm.auto import tqdm

    unit = "windows" if windowed else "h simulated"
    fmt = "{l_bar}{bar}| {n:.1f}/{total:.0f} " + unit + " [{elapsed}<{remaining}]"
    per = 1.0 if windowed else _HOUR_S  # total and done are shown in these units
    bars: list[Any] = []  # made at the first call, when the total is known

    def hook(done: float, total: float) -> None:
        if not bars:
            bars.append(tqdm(total=total / per, desc=desc, leave=True, bar_format=fmt))
        bar = bars[0]
        bar.n = done / per
        if done >= total:
            bar.refresh()  # the last state, whatever the bar's refresh interval
        else:
            bar.update(0)

    try:
        yield hook
    finally:
        for bar in bars:
            bar.close()
