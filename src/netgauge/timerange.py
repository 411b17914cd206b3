"""A time range asked for: one rule for the metrics API, the exports and the console's pages.

Samples are stored as int64 UTC nanoseconds, so a range is two such numbers ``[start, end)``.
Asked for as ISO 8601 ``from``/``to``:

* a time without an offset is UTC (the API's rule; the console sends offsets, in the
  user's zone);
* ``to`` defaults to now; ``from`` to ``to`` minus the caller's default span (one hour
  for the metrics API), or is required (exports);
* ``from`` must be before ``to``, both within 1970-01-01..2262-04-11 (what int64 holds);
* an error names the field (``from``, ``to``) and says the fix in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from netgauge.errors import InventoryError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LAST_NS = 2**63 - 1  # samples are int64 nanoseconds: up to 2262-04-11
NS_PER_S = 1_000_000_000


def ns_to_dt(ns: int) -> datetime:
    """UTC nanoseconds → aware datetime (microsecond precision)."""
    return EPOCH + timedelta(microseconds=ns // 1000)


def dt_to_ns(value: datetime, field: str) -> int:
    """Aware or naive (= UTC) datetime → UTC nanoseconds, exactly; an error naming ``field``
    outside 1970..2262."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    ns = (aware - EPOCH) // timedelta(microseconds=1) * 1000
    if not 0 <= ns <= LAST_NS:
        raise InventoryError(f"{field}: must lie between 1970-01-01 and 2262-04-11 (UTC)")
    return ns


def parse_when(text: str, field: str) -> datetime:
    """ISO 8601 text → aware UTC datetime (no offset: UTC); an error naming ``field``."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InventoryError(
            f"{field}: not a date and time: write it as ISO 8601, e.g. 2026-03-29T02:30:00+02:00"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """``[start_ns, end_ns)`` in UTC nanoseconds."""

    start_ns: int
    end_ns: int

    @property
    def start(self) -> datetime:
        return ns_to_dt(self.start_ns)

    @property
    def end(self) -> datetime:
        return ns_to_dt(self.end_ns)

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S


def time_span(
    start: datetime | None,
    end: datetime | None,
    *,
    default_s: float | None = None,
    max_s: float | None = None,
    now: datetime | None = None,
) -> TimeSpan:
    """The range ``[start, end)`` asked for (see the module docstring): ``end`` None is now,
    ``start`` None is ``end - default_s`` (required when ``default_s`` is None); longer
    than ``max_s`` is an error."""
    given_start = None if start is None else dt_to_ns(start, "from")  # `from` named first
    end_ns = dt_to_ns(end or now or datetime.now(UTC), "to")
    if given_start is not None:
        start_ns = given_start
    elif default_s is not None:
        start_ns = max(0, end_ns - int(default_s * NS_PER_S))
    else:
        raise InventoryError("from: required: the start of the range, ISO 8601")
    if start_ns >= end_ns:
        raise InventoryError("from: must be before “to”")
    if max_s is not None and end_ns - start_ns > max_s * NS_PER_S:
        raise InventoryError(f"from: the range is longer than {_days(max_s)}")
    return TimeSpan(start_ns, end_ns)


def _days(seconds: float) -> str:
    return f"{seconds / 86_400:g} days" if seconds >= 86_400 else f"{seconds:g} s"


__all__ = ["LAST_NS", "TimeSpan", "dt_to_ns", "ns_to_dt", "parse_when", "time_span"]
