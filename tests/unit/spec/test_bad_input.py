"""Every kind of bad scenario input ends in one :class:`ScenarioError` that a user can act on.

Each case edits a valid scenario (or replaces the file, or adds overrides) and checks the error's
dotted key path exactly, that its message names the file, and that its reason says what is
wrong (docs/scenario-format.md "Value conventions", "Required and defaults"; DESIGN.md "Overrides").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from minimal_scenario import minimal_toml

from openbank_sim import ScenarioError, load_scenario

FILE_NAME = "under_test.toml"

# The minimal scenario with every section the cases below edit: a run, the payment's kind, error
# and take rates, a second product, gateway auth and limits, a client, a redirect drop-off and a
# credit check before the payment, the partner's profile. Valid; each edit's old text occurs
# exactly once.
EXTRA_TABLES = """
[bank.products.check]
kind = "credit_assessment"
pool = "core"
service_time = { dist = "constant", value = "50ms" }

[gateway.auth]
failure_rate = 0.001

[[gateway.limits]]
name = "per-partner"
scope = "partner"
algorithm = "token_bucket"
rate = 50.0
burst = 100

[[gateway.limits]]
name = "in-flight"
algorithm = "concurrency"
limit = 64

[client]
timeout = "5s"
max_attempts = 3
"""

BASE = minimal_toml(
    ("[bank.products.pay]\n", '[bank.products.pay]\nkind = "payment"\n'),
    (
        'mean = "100ms" }\n',
        'mean = "100ms" }\nerror_rate = 0.01\ntake_rate = 0.002\n' + EXTRA_TABLES,
    ),
    (
        'steps = [{ product = "pay" }]\n',
        "redirect_dropoff = 0.1\nsteps = [\n"
        '  { product = "check", probability = 0.5, approval_rate = 0.8 },\n'
        '  { product = "pay" },\n]\n',
    ),
    prepend='[run]\nhorizon = "1h"\nwarmup = "5m"\n\n',
    append='profile = "flat"\n',
)

SECOND_PARTNER = """
[[partners]]
name = "{name}"
users = 10
sessions_per_user_day = 1.0
journey = "buy"
"""

ONBOARDING = """
[onboarding]
arrivals_per_month = 2.0
mix = {{ ecommerce = 1.0 }}
integration = {integration}
templates = {{ ecommerce = "{template}" }}

[onboarding.team]
engineers = {team}
day_rate = 1000

[onboarding.modes.traditional]
docking = {{ dist = "constant", value = "5d" }}
development = {{ dist = "constant", value = "30d" }}
testing = {{ dist = "constant", value = "10d" }}
engineers = {engineers}
partner_cost = {partner_cost}

