"""Time windows: the local wall-clock hours, on chosen weekdays, in which a job may run.

Semantics (all comparisons are made on *local wall time* in the window's ``timezone``):

* ``start_time`` is inclusive, ``end_time`` exclusive; ``None`` means 00:00 and 24:00.
* ``end_time <= start_time`` crosses midnight, and the window belongs to the day it *opens*
  on: ``days={fri}, 22:00-06:00`` covers Friday 22:00 to Saturday 06:00. ``start == end``
  is therefore a 24-hour window starting at ``start``.
* DST gap (spring forward): a wall time that does not exist is never observed, so a window
  whose start falls in the gap opens at the first instant after the gap. A window lying
  entirely inside the gap does not open that day.
* DST fold (fall back): a repeated wall time is inside the window both times it occurs.

An *occurrence* is the part of the window that belongs to one opening day ``D``: every instant
whose local wall time lies in ``[D start_time, end)``. :meth:`TimeWindow.occurrence_spans` gives
it as UTC stretches: usually one; none when it lies entirely inside a DST gap; two when a
boundary sits in a repeated (fall-back) hour, e.g. 02:10-02:50 on the fall-back night is inside
from 02:10 to 02:50 on both sides of the jump. Occurrences of different days never share an
instant. The scheduler anchors the cadence of windowed jobs at each occurrence's first instant.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["TimeWindow", "parse_days"]

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ALIASES: dict[str, frozenset[int]] = {
    **{name: frozenset({i}) for i, name in enumerate(_DAY_NAMES)},
    **{name[:3]: frozenset({i}) for i, name in enumerate(_DAY_NAMES)},
    "weekdays": frozenset(range(5)),
    "weekend": frozenset({5, 6}),
    "daily": frozenset(range(7)),
}
_DAYS_HELP = "use mon..sun, monday..sunday, 0..6 (0=Monday), weekdays, weekend or daily"

# How far next_open looks ahead. A weekly window can be swallowed by a DST gap once, so two
# weeks (plus slack) always reaches an opening if the window ever opens at all.
_SEARCH_DAYS = 16
# Time zones change offset at most a few times a year; sampling every 6 hours finds every
# transition except two that cancel out within 6 hours, which tzdata does not contain.
_TRANSITION_STEP = dt.timedelta(hours=6)
_ONE_DAY = dt.timedelta(days=1)
_MIDNIGHT = dt.time(0, 0)


def parse_days(values: Iterable[str | int] | str) -> frozenset[int]:
    """Turn day names/numbers ("mon", "monday", 0..6, "weekdays", "weekend", "daily") into 0..6."""
    if isinstance(values, str):  # a lone "weekdays" must not be read letter by letter
        values = [values]
    days: set[int] = set()
    for value in values:
        days |= _parse_day(value)
    if not days:
        raise ValueError(f"days must name at least one day: {_DAYS_HELP}")
    return frozenset(days)


def _parse_day(value: str | int) -> frozenset[int]:
    """One day spec to its day numbers."""
    if isinstance(value, bool):  # bool is an int subclass; True is not "Tuesday"
        raise ValueError(f"invalid day {value!r}: {_DAYS_HELP}")
    if isinstance(value, int):
        if 0 <= value <= 6:
            return frozenset({value})
        raise ValueError(f"invalid day number {value}: {_DAYS_HELP}")
    if isinstance(value, str):
        found = _DAY_ALIASES.get(value.strip().lower())
        if found is not None:
            return found
    raise ValueError(f"unknown day {value!r}: {_DAYS_HELP}")


def _require_aware(at: dt.datetime) -> None:
    """Reject naive datetimes: a window cannot guess which zone they are in."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"timezone-aware datetime required, got naive {at!r}")


