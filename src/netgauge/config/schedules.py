"""Pydantic models of ``schedules:`` (site calendars) in the YAML file (validation only).

A schedule says, in a site's local time, when it is open (per weekday), its peak hours,
its maintenance windows (RFC 5545 RRULE with a duration, or one-off) and its holidays
(the ``holidays`` package by country/subdivision, plus listed dates). Times are wall
times of ``timezone`` (else the site's): 08:00 stays 08:00 across DST changes.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from pydantic import Field, field_validator, model_validator

from netgauge.config.base import (
    NAME_PATTERN,
    StrictModel,
    check_timezone,
    no_number,
    parse_duration,
)

_FORBIDDEN_FREQ = ("SECONDLY", "MINUTELY")


class HoursConfig(StrictModel):
    """Hours on some days: ``{days: weekdays, start: "08:00", end: "18:00"}``. An end at or
    before the start crosses midnight (22:00–06:00); 00:00–00:00 is the whole day."""

    days: list[str | int] | str = "daily"
    start: time
    end: time

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str | int] | str) -> list[str | int] | str:
        from netgauge.scheduler.window import parse_days

        parse_days(value)
        return value

    _typed = field_validator("start", "end", mode="before")(no_number)

    @field_validator("start", "end")
    @classmethod
    def _wall(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a wall time without a zone (the zone is the schedule's)")
        return value


class MaintenanceConfig(StrictModel):
    """A maintenance window: recurring (``rrule`` from ``start``, lasting ``duration``) or
    one-off (``start`` to ``end``). ``start``/``end`` are local wall times."""

    name: str = Field("maintenance", max_length=128)
    rrule: str | None = Field(
        None, description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=SU (first one at start)"
    )
    start: datetime
    duration: float | None = Field(None, description="2h, 90m... (with rrule)")
    end: datetime | None = Field(None, description="one-off windows: when it ends")

    _typed = field_validator("start", "end", mode="before")(no_number)

    @field_validator("start", "end")
    @classmethod
    def _wall(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("a local wall time without a zone (the zone is the schedule's)")
        return value

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        if value is None:
            return None
        seconds = parse_duration(value)
        if not 60 <= seconds <= 31 * 86400:
            raise ValueError("duration must be between 1m and 31d")
        return seconds

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip()
        if text.upper().startswith("RRULE:"):
            text = text[6:]
        upper = text.upper()
        if "DTSTART" in upper:
            raise ValueError("give the first occurrence as start, not DTSTART in the rule")
        if any(f"FREQ={f}" in upper for f in _FORBIDDEN_FREQ):
            raise ValueError("a maintenance window recurs at most hourly (FREQ=HOURLY or longer)")
        from dateutil.rrule import rrulestr

        try:
            rrulestr(text, dtstart=datetime(2026, 1, 1))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not an RFC 5545 RRULE: {exc}") from None
        return text

    @model_validator(mode="after")
    def _shape(self) -> MaintenanceConfig:
        if self.rrule is not None:
            if self.duration is None or self.end is not None:
                raise ValueError("a recurring window (rrule) needs duration, and no end")
        elif self.end is None or self.duration is not None:
            raise ValueError("a one-off window needs end (and no duration); or give rrule")
        elif self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class HolidaysConfig(StrictModel):
    """Days the site is closed: a country's public holidays (ISO code, optional subdivision)
    and listed dates."""

    country: str | None = Field(None, description="ISO 3166 code: DE, US, FR...")
    subdiv: str | None = Field(None, description="a subdivision: BY, CA, ...")
    dates: list[date] = Field(default_factory=list)

    @field_validator("dates", mode="before")
    @classmethod
    def _typed(cls, value: Any) -> Any:
        return [no_number(v) for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _known(self) -> HolidaysConfig:
        import holidays

        if self.country is None:
            if self.subdiv is not None:
                raise ValueError("subdiv goes with country")
            return self
        supported = holidays.list_supported_countries()
        if self.country not in supported:
            raise ValueError(f"unknown country {self.country!r} (ISO 3166 codes like DE, US)")
        if self.subdiv is not None and self.subdiv not in supported[self.country]:
            known = ", ".join(supported[self.country][:12]) or "none"
            raise ValueError(f"unknown subdivision {self.subdiv!r} of {self.country} ({known})")
        return self


class ScheduleConfig(StrictModel):
    """A site calendar. Without ``open`` hours the site is open around the clock."""

    name: str = Field(pattern=NAME_PATTERN)
    timezone: str | None = Field(None, description="IANA zone; default: the site's")
    open: list[HoursConfig] = Field(default_factory=list)
    peak: list[HoursConfig] = Field(default_factory=list)
    maintenance: list[MaintenanceConfig] = Field(default_factory=list, max_length=200)
    holidays: HolidaysConfig | None = None
    description: str = ""

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)


__all__ = ["HolidaysConfig", "HoursConfig", "MaintenanceConfig", "ScheduleConfig"]
