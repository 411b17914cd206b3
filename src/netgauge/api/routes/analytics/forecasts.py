"""/api/v1/analytics/forecasts: when stored series reach a limit (disk full), soonest first."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from netgauge.analytics.forecast_service import (
    DEFAULT_WINDOW_S,
    MAX_WINDOW_S,
    Forecasts,
    Question,
    SeriesForecast,
)
from netgauge.api.deps import ServiceDep
from netgauge.config.base import parse_duration
from netgauge.errors import InventoryError
from netgauge.service import Service

router = APIRouter(prefix="/forecasts")
_METRIC = re.compile(
    r'^[A-Za-z_][A-Za-z0-9_.]*(\{\s*([A-Za-z_]\w*\s*=\s*"(?:[^"\\]|\\.)*"\s*,?\s*)*\})?$'
)


class ForecastPublic(BaseModel):
    """One series' forecast."""

    target: str
    series: str = Field(description='the stored name, labels included: disk_percent{mount="/"}')
    labels: dict[str, str]
    reaches_at: datetime | None = Field(description="when the trend meets the limit; null: never")
    low: datetime | None = Field(description="the 80 % interval's start")
    high: datetime | None = Field(description="the 80 % interval's end")
    reached: bool = Field(description="at or past the limit now")
    hours_left: float | None = Field(description="from now to reaches_at (negative: past)")
    reason: str = Field(description="why, in words: a trend, no trend, too few samples")
    slope_per_day: float | None = Field(description="the fitted trend, units per day")
    level: float | None = Field(description="the trend's value at the newest sample")
    since: datetime | None = Field(description="the fitted regime's start (last level change)")
    samples: int = Field(description="per-step averages the forecast was computed from")


class ForecastsResponse(BaseModel):
    """Forecasts of every selected series, soonest first (never last)."""

    metric: str
    limit: float
    falling: bool
    window_s: float
    now: datetime
    forecasts: list[ForecastPublic]


def board(request: Request, service: Service) -> Forecasts:
    """The app's forecasts (and their 5-minute cache), made at first use."""
    found: Forecasts | None = getattr(request.app.state, "forecasts", None)
    if found is None:
        found = Forecasts(service.points, service.series, service.clock.now)
        request.app.state.forecasts = found
    return found


def question_of(metric: str, limit: float, falling: bool, window: str) -> Question:
    """The query's words checked, as a Question; a 400 naming the field otherwise."""
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


def public(item: SeriesForecast, now: datetime) -> ForecastPublic:
    """One series' forecast as the API shows it."""
    f = item.forecast
    left = None if f.reaches_at is None else (f.reaches_at - now).total_seconds() / 3600
    return ForecastPublic(
        target=item.target,
        series=item.series,
        labels=item.labels,
        reaches_at=f.reaches_at,
        low=f.low,
        high=f.high,
        reached=f.reached,
        hours_left=left,
        reason=f.reason,
        slope_per_day=f.slope_per_day,
        level=f.level,
        since=f.since,
        samples=item.samples,
    )


@router.get("")
async def list_forecasts(
    request: Request,
    service: ServiceDep,
    target: Annotated[
        str | None, Query(max_length=128, description="one target; left out: every target")
    ] = None,
    metric: Annotated[
        str,
        Query(max_length=256, description='a metric, labels narrow it: disk_percent{mount="/"}'),
    ] = "disk_percent",
    limit: Annotated[float, Query(description="the limit, e.g. 95 (percent)")] = 95.0,
    falling: Annotated[
        bool, Query(description="the limit is reached from above (free space to 5 GB)")
    ] = False,
    window: Annotated[
        str, Query(max_length=16, description="how far back to fit: 1h to 90d")
    ] = f"{int(DEFAULT_WINDOW_S // 86400)}d",
) -> ForecastsResponse:
    """When each series of ``metric`` (one per mount for ``disk_percent``) reaches
    ``limit``, with an 80 % interval, soonest first.

    Each series is read over ``window`` as per-step averages (the store's minute, 5-minute
    or hour rollups, at most 2,200 points); the trend is Theil–Sen after the last level
    change (a cleanup), and a series without a trend beyond its noise never reaches the
    limit (null). Answers are kept 5 minutes. The method and its measured accuracy:
    ``docs/analytics/forecast.md``.
    """
    question = question_of(metric, limit, falling, window)
    now = service.clock.now()
    found = await board(request, service).of(question, target)
    return ForecastsResponse(
        metric=metric,
        limit=limit,
        falling=falling,
        window_s=question.window_s,
        now=now,
        forecasts=[public(item, now) for item in found],
    )
