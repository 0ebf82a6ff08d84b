"""The scenario schema: validated, immutable specs built from a TOML table as written.

:func:`build` turns the raw dictionary of a scenario file into the frozen spec objects the
model runs on. Every check raises :class:`~openbank_sim.errors.ScenarioError` with the dotted
key path and the offending value; unknown keys are errors with a "did you mean" suggestion.
The contract for the keys is ``docs/scenario-format.md``; semantics are in ``DESIGN.md``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import ScenarioError, did_you_mean
from .bounds import (
    BACKOFF_FACTOR,
    BREAKER_WINDOW,
    COPIES,
    DESIGN_POINTS,
    GROWTH_PER_YEAR,
    LIMIT,
    MAX_ATTEMPTS,
    MONEY,
    PER_USER_DAY,
    QUEUE_LIMIT,
    RATE_PER_S,
    REPLICATIONS,
    SEED,
    SERVERS,
    SESSIONS_PER_USER_DAY,
    TIME_BINS,
    USERS,
)
from .distributions import parse_distribution
from .limits import LimitSpec
from .money import parse_economics, parse_onboarding
from .profiles import Profile, builtin_profiles, event_begins, parse_profile
from .ranges import DESIGN_NAMES, ParameterRange, check_design_size
from .readers import (
    array_of_tables,
    boolean,
    check_keys,
    count,
    distribution,
    duration,
    entry_name,
    frozen_mapping,
    is_number,
    join_path,
    named_tables,
    number,
    share,
    table_at,
    text,
)
from .types import (
    INTEGRATIONS,
    JITTERS,
    OUTCOMES,
    PRODUCT_KINDS,
    SCOPES,
    SECTORS,
    STEP_CONDITIONS,
    AuthSpec,
    BackgroundSpec,
    BackoffSpec,
    BankSpec,
    CircuitBreakerSpec,
    ClientSpec,
    ConsentSpec,
    GatewaySpec,
    JourneySpec,
    LimitRule,
    OutageSpec,
    PartnerSpec,
    PoolSpec,
    ProductSpec,
    RetryBudgetSpec,
    RunSpec,
    ScheduleEntry,
    SloSpec,
    Spec,
    StepSpec,
    SweepSpec,
    WindowsSpec,
)
from .units import format_duration, parse_date, parse_duration

# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------

_TOP_KEYS = (
    "format_version",
    "name",
    "description",
    "currency",
    "run",
    "bank",
    "gateway",
    "client",
    "journeys",
    "partners",
    "profiles",
    "sweep",
    "slo",
    "onboarding",
    "economics",
)
_TOP_LATER = ("extends",)


def _sweep(raw: Mapping[str, Any]) -> SweepSpec | None:
    if "sweep" not in raw:
        return None
    t = table_at(raw, "sweep", "")
    check_keys(t, ("design", "n", "replications", "vary"), "sweep")
    design = text(t, "design", "sweep", "grid", DESIGN_NAMES)
    vary = table_at(t, "vary", "sweep", required=True)
    if not vary:
        raise ScenarioError("nothing to vary", path="sweep.vary")
    for key, value in vary.items():
        p = f"sweep.vary.{key}"
        if design == "grid":
            if not isinstance(value, list) or not value:
                raise ScenarioError("a grid needs a non-empty list of values", path=p, value=value)
        else:
            ParameterRange.from_spec(key, value, design)
    n = count(t, "n", "sweep", 16, maximum=DESIGN_POINTS)
    check_design_size(design, n, vary)
    return SweepSpec(
        design,
        n,
        count(t, "replications", "sweep", 1, maximum=REPLICATIONS),
        frozen_mapping(vary),
    )


def _run(raw: Mapping[str, Any]) -> RunSpec:
    path = "run"
    t = table_at(raw, "run", "")
    check_keys(
        t,
        ("start", "horizon", "warmup", "seed", "time_bin", "record_calls", "traffic", "windows"),
        path,
    )
    try:
        start = parse_date(t.get("start", "2026-01-05"))
    except ScenarioError as err:
        raise err.within("run.start") from None
    horizon = duration(t, "horizon", path, "1d")
    if horizon <= 0:
        raise ScenarioError("must be longer than 0s", path="run.horizon", value=t.get("horizon"))
    if horizon > (dt.date.max - start).days * 86400.0:
        raise ScenarioError(
            f"from run.start ({start}) it ends after 9999-12-31, the last calendar date",
            path="run.horizon",
            value=t.get("horizon"),
        )
    warmup_auto = t.get("warmup") == WARMUP_AUTO
    warmup = 0.0 if warmup_auto else _warmup(t, path)
    if warmup >= horizon:
        raise ScenarioError(
            f"must be shorter than run.horizon ({t.get('horizon', '1d')})",
            path="run.warmup",
            value=t.get("warmup"),
        )
    seed = count(t, "seed", path, 0, minimum=0, maximum=SEED)
    time_bin = duration(t, "time_bin", path, "1h")
    if time_bin <= 0:
        raise ScenarioError("must be longer than 0s", path="run.time_bin", value=t["time_bin"])
    _check_bins(horizon, time_bin, "run.time_bin", t.get("time_bin"))
    rc = t.get("record_calls", "none")
    if rc == "none":
        record = 0.0
    elif rc == "all":
        record = 1.0
    elif is_number(rc) and 0.0 < rc <= 1.0:
        record = float(rc)
    else:
        raise ScenarioError(
            'must be "all", "none" or a fraction in (0, 1]', path="run.record_calls", value=rc
        )
    traffic = text(t, "traffic", path, "full", ("full", "windowed"))
    windows = _windows(t, horizon, traffic)
    if warmup_auto and traffic == "windowed":
        raise ScenarioError(
            '"auto" is for full traffic: windowed traffic starts every window empty and '
            "discards its own warm-up (run.windows.warmup); give run.warmup as a duration",
            path="run.warmup",
            value=t.get("warmup"),
        )
    return RunSpec(start, horizon, warmup, seed, time_bin, record, traffic, windows, warmup_auto)


WARMUP_AUTO = "auto"


def _warmup(t: Mapping[str, Any], path: str) -> float:
    """``run.warmup`` as a duration (seconds); a value that is neither a duration nor
    ``"auto"`` is one error naming both accepted forms."""
    if "warmup" in t:
        try:
            parse_duration(t["warmup"])
        except ScenarioError:
            raise ScenarioError(
                'must be a duration with a unit ("30m", "2h") or "auto" (a warm-up chosen '
                "after the run by MSER-5)",
                path="run.warmup",
                value=t["warmup"],
            ) from None
    return duration(t, "warmup", path, "0s")


def _check_bins(horizon_s: float, bin_s: float, path: str, value: object) -> None:
    """At most ``TIME_BINS`` periods of ``bin_s`` seconds in the horizon."""
    if horizon_s / bin_s > TIME_BINS.maximum:
        raise ScenarioError(
            f"cuts run.horizon into {horizon_s / bin_s:,.0f} periods; at most "
            f"{TIME_BINS.text()} ({TIME_BINS.reason}): choose a longer one",
            path=path,
            value=value,
        )


def _windows(t: Mapping[str, Any], horizon_s: float, traffic: str) -> WindowsSpec | None:
    """``[run.windows]``: required and checked when traffic is windowed."""
    if "windows" not in t:
        if traffic == "windowed":
            raise ScenarioError('is required when run.traffic = "windowed"', path="run.windows")
        return None
    w = table_at(t, "windows", "run")
    p = "run.windows"
    check_keys(w, ("every", "length", "warmup", "placement"), p)
    every = duration(w, "every", p, "7d")
    length = duration(w, "length", p, "1h")
    warmup = duration(w, "warmup", p, "10m")
    if every <= 0 or length <= 0:
        raise ScenarioError("windows need a positive length and spacing", path=p, value=dict(w))
    if length + warmup > every:
        raise ScenarioError(
            f"a window ({w.get('length', '1h')} plus {w.get('warmup', '10m')} warm-up) must "
            f"be shorter than its spacing ({w.get('every', '7d')})",
            path=f"{p}.length",
            value=w.get("length", "1h"),
        )
    if traffic == "windowed" and horizon_s < every:
        raise ScenarioError(
            f"windowed traffic needs a horizon of at least one spacing ({w.get('every', '7d')})",
            path="run.horizon",
            value=t.get("horizon"),
        )
    placement = text(w, "placement", p, "stratified", ("peak", "stratified"))
    return WindowsSpec(every, length, warmup, placement)


HOUR_S = 3600.0
DAY_S = 86400.0


def event_window_hours(day_s: float, horizon_s: float, windows: WindowsSpec) -> list[int]:
    """The hours (indices from t = 0) at which the window of the event day starting at
    ``day_s`` may start: inside the day, after the window's warm-up from t = 0, ending by the
    horizon (the same rule windowed traffic places event windows by)."""
    n_hours = math.ceil(horizon_s / HOUR_S)
    earliest = max(day_s, windows.warmup_s)
    first = max(0, int(earliest // HOUR_S) - 1)
    last = min(n_hours, int((day_s + DAY_S) // HOUR_S) + 1)
    return [
        h
        for h in range(first, last)
        if h * HOUR_S >= earliest
        and h * HOUR_S < day_s + DAY_S
        and h * HOUR_S + windows.length_s <= horizon_s
    ]


def _event_day_starts(
    run: RunSpec, profiles: Mapping[str, Profile], used: set[str]
) -> list[tuple[float, str, int, dt.date]]:
    """``(start_s, profile, event index, date)`` of every event day inside the horizon: the
    midnight of the day an event occurrence begins on."""
    out = []
    for name in sorted(used):
        for begin, i in event_begins(profiles[name], run.start, run.horizon_s):
            days = math.floor(begin / DAY_S)
            out.append((days * DAY_S, name, i, run.start + dt.timedelta(days=days)))
    return sorted(out)


def _check_client_levers(client_raw: Mapping[str, Any], partners: tuple[PartnerSpec, ...]) -> None:
    """Windowed traffic simulates its windows apart, each from an empty state: a client's retry
    budget and circuit breaker remember across calls, so they need full traffic."""
    for i, p in enumerate(partners):
        for key in ("retry_budget", "circuit_breaker"):
            if getattr(p.client, key) is None:
                continue
            path = f"client.{key}" if key in client_raw else f"partners.{i}.client.{key}"
            raise ScenarioError(
                'needs run.traffic = "full": windowed traffic starts every window empty, so '
                f"the {key.replace('_', ' ')}'s memory of earlier calls would be lost at each "
                "window",
                path=path,
            )


def _check_windows(
    raw: Mapping[str, Any],
    run: RunSpec,
    gateway: GatewaySpec,
    profiles: Mapping[str, Profile],
    used: set[str],
) -> None:
    """Windowed traffic must be able to observe every limit and every event day.

    * A token bucket keeps the window warm-up (limits that remember longer are replayed into
      the windows): its refill time ``burst / rate`` must fit in ``run.windows.warmup``.
    * A fixed window (or a sliding weighted estimate, aligned the same way) longer than a window
      runs through its cycle between windows; peak windows all sit at one phase of it.
    * Every event day needs room for its window.
    """
    w = run.windows
    assert w is not None  # windowed traffic
    given = table_at(raw, "run", "").get("windows", {})
    for li, rule in enumerate(gateway.limits):
        spec = rule.spec
        where = f"gateway.limits.{li} ({rule.name})"
        if spec.algorithm == "token_bucket":
            refill = spec.burst / spec.rate_per_s
            if refill > w.warmup_s:
                raise ScenarioError(
                    f"the token bucket {where} refills in {format_duration(round(refill, 3))} "
                    "(burst / rate), longer than a window's warm-up, so windows would start it "
                    f"fuller than full traffic has it; set run.windows.warmup to at least that",
                    path="run.windows.warmup",
                    value=given.get("warmup", "10m"),
                )
        aligned = spec.algorithm == "fixed_window" or (
            spec.algorithm == "sliding_window" and spec.variant == "weighted"
        )
        if aligned and w.placement == "peak" and spec.window_s > w.length_s:
            raise ScenarioError(
                f"the limit {where} counts in windows of {format_duration(spec.window_s)}, "
                "longer than an observation window; peak windows all see the same phase of "
                'it, so the others are never observed; use placement = "stratified" (or '
                "windows at least as long as the limit's)",
                path="run.windows.placement",
                value=w.placement,
            )
    for start, name, i, date in _event_day_starts(run, profiles, used):
        if not event_window_hours(start, run.horizon_s, w):
            raise ScenarioError(
                f"no window fits on the event day {date.isoformat()} (profiles.{name}.events."
                f"{i}): a window starts on the hour inside the day, after "
                f"{format_duration(w.warmup_s)} of warm-up from the start, and its "
                f"{format_duration(w.length_s)} must end by the horizon; shorten "
                "run.windows.length or run.windows.warmup, or end run.horizon later",
                path="run.windows.length",
                value=given.get("length", "1h"),
            )


_MONTH_DAY_TIME = re.compile(r"^([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})$")


def _schedule_time(
    value: object, path: str
) -> tuple[tuple[int, int, int, int] | dt.datetime, bool]:
    """A schedule time: ``"MM-DDTHH:MM"`` (every year) or a full ISO datetime (once)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None), False
    if isinstance(value, str):
        m = _MONTH_DAY_TIME.match(value)
        if m:
            month, day, hour, minute = (int(g) for g in m.groups())
            try:
                dt.datetime(2000, month, day, hour, minute)  # 2000 is a leap year
            except ValueError:
                raise ScenarioError("is not a calendar time", path=path, value=value) from None
            return (month, day, hour, minute), True
        try:
            return dt.datetime.fromisoformat(value).replace(tzinfo=None), False
        except ValueError:
            pass
    raise ScenarioError(
        'must be "MM-DDTHH:MM" (every year) or an ISO datetime "YYYY-MM-DDTHH:MM" (once)',
        path=path,
        value=value,
    )


