"""The ICMP probe's options as plain data, and their limits, without pydantic.

``IcmpParams`` (the pydantic model jobs and the API validate) takes its bounds from
``LIMITS`` below, and ``netgauge probe icmp`` validates its flags with ``options_from_text``
against the same table. The one-shot command does not import pydantic at all: with typer,
that was 110 ms of a 10,000-target run that fping finishes in 0.15 s (bench/icmp.py).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netgauge.probes.icmp_engine import Schedule
from netgauge.probes.icmp_socket import SocketMode


@dataclass(frozen=True, slots=True)
class Limit:
    """The type and inclusive (or, with ``gt``, exclusive) bounds of one numeric option."""

    kind: type[int] | type[float]
    low: float
    high: float
    low_exclusive: bool = False

    def pydantic_bounds(self) -> dict[str, Any]:
        """The same bounds as pydantic ``Field`` keyword arguments."""
        low = {"gt": self.low} if self.low_exclusive else {"ge": self.low}
        return {**low, "le": self.high}

    def check(self, value: float) -> str | None:
        """Why ``value`` is out of bounds, or None."""
        too_low = value <= self.low if self.low_exclusive else value < self.low
        if too_low or value > self.high:
            low = f"greater than {self.low:g}" if self.low_exclusive else f"at least {self.low:g}"
            return f"must be {low} and at most {self.high:g}"
        return None


LIMITS: dict[str, Limit] = {
    "count": Limit(int, 1, 1000),
    "interval": Limit(float, 0.001, 3600.0),
    "timeout": Limit(float, 0.0, 60.0, low_exclusive=True),
    "pace_ms": Limit(float, 0.0, 60_000.0),
    "size": Limit(int, 0, 65507),
    "ttl": Limit(int, 1, 255),
    "tos": Limit(int, 0, 255),
}


@dataclass(frozen=True, slots=True)
class IcmpOptions:
    """Validated options of one ICMP round (the meaning of each is on ``IcmpParams``)."""

    # 5 keeps a one-shot CLI run short; quality jobs (smoke charts, percentiles) should use
    # 20 per round, SmokePing's default of 20 pings every 5 minutes.
    count: int = 5
    interval: float = 1.0
    timeout: float = 1.0
    pace_ms: float = 10.0
    size: int = 56
    ttl: int | None = None
    tos: int | None = None
    source: str | None = None
    socket_mode: SocketMode = SocketMode.AUTO

    def schedule(self) -> Schedule:
        """The engine's view of these options, in nanoseconds."""
        return Schedule(
            count=self.count,
            interval_ns=round(self.interval * 1e9),
            pace_ns=round(self.pace_ms * 1e6),
            timeout_ns=round(self.timeout * 1e9),
            size=self.size,
        )


class OptionError(ValueError):
    """One option's value is refused: ``name`` is the option, ``value`` what was given."""

    def __init__(self, name: str, value: str, reason: str) -> None:
        super().__init__(f"{name} {value!r}: {reason}")
        self.name = name
        self.value = value
        self.reason = reason


def parse_source(value: str) -> str:
    """An IP address literal, canonical (no name: the socket is bound before anything
    resolves). Raises ValueError naming the value."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


def options_from_text(raw: Mapping[str, str]) -> IcmpOptions:
    """IcmpOptions from option name -> text (as typed on a command line).

    Raises OptionError for the first bad value, or for a name that is not an option.
    """
    values: dict[str, Any] = {}
    for name, text in raw.items():
        values[name] = _parse_one(name, text)
    return IcmpOptions(**values)


def _parse_one(name: str, text: str) -> object:
    if name == "source":
        try:
            return parse_source(text)
        except ValueError as exc:
            raise OptionError(name, text, str(exc)) from None
    if name == "socket_mode":
        return _parse_enum(SocketMode, name, text)
    limit = LIMITS.get(name)
    if limit is None:
        raise OptionError(name, text, "not an ICMP option")
    return _parse_number(limit, name, text)


def _parse_number(limit: Limit, name: str, text: str) -> int | float:
    kind = "an integer" if limit.kind is int else "a number"
    try:
        value = limit.kind(text.strip())
    except ValueError:
        raise OptionError(name, text, f"must be {kind}") from None
    if value != value or value in (float("inf"), float("-inf")):  # nan, inf
        raise OptionError(name, text, f"must be {kind}")
    reason = limit.check(value)
    if reason is not None:
        raise OptionError(name, text, reason)
    return value


def _parse_enum(enum_type: type[enum.StrEnum], name: str, text: str) -> enum.StrEnum:
    try:
        return enum_type(text.strip().lower())
    except ValueError:
        choices = ", ".join(member.value for member in enum_type)
        raise OptionError(name, text, f"must be one of {choices}") from None
