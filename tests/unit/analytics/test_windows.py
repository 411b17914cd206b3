"""Best windows: every proposal inside what the calendar allows (checked minute by minute
against the schedule's rules worked out here with zoneinfo and dateutil, not with the
calendar's segments), and the ranking on profiles whose best window is known."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import SU, WEEKLY, rrule

from netgauge.analytics.windows import (
    HORIZON,
    SLOTS,
    FailureProfile,
    LoadProfile,
    Proposal,
    allowed_segments,
    best_windows,
    failure_profile,
    load_profile,
    slot_of,
    window_spans,
)
from netgauge.config.schedules import ScheduleConfig
from netgauge.scheduler.window import TimeWindow
from netgauge.schedules.calendar import Calendar
from netgauge.schedules.sites import runs_in

MINUTE = timedelta(minutes=1)
ALWAYS = ScheduleConfig(name="always-open")


# -- the oracle: the schedule's rules by hand ------------------------------------------------
def _in_hours(local: datetime, days: set[int], start: time, end: time) -> bool:
    """Inside ``start``-``end`` opening on ``days`` (end <= start crosses midnight)."""
    clock, today, yesterday = local.time(), local.weekday(), (local.weekday() - 1) % 7
    if end > start:
        return today in days and start <= clock < end
    return (today in days and clock >= start) or (yesterday in days and clock < end)


def _maintenance(
    zone: ZoneInfo, first: datetime, length: timedelta, until: datetime
) -> list[tuple[datetime, datetime]]:
    """Weekly Sunday windows as UTC spans: wall times + zoneinfo (fold=0)."""
    walls = rrule(WEEKLY, byweekday=SU, dtstart=first, until=until)
    starts = [w.replace(tzinfo=zone).astimezone(UTC) for w in walls]
    return [(s, s + length) for s in starts]


def _check_inside(proposals: list[Proposal], now: datetime, ok: Callable[[datetime], bool]) -> int:
    """Every minute of every proposal allowed, inside the horizon; returns minutes checked."""
    checked = 0
    for p in proposals:
        assert now <= p.start < p.end <= now + HORIZON
        at = p.start
        while at < p.end:
            assert ok(at), f"{at} in {p.reason} is not allowed"
            at += MINUTE
            checked += 1
        assert ok(p.end - timedelta(microseconds=1))
    return checked


def _random_profiles(seed: int) -> tuple[LoadProfile, FailureProfile]:
    rng = random.Random(seed)
    load = LoadProfile(tuple(rng.uniform(1, 10) for _ in range(SLOTS)), (6,) * SLOTS)
    runs = tuple(rng.randint(0, 8) for _ in range(SLOTS))
    failed = tuple(rng.randint(0, n) if rng.random() < 0.2 else 0 for n in runs)
    return load, FailureProfile(runs, failed)


BERLIN_SPEC = {
    "name": "berlin",
    "open": [
        {"days": "weekdays", "start": "08:00", "end": "18:00"},
        {"days": "sat", "start": "22:00", "end": "02:00"},  # crosses midnight into Sunday
    ],
    "peak": [{"days": "weekdays", "start": "10:00", "end": "12:00"}],
    "maintenance": [
        {"name": "patch", "rrule": "FREQ=WEEKLY;BYDAY=SU", "start": "2026-01-04 02:30",
         "duration": "2h"}
    ],
    "holidays": {"dates": ["2026-10-26", "2026-10-30"]},
}  # fmt: skip


def _berlin_open(local: datetime) -> bool:
    if local.date() in (date(2026, 10, 26), date(2026, 10, 30)):
        return False
    return _in_hours(local, {0, 1, 2, 3, 4}, time(8), time(18)) or _in_hours(
        local, {5}, time(22), time(2)
    )


@pytest.mark.parametrize("hours", [1, 2, 3, 1.5, 5])
def test_closed_job_with_pause_stays_out_of_open_hours_and_maintenance_across_fall_back(
    hours: float,
) -> None:
    """Berlin falls back on 25 Oct 2026 03:00; a Sunday 02:30 maintenance falls in the
    repeated hour; a Saturday night opening crosses midnight; two holidays. A closed-hours
    job that pauses in maintenance: every proposed minute is closed and not maintenance."""
    zone = ZoneInfo("Europe/Berlin")
    cal = Calendar(ScheduleConfig.model_validate(BERLIN_SPEC), "Europe/Berlin")
    now = datetime(2026, 10, 19, 9, 17, tzinfo=UTC)
    windows = _maintenance(
        zone, datetime(2026, 1, 4, 2, 30), timedelta(hours=2), datetime(2026, 12, 1)
    )

    def ok(at: datetime) -> bool:
        in_maintenance = any(a <= at < b for a, b in windows)
        return not _berlin_open(at.astimezone(zone)) and not in_maintenance

    segments = cal.timeline(now, 15)
    allowed = allowed_segments(
        segments, lambda s: runs_in("closed", "pause", s), now, now + HORIZON
    )
    load, failures = _random_profiles(int(hours * 10))
    got = best_windows(allowed, zone, timedelta(hours=hours), now, load, failures, limit=200)
    assert len(got) > 20
    assert _check_inside(got, now, ok) > 20 * 60
    for p in got:
        assert p.end - p.start == timedelta(hours=hours)  # exact, across the change too
    starts = sorted(p.start for p in got)
    assert all(a.end <= b.start or b.end <= a.start for a in got for b in got if a is not b), (
        "overlapping windows"
    )
    assert starts  # the ranking is cheapest first
    assert [p.cost for p in got] == sorted(p.cost for p in got)


def test_job_window_through_the_spring_forward_gap_and_off_peak() -> None:
    """New York springs forward on 8 Mar 2026 (02:00 → 03:00); the job's own window is
    01:00-04:00 daily and it runs off-peak (peak weekdays 09:00-17:00, open around the
    clock): every minute proposed is inside 01:00-04:00 local and not at peak."""
    zone = ZoneInfo("America/New_York")
    spec = {"name": "ny", "peak": [{"days": "weekdays", "start": "09:00", "end": "17:00"}]}
    cal = Calendar(ScheduleConfig.model_validate(spec), "America/New_York")
    now = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    job_window = TimeWindow(time(1), time(4), frozenset(range(7)), "America/New_York")

    def ok(at: datetime) -> bool:
        local = at.astimezone(zone)
        peak = _in_hours(local, {0, 1, 2, 3, 4}, time(9), time(17))
        return time(1) <= local.time() < time(4) and not peak

    spans = window_spans(job_window, now, now + HORIZON)
    allowed = allowed_segments(
        cal.timeline(now, 15), lambda s: runs_in("off_peak", "mute", s), now, now + HORIZON, spans
    )
    load, failures = _random_profiles(3)
    got = best_windows(allowed, zone, timedelta(hours=2), now, load, failures, limit=100)
    _check_inside(got, now, ok)
    # 14 nights of 3 h hold one 2 h window each (13 on the short night: still one)
    assert len(got) == 14
    gap_night = [p for p in got if p.local_start.date() == date(2026, 3, 8)]
    assert gap_night and gap_night[0].end - gap_night[0].start == timedelta(hours=2)


def test_midnight_crossing_opening_at_the_start_of_the_horizon() -> None:
    """A site open 20:00-06:00 every night, asked at 03:00 local: the night that began
    yesterday is still open (the timeline once missed it), so a closed-hours job waits
    for 06:00."""
    zone = ZoneInfo("America/New_York")
    spec = {"name": "night", "open": [{"days": "daily", "start": "20:00", "end": "06:00"}]}
    cal = Calendar(ScheduleConfig.model_validate(spec), "America/New_York")
    now = datetime(2026, 11, 4, 8, 0, tzinfo=UTC)  # 03:00 EST

    def ok(at: datetime) -> bool:
        return not _in_hours(at.astimezone(zone), set(range(7)), time(20), time(6))

    allowed = allowed_segments(
        cal.timeline(now, 15), lambda s: runs_in("closed", "mute", s), now, now + HORIZON
    )
    got = best_windows(allowed, zone, timedelta(hours=1), now, limit=400)
    _check_inside(got, now, ok)
    assert min(p.local_start for p in got).time() == time(6)
    assert len(got) == 14 * 14  # 06:00-20:00 holds 14 one-hour windows a day


def test_calendar_timeline_agrees_with_state_at_after_a_midnight_crossing_night() -> None:
    """The timeline's first segments say what ``state_at`` says (the fix: the day before
    is looked at too)."""
    spec = {"name": "night", "open": [{"days": "daily", "start": "20:00", "end": "06:00"}]}
    cal = Calendar(ScheduleConfig.model_validate(spec), "Europe/Berlin")
    now = datetime(2026, 6, 3, 1, 0, tzinfo=UTC)
    for seg in cal.timeline(now, 2):
        at = seg.start
        while at < seg.end:
            assert cal.state_at(at) == seg.state, at
            at += timedelta(minutes=30)


# -- the ranking, on profiles whose best window is known -------------------------------------
def _open_always(now: datetime, zone: str = "Europe/Berlin") -> tuple[list[Any], ZoneInfo]:
    cal = Calendar(ALWAYS, zone)
    allowed = allowed_segments(cal.timeline(now, 15), lambda s: True, now, now + HORIZON)
    return allowed, cal.zone


def _slot(day: int, hour: int) -> int:
    return day * 24 + hour


NOW = datetime(2026, 6, 1, 10, 20, tzinfo=UTC)  # a Monday, no DST change in 14 days


def test_the_quiet_hours_win_on_load() -> None:
    """Load 10 everywhere, 1 on Wednesdays 03:00-05:00: the best 2 h window is Wed 03:00."""
    allowed, zone = _open_always(NOW)
    values = [10.0] * SLOTS
    values[_slot(2, 3)] = values[_slot(2, 4)] = 1.0
    load = LoadProfile(tuple(values), (8,) * SLOTS)
    got = best_windows(allowed, zone, timedelta(hours=2), NOW, load)
    first = got[0]
    assert (first.local_start.weekday(), first.local_start.hour) == (2, 3)
    assert first.local_start.date() == date(2026, 6, 3)  # the first Wednesday, ties by time
    assert got[1].local_start.date() == date(2026, 6, 10)
    assert first.load_share == pytest.approx(2 / (166 * 10 + 2))
    assert first.confidence == 1.0
    assert first.reason.startswith("Wed 03:00–05:00: site open, 0.1 % of weekly traffic")


def test_the_reliable_hour_wins_on_failures() -> None:
    """Flat load; a third of runs fail in every hour but Thursday 14:00 (40 runs, none
    failed) and Tuesday 09:00 (1 run, not failed): Thursday wins, the lucky single run
    does not (shrinkage toward the pooled rate)."""
    allowed, zone = _open_always(NOW)
    runs, failed = [30] * SLOTS, [10] * SLOTS
    runs[_slot(3, 14)], failed[_slot(3, 14)] = 40, 0
    runs[_slot(1, 9)], failed[_slot(1, 9)] = 1, 0
    load = LoadProfile((5.0,) * SLOTS, (8,) * SLOTS)
    got = best_windows(
        allowed, zone, timedelta(hours=1), NOW, load, FailureProfile(tuple(runs), tuple(failed))
    )
    assert (got[0].local_start.weekday(), got[0].local_start.hour) == (3, 14)
    assert (got[2].local_start.weekday(), got[2].local_start.hour) == (1, 9)
    assert got[0].runs == 40 and got[0].failed == 0
    assert got[0].confidence == pytest.approx(40 / 50)
    assert got[0].reason.endswith("0 of 40 runs failed")
    assert got[0].score == 100.0


def test_the_cheapest_hour_is_not_proposed_when_the_calendar_forbids_it() -> None:
    """The quietest hour is Monday 12:00 while the site is open; a closed-hours job gets
    Sunday 02:00-04:00 (closed, the next quietest), and the reason says so."""
    spec = {"name": "office", "open": [{"days": "weekdays", "start": "08:00", "end": "18:00"}]}
    cal = Calendar(ScheduleConfig.model_validate(spec), "Europe/Berlin")
    values = [50.0] * SLOTS
    values[_slot(0, 12)] = 0.5
    values[_slot(6, 2)] = values[_slot(6, 3)] = 1.5
    load = LoadProfile(tuple(values), (2,) * SLOTS)
    runs = [0] * SLOTS
    runs[_slot(6, 2)], runs[_slot(6, 3)] = 21, 20
    failures = FailureProfile(tuple(runs), (0,) * SLOTS)
    allowed = allowed_segments(
        cal.timeline(NOW, 15), lambda s: runs_in("closed", "mute", s), NOW, NOW + HORIZON
    )
    got = best_windows(allowed, cal.zone, timedelta(hours=2), NOW, load, failures)
    assert (got[0].local_start.weekday(), got[0].local_start.hour) == (6, 2)
    total = 50.0 * 165 + 0.5 + 3.0
    share = round(100 * 3.0 / total, 1)
    assert (
        got[0].reason
        == f"Sun 02:00–04:00: site closed, {share} % of weekly traffic, 0 of 41 runs failed"
    )
    assert got[0].confidence == 0.5  # 2 weeks of load of 4; 41 runs would give 0.80
    assert all(
        p.local_start.weekday() >= 5 or p.local_start.hour < 8 or p.local_start.hour >= 18
        for p in got
    )


def test_without_history_the_calendar_alone_orders_by_time() -> None:
    allowed, zone = _open_always(NOW)
    got = best_windows(allowed, zone, timedelta(hours=1), NOW, limit=3)
    assert [p.start for p in got] == [
        datetime(2026, 6, 1, 11, tzinfo=UTC) + timedelta(hours=k) for k in range(3)
    ]
    assert all(
        p.confidence == 0 and "no load history" in p.reason and "no run history" in p.reason
        for p in got
    )


def test_no_allowed_time_gives_no_window() -> None:
    cal = Calendar(ALWAYS, "UTC")  # never closed
    allowed = allowed_segments(
        cal.timeline(NOW, 15), lambda s: runs_in("closed", "mute", s), NOW, NOW + HORIZON
    )
    assert allowed == []
    assert best_windows(allowed, cal.zone, timedelta(hours=1), NOW) == []


def test_a_window_longer_than_any_allowed_stretch_is_not_proposed() -> None:
    spec = {"name": "office", "open": [{"days": "daily", "start": "06:00", "end": "23:00"}]}
    cal = Calendar(ScheduleConfig.model_validate(spec), "Europe/Berlin")
    allowed = allowed_segments(
        cal.timeline(NOW, 15), lambda s: runs_in("closed", "mute", s), NOW, NOW + HORIZON
    )
    assert len(best_windows(allowed, cal.zone, timedelta(hours=7), NOW, limit=50)) == 14
    assert best_windows(allowed, cal.zone, timedelta(hours=8), NOW) == []


# -- profiles from history ---------------------------------------------------------------------
def test_load_profile_is_a_mean_of_weekly_means_in_local_time() -> None:
    """Three weeks of hourly points in Berlin across the spring-forward: each local slot's
    value is the mean of its weeks (a slot read twice in a week counts once)."""
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 16, 0, tzinfo=zone).astimezone(UTC)  # Monday, local midnight
    points = []
    at = start
    week = 0
    while at < start + timedelta(weeks=3):
        local = at.astimezone(zone)
        week = (local.date() - date(2026, 3, 16)).days // 7
        points.append((at, float(local.hour + 100 * week)))
        at += timedelta(hours=1)
    profile = load_profile(points, zone)
    assert profile.values[_slot(2, 13)] == pytest.approx(13 + 100)  # weeks 0, 1, 2
    assert profile.weeks[_slot(2, 13)] == 3
    # Sunday 29 Mar 02:00 does not exist: that slot has weeks 0 and 2 only
    assert profile.weeks[_slot(6, 2)] == 2
    assert profile.values[_slot(6, 2)] == pytest.approx(2 + 100)
    assert slot_of(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), zone) == _slot(6, 3)


def test_failure_profile_counts_by_local_hour_of_week() -> None:
    zone = ZoneInfo("Asia/Kolkata")  # +05:30: local hours start at :30 UTC
    runs = [
        (datetime(2026, 6, 1, 0, 29, tzinfo=UTC), True),  # Mon 05:59 local
        (datetime(2026, 6, 1, 0, 30, tzinfo=UTC), False),  # Mon 06:00 local
        (datetime(2026, 6, 8, 0, 45, tzinfo=UTC), True),  # the next Monday 06:15
    ]
    profile = failure_profile(runs, zone)
    assert (profile.runs[5], profile.failed[5]) == (1, 1)
    assert (profile.runs[6], profile.failed[6]) == (2, 1)
    assert sum(profile.runs) == 3