def _schedule(t: Mapping[str, Any], path: str) -> tuple[ScheduleEntry, ...]:
    if "schedule" not in t:
        return ()
    items = t["schedule"]
    p = f"{path}.schedule"
    if not isinstance(items, list):
        raise ScenarioError("must be an array of { from, to, servers }", path=p, value=items)
    out = []
    for i, e in enumerate(items):
        ep = f"{p}.{i}"
        if not isinstance(e, dict):
            raise ScenarioError("must be a table { from, to, servers }", path=ep, value=e)
        check_keys(e, ("from", "to", "servers"), ep)
        for key in ("from", "to"):
            if key not in e:
                raise ScenarioError("is required", path=f"{ep}.{key}")
        start, rec_a = _schedule_time(e["from"], f"{ep}.from")
        end, rec_b = _schedule_time(e["to"], f"{ep}.to")
        if rec_a != rec_b:
            raise ScenarioError(
                "from and to must both recur (MM-DDTHH:MM) or both be full datetimes",
                path=f"{ep}.to",
                value=e["to"],
            )
        if start == end:
            raise ScenarioError("must differ from `from`", path=f"{ep}.to", value=e["to"])
        if isinstance(start, dt.datetime) and isinstance(end, dt.datetime) and end < start:
            raise ScenarioError(
                "ends before it starts (only a recurring MM-DDTHH:MM entry may wrap the year end)",
                path=f"{ep}.to",
                value=e["to"],
            )
        out.append(ScheduleEntry(start, end, count(e, "servers", ep, maximum=SERVERS), rec_a))
    return tuple(out)


