"""Same-hour-of-week baselines: what a series usually is at this hour of this weekday.

The baseline of a slot (weekday, hour, in UTC) is the median of that hour's averages over
the last ``weeks`` weeks, read from the store through the one metrics query layer (hourly
averages). A slot with fewer than ``min_weeks`` weeks of data has no baseline (a rule then
says nothing rather than guess). Loaded lazily, a series at a time, in the background (the
rule engine never waits for the store), and kept for an hour.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog

from netgauge.storage.base import Point

log = structlog.get_logger(__name__)
Points = Callable[[str, str, int, int, float | None], Awaitable[list[Point]]]  # None: raw
HOUR_NS = 3600 * 10**9
Slot = tuple[int, int]  # (weekday, hour), UTC


def slot_of(at: datetime) -> Slot:
    at = at.astimezone(UTC)
    return at.weekday(), at.hour


class Baselines:
    """Baselines per (target, series), loaded on demand."""

    def __init__(
        self, points: Points, *, weeks: int = 4, min_weeks: int = 2, keep_s: float = 3600.0
    ) -> None:
        self._points, self.weeks, self.min_weeks = points, weeks, min_weeks
        self.keep = timedelta(seconds=keep_s)
        self._cache: dict[tuple[str, str], tuple[datetime, dict[Slot, float]]] = {}
        self._wanted: set[tuple[str, str]] = set()

    def value(self, target: str, series: str, at: datetime) -> float | None:
        """The baseline of ``series`` at ``at``'s slot; None (and a load is queued) when it
        is not known yet or is out of date."""
        key = (target, series)
        found = self._cache.get(key)
        if found is None or at - found[0] > self.keep:
            self._wanted.add(key)
        return found[1].get(slot_of(at)) if found is not None else None

    async def load_wanted(self, now: datetime, limit: int = 20) -> int:
        """Load up to ``limit`` queued baselines; returns how many."""
        batch = [self._wanted.pop() for _ in range(min(limit, len(self._wanted)))]
        for target, series in batch:
            try:
                self._cache[(target, series)] = (now, await self._load(target, series, now))
            except Exception:  # the store away: try again at a later evaluation
                log.warning("baseline.load_failed", target=target, series=series)
        return len(batch)

    async def _load(self, target: str, series: str, now: datetime) -> dict[Slot, float]:
        end_ns = int(now.timestamp()) // 3600 * 3600 * 10**9
        start_ns = end_ns - self.weeks * 7 * 24 * HOUR_NS
        points = await self._points(target, series, start_ns, end_ns, 3600.0)
        by_slot: dict[Slot, list[float]] = defaultdict(list)
        for point in points:
            if point.count > 0:
                by_slot[slot_of(datetime.fromtimestamp(point.ts_ns / 1e9, UTC))].append(point.value)
        return {
            slot: statistics.median(values)
            for slot, values in by_slot.items()
            if len(values) >= self.min_weeks
        }


__all__ = ["Baselines", "slot_of"]
