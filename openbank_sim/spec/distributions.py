"""Random variates: service times, think times, sizes and other non-negative quantities.

Each distribution is a small frozen value object with its exact ``mean``, a vectorised
``sample(rng, size)`` (one call draws one block of ``float64`` values), an exact
``quantile(q)`` and a ``describe()`` that gives the resolved parameters as plain JSON-able values.
All distributions here are **non-negative**.

Units: a distribution carries no unit of its own. When it describes a time (``time_valued=True``
in :func:`parse_distribution`) its values, means and quantiles are in **seconds**, and the
scenario writes its time parameters as duration strings (``"120ms"``); otherwise they are plain
numbers in whatever unit the caller documents (requests, bytes, euros...).

Scenario syntax (TOML inline tables)::

    {dist = "constant",    value = "5ms"}
    {dist = "exponential", mean = "2s"}
    {dist = "lognormal",   mean = "120ms", p95 = "300ms"}
    {dist = "lognormal",   mean = "120ms", cv = 1.5}
    {dist = "lognormal",   mu = -2.3, sigma = 0.6}   # mu in ln(seconds) when time-valued
    {dist = "gamma",       mean = "1s", cv = 0.5}
    {dist = "uniform",     low = "1s", high = "3s"}
    {dist = "empirical",   values = ["10ms", "20ms", "80ms"]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import ScenarioError, did_you_mean
from .bounds import DISTRIBUTION_CV, DURATION, VALUE
from .units import parse_duration

__all__ = [
    "DIST_NAMES",
    "Z95",
    "Constant",
    "Distribution",
    "Empirical",
    "Exponential",
    "Gamma",
    "Lognormal",
    "Uniform",
    "parse_distribution",
]

Z95: float = 1.6448536269514722
"""The 95th percentile of the standard normal distribution."""

_MAX_P95_RATIO: float = math.exp(Z95 * Z95 / 2)
"""Largest p95/mean ratio a lognormal can have (≈ 3.868, reached at sigma = Z95)."""

_MAX_SIGMA: float = math.sqrt(math.log1p(DISTRIBUTION_CV.maximum**2))
"""Largest lognormal sigma: the one of the largest cv (≈ 3.035 for cv = 100)."""


@runtime_checkable
class Distribution(Protocol):
    """What every distribution offers (values in seconds when it describes a time)."""

    @property
    def mean(self) -> float:
        """The exact mean."""
        ...

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` independent values as a ``float64`` array."""
        ...

    def quantile(self, q: float) -> float:
        """The exact ``q``-quantile (inverse CDF), ``0 <= q <= 1``."""
        ...

    def describe(self) -> dict[str, Any]:
        """The resolved parameters as plain JSON-able values, ``dist`` first."""
        ...


