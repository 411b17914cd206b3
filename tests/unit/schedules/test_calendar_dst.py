"""Maintenance windows and opening hours are exact across DST changes and midnight.

Property tests: thousands of random RRULEs x zones with DST changes (and odd ones: Lord
Howe's 30-minute shift, Dublin's negative DST, Chatham's +12:45), each window's start
compared with dateutil's own reading of the same rule in the same zone (dateutil.tz and
``resolve_imaginary``: an implementation independent of the zoneinfo one netgauge uses),
and no day with a double or missing window.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dtz
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netgauge.config.schedules import ScheduleConfig
from netgauge.schedules.calendar import Calendar

ZONES = [
    "Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago",
    "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns", "Europe/Dublin",
    "Africa/Casablanca", "America/Havana", "Asia/Tehran", "Europe/London",
]  # fmt: skip
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def calendar(zone: str, **spec: object) -> Calendar:
    return Calendar(ScheduleConfig.model_validate({"name": "s", **spec}), zone)


@st.composite
def rules(draw: st.DrawFn) -> tuple[str, datetime, int]:
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "HOURLY"]))
    parts = [f"FREQ={freq}", f"INTERVAL={draw(st.integers(1, 3))}"]
    if freq != "HOURLY":
        hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=2, unique=True))
        parts.append("BYHOUR=" + ",".join(map(str, sorted(hours))))
    minutes = draw(st.lists(st.sampled_from([0, 15, 30, 45]), min_size=1, max_size=2, unique=True))
    parts.append("BYMINUTE=" + ",".join(map(str, sorted(minutes))))
    if freq == "WEEKLY":
        days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True))
        parts.append("BYDAY=" + ",".join(days))
    if freq == "MONTHLY":
        parts.append(f"BYDAY={draw(st.sampled_from(['1SU', '-1SU', '2SA', '1MO']))}")
    # first occurrence near a DST change (March-April, September-November) of 2025-2027
    month = draw(st.sampled_from([2, 3, 4, 9, 10, 11]))
    start = datetime(
        draw(st.integers(2025, 2027)),
        month,
        draw(st.integers(1, 28)),
        draw(st.integers(0, 23)),
        draw(st.sampled_from([0, 30])),
    )
    return ";".join(parts), start, draw(st.integers(15, 180))


def by_dateutil(wall: datetime, zone: str) -> datetime:
    """A wall time read by dateutil in dateutil's zone (a gap's time resolved forward)."""
    return dtz.resolve_imaginary(wall.replace(tzinfo=dtz.gettz(zone))).astimezone(UTC)


def by_gnu_date(wall: datetime, zone: str) -> datetime | None:
    """The same by GNU date (None: date refuses it, a time in the gap)."""
    done = subprocess.run(
        ["date", "-d", wall.strftime("%Y-%m-%d %H:%M"), "+%s"],
        env={"TZ": zone, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return datetime.fromtimestamp(int(done.stdout), UTC) if done.returncode == 0 else None


DISAGREEMENTS: Counter[str] = Counter()


def truth(wall: datetime, zone: str) -> datetime:
    """The instant of ``wall`` in ``zone``: dateutil's, and where it differs from the
    zoneinfo reading, GNU date's (dateutil misreads negative DST: Europe/Dublin's winter,
    Africa/Casablanca's Ramadan, where 03:00 on 2027-02-07 is 03:00 UTC, not 01:00). In a
    gap GNU date refuses the time: dateutil's reading (moved forward) stands."""
    theirs = by_dateutil(wall, zone)
    if theirs == wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC):
        return theirs
    return by_gnu_date(wall, zone) or theirs


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules(), st.sampled_from(ZONES))
def test_window_starts_match_dateutil(rule_start: tuple[str, datetime, int], zone: str) -> None:
    """Every occurrence's instant is dateutil's; where dateutil and netgauge differ, GNU
    date (the standard tool) decides, and must side with netgauge (dateutil misreads
    Europe/Dublin's negative DST on the autumn night: 02:00 GMT as 00:00 UTC)."""
    rule, start, minutes = rule_start
    spec = {"rrule": rule, "start": start, "duration": f"{minutes}m"}
    cal = calendar(zone, maintenance=[spec])
    until = start + timedelta(days=45)
    walls = list(rrulestr(rule, dtstart=start).between(start, until, inc=True))
    expected = set()
    for wall in walls:
        theirs = by_dateutil(wall, zone)
        ours = wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        if ours != theirs:
            DISAGREEMENTS[zone] += 1
            assert by_gnu_date(wall, zone) == ours, (rule, zone, wall, ours, theirs)
        expected.add(ours)
    frm = min(expected, default=datetime(2000, 1, 1, tzinfo=UTC))
    to = max(expected, default=frm) + timedelta(microseconds=1)
    found = [w for w in cal.windows(frm, to) if w.start >= frm]
    assert [w.start for w in found] == sorted(expected)  # each once: none doubled or missing
    assert all(w.end - w.start == timedelta(minutes=minutes) for w in found)


