"""/api/v1/analytics/anomalies: anomaly scores of stored series, the rate per device and the
events (consecutive anomalous samples), computed on request by
``netgauge.analytics.anomalies`` — the code behind ``netgauge analytics anomalies FILE``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from netgauge.analytics.anomalies import Event
from netgauge.analytics.anomalies_service import (
    TargetAnomalies,
    fleet_anomalies,
    target_anomalies,
)
from netgauge.api.deps import ServiceDep
from netgauge.config.base import parse_duration
from netgauge.errors import InventoryError, NotFoundError
from netgauge.timerange import NS_PER_S, TimeSpan, ns_to_dt, parse_when, time_span

router = APIRouter(prefix="/anomalies")
DEFAULT_SPAN_S = 86_400.0  # `from` left out: the last day
MAX_SPAN_S = 31 * 86_400.0
MAX_HISTORY_S = 90 * 86_400.0
DEFAULT_HISTORY = "28d"  # the weekly model needs 3 earlier weeks of the same hour
RECENT_EVENTS = 5

History = Annotated[
    str,
    Query(
        max_length=16,
        description="how much before `from` is read to build the baselines (e.g. 7d, 28d; "
        "at most 90d); the seasonal models need 3 days (daily) and 3 weeks (weekly)",
    ),
]
# ISO 8601 text, read by timerange.parse_when: pydantic would take a number (0.5) for a time
From = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=64,
        description="ISO 8601 (UTC without an offset); default: to - 1d",
        json_schema_extra={"format": "date-time"},
    ),
]
To = Annotated[
    str | None,
    Query(
        max_length=64,
        description="ISO 8601 (UTC without an offset); default: now",
        json_schema_extra={"format": "date-time"},
    ),
]


class AnomalyEvent(BaseModel):
    """Consecutive anomalous samples of one series."""

    metric: str
    start: datetime
    end: datetime
    samples: int = Field(description="anomalous samples in the event")
    peak_score: float
    peak_value: float


class AnomalySeriesScores(BaseModel):
    """One series in the range: parallel arrays (charts), one entry per stored sample."""

    metric: str
    samples: int
    anomalous: int
    ts: list[int] = Field(description="UTC nanoseconds")
    value: list[float]
    score: list[float] = Field(description="in [0, 1]; anomalous at >= 0.5")
    anomaly: list[bool]


class TargetAnomaliesPublic(BaseModel):
    """A target's anomaly rate, its series' scores and its events in the range."""

    target: str
    start: datetime
    end: datetime
    samples: int
    anomalous: int
    rate: float = Field(description="anomalous samples / samples across the series")
    series: list[AnomalySeriesScores]
    events: list[AnomalyEvent] = Field(description="newest first")


class DeviceAnomalyRate(BaseModel):
    """One device's anomaly rate and its newest events."""

    device: str
    samples: int
    anomalous: int
    rate: float
    events: list[AnomalyEvent] = Field(description=f"the {RECENT_EVENTS} newest")


class FleetAnomalies(BaseModel):
    """Every device with stored series, highest anomaly rate first."""

    start: datetime
    end: datetime
    devices: list[DeviceAnomalyRate]


def _span(start: str | None, end: str | None) -> TimeSpan:
    """The range asked for; the errors name ``from`` or ``to``."""
    return time_span(
        None if start is None else parse_when(start, "from"),
        None if end is None else parse_when(end, "to"),
        default_s=DEFAULT_SPAN_S,
        max_s=MAX_SPAN_S,
    )


def _history_ns(text: str) -> int:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise InventoryError(f"history: {exc}") from None
    if not 0 <= seconds <= MAX_HISTORY_S:
        raise InventoryError("history: must lie between 0 and 90d")
    return int(seconds * NS_PER_S)


def _event(metric: str, e: Event) -> AnomalyEvent:
    return AnomalyEvent(
        metric=metric,
        start=ns_to_dt(int(e.start * NS_PER_S)),
        end=ns_to_dt(int(e.end * NS_PER_S)),
        samples=e.samples,
        peak_score=e.peak_score,
        peak_value=e.peak_value,
    )


@router.get("")
async def anomalies(
    service: ServiceDep,
    target: Annotated[str, Query(min_length=1, max_length=128)],
    metric: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    from_: From = None,
    to: To = None,
    history: History = DEFAULT_HISTORY,
) -> TargetAnomaliesPublic:
    """Anomaly score of every stored sample of ``target`` (or of one ``metric``) in
    [from, to), its anomaly rate and its events.

    Each sample is scored only on the samples before it (``history`` before ``from`` is
    read for that): robust daily and weekly same-hour baselines, a rolling median/MAD while
    history is short; the score is z² / (z² + 25) of the robust z of the agreeing model, and
    a sample is anomalous at score >= 0.5 (z >= 5). ``status`` is not scored."""
    span = _span(from_, to)
    found = await target_anomalies(
        service.points,
        service.series,
        target,
        span.start_ns,
        span.end_ns,
        _history_ns(history),
        metric,
    )
    if not found.series:
        what = f"metric {metric!r} of " if metric else ""
        raise NotFoundError(f"target: no stored series of {what}{target!r} to score")
    return TargetAnomaliesPublic(
        target=target,
        start=span.start,
        end=span.end,
        samples=found.samples,
        anomalous=found.anomalous,
        rate=found.rate,
        series=[
            AnomalySeriesScores(
                metric=s.metric,
                samples=len(s.ts_ns),
                anomalous=s.anomalous,
                ts=s.ts_ns,
                value=s.values,
                score=s.scores,
                anomaly=s.anomalies,
            )
            for s in found.series
        ],
        events=[_event(m, e) for m, e in found.events()],
    )


def _device(found: TargetAnomalies) -> DeviceAnomalyRate:
    return DeviceAnomalyRate(
        device=found.target,
        samples=found.samples,
        anomalous=found.anomalous,
        rate=found.rate,
        events=[_event(m, e) for m, e in found.events()[:RECENT_EVENTS]],
    )


@router.get("/devices")
async def devices(
    service: ServiceDep, from_: From = None, to: To = None, history: History = DEFAULT_HISTORY
) -> FleetAnomalies:
    """Every device with stored series by anomaly rate in [from, to) (highest first),
    each with its newest events; scored as ``/analytics/anomalies`` scores one target."""
    span = _span(from_, to)
    found = await fleet_anomalies(  # one at a time (see there)
        service.points, service.series, span.start_ns, span.end_ns, _history_ns(history)
    )
    return FleetAnomalies(start=span.start, end=span.end, devices=[_device(f) for f in found])
