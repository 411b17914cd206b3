"""Forecasts of stored series: what the API, the console and the alert condition ask.

Each stored series whose base name is the metric asked for (``disk_percent``, one per
mount) is read over a window (30 days by default) as per-step averages from the store's
rollups, and given to :func:`netgauge.analytics.forecast.forecast`. Answers are kept for
``keep_s`` (5 minutes): a disk does not fill faster than that, and the fleet view reads
every device's series. The store and the clock are passed in (the Service's ``points``,
``series`` and ``clock.now``).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from netgauge.analytics.forecast import Forecast, forecast
from netgauge.clock import Clock
from netgauge.config.base import parse_duration
from netgauge.errors import InventoryError
from netgauge.series import split_series
from netgauge.storage.base import Aggregation, Point

Points = Callable[[str, str, int, int, float], Awaitable[list[Point]]]
SeriesList = Callable[[str | None], Awaitable[list[tuple[str, str, str]]]]
DEFAULT_WINDOW_S = 30 * 86400.0
MAX_WINDOW_S = 90 * 86400.0  # hourly rollups: 2,160 points
STEPS_S = (60.0, 300.0, 3600.0)  # the store's rollups (minute, 5 minutes, hour)
MAX_STEPS = 2200  # points per series read: plenty for a trend, cheap to fit


_METRIC = re.compile(
    r'^[A-Za-z_][A-Za-z0-9_.]*(\{\s*([A-Za-z_]\w*\s*=\s*"(?:[^"\\]|\\.)*"\s*,?\s*)*\})?$'
)


class StoreReader(Protocol):
    """What forecasts read of the Service: stored points and series, and its clock."""

    clock: Clock

    async def points(
        self,
        target: str,
        metric: str,
        start_ns: int,
        end_ns: int,
        step_s: float | None = None,
        agg: Aggregation = "avg",
    ) -> list[Point]: ...

    async def series(self, target: str | None = None) -> list[tuple[str, str, str]]: ...


@dataclass(frozen=True, slots=True)
class SeriesForecast:
    """The forecast of one stored series."""

    target: str
    series: str  # the stored name, labels included: disk_percent{mount="/"}
    labels: dict[str, str]
    forecast: Forecast
    samples: int  # the per-step points it was computed from


@dataclass(frozen=True, slots=True)
class Question:
    """What is asked: which series reach which limit, over which window."""

    metric: str  # a base name, with labels to narrow it: disk_percent{mount="/"}
    limit: float
    rising: bool = True
    window_s: float = DEFAULT_WINDOW_S


def question(metric: str, limit: float, falling: bool, window: str) -> Question:
    """A request's words checked, as a Question; an ``InventoryError`` naming the field
    (the API's 422, the console's message) otherwise."""
    if not _METRIC.match(metric):
        raise InventoryError(
            f"metric: {metric!r} is not a metric name (examples: disk_percent, "
            'disk_percent{mount="/"})'
        )
    if not math.isfinite(limit):
        raise InventoryError("limit: must be a finite number, e.g. 95")
    try:
        window_s = parse_duration(window)
    except ValueError as exc:
        raise InventoryError(f"window: {exc}") from None
    if not 3600 <= window_s <= MAX_WINDOW_S:
        raise InventoryError("window: must be between 1h and 90d")
    return Question(metric, limit, not falling, window_s)


def shared(state: Any, source: StoreReader) -> Forecasts:
    """The app's one :class:`Forecasts` (on ``app.state``, made at first use), so the API,
    the console and the device page share its cache."""
    found: Forecasts | None = getattr(state, "forecasts", None)
    if found is None:
        found = Forecasts(source.points, source.series, source.clock.now)
        state.forecasts = found
    return found


def step_for(window_s: float) -> float:
    """The smallest rollup step that reads the window in at most ``MAX_STEPS`` points."""
    for step in STEPS_S:
        if window_s / step <= MAX_STEPS:
            return step
    return window_s / MAX_STEPS


MAX_KEPT = 50_000  # answers kept at most (each a few hundred bytes)


class Forecasts:
    """Forecasts per (target, series), computed on request and kept a few minutes."""

    def __init__(
        self,
        points: Points,
        series: SeriesList,
        now: Callable[[], datetime],
        *,
        keep_s: float = 300.0,
    ) -> None:
        self._points, self._series, self._now = points, series, now
        self.keep = timedelta(seconds=keep_s)
        self._cache: dict[tuple[str, str, Question], tuple[datetime, SeriesForecast]] = {}

    async def of(self, question: Question, target: str | None = None) -> list[SeriesForecast]:
        """The forecasts of every series of ``target`` (every target: None) that the
        question's metric selects, soonest first (never last)."""
        base, labels = split_series(question.metric)
        found = []
        for _, owner, name in await self._series(target):
            got_base, got_labels = split_series(name)
            if got_base == base and all(got_labels.get(k) == v for k, v in labels.items()):
                found.append(await self.one(owner, name, question))
        return sorted(found, key=_soonest)

    async def one(self, target: str, series: str, question: Question) -> SeriesForecast:
        """The forecast of one stored series (from the cache when fresh)."""
        now = self._now()
        key = (target, series, question)
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] <= self.keep:
            return cached[1]
        result = await forecast_series(self._points, target, series, question, now)
        if len(self._cache) >= MAX_KEPT:  # questions a viewer varies must not grow it
            self.forget_older_than(now)
            while len(self._cache) >= MAX_KEPT:  # still full: the oldest answers go
                del self._cache[next(iter(self._cache))]
        self._cache[key] = (now, result)
        return result

    def forget_older_than(self, now: datetime) -> None:
        """Drop answers past their time (the fleet's series come and go)."""
        self._cache = {k: v for k, v in self._cache.items() if now - v[0] <= self.keep}


async def forecast_series(
    points: Points, target: str, series: str, question: Question, now: datetime
) -> SeriesForecast:
    """The forecast of one stored series at ``now``: the window's per-step averages (the
    store's rollups: ``step_for``), ending with the step that holds ``now``."""
    step = step_for(question.window_s)
    end_ns = int(now.timestamp() // step * step * 1e9) + int(step * 1e9)
    start_ns = end_ns - int(question.window_s * 1e9)
    found = [p for p in await points(target, series, start_ns, end_ns, step) if p.count > 0]
    times = [datetime.fromtimestamp(p.ts_ns / 1e9, UTC) for p in found]
    values = [p.value for p in found]
    # in a thread: a few milliseconds a series, so a fleet's list would hold the event loop
    result = await asyncio.to_thread(
        forecast, times, values, question.limit, rising=question.rising
    )
    return SeriesForecast(target, series, split_series(series)[1], result, len(found))


def _soonest(item: SeriesForecast) -> tuple[int, float, str, str]:
    at = item.forecast.reaches_at
    return (at is None, at.timestamp() if at else 0.0, item.target, item.series)


__all__ = [
    "DEFAULT_WINDOW_S",
    "Points",
    "MAX_WINDOW_S",
    "Forecasts",
    "Question",
    "SeriesForecast",
    "StoreReader",
    "forecast_series",
    "question",
    "shared",
    "step_for",
]