def assert_maintenance_exactly_inside(
    rule: str, start: datetime, minutes: int, zone: str, offsets: list[int]
) -> None:
    """``state_at`` (asked at ``offsets`` minutes after the first occurrence, one after
    another as the dispatcher does, and at every window's edges) says "maintenance" exactly
    inside the windows the rule gives (``truth``: dateutil's reading, GNU date's where
    dateutil and zoneinfo differ)."""
    cal = calendar(zone, maintenance=[{"rrule": rule, "start": start, "duration": f"{minutes}m"}])
    length = timedelta(minutes=minutes)
    # The truth reaches 10 days past every probe: a probe at the last window's end may be
    # the start of the next one (a window ending at 00:15 where the next begins).
    walls = rrulestr(rule, dtstart=start).between(start, start + timedelta(days=30), inc=True)
    spans = [(o, o + length) for o in (truth(w, zone) for w in walls)]
    first = truth(start, zone)
    probes = [first + timedelta(minutes=m) for m in offsets]
    for begin, end in [s for s in spans if s[0] < first + timedelta(days=20)][:10]:
        probes += [begin - timedelta(microseconds=1), begin, end - timedelta(microseconds=1), end]
    for at in sorted(probes):
        inside = any(b <= at < e for b, e in spans)
        assert (cal.state_at(at).maintenance is not None) == inside, (rule, zone, at)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules(), st.sampled_from(ZONES), st.lists(st.integers(0, 19 * 1440)))
def test_in_maintenance_exactly_inside_dateutils_windows(
    rule_start: tuple[str, datetime, int], zone: str, offsets: list[int]
) -> None:
    assert_maintenance_exactly_inside(*rule_start, zone, offsets)


def test_casablancas_ramadan_change_is_read_as_gnu_date_reads_it() -> None:
    """CI found it: Morocco's negative DST (+01 to +00 on 2027-02-07 at 03:00), which
    dateutil reads two hours early; GNU date and netgauge agree."""
    rule = "FREQ=HOURLY;INTERVAL=3;BYMINUTE=0"
    assert_maintenance_exactly_inside(rule, datetime(2027, 2, 6), 15, "Africa/Casablanca", [])


def test_windows_that_touch_are_told_apart_at_the_edge() -> None:
    """CI found it: a window ending at 00:15 where the next begins (the truth's horizon
    once stopped between them)."""
    rule = "FREQ=WEEKLY;INTERVAL=1;BYHOUR=0;BYMINUTE=0,15;BYDAY=MO"
    assert_maintenance_exactly_inside(rule, datetime(2025, 4, 1), 15, "Europe/Berlin", [])


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("wall", [time(0, 0), time(1, 30), time(2, 0), time(2, 30), time(3, 0)])
def test_a_daily_window_happens_exactly_once_every_day_of_the_year(zone: str, wall: time) -> None:
    start = datetime.combine(date(2026, 1, 1), wall)
    cal = calendar(zone, maintenance=[{"rrule": "FREQ=DAILY", "start": start, "duration": "1h"}])
    z = ZoneInfo(zone)
    frm = datetime(2026, 1, 1, tzinfo=z).astimezone(UTC)
    to = datetime(2027, 1, 1, tzinfo=z).astimezone(UTC)
    windows = [w for w in cal.windows(frm, to) if w.start >= frm]
    per_day = Counter(
        (w.start.astimezone(z) - (w.start.astimezone(z).utcoffset() or timedelta())).date()
        for w in windows
    )
    assert len(windows) == 365
    # each window begins on its own local day, or (a wall time in the gap) one hour later
    days = Counter(w.start.astimezone(z).date() for w in windows)
    assert len(days) >= 364 and max(days.values()) == 1, per_day.most_common(2)


def test_a_window_in_the_spring_gap_starts_at_the_new_time_and_lasts_its_duration() -> None:
    # Europe/Berlin 2026-03-29: 02:00 CET becomes 03:00 CEST
    cal = calendar(
        "Europe/Berlin",
        maintenance=[{"rrule": "FREQ=DAILY", "start": "2026-03-28T02:30", "duration": "2h"}],
    )
    day = datetime(2026, 3, 29, tzinfo=UTC)
    [w] = [w for w in cal.windows(day, day + timedelta(days=1)) if w.start >= day]
    assert w.start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert w.end - w.start == timedelta(hours=2)


