"""TimeWindow: days, midnight crossing, time zones, DST gaps and folds; parse_days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from netgauge.scheduler import TimeWindow, parse_days

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# 2024-01-05 is a Friday.
FRIDAY_NIGHT = TimeWindow(time(22, 0), time(6, 0), frozenset({FRI}))


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        (utc(2024, 1, 5, 21, 59, 59), False),  # Friday, before opening
        (utc(2024, 1, 5, 22, 0), True),  # start is inclusive
        (utc(2024, 1, 5, 23, 59, 59), True),
        (utc(2024, 1, 6, 0, 0), True),  # Saturday morning belongs to Friday's window
        (utc(2024, 1, 6, 5, 59, 59, 999999), True),
        (utc(2024, 1, 6, 6, 0), False),  # end is exclusive
        (utc(2024, 1, 6, 22, 30), False),  # Saturday does not open a window
        (utc(2024, 1, 5, 3, 0), False),  # Friday early morning is Thursday's (closed) window
        (utc(2024, 1, 12, 23, 0), True),  # next Friday
    ],
)
def test_window_crossing_midnight_belongs_to_the_day_it_opens(at: datetime, inside: bool) -> None:
    assert FRIDAY_NIGHT.contains(at) is inside
    assert FRIDAY_NIGHT.crosses_midnight


def test_plain_window_is_start_inclusive_end_exclusive_on_listed_days() -> None:
    window = TimeWindow(time(9, 0), time(17, 0), parse_days(["weekdays"]))
    assert window.contains(utc(2024, 1, 1, 9, 0))  # Monday
    assert not window.contains(utc(2024, 1, 1, 8, 59, 59))
    assert not window.contains(utc(2024, 1, 1, 17, 0))
    assert not window.contains(utc(2024, 1, 6, 12, 0))  # Saturday
    assert not window.crosses_midnight


def test_open_ended_bounds_mean_midnight() -> None:
    assert TimeWindow().contains(utc(2024, 1, 1, 0, 0))
    evening = TimeWindow(start_time=time(20, 0))
    assert evening.contains(utc(2024, 1, 1, 23, 59, 59))
    assert not evening.contains(utc(2024, 1, 2, 0, 0))
    morning = TimeWindow(end_time=time(6, 0))
    assert morning.contains(utc(2024, 1, 1, 0, 0))
    assert not morning.contains(utc(2024, 1, 1, 6, 0))


def test_equal_start_and_end_is_a_24_hour_window_from_start() -> None:
    window = TimeWindow(time(12, 0), time(12, 0), frozenset({MON}))
    assert window.contains(utc(2024, 1, 1, 12, 0))  # Monday noon
    assert window.contains(utc(2024, 1, 2, 11, 59))  # Tuesday before noon
    assert not window.contains(utc(2024, 1, 2, 12, 0))
    assert not window.contains(utc(2024, 1, 1, 11, 59))


def test_times_are_local_to_the_window_timezone() -> None:
    window = TimeWindow(time(9, 0), time(17, 0), timezone="America/New_York")
    assert window.contains(utc(2024, 1, 10, 14, 0))  # 09:00 EST
    assert not window.contains(utc(2024, 1, 10, 13, 59))
    assert window.contains(utc(2024, 7, 10, 13, 0))  # 09:00 EDT
    assert not window.contains(utc(2024, 7, 10, 21, 0))  # 17:00 EDT


def test_days_are_judged_in_local_time() -> None:
    # 2024-01-01 23:30 UTC is already Tuesday in Tokyo.
    tuesday_tokyo = TimeWindow(days=frozenset({TUE}), timezone="Asia/Tokyo")
    assert tuesday_tokyo.contains(utc(2024, 1, 1, 23, 30))
    assert not TimeWindow(days=frozenset({TUE})).contains(utc(2024, 1, 1, 23, 30))


def test_any_aware_timezone_is_accepted_as_input() -> None:
    tokyo_noon = datetime(2024, 1, 1, 12, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    assert TimeWindow(time(11, 0), time(13, 0)).contains(tokyo_noon)


# --- DST: Europe/Berlin springs forward 2024-03-31 02:00 CET -> 03:00 CEST (01:00 UTC) and
# falls back 2024-10-27 03:00 CEST -> 02:00 CET (01:00 UTC).


def test_berlin_gap_window_opens_at_first_instant_after_the_gap() -> None:
    window = TimeWindow(time(2, 30), time(4, 0), frozenset({SUN}), "Europe/Berlin")
    assert not window.contains(utc(2024, 3, 31, 0, 59, 59))  # 01:59:59 CET
    assert window.contains(utc(2024, 3, 31, 1, 0))  # 03:00 CEST
    assert window.next_open(utc(2024, 3, 30, 12, 0)) == utc(2024, 3, 31, 1, 0)
    assert not window.contains(utc(2024, 3, 31, 2, 0))  # 04:00 CEST


def test_berlin_window_entirely_inside_the_gap_skips_that_day() -> None:
    window = TimeWindow(time(2, 0), time(2, 30), frozenset({SUN}), "Europe/Berlin")
    assert window.next_open(utc(2024, 3, 30, 23, 0)) == utc(2024, 4, 7, 0, 0)  # 02:00 CEST


def test_berlin_repeated_hour_is_inside_both_times() -> None:
    window = TimeWindow(time(2, 0), time(2, 30), timezone="Europe/Berlin")
    assert window.contains(utc(2024, 10, 27, 0, 15))  # 02:15 CEST, first pass
    assert not window.contains(utc(2024, 10, 27, 0, 45))  # 02:45 CEST
    assert window.contains(utc(2024, 10, 27, 1, 15))  # 02:15 CET, second pass
    assert not window.contains(utc(2024, 10, 27, 1, 30))  # 02:30 CET
    # Between the two passes, the window reopens at the fall-back instant itself.
    assert window.next_open(utc(2024, 10, 27, 0, 45)) == utc(2024, 10, 27, 1, 0)


def test_berlin_window_starting_in_repeated_hour_reopens_at_second_occurrence() -> None:
    window = TimeWindow(time(2, 40), time(2, 50), timezone="Europe/Berlin")
    assert window.next_open(utc(2024, 10, 27, 0, 0)) == utc(2024, 10, 27, 0, 40)  # CEST
    assert window.next_open(utc(2024, 10, 27, 0, 50)) == utc(2024, 10, 27, 1, 40)  # CET


def test_berlin_night_window_is_an_hour_longer_across_fall_back() -> None:
    window = TimeWindow(time(22, 0), time(6, 0), frozenset({SAT}), "Europe/Berlin")
    assert window.contains(utc(2024, 10, 26, 20, 0))  # Sat 22:00 CEST
    assert window.contains(utc(2024, 10, 27, 4, 59))  # Sun 05:59 CET
    assert not window.contains(utc(2024, 10, 27, 5, 0))  # Sun 06:00 CET


# --- DST: America/New_York springs forward 2024-03-10 02:00 EST -> 03:00 EDT (07:00 UTC) and
# falls back 2024-11-03 02:00 EDT -> 01:00 EST (06:00 UTC).


def test_new_york_gap_start_opens_after_the_gap() -> None:
    window = TimeWindow(time(2, 15), time(5, 0), frozenset({SUN}), "America/New_York")
    assert window.next_open(utc(2024, 3, 10, 5, 0)) == utc(2024, 3, 10, 7, 0)  # 03:00 EDT
    assert not window.contains(utc(2024, 3, 10, 6, 59))  # 01:59 EST


def test_new_york_repeated_hour_is_inside_both_times() -> None:
    window = TimeWindow(time(1, 0), time(1, 30), timezone="America/New_York")
    assert window.contains(utc(2024, 11, 3, 5, 15))  # 01:15 EDT
    assert not window.contains(utc(2024, 11, 3, 5, 45))  # 01:45 EDT
    assert window.contains(utc(2024, 11, 3, 6, 15))  # 01:15 EST
    assert window.next_open(utc(2024, 11, 3, 5, 45)) == utc(2024, 11, 3, 6, 0)


def test_new_york_business_hours_follow_dst() -> None:
    window = TimeWindow(time(9, 0), time(17, 0), parse_days("weekdays"), "America/New_York")
    assert window.next_open(utc(2024, 3, 8, 23, 0)) == utc(2024, 3, 11, 13, 0)  # Mon 09:00 EDT
    assert window.next_open(utc(2024, 3, 1, 23, 0)) == utc(2024, 3, 4, 14, 0)  # Mon 09:00 EST


# --- next_open


def test_next_open_inside_returns_the_instant_itself_in_utc() -> None:
    window = TimeWindow(time(9, 0), time(17, 0), timezone="Europe/Berlin")
    at = utc(2024, 1, 1, 10, 0)
    assert window.next_open(at) == at
    opened = window.next_open(at.astimezone(ZoneInfo("Europe/Berlin")))
    assert opened == at and opened.tzinfo is UTC


def test_next_open_finds_next_listed_day() -> None:
    assert FRIDAY_NIGHT.next_open(utc(2024, 1, 6, 6, 0)) == utc(2024, 1, 12, 22, 0)


def test_next_open_is_none_when_no_days() -> None:
    assert TimeWindow(days=frozenset()).next_open(utc(2024, 1, 1)) is None


def test_next_open_brute_force_agrees_on_a_dst_week() -> None:
    window = TimeWindow(time(1, 30), time(2, 45), frozenset({SAT, SUN}), "Europe/Berlin")
    start = utc(2024, 10, 25, 0, 0)
    step = timedelta(minutes=5)
    instants = [start + i * step for i in range(3 * 24 * 12)]
    inside = [t for t in instants if window.contains(t)]
    assert len(inside) == 15 + 15 + 9  # Sat 75 min; Sun 75 min + the repeated 02:00-02:45
    for at in instants:
        if at <= inside[-1]:
            assert window.next_open(at) == min(t for t in inside if t >= at), at


# --- validation


# --- occurrence_spans


def test_occurrence_spans_plain_and_across_midnight() -> None:
    assert FRIDAY_NIGHT.occurrence_spans(date(2024, 1, 5)) == (
        (utc(2024, 1, 5, 22, 0), utc(2024, 1, 6, 6, 0)),
    )
    assert FRIDAY_NIGHT.occurrence_spans(date(2024, 1, 6)) == ()  # Saturday is not listed


def test_occurrence_spans_dst_gap_and_fold() -> None:
    day = TimeWindow(time(2, 30), time(3, 30), timezone="Europe/Berlin")
    assert day.occurrence_spans(date(2024, 3, 31)) == (
        (utc(2024, 3, 31, 1, 0), utc(2024, 3, 31, 1, 30)),
    )
    inside_gap = TimeWindow(time(2, 0), time(2, 30), timezone="Europe/Berlin")
    assert inside_gap.occurrence_spans(date(2024, 3, 31)) == ()
    repeated = TimeWindow(time(2, 10), time(2, 50), timezone="Europe/Berlin")
    assert repeated.occurrence_spans(date(2024, 10, 27)) == (
        (utc(2024, 10, 27, 0, 10), utc(2024, 10, 27, 0, 50)),  # CEST
        (utc(2024, 10, 27, 1, 10), utc(2024, 10, 27, 1, 50)),  # CET
    )


def test_occurrence_spans_of_neighbouring_days_never_overlap() -> None:
    window = TimeWindow(time(2, 30), time(2, 30), timezone="Europe/Berlin")  # 24 h from 02:30
    spans = [s for d in range(24, 30) for s in window.occurrence_spans(date(2024, 10, d))]
    edges = sorted(spans)
    assert all(a[1] <= b[0] for a, b in zip(edges, edges[1:], strict=False))
    covered = sum((end - begin for begin, end in spans), timedelta())
    assert covered == utc(2024, 10, 30, 1, 30) - utc(2024, 10, 24, 0, 30)  # no hole either


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeWindow().contains(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeWindow().next_open(datetime(2024, 1, 1))


def test_unknown_timezone_is_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus'"):
        TimeWindow(timezone="Mars/Olympus")


def test_out_of_range_days_are_rejected() -> None:
    with pytest.raises(ValueError, match="days must be 0..6"):
        TimeWindow(days=frozenset({7}))


def test_aware_wall_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="start_time must be a naive wall time"):
        TimeWindow(start_time=time(9, 0, tzinfo=UTC))


def test_days_accepts_any_iterable_and_stays_hashable() -> None:
    window = TimeWindow(days=[MON, TUE])  # type: ignore[arg-type]
    assert window.days == frozenset({MON, TUE})
    assert hash(window) == hash(TimeWindow(days=frozenset({MON, TUE})))


# --- parse_days


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["mon"], {MON}),
        (["Monday", "TUE", " wed "], {MON, TUE, WED}),
        ([0, 6], {MON, SUN}),
        (["weekdays"], {MON, TUE, WED, THU, FRI}),
        (["weekend"], {SAT, SUN}),
        (["daily"], set(range(7))),
        (["weekend", "fri", 4], {FRI, SAT, SUN}),
        ("weekdays", {MON, TUE, WED, THU, FRI}),  # a lone string is one value, not letters
    ],
)
def test_parse_days(values: list[str | int] | str, expected: set[int]) -> None:
    assert parse_days(values) == frozenset(expected)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["funday"], "unknown day 'funday'"),
        ([7], "invalid day number 7"),
        ([-1], "invalid day number -1"),
        ([True], "invalid day True"),
        ([], "at least one day"),
        ([1.5], "unknown day 1.5"),
    ],
)
def test_parse_days_errors(values: list[object], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_days(values)  # type: ignore[arg-type]
    assert "mon..sun" in str(info.value)  # every message says what is accepted
