"""A site's calendar in instants: open, peak, holiday and maintenance at any UTC time.

Wall times are turned into instants by ``zoneinfo`` with ``fold=0``, which is what RFC 5545
asks of a recurrence: a wall time that does not exist (02:30 on the spring-forward night) is
read with the offset before the gap (so the window starts at 03:30 new time, not never);
one that exists twice (the autumn night) is its first occurrence (so the window happens
once, not twice). Recurrences are expanded by ``dateutil.rrule`` on wall times, so
"every Sunday 02:00" stays 02:00 local whatever the offset. Durations are exact (2 h is
2 h even across the change), as RFC 5545 says of hours and minutes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from netgauge.config.schedules import HoursConfig, MaintenanceConfig, ScheduleConfig
from netgauge.scheduler.window import TimeWindow, parse_days

MIDNIGHT = time(0, 0)


@dataclass(frozen=True, slots=True)
class Window:
    """One maintenance window, in UTC."""

    name: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class SiteState:
    """What a site is at one instant."""

    open: bool
    peak: bool
    holiday: str | None = None  # the holiday's name
    maintenance: Window | None = None

    @property
    def label(self) -> str:
        """One word for a grid cell: maintenance > holiday > peak > open > closed."""
        if self.maintenance is not None:
            return "maintenance"
        if self.holiday is not None:
            return "holiday"
        return "peak" if self.peak else "open" if self.open else "closed"


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time in one state (for the week grid)."""

    start: datetime
    end: datetime
    state: SiteState


HOURS_KEPT = 4  # hours of windows a calendar remembers (now, and the odd look back)


def localize(wall: datetime, zone: ZoneInfo) -> datetime:
    """A wall time of ``zone`` as an aware UTC instant (fold=0: see the module docstring)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _hours(cfg: HoursConfig, zone: str) -> TimeWindow:
    """Opening or peak hours are the scheduler's job windows: the same wall-clock, midnight
    and DST rules (scheduler/window.py)."""
    return TimeWindow(cfg.start, cfg.end, parse_days(cfg.days), zone)


class Calendar:
    """One schedule in one zone."""

    def __init__(self, cfg: ScheduleConfig, zone: str) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.zone_name = cfg.timezone or zone
        self.zone = ZoneInfo(self.zone_name)
        self.open_hours = [_hours(h, self.zone_name) for h in cfg.open]
        self.peak_hours = [_hours(h, self.zone_name) for h in cfg.peak]
        self._rules: list[tuple[MaintenanceConfig, rrule]] = [
            (m, rrulestr(m.rrule, dtstart=m.start))  # type: ignore[misc]
            for m in cfg.maintenance
            if m.rrule is not None
        ]
        self._once = [m for m in cfg.maintenance if m.rrule is None]
        self._listed = set(cfg.holidays.dates) if cfg.holidays else set()
        self._by_hour: dict[datetime, list[Window]] = {}  # UTC hour → its windows

    # -- holidays ------------------------------------------------------------------------------
    def holiday(self, day: date) -> str | None:
        """The name of the holiday on local ``day`` (None: a working day)."""
        if day in self._listed:
            return "holiday"
        hol = self.cfg.holidays
        if hol is None or hol.country is None:
            return None
        return _country_holidays(hol.country, hol.subdiv, day.year).get(day)

    # -- maintenance ---------------------------------------------------------------------------
    def windows(self, start: datetime, end: datetime) -> list[Window]:
        """Maintenance windows overlapping [start, end), by start time."""
        found: list[Window] = []
        wall_from = start.astimezone(self.zone).replace(tzinfo=None) - timedelta(days=32)
        wall_to = end.astimezone(self.zone).replace(tzinfo=None) + timedelta(days=1)
        for cfg, rule in self._rules:
            length = timedelta(seconds=cfg.duration or 0)
            for wall in rule.between(wall_from, wall_to, inc=True):
                begin = localize(wall, self.zone)
                if begin < end and begin + length > start:
                    found.append(Window(cfg.name, begin, begin + length))
        for cfg in self._once:
            assert cfg.end is not None
            begin, finish = localize(cfg.start, self.zone), localize(cfg.end, self.zone)
            if begin < end and finish > start:
                found.append(Window(cfg.name, begin, finish))
        # two wall times can be one instant (03:30 and 02:30, which does not exist, on the
        # spring-forward night): one window, not two
        return sorted(set(found), key=lambda w: (w.start, w.end, w.name))

    # -- the state at an instant ---------------------------------------------------------------
    def _hour_windows(self, at: datetime) -> list[Window]:
        """The windows overlapping ``at``'s UTC hour, expanded once an hour: the alert
        dispatcher asks for every alert on every flush, and expanding the RRULEs over
        their month of look-back each time was the cost of it."""
        hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        found = self._by_hour.get(hour)
        if found is None:
            if len(self._by_hour) >= HOURS_KEPT:
                self._by_hour.pop(next(iter(self._by_hour)))  # the oldest asked for
            found = self._by_hour[hour] = self.windows(hour, hour + timedelta(hours=1))
        return found

    def state_at(self, at: datetime) -> SiteState:
        wall = at.astimezone(self.zone).replace(tzinfo=None)
        holiday = self.holiday(wall.date())
        is_open = holiday is None and (
            not self.open_hours or any(h.contains(at) for h in self.open_hours)
        )
        peak = is_open and any(h.contains(at) for h in self.peak_hours)
        inside = [w for w in self._hour_windows(at) if w.start <= at < w.end]
        return SiteState(is_open, peak, holiday, inside[0] if inside else None)

    def timeline(self, start: datetime, days: int) -> list[Segment]:
        """Segments from local midnight of ``start``'s day for ``days`` days: every change of
        state is a boundary, adjacent equal states merged."""
        first = start.astimezone(self.zone).date()
        instants = set()
        # from the day before: its hours may cross midnight into the first day (20:00-06:00
        # ends at 06:00 of the first day, a boundary the first day's own hours do not have)
        for n in range(-1, days + 1):
            day = first + timedelta(days=n)
            instants.add(localize(datetime.combine(day, MIDNIGHT), self.zone))
            if n < days:
                for hours in (*self.open_hours, *self.peak_hours):
                    for span in hours.occurrence_spans(day):
                        instants.update(span)
        begin = localize(datetime.combine(first, MIDNIGHT), self.zone)
        finish = localize(datetime.combine(first + timedelta(days=days), MIDNIGHT), self.zone)
        for window in self.windows(begin, finish):
            instants.update((window.start, window.end))
        cuts = sorted(i for i in instants if begin <= i <= finish)
        segments: list[Segment] = []
        for a, b in zip(cuts, cuts[1:], strict=False):
            state = self.state_at(a + (b - a) / 2)
            if segments and segments[-1].state == state and segments[-1].end == a:
                segments[-1] = Segment(segments[-1].start, b, state)
            else:
                segments.append(Segment(a, b, state))
        return segments


@functools.lru_cache(maxsize=256)
def _country_holidays(country: str, subdiv: str | None, year: int) -> dict[date, str]:
    import holidays

    return dict(holidays.country_holidays(country, subdiv=subdiv, years=year).items())


__all__ = ["Calendar", "Segment", "SiteState", "Window", "localize"]
