"""/api/v1/analytics/forecasts: when stored series reach a limit (disk full), soonest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from netgauge.analytics.forecast_service import (
    DEFAULT_WINDOW_S,
    SeriesForecast,
    question,
    shared,
)
from netgauge.api.deps import ServiceDep

router = APIRouter(prefix="/forecasts")


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
    asked = question(metric, limit, falling, window)
    now = service.clock.now()
    found = await shared(request.app.state, service).of(asked, target)
    return ForecastsResponse(
        metric=metric,
        limit=limit,
        falling=falling,
        window_s=asked.window_s,
        now=now,
        forecasts=[public(item, now) for item in found],
    )
