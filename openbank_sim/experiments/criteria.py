"""What ``optimize`` minimizes and what it must respect: metrics and constraints, parsed and
checked once (no pandas).

A **metric** is read from each run: a KPI (``latency_p95_s``), a ratio of two KPIs per run
(``calls_rate_limited/calls_total``: the share of attempts refused with 429), or a varied
parameter (``bank.pools.core.servers``: known exactly, no run needed). A **constraint** is
``METRIC<=VALUE`` or ``METRIC>=VALUE`` on the metric's mean, ``VALUE`` a number in the
metric's unit (seconds for ``*_s``, a share as a fraction, money in the scenario's currency).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..analysis.kpis import KPI_NAMES
from ..errors import ScenarioError, did_you_mean

__all__ = ["Constraint", "Metric", "parse_constraint", "parse_metric"]


@dataclass(frozen=True)
class Metric:
    """A number per run: a KPI, a ratio of two KPIs, or a varied parameter.

    Attributes:
        text: as written.
        kind: ``"kpi"``, ``"ratio"`` or ``"parameter"``.
        names: the KPI (one), the numerator and denominator (two), or the parameter's path.
    """

    text: str
    kind: str
    names: tuple[str, ...]

    @property
    def exact(self) -> bool:
        """Known without running (a varied parameter)."""
        return self.kind == "parameter"

    def value(self, kpis: Mapping[str, float], params: Mapping[str, Any]) -> float:
        """This metric in one run with ``kpis`` at the configuration ``params`` (NaN when
        undefined: no ok call for a latency, a ratio over 0)."""
        if self.kind == "parameter":
            return float(params[self.names[0]])
        if self.kind == "kpi":
            return float(kpis.get(self.names[0], math.nan))
        num, den = (float(kpis.get(n, math.nan)) for n in self.names)
        return num / den if den != 0 and not math.isnan(den) else math.nan


def _kpi(name: str, where: str, text: str) -> str:
    if name not in KPI_NAMES:
        raise ScenarioError("names no KPI" + did_you_mean(name, KPI_NAMES), path=where, value=text)
    return name


def parse_metric(text: str, params: Sequence[str] = (), where: str = "minimize") -> Metric:
    """A metric from its text: ``KPI``, ``KPI/KPI`` or one of the varied ``params``."""
    if not isinstance(text, str) or not text.strip():
        raise ScenarioError("needs a KPI name", path=where, value=text)
    text = text.strip()
    if text in params:
        return Metric(text, "parameter", (text,))
    num, sep, den = text.partition("/")
    if sep:
        names = (_kpi(num.strip(), where, text), _kpi(den.strip(), where, text))
        return Metric(text, "ratio", names)
    if "." in text:
        raise ScenarioError(
            "is not a varied parameter" + did_you_mean(text, params), path=where, value=text
        )
    return Metric(text, "kpi", (_kpi(text, where, text),))


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` or ``metric >= bound`` on the metric's mean.

    Attributes:
        metric: what is constrained.
        op: ``"<="`` or ``">="``.
        bound: the threshold, in the metric's unit.
    """

    metric: Metric
    op: str
    bound: float

    @property
    def text(self) -> str:
        """``METRIC<=VALUE`` as written back."""
        return f"{self.metric.text}{self.op}{self.bound:g}"

    def excess(self, value: float) -> float:
        """How far ``value`` is past the bound (<= 0 when it meets it), in the metric's
        unit: ``value - bound`` for ``<=``, ``bound - value`` for ``>=``."""
        return value - self.bound if self.op == "<=" else self.bound - value


_CONSTRAINT = re.compile(r"^\s*(?P<metric>[^<>=]+?)\s*(?P<op><=|>=)\s*(?P<value>[^<>=]+?)\s*$")


def parse_constraint(
    text: str, params: Sequence[str] = (), where: str = "subject_to"
) -> Constraint:
    """A constraint from ``METRIC<=VALUE`` or ``METRIC>=VALUE``."""
    m = _CONSTRAINT.match(text) if isinstance(text, str) else None
    if m is None:
        raise ScenarioError(
            "expected METRIC<=VALUE or METRIC>=VALUE, e.g. latency_p95_s<=1.0",
            path=where,
            value=text,
        )
    metric = parse_metric(m["metric"], params, where)
    raw = m["value"]
    try:
        bound = float(raw)
    except ValueError:
        bound = math.nan
    if not math.isfinite(bound):
        raise ScenarioError(
            f"the bound {raw!r} is not a finite number (in the metric's unit)",
            path=where,
            value=text,
        )
    return Constraint(metric, m["op"], bound)
