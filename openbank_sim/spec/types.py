"""The spec types: validated, immutable descriptions of a scenario (frozen dataclasses).

What :func:`openbank_sim.spec.schema.build` returns and the model runs on. Every field carries
its unit in its name (``_s`` seconds, ``_per_s`` per second) or in its docstring; the keys that
produce them are documented in ``docs/scenario-format.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..outcomes import OUTCOME_NAMES
from .distributions import Distribution
from .limits import LimitSpec
from .profiles import Profile

OUTCOMES = OUTCOME_NAMES
PRODUCT_KINDS = ("payment", "account_info", "credit_assessment", "installment", "other")
SECTORS = ("ecommerce", "medical", "education", "other")
INTEGRATIONS = ("api", "traditional")
SCOPES = ("global", "partner", "partner_product", "user")
STEP_CONDITIONS = ("ok", "approved", "declined")
JITTERS = ("full", "equal", "none")
NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")

# Keys of the format that later parts of the model implement; until then they are refused.
NOT_YET = "is not supported yet by this version of openbank_sim"


# --------------------------------------------------------------------------------------------
# Spec objects (frozen; tuples and read-only mappings only)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Run control. Times in seconds from ``start`` (a calendar date, midnight).

    ``warmup_auto``: ``run.warmup = "auto"``; the warm-up is chosen after the run by MSER-5
    (:mod:`openbank_sim.analysis.warmup`) and ``warmup_s`` is 0 until then.
    """

    start: dt.date
    horizon_s: float
    warmup_s: float
    seed: int
    time_bin_s: float
    record_calls: float  # share of sessions whose attempts go to the call log (0 = none)
    traffic: str
    windows: WindowsSpec | None = None
    warmup_auto: bool = False


@dataclass(frozen=True, slots=True)
class WindowsSpec:
    """Observation windows of windowed traffic (seconds)."""

    every_s: float
    length_s: float
    warmup_s: float
    placement: str  # "peak" | "stratified"


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """A capacity change: ``servers`` workers from ``start`` to ``end``.

    ``recurring``: ``start``/``end`` are ``(month, day, hour, minute)`` and repeat every year
    (an entry may wrap the year end); otherwise they are :class:`datetime.datetime` (once).
    """

    start: tuple[int, int, int, int] | dt.datetime
    end: tuple[int, int, int, int] | dt.datetime
    servers: int
    recurring: bool


@dataclass(frozen=True, slots=True)
class OutageSpec:
    """Alternating up and down periods: time between failures and time to repair (seconds)."""

    between: Distribution
    repair: Distribution


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """A backend pool: ``servers`` concurrent workers, FCFS queue of at most ``queue_limit``.

    ``drop_expired``: an attempt whose client deadline passes before its service would start
    is dropped unserved. ``shed_background_above``: while that many or more wait, unattended
    attempts get 503 (0: always; None: never)."""

    name: str
    servers: int
    queue_limit: int | None  # None = unbounded
    schedule: tuple[ScheduleEntry, ...] = ()
    outages: OutageSpec | None = None
    cost_per_server_hour: float = 0.0
    drop_expired: bool = False
    shed_background_above: int | None = None


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """An API product. Money in the scenario's currency; ``error_rate`` a share of attempts."""

    name: str
    kind: str
    pool: str
    service_time: Distribution  # seconds
    error_rate: float
    fee: float  # per ok attempt
    take_rate: float  # share of the journey value (payment kind)
    cost: float  # per attempt


@dataclass(frozen=True, slots=True)
class AuthSpec:
    """OAuth2 token service: per-user tokens cached for ``token_ttl_s`` seconds."""

    token_ttl_s: float
    servers: int
    service_time: Distribution  # seconds
    failure_rate: float


@dataclass(frozen=True, slots=True)
class LimitRule:
    """One gateway limit: an algorithm, a scope and an optional product filter."""

    name: str
    scope: str
    spec: LimitSpec
    products: tuple[str, ...] | None  # None = every product
    background_only: bool = False  # the PSD2 preset: applies to unattended traffic only


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    """What API partners' attempts pass through: auth, limits, overhead (seconds)."""

    overhead: Distribution | None
    auth: AuthSpec | None
    limits: tuple[LimitRule, ...]


