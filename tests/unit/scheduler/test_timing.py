"""Next-run math: phase spreading, drift-free cadence, cadences anchored at window openings."""

from __future__ import annotations

import time as perf
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from netgauge.scheduler import TimeWindow, next_due, opening_offset, phase_offset

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


# --- windowed jobs: the cadence restarts at every opening of the window

BERLIN = "Europe/Berlin"


def reference_spans(window: TimeWindow, day: date) -> list[tuple[datetime, datetime]]:
    """The occurrence opening on `day`, found by testing every UTC minute (test-only, slow)."""
    zone = ZoneInfo(window.timezone)
    opens = datetime.combine(day, window.start_time or time(0))
    if window.end_time is None:
        closes = datetime.combine(day + timedelta(days=1), time(0))
    elif window.end_time <= (window.start_time or time(0)):
        closes = datetime.combine(day + timedelta(days=1), window.end_time)
    else:
        closes = datetime.combine(day, window.end_time)
    at = opens.replace(tzinfo=zone).astimezone(UTC) - timedelta(hours=3)
    last = closes.replace(tzinfo=zone).astimezone(UTC) + timedelta(hours=3)
    spans: list[tuple[datetime, datetime]] = []
    while at < last:
        if opens <= at.astimezone(zone).replace(tzinfo=None) < closes:
            if spans and spans[-1][1] == at:
                spans[-1] = (spans[-1][0], at + timedelta(minutes=1))
            else:
                spans.append((at, at + timedelta(minutes=1)))
        at += timedelta(minutes=1)
    return spans


def reference_ticks(
    name: str, interval_s: float, window: TimeWindow, first: date, days: int
) -> list[datetime]:
    """open + offset + k * interval inside each occurrence opening on `first` .. `first+days`."""
    out: list[datetime] = []
    for day in (first + timedelta(days=i) for i in range(days)):
        if day.weekday() not in window.days:
            continue
        spans = reference_spans(window, day)
        if not spans:
            continue
        length = (spans[0][1] - spans[0][0]).total_seconds()
        tick = spans[0][0] + timedelta(seconds=opening_offset(name, interval_s, length))
        while tick < spans[-1][1]:
            if any(begin <= tick < end for begin, end in spans):
                out.append(tick)
            tick += timedelta(seconds=interval_s)
    return sorted(out)


def chain(
    name: str, interval_s: float, window: TimeWindow, after: datetime, until: datetime
) -> list[datetime]:
    out: list[datetime] = []
    due = next_due(name, interval_s, after, window)
    while due is not None and due < until:
        out.append(due)
        due = next_due(name, interval_s, due, window)
    return out


def test_daily_job_runs_when_its_window_opens_every_listed_day() -> None:
    window = TimeWindow(time(9, 0), time(10, 0), frozenset({0, 1, 2, 3, 4}))
    offset = timedelta(seconds=opening_offset("backup", 86_400, 3600))
    assert timedelta(0) <= offset < timedelta(seconds=60)
    dues = chain("backup", 86_400, window, START, START + timedelta(days=14))
    weekdays = [START + timedelta(days=d) for d in range(14) if d % 7 < 5]
    assert dues == [day + timedelta(hours=9) + offset for day in weekdays]


def test_hourly_job_with_half_hour_window_runs_once_per_opening() -> None:
    window = TimeWindow(time(9, 0), time(9, 30))
    offset = timedelta(seconds=opening_offset("hourly", 3600, 1800))
    dues = chain("hourly", 3600, window, START, START + timedelta(days=3))
    assert dues == [START + timedelta(days=d, hours=9) + offset for d in range(3)]


def test_night_window_runs_from_opening_every_interval_until_it_closes() -> None:
    window = TimeWindow(time(22, 0), time(6, 0), frozenset({4}))  # Friday night
    offset = timedelta(seconds=opening_offset("night", 300, 8 * 3600))
    friday = datetime(2024, 1, 5, 22, 0, tzinfo=UTC)
    dues = chain("night", 300, window, START, START + timedelta(days=14))
    night = [friday + offset + timedelta(minutes=5 * k) for k in range(96)]  # 22:00 .. 05:55
    assert dues == night + [t + timedelta(days=7) for t in night]


