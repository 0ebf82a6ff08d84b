"""The largest value each number of a scenario accepts, and why: one registry, read by the
readers of :mod:`openbank_sim.spec.readers` and stated in ``docs/scenario-format.md``.

Counts that size memory or index arrays (servers, users, copies, limits, ...) and rates that
multiply the work of a run (sessions, growth, arrivals) get a ceiling far above any real
bank but far below what would exhaust memory or overflow a float before a run could even be
estimated (:mod:`openbank_sim.spec.feasibility` then judges what the whole run costs). Every
float must be finite. The file itself is bounded too: its size, how deep its tables and arrays
nest, how many digits an integer literal may have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .units import SECONDS_PER_YEAR

__all__ = [
    "ARRIVALS_PER_MONTH",
    "BACKOFF_FACTOR",
    "BANK_EFFORT_DAYS",
    "BOUNDS",
    "BREAKER_WINDOW",
    "COPIES",
    "DESIGN_POINTS",
    "DISCOUNT_RATE",
    "DISTRIBUTION_CV",
    "DURATION",
    "EVENT_FACTOR",
    "GROWTH_PER_YEAR",
    "LIMIT",
    "MAX_ATTEMPTS",
    "MAX_FILE_BYTES",
    "MAX_INT_DIGITS",
    "MAX_NESTING",
    "MONEY",
    "PEOPLE",
    "PER_USER_DAY",
    "PROFILE_FACTOR",
    "QUEUE_LIMIT",
    "RATE_PER_S",
    "REPLICATIONS",
    "SEED",
    "SERVERS",
    "SIZE_MULTIPLIER",
    "TIME_BINS",
    "USERS",
    "VALUE",
    "Bound",
]


@dataclass(frozen=True, slots=True)
class Bound:
    """The largest value a number accepts and the reason, in words, that an error quotes.

    Attributes:
        maximum: the largest accepted value (inclusive).
        reason: why, in a few words (shown after the limit in the error).
        unit: ``"s"`` when ``maximum`` is a duration in seconds (written in years).
        minimum: the smallest accepted value, where a reader checks one (inclusive).
    """

    maximum: float
    reason: str
    unit: str = ""
    minimum: float | None = None

    def text(self) -> str:
        """The limit as written in errors and in the documentation: ``100,000``, ``1e+15``,
        ``100y``."""
        if self.unit == "s":
            return f"{self.maximum / SECONDS_PER_YEAR:g}y"
        if isinstance(self.maximum, int):
            return f"{self.maximum:,}"
        if float(self.maximum).is_integer() and abs(self.maximum) < 1e12:
            return f"{int(self.maximum):,}"
        exponent = round(math.log10(self.maximum))
        if self.maximum == 10.0**exponent:
            return f"10^{exponent}"
        return f"{self.maximum:g}"

    def refusal(self) -> str:
        """The reason of the error for a value above the limit."""
        return f"must be at most {self.text()} ({self.reason})"


_RUN_ATTEMPTS = "a run simulates at most 10^9 attempts"

SERVERS = Bound(
    100_000, "each server is a slot the pool keeps in memory; far above any bank's backend"
)
QUEUE_LIMIT = Bound(10**9, f"{_RUN_ATTEMPTS}, so a larger value never binds; leave the limit out")
LIMIT = QUEUE_LIMIT
RATE_PER_S = Bound(1e9, "a billion per second never binds; leave the limit out")
MAX_ATTEMPTS = Bound(100, "every try is an attempt of its own; 100 tries is a storm, not a client")
BREAKER_WINDOW = Bound(
    100_000, "a breaker keeps the outcome of each call in its window; far above Resilience4j's 100"
)
BACKOFF_FACTOR = Bound(100.0, "backoff grows as factor^(k-1); 100 reaches any cap at once")
USERS = Bound(10**10, "more than the people on Earth; per-user state is sized by it")
COPIES = Bound(10_000, "each copy is a partner with its own process, random streams and table rows")
PEOPLE = Bound(100_000, "a team of people")
SESSIONS_PER_USER_DAY = Bound(
    86_400.0, "one session per user per second all day; model more users instead"
)
PER_USER_DAY = SESSIONS_PER_USER_DAY
GROWTH_PER_YEAR = Bound(10.0, "elevenfold in a year; faster growth overflows long horizons")
DISCOUNT_RATE = Bound(10.0, "1,000% a year")
ARRIVALS_PER_MONTH = Bound(
    1_000.0, "each candidate is a project and may become a partner with its own process"
)
BANK_EFFORT_DAYS = Bound(10_000.0, "about 40 years of one engineer's working days")
MONEY = Bound(1e15, "a quadrillion in any currency; sums over a whole run stay finite")
VALUE = Bound(1e15, "values are money or multipliers; sums over a whole run stay finite")
SIZE_MULTIPLIER = Bound(1_000.0, "an onboarded partner at most 1,000 times its template")
PROFILE_FACTOR = Bound(1e6, "shape factors are relative; more than 10^6 between two is no profile")
EVENT_FACTOR = Bound(1_000.0, "Singles' Day is 10x; overlapping events multiply further")
DISTRIBUTION_CV = Bound(
    100.0, "a heavier tail puts nearly all mass at zero; for none use constant", minimum=1e-6
)
DURATION = Bound(
    100 * SECONDS_PER_YEAR, "the clock in seconds keeps sub-microsecond resolution", unit="s"
)
TIME_BINS = Bound(10**6, "the tables hold a row per time bin and partner")
SEED = Bound(2**63 - 1, "seeds are stored as 64-bit integers in result files")
DESIGN_POINTS = Bound(100_000, "each point is at least one run, one file and one row of results")
REPLICATIONS = Bound(10_000, "each replication is a run of every point")

MAX_FILE_BYTES = 1_000_000
"""A scenario file is hand-written text: the shipped ones are under 10 kB."""
MAX_NESTING = 16
"""Tables and arrays nested deeper than this are refused before the TOML parser recurses (the
format's deepest key, ``partners.0.background.consent.lifetime``, is five levels down)."""
MAX_INT_DIGITS = 4300
"""Python's limit on converting a decimal literal to an int (``sys.get_int_max_str_digits``)."""

BOUNDS: dict[str, Bound] = {
    "servers": SERVERS,
    "queue_limit": QUEUE_LIMIT,
    "shed_background_above": QUEUE_LIMIT,
    "burst": LIMIT,
    "limit": LIMIT,
    "rate": RATE_PER_S,
    "max_attempts": MAX_ATTEMPTS,
    "factor": BACKOFF_FACTOR,
    "users": USERS,
    "copies": COPIES,
    "engineers": PEOPLE,
    "review_capacity": PEOPLE,
    "sessions_per_user_day": SESSIONS_PER_USER_DAY,
    "per_user_day": PER_USER_DAY,
    "growth_per_year": GROWTH_PER_YEAR,
    "discount_rate": DISCOUNT_RATE,
    "arrivals_per_month": ARRIVALS_PER_MONTH,
    "bank_effort_days": BANK_EFFORT_DAYS,
    "seed": SEED,
    "n": DESIGN_POINTS,
    "replications": REPLICATIONS,
}
"""The bounds of single keys, by key name, as the documentation lists them."""


def finite_float(value: object) -> float | None:
    """``value`` (an int or float, not a bool) as a finite float, or None when it is not a
    number or does not fit one (an integer literal of hundreds of digits, ``inf``, ``nan``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        x = float(value)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None