@dataclass(frozen=True, slots=True)
class Constant:
    """Always ``value`` (``>= 0``)."""

    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _check_number(self.value, "value", minimum=0.0))

    @property
    def mean(self) -> float:
        """The exact mean: ``value``."""
        return self.value

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` copies of ``value`` (``rng`` is not advanced)."""
        return np.full(size, self.value, dtype=np.float64)

    def quantile(self, q: float) -> float:
        """``value`` for every ``q``."""
        _check_q(q)
        return self.value

    def describe(self) -> dict[str, Any]:
        """``{"dist": "constant", "value": ...}``."""
        return {"dist": "constant", "value": self.value}


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponential with the given ``mean`` (``> 0``); rate ``1 / mean``."""

    mean: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _check_number(self.mean, "mean", positive=True))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws."""
        return rng.exponential(self.mean, size)

    def quantile(self, q: float) -> float:
        """``-mean * ln(1 - q)``."""
        _check_q(q)
        return -self.mean * math.log1p(-q) if q < 1 else math.inf

    def describe(self) -> dict[str, Any]:
        """``{"dist": "exponential", "mean": ...}``."""
        return {"dist": "exponential", "mean": self.mean}


@dataclass(frozen=True, slots=True)
class Lognormal:
    """``exp(N(mu, sigma^2))``: ``mu`` is the mean of the log (ln of the value's unit, i.e.
    ln-seconds for a time), ``sigma > 0`` its standard deviation.

    Build from summary statistics with :meth:`from_mean_p95` or :meth:`from_mean_cv`.
    """

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _check_number(self.mu, "mu"))
        sigma = _check_number(self.sigma, "sigma")
        if sigma <= 0:
            raise ScenarioError(
                'must be > 0 (for no variability use dist = "constant")', path="sigma", value=sigma
            )
        if sigma > _MAX_SIGMA:
            raise ScenarioError(
                f"must be at most {_MAX_SIGMA:.4g}, the sigma of cv = "
                f"{DISTRIBUTION_CV.text()} ({DISTRIBUTION_CV.reason})",
                path="sigma",
                value=sigma,
            )
        object.__setattr__(self, "sigma", sigma)

    @classmethod
    def from_mean_p95(cls, mean: float, p95: float) -> Lognormal:
        """The lognormal with this ``mean`` and 95th percentile ``p95`` (same unit).

        Solves ``ln(p95) = mu + Z95 * sigma`` with ``mu = ln(mean) - sigma^2 / 2``, taking the
        smaller root ``sigma = Z95 - sqrt(Z95^2 - 2 ln(p95 / mean))``. That needs
        ``1 < p95 / mean <= exp(Z95^2 / 2) ≈ 3.868``; heavier tails need :meth:`from_mean_cv`.

        Raises:
            ScenarioError: on path ``"mean"`` for a mean that is not ``> 0``, on path ``"p95"``
                when no lognormal has that ratio.
        """
        mean = _check_number(mean, "mean", positive=True)
        p95 = _check_number(p95, "p95", positive=True)
        ratio = p95 / mean
        if ratio <= 1:
            raise ScenarioError(
                f"p95 must exceed the mean for a lognormal (p95/mean = {ratio:.4g}); "
                'for no variability use dist = "constant"',
                path="p95",
                value=p95,
            )
        if ratio > _MAX_P95_RATIO:
            raise ScenarioError(
                f"no lognormal has p95/mean = {ratio:.4g}: the largest possible ratio is "
                f"exp(1.6449^2/2) ≈ {_MAX_P95_RATIO:.4g} (a heavier tail pulls p95 down, "
                "not up); describe the spread with cv instead of p95, e.g. "
                '{dist = "lognormal", mean = ..., cv = 2}',
                path="p95",
                value=p95,
            )
        log_ratio = math.log(ratio)
        # Smaller root of sigma^2/2 - Z95*sigma + ln(ratio) = 0, in the cancellation-free form.
        sigma = 2 * log_ratio / (Z95 + math.sqrt(max(Z95 * Z95 - 2 * log_ratio, 0.0)))
        return cls(mu=math.log(mean) - sigma * sigma / 2, sigma=sigma)

    @classmethod
    def from_mean_cv(cls, mean: float, cv: float) -> Lognormal:
        """The lognormal with this ``mean`` (``> 0``) and coefficient of variation ``cv > 0``.

        ``sigma^2 = ln(1 + cv^2)``, ``mu = ln(mean) - sigma^2 / 2``.

        Raises:
            ScenarioError: on path ``"mean"`` or ``"cv"`` for a value that is not ``> 0``.
        """
        mean = _check_number(mean, "mean", positive=True)
        cv = _check_cv(cv)
        variance = math.log1p(cv * cv)
        return cls(mu=math.log(mean) - variance / 2, sigma=math.sqrt(variance))

    @property
    def log_mean(self) -> float:
        """``ln`` of the mean, ``mu + sigma^2 / 2`` (finite where the mean would overflow)."""
        return self.mu + self.sigma * self.sigma / 2

    @property
    def mean(self) -> float:
        """The exact mean ``exp(mu + sigma^2 / 2)`` (inf when it overflows a float)."""
        return math.exp(self.log_mean) if self.log_mean < 709.0 else math.inf

    @property
    def cv(self) -> float:
        """The coefficient of variation ``sqrt(exp(sigma^2) - 1)``."""
        return math.sqrt(math.expm1(self.sigma * self.sigma))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws."""
        return rng.lognormal(self.mu, self.sigma, size)

    def quantile(self, q: float) -> float:
        """``exp(mu + sigma * Phi^-1(q))``."""
        from scipy.special import ndtri

        _check_q(q)
        return float(np.exp(self.mu + self.sigma * ndtri(q)))

    def describe(self) -> dict[str, Any]:
        """``{"dist": "lognormal", "mu": ..., "sigma": ...}`` (``mu`` in ln of the unit)."""
        return {"dist": "lognormal", "mu": self.mu, "sigma": self.sigma}


@dataclass(frozen=True, slots=True)
class Gamma:
    """Gamma with the given ``mean`` (``> 0``) and coefficient of variation ``cv`` (``> 0``).

    Shape ``k = 1 / cv^2``, scale ``theta = mean * cv^2``.
    """

    mean: float
    cv: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _check_number(self.mean, "mean", positive=True))
        object.__setattr__(self, "cv", _check_cv(self.cv))

    @property
    def shape(self) -> float:
        """Shape ``k = 1 / cv^2``."""
        return 1.0 / (self.cv * self.cv)

    @property
    def scale(self) -> float:
        """Scale ``theta = mean * cv^2`` (same unit as the mean)."""
        return self.mean * self.cv * self.cv

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws."""
        return rng.gamma(self.shape, self.scale, size)

    def quantile(self, q: float) -> float:
        """``theta * P^-1(k, q)`` (inverse regularised lower incomplete gamma)."""
        from scipy.special import gammaincinv

        _check_q(q)
        return float(gammaincinv(self.shape, q)) * self.scale

    def describe(self) -> dict[str, Any]:
        """``{"dist": "gamma", "mean": ..., "cv": ...}``."""
        return {"dist": "gamma", "mean": self.mean, "cv": self.cv}


@dataclass(frozen=True, slots=True)
class Uniform:
    """Continuous uniform on ``[low, high]`` with ``0 <= low <= high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low = _check_number(self.low, "low", minimum=0.0)
        high = _check_number(self.high, "high", minimum=0.0)
        if high < low:
            raise ScenarioError("must be >= low", path="high", value=high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def mean(self) -> float:
        """The exact mean ``(low + high) / 2``."""
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws."""
        return rng.uniform(self.low, self.high, size)

    def quantile(self, q: float) -> float:
        """``low + q * (high - low)``."""
        _check_q(q)
        return self.low + q * (self.high - self.low)

    def describe(self) -> dict[str, Any]:
        """``{"dist": "uniform", "low": ..., "high": ...}``."""
        return {"dist": "uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class Empirical:
    """Each draw is one of ``values`` (all ``>= 0``), chosen uniformly at random.

    Repeated values weigh more: ``(1, 1, 5)`` gives 1 two times in three.
    """

    values: tuple[float, ...]
    _array: np.ndarray = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        values = self.values
        if isinstance(values, np.ndarray) and values.ndim == 1:
            values = values.tolist()
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
            raise ScenarioError("must be a list of numbers", path="values", value=values)
        if not values:
            raise ScenarioError("must not be empty", path="values", value=values)
        checked = tuple(_check_number(v, ("values", i), minimum=0.0) for i, v in enumerate(values))
        array = np.array(checked, dtype=np.float64)
        array.flags.writeable = False
        object.__setattr__(self, "values", checked)
        object.__setattr__(self, "_array", array)

    @property
    def mean(self) -> float:
        """The exact mean of ``values``."""
        return math.fsum(self.values) / len(self.values)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws (with replacement)."""
        return self._array[rng.integers(0, len(self.values), size)]

    def quantile(self, q: float) -> float:
        """The inverse CDF: the smallest value ``x`` with ``P(X <= x) >= q``."""
        _check_q(q)
        ordered = np.sort(self._array)
        index = max(math.ceil(q * len(ordered)) - 1, 0)
        return float(ordered[index])

    def describe(self) -> dict[str, Any]:
        """``{"dist": "empirical", "values": [...]}``."""
        return {"dist": "empirical", "values": list(self.values)}


# Parameters of each scenario form, in the order they are reported as missing, and which of
# them are times (duration strings when time-valued).
_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "exponential": ("mean",),
    "lognormal": ("mean", "p95", "cv", "mu", "sigma"),
    "gamma": ("mean", "cv"),
    "uniform": ("low", "high"),
    "empirical": ("values",),
}
_TIME_PARAMS = frozenset({"value", "mean", "p95", "low", "high", "values"})
_SHAPE_PARAMS = frozenset({"cv", "mu", "sigma"})  # bounded by their own checks
_LOGNORMAL_FORMS = "{mean, p95}, {mean, cv} or {mu, sigma}"

DIST_NAMES: tuple[str, ...] = tuple(_PARAMS)
"""The ``dist`` names :func:`parse_distribution` knows."""


def parse_distribution(spec: object, *, time_valued: bool) -> Distribution:
    """Build a distribution from its scenario table.

    Args:
        spec: a table (mapping) with key ``dist`` naming one of :data:`DIST_NAMES` and that
            distribution's parameters (see the module docstring).
        time_valued: whether the distribution describes a time. If so, ``value``, ``mean``,
            ``p95``, ``low``, ``high`` and the ``values`` of an empirical distribution are
            duration strings (read by :func:`openbank_sim.spec.units.parse_duration`, in seconds);
            ``cv`` stays a plain ratio and a lognormal's ``mu``/``sigma`` stay plain numbers
            of log-space, ``mu`` being in ln(seconds). If not, every parameter is a plain
            number (``int`` or ``float``, not ``bool`` nor string).

    Returns:
        The distribution.

    Raises:
        ScenarioError: with the path of the offending key relative to the table (``""`` for
            the table itself): not a table, missing or unknown ``dist``, missing or unknown
            parameter, wrong type, out-of-range value, an impossible lognormal ``p95`` or a
            lognormal given in more than one form.
    """
    if not isinstance(spec, Mapping):
        example = '{dist = "exponential", mean = ' + ('"5s"}' if time_valued else "5}")
        raise ScenarioError(f"a distribution must be a table such as {example}", value=spec)
    if "dist" not in spec:
        raise ScenarioError(f"missing; one of {_names()}", path="dist")
    name = spec["dist"]
    if not isinstance(name, str) or name not in _PARAMS:
        hint = did_you_mean(name, _PARAMS) if isinstance(name, str) else ""
        raise ScenarioError(
            f"unknown distribution; one of {_names()}{hint}", path="dist", value=name
        )
    allowed = _PARAMS[name]
    for key in spec:
        if key != "dist" and key not in allowed:
            valid = ("dist", *allowed)
            hint = did_you_mean(str(key), valid)
            raise ScenarioError(
                f"unknown key for the {name} distribution; expected {', '.join(valid)}{hint}",
                path=str(key),
                value=spec[key],
            )
    given = [key for key in allowed if key in spec]
    if name == "lognormal":
        _check_lognormal_form(set(given))
    else:
        for key in allowed:
            if key not in spec:
                raise ScenarioError(
                    f"missing; the {name} distribution needs {', '.join(allowed)}", path=key
                )
    params = {key: _read_param(spec[key], key, time_valued) for key in given}
    try:
        dist = _build(name, params)
        _check_mean(dist, time_valued, "mu" if "mu" in params else "mean")
    except ScenarioError as error:
        raise ScenarioError(
            error.reason, path=error.path, value=_lookup(spec, error.path, error)
        ) from None
    return dist


def _check_mean(dist: Distribution, time_valued: bool, key: str) -> None:
    """A mean of at most 100 years (a time) or 10^15 (a value): a lognormal given by mu and
    sigma can have a mean far beyond each of its parameters."""
    bound = DURATION if time_valued else VALUE
    log_mean = dist.log_mean if isinstance(dist, Lognormal) else None
    if log_mean is not None and log_mean > math.log(bound.maximum):
        raise ScenarioError(
            f"gives a mean exp(mu + sigma^2/2) above {bound.text()} ({bound.reason})", path=key
        )


def _build(name: str, params: dict[str, Any]) -> Distribution:
    if name == "constant":
        return Constant(params["value"])
    if name == "exponential":
        return Exponential(params["mean"])
    if name == "gamma":
        return Gamma(params["mean"], params["cv"])
    if name == "uniform":
        return Uniform(params["low"], params["high"])
    if name == "empirical":
        return Empirical(params["values"])
    if "p95" in params:
        return Lognormal.from_mean_p95(params["mean"], params["p95"])
    if "cv" in params:
        return Lognormal.from_mean_cv(params["mean"], params["cv"])
    return Lognormal(params["mu"], params["sigma"])


def _check_lognormal_form(given: set[str]) -> None:
    mean_family = given & {"mean", "p95", "cv"}
    log_family = given & {"mu", "sigma"}
    listed = ", ".join(sorted(given))
    if (mean_family and log_family) or {"p95", "cv"} <= given:
        raise ScenarioError(
            f"ambiguous lognormal: give exactly one of {_LOGNORMAL_FORMS}, not {listed}"
        )
    if log_family:
        for key in ("mu", "sigma"):
            if key not in given:
                raise ScenarioError(
                    "missing; a lognormal given by mu and sigma needs both", path=key
                )
    elif mean_family:
        if "mean" not in given:
            raise ScenarioError(
                f"missing; a lognormal given by {listed} needs a mean too", path="mean"
            )
        if not given & {"p95", "cv"}:
            raise ScenarioError("a lognormal given by its mean needs p95 or cv as well")
    else:
        raise ScenarioError(f"missing parameters; a lognormal needs {_LOGNORMAL_FORMS}")


def _read_param(raw: object, key: str, time_valued: bool) -> Any:
    if key == "values":
        if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
            raise ScenarioError("must be a list", path=key, value=raw)
        return tuple(_read_scalar(v, ("values", i), time_valued) for i, v in enumerate(raw))
    return _read_scalar(raw, (key,), time_valued and key in _TIME_PARAMS)


def _read_scalar(raw: object, path: tuple[str | int, ...], as_duration: bool) -> float:
    if as_duration:
        try:
            seconds = parse_duration(raw)
        except ScenarioError as error:
            raise error.within(path) from None
        if seconds > DURATION.maximum:
            raise ScenarioError(DURATION.refusal(), path=path, value=raw)
        return seconds
    if isinstance(raw, str):
        raise ScenarioError("must be a plain number here, not a string", path=path, value=raw)
    number = _check_number(raw, path)
    if path[0] not in _SHAPE_PARAMS and abs(number) > VALUE.maximum:
        raise ScenarioError(VALUE.refusal(), path=path, value=raw)
    return number


def _check_number(
    value: object,
    path: str | tuple[str | int, ...],
    *,
    minimum: float | None = None,
    positive: bool = False,
) -> float:
    """``value`` as a finite float, checked against the bound; else a ScenarioError on ``path``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ScenarioError("must be a number", path=path, value=value)
    try:
        number = float(value)
    except OverflowError:  # an int of hundreds of digits
        number = math.inf
    if not math.isfinite(number):
        raise ScenarioError("must be finite", path=path, value=value)
    if positive and number <= 0:
        raise ScenarioError("must be > 0", path=path, value=value)
    if minimum is not None and number < minimum:
        raise ScenarioError(f"must be >= {minimum:g}", path=path, value=value)
    return number


def _check_cv(cv: object) -> float:
    number = _check_number(cv, "cv")
    if number <= 0:
        raise ScenarioError(
            'must be > 0 (for no variability use dist = "constant")', path="cv", value=cv
        )
    low = DISTRIBUTION_CV.minimum or 0.0
    if number < low:
        raise ScenarioError(
            f'must be at least {low:g} (for less variability use dist = "constant")',
            path="cv",
            value=cv,
        )
    if number > DISTRIBUTION_CV.maximum:
        raise ScenarioError(DISTRIBUTION_CV.refusal(), path="cv", value=cv)
    return number


def _check_q(q: float) -> None:
    if not 0 <= q <= 1:
        raise ValueError(f"a quantile level must be in [0, 1], got {q!r}")


def _names() -> str:
    return ", ".join(DIST_NAMES)


def _lookup(spec: Mapping[str, Any], path: str, error: ScenarioError) -> object:
    """The raw scenario value at relative ``path`` (``key`` or ``key.index``), else the error's."""
    head, _, index = path.partition(".")
    if head not in spec:
        return error.value
    raw = spec[head]
    if not index:
        return raw
    try:
        return raw[int(index)]
    except (ValueError, IndexError, TypeError, KeyError):
        return error.value