def _outages(t: Mapping[str, Any], path: str) -> OutageSpec | None:
    if "outages" not in t:
        return None
    o = table_at(t, "outages", path)
    p = f"{path}.outages"
    check_keys(o, ("between", "repair"), p)
    between = distribution(o, "between", p, time_valued=True, required=True)
    repair = distribution(o, "repair", p, time_valued=True, required=True)
    for key, d in (("between", between), ("repair", repair)):
        if not d.mean > 0:
            raise ScenarioError("needs a mean above 0s", path=f"{p}.{key}", value=o[key])
    return OutageSpec(between, repair)


def _slo(raw: Mapping[str, Any], horizon_s: float) -> SloSpec | None:
    if "slo" not in raw:
        return None
    t = table_at(raw, "slo", "")
    check_keys(t, ("period", "latency_mean", "latency_p95", "error_rate", "availability"), "slo")
    period = duration(t, "period", "slo", "1h")
    if period <= 0:
        raise ScenarioError("must be longer than 0s", path="slo.period", value=t.get("period"))
    _check_bins(horizon_s, period, "slo.period", t.get("period"))
    return SloSpec(
        period_s=period,
        latency_mean_s=duration(t, "latency_mean", "slo") if "latency_mean" in t else None,
        latency_p95_s=duration(t, "latency_p95", "slo") if "latency_p95" in t else None,
        error_rate=share(t, "error_rate", "slo") if "error_rate" in t else None,
        availability=share(t, "availability", "slo") if "availability" in t else None,
    )