def test_start_inside_an_occurrence_continues_its_cadence_or_waits_for_the_next() -> None:
    window = TimeWindow(time(9, 0), time(10, 0))
    opened = START + timedelta(hours=9)
    five = timedelta(seconds=opening_offset("fast", 300, 3600))
    assert next_due(
        "fast", 300, opened + timedelta(minutes=2), window
    ) == opened + five + timedelta(minutes=5)
    daily = timedelta(seconds=opening_offset("slow", 86_400, 3600))
    late = opened + timedelta(minutes=30)  # today's only tick has passed
    assert next_due("slow", 86_400, late, window) == opened + timedelta(days=1) + daily


def test_opening_in_a_dst_gap_anchors_the_cadence_after_the_gap() -> None:
    # 02:30-03:30 Berlin on the spring-forward Sunday is really 03:00-03:30 CEST (01:00 UTC).
    window = TimeWindow(time(2, 30), time(3, 30), frozenset({6}), BERLIN)
    offset = timedelta(seconds=opening_offset("dst", 600, 1800))
    dues = chain(
        "dst", 600, window, datetime(2024, 3, 30, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)
    )
    opened = datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    assert dues == [opened + offset + timedelta(minutes=10 * k) for k in range(3)]


@pytest.mark.parametrize(
    ("window", "interval", "first"),
    [
        (TimeWindow(time(9, 0), time(9, 20), frozenset({0, 2}), BERLIN), 300, date(2024, 1, 1)),
        (TimeWindow(time(22, 0), time(6, 0), frozenset({5}), BERLIN), 420, date(2024, 10, 21)),
        (TimeWindow(time(2, 10), time(2, 50), timezone=BERLIN), 900, date(2024, 10, 24)),
        (TimeWindow(time(2, 30), time(3, 30), timezone=BERLIN), 600, date(2024, 3, 28)),
        (TimeWindow(time(2, 0), time(2, 30), timezone=BERLIN), 60, date(2024, 3, 29)),
        (TimeWindow(time(2, 30), time(2, 30), timezone=BERLIN), 7 * 3600, date(2024, 10, 24)),
        (
            TimeWindow(time(1, 30), time(1, 30), timezone="America/New_York"),
            5400,
            date(2024, 11, 1),
        ),
        (TimeWindow(days=frozenset({1, 3})), 7 * 3600, date(2024, 1, 1)),
    ],
)
def test_windowed_ticks_match_reference_across_dst(
    window: TimeWindow, interval: float, first: date
) -> None:
    days = 6
    after = datetime.combine(first, time(0), tzinfo=UTC)
    until = after + timedelta(days=days)
    expected = [
        t
        for t in reference_ticks("ref", interval, window, first - timedelta(days=1), days + 1)
        if after < t < until
    ]
    assert expected  # the case is not vacuous
    assert chain("ref", interval, window, after, until) == expected


def test_opening_offset_is_stable_small_and_spread() -> None:
    assert opening_offset("a", 300, 3600) == opening_offset("a", 300, 3600)
    for name in ("a", "b", "backup", "x" * 500):
        assert 0 <= opening_offset(name, 300, 3600) < 30  # a tenth of the interval
        assert 0 <= opening_offset(name, 3600, 100) < 10  # a tenth of the occurrence
        assert 0 <= opening_offset(name, 86_400, 86_400) < 60  # capped
    offsets = {int(opening_offset(f"job-{i}", 86_400, 86_400)) for i in range(1000)}
    assert len(offsets) == 60  # jobs opening together are spread over the first minute


def test_long_interval_short_window_is_found_quickly() -> None:
    window = TimeWindow(time(9, 0), time(9, 1))  # 1 minute a day, a weekly interval
    began = perf.perf_counter()
    dues = chain("weekly", 7 * 86_400, window, START, START + timedelta(days=30))
    assert perf.perf_counter() - began < 0.5
    assert [due.date() for due in dues] == [(START + timedelta(days=d)).date() for d in range(30)]


def test_weekly_window_swallowed_by_a_dst_gap_opens_the_week_after() -> None:
    window = TimeWindow(time(2, 0), time(2, 30), frozenset({6}), BERLIN)  # in the gap on 31 March
    due = next_due("gap", 60, datetime(2024, 3, 30, tzinfo=UTC), window)
    assert due is not None
    assert datetime(2024, 4, 7, 0, 0, tzinfo=UTC) <= due < datetime(2024, 4, 7, 0, 0, 6, tzinfo=UTC)


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
