"""Schema of the slow half of the model: ``[onboarding]``, ``[economics]`` (validated, frozen).

Kept apart from :mod:`openbank_sim.spec.schema` so each module stays one job; it reuses the typed
readers of :mod:`openbank_sim.spec.readers` and is called from :func:`openbank_sim.spec.schema.build`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..errors import ScenarioError, did_you_mean
from .bounds import (
    ARRIVALS_PER_MONTH,
    BANK_EFFORT_DAYS,
    DISCOUNT_RATE,
    MONEY,
    PEOPLE,
    SIZE_MULTIPLIER,
)
from .distributions import Distribution
from .readers import (
    check_keys,
    count,
    distribution,
    number,
    share,
    table_at,
)
from .types import (
    SECTORS,
)

__all__ = [
    "EconomicsSpec",
    "ModeSpec",
    "OnboardingSpec",
    "TeamSpec",
    "parse_economics",
    "parse_onboarding",
]

MODES = ("traditional", "api")


@dataclass(frozen=True, slots=True)
class TeamSpec:
    """The bank's integration engineers (traditional projects hold them)."""

    engineers: int
    day_rate: float  # currency per engineer-day


@dataclass(frozen=True, slots=True)
class ModeSpec:
    """How partners of one integration mode are onboarded (durations in seconds)."""

    name: str
    docking: Distribution
    development: Distribution
    testing: Distribution
    engineers: int  # traditional: held from the start of development to go-live
    review_capacity: int  # api: certifications at once
    bank_effort_days: float  # api: engineer-days charged per partner
    rework_probability: float
    partner_cost: float
    platform_cost: float  # api: one-off at t = 0
    platform_cost_per_month: float  # api
    maintenance_per_month: float  # per live partner


@dataclass(frozen=True, slots=True)
class OnboardingSpec:
    """Candidate partners arriving in the bank's pipeline and how they are onboarded."""

    arrivals_per_month: float
    mix: tuple[tuple[str, float], ...]  # (sector, share)
    integration: tuple[tuple[str, float], ...]  # (mode, share)
    templates: Mapping[str, str]  # sector -> template partner name
    size: Distribution | None  # multiplier on the template's users
    team: TeamSpec
    modes: Mapping[str, ModeSpec]


@dataclass(frozen=True, slots=True)
class EconomicsSpec:
    """Money rules: NPV discount rate and installment economics (shares)."""

    discount_rate: float
    installment_margin: float
    credit_loss_rate: float


def _shares(value: object, path: str, names: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, dict) or not value:
        raise ScenarioError(
            f"must be a table of shares like {{ {names[0]} = 1.0 }}", path=path, value=value
        )
    out = []
    for key in value:
        if key not in names:
            raise ScenarioError(
                f"must be one of {', '.join(names)}" + did_you_mean(key, names),
                path=f"{path}.{key}",
                value=key,
            )
        out.append((key, share(value, key, path)))
    total = sum(s for _, s in out)
    if not math.isclose(total, 1.0, abs_tol=1e-9):
        raise ScenarioError(f"shares must sum to 1 (they sum to {total:g})", path=path, value=value)
    return tuple(out)


def _money(t: Mapping[str, Any], key: str, path: str) -> float:
    return number(t, key, path, 0.0, minimum=0.0, maximum=MONEY)


def _mode(t: Mapping[str, Any], name: str, team: TeamSpec) -> ModeSpec:
    p = f"onboarding.modes.{name}"
    common = (
        "docking",
        "development",
        "testing",
        "rework_probability",
        "partner_cost",
        "maintenance_per_month",
    )
    own = (
        ("engineers",)
        if name == "traditional"
        else ("review_capacity", "bank_effort_days", "platform_cost", "platform_cost_per_month")
    )
    check_keys(t, common + own, p)
    engineers = count(t, "engineers", p, 1, maximum=PEOPLE) if name == "traditional" else 0
    if name == "traditional":
        if team.engineers < 1:
            raise ScenarioError(
                "traditional onboarding needs at least one engineer in the team",
                path="onboarding.team.engineers",
                value=team.engineers,
            )
        if engineers > team.engineers:
            raise ScenarioError(
                f"a project cannot hold more engineers than the team has ({team.engineers})",
                path=f"{p}.engineers",
                value=engineers,
            )
    return ModeSpec(
        name=name,
        docking=distribution(t, "docking", p, time_valued=True, required=True),
        development=distribution(t, "development", p, time_valued=True, required=True),
        testing=distribution(t, "testing", p, time_valued=True, required=True),
        engineers=engineers,
        review_capacity=count(t, "review_capacity", p, 1, maximum=PEOPLE) if name == "api" else 0,
        bank_effort_days=number(
            t, "bank_effort_days", p, 0.0, minimum=0.0, maximum=BANK_EFFORT_DAYS
        ),
        rework_probability=share(t, "rework_probability", p, 0.0),
        partner_cost=_money(t, "partner_cost", p),
        platform_cost=_money(t, "platform_cost", p),
        platform_cost_per_month=_money(t, "platform_cost_per_month", p),
        maintenance_per_month=_money(t, "maintenance_per_month", p),
    )