def _background(
    t: Mapping[str, Any], path: str, products: Mapping[str, ProductSpec]
) -> BackgroundSpec | None:
    if "background" not in t:
        return None
    b = table_at(t, "background", path)
    p = f"{path}.background"
    check_keys(b, ("product", "per_user_day", "share_of_users", "consent"), p)
    product = text(b, "product", p)
    if product not in products:
        raise ScenarioError(
            "names no product in [bank.products]" + did_you_mean(product, products),
            path=f"{p}.product",
            value=product,
        )
    if products[product].kind != "account_info":
        raise ScenarioError(
            f"unattended refreshes call an account_info product (this one is "
            f"kind {products[product].kind!r})",
            path=f"{p}.product",
            value=product,
        )
    share_of_users = share(b, "share_of_users", p, 1.0)
    if share_of_users <= 0:
        raise ScenarioError(
            "must be above 0", path=f"{p}.share_of_users", value=b["share_of_users"]
        )
    consent = None
    if "consent" in b:
        c = table_at(b, "consent", p)
        cp = f"{p}.consent"
        check_keys(c, ("lifetime", "renewal_probability"), cp)
        lifetime = duration(c, "lifetime", cp)
        if lifetime <= 0:
            raise ScenarioError(
                "must be longer than 0s", path=f"{cp}.lifetime", value=c["lifetime"]
            )
        consent = ConsentSpec(lifetime, share(c, "renewal_probability", cp, 0.0))
    return BackgroundSpec(
        product,
        number(b, "per_user_day", p, positive=True, maximum=PER_USER_DAY),
        share_of_users,
        consent,
    )


_POOL_KEYS = (
    "servers",
    "queue_limit",
    "schedule",
    "outages",
    "cost_per_server_hour",
    "drop_expired",
    "shed_background_above",
)


def _check_deadlines(
    bank: BankSpec, journeys: Mapping[str, JourneySpec], partners: tuple[PartnerSpec, ...]
) -> None:
    """A pool that drops expired attempts must be called by some client with a deadline.

    A client's deadline is its timeout (``[client]`` merged with the partner's override); a
    partner calls the pools of its journey's steps and of its unattended refreshes. Template
    partners count: the partners they onboard share their client and journey.
    """
    timed: set[str] = set()
    for p in partners:
        if math.isinf(p.client.timeout_s):
            continue
        products = [s.product for s in journeys[p.journey].steps]
        if p.background is not None:
            products.append(p.background.product)
        timed.update(bank.products[name].pool for name in products)
    for name, pool in bank.pools.items():
        if pool.drop_expired and name not in timed:
            raise ScenarioError(
                "drops attempts whose client deadline has passed, but no partner with a finite "
                "client timeout calls this pool: give [client] (or the partners calling it) a "
                "timeout, or leave the key out",
                path=f"bank.pools.{name}.drop_expired",
                value=True,
            )


