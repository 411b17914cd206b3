"""The pieces every config model uses: the strict base, names, durations, time zones."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def check_timezone(value: str) -> str:
    """An IANA time zone name that zoneinfo knows."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
        ) from None
    return value


class StrictModel(BaseModel):
    """Base: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like ``"30s"``, ``"5m"``, ``"250ms"``, ``"1h"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m or a number of seconds")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration (examples: 30, 30s, 5m, 250ms, 1h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def no_number(value: Any) -> Any:
    """Refuse a number where a date or time is wanted (pydantic would read 0 as 1970-01-01
    or as midnight): a typo should not become a date."""
    if isinstance(value, bool | int | float):
        raise ValueError("expected a date/time written out, like 2026-12-24 or 08:00")
    return value
