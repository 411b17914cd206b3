"""Next-run math: clock-aligned cadence with a per-job phase, restricted to a time window.

A job named ``name`` with interval ``I`` runs at ``epoch + phase(name) + k * I`` (UTC epoch,
integer ``k``). Times are computed in integer microseconds, so the cadence never drifts no
matter how many runs are chained, and it does not depend on when runs complete.
"""

from __future__ import annotations

import datetime as dt
import zlib

from netgauge.scheduler.window import TimeWindow

__all__ = ["SEARCH_DAYS", "next_due", "phase_offset", "search_horizon"]

# next_due gives up (returns None) past this many days plus one interval.
SEARCH_DAYS = 8

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US_PER_S = 1_000_000


def phase_offset(name: str, interval_s: float) -> float:
    """Stable offset in [0, interval_s) seconds derived from crc32(name), spreading equal jobs."""
    return _phase_us(name, _interval_us(interval_s)) / _US_PER_S


def search_horizon(interval_s: float) -> dt.timedelta:
    """How far past ``after`` next_due looks before answering None."""
    return dt.timedelta(days=SEARCH_DAYS, microseconds=_interval_us(interval_s))


def next_due(
    name: str, interval_s: float, after: dt.datetime, window: TimeWindow | None = None
) -> dt.datetime | None:
    """Smallest aligned tick strictly after ``after`` that lies in ``window`` (UTC), or None."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError(f"timezone-aware datetime required, got naive {after!r}")
    interval = _interval_us(interval_s)
    phase = _phase_us(name, interval)
    start = _to_us(after)
    tick = _first_tick(start + 1, phase, interval)
    if window is None:
        return _from_us(tick)
    limit = start + SEARCH_DAYS * 86_400 * _US_PER_S + interval
    # Each pass moves to a later window opening and at least one tick on, so the loop ends
    # after at most min(ticks, openings) within the horizon.
    while tick <= limit:
        at = _from_us(tick)
        if window.contains(at):
            return at
        opened = window.next_open(at)
        if opened is None:
            return None
        tick = _first_tick(_to_us(opened), phase, interval)
    return None


def _interval_us(interval_s: float) -> int:
    """The interval in whole microseconds; rejects non-positive and non-finite values."""
    if not interval_s > 0 or interval_s == float("inf"):  # `not >` also catches NaN
        raise ValueError(f"interval must be a positive number of seconds, got {interval_s!r}")
    interval = round(interval_s * _US_PER_S)
    if interval <= 0:
        raise ValueError(f"interval {interval_s!r}s is shorter than one microsecond")
    return interval


def _phase_us(name: str, interval_us: int) -> int:
    # Scale the 32-bit hash onto the interval rather than taking crc % interval: the modulo
    # would squeeze every interval longer than 2**32 us (~72 min) into its first 72 minutes.
    return (zlib.crc32(name.encode()) * interval_us) >> 32


def _first_tick(at_us: int, phase_us: int, interval_us: int) -> int:
    """Smallest phase + k * interval that is >= at_us."""
    periods = -((phase_us - at_us) // interval_us)  # ceil((at - phase) / interval)
    return phase_us + periods * interval_us


def _to_us(at: dt.datetime) -> int:
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US_PER_S + delta.microseconds


def _from_us(us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=us)