def _bank(raw: Mapping[str, Any]) -> BankSpec:
    bank = table_at(raw, "bank", "", required=True)
    check_keys(bank, ("direct_overhead", "pools", "products"), "bank")
    direct = distribution(bank, "direct_overhead", "bank", time_valued=True)
    pools: dict[str, PoolSpec] = {}
    for name, t in named_tables(bank, "pools", "bank", "pool", required=True).items():
        p = f"bank.pools.{name}"
        check_keys(t, _POOL_KEYS, p)
        ql = (
            count(t, "queue_limit", p, minimum=0, maximum=QUEUE_LIMIT)
            if "queue_limit" in t
            else None
        )
        pools[name] = PoolSpec(
            name,
            count(t, "servers", p, maximum=SERVERS),
            ql,
            _schedule(t, p),
            _outages(t, p),
            number(t, "cost_per_server_hour", p, 0.0, minimum=0.0, maximum=MONEY),
            boolean(t, "drop_expired", p, False),
            (
                count(t, "shed_background_above", p, minimum=0, maximum=QUEUE_LIMIT)
                if "shed_background_above" in t
                else None
            ),
        )
    products: dict[str, ProductSpec] = {}
    for name, t in named_tables(bank, "products", "bank", "product", required=True).items():
        p = f"bank.products.{name}"
        check_keys(t, ("kind", "pool", "service_time", "error_rate", "fee", "take_rate", "cost"), p)
        pool = text(t, "pool", p)
        if pool not in pools:
            raise ScenarioError(
                "names no pool in [bank.pools]" + did_you_mean(pool, pools),
                path=f"{p}.pool",
                value=pool,
            )
        kind = text(t, "kind", p, "other", PRODUCT_KINDS)
        take = share(t, "take_rate", p, 0.0)
        if take and kind != "payment":
            raise ScenarioError(
                'applies to kind = "payment" products only',
                path=f"{p}.take_rate",
                value=t["take_rate"],
            )
        products[name] = ProductSpec(
            name=name,
            kind=kind,
            pool=pool,
            service_time=distribution(t, "service_time", p, time_valued=True, required=True),
            error_rate=share(t, "error_rate", p, 0.0),
            fee=number(t, "fee", p, 0.0, minimum=0.0, maximum=MONEY),
            take_rate=take,
            cost=number(t, "cost", p, 0.0, minimum=0.0, maximum=MONEY),
        )
    return BankSpec(direct, frozen_mapping(pools), frozen_mapping(products))


PRESETS = ("psd2_unattended",)


def _preset(t: dict, path: str, products: Mapping[str, ProductSpec]) -> LimitRule:
    """``preset = "psd2_unattended"``: 4 per user per rolling 24 h on unattended AIS (C-REG-1)."""
    preset = text(t, "preset", path, choices=PRESETS)
    for key in t:
        if key not in ("preset", "name"):
            raise ScenarioError(
                "cannot be combined with a preset", path=join_path(path, key), value=t[key]
            )
    ais = tuple(n for n, prod in products.items() if prod.kind == "account_info")
    if not ais:
        raise ScenarioError(
            "the PSD2 preset limits account_info products, and there are none",
            path=join_path(path, "preset"),
            value=preset,
        )
    name = text(t, "name", path, preset)
    spec = LimitSpec(algorithm="sliding_window", limit=4, window_s=86400.0, variant="log")
    return LimitRule(name, "user", spec, ais, background_only=True)


def _limit(t: dict, path: str, products: Mapping[str, ProductSpec]) -> LimitRule:
    if "preset" in t:
        return _preset(t, path, products)
    check_keys(
        t,
        ("name", "scope", "algorithm", "rate", "burst", "limit", "window", "variant", "products"),
        path,
    )
    algorithm = text(
        t,
        "algorithm",
        path,
        None,
        ("token_bucket", "fixed_window", "sliding_window", "concurrency"),
    )
    params = {
        "token_bucket": ("rate", "burst"),
        "fixed_window": ("limit", "window"),
        "sliding_window": ("limit", "window", "variant"),
        "concurrency": ("limit",),
    }[algorithm]
    for key in ("rate", "burst", "limit", "window", "variant"):
        if key in t and key not in params:
            raise ScenarioError(
                f"does not apply to algorithm {algorithm!r} (it takes {', '.join(params)})",
                path=join_path(path, key),
                value=t[key],
            )
    kw: dict[str, Any] = {"algorithm": algorithm}
    if "rate" in params:
        kw["rate_per_s"] = number(t, "rate", path, positive=True, maximum=RATE_PER_S)
    if "burst" in params:
        kw["burst"] = count(t, "burst", path, maximum=LIMIT)
    if "limit" in params:
        kw["limit"] = count(t, "limit", path, maximum=LIMIT)
    if "window" in params:
        kw["window_s"] = duration(t, "window", path)
        if kw["window_s"] <= 0:
            raise ScenarioError(
                "must be longer than 0s", path=join_path(path, "window"), value=t["window"]
            )
    if "variant" in params:
        kw["variant"] = text(t, "variant", path, "weighted", ("log", "weighted"))
    filt: tuple[str, ...] | None = None
    if "products" in t:
        value = t["products"]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ScenarioError(
                "must be a non-empty list of product names",
                path=join_path(path, "products"),
                value=value,
            )
        for i, name in enumerate(value):
            if name not in products:
                raise ScenarioError(
                    "names no product" + did_you_mean(name, products),
                    path=f"{path}.products.{i}",
                    value=name,
                )
        filt = tuple(value)
    default_name = path.replace("gateway.limits.", "limit-")
    name = text(t, "name", path, default_name)
    return LimitRule(name, text(t, "scope", path, "global", SCOPES), LimitSpec(**kw), filt)