def parse_onboarding(raw: Mapping[str, Any], partner_names: set[str]) -> OnboardingSpec | None:
    """The ``[onboarding]`` table (None when absent)."""
    if "onboarding" not in raw:
        return None
    t = table_at(raw, "onboarding", "")
    p = "onboarding"
    check_keys(
        t, ("arrivals_per_month", "mix", "integration", "templates", "size", "team", "modes"), p
    )
    arrivals = number(t, "arrivals_per_month", p, positive=True, maximum=ARRIVALS_PER_MONTH)
    mix = _shares(t.get("mix", {"other": 1.0}), f"{p}.mix", SECTORS)
    integ = t.get("integration", "api")
    if isinstance(integ, str):
        if integ not in MODES:
            raise ScenarioError(
                f"must be one of {', '.join(MODES)} or a table of shares"
                + did_you_mean(integ, MODES),
                path=f"{p}.integration",
                value=integ,
            )
        integration: tuple[tuple[str, float], ...] = ((integ, 1.0),)
    else:
        integration = _shares(integ, f"{p}.integration", MODES)
    templates = table_at(t, "templates", p, required=True)
    for sector, name in templates.items():
        if sector not in SECTORS:
            raise ScenarioError(
                f"must be a sector ({', '.join(SECTORS)})" + did_you_mean(sector, SECTORS),
                path=f"{p}.templates.{sector}",
                value=sector,
            )
        if not isinstance(name, str) or name not in partner_names:
            raise ScenarioError(
                "names no partner in [[partners]]" + did_you_mean(str(name), partner_names),
                path=f"{p}.templates.{sector}",
                value=name,
            )
    for sector, s in mix:
        if s > 0 and sector not in templates:
            raise ScenarioError(
                f"sector {sector!r} has a share in onboarding.mix but no template",
                path=f"{p}.templates",
                value=dict(templates),
            )
    team_t = table_at(t, "team", p)
    check_keys(team_t, ("engineers", "day_rate"), f"{p}.team")
    team = TeamSpec(
        count(team_t, "engineers", f"{p}.team", 0, minimum=0, maximum=PEOPLE),
        _money(team_t, "day_rate", f"{p}.team"),
    )
    modes_t = table_at(t, "modes", p)
    check_keys(modes_t, MODES, f"{p}.modes")
    modes = {}
    for mode, s in integration:
        if s > 0 and mode not in modes_t:
            raise ScenarioError(
                f"is required: onboarding.integration uses {mode!r}", path=f"{p}.modes.{mode}"
            )
    for mode in MODES:
        if mode in modes_t:
            modes[mode] = _mode(table_at(modes_t, mode, f"{p}.modes"), mode, team)
    size = distribution(t, "size", p, time_valued=False)
    if size is not None and size.mean > SIZE_MULTIPLIER.maximum:
        raise ScenarioError(
            f"needs a mean of at most {SIZE_MULTIPLIER.text()} ({SIZE_MULTIPLIER.reason})",
            path=f"{p}.size",
            value=t["size"],
        )
    return OnboardingSpec(
        arrivals_per_month=arrivals,
        mix=mix,
        integration=integration,
        templates=MappingProxyType(dict(templates)),
        size=size,
        team=team,
        modes=MappingProxyType(modes),
    )


def parse_economics(raw: Mapping[str, Any]) -> EconomicsSpec:
    """The ``[economics]`` table (all zero when absent)."""
    t = table_at(raw, "economics", "")
    p = "economics"
    check_keys(t, ("discount_rate", "installment_margin", "credit_loss_rate"), p)
    rate = number(t, "discount_rate", p, 0.0, maximum=DISCOUNT_RATE)
    if rate <= -1:
        raise ScenarioError("must be > -1", path=f"{p}.discount_rate", value=t["discount_rate"])
    return EconomicsSpec(
        rate, share(t, "installment_margin", p, 0.0), share(t, "credit_loss_rate", p, 0.0)
    )
