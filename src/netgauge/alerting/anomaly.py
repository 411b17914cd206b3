"""Anomaly scores for alert rules (``condition: {anomaly: SERIES, score: 0.5}``): each new
value of a watched series scored as ``netgauge.analytics.anomalies`` scores it — on the
same-hour-of-day and of-week baselines of its own stored history — one sample at a time.

Like the baselines, a series' scorer is loaded lazily in the background (the rule engine
never waits for the store): the first value of a series queues a load of its stored raw
history (five weeks: what the weekly model looks back on) and says nothing; later values
are scored by the loaded scorer, which keeps its own history from then on.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import numpy as np
import structlog

from netgauge.alerting.baseline import Points
from netgauge.analytics.anomalies import DEFAULTS, OnlineScorer, Params
from netgauge.storage.base import Point

log = structlog.get_logger(__name__)
NS = 1_000_000_000
HISTORY_S = 5 * 7 * 86_400  # the weekly model's 4 weeks and the week under way


class AnomalyScores:
    """A scorer per (target, series), loaded on demand."""

    def __init__(self, points: Points, params: Params = DEFAULTS) -> None:
        self._points, self.params = points, params
        self._scorers: dict[tuple[str, str], OnlineScorer] = {}
        self._last: dict[tuple[str, str], tuple[float, float | None]] = {}
        self._wanted: set[tuple[str, str]] = set()

    def score(self, target: str, series: str, at: datetime, value: float) -> float | None:
        """The score of ``value`` of ``series`` at ``at``; None (and a load is queued) while
        the series' scorer is not loaded. Asked twice for one sample (two rules on one
        series), it answers the same without counting the sample twice."""
        key = (target, series)
        scorer = self._scorers.get(key)
        if scorer is None:
            self._wanted.add(key)
            return None
        seconds = at.timestamp()
        last = self._last.get(key)
        if last is not None and last[0] == seconds:
            return last[1]
        found = scorer.score(seconds, value)
        self._last[key] = (seconds, found)
        return found

    async def load_wanted(self, now: datetime, limit: int = 20) -> int:
        """Load up to ``limit`` queued scorers; returns how many were asked for."""
        batch = [self._wanted.pop() for _ in range(min(limit, len(self._wanted)))]
        end_ns = int(now.timestamp() * NS)
        for target, series in batch:
            try:
                stored = await self._points(target, series, end_ns - HISTORY_S * NS, end_ns, None)
                self._scorers[(target, series)] = await asyncio.to_thread(self._warm, stored)
            except Exception:  # the store away: asked again by the series' next value
                log.warning("anomaly.load_failed", target=target, series=series)
        return len(batch)

    def _warm(self, stored: list[Point]) -> OnlineScorer:
        t = np.fromiter((p.ts_ns for p in stored), dtype=np.float64, count=len(stored)) / NS
        v = np.fromiter((p.value for p in stored), dtype=np.float64, count=len(stored))
        return OnlineScorer.from_history(t, v, self.params)


__all__ = ["AnomalyScores"]