@dataclass(frozen=True)
class TimeWindow:
    """Local wall-clock hours on chosen weekdays (midnight and DST rules: module docstring)."""

    start_time: dt.time | None = None
    end_time: dt.time | None = None
    days: frozenset[int] = frozenset(range(7))  # 0=Monday..6=Sunday: the day the window OPENS
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))  # accept any iterable, stay hashable
        if not self.days <= frozenset(range(7)):
            raise ValueError(f"days must be 0..6 (0=Monday), got {sorted(self.days)}")
        for label, value in (("start_time", self.start_time), ("end_time", self.end_time)):
            if value is not None and value.tzinfo is not None:
                raise ValueError(f"{label} must be a naive wall time; the zone is `timezone`")
        self._zone()  # fail at construction, not at the first check

    @property
    def crosses_midnight(self) -> bool:
        """True when the window ends on the day after it opens (end_time <= start_time)."""
        return self.end_time is not None and self.end_time <= self._start

    def contains(self, at: dt.datetime) -> bool:
        """Whether the aware instant ``at`` is inside the window."""
        _require_aware(at)
        wall = at.astimezone(self._zone()).replace(tzinfo=None)
        clock, today = wall.time(), wall.date()
        if today.weekday() in self.days and clock >= self._start:
            if self.crosses_midnight or self._before_end(clock):
                return True
        yesterday = (today - _ONE_DAY).weekday()
        return self.crosses_midnight and yesterday in self.days and self._before_end(clock)

    def next_open(self, after: dt.datetime) -> dt.datetime | None:
        """Earliest instant >= ``after`` inside the window, in UTC; None if it never opens."""
        _require_aware(after)
        if not self.days:
            return None
        if self.contains(after):
            return after.astimezone(dt.UTC)
        # The window is entered either where wall time reaches start_time (either fold) or at
        # a DST transition (gap end / fall-back jump); the earliest such instant inside wins.
        candidates = (c for c in self._entry_points(after) if c >= after and self.contains(c))
        return min(candidates, default=None)

    def occurrence_spans(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        """The occurrence opening on local ``day`` as sorted, disjoint UTC ``[start, end)`` spans.

        Empty when ``day`` is not listed or the whole occurrence falls into a DST gap; its
        opening is the first span's start (after the gap if start_time lies in one).
        """
        if day.weekday() not in self.days:
            return ()
        return _occurrence_spans(self, day)

    def local_date(self, at: dt.datetime) -> dt.date:
        """The calendar date of the aware instant ``at`` in the window's timezone."""
        _require_aware(at)
        return at.astimezone(self._zone()).date()

    @property
    def _start(self) -> dt.time:
        return self.start_time if self.start_time is not None else _MIDNIGHT

    def _before_end(self, clock: dt.time) -> bool:
        return self.end_time is None or clock < self.end_time

    def _zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)  # ZoneInfo caches instances: cheap to call often
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r} (use an IANA name)") from exc

    def _entry_points(self, after: dt.datetime) -> Iterator[dt.datetime]:
        """Instants at which the window may open, from the day before ``after`` on."""
        zone = self._zone()
        first_day = after.astimezone(zone).date() - _ONE_DAY
        for offset in range(_SEARCH_DAYS + 2):
            day = first_day + dt.timedelta(days=offset)
            if day.weekday() in self.days:
                wall = dt.datetime.combine(day, self._start)
                for fold in (0, 1):
                    yield wall.replace(tzinfo=zone, fold=fold).astimezone(dt.UTC)
        yield from _transitions(zone, after, after + dt.timedelta(days=_SEARCH_DAYS))


@functools.lru_cache(maxsize=4096)
def _occurrence_spans(
    window: TimeWindow, day: dt.date
) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """UTC spans of the instants whose wall time lies in the occurrence of ``day`` (cached)."""
    zone = window._zone()
    opens = dt.datetime.combine(day, window._start)
    if window.end_time is None:
        closes = dt.datetime.combine(day + _ONE_DAY, _MIDNIGHT)
    elif window.crosses_midnight:
        closes = dt.datetime.combine(day + _ONE_DAY, window.end_time)
    else:
        closes = dt.datetime.combine(day, window.end_time)
    # Membership only changes where wall time crosses `opens` or `closes`: at one of their two
    # fold readings, or at an offset transition between those readings (a jump over them).
    # Outside the readings the wall time is before `opens` or after `closes`.
    readings = {
        wall.replace(tzinfo=zone, fold=fold).astimezone(dt.UTC)
        for wall in (opens, closes)
        for fold in (0, 1)
    }
    first, last = min(readings), max(readings)
    jumps = _transitions(zone, first - dt.timedelta(microseconds=1), last)
    points = sorted(readings | {jump for jump in jumps if jump < last})
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for begin, end in itertools.pairwise(points):
        if opens <= begin.astimezone(zone).replace(tzinfo=None) < closes:  # constant until `end`
            if spans and spans[-1][1] == begin:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((begin, end))
    return tuple(spans)


def _transitions(zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """UTC instants in (start, end] at which ``zone`` changes its UTC offset."""
    low = start.astimezone(dt.UTC)
    while low < end:
        high = low + _TRANSITION_STEP
        if _offset(zone, low) != _offset(zone, high):
            yield _bisect_transition(zone, low, high)
        low = high


def _bisect_transition(zone: ZoneInfo, low: dt.datetime, high: dt.datetime) -> dt.datetime:
    """First instant in (low, high] with high's offset; ~35 halvings to one microsecond."""
    before = _offset(zone, low)
    while high - low > dt.timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if _offset(zone, middle) == before:
            low = middle
        else:
            high = middle
    return high


def _offset(zone: ZoneInfo, at: dt.datetime) -> dt.timedelta | None:
    return at.astimezone(zone).utcoffset()