[onboarding.modes.api]
docking = {{ dist = "constant", value = "1d" }}
development = {{ dist = "constant", value = "5d" }}
testing = {{ dist = "constant", value = "2d" }}
platform_cost = 1000
"""


def onboarding(**kw: object) -> str:
    """An [onboarding] block (appended after BASE) with some values replaced."""
    values = {
        "integration": '"traditional"',
        "template": "shop",
        "team": 4,
        "engineers": 2,
        "partner_cost": 100,
    }
    values.update(kw)
    return ONBOARDING.format(**values)


# An account-information product, for unattended refreshes.
AIS_PRODUCT = """[bank.products.info]
kind = "account_info"
pool = "core"
service_time = { dist = "constant", value = "50ms" }
"""

# Six integer keys of BASE: ten values each make a grid of a million points.
GRID_KEYS = (
    "partners.0.users",
    "bank.pools.core.servers",
    "client.max_attempts",
    "run.seed",
    "gateway.limits.0.burst",
    "gateway.limits.1.limit",
)


@dataclass(frozen=True)
class Bad:
    """One bad input: how to make it from :data:`BASE` and what the error must say.

    Attributes:
        id: the test id.
        path: the exact dotted key path of the error (``""`` for a whole-file problem).
        words: lower-case fragments the reason must contain.
        edits: ``(old, new)`` replacements in BASE (``old`` occurs exactly once).
        prepend: text put before BASE (top-level keys).
        append: text put after BASE (inside the last ``[[partners]]`` unless it opens a table).
        overrides: dotted-path overrides passed to :func:`load_scenario`.
        content: the whole file instead of BASE (bytes for undecodable files).
        missing: do not write the file at all.
    """

    id: str
    path: str
    words: tuple[str, ...]
    edits: tuple[tuple[str, str], ...] = ()
    prepend: str = ""
    append: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    content: str | bytes | None = None
    missing: bool = False


CASES = [
    # unknown keys
    Bad(
        "unknown-key-near-miss",
        "bank.pools.core.sever",
        ("unknown key", "did you mean 'servers'"),
        edits=(("servers = 4", "sever = 4"),),
    ),
    Bad("unknown-top-level-key", "colour", ("unknown key",), prepend='colour = "red"\n'),
    Bad(
        "unknown-partner-key",
        "partners.0.jouney",
        ("unknown key", "did you mean 'journey'"),
        edits=(('journey = "buy"', 'jouney = "buy"'),),
    ),
    Bad(
        "unknown-client-key",
        "client.timout",
        ("unknown key", "did you mean 'timeout'"),
        edits=(('timeout = "5s"', 'timout = "5s"'),),
    ),
    Bad(
        "unknown-partner-client-key",
        "partners.0.client.retries",
        ("unknown key",),
        append="client = { retries = 2 }\n",
    ),
    # the client's levers against retry storms
    Bad(
        "retry-budget-ratio-above-one",
        "client.retry_budget.ratio",
        ("share in [0, 1]",),
        edits=(("max_attempts = 3\n", "max_attempts = 3\nretry_budget = { ratio = 1.5 }\n"),),
    ),
    Bad(
        "retry-budget-ratio-negative",
        "partners.0.client.retry_budget.ratio",
        ("share in [0, 1]",),
        append="client = { retry_budget = { ratio = -0.1 } }\n",
    ),
    Bad(
        "retry-budget-window-zero",
        "client.retry_budget.window",
        ("longer than 0s",),
        edits=(("max_attempts = 3\n", 'max_attempts = 3\nretry_budget = { window = "0s" }\n'),),
    ),
    Bad(
        "retry-budget-min-per-s-negative",
        "client.retry_budget.min_per_s",
        (">= 0",),
        edits=(("max_attempts = 3\n", "max_attempts = 3\nretry_budget = { min_per_s = -1 }\n"),),
    ),
    Bad(
        "retry-budget-unknown-key",
        "client.retry_budget.percent",
        ("unknown key",),
        edits=(("max_attempts = 3\n", "max_attempts = 3\nretry_budget = { percent = 10 }\n"),),
    ),
    Bad(
        "breaker-failure-rate-above-one",
        "client.circuit_breaker.failure_rate",
        ("share in [0, 1]",),
        edits=(
            ("max_attempts = 3\n", "max_attempts = 3\ncircuit_breaker = { failure_rate = 2 }\n"),
        ),
    ),
    Bad(
        "breaker-failure-rate-zero",
        "client.circuit_breaker.failure_rate",
        ("(0, 1]",),
        edits=(
            ("max_attempts = 3\n", "max_attempts = 3\ncircuit_breaker = { failure_rate = 0 }\n"),
        ),
    ),
    Bad(
        "breaker-open-for-zero",
        "client.circuit_breaker.open_for",
        ("longer than 0s",),
        edits=(
            ("max_attempts = 3\n", 'max_attempts = 3\ncircuit_breaker = { open_for = "0s" }\n'),
        ),
    ),
    Bad(
        "breaker-half-open-calls-zero",
        "client.circuit_breaker.half_open_calls",
        ("positive integer",),
        edits=(
            ("max_attempts = 3\n", "max_attempts = 3\ncircuit_breaker = { half_open_calls = 0 }\n"),
        ),
    ),
    Bad(
        "breaker-min-calls-above-window",
        "client.circuit_breaker.min_calls",
        ("at most window (20)",),
        edits=(("max_attempts = 3\n", "max_attempts = 3\ncircuit_breaker = { min_calls = 21 }\n"),),
    ),
    Bad(
        "breaker-window-zero",
        "partners.0.client.circuit_breaker.window",
        ("positive integer",),
        append="client = { circuit_breaker = { window = 0 } }\n",
    ),
    Bad(
        "breaker-failures-unknown-outcome",
        "client.circuit_breaker.failures.1",
        ("must be one of", "did you mean 'timeout'"),
        edits=(
            (
                "max_attempts = 3\n",
                'max_attempts = 3\ncircuit_breaker = { failures = ["error", "timeot"] }\n',
            ),
        ),
    ),
    Bad(
        "breaker-failures-ok",
        "client.circuit_breaker.failures.0",
        ("must be one of",),
        edits=(
            ("max_attempts = 3\n", 'max_attempts = 3\ncircuit_breaker = { failures = ["ok"] }\n'),
        ),
    ),
    Bad(
        "breaker-with-windowed-traffic",
        "client.circuit_breaker",
        ('run.traffic = "full"', "window"),
        edits=(
            (
                'warmup = "5m"',
                'warmup = "5m"\ntraffic = "windowed"\n'
                'windows = { every = "30m", length = "20m", warmup = "5m" }',
            ),
            ("max_attempts = 3\n", "max_attempts = 3\ncircuit_breaker = {}\n"),
        ),
    ),
    Bad(
        "partner-budget-with-windowed-traffic",
        "partners.0.client.retry_budget",
        ('run.traffic = "full"',),
        edits=(
            (
                'warmup = "5m"',
                'warmup = "5m"\ntraffic = "windowed"\n'
                'windows = { every = "30m", length = "20m", warmup = "5m" }',
            ),
        ),
        append="client = { retry_budget = {} }\n",
    ),
    Bad(
        "unknown-distribution-parameter",
        "bank.products.pay.service_time.sd",
        ("unknown key", "exponential"),
        edits=(('mean = "100ms" }', 'mean = "100ms", sd = "10ms" }'),),
    ),
    # wrong types
    Bad(
        "servers-string",
        "bank.pools.core.servers",
        ("integer",),
        edits=(("servers = 4", 'servers = "4"'),),
    ),
    Bad(
        "servers-float",
        "bank.pools.core.servers",
        ("integer",),
        edits=(("servers = 4", "servers = 2.5"),),
    ),
    Bad(
        "users-float",
        "partners.0.users",
        ("integer",),
        edits=(("users = 1000", "users = 1000.5"),),
    ),
    Bad(
        "users-bool",
        "partners.0.users",
        ("integer",),
        edits=(("users = 1000", "users = true"),),
    ),
    Bad(
        "sessions-string",
        "partners.0.sessions_per_user_day",
        ("number",),
        edits=(("sessions_per_user_day = 2.0", 'sessions_per_user_day = "2"'),),
    ),
    Bad(
        "bool-as-string",
        "client.respect_retry_after",
        ("true or false",),
        edits=(("max_attempts = 3", 'max_attempts = 3\nrespect_retry_after = "yes"'),),
    ),
    Bad(
        "kind-number",
        "bank.products.pay.kind",
        ("string",),
        edits=(('kind = "payment"', "kind = 3"),),
    ),
    Bad(
        "kind-near-miss",
        "bank.products.pay.kind",
        ("must be one of", "did you mean 'payment'"),
        edits=(('kind = "payment"', 'kind = "paymnt"'),),
    ),
    Bad(
        "pool-not-a-table",
        "bank.pools.core",
        ("table",),
        edits=(("[bank.pools.core]\nservers = 4", "[bank.pools]\ncore = 4"),),
    ),
    Bad(
        "partners-not-an-array",
        "partners",
        ("array of tables",),
        edits=(("[[partners]]", "[partners]"),),
    ),
    Bad(
        "steps-not-an-array",
        "journeys.buy.steps",
        ("array",),
        edits=(
            (
                'steps = [\n  { product = "check", probability = 0.5, approval_rate = 0.8 },\n'
                '  { product = "pay" },\n]',
                'steps = "pay"',
            ),
        ),
    ),
    Bad(
        "distribution-not-a-table",
        "bank.products.pay.service_time",
        ("distribution must be a table",),
        edits=(('service_time = { dist = "exponential", mean = "100ms" }', 'service_time = "1s"'),),
    ),
    Bad(
        "format-version-string",
        "format_version",
        ("integer",),
        prepend='format_version = "1"\n',
    ),
    # non-positive counts
    Bad(
        "servers-zero",
        "bank.pools.core.servers",
        ("positive integer",),
        edits=(("servers = 4", "servers = 0"),),
    ),
    Bad(
        "servers-negative",
        "bank.pools.core.servers",
        ("positive integer",),
        edits=(("servers = 4", "servers = -2"),),
    ),
    Bad(
        "users-zero",
        "partners.0.users",
        ("positive integer",),
        edits=(("users = 1000", "users = 0"),),
    ),
    Bad(
        "max-attempts-zero",
        "client.max_attempts",
        ("positive integer",),
        edits=(("max_attempts = 3", "max_attempts = 0"),),
    ),
    Bad(
        "partner-max-attempts-zero",
        "partners.0.client.max_attempts",
        ("positive integer",),
        append="client = { max_attempts = 0 }\n",
    ),
    Bad(
        "burst-zero",
        "gateway.limits.0.burst",
        ("positive integer",),
        edits=(("burst = 100", "burst = 0"),),
    ),
    Bad(
        "limit-zero",
        "gateway.limits.1.limit",
        ("positive integer",),
        edits=(("limit = 64", "limit = 0"),),
    ),
    Bad(
        "auth-servers-zero",
        "gateway.auth.servers",
        ("positive integer",),
        edits=(("failure_rate = 0.001", "failure_rate = 0.001\nservers = 0"),),
    ),
    Bad(
        "copies-zero",
        "partners.0.copies",
        ("positive integer",),
        append="copies = 0\n",
    ),
    Bad(
        "queue-limit-negative",
        "bank.pools.core.queue_limit",
        (">= 0",),
        edits=(("servers = 4", "servers = 4\nqueue_limit = -1"),),
    ),
    # deadline-aware queues and background shedding
    Bad(
        "drop-expired-not-a-bool",
        "bank.pools.core.drop_expired",
        ("true or false",),
        edits=(("servers = 4", 'servers = 4\ndrop_expired = "yes"'),),
    ),
    Bad(
        "drop-expired-without-a-client-timeout",
        "bank.pools.core.drop_expired",
        ("no partner with a finite client timeout", "give [client]"),
        edits=(("servers = 4", "servers = 4\ndrop_expired = true"), ('timeout = "5s"\n', "")),
    ),
    Bad(
        "drop-expired-the-partner-overrides-the-timeout",
        "bank.pools.core.drop_expired",
        ("no partner with a finite client timeout",),
        edits=(("servers = 4", "servers = 4\ndrop_expired = true"),),
        append='client = { timeout = "none" }\n',
    ),
    Bad(
        "drop-expired-on-a-pool-no-journey-calls",
        "bank.pools.side.drop_expired",
        ("no partner with a finite client timeout",),
        edits=(
            (
                "servers = 4",
                "servers = 4\n\n[bank.pools.side]\nservers = 1\ndrop_expired = true\n\n"
                '[bank.products.spare]\npool = "side"\n'
                'service_time = { dist = "constant", value = "50ms" }',
            ),
        ),
    ),
    Bad(
        "shed-background-negative",
        "bank.pools.core.shed_background_above",
        (">= 0",),
        edits=(("servers = 4", "servers = 4\nshed_background_above = -1"),),
    ),
    Bad(
        "shed-background-not-an-integer",
        "bank.pools.core.shed_background_above",
        ("must be an integer",),
        edits=(("servers = 4", "servers = 4\nshed_background_above = 2.5"),),
    ),
    Bad(
        "shed-background-a-bool",
        "bank.pools.core.shed_background_above",
        ("must be an integer",),
        edits=(("servers = 4", "servers = 4\nshed_background_above = true"),),
    ),
    Bad(
        "shed-background-too-large",
        "bank.pools.core.shed_background_above",
        ("1,000,000,000",),
        edits=(("servers = 4", "servers = 4\nshed_background_above = 10000000000"),),
    ),
    # non-positive rates
    Bad(
        "sessions-zero",
        "partners.0.sessions_per_user_day",
        ("> 0",),
        edits=(("sessions_per_user_day = 2.0", "sessions_per_user_day = 0.0"),),
    ),
    Bad(
        "sessions-negative",
        "partners.0.sessions_per_user_day",
        ("> 0",),
        edits=(("sessions_per_user_day = 2.0", "sessions_per_user_day = -1.0"),),
    ),
    Bad(
        "sessions-infinite",
        "partners.0.sessions_per_user_day",
        ("number",),
        edits=(("sessions_per_user_day = 2.0", "sessions_per_user_day = inf"),),
    ),
    Bad(
        "token-rate-zero",
        "gateway.limits.0.rate",
        ("> 0",),
        edits=(("rate = 50.0", "rate = 0.0"),),
    ),
    Bad(
        "token-rate-negative",
        "gateway.limits.0.rate",
        ("> 0",),
        edits=(("rate = 50.0", "rate = -5.0"),),
    ),
    # shares outside [0, 1]
    Bad(
        "error-rate-above-one",
        "bank.products.pay.error_rate",
        ("share", "[0, 1]"),
        edits=(("error_rate = 0.01", "error_rate = 1.5"),),
    ),
    Bad(
        "error-rate-negative",
        "bank.products.pay.error_rate",
        ("share", "[0, 1]"),
        edits=(("error_rate = 0.01", "error_rate = -0.01"),),
    ),
    Bad(
        "take-rate",
        "bank.products.pay.take_rate",
        ("share", "[0, 1]"),
        edits=(("take_rate = 0.002", "take_rate = 1.2"),),
    ),
    Bad(
        "probability",
        "journeys.buy.steps.0.probability",
        ("share", "[0, 1]"),
        edits=(("probability = 0.5", "probability = 1.1"),),
    ),
    Bad(
        "approval-rate",
        "journeys.buy.steps.0.approval_rate",
        ("share", "[0, 1]"),
        edits=(("approval_rate = 0.8", "approval_rate = -0.2"),),
    ),
    Bad(
        "failure-rate",
        "gateway.auth.failure_rate",
        ("share", "[0, 1]"),
        edits=(("failure_rate = 0.001", "failure_rate = 2"),),
    ),
    Bad(
        "redirect-dropoff",
        "journeys.buy.redirect_dropoff",
        ("share", "[0, 1]"),
        edits=(("redirect_dropoff = 0.1", "redirect_dropoff = 1.01"),),
    ),
    # warm-up not shorter than the horizon
    Bad(
        "warmup-equals-horizon",
        "run.warmup",
        ("shorter than run.horizon",),
        edits=(('warmup = "5m"', 'warmup = "60m"'),),
    ),
    Bad(
        "warmup-longer-than-horizon",
        "run.warmup",
        ("shorter than run.horizon",),
        edits=(('warmup = "5m"', 'warmup = "2h"'),),
    ),
    Bad(
        "warmup-equals-default-horizon",
        "run.warmup",
        ("shorter than run.horizon",),
        edits=(('horizon = "1h"\nwarmup = "5m"', 'warmup = "1d"'),),
    ),
    # references to missing entries
    Bad(
        "product-names-missing-pool",
        "bank.products.pay.pool",
        ("names no pool", "did you mean 'core'"),
        edits=(('kind = "payment"\npool = "core"', 'kind = "payment"\npool = "cor"'),),
    ),
    Bad(
        "step-names-missing-product",
        "journeys.buy.steps.1.product",
        ("names no product", "did you mean 'pay'"),
        edits=(('{ product = "pay" }', '{ product = "pya" }'),),
    ),
    Bad(
        "partner-names-missing-journey",
        "partners.0.journey",
        ("names no journey", "did you mean 'buy'"),
        edits=(('journey = "buy"', 'journey = "bye"'),),
    ),
    Bad(
        "partner-names-missing-profile",
        "partners.0.profile",
        ("names no profile",),
        edits=(('profile = "flat"', 'profile = "weekend"'),),
    ),
    Bad(
        "limit-names-missing-product",
        "gateway.limits.1.products.0",
        ("names no product",),
        edits=(("limit = 64", 'limit = 64\nproducts = ["loan"]'),),
    ),
    # distributions
    Bad(
        "unknown-distribution",
        "bank.products.pay.service_time.dist",
        ("unknown distribution", "lognormal"),
        edits=(('dist = "exponential"', 'dist = "normall"'),),
    ),
    Bad(
        "impossible-lognormal",
        "bank.products.pay.service_time.p95",
        ("p95", "cv"),
        edits=(
            (
                '{ dist = "exponential", mean = "100ms" }',
                '{ dist = "lognormal", mean = "100ms", p95 = "1s" }',
            ),
        ),
    ),
    # duplicate names
    Bad(
        "duplicate-partner",
        "partners.1.name",
        ("duplicate partner name",),
        append=SECOND_PARTNER.format(name="shop"),
    ),
    Bad(
        "duplicate-partner-from-copies",
        "partners.1.name",
        ("duplicate partner name", "shop-2"),
        append="copies = 2\n" + SECOND_PARTNER.format(name="shop-2"),
    ),
    Bad(
        "duplicate-limit",
        "gateway.limits.1.name",
        ("duplicate",),
        edits=(('name = "in-flight"', 'name = "per-partner"'),),
    ),
    # durations
    Bad(
        "duration-bare-number",
        "run.horizon",
        ("needs a unit",),
        edits=(('horizon = "1h"', "horizon = 2"),),
    ),
    Bad(
        "duration-numeric-string",
        "client.timeout",
        ("needs a unit",),
        edits=(('timeout = "5s"', 'timeout = "5"'),),
    ),
    Bad(
        "duration-unknown-unit",
        "client.timeout",
        ("cannot read this as a duration",),
        edits=(('timeout = "5s"', 'timeout = "5 parsecs"'),),
    ),
    Bad(
        "duration-none-where-not-allowed",
        "run.horizon",
        ('"none"', "not allowed"),
        edits=(('horizon = "1h"', 'horizon = "none"'),),
    ),
    Bad(
        "duration-negative",
        "client.timeout",
        ("negative",),
        edits=(('timeout = "5s"', 'timeout = "-5s"'),),
    ),
    Bad(
        "distribution-duration-without-unit",
        "bank.products.pay.service_time.mean",
        ("needs a unit",),
        edits=(('mean = "100ms" }', "mean = 0.1 }"),),
    ),
    # files
    Bad("missing-file", "", ("no such file",), missing=True),
    Bad("not-toml", "", ("not valid toml",), content="this is = = not [toml\n"),
    Bad("not-utf8", "", ("not valid toml", "utf-8"), content=b"name = '\xff\xfe'\n"),
    Bad("empty-file", "bank", ("required",), content=""),
    # overrides
    Bad(
        "override-missing-pool",
        "bank.pools.gpu",
        ("no pool named 'gpu'",),
        overrides={"bank.pools.gpu.servers": 8},
    ),
    Bad(
        "override-missing-partner",
        "partners.1",
        ("no element 1",),
        overrides={"partners.1.users": 8},
    ),
    Bad(
        "override-missing-limit",
        "gateway.limits.2",
        ("no element 2",),
        overrides={"gateway.limits.2.rate": 8.0},
    ),
    Bad(
        "override-missing-journey",
        "journeys.sell",
        ("no journey named 'sell'",),
        overrides={"journeys.sell.patience": "5s"},
    ),
    Bad(
        "override-unknown-key",
        "bank.pools.core.sever",
        ("unknown key", "did you mean 'servers'"),
        overrides={"bank.pools.core.sever": 8},
    ),
    Bad(
        "override-bad-value",
        "bank.pools.core.servers",
        ("positive integer",),
        overrides={"bank.pools.core.servers": 0},
    ),
    # keys of the format that are not supported yet
    Bad(
        "onboarding-unknown-key", "onboarding.x", ("unknown key",), append="\n[onboarding]\nx = 1\n"
    ),
    Bad("economics-unknown-key", "economics.x", ("unknown key",), append="\n[economics]\nx = 1\n"),
    Bad(
        "discount-rate",
        "economics.discount_rate",
        ("> -1",),
        append="\n[economics]\ndiscount_rate = -1.0\n",
    ),
    Bad(
        "onboarding-zero-team",
        "onboarding.team.engineers",
        ("at least one engineer",),
        append=onboarding(team=0),
    ),
    Bad(
        "onboarding-engineers-above-team",
        "onboarding.modes.traditional.engineers",
        ("more engineers than the team",),
        append=onboarding(engineers=5),
    ),
    Bad(
        "onboarding-mix-sum",
        "onboarding.integration",
        ("sum to 1",),
        append=onboarding(integration="{ api = 0.5, traditional = 0.4 }"),
    ),
    Bad(
        "onboarding-template-missing",
        "onboarding.templates.ecommerce",
        ("names no partner",),
        append=onboarding(template="nobody"),
    ),
    Bad(
        "onboarding-negative-cost",
        "onboarding.modes.traditional.partner_cost",
        (">= 0",),
        append=onboarding(partner_cost=-5),
    ),
    Bad("sweep-no-vary", "sweep.vary", ("required",), append='\n[sweep]\ndesign = "grid"\n'),
    Bad(
        "sweep-design",
        "sweep.design",
        ("grid", "lhs"),
        append='\n[sweep]\ndesign = "gird"\nvary = { "bank.pools.core.servers" = [1, 2] }\n',
    ),
    Bad(
        "sweep-empty-range",
        "sweep.vary.bank.pools.core.servers",
        ("low < high",),
        append='\n[sweep]\ndesign = "lhs"\nvary = { "bank.pools.core.servers" = { low = 4, high = 4 } }\n',
    ),
    Bad(
        "slo-unknown-key",
        "slo.latency_p99",
        ("unknown key",),
        append='\n[slo]\nlatency_p99 = "1s"\n',
    ),
    Bad(
        "run-windows-unknown-key",
        "run.windows.x",
        ("unknown key",),
        append="\n[run.windows]\nx = 1\n",
    ),
    Bad("extends-missing", "extends", ("no such file",), prepend='extends = "nowhere.toml"\n'),
    Bad("extends-not-string", "extends", ("must be a string",), prepend="extends = 5\n"),
    Bad(
        "limit-preset-combined",
        "gateway.limits.1.algorithm",
        ("cannot be combined with a preset",),
        edits=(('name = "in-flight"', 'name = "in-flight"\npreset = "psd2_unattended"'),),
    ),
    Bad(
        "limit-preset-no-ais",
        "gateway.limits.1.preset",
        ("account_info",),
        edits=(
            (
                'name = "in-flight"\nalgorithm = "concurrency"\nlimit = 64',
                'name = "in-flight"\npreset = "psd2_unattended"',
            ),
        ),
    ),
    Bad(
        "pool-schedule-to-equals-from",
        "bank.pools.core.schedule.0.to",
        ("differ",),
        edits=(
            (
                "servers = 4",
                'servers = 4\nschedule = [{ from = "11-10T20:00", to = "11-10T20:00", servers = 8 }]',
            ),
        ),
    ),
    Bad(
        "pool-schedule-iso-backwards",
        "bank.pools.core.schedule.0.to",
        ("ends before it starts",),
        edits=(
            (
                "servers = 4",
                'servers = 4\nschedule = [{ from = "2026-11-11T04:00", to = "2026-11-10T20:00", servers = 8 }]',
            ),
        ),
    ),
    Bad(
        "pool-schedule-negative-servers",
        "bank.pools.core.schedule.0.servers",
        ("positive integer",),
        edits=(
            (
                "servers = 4",
                'servers = 4\nschedule = [{ from = "11-10T20:00", to = "11-11T04:00", servers = -2 }]',
            ),
        ),
    ),
    Bad(
        "pool-outages-zero-mean",
        "bank.pools.core.outages.repair",
        ("mean above 0",),
        edits=(
            (
                "servers = 4",
                'servers = 4\noutages = { between = { dist = "exponential", mean = "1d" }, '
                'repair = { dist = "constant", value = "0s" } }',
            ),
        ),
    ),
    Bad(
        "partner-background-not-ais",
        "partners.0.background.product",
        ("account_info",),
        append='background = { product = "pay", per_user_day = 4 }\n',
    ),
    Bad(
        "pool-cost-negative",
        "bank.pools.core.cost_per_server_hour",
        (">= 0",),
        edits=(("servers = 4", "servers = 4\ncost_per_server_hour = -0.8"),),
    ),
    Bad(
        "partner-growth",
        "partners.0.growth_per_year",
        ("> -1",),
        append="growth_per_year = -1.5\n",
    ),
    Bad(
        "windowed-without-windows",
        "run.windows",
        ("required",),
        edits=(('warmup = "5m"', 'warmup = "5m"\ntraffic = "windowed"'),),
    ),
    Bad(
        "windows-longer-than-spacing",
        "run.windows.length",
        ("shorter than its spacing",),
        edits=(
            (
                'warmup = "5m"',
                'warmup = "5m"\ntraffic = "windowed"\n'
                'windows = { every = "30m", length = "25m", warmup = "10m" }',
            ),
        ),
    ),
    Bad(
        "windowed-horizon-below-spacing",
        "run.horizon",
        ("at least one spacing",),
        edits=(
            (
                'warmup = "5m"',
                'warmup = "5m"\ntraffic = "windowed"\n'
                'windows = { every = "2h", length = "20m", warmup = "5m" }',
            ),
        ),
    ),
    Bad(
        "windows-warmup-below-token-bucket-refill",
        "run.windows.warmup",
        ("token bucket", "refills in 2s", "run.windows.warmup"),
        edits=(
            (
                'warmup = "5m"',
                'warmup = "5m"\ntraffic = "windowed"\n'
                'windows = { every = "1h", length = "20m", warmup = "1s" }',
            ),
        ),
    ),
    Bad(
        "windows-peak-with-fixed-window-limit",
        "run.windows.placement",
        ("1d", "peak", "stratified"),
        edits=(
            (
                'warmup = "5m"',
                'warmup = "5m"\ntraffic = "windowed"\n'
                'windows = { every = "1h", length = "20m", warmup = "5m", placement = "peak" }',
            ),
            ('algorithm = "concurrency"', 'algorithm = "fixed_window"\nwindow = "1d"'),
        ),
    ),
    Bad(
        "windows-event-day-without-room",
        "run.windows.length",
        ("event day 2026-01-06", "profiles.sale.events.0", "run.horizon"),
        edits=(
            ('horizon = "1h"', 'horizon = "24h30m"'),
            (
                'warmup = "5m"',
                'warmup = "5m"\ntraffic = "windowed"\n'
                'windows = { every = "1d", length = "1h", warmup = "10m" }',
            ),
            (
                'profile = "flat"\n',
                'profile = "sale"\n\n[profiles.sale]\n'
                'events = [{ date = "01-06", factor = 2.0, duration = "1d" }]\n',
            ),
        ),
    ),
    # format version
    Bad(
        "format-version-2",
        "format_version",
        ("format_version = 1",),
        prepend="format_version = 2\n",
    ),
    # names
    Bad(
        "pool-name-with-space",
        "bank.pools.core pool",
        ("letters, digits",),
        edits=(("[bank.pools.core]", '[bank.pools."core pool"]'),),
    ),
    Bad(
        "product-name-with-slash",
        "bank.products.pay/now",
        ("letters, digits",),
        edits=(("[bank.products.pay]", '[bank.products."pay/now"]'),),
    ),
    Bad(
        "journey-name-with-accent",
        "journeys.bü",
        ("letters, digits",),
        edits=(("[journeys.buy]", '[journeys."bü"]'),),
    ),
    Bad(
        "partner-name-with-bang",
        "partners.0.name",
        ("letters, digits",),
        edits=(('name = "shop"', 'name = "shop!"'),),
    ),
    Bad(
        "partner-name-empty",
        "partners.0.name",
        ("letters, digits",),
        edits=(('name = "shop"', 'name = ""'),),
    ),
    # numbers beyond their bounds (docs/scenario-format.md "Bounds"): one clear error, never
    # a MemoryError, an OverflowError or a hang later
    Bad(
        "servers-10-to-the-12",
        "bank.pools.core.servers",
        ("at most 100,000",),
        edits=(("servers = 4", "servers = 1000000000000"),),
    ),
    Bad(
        "servers-26-digits",
        "bank.pools.core.servers",
        ("at most 100,000",),
        edits=(("servers = 4", "servers = " + "9" * 26),),
    ),
    Bad(
        "users-huge",
        "partners.0.users",
        ("at most 10,000,000,000", "people on earth"),
        edits=(("users = 1000", "users = 100000000000000000000"),),
    ),
    Bad(
        "users-10-to-the-15",
        "partners.0.users",
        ("at most 10,000,000,000",),
        edits=(("users = 1000", "users = 1_000_000_000_000_000"),),
    ),
    Bad(
        "sessions-1e308",
        "partners.0.sessions_per_user_day",
        ("at most 86,400",),
        edits=(("sessions_per_user_day = 2.0", "sessions_per_user_day = 1e308"),),
    ),
    Bad(
        "sessions-400-digit-integer",
        "partners.0.sessions_per_user_day",
        ("at most 86,400",),
        edits=(("sessions_per_user_day = 2.0", "sessions_per_user_day = " + "7" * 400),),
    ),
    Bad(
        "integer-5000-digits",
        "",
        ("line 48", "4,300 digits"),
        edits=(("users = 1000", "users = " + "9" * 5000),),
    ),
    Bad(
        "nested-inline-tables",
        "",
        ("line 1", "nests tables or arrays 3000 deep"),
        prepend="deep = " + "{ a = " * 3000 + "1" + " }" * 3000 + "\n",
    ),
    Bad(
        "nested-arrays",
        "",
        ("nests tables or arrays 5000 deep",),
        prepend="deep = " + "[" * 5000 + "]" * 5000 + "\n",
    ),
    Bad(
        "dotted-key-5000-parts",
        "",
        ("dotted key of 5000 parts",),
        prepend=".".join(["a"] * 5000) + " = 1\n",
    ),
    Bad(
        "table-header-5000-parts",
        "",
        ("dotted key of 5000 parts",),
        append="\n[" + ".".join(["x"] * 5000) + "]\n",
    ),
    Bad(
        "nested-18-levels-by-headers-and-inline-tables",
        "a.a.a.a.a.a.a.a.a.a.b.b.b.b.b.b.b",
        ("deeper than 16",),
        prepend="[" + ".".join(["a"] * 10) + "]\nb = " + "{ b = " * 7 + "1" + " }" * 7 + "\n\n",
    ),
    Bad(
        "copies-10-to-the-12",
        "partners.0.copies",
        ("at most 10,000",),
        append="copies = 1000000000000\n",
    ),
    Bad(
        "growth-1e308",
        "partners.0.growth_per_year",
        ("at most 10",),
        append="growth_per_year = 1e308\n",
    ),
    Bad(
        "growth-huge-negative-integer",
        "partners.0.growth_per_year",
        ("at least -10",),
        append="growth_per_year = -" + "9" * 400 + "\n",
    ),
    Bad(
        "horizon-1000y",
        "run.horizon",
        ("at most 100y",),
        edits=(('horizon = "1h"', 'horizon = "1000y"'),),
    ),
    Bad(
        "horizon-past-the-calendar",
        "run.horizon",
        ("9999-12-31",),
        edits=(('horizon = "1h"', 'start = "9990-01-01"\nhorizon = "20y"'),),
    ),
    Bad(
        "time-bins-too-many",
        "run.time_bin",
        ("1,000,000",),
        edits=(('horizon = "1h"', 'horizon = "1d"\ntime_bin = "1ms"'),),
    ),
    Bad(
        "slo-periods-too-many",
        "slo.period",
        ("1,000,000",),
        append='\n[slo]\nperiod = "1ms"\n',
    ),
    Bad(
        "queue-limit-huge",
        "bank.pools.core.queue_limit",
        ("at most 1,000,000,000",),
        edits=(("servers = 4", "servers = 4\nqueue_limit = 10000000000"),),
    ),
    Bad(
        "burst-huge",
        "gateway.limits.0.burst",
        ("at most 1,000,000,000",),
        edits=(("burst = 100", "burst = 10000000000"),),
    ),
    Bad(
        "limit-huge",
        "gateway.limits.1.limit",
        ("at most 1,000,000,000",),
        edits=(("limit = 64", "limit = 10000000000"),),
    ),
    Bad(
        "token-rate-1e308",
        "gateway.limits.0.rate",
        ("at most 1,000,000,000",),
        edits=(("rate = 50.0", "rate = 1e308"),),
    ),
    Bad(
        "auth-servers-huge",
        "gateway.auth.servers",
        ("at most 100,000",),
        edits=(("failure_rate = 0.001", "failure_rate = 0.001\nservers = 1000000000000"),),
    ),
    Bad(
        "schedule-servers-huge",
        "bank.pools.core.schedule.0.servers",
        ("at most 100,000",),
        edits=(
            (
                "servers = 4",
                'servers = 4\nschedule = [{ from = "11-10T20:00", to = "11-11T04:00", '
                "servers = 1000000000000 }]",
            ),
        ),
    ),
    Bad(
        "max-attempts-huge",
        "client.max_attempts",
        ("at most 100",),
        edits=(("max_attempts = 3", "max_attempts = 1000000"),),
    ),
    Bad(
        "backoff-factor-1e308",
        "client.backoff.factor",
        ("at most 100",),
        edits=(("max_attempts = 3", "max_attempts = 3\nbackoff = { factor = 1e308 }"),),
    ),
    Bad(
        "fee-1e308",
        "bank.products.pay.fee",
        ("at most 10^15",),
        edits=(("take_rate = 0.002", "take_rate = 0.002\nfee = 1e308"),),
    ),
    Bad(
        "per-user-day-huge",
        "partners.0.background.per_user_day",
        ("at most 86,400",),
        edits=(("[gateway.auth]", AIS_PRODUCT + "\n[gateway.auth]"),),
        append='background = { product = "info", per_user_day = 1e300 }\n',
    ),
    Bad(
        "seed-above-64-bits",
        "run.seed",
        ("at most 9,223,372,036,854,775,807",),
        edits=(('horizon = "1h"', 'horizon = "1h"\nseed = 100000000000000000000'),),
    ),
    Bad(
        "timeout-beyond-100y",
        "client.timeout",
        ("at most 100y",),
        edits=(('timeout = "5s"', 'timeout = "1000y"'),),
    ),
    Bad(
        "service-time-beyond-100y",
        "bank.products.pay.service_time.mean",
        ("at most 100y",),
        edits=(('mean = "100ms" }', 'mean = "500y" }'),),
    ),
    Bad(
        "lognormal-mu-gives-a-huge-mean",
        "bank.products.pay.service_time.mu",
        ("mean", "100y"),
        edits=(
            (
                '{ dist = "exponential", mean = "100ms" }',
                '{ dist = "lognormal", mu = 800, sigma = 1 }',
            ),
        ),
    ),
    Bad(
        "lognormal-sigma-huge",
        "bank.products.pay.service_time.sigma",
        ("at most 3.035",),
        edits=(
            (
                '{ dist = "exponential", mean = "100ms" }',
                '{ dist = "lognormal", mu = 0, sigma = 1e300 }',
            ),
        ),
    ),
    Bad(
        "gamma-cv-huge",
        "bank.products.pay.service_time.cv",
        ("at most 100",),
        edits=(
            (
                '{ dist = "exponential", mean = "100ms" }',
                '{ dist = "gamma", mean = "1s", cv = 1e308 }',
            ),
        ),
    ),
    Bad(
        "gamma-cv-tiny",
        "bank.products.pay.service_time.cv",
        ("at least 1e-06",),
        edits=(
            (
                '{ dist = "exponential", mean = "100ms" }',
                '{ dist = "gamma", mean = "1s", cv = 1e-200 }',
            ),
        ),
    ),
    Bad(
        "journey-value-1e308",
        "journeys.buy.value.value",
        ("at most 10^15",),
        edits=(
            (
                "redirect_dropoff = 0.1",
                'redirect_dropoff = 0.1\nvalue = { dist = "constant", value = 1e308 }',
            ),
        ),
    ),
    Bad(
        "profile-factor-1e308",
        "profiles.spiky.daily.0",
        ("at most 1,000,000",),
        append="\n[profiles.spiky]\ndaily = [1e308" + ", 1" * 23 + "]\n",
    ),
    Bad(
        "event-factor-huge",
        "profiles.spiky.events.0.factor",
        ("at most 1,000",),
        append='\n[profiles.spiky]\nevents = [{ date = "11-11", factor = 1e300 }]\n',
    ),
    Bad(
        "arrivals-per-month-huge",
        "onboarding.arrivals_per_month",
        ("at most 1,000",),
        append=onboarding().replace("arrivals_per_month = 2.0", "arrivals_per_month = 1e12"),
    ),
    Bad(
        "team-huge",
        "onboarding.team.engineers",
        ("at most 100,000",),
        append=onboarding(team=10**12),
    ),
    Bad(
        "discount-rate-1e308",
        "economics.discount_rate",
        ("at most 10",),
        append="\n[economics]\ndiscount_rate = 1e308\n",
    ),
    Bad(
        "format-version-huge",
        "format_version",
        ("at most",),
        prepend="format_version = " + "9" * 30 + "\n",
    ),
    Bad(
        "file-too-large",
        "",
        ("1,000,000 bytes",),
        content=BASE + ("# " + "x" * 98 + "\n") * 10_001,
    ),
    # [sweep] paths that this scenario does not have, or values it refuses
    Bad(
        "sweep-path-missing-pool",
        "sweep.vary.bank.pools.vault.servers",
        ("cannot be set", "no pool named 'vault'"),
        append='\n[sweep]\nvary = { "bank.pools.vault.servers" = [1, 2] }\n',
    ),
    Bad(
        "sweep-path-unknown-key",
        "sweep.vary.bank.pools.core.sever",
        ("cannot be set", "unknown key"),
        append='\n[sweep]\nvary = { "bank.pools.core.sever" = [1, 2] }\n',
    ),
    Bad(
        "sweep-path-missing-partner",
        "sweep.vary.partners.3.users",
        ("cannot be set", "no element 3"),
        append='\n[sweep]\ndesign = "lhs"\nvary = { "partners.3.users" = { low = 1, high = 9 } }\n',
    ),
    Bad(
        "sweep-value-refused",
        "sweep.vary.bank.pools.core.servers",
        ("cannot be set to 0", "positive integer"),
        append='\n[sweep]\nvary = { "bank.pools.core.servers" = [2, 0] }\n',
    ),
    Bad(
        "sweep-grid-too-large",
        "sweep.vary",
        ("1,000,000 points", "at most 100,000"),
        append="\n[sweep]\nvary = { "
        + ", ".join(f'"{k}" = {list(range(1, 11))}' for k in GRID_KEYS)
        + " }\n",
    ),
    Bad(
        "sweep-saltelli-too-large",
        "sweep.n",
        ("saltelli", "at most 100,000"),
        append='\n[sweep]\ndesign = "saltelli"\nn = 50000\nvary = { "bank.pools.core.servers" = { low = 1, high = 9 } }\n',
    ),
]


def make_file(directory: Path, case: Bad) -> Path:
    """Write the case's scenario file (unless it is the missing-file case) and return its path."""
    path = directory / FILE_NAME
    if case.missing:
        return path
    if isinstance(case.content, bytes):
        path.write_bytes(case.content)
        return path
    if case.content is not None:
        path.write_text(case.content, encoding="utf-8")
        return path
    text = BASE
    for old, new in case.edits:
        assert text.count(old) == 1, f"edit {old!r} must match BASE exactly once"
        text = text.replace(old, new)
    path.write_text(case.prepend + text + case.append, encoding="utf-8")
    return path


def test_base_is_valid(tmp_path: Path) -> None:
    scenario = load_scenario(make_file(tmp_path, Bad("base", "", ())))
    assert [p.name for p in scenario.spec.partners] == ["shop"]


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(tmp_path: Path, case: Bad) -> None:
    path = make_file(tmp_path, case)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides=case.overrides or None)
    err = info.value
    assert type(err) is ScenarioError
    assert err.__cause__ is None  # one error, not a chain to read through
    assert err.path == case.path
    message = str(err)
    assert FILE_NAME in message
    assert err.file is not None and err.file.endswith(FILE_NAME)
    assert "\n" not in message
    if case.path:
        assert f": {case.path}: " in message
    for word in case.words:
        assert word in err.reason.lower(), f"{word!r} not in {err.reason!r}"


def test_a_key_with_a_line_break_stays_one_line(tmp_path: Path) -> None:
    """A quoted key may hold any character; the error escapes control characters so that it
    stays one line."""
    path = make_file(
        tmp_path, Bad("x", "", (), edits=(("servers = 4", 'servers = 4\n"a\\nb" = 1'),))
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.path == "bank.pools.core.a\nb"
    assert "\n" not in str(info.value)
    assert ": bank.pools.core.a\\nb: unknown key" in str(info.value)
