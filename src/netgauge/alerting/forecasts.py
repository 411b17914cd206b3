"""Forecasts for ``{forecast: disk_percent, reaches: 95, within: 7d}`` conditions.

The rule engine never waits for the store: :meth:`ForecastWatch.value` answers from what
was computed (None the first time) and queues the series; the alerting service's tick
computes a few queued ones at a time (:meth:`load_wanted`), through the same
:func:`~netgauge.analytics.forecast_service.forecast_series` (30 days of hourly averages,
Theil–Sen after the last level change) as the API. An answer is kept for 5 minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from netgauge.analytics.forecast import Forecast
from netgauge.analytics.forecast_service import Points, Question, forecast_series

log = structlog.get_logger(__name__)
Key = tuple[str, str, Question]  # target, stored series name, what is asked


class ForecastWatch:
    """Forecasts per (target, series, question), computed in the background."""

    def __init__(self, points: Points, *, keep_s: float = 300.0) -> None:
        self._points = points
        self.keep = timedelta(seconds=keep_s)
        self._cache: dict[Key, tuple[datetime, Forecast]] = {}
        self._wanted: set[Key] = set()

    def value(self, target: str, series: str, question: Question, at: datetime) -> Forecast | None:
        """The forecast of ``series`` as last computed; None (and a computation queued) when
        there is none yet; queued again when older than 5 minutes."""
        key = (target, series, question)
        found = self._cache.get(key)
        if found is None or at - found[0] > self.keep:
            self._wanted.add(key)
        return found[1] if found is not None else None

    async def load_wanted(self, now: datetime, limit: int = 10) -> int:
        """Compute up to ``limit`` queued forecasts; returns how many."""
        batch = [self._wanted.pop() for _ in range(min(limit, len(self._wanted)))]
        for key in batch:
            target, series, question = key
            try:
                found = await forecast_series(self._points, target, series, question, now)
            except Exception:  # the store away: try again at a later evaluation
                log.warning("forecast.load_failed", target=target, series=series)
                continue
            self._cache[key] = (now, found.forecast)
        return len(batch)


__all__ = ["ForecastWatch"]
