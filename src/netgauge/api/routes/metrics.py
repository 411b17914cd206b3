"""/api/v1/metrics: points of one series over a time range, raw or aggregated per step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from netgauge.api.deps import ServiceDep
from netgauge.api.schemas import PointPublic, SeriesResponse
from netgauge.config.model import parse_duration
from netgauge.errors import InventoryError

router = APIRouter(prefix="/metrics", tags=["metrics"])
MAX_POINTS = 100_000


def ns_to_dt(ns: int) -> datetime:
    """UTC nanoseconds → aware datetime (microsecond precision)."""
    return datetime.fromtimestamp(ns / 1e9, UTC)


def _aware(value: datetime) -> datetime:
    # a time without a zone is taken as UTC (documented), never as the server's local time
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _step_seconds(step: str | None) -> float | None:
    if step is None:
        return None
    try:
        seconds = parse_duration(step)
    except ValueError as exc:
        raise InventoryError(f"step: {exc}") from exc
    if seconds <= 0:
        raise InventoryError("step: must be positive")
    return seconds


@router.get("")
async def query_metrics(
    service: ServiceDep,
    target: Annotated[str, Query(min_length=1, max_length=128)],
    metric: Annotated[
        str, Query(min_length=1, max_length=128, description="e.g. icmp_rtt_avg_ms, status")
    ],
    from_: Annotated[
        datetime | None, Query(alias="from", description="ISO 8601; default: to - 1h")
    ] = None,
    to: Annotated[datetime | None, Query(description="ISO 8601; default: now")] = None,
    step: Annotated[str | None, Query(description="bucket size: 60, 30s, 5m, 1h")] = None,
    agg: Literal["avg", "min", "max", "count"] = "avg",
) -> SeriesResponse:
    """Points of ``metric`` for ``target`` in [from, to); one per ``step`` when given."""
    end = _aware(to) if to else datetime.now(UTC)
    start = _aware(from_) if from_ else end - timedelta(hours=1)
    if start >= end:
        raise InventoryError("from: must be before `to`")
    step_s = _step_seconds(step)
    span_s = (end - start).total_seconds()
    if step_s is not None and span_s / step_s > MAX_POINTS:
        raise InventoryError(f"step: too small for the range (more than {MAX_POINTS} points)")
    start_ns, end_ns = int(start.timestamp() * 1e9), int(end.timestamp() * 1e9)
    points = await service.store.points(target, metric, start_ns, end_ns, step_s, agg)
    return SeriesResponse(
        target=target,
        metric=metric,
        start=start,
        end=end,
        step=step_s,
        agg=agg,
        points=[
            PointPublic(
                ts=p.ts_ns,
                time=ns_to_dt(p.ts_ns),
                value=p.value,
                min=p.min,
                max=p.max,
                count=p.count,
            )
            for p in points
        ],
    )


@router.get("/series")
async def list_series(
    service: ServiceDep, target: Annotated[str | None, Query(max_length=128)] = None
) -> list[dict[str, str]]:
    """Every stored series (measurement, target, metric)."""
    rows = await service.store.series(target)
    return [{"measurement": m, "target": d, "metric": n} for m, d, n in rows]