def test_a_window_in_the_repeated_autumn_hour_happens_once() -> None:
    # Europe/Berlin 2026-10-25: 02:00-03:00 happens twice (CEST, then CET)
    cal = calendar(
        "Europe/Berlin",
        maintenance=[{"rrule": "FREQ=DAILY", "start": "2026-10-24T02:30", "duration": "30m"}],
    )
    day = datetime(2026, 10, 24, 22, tzinfo=UTC)
    found = [w for w in cal.windows(day, day + timedelta(hours=6)) if w.start >= day]
    assert [w.start for w in found] == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]  # the first


def test_opening_hours_are_wall_times_and_cross_midnight() -> None:
    cal = calendar(
        "America/New_York",
        open=[
            {"days": "weekdays", "start": "08:00", "end": "18:00"},
            {"days": ["sat"], "start": "22:00", "end": "02:00"},
        ],
    )
    z = ZoneInfo("America/New_York")

    def at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
        return datetime(year, month, day, hour, minute, tzinfo=z).astimezone(UTC)

    # 2026-03-09 is the Monday after the spring change: 08:00 is still 08:00 local
    assert not cal.state_at(at(2026, 3, 9, 7, 59)).open
    assert cal.state_at(at(2026, 3, 9, 8, 0)).open
    assert not cal.state_at(at(2026, 3, 9, 18, 0)).open
    assert cal.state_at(at(2026, 3, 7, 23, 0)).open  # Saturday night
    assert cal.state_at(at(2026, 3, 8, 1, 59)).open  # Sunday, the tail of Saturday's hours
    assert not cal.state_at(at(2026, 3, 8, 3, 0)).open


def test_holidays_close_the_site_by_country_and_listed_dates() -> None:
    cal = calendar(
        "Europe/Berlin",
        open=[{"days": "daily", "start": "00:00", "end": "00:00"}],
        holidays={"country": "DE", "subdiv": "BE", "dates": ["2026-12-31"]},
    )
    z = ZoneInfo("Europe/Berlin")
    state = cal.state_at(datetime(2026, 3, 8, 12, tzinfo=z))  # International Women's Day, Berlin
    assert not state.open and state.holiday is not None and state.label == "holiday"
    assert cal.state_at(datetime(2026, 12, 31, 12, tzinfo=z)).label == "holiday"
    assert cal.state_at(datetime(2026, 12, 30, 12, tzinfo=z)).label == "open"


def test_the_timeline_covers_each_day_and_marks_the_changes() -> None:
    cal = calendar(
        "Europe/Berlin",
        open=[{"days": "weekdays", "start": "08:00", "end": "18:00"}],
        peak=[{"days": "weekdays", "start": "09:00", "end": "11:00"}],
        maintenance=[
            {
                "rrule": "FREQ=WEEKLY;BYDAY=SU",
                "start": "2026-03-01T02:00",
                "duration": "2h",
                "name": "patch",
            }
        ],
    )
    start = datetime(2026, 3, 23, 12, tzinfo=UTC)  # a week with the spring change (29th)
    segments = cal.timeline(start, 14)
    z = ZoneInfo("Europe/Berlin")
    assert segments[0].start == datetime(2026, 3, 23, tzinfo=z)
    assert segments[-1].end == datetime(2026, 4, 6, tzinfo=z)
    assert all(a.end == b.start for a, b in zip(segments, segments[1:], strict=False))
    labels = Counter(s.state.label for s in segments)
    assert labels["maintenance"] == 2 and labels["peak"] == 10
    patch = [s for s in segments if s.state.label == "maintenance"]
    assert [s.end - s.start for s in patch] == [timedelta(hours=2)] * 2


@pytest.mark.parametrize(
    "spec, problem",
    [
        (
            {
                "maintenance": [
                    {"rrule": "FREQ=MINUTELY", "start": "2026-01-01T00:00", "duration": "1h"}
                ]
            },
            "at most hourly",
        ),
        (
            {
                "maintenance": [
                    {"rrule": "FREQ=DAILY;BYFOO=1", "start": "2026-01-01T00:00", "duration": "1h"}
                ]
            },
            "not an RFC 5545 RRULE",
        ),
        ({"maintenance": [{"rrule": "FREQ=DAILY", "start": "2026-01-01T00:00"}]}, "needs duration"),
        (
            {"maintenance": [{"start": "2026-01-01T10:00", "end": "2026-01-01T09:00"}]},
            "after start",
        ),
        ({"holidays": {"country": "XX"}}, "unknown country"),
        ({"holidays": {"country": "DE", "subdiv": "ZZ"}}, "unknown subdivision"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"open": [{"days": "someday", "start": "08:00", "end": "18:00"}]}, "unknown day"),
    ],
)
def test_bad_schedules_are_refused_in_words(spec: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ScheduleConfig.model_validate({"name": "s", **spec})
