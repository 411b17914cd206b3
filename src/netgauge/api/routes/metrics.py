"""/api/v1/metrics: points of one series over a time range, raw or aggregated per step."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from netgauge.api.deps import ServiceDep
from netgauge.api.schemas import (
    PointPublic,
    Round,
    RoundsResponse,
    SeriesColumns,
    SeriesResponse,
)
from netgauge.config.base import parse_duration
from netgauge.errors import InventoryError
from netgauge.storage.base import Aggregation, Point
from netgauge.timerange import ns_to_dt, time_span

router = APIRouter(prefix="/metrics", tags=["metrics"])
MAX_POINTS = 100_000
DEFAULT_SPAN_S = 3600.0  # `from` left out: the last hour


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
        str, Query(min_length=1, max_length=128, description="e.g. icmp.rtt_avg_ms, status")
    ],
    from_: Annotated[
        datetime | None, Query(alias="from", description="ISO 8601; default: to - 1h")
    ] = None,
    to: Annotated[datetime | None, Query(description="ISO 8601; default: now")] = None,
    step: Annotated[str | None, Query(description="bucket size: 60, 30s, 5m, 1h")] = None,
    agg: Literal["avg", "min", "max", "count", "p95", "availability"] = "avg",
    format: Annotated[
        Literal["points", "columns"],
        Query(description="points: a list of objects; columns: parallel arrays (charts)"),
    ] = "points",
) -> SeriesResponse | SeriesColumns:
    """Points of ``metric`` for ``target`` in [from, to); one per ``step`` when given.

    The embedded store answers long ranges from rollups (minute, hour, day) when the step is
    a whole number of them and ``from`` lies on such a boundary; otherwise from raw samples.

    ``availability`` (for ``status``): the share of up samples in each step, in percent
    (the average of 1/0 samples × 100), whichever store answers.
    """
    if agg == "availability" and metric != "status":
        raise InventoryError("agg: availability is for the status metric")
    span = time_span(from_, to, default_s=DEFAULT_SPAN_S)
    start_ns, end_ns = span.start_ns, span.end_ns
    step_s = _step_seconds(step)
    if step_s is not None and (end_ns - start_ns) / 1e9 / step_s > MAX_POINTS:
        raise InventoryError(f"step: too small for the range (more than {MAX_POINTS} points)")
    start, end = span.start, span.end
    stored_agg: Aggregation = "avg" if agg == "availability" else agg
    points = await service.points(target, metric, start_ns, end_ns, step_s, stored_agg)
    if agg == "availability":
        points = [
            Point(p.ts_ns, 100.0 * p.value, 100.0 * p.min, 100.0 * p.max, p.count) for p in points
        ]
    head: dict[str, Any] = {
        "target": target,
        "metric": metric,
        "start": start,
        "end": end,
        "step": step_s,
        "agg": agg,
    }
    if format == "columns":
        return SeriesColumns(
            **head,
            ts=[p.ts_ns for p in points],
            value=[p.value for p in points],
            min=[p.min for p in points],
            max=[p.max for p in points],
            count=[p.count for p in points],
        )
    return SeriesResponse(
        **head,
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
    rows = await service.series(target)
    return [{"measurement": m, "target": d, "metric": n} for m, d, n in rows]


@router.get("/rounds")
async def rounds(
    service: ServiceDep,
    target: Annotated[str, Query(min_length=1, max_length=128)],
    kind: Annotated[str, Query(pattern="^[a-z][a-z0-9_]{0,31}$", description="e.g. icmp")],
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> RoundsResponse:
    """Each round of one check kind on a target with all its metrics: for an ICMP burst,
    loss, min/median/percentiles/max — the per-round distribution behind a "smoke" chart."""
    span = time_span(from_, to, default_s=DEFAULT_SPAN_S)
    found = await service.rounds(target, kind, span.start_ns, span.end_ns, limit)
    return RoundsResponse(
        target=target,
        kind=kind,
        rounds=[Round(ts=ts, time=ns_to_dt(ts), metrics=m) for ts, m in found],
    )