def _gateway(raw: Mapping[str, Any], products: Mapping[str, ProductSpec]) -> GatewaySpec:
    g = table_at(raw, "gateway", "")
    check_keys(g, ("overhead", "auth", "limits"), "gateway")
    auth = None
    if "auth" in g:
        a = table_at(g, "auth", "gateway")
        p = "gateway.auth"
        check_keys(a, ("token_ttl", "servers", "service_time", "failure_rate"), p)
        auth = AuthSpec(
            token_ttl_s=duration(a, "token_ttl", p, "1h"),
            servers=count(a, "servers", p, 1, maximum=SERVERS),
            service_time=distribution(a, "service_time", p, time_valued=True)
            or parse_distribution({"dist": "constant", "value": "0s"}, time_valued=True),
            failure_rate=share(a, "failure_rate", p, 0.0),
        )
        if auth.token_ttl_s <= 0:
            raise ScenarioError(
                "must be longer than 0s", path=f"{p}.token_ttl", value=a.get("token_ttl")
            )
    limits = tuple(
        _limit(t, f"gateway.limits.{i}", products)
        for i, t in enumerate(array_of_tables(g, "limits", "gateway"))
    )
    names = [rule.name for rule in limits]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ScenarioError("duplicate limit name", path=f"gateway.limits.{i}.name", value=name)
    return GatewaySpec(distribution(g, "overhead", "gateway", time_valued=True), auth, limits)


_CLIENT_KEYS = (
    "timeout",
    "max_attempts",
    "backoff",
    "retry_on",
    "respect_retry_after",
    "retry_budget",
    "circuit_breaker",
)


def _outcome_list(t: Mapping[str, Any], key: str, path: str, default: list[str]) -> frozenset[str]:
    """A list of retriable outcome names (every outcome but ``ok``)."""
    names = t.get(key, default)
    retriable = OUTCOMES[1:]
    if not isinstance(names, list):
        raise ScenarioError("must be a list of outcomes", path=join_path(path, key), value=names)
    for i, name in enumerate(names):
        if name not in retriable:
            raise ScenarioError(
                f"must be one of {', '.join(retriable)}" + did_you_mean(str(name), retriable),
                path=f"{path}.{key}.{i}",
                value=name,
            )
    return frozenset(names)


def _positive_duration(t: Mapping[str, Any], key: str, path: str, default: str) -> float:
    """A finite duration longer than 0 s."""
    seconds = duration(t, key, path, default)
    if not 0.0 < seconds < math.inf:
        raise ScenarioError(
            "must be a duration longer than 0s", path=join_path(path, key), value=t.get(key)
        )
    return seconds


def _retry_budget(t: Mapping[str, Any], path: str) -> RetryBudgetSpec | None:
    """``client.retry_budget`` (None when absent)."""
    if "retry_budget" not in t:
        return None
    b = table_at(t, "retry_budget", path)
    bp = join_path(path, "retry_budget")
    check_keys(b, ("ratio", "min_per_s", "window"), bp)
    return RetryBudgetSpec(
        ratio=share(b, "ratio", bp, 0.1),
        min_per_s=number(b, "min_per_s", bp, 1.0, minimum=0.0, maximum=RATE_PER_S),
        window_s=_positive_duration(b, "window", bp, "10s"),
    )


def _circuit_breaker(
    t: Mapping[str, Any], path: str, retry_on: frozenset[str]
) -> CircuitBreakerSpec | None:
    """``client.circuit_breaker`` (None when absent); failures default to ``retry_on``."""
    if "circuit_breaker" not in t:
        return None
    b = table_at(t, "circuit_breaker", path)
    bp = join_path(path, "circuit_breaker")
    check_keys(
        b, ("failure_rate", "window", "min_calls", "open_for", "half_open_calls", "failures"), bp
    )
    rate = share(b, "failure_rate", bp, 0.5)
    if rate <= 0.0:
        raise ScenarioError(
            "must be a share in (0, 1]: at 0 every call would open the breaker",
            path=join_path(bp, "failure_rate"),
            value=b.get("failure_rate"),
        )
    window = count(b, "window", bp, 20, maximum=BREAKER_WINDOW)
    min_calls = count(b, "min_calls", bp, min(10, window), maximum=BREAKER_WINDOW)
    if min_calls > window:
        raise ScenarioError(
            f"must be at most window ({window}): the window never holds more calls",
            path=join_path(bp, "min_calls"),
            value=min_calls,
        )
    failures = _outcome_list(b, "failures", bp, []) if "failures" in b else retry_on
    return CircuitBreakerSpec(
        failure_rate=rate,
        window=window,
        min_calls=min_calls,
        open_for_s=_positive_duration(b, "open_for", bp, "30s"),
        half_open_calls=count(b, "half_open_calls", bp, 3, maximum=BREAKER_WINDOW),
        failures=failures,
    )


