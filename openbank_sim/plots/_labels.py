"""Words for the figures: parameter paths and KPI keys as labels with units, numbers without
scientific notation, and targets (``KPI>=VALUE``) read from text.

One place turns ``gateway.limits.0.rate`` into "rate limit (calls/s)" and ``latency_p95_s``
into "p95 latency of ok calls (ms)"; every figure that shows a parameter or a KPI asks here.
A path or key this module does not know is still written in words (its last parts, underscores
as spaces): a label never raises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analysis.kpis import KPI_NAMES, kpi_unit

__all__ = [
    "KpiTarget",
    "kpi_label",
    "kpi_scale",
    "number_text",
    "param_label",
    "param_name",
    "parse_target",
]


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def number_text(value: Any, digits: int = 3) -> str:
    """A number for a label, never in scientific notation: integers with thousands separators
    (``1000000`` -> ``"1,000,000"``), others to about ``digits`` significant figures
    (``0.000123`` -> ``"0.000123"``, ``12.5`` -> ``"12.5"``, ``4321.7`` -> ``"4,322"``).
    Anything that is not a number is written as it is (``"api"`` -> ``"api"``)."""
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        return str(value)
    v = float(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0.0:
        return "0"
    magnitude = math.floor(math.log10(abs(v)))
    decimals = min(max(digits - 1 - magnitude, 0), 12)
    text = f"{v:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --------------------------------------------------------------------------------------------
# Parameters (dotted paths into a scenario)
# --------------------------------------------------------------------------------------------


def _words(part: str) -> str:
    return part.replace("_", " ").strip()


def _money(currency: str, per: str = "") -> str:
    unit = currency or "money"
    return f"{unit} {per}".strip()


def _entry_name(scenario: Mapping[str, Any] | None, *path: str) -> str | None:
    """The ``name`` of the list entry at ``path`` (e.g. gateway, limits, 0) in a scenario
    dict, or None where it is not there."""
    node: Any = scenario
    for part in path:
        if isinstance(node, list | tuple) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    name = node.get("name") if isinstance(node, Mapping) else None
    return str(name) if name else None


_LIMIT_KEYS = {  # key of a gateway limit -> (words, unit); {name}: " NAME" or ""
    "rate": ("rate limit{name}", "calls/s"),
    "burst": ("burst of rate limit{name}", "calls"),
    "limit": ("calls per window of limit{name}", "calls"),
    "window": ("window of limit{name}", "s"),
}
_POOL_KEYS = {
    "servers": ("servers in pool {name}", ""),
    "queue_limit": ("queue limit of pool {name}", "calls"),
    "cost_per_server_hour": ("cost per server-hour of pool {name}", "money/h"),
}
_PRODUCT_KEYS = {
    "error_rate": ("error rate of {name}", "share of attempts"),
    "fee": ("fee per ok call of {name}", "money"),
    "take_rate": ("take rate of {name}", "share of the journey value"),
    "cost": ("cost per attempt of {name}", "money"),
}
_CLIENT_KEYS = {
    "max_attempts": ("max attempts per call", ""),
    "timeout": ("client timeout", "s"),
    "respect_retry_after": ("client respects Retry-After", ""),
}
_PARTNER_KEYS = {
    "users": ("users of {name}", ""),
    "sessions_per_user_day": ("sessions per user and day of {name}", "sessions"),
    "growth_per_year": ("user growth of {name}", "share per year"),
    "integration": ("integration of {name}", ""),
}
_AUTH_KEYS = {
    "servers": ("token servers", ""),
    "token_ttl": ("token lifetime", "s"),
    "failure_rate": ("auth failure rate", "share of token requests"),
}
_ONBOARDING_KEYS = {
    "arrivals_per_month": ("partner arrivals per month", "partners"),
    "integration": ("integration mode", ""),
}
_TEAM_KEYS = {
    "engineers": ("engineers in the onboarding team", ""),
    "day_rate": ("engineer day rate", "money/day"),
}
_MODE_KEYS = {
    "engineers": ("engineers per {name} project", ""),
    "review_capacity": ("{name} certifications at once", ""),
    "bank_effort_days": ("bank effort per {name} partner", "engineer-days"),
    "rework_probability": ("{name} rework probability", "share of projects"),
    "partner_cost": ("partner cost of {name} onboarding", "money"),
    "platform_cost": ("{name} platform cost", "money"),
    "platform_cost_per_month": ("{name} platform running cost", "money/month"),
    "maintenance_per_month": ("{name} maintenance per live partner", "money/month"),
}
_ECONOMICS_KEYS = {
    "discount_rate": ("discount rate", "share per year"),
    "installment_margin": ("instalment margin", "share"),
    "credit_loss_rate": ("credit loss rate", "share"),
}
_PHASES = ("docking", "development", "testing")


def _with_unit(words: str, unit: str, currency: str) -> str:
    if unit.startswith("money"):
        per = unit.partition("/")[2]
        unit = _money(currency, f"per {per}" if per else "")
    return f"{words} ({unit})" if unit else words


def _lookup(table: Mapping[str, tuple[str, str]], key: str, name: str, currency: str) -> str:
    words, unit = table[key]
    return _with_unit(words.format(name=name), unit, currency)


def param_label(
    path: Any, scenario: Mapping[str, Any] | None = None, currency: str | None = None
) -> str:
    """A varied parameter in words with its unit, for an axis or a legend title.

    ``gateway.limits.0.rate`` -> "rate limit (calls/s)" (with the limit's name when
    ``scenario`` has it: "rate limit per-partner (calls/s)"), ``bank.pools.core.servers`` ->
    "servers in pool core", ``client.max_attempts`` -> "max attempts per call",
    ``onboarding.modes.api.platform_cost`` -> "api platform cost (CNY)". Unknown paths give
    their last parts in words.

    Args:
        path: the dotted path (anything else is written as text).
        scenario: the scenario as a dict (:meth:`Scenario.as_dict`), for the names of list
            entries (limits, partners) and the currency; optional.
        currency: the currency of money amounts (default the scenario's, else "money").
    """
    text = str(path)
    if currency is None:
        currency = str(scenario.get("currency", "") or "") if isinstance(scenario, Mapping) else ""
    parts = [p for p in text.split(".") if p]
    if not parts:
        return text or "parameter"
    key = parts[-1]
    try:
        return _known(parts, key, scenario, currency) or _fallback(parts)
    except (KeyError, IndexError):
        return _fallback(parts)


def _known(
    parts: list[str], key: str, scenario: Mapping[str, Any] | None, currency: str
) -> str | None:
    head = parts[:-1]
    if head[:2] == ["gateway", "limits"] and len(parts) == 4 and key in _LIMIT_KEYS:
        name = _entry_name(scenario, *parts[:3]) or (parts[2] if parts[2] != "0" else "")
        return _lookup(_LIMIT_KEYS, key, f" {name}" if name else "", currency)
    if head == ["gateway", "auth"] and key in _AUTH_KEYS:
        return _lookup(_AUTH_KEYS, key, "", currency)
    if head[:2] == ["bank", "pools"] and len(parts) == 4 and key in _POOL_KEYS:
        return _lookup(_POOL_KEYS, key, parts[2], currency)
    if head[:2] == ["bank", "products"] and len(parts) == 4 and key in _PRODUCT_KEYS:
        return _lookup(_PRODUCT_KEYS, key, parts[2], currency)
    if head[:2] == ["bank", "products"] and len(parts) == 5 and parts[3] == "service_time":
        return _with_unit(f"{_words(key)} service time of {parts[2]}", "s", currency)
    if head == ["client"] and key in _CLIENT_KEYS:
        return _lookup(_CLIENT_KEYS, key, "", currency)
    if head[:2] == ["client", "backoff"]:
        return _with_unit(f"retry back-off {_words(key)}", "s" if key != "factor" else "", "")
    if parts == ["load"]:  # the edge's lever: a multiplier of every arrival rate
        return "load (multiple of every partner's arrival rate)"
    if head and head[0] == "partners" and len(parts) == 3 and key == "load":
        name = _entry_name(scenario, *parts[:2]) or (
            f"partner {parts[1]}" if parts[1].isdigit() else parts[1]
        )
        return f"load of {name} (multiple of its arrival rate)"
    if head and head[0] == "partners" and len(parts) == 3 and key in _PARTNER_KEYS:
        name = _entry_name(scenario, *parts[:2]) or f"partner {parts[1]}"
        return _lookup(_PARTNER_KEYS, key, name, currency)
    if head == ["onboarding"] and key in _ONBOARDING_KEYS:
        return _lookup(_ONBOARDING_KEYS, key, "", currency)
    if head == ["onboarding", "team"] and key in _TEAM_KEYS:
        return _lookup(_TEAM_KEYS, key, "", currency)
    if head[:2] == ["onboarding", "modes"] and len(parts) == 4 and key in _MODE_KEYS:
        return _lookup(_MODE_KEYS, key, parts[2], currency)
    if head[:2] == ["onboarding", "modes"] and len(parts) == 5 and parts[3] in _PHASES:
        return f"{_words(key)} {parts[2]} {parts[3]} time"
    if head == ["economics"] and key in _ECONOMICS_KEYS:
        return _lookup(_ECONOMICS_KEYS, key, "", currency)
    if head == ["run"]:
        return {"horizon": "horizon", "warmup": "warm-up", "seed": "seed"}.get(key)
    return None


def _fallback(parts: list[str]) -> str:
    """The last parts of an unknown path in words: ``a.b_c.0.d_e`` -> "d e of b c 0"."""
    last = _words(parts[-1])
    if len(parts) == 1:
        return last
    owner = [p for p in parts[-3:-1] if p]
    return f"{last} of {' '.join(_words(p) for p in owner)}"


def param_name(path: Any, scenario: Mapping[str, Any] | None = None) -> str:
    """The parameter in words without its unit (for titles): "servers in pool core"."""
    return re.sub(r"\s*\([^()]*\)$", "", param_label(path, scenario, currency=""))


# --------------------------------------------------------------------------------------------
# KPIs
# --------------------------------------------------------------------------------------------


_KPI_WORDS = {
    "calls_total": "attempts",
    "calls_ok": "ok calls",
    "calls_rate_limited": "429 rate-limited calls",
    "calls_overloaded": "503 overloaded calls",
    "calls_timeout": "calls timed out",
    "calls_error": "5xx failed calls",
    "calls_auth_failed": "401 calls refused at auth",
    "calls_dropped_expired": "calls dropped past their deadline",
    "calls_shed_background": "503 unattended calls shed",
    "token_requests": "token requests",
    "success_rate": "success rate",
    "throughput_ok_per_s": "throughput of ok calls",
    "latency_mean_s": "mean latency of ok calls",
    "client_latency_p95_s": "p95 latency seen by the client",
    "backend_wait_mean_s": "mean wait for a backend server",
    "backend_wait_max_s": "longest wait for a backend server",
    "retry_amplification_peak": "peak retry amplification",
    "retries_suppressed": "retries suppressed by the budget",
    "calls_short_circuited": "calls failed fast by the breaker",
    "retry_amplification": "retry amplification",
    "windows_unsettled": "windows not settled",
    "availability": "availability",
    "availability_published": "published availability",
    "consents_lapsed": "consents lapsed",
    "slo_breach_hours": "SLO breaches",
    "warmup_used_s": "warm-up used",
    "journeys_started": "journeys started",
    "journeys_completed": "journeys completed",
    "journeys_abandoned": "journeys abandoned",
    "conversion_rate": "conversion rate",
    "revenue_total": "revenue",
    "cost_total": "bank cost",
    "profit_total": "profit",
    "npv": "NPV",
    "payback_month": "payback",
    "partner_cost_total": "partner-side cost",
    "partners_live_end": "partners live at the horizon",
    "partners_in_pipeline_end": "partners in the pipeline at the horizon",
    "time_to_market_mean_days": "mean time to market",
    "time_to_market_p90_days": "p90 time to market",
    "onboarding_cost_total": "onboarding cost",
    "cost_per_partner": "cost per partner live",
    "rate_limited_share": "429 rate-limited calls",
}
_SHARE_OF = {
    "success_rate": "share of calls",
    "conversion_rate": "share of journeys",
    "availability": "share of time",
    "availability_published": "share of time",
    "rate_limited_share": "share of attempts",
}
_RATIO_OF = {
    "retry_amplification": "attempts per logical call",
}
_MILLISECONDS = re.compile(r"^(client_)?(latency|backend_wait)_[a-z0-9]+_s$")


def kpi_scale(kpi: str) -> float:
    """What a figure multiplies a KPI by to show it in its label's unit: 1000 for latencies
    and waits (seconds shown in ms), 1 otherwise."""
    return 1000.0 if _MILLISECONDS.match(str(kpi)) else 1.0


def _kpi_words(kpi: str) -> str:
    if kpi in _KPI_WORDS:
        return _KPI_WORDS[kpi]
    m = re.match(r"^latency_(p\d+)_s$", kpi)
    if m:
        return f"{m[1]} latency of ok calls"
    return _words(kpi.removesuffix("_s").removesuffix("_days").removesuffix("_per_s"))


def kpi_label(kpi: Any, currency: str = "") -> str:
    """A KPI key in words with the unit a figure shows it in.

    ``success_rate`` -> "success rate (share of calls)", ``latency_p95_s`` -> "p95 latency of
    ok calls (ms)" (values times :func:`kpi_scale`), ``npv`` -> "NPV (CNY)" with
    ``currency="CNY"``, ``calls_rate_limited/calls_total`` -> "429 rate-limited calls (share
    of attempts)". Units come from :func:`openbank_sim.analysis.kpis.kpi_unit`.
    """
    text = str(kpi)
    num, sep, den = text.partition("/")
    if sep:
        a, b = num.strip(), den.strip()
        if b == "calls_total":
            return f"{_kpi_words(a)} (share of attempts)"
        return f"{_kpi_words(a)} per {_kpi_words(b)} (ratio)"
    words = _kpi_words(text)
    if text in _SHARE_OF:
        return f"{words} ({_SHARE_OF[text]})"
    if text in _RATIO_OF:
        return f"{words} ({_RATIO_OF[text]})"
    if kpi_scale(text) != 1.0:
        return f"{words} (ms)"
    unit = kpi_unit(text, currency) if text in KPI_NAMES else ""
    if text in KPI_NAMES and kpi_unit(text, "\0") == "\0":  # money
        unit = currency or "money"
    if unit == "1/s":
        unit = "calls/s" if "calls" in words else "per s"
    if len(unit) > 1 and unit.rstrip("s") in words:  # "ok calls (calls)": a count
        unit = "count"
    return f"{words} ({unit})" if unit else words


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiTarget:
    """A threshold a KPI should meet: ``KPI>=bound`` or ``KPI<=bound`` (bound in the KPI's
    own unit, e.g. seconds for ``latency_p95_s``)."""

    kpi: str
    op: str
    bound: float

    def met(self, value: Any) -> np.ndarray:
        """Whether each value meets the target (NaN never does)."""
        v = np.asarray(value, dtype=float)
        with np.errstate(invalid="ignore"):
            ok = v >= self.bound if self.op == ">=" else v <= self.bound
        return np.asarray(ok & np.isfinite(v), dtype=bool)

    def text(self, currency: str = "") -> str:
        """The target in words, in the unit the figures show: "target: p95 latency of ok
        calls <= 1,000 ms"."""
        words = re.sub(r"\s*\(([^()]*)\)$", "", kpi_label(self.kpi, currency))
        unit = re.search(r"\(([^()]*)\)$", kpi_label(self.kpi, currency))
        bound = number_text(self.bound * kpi_scale(self.kpi))
        suffix = f" {unit[1]}" if unit and unit[1] in ("ms", "s", "days", currency) else ""
        sign = "≥" if self.op == ">=" else "≤"
        return f"target: {words} {sign} {bound}{suffix}"


