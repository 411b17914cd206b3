"""Next-run math: when a job with an interval (and maybe a time window) is next due.

Without a window, a job named ``name`` with interval ``I`` runs at ``epoch + phase(name) + k*I``
(UTC epoch, integer ``k``). The phase, derived from crc32(name), spreads many jobs with the same
interval over it.

With a window, the cadence is anchored at each *opening* of the window (the first instant of an
occurrence, see :mod:`netgauge.scheduler.window`; a start inside a DST gap opens after the gap):
the job runs at ``open + offset + k*I`` for ``k >= 0`` while the tick is still inside that same
occurrence, and the next occurrence restarts the cadence at its own opening. So a daily job with
a 09:00-10:00 window runs at 09:00 on every listed day, a 5-minute job with 22:00-06:00 at 22:00,
22:05, ... 05:55, and an interval longer than the window means "once per opening". ``offset`` is
a small stable per-job delay, :func:`opening_offset`: crc32(name) scaled onto the first tenth of
``min(I, length of the occurrence's first span)``, at most 60 s. It keeps jobs that open at the
same instant from all starting in the same microsecond; spreading the targets of one job is the
runner's business.

Times are computed in integer microseconds, so the cadence never drifts no matter how many runs
are chained, and it does not depend on when runs complete.
"""

from __future__ import annotations

import datetime as dt
import zlib

from netgauge.scheduler.window import TimeWindow

__all__ = ["SEARCH_DAYS", "next_due", "opening_offset", "phase_offset"]

# How many days of window openings next_due looks at. A weekly window can be swallowed by a DST
# gap once, so this always reaches an opening if the window has any day at all.
SEARCH_DAYS = 16

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US_PER_S = 1_000_000
_MAX_OPENING_OFFSET_US = 60 * _US_PER_S
# An occurrence spans at most two local dates, and a fall-back jump can move wall time one date
# back: occurrences opening two days before `after`'s local date may still hold later instants.
_DAYS_BACK = 2


def phase_offset(name: str, interval_s: float) -> float:
    """Stable offset in [0, interval_s) seconds derived from crc32(name), spreading equal jobs."""
    return _phase_us(name, _interval_us(interval_s)) / _US_PER_S


def opening_offset(name: str, interval_s: float, span_s: float) -> float:
    """Seconds after a window opening at which a windowed job first runs (module docstring)."""
    return _opening_offset_us(name, _interval_us(interval_s), round(span_s * _US_PER_S)) / _US_PER_S


def next_due(
    name: str, interval_s: float, after: dt.datetime, window: TimeWindow | None = None
) -> dt.datetime | None:
    """The job's first tick strictly after ``after`` (UTC); None only if ``window`` has no days."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError(f"timezone-aware datetime required, got naive {after!r}")
    interval = _interval_us(interval_s)
    start = _to_us(after)
    if window is None:
        return _from_us(_first_tick(start + 1, _phase_us(name, interval), interval))
    found = _windowed_tick(name, interval, start, window)
    return None if found is None else _from_us(found)


def _windowed_tick(name: str, interval: int, start: int, window: TimeWindow) -> int | None:
    """First tick > start anchored at an opening of ``window``; looks at <= 19 occurrences."""
    if not window.days:
        return None
    first_day = window.local_date(_from_us(start)) - dt.timedelta(days=_DAYS_BACK)
    best: int | None = None
    for offset in range(_DAYS_BACK + SEARCH_DAYS + 1):
        spans = window.occurrence_spans(first_day + dt.timedelta(days=offset))
        if not spans:
            continue
        opened = _to_us(spans[0][0])
        if best is not None and opened >= best:
            break  # openings only get later, and every tick of an occurrence follows its opening
        anchor = opened + _opening_offset_us(name, interval, _to_us(spans[0][1]) - opened)
        tick = _tick_in_spans(anchor, interval, start + 1, spans)
        if tick is not None and (best is None or tick < best):
            best = tick
    return best


def _tick_in_spans(
    anchor: int, interval: int, at_least: int, spans: tuple[tuple[dt.datetime, dt.datetime], ...]
) -> int | None:
    """Smallest anchor + k * interval (k >= 0) that is >= at_least and inside one of ``spans``."""
    for begin, end in spans:
        tick = _first_tick(max(at_least, _to_us(begin), anchor), anchor, interval)
        if tick < _to_us(end):
            return tick
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


def _opening_offset_us(name: str, interval_us: int, span_us: int) -> int:
    spread = min(min(interval_us, max(0, span_us)) // 10, _MAX_OPENING_OFFSET_US)
    return _phase_us(name, spread)


def _first_tick(at_us: int, phase_us: int, interval_us: int) -> int:
    """Smallest phase + k * interval that is >= at_us."""
    periods = -((phase_us - at_us) // interval_us)  # ceil((at - phase) / interval)
    return phase_us + periods * interval_us


def _to_us(at: dt.datetime) -> int:
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US_PER_S + delta.microseconds


def _from_us(us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=us)
