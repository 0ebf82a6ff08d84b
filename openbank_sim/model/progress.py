"""How far a run has got, told now and then to whoever asked.

A run reports progress through a :data:`ProgressHook` called every :data:`TICK_EVENTS` SimPy
events (and once at the end) with ``(done, total)``: simulated seconds of the horizon for full
traffic, observation windows (fractional within the one under way) for windowed traffic. A run
without a hook takes the plain event loop; the hook never changes what happens.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["TICK_EVENTS", "ProgressHook", "SpanTick"]

ProgressHook = Callable[[float, float], None]
"""``hook(done, total)``: how much of the run is done, in the units of ``total``."""

SpanTick = Callable[[float], None]
"""``tick(now_s)``: called by a span's event loop with the simulation clock (s); with
``math.inf`` when the span is done."""

TICK_EVENTS = 8192
"""SimPy events between two calls of a span's tick (about 20-50 ms of run time)."""