def _client(t: Mapping[str, Any], path: str) -> ClientSpec:
    check_keys(t, _CLIENT_KEYS, path)
    b = table_at(t, "backoff", path)
    bp = join_path(path, "backoff")
    check_keys(b, ("base", "factor", "max", "jitter"), bp)
    backoff = BackoffSpec(
        base_s=duration(b, "base", bp, "200ms"),
        factor=number(b, "factor", bp, 2.0, minimum=1.0, maximum=BACKOFF_FACTOR),
        max_s=duration(b, "max", bp, "30s"),
        jitter=text(b, "jitter", bp, "full", JITTERS),
    )
    retry_on = _outcome_list(
        t, "retry_on", path, ["rate_limited", "overloaded", "timeout", "error"]
    )
    timeout = duration(t, "timeout", path, "none", allow_none=True)
    if timeout <= 0:
        raise ScenarioError(
            "must be longer than 0s", path=join_path(path, "timeout"), value=t.get("timeout")
        )
    return ClientSpec(
        timeout_s=timeout,
        max_attempts=count(t, "max_attempts", path, 1, maximum=MAX_ATTEMPTS),
        backoff=backoff,
        retry_on=retry_on,
        respect_retry_after=boolean(t, "respect_retry_after", path, False),
        retry_budget=_retry_budget(t, path),
        circuit_breaker=_circuit_breaker(t, path, retry_on),
    )


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _journeys(raw: Mapping[str, Any], products: Mapping[str, ProductSpec]) -> dict:
    out: dict[str, JourneySpec] = {}
    for name, t in named_tables(raw, "journeys", "", "journey", required=True).items():
        p = f"journeys.{name}"
        check_keys(t, ("value", "patience", "redirect_dropoff", "redirect_time", "steps"), p)
        steps_raw = t.get("steps")
        if not isinstance(steps_raw, list) or not steps_raw:
            raise ScenarioError(
                "must be a non-empty array of steps", path=f"{p}.steps", value=steps_raw
            )
        steps: list[StepSpec] = []
        for i, s in enumerate(steps_raw):
            sp = f"{p}.steps.{i}"
            if not isinstance(s, dict):
                raise ScenarioError("must be a table", path=sp, value=s)
            check_keys(s, ("product", "probability", "when", "think_time", "approval_rate"), sp)
            product = text(s, "product", sp)
            if product not in products:
                raise ScenarioError(
                    "names no product in [bank.products]" + did_you_mean(product, products),
                    path=f"{sp}.product",
                    value=product,
                )
            when = text(s, "when", sp, choices=STEP_CONDITIONS) if "when" in s else None
            if when is not None and i == 0:
                raise ScenarioError(
                    "the first step has no previous step to depend on",
                    path=f"{sp}.when",
                    value=when,
                )
            if when in ("approved", "declined"):
                prev = products[steps[-1].product]
                if prev.kind != "credit_assessment":
                    raise ScenarioError(
                        f"needs the previous step to be a credit_assessment product "
                        f"(it calls {prev.name!r}, kind {prev.kind!r})",
                        path=f"{sp}.when",
                        value=when,
                    )
            if "approval_rate" in s and products[product].kind != "credit_assessment":
                raise ScenarioError(
                    "applies to credit_assessment products only",
                    path=f"{sp}.approval_rate",
                    value=s["approval_rate"],
                )
            steps.append(
                StepSpec(
                    product=product,
                    probability=share(s, "probability", sp, 1.0),
                    when=when,
                    think_time=distribution(s, "think_time", sp, time_valued=True),
                    approval_rate=share(s, "approval_rate", sp, 1.0),
                )
            )
        out[name] = JourneySpec(
            name=name,
            value=distribution(t, "value", p, time_valued=False),
            patience_s=duration(t, "patience", p, "none", allow_none=True),
            redirect_dropoff=share(t, "redirect_dropoff", p, 0.0),
            redirect_time=distribution(t, "redirect_time", p, time_valued=True),
            steps=tuple(steps),
        )
        if out[name].patience_s <= 0:
            raise ScenarioError(
                "must be longer than 0s", path=f"{p}.patience", value=t.get("patience")
            )
    return out


def _profiles(raw: Mapping[str, Any]) -> dict[str, Profile]:
    out = dict(builtin_profiles())
    for name, t in named_tables(raw, "profiles", "", "profile", required=False).items():
        if name in out:
            raise ScenarioError(
                "is the name of a built-in profile; choose another name",
                path=f"profiles.{name}",
                value=name,
            )
        try:
            out[name] = parse_profile(name, t)
        except ScenarioError as err:
            raise err.within(f"profiles.{name}") from None
    return out


