"""The limit spec: the parameters of one rate limiter, validated (no state, no simulation).

:func:`openbank_sim.model.limits.new_state` makes the state machine of one limiter key from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import did_you_mean

__all__ = ["ALGORITHMS", "SLIDING_VARIANTS", "LimitSpec", "positive_float", "positive_int"]

ALGORITHMS: tuple[str, ...] = ("token_bucket", "fixed_window", "sliding_window", "concurrency")
"""Names accepted by :attr:`LimitSpec.algorithm`."""

SLIDING_VARIANTS: tuple[str, ...] = ("log", "weighted")
"""Names accepted by :attr:`LimitSpec.variant` (used by ``sliding_window``)."""


def positive_int(name: str, value: object) -> int:
    if type(value) is not int or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def positive_float(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """Parameters of one limiter; :func:`openbank_sim.model.limits.new_state` makes the state of one key.

    Attributes:
        algorithm: one of :data:`ALGORITHMS`.
        rate_per_s: token bucket refill rate, tokens per second (token_bucket).
        burst: token bucket capacity, tokens (token_bucket).
        limit: admissions per window (fixed_window, sliding_window) or concurrent attempts
            (concurrency).
        window_s: window length, seconds (fixed_window, sliding_window).
        variant: ``"log"`` (exact) or ``"weighted"`` (two-window estimate), for sliding_window.

    Raises:
        ValueError: unknown algorithm or variant, or a non-positive parameter that the chosen
            algorithm uses. Parameters the algorithm does not use are ignored.
    """

    algorithm: str
    rate_per_s: float = 0.0
    burst: int = 0
    limit: int = 0
    window_s: float = 0.0
    variant: str = "weighted"

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"unknown rate-limit algorithm {self.algorithm!r}; expected one of "
                f"{', '.join(ALGORITHMS)}{did_you_mean(str(self.algorithm), ALGORITHMS)}"
            )
        if self.variant not in SLIDING_VARIANTS:
            raise ValueError(
                f"unknown sliding window variant {self.variant!r}; expected one of "
                f"{', '.join(SLIDING_VARIANTS)}{did_you_mean(str(self.variant), SLIDING_VARIANTS)}"
            )
        if self.algorithm == "token_bucket":
            positive_float("rate_per_s", self.rate_per_s)
            positive_int("burst", self.burst)
        else:
            positive_int("limit", self.limit)
            if self.algorithm != "concurrency":
                positive_float("window_s", self.window_s)