@dataclass(frozen=True, slots=True)
class BackoffSpec:
    """Exponential backoff: ``base_s * factor**(k-1)`` capped at ``max_s``, then jitter."""

    base_s: float
    factor: float
    max_s: float
    jitter: str


@dataclass(frozen=True, slots=True)
class RetryBudgetSpec:
    """A client's retry budget (Finagle's ``RetryBudget``): over any sliding ``window_s``
    seconds, retries may not exceed ``ratio`` x the first attempts made plus ``min_per_s`` x
    ``window_s``; a retry that would exceed it is not made."""

    ratio: float  # retries per first attempt, in [0, 1]
    min_per_s: float  # retries per second always allowed
    window_s: float  # seconds


@dataclass(frozen=True, slots=True)
class CircuitBreakerSpec:
    """A client's circuit breaker per product (Resilience4j's count-based breaker).

    Closed: the outcomes of the last ``window`` attempts are kept; once ``min_calls`` are in and
    the share of failures (outcomes in ``failures``) is at least ``failure_rate``, it opens.
    Open: every call fails fast for ``open_for_s`` seconds. Half-open: ``half_open_calls``
    attempts are let through; their failure share decides between open again and closed.
    """

    failure_rate: float  # share in (0, 1]
    window: int  # attempts
    min_calls: int  # attempts
    open_for_s: float  # seconds
    half_open_calls: int  # attempts
    failures: frozenset[str]  # outcome names that count as failures


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """Partner-side client behaviour."""

    timeout_s: float  # inf = none
    max_attempts: int
    backoff: BackoffSpec
    retry_on: frozenset[str]
    respect_retry_after: bool
    retry_budget: RetryBudgetSpec | None = None
    circuit_breaker: CircuitBreakerSpec | None = None


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One journey step calling one product."""

    product: str
    probability: float
    when: str | None
    think_time: Distribution | None  # seconds
    approval_rate: float  # credit_assessment steps only


@dataclass(frozen=True, slots=True)
class JourneySpec:
    """A user journey: ordered steps, a transaction value, patience, redirect behaviour."""

    name: str
    value: Distribution | None  # currency
    patience_s: float  # inf = none
    redirect_dropoff: float
    redirect_time: Distribution | None  # seconds
    steps: tuple[StepSpec, ...]


@dataclass(frozen=True, slots=True)
class ConsentSpec:
    """A consent lasting ``lifetime_s``; at expiry it is renewed with ``renewal_probability``."""

    lifetime_s: float
    renewal_probability: float


@dataclass(frozen=True, slots=True)
class BackgroundSpec:
    """Unattended refreshes of an account-information product (no user present)."""

    product: str
    per_user_day: float
    share_of_users: float
    consent: ConsentSpec | None


@dataclass(frozen=True, slots=True)
class SloSpec:
    """Service levels evaluated per partner and period (None = not checked)."""

    period_s: float
    latency_mean_s: float | None
    latency_p95_s: float | None
    error_rate: float | None
    availability: float | None


@dataclass(frozen=True, slots=True)
class PartnerSpec:
    """A partner platform (after ``copies`` expansion)."""

    name: str
    sector: str
    integration: str
    users: int
    sessions_per_user_day: float
    profile: str
    journey: str
    live_from_s: float
    client: ClientSpec
    background: BackgroundSpec | None = None
    growth_per_year: float = 0.0  # user base growth, > -1
    template: bool = False  # a template for onboarding: never goes live itself


@dataclass(frozen=True, slots=True)
class BankSpec:
    """The bank: pools, products and the direct line's overhead."""

    direct_overhead: Distribution | None
    pools: Mapping[str, PoolSpec]
    products: Mapping[str, ProductSpec]


@dataclass(frozen=True, slots=True)
class SweepSpec:
    """The ``[sweep]`` table: what ``openbank-sim sweep`` varies by default."""

    design: str
    n: int
    replications: int
    vary: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Spec:
    """Everything a run needs, validated."""

    format_version: int
    name: str
    description: str
    currency: str
    run: RunSpec
    bank: BankSpec
    gateway: GatewaySpec
    client: ClientSpec
    journeys: Mapping[str, JourneySpec]
    partners: tuple[PartnerSpec, ...]
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    sweep: SweepSpec | None = None
    slo: SloSpec | None = None
    onboarding: Any = None  # spec.money.OnboardingSpec (money imports types, not the reverse)
    economics: Any = None  # spec.money.EconomicsSpec