_TARGET = re.compile(r"^\s*(?P<kpi>[^<>=]+?)\s*(?P<op><=|>=)\s*(?P<bound>[^<>=]+?)\s*$")


def parse_target(target: str | KpiTarget | Any, kpi: str | None = None) -> KpiTarget:
    """A target from ``"KPI>=VALUE"`` / ``"KPI<=VALUE"`` (as ``--subject-to`` writes them), a
    :class:`KpiTarget`, or an optimization constraint (anything with ``metric.text``, ``op``
    and ``bound``). ``kpi`` checks the target is on the KPI the figure shows.

    Raises:
        ValueError: text that is not a target, a bound that is not a finite number, or a
            target on another KPI than ``kpi``.
    """
    if isinstance(target, KpiTarget):
        out = target
    elif isinstance(target, str):
        m = _TARGET.match(target)
        if m is None:
            raise ValueError(
                f"expected KPI>=VALUE or KPI<=VALUE, e.g. success_rate>=0.99: {target!r}"
            )
        try:
            bound = float(m["bound"])
        except ValueError:
            bound = math.nan
        if not math.isfinite(bound):
            raise ValueError(f"the bound of {target!r} is not a finite number")
        out = KpiTarget(m["kpi"], m["op"], bound)
    elif hasattr(target, "op") and hasattr(target, "bound") and hasattr(target, "metric"):
        out = KpiTarget(str(target.metric.text), str(target.op), float(target.bound))
    else:
        raise ValueError(f"not a target: {target!r}")
    if kpi is not None and out.kpi != kpi:
        raise ValueError(f"the target is on {out.kpi!r}, the figure shows {kpi!r}")
    return out
