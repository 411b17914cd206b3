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


# pydantic's words for a bad value, said for people (the API, the console's forms and the
# config checker all show these): the field is named by the caller, this says what is wrong
# and how to fix it
_SAID: dict[str, str] = {
    "missing": "required: give a value",
    "extra_forbidden": "unknown key: remove it, or check its spelling",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of names to values",
    "model_type": "must be a mapping of names to values",
    "finite_number": "must be a finite number",
    "json_invalid": "is not valid JSON",
}


def error_message(err: Any) -> str:
    """One pydantic error (``ValidationError.errors()`` item) in words for people."""
    kind, ctx = str(err.get("type", "")), dict(err.get("ctx") or {})
    if kind in _SAID:
        return _SAID[kind]
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == NAME_PATTERN:
            return "must start with a letter or digit and hold only letters, digits, _ . : -"
        return f"does not have the expected form ({ctx.get('pattern')})"
    bounds = {
        "greater_than": ("must be more than", "gt"),
        "greater_than_equal": ("must be at least", "ge"),
        "less_than": ("must be less than", "lt"),
        "less_than_equal": ("must be at most", "le"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"{words} {ctx.get(key)}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected')}"
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} items"
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")
