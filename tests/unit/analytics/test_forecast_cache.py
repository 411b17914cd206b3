"""The forecasts' cache: a viewer who varies the question (a limit of 95.0001, 95.0002 ...)
gets answers, but the cache keeps at most ``MAX_KEPT`` of them, the oldest going first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from netgauge.analytics import forecast_service
from netgauge.analytics.forecast_service import Forecasts, Question
from netgauge.storage.base import Point

NOW = datetime(2026, 3, 1, tzinfo=UTC)


async def test_varied_questions_do_not_grow_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forecast_service, "MAX_KEPT", 10)
    reads: list[float] = []

    async def points(*args: object, **kwargs: object) -> list[Point]:
        reads.append(1.0)
        return []

    async def series(target: str | None = None) -> list[tuple[str, str, str]]:
        return [("device_metrics", "d1", "disk_percent")]

    kept = Forecasts(points, series, lambda: NOW)
    for i in range(25):
        await kept.of(Question("disk_percent", 95 + i / 10_000))
    assert len(kept._cache) == 10 and len(reads) == 25
    newest = Question("disk_percent", 95 + 24 / 10_000)
    await kept.of(newest)  # the newest answers are the ones kept
    assert len(reads) == 25
    await kept.of(Question("disk_percent", 95.0))  # the oldest went: read again
    assert len(reads) == 26
