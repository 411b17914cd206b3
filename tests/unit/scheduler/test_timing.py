"""Next-run math: phase spreading, drift-free cadence, windows, bounded search."""

from __future__ import annotations

import time as perf
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest

from netgauge.scheduler import TimeWindow, next_due, phase_offset

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


def seconds_since_epoch(at: datetime) -> float:
    return (at - EPOCH).total_seconds()


def test_phase_offset_is_stable_and_within_interval() -> None:
    assert phase_offset("ping-core", 60) == phase_offset("ping-core", 60)
    for name in ("a", "b", "ping-core", "x" * 500):
        assert 0 <= phase_offset(name, 60) < 60


def test_phase_spreads_many_jobs_with_the_same_interval() -> None:
    names = [f"job-{i}" for i in range(1000)]
    offsets = [phase_offset(name, 60) for name in names]
    assert len(set(offsets)) >= 990
    per_second = Counter(int(offset) for offset in offsets)
    assert len(per_second) == 60  # every second of the minute is used
    assert max(per_second.values()) <= 40  # ~17 expected; no pile-up at one instant


def test_phase_covers_long_intervals_too() -> None:
    day = 86_400
    offsets = [phase_offset(f"daily-{i}", day) for i in range(1000)]
    assert max(offsets) > 0.9 * day  # crc % interval would stay under ~72 minutes
    assert len({int(offset // 3600) for offset in offsets}) == 24


def test_next_due_is_aligned_to_epoch_plus_phase() -> None:
    due = next_due("job", 60, START)
    assert due is not None and due > START
    assert due - START <= timedelta(seconds=60)
    assert seconds_since_epoch(due) % 60 == pytest.approx(phase_offset("job", 60), abs=1e-6)


def test_next_due_is_strictly_after() -> None:
    first = next_due("job", 60, START)
    assert first is not None
    assert next_due("job", 60, first) == first + timedelta(seconds=60)
    assert next_due("job", 60, first - timedelta(microseconds=1)) == first


def test_cadence_does_not_drift_over_1000_runs() -> None:
    interval = 7.3  # not representable in binary floating point
    first = next_due("drift", interval, START)
    assert first is not None
    due = first
    for _ in range(1000):
        following = next_due("drift", interval, due)
        assert following is not None
        due = following
    assert due - first == timedelta(seconds=7300)


def test_late_caller_gets_the_next_aligned_tick_not_a_shifted_one() -> None:
    first = next_due("job", 10, START)
    assert first is not None
    late = first + timedelta(seconds=3.5)  # e.g. the previous run ended 3.5 s after its tick
    assert next_due("job", 10, late) == first + timedelta(seconds=10)


def test_next_due_inside_window_matches_brute_force() -> None:
    window = TimeWindow(time(9, 0), time(9, 20), frozenset({0, 2}), "Europe/Berlin")
    interval = 300.0
    first = next_due("windowed", interval, START - timedelta(days=1))
    assert first is not None
    ticks = [first + i * timedelta(seconds=interval) for i in range(3 * 7 * 288)]
    expected = [t for t in ticks if t > START and window.contains(t)]
    chained, due = [], next_due("windowed", interval, START, window)
    while due is not None and due <= ticks[-1]:
        chained.append(due)
        due = next_due("windowed", interval, due, window)
    assert len(expected) == 3 * 2 * 4  # 3 weeks x 2 days x 4 ticks in 20 minutes
    assert chained == expected


def test_next_due_window_across_midnight_and_dst() -> None:
    # 02:30-03:30 Berlin on the spring-forward Sunday: the window really is 03:00-03:30 CEST.
    window = TimeWindow(time(2, 30), time(3, 30), frozenset({6}), "Europe/Berlin")
    due = next_due("dst", 60, datetime(2024, 3, 30, 12, 0, tzinfo=UTC), window)
    assert due is not None
    assert datetime(2024, 3, 31, 1, 0, tzinfo=UTC) <= due < datetime(2024, 3, 31, 1, 1, tzinfo=UTC)


def _daily_window_around(name: str, shift: timedelta) -> TimeWindow:
    """A 30-minute UTC window starting `shift` after the job's daily tick."""
    start = (EPOCH + timedelta(seconds=phase_offset(name, 86_400)) + shift).time()
    end = (datetime.combine(START, start) + timedelta(minutes=30)).time()
    return TimeWindow(start, end)


def test_long_interval_short_window_returns_none_quickly() -> None:
    window = _daily_window_around("daily", timedelta(hours=1))  # tick always outside
    began = perf.perf_counter()
    assert next_due("daily", 86_400, START, window) is None
    assert perf.perf_counter() - began < 0.5


def test_long_interval_with_tick_inside_window_is_found() -> None:
    window = _daily_window_around("daily", -timedelta(minutes=10))  # tick 10 min into it
    due = next_due("daily", 86_400, START, window)
    assert due is not None and window.contains(due)
    assert due - START <= timedelta(days=1)


def test_window_that_never_opens_gives_none() -> None:
    assert next_due("job", 60, START, TimeWindow(days=frozenset())) is None


@pytest.mark.parametrize("interval", [0, -1, float("nan"), float("inf"), 1e-9])
def test_invalid_intervals_are_rejected(interval: float) -> None:
    with pytest.raises(ValueError, match="interval"):
        next_due("job", interval, START)
    with pytest.raises(ValueError, match="interval"):
        phase_offset("job", interval)


def test_naive_after_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_due("job", 60, datetime(2024, 1, 1))
