"""What a call and a journey can end in: the one definition used by spec, model, analysis
and plots.

An attempt's :class:`Outcome` is what the client saw; a journey's :class:`JourneyEnding` is
``completed``, the user's patience running out, a drop-off at a redirect, or the final outcome
of a step (``failed_<outcome>``: code ``JOURNEY_FAILED_OFFSET + outcome``; ``ok`` never ends a
journey early, so code 3 is unused), including ``failed_circuit_open`` when the client's circuit
breaker refused the call (:data:`CIRCUIT_OPEN`, a call's outcome but no attempt's).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "CIRCUIT_OPEN",
    "JOURNEY_ENDINGS",
    "JOURNEY_FAILED_OFFSET",
    "NO_ANSWER",
    "N_OUTCOMES",
    "OUTCOME_NAMES",
    "JourneyEnding",
    "Outcome",
]


class Outcome(IntEnum):
    """An attempt's outcome as the client saw it (HTTP status in the comment)."""

    OK = 0  # 2xx
    RATE_LIMITED = 1  # 429 from a gateway limit
    OVERLOADED = 2  # 503: backend queue full or pool down
    TIMEOUT = 3  # the client's own timeout
    ERROR = 4  # 5xx from the backend
    AUTH_FAILED = 5  # 401 from the token service

    @property
    def label(self) -> str:
        """The outcome's name in tables and KPIs (``"rate_limited"``)."""
        return self.name.lower()


OUTCOME_NAMES: tuple[str, ...] = tuple(o.label for o in Outcome)
"""Outcome names in code order: ``ok, rate_limited, overloaded, timeout, error, auth_failed``."""
N_OUTCOMES = len(Outcome)
NO_ANSWER: tuple[Outcome, ...] = (Outcome.OVERLOADED, Outcome.TIMEOUT, Outcome.ERROR)
"""Outcomes without a good answer (503, timeout, 5xx): service-level errors and downtime."""

JOURNEY_FAILED_OFFSET = 3
CIRCUIT_OPEN = N_OUTCOMES
"""A logical call's final outcome that is no attempt's: the client's circuit breaker was open,
so the call failed fast without reaching the bank (journey ending ``failed_circuit_open``)."""


class JourneyEnding(IntEnum):
    """How a journey ended."""

    COMPLETED = 0
    PATIENCE = 1
    REDIRECT = 2
    FAILED_RATE_LIMITED = JOURNEY_FAILED_OFFSET + Outcome.RATE_LIMITED
    FAILED_OVERLOADED = JOURNEY_FAILED_OFFSET + Outcome.OVERLOADED
    FAILED_TIMEOUT = JOURNEY_FAILED_OFFSET + Outcome.TIMEOUT
    FAILED_ERROR = JOURNEY_FAILED_OFFSET + Outcome.ERROR
    FAILED_AUTH_FAILED = JOURNEY_FAILED_OFFSET + Outcome.AUTH_FAILED
    FAILED_CIRCUIT_OPEN = JOURNEY_FAILED_OFFSET + CIRCUIT_OPEN


JOURNEY_ENDINGS: tuple[str, ...] = (
    "completed",
    "patience",
    "redirect",
    "_",  # unused code: "ok" never ends a journey early
    *(f"failed_{o}" for o in OUTCOME_NAMES[1:]),
    "failed_circuit_open",
)
"""Ending names by code (the ``journeys`` table's ``ending`` column)."""