_PARTNER_KEYS = (
    "background",
    "growth_per_year",
    "name",
    "sector",
    "integration",
    "users",
    "sessions_per_user_day",
    "profile",
    "journey",
    "live_from",
    "copies",
    "client",
)


def _partners(
    raw: Mapping[str, Any],
    journeys: Mapping[str, JourneySpec],
    profiles: Mapping[str, Profile],
    client: Mapping[str, Any],
    horizon_s: float,
    products: Mapping[str, ProductSpec],
) -> tuple[PartnerSpec, ...]:
    items = array_of_tables(raw, "partners", "")
    if not items:
        raise ScenarioError("at least one [[partners]] entry is required", path="partners")
    out: list[PartnerSpec] = []
    seen: dict[str, str] = {}
    for i, t in enumerate(items):
        p = f"partners.{i}"
        check_keys(t, _PARTNER_KEYS, p)
        growth = number(t, "growth_per_year", p, 0.0, maximum=GROWTH_PER_YEAR)
        if growth <= -1:
            raise ScenarioError(
                "must be > -1", path=f"{p}.growth_per_year", value=t["growth_per_year"]
            )
        background = _background(t, p, products)
        name = entry_name(text(t, "name", p), f"{p}.name", "partner")
        journey = text(t, "journey", p)
        if journey not in journeys:
            raise ScenarioError(
                "names no journey in [journeys]" + did_you_mean(journey, journeys),
                path=f"{p}.journey",
                value=journey,
            )
        profile = text(t, "profile", p, "flat")
        if profile not in profiles:
            raise ScenarioError(
                "names no profile (built-in: flat, ecommerce, medical, "
                "education; or one of [profiles])" + did_you_mean(profile, profiles),
                path=f"{p}.profile",
                value=profile,
            )
        override = table_at(t, "client", p)
        # [client] was validated on its own first, so an error here comes from the override
        spec_client = _client(_merge(client, override), f"{p}.client")
        live_from = duration(t, "live_from", p, "0d")
        copies = count(t, "copies", p, 1, maximum=COPIES)
        spud = number(t, "sessions_per_user_day", p, positive=True, maximum=SESSIONS_PER_USER_DAY)
        names = [name] if copies == 1 else [f"{name}-{k}" for k in range(1, copies + 1)]
        for n in names:
            if n in seen:
                raise ScenarioError(
                    f"duplicate partner name {n!r} (also from {seen[n]})",
                    path=f"{p}.name",
                    value=name,
                )
            seen[n] = p
            out.append(
                PartnerSpec(
                    name=n,
                    sector=text(t, "sector", p, "other", SECTORS),
                    integration=text(t, "integration", p, "api", INTEGRATIONS),
                    users=count(t, "users", p, maximum=USERS),
                    sessions_per_user_day=spud,
                    profile=profile,
                    journey=journey,
                    live_from_s=live_from,
                    client=spec_client,
                    background=background,
                    growth_per_year=growth,
                )
            )
    return tuple(out)


def build(raw: Mapping[str, Any], default_name: str = "scenario") -> Spec:
    """Validate the raw scenario table and build its :class:`Spec`."""
    if not isinstance(raw, Mapping):
        raise ScenarioError("a scenario must be a table", value=raw)
    check_keys(raw, _TOP_KEYS, "", later=_TOP_LATER)
    fv = count(raw, "format_version", "", 1, maximum=SEED)
    if fv != 1:
        raise ScenarioError(
            "this version of openbank_sim reads format_version = 1", path="format_version", value=fv
        )
    run = _run(raw)
    bank = _bank(raw)
    gateway = _gateway(raw, bank.products)
    client_raw = table_at(raw, "client", "")
    _client(client_raw, "client")  # validate [client] itself, keyed at its own path
    journeys = _journeys(raw, bank.products)
    profiles = _profiles(raw)
    partners = _partners(raw, journeys, profiles, client_raw, run.horizon_s, bank.products)
    _check_deadlines(bank, journeys, partners)
    onboarding = parse_onboarding(raw, {p.name for p in partners})
    if onboarding is not None:
        names = set(onboarding.templates.values())
        partners = tuple(replace(p, template=p.name in names) for p in partners)
    used = {p.profile for p in partners}
    if run.traffic == "windowed":
        _check_windows(raw, run, gateway, profiles, used)
        _check_client_levers(client_raw, partners)
    return Spec(
        format_version=fv,
        name=text(raw, "name", "", default_name),
        description=text(raw, "description", "", ""),
        currency=text(raw, "currency", "", "CNY"),
        run=run,
        bank=bank,
        gateway=gateway,
        client=_client(client_raw, "client"),
        journeys=frozen_mapping(journeys),
        partners=partners,
        profiles=frozen_mapping({k: v for k, v in profiles.items() if k in used}),
        sweep=_sweep(raw),
        slo=_slo(raw, run.horizon_s),
        onboarding=onboarding,
        economics=parse_economics(raw),
    )
