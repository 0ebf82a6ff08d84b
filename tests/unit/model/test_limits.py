"""Unit tests of the pure rate-limit algorithms in :mod:`openbank_sim.model.limits`."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbank_sim.model.limits import (
    ALGORITHMS,
    TOKEN_EPSILON,
    Concurrency,
    FixedWindow,
    LimitSpec,
    SlidingWindowLog,
    SlidingWindowWeighted,
    TokenBucket,
    new_state,
)

State = TokenBucket | FixedWindow | SlidingWindowLog | SlidingWindowWeighted


def attempt(state: State, now: float) -> float:
    """The gateway pattern for one limiter: check, and consume when admitted."""
    retry = state.check(now)
    if retry == 0.0:
        state.consume(now)
    return retry


def run(state: State, times: list[float]) -> list[float]:
    """Feed sorted attempt times; return the admitted ones."""
    return [t for t in times if attempt(state, t) == 0.0]


def admits_later(state: State, now: float, retry: float, slack: float = 0.0) -> bool:
    """Whether a copy of ``state`` admits at ``now + retry + slack`` (the original is untouched)."""
    return copy.deepcopy(state).check(now + retry + slack) == 0.0


def window_of(now: float, window: float) -> int:
    """The k with ``k * window <= now < (k + 1) * window`` in floating point."""
    k = math.floor(now / window)
    if k * window > now:
        return k - 1
    if (k + 1) * window <= now:
        return k + 1
    return k


def sorted_times(max_time: float = 50.0, max_size: int = 120) -> st.SearchStrategy[list[float]]:
    return st.lists(
        st.floats(0.0, max_time, allow_nan=False, allow_infinity=False), max_size=max_size
    ).map(sorted)


# --------------------------------------------------------------------------------------------
# token bucket
# --------------------------------------------------------------------------------------------


class TestTokenBucket:
    def test_full_at_creation_then_empty(self) -> None:
        tb = TokenBucket(rate_per_s=2.0, burst=3)
        assert [attempt(tb, 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
        assert tb.check(0.0) == pytest.approx(0.5)  # (1 - 0) / 2
        assert tb.tokens_at(0.0) == 0.0

    def test_full_at_now0(self) -> None:
        tb = TokenBucket(1.0, 2, now0=100.0)
        assert run(tb, [100.0, 100.0, 100.0]) == [100.0, 100.0]
        assert tb.check(100.0) == pytest.approx(1.0)

    def test_refill_is_continuous_and_capped(self) -> None:
        tb = TokenBucket(rate_per_s=4.0, burst=2)
        run(tb, [0.0, 0.0])
        assert tb.tokens_at(0.125) == pytest.approx(0.5)
        assert tb.tokens_at(0.25) == pytest.approx(1.0)
        assert tb.tokens_at(100.0) == 2.0  # never above burst
        assert run(tb, [100.0, 100.0, 100.0]) == [100.0, 100.0]

    def test_retry_after_is_exact_and_admits(self) -> None:
        tb = TokenBucket(rate_per_s=4.0, burst=1)
        assert attempt(tb, 0.0) == 0.0
        assert tb.check(0.1) == pytest.approx(0.15)  # 0.4 tokens there, 0.6 missing at 4/s
        assert tb.check(0.1) == pytest.approx(0.15)  # checking does not change anything
        retry = tb.check(0.1)
        assert tb.check(0.1 + retry) == 0.0

    def test_epsilon_boundary(self) -> None:
        tb = TokenBucket(rate_per_s=1.0, burst=1)
        assert attempt(tb, 0.0) == 0.0
        # 1 - 1e-9 tokens is enough (epsilon), 1 - 2e-9 is not
        assert tb.check(1.0 - 2 * TOKEN_EPSILON) == pytest.approx(2 * TOKEN_EPSILON, rel=1e-3)
        assert tb.check(1.0 - TOKEN_EPSILON) == 0.0

    def test_exact_one_token_boundary(self) -> None:
        tb = TokenBucket(rate_per_s=10.0, burst=1)
        attempt(tb, 0.0)
        assert tb.check(0.05) == pytest.approx(0.05)
        assert attempt(tb, 0.1) == 0.0
        assert tb.check(0.1) == pytest.approx(0.1)

    def test_consume_without_check_refills_first(self) -> None:
        tb = TokenBucket(1.0, 2)
        tb.consume(0.0)
        tb.consume(0.0)
        tb.consume(1.5)  # refills 1.5 then takes one
        assert tb.tokens_at(1.5) == pytest.approx(0.5)

    @settings(max_examples=200, deadline=None)
    @given(
        rate=st.floats(0.05, 50.0),
        burst=st.integers(1, 20),
        times=sorted_times(max_time=20.0, max_size=200),
    )
    def test_at_most_burst_plus_rate_times_t(
        self, rate: float, burst: int, times: list[float]
    ) -> None:
        tb = TokenBucket(rate, burst)
        admitted = run(tb, times)
        # over every prefix [0, T] with T an admission time
        for n, t in enumerate(admitted, start=1):
            assert n <= burst + rate * t + 1e-6

    @settings(max_examples=200, deadline=None)
    @given(
        rate=st.floats(0.05, 50.0),
        burst=st.integers(1, 10),
        times=sorted_times(max_time=20.0, max_size=100),
    )
    def test_retry_after_admits(self, rate: float, burst: int, times: list[float]) -> None:
        tb = TokenBucket(rate, burst)
        for now in times:
            retry = attempt(tb, now)
            if retry:
                assert 0.0 < retry <= 1.0 / rate + 1e-9
                assert admits_later(tb, now, retry)


# --------------------------------------------------------------------------------------------
# fixed window
# --------------------------------------------------------------------------------------------


class TestFixedWindow:
    def test_limit_per_window_and_edges(self) -> None:
        fw = FixedWindow(limit=2, window_s=10.0)
        assert run(fw, [0.0, 3.0, 9.999]) == [0.0, 3.0]
        assert fw.check(9.999) == pytest.approx(0.001)
        assert fw.check(10.0) == 0.0  # a new window starts exactly at 10
        assert run(fw, [10.0, 19.0, 19.5]) == [10.0, 19.0]
        assert fw.check(19.5) == pytest.approx(0.5)

    def test_retry_after_is_time_to_next_window(self) -> None:
        fw = FixedWindow(limit=1, window_s=60.0)
        assert attempt(fw, 61.0) == 0.0
        assert fw.check(61.0) == 59.0
        assert fw.check(119.0) == 1.0
        assert fw.check(120.0) == 0.0

    def test_windows_are_aligned_to_zero_not_to_first_attempt(self) -> None:
        fw = FixedWindow(limit=1, window_s=10.0)
        assert attempt(fw, 7.0) == 0.0
        assert attempt(fw, 9.0) == 1.0
        assert attempt(fw, 10.0) == 0.0

    def test_skipped_windows_reset(self) -> None:
        fw = FixedWindow(limit=1, window_s=1.0)
        attempt(fw, 0.5)
        assert attempt(fw, 5.5) == 0.0
        assert fw.check(5.7) == pytest.approx(0.3)

    def test_float_window_boundaries(self) -> None:
        fw = FixedWindow(limit=1, window_s=0.1)
        attempt(fw, 0.25)
        retry = fw.check(0.25)
        assert retry == pytest.approx(0.05)
        assert fw.check(0.25 + retry) == 0.0

    @settings(max_examples=200, deadline=None)
    @given(
        limit=st.integers(1, 6),
        window=st.floats(0.1, 10.0),
        times=sorted_times(max_time=30.0, max_size=150),
    )
    def test_never_more_than_limit_per_window(
        self, limit: int, window: float, times: list[float]
    ) -> None:
        fw = FixedWindow(limit, window)
        per_window: dict[int, int] = {}
        for now in times:
            retry = attempt(fw, now)
            k = window_of(now, window)
            if retry == 0.0:
                per_window[k] = per_window.get(k, 0) + 1
            else:
                assert per_window.get(k, 0) == limit  # rejected only when the window is full
                assert retry <= window + 1e-9
                assert admits_later(fw, now, retry)
        assert all(n <= limit for n in per_window.values())


# --------------------------------------------------------------------------------------------
# sliding window log
# --------------------------------------------------------------------------------------------


class TestSlidingWindowLog:
    def test_expiry_exactly_at_window(self) -> None:
        sw = SlidingWindowLog(limit=2, window_s=10.0)
        assert run(sw, [1.0, 4.0, 9.0]) == [1.0, 4.0]
        assert sw.check(10.999) == pytest.approx(0.001)
        assert sw.check(11.0) == 0.0  # the admission at 1.0 is exactly 10 s old: expired
        assert attempt(sw, 11.0) == 0.0
        assert sw.check(11.0) == pytest.approx(3.0)  # now the one at 4.0 must expire
        assert sw.count_at(11.0) == 2
        assert sw.count_at(14.0) == 1

    def test_retry_after_oldest_in_window(self) -> None:
        sw = SlidingWindowLog(limit=3, window_s=1.0)
        assert run(sw, [0.0, 0.25, 0.5, 0.75]) == [0.0, 0.25, 0.5]
        assert sw.check(0.75) == 0.25
        assert sw.check(0.75 + 0.25) == 0.0

    def test_same_time_admissions(self) -> None:
        sw = SlidingWindowLog(limit=2, window_s=5.0)
        assert run(sw, [2.0, 2.0, 2.0]) == [2.0, 2.0]
        assert sw.check(3.0) == 4.0
        assert sw.count_at(7.0) == 0

    @settings(max_examples=200, deadline=None)
    @given(
        limit=st.integers(1, 6),
        window=st.floats(0.1, 10.0),
        times=sorted_times(max_time=30.0, max_size=150),
    )
    def test_never_more_than_limit_in_any_window(
        self, limit: int, window: float, times: list[float]
    ) -> None:
        sw = SlidingWindowLog(limit, window)
        admitted = []
        for now in times:
            retry = attempt(sw, now)
            if retry == 0.0:
                admitted.append(now)
            else:
                assert 0.0 < retry <= window + 1e-9
                assert admits_later(sw, now, retry)
        # every half-open window [a, a + window) starting at an admission
        for i, a in enumerate(admitted):
            in_window = sum(1 for t in admitted[i:] if t < a + window)
            assert in_window <= limit

    @settings(max_examples=100, deadline=None)
    @given(
        limit=st.integers(1, 5),
        window=st.floats(0.5, 5.0),
        times=sorted_times(max_time=20.0, max_size=100),
    )
    def test_rejects_only_when_window_is_full(
        self, limit: int, window: float, times: list[float]
    ) -> None:
        sw = SlidingWindowLog(limit, window)
        admitted: list[float] = []
        for now in times:
            in_window = sum(1 for t in admitted if t + window > now)
            retry = attempt(sw, now)
            assert (retry == 0.0) == (in_window < limit)
            if retry == 0.0:
                admitted.append(now)


# --------------------------------------------------------------------------------------------
# sliding window, weighted two-window estimate
# --------------------------------------------------------------------------------------------


class TestSlidingWindowWeighted:
    def test_first_window_is_fixed_window(self) -> None:
        sw = SlidingWindowWeighted(limit=3, window_s=10.0)
        assert run(sw, [1.0, 2.0, 3.0, 4.0]) == [1.0, 2.0, 3.0]
        # c == limit: the next window starts at 10 with p = 3, estimate 3 * (1 - e/10) < 3
        # for any e > 0, so the earliest admission is just after 10
        retry = sw.check(4.0)
        assert retry == pytest.approx(6.0, abs=1e-9)
        assert sw.check(4.0 + retry) == 0.0

    def test_previous_window_weight_decays(self) -> None:
        sw = SlidingWindowWeighted(limit=10, window_s=10.0)
        for _ in range(10):
            attempt(sw, 5.0)
        # window [10, 20): p = 10; estimate at 12 = 10 * 0.8 = 8 -> 2 admissions
        assert sw.estimate(12.0) == pytest.approx(8.0)
        assert run(sw, [12.0, 12.0, 12.0]) == [12.0, 12.0]
        assert sw.estimate(12.0) == pytest.approx(10.0)
        # estimate(t) = 10 * (20 - t) / 10 + 2 < 10  <=>  t > 12
        assert 0.0 < sw.check(12.0) <= 1e-9
        assert sw.check(12.5) == 0.0

    def test_boundary_estimate_equal_limit_rejects(self) -> None:
        sw = SlidingWindowWeighted(limit=5, window_s=10.0)
        sw.consume(1.0)  # forced consumptions (e.g. a shared budget)
        for _ in range(9):
            sw.consume(1.0)
        # p = 10 in [10, 20); estimate(t) = 10 * (20 - t) / 10 < 5  <=>  t > 15
        assert sw.check(12.0) == pytest.approx(3.0, abs=1e-9)
        assert sw.check(15.0) > 0.0  # estimate exactly 5: not below the limit
        assert sw.check(15.0) <= 1e-9
        assert sw.check(15.0 + 1e-9) == 0.0

    def test_retry_when_count_exceeds_limit(self) -> None:
        sw = SlidingWindowWeighted(limit=5, window_s=10.0)
        for _ in range(8):
            sw.consume(2.0)
        # c = 8 >= 5: next window [10, 20) with p = 8: 8 * (20 - t) / 10 < 5 <=> t > 13.75
        retry = sw.check(5.0)
        assert retry == pytest.approx(8.75, abs=1e-9)
        assert sw.check(5.0 + retry) == 0.0
        assert sw.check(13.75 - 1e-6) > 0.0

    def test_two_windows_later_everything_forgotten(self) -> None:
        sw = SlidingWindowWeighted(limit=2, window_s=1.0)
        run(sw, [0.5, 0.6])
        assert sw.check(1.0) > 0.0
        assert sw.estimate(2.0) == 0.0
        assert run(sw, [2.0, 2.0, 2.0]) == [2.0, 2.0]

    def test_prev_window_with_partial_current_count(self) -> None:
        sw = SlidingWindowWeighted(limit=4, window_s=2.0)
        assert run(sw, [0.0, 0.5, 1.0, 1.5]) == [0.0, 0.5, 1.0, 1.5]
        # [2, 4): p = 4; at 3.0 estimate = 4 * 0.5 = 2 -> admit 2, then 4
        assert run(sw, [3.0, 3.0, 3.0]) == [3.0, 3.0]
        # 4 * (4 - t) / 2 + 2 < 4  <=>  t > 3: earliest just after 3.0
        assert sw.check(3.0) <= 1e-9
        assert run(sw, [3.5, 3.5]) == [3.5]  # estimate 4 * 0.25 + 2 = 3, then 4
        retry = sw.check(3.5)
        # 4 * (4 - t) / 2 + 3 < 4  <=>  t > 3.5; c = 3 < 4 so within this window
        assert retry <= 1e-9
        assert sw.check(3.5 + retry) == 0.0

    @settings(max_examples=200, deadline=None)
    @given(
        limit=st.integers(1, 6),
        window=st.floats(0.1, 10.0),
        times=sorted_times(max_time=30.0, max_size=150),
    )
    def test_equals_fixed_window_without_previous_traffic(
        self, limit: int, window: float, times: list[float]
    ) -> None:
        # spread the traffic so that every window that sees traffic follows an empty one
        times = [t for t in times if window_of(t, window) % 2 == 0]
        fixed, weighted = FixedWindow(limit, window), SlidingWindowWeighted(limit, window)
        for now in times:
            retry_weighted, retry_fixed = attempt(weighted, now), attempt(fixed, now)
            assert (retry_weighted == 0.0) == (retry_fixed == 0.0)
            # the next window starts with p = limit, so the weighted one waits a hair longer
            assert retry_fixed <= retry_weighted <= retry_fixed + 1e-9

    @settings(max_examples=300, deadline=None)
    @given(
        limit=st.integers(1, 6),
        window=st.floats(0.1, 10.0),
        times=sorted_times(max_time=30.0, max_size=150),
    )
    def test_retry_after_is_the_earliest_admission(
        self, limit: int, window: float, times: list[float]
    ) -> None:
        sw = SlidingWindowWeighted(limit, window)
        for now in times:
            retry = attempt(sw, now)
            if retry:
                assert 0.0 < retry <= window + 1e-9
                assert admits_later(sw, now, retry)  # exactly, not only with slack
                assert admits_later(sw, now, retry, slack=1e-9)
                if retry > 1e-7:
                    assert not admits_later(sw, now, retry, slack=-1e-7 * max(1.0, retry))

    @settings(max_examples=200, deadline=None)
    @given(
        limit=st.integers(1, 6),
        window=st.floats(0.1, 10.0),
        times=sorted_times(max_time=30.0, max_size=150),
    )
    def test_decision_matches_estimate(self, limit: int, window: float, times: list[float]) -> None:
        sw = SlidingWindowWeighted(limit, window)
        for now in times:
            estimate = sw.estimate(now)
            assert (attempt(sw, now) == 0.0) == (estimate < limit)


# --------------------------------------------------------------------------------------------
# concurrency
# --------------------------------------------------------------------------------------------


class TestConcurrency:
    def test_held_attempts_block_with_unknown_retry(self) -> None:
        cc = Concurrency(limit=2)
        assert attempt(cc, 0.0) == 0.0
        assert attempt(cc, 0.0) == 0.0
        assert cc.check(0.0) == math.inf
        assert cc.in_flight(0.0) == 2

    def test_finish_at_frees_slot_at_finish_time(self) -> None:
        cc = Concurrency(limit=2)
        attempt(cc, 0.0)
        attempt(cc, 1.0)
        cc.finish_at(5.0)  # one of them ends at 5 (in the future)
        assert cc.check(2.0) == 3.0
        assert cc.in_flight(4.999) == 2
        assert cc.check(5.0) == 0.0  # finish times <= now are gone
        assert cc.in_flight(5.0) == 1
        assert attempt(cc, 5.0) == 0.0
        assert cc.check(5.0) == math.inf  # both held, no finish time known

    def test_retry_is_earliest_finish(self) -> None:
        cc = Concurrency(limit=3)
        for t in (0.0, 0.0, 0.0):
            attempt(cc, t)
        cc.finish_at(9.0)
        cc.finish_at(4.0)
        assert cc.check(1.0) == 3.0  # held one, pending 4.0 and 9.0
        cc.finish_at(2.0)
        assert cc.check(1.0) == 1.0
        assert cc.check(1.0 + cc.check(1.0)) == 0.0
        assert cc.in_flight(4.0) == 1
        assert cc.in_flight(9.0) == 0

    def test_finish_now_frees_immediately(self) -> None:
        cc = Concurrency(limit=1)
        attempt(cc, 3.0)
        cc.finish_at(3.0)
        assert cc.check(3.0) == 0.0

    def test_more_finishes_than_consumes(self) -> None:
        cc = Concurrency(limit=1)
        with pytest.raises(RuntimeError):
            cc.finish_at(1.0)

    def test_over_limit_retry_uses_the_right_finish(self) -> None:
        cc = Concurrency(limit=2)
        for _ in range(3):
            cc.consume(0.0)  # forced: 3 in flight with limit 2, two must end
        cc.finish_at(7.0)
        assert cc.check(0.0) == math.inf  # only one finish time is known
        cc.finish_at(4.0)
        assert cc.check(0.0) == 7.0  # the 2nd earliest known finish frees a slot
        cc.finish_at(2.0)
        assert cc.check(0.0) == 4.0

    @settings(max_examples=200, deadline=None)
    @given(
        limit=st.integers(1, 4),
        events=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 3.0)), max_size=100),
    )
    def test_in_flight_never_exceeds_limit(
        self, limit: int, events: list[tuple[float, float]]
    ) -> None:
        cc = Concurrency(limit)
        now = 0.0
        for gap, service in events:
            now += gap
            retry = cc.check(now)
            if retry == 0.0:
                cc.consume(now)
                cc.finish_at(now + service)
            else:
                assert 0.0 < retry <= 3.0
                assert copy.deepcopy(cc).check(now + retry) == 0.0
            assert cc.in_flight(now) <= limit


# --------------------------------------------------------------------------------------------
# check-all-then-consume across several limiters
# --------------------------------------------------------------------------------------------


def test_check_all_then_consume() -> None:
    """A rejection by one limiter must not consume from the others."""
    partner = TokenBucket(rate_per_s=1.0, burst=5)
    user = FixedWindow(limit=2, window_s=10.0)
    limiters: list[State] = [partner, user]

    def call(now: float) -> float:
        retries = [lim.check(now) for lim in limiters]
        if max(retries) == 0.0:
            for lim in limiters:
                lim.consume(now)
            return 0.0
        return max(retries)

    assert call(0.0) == 0.0
    assert call(0.0) == 0.0
    assert call(0.0) == 10.0  # user window full; the partner bucket keeps its 3 tokens
    assert call(1.0) == 9.0
    assert partner.tokens_at(1.0) == pytest.approx(4.0)
    assert call(10.0) == 0.0
    assert call(10.0) == 0.0
    assert partner.tokens_at(10.0) == pytest.approx(3.0)


def test_check_is_idempotent() -> None:
    states: list[State] = [
        TokenBucket(2.0, 2),
        FixedWindow(2, 1.0),
        SlidingWindowLog(2, 1.0),
        SlidingWindowWeighted(2, 1.0),
    ]
    for state in states:
        run(state, [0.1, 0.2, 1.05])
        first = state.check(1.1)
        assert [state.check(1.1) for _ in range(3)] == [first] * 3


# --------------------------------------------------------------------------------------------
# LimitSpec
# --------------------------------------------------------------------------------------------


class TestLimitSpec:
    @pytest.mark.parametrize(
        ("spec", "cls"),
        [
            (LimitSpec("token_bucket", rate_per_s=5.0, burst=10), TokenBucket),
            (LimitSpec("fixed_window", limit=100, window_s=60.0), FixedWindow),
            (LimitSpec("sliding_window", limit=100, window_s=60.0), SlidingWindowWeighted),
            (
                LimitSpec("sliding_window", limit=100, window_s=60.0, variant="log"),
                SlidingWindowLog,
            ),
            (LimitSpec("concurrency", limit=4), Concurrency),
        ],
    )
    def test_new_state_class(self, spec: LimitSpec, cls: type) -> None:
        a, b = new_state(spec), new_state(spec)
        assert isinstance(a, cls)
        assert a is not b
        assert spec.algorithm in ALGORITHMS

    def test_token_bucket_full_at_creation_time(self) -> None:
        tb = new_state(LimitSpec("token_bucket", rate_per_s=1.0, burst=2), now=50.0)
        assert isinstance(tb, TokenBucket)
        assert tb.tokens_at(50.0) == 2.0

    def test_frozen_and_slotted(self) -> None:
        spec = LimitSpec("concurrency", limit=1)
        with pytest.raises(AttributeError):
            spec.limit = 2  # type: ignore[misc]
        assert not hasattr(spec, "__dict__")

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"algorithm": "leaky_bucket", "limit": 1, "window_s": 1.0},
            {"algorithm": "token_bucket", "rate_per_s": 0.0, "burst": 1},
            {"algorithm": "token_bucket", "rate_per_s": -1.0, "burst": 1},
            {"algorithm": "token_bucket", "rate_per_s": math.nan, "burst": 1},
            {"algorithm": "token_bucket", "rate_per_s": math.inf, "burst": 1},
            {"algorithm": "token_bucket", "rate_per_s": 1.0, "burst": 0},
            {"algorithm": "token_bucket", "rate_per_s": 1.0, "burst": 2.5},
            {"algorithm": "token_bucket", "rate_per_s": 1.0, "burst": True},
            {"algorithm": "fixed_window", "limit": 0, "window_s": 1.0},
            {"algorithm": "fixed_window", "limit": 5, "window_s": 0.0},
            {"algorithm": "sliding_window", "limit": 5, "window_s": -1.0},
            {"algorithm": "sliding_window", "limit": 5, "window_s": 1.0, "variant": "exact"},
            {"algorithm": "concurrency", "limit": 0},
            {"algorithm": "concurrency", "limit": -3},
        ],
    )
    def test_nonsense_raises(self, kwargs: dict[str, object]) -> None:
        with pytest.raises(ValueError):
            LimitSpec(**kwargs)  # type: ignore[arg-type]

    def test_did_you_mean(self) -> None:
        with pytest.raises(ValueError, match="token_bucket"):
            LimitSpec("token_buckt", rate_per_s=1.0, burst=1)

    def test_constructors_validate_too(self) -> None:
        with pytest.raises(ValueError):
            TokenBucket(0.0, 1)
        with pytest.raises(ValueError):
            FixedWindow(0, 1.0)
        with pytest.raises(ValueError):
            SlidingWindowLog(1, 0.0)
        with pytest.raises(ValueError):
            SlidingWindowWeighted(1, math.nan)
        with pytest.raises(ValueError):
            Concurrency(0)


def test_states_are_slotted() -> None:
    for state in (
        TokenBucket(1.0, 1),
        FixedWindow(1, 1.0),
        SlidingWindowLog(1, 1.0),
        SlidingWindowWeighted(1, 1.0),
        Concurrency(1),
    ):
        assert not hasattr(state, "__dict__")
