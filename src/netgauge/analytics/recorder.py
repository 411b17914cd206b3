"""The analytics recorder: every ``every_s`` (15 minutes by default, the setting
``analytics_record_interval_s``) the conclusions that change over time are stored, so that
they have a history, a chart and a place in the timeline.

Series (measurement ``device_metrics``, under the target's name, like ``health_score``):

* ``anomaly_rate``: the share of the target's samples in the last hour that are anomalous
  (``analytics.anomalies``: every stored series but ``status`` and these derived ones, scored
  over the last day with 28 days of history before it, as ``GET /analytics/anomalies``);
  not written when the target has no sample in that hour;
* ``failure_risk``: the probability that the device goes offline within 24 h, as
  ``GET /analytics/risk`` answers it (the model or its fallback);
* ``disk_full_hours{mount=...}``: hours until the forecast of ``disk_percent{mount=...}``
  reaches 95 % (0 when reached); only when the forecast has a date.

Events (the ``events`` table, ``GET /api/v1/events``), each stored once
(``inventory.event_log``), at the time the thing began:

* ``anomaly``: an anomaly event of one series (start, end, anomalous samples, peak score and
  value); one found again later is updated (its end moves on), never added twice. Events
  starting in the first hour of the day scored are left out: they may be cut by the range's
  start, and the passes before saw them whole;
* ``error_pattern``: an error template first seen in the last 24 h with nothing of it in the
  7 days before (``analytics.pattern_report``'s "new"): template id, template, first seen,
  the first message, the targets it hit. Probe, poll and job-run errors only: the error log
  is for admins and events are for viewers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from netgauge.analytics.anomalies import DEFAULTS
from netgauge.analytics.anomalies_service import SKIPPED_METRICS, TargetAnomalies, score_stored
from netgauge.analytics.forecast_service import Forecasts, Question
from netgauge.analytics.health_service import HEALTH_SERIES, SITE_HEALTH_SERIES
from netgauge.analytics.patterns_service import error_patterns
from netgauge.analytics.risk_service import HORIZONS, RiskAnswer
from netgauge.clock import Clock
from netgauge.inventory.event_log import NewEvent, add_once
from netgauge.inventory.repository import Inventory
from netgauge.models import DEVICE_METRICS, Sample
from netgauge.periodic import Every
from netgauge.pollers.readings import DISK_PERCENT
from netgauge.series import series_name, split_series
from netgauge.storage.base import Aggregation, Point

log = structlog.get_logger(__name__)
RECORD_EVERY_S = 900.0
# series scored for anomalies per pass (57 ms of CPU each over 29 days of 5-minute samples,
# so at most about 23 s a pass): a bigger fleet is scored in turns, whole targets at a time,
# the next pass going on where this one stopped
ANOMALY_SERIES_PER_PASS = 400
ANOMALY_RATE = "anomaly_rate"
FAILURE_RISK = "failure_risk"
DISK_FULL_HOURS = "disk_full_hours"
ANOMALY_EVENT = "anomaly"
PATTERN_EVENT = "error_pattern"
DERIVED = frozenset(
    {HEALTH_SERIES, SITE_HEALTH_SERIES, ANOMALY_RATE, FAILURE_RISK, DISK_FULL_HOURS}
)
NS = 1_000_000_000
RATE_S = 3600.0  # anomaly_rate: the share over the last hour
SCORED_S = 86_400.0  # anomalies: the day scored each pass
HISTORY_S = 28 * 86_400.0  # before it, as the API's default
CUT_S = 3600.0  # events starting this close to the scored day's start are left out
DISK_LIMIT = 95.0
PATTERN_HOURS = 24.0
PATTERN_HISTORY_DAYS = 7.0

PointsFn = Callable[[str, str, int, int, float | None, Aggregation], Awaitable[list[Point]]]
SeriesFn = Callable[[str | None], Awaitable[list[tuple[str, str, str]]]]


class Risk(Protocol):
    """The failure-risk service as the recorder reads it."""

    async def answer(self, horizon_s: float, retrain: bool = False) -> RiskAnswer: ...


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one pass stored, and how long it took."""

    at: datetime
    took_s: float
    samples: int
    events_added: int
    events_updated: int


def anomaly_events(found: TargetAnomalies, since_s: float) -> list[NewEvent]:
    """The target's anomaly events that start at or after ``since_s``, as events to store."""
    events = []
    for metric, e in found.events():
        if e.start < since_s:
            continue
        start, end = datetime.fromtimestamp(e.start, UTC), datetime.fromtimestamp(e.end, UTC)
        data = {
            "key": metric,
            "series": metric,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "samples": e.samples,
            "peak_score": round(e.peak_score, 6),
            "peak_value": e.peak_value,
        }
        events.append(NewEvent(ANOMALY_EVENT, found.target, start, data))
    return events


def rate_since(found: TargetAnomalies, since_ns: int) -> float | None:
    """Anomalous samples / samples from ``since_ns`` on, across the series (None: none)."""
    total = anomalous = 0
    for s in found.series:
        for ts, flag in zip(s.ts_ns, s.anomalies, strict=True):
            if ts >= since_ns:
                total += 1
                anomalous += flag
    return anomalous / total if total else None


def describe(kind: str, data: dict[str, Any]) -> str:
    """An event in words, for the API's ``summary`` and the console."""
    if kind == ANOMALY_EVENT:
        return (
            f"anomaly in {data.get('series')}: {data.get('samples')} unusual samples from "
            f"{_hm(data.get('start'))} to {_hm(data.get('end'))}, peak score "
            f"{float(data.get('peak_score', 0)):.2f} at value {data.get('peak_value')}"
        )
    if kind == PATTERN_EVENT:
        example = str(data.get("example", ""))
        short = example if len(example) <= 120 else example[:119] + "…"
        return f"new error pattern: {data.get('template')} (first: {short})"
    if kind == "path_change":
        return f"path changed: {_hops(data.get('old'))} → {_hops(data.get('new'))}"
    return kind.replace("_", " ")


def _hm(iso: Any) -> str:
    try:
        return datetime.fromisoformat(str(iso)).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(iso)


def _hops(path: Any) -> str:
    return " ".join("*" if h is None else str(h) for h in path) if path else "none"


class AnalyticsRecorder:
    """Stores the analytics' history on a schedule (see the module's doc)."""

    def __init__(
        self,
        points: PointsFn,
        series: SeriesFn,
        inventory: Inventory,
        risk: Risk,
        submit: Callable[[Iterable[Sample]], None],
        clock: Clock,
        every_s: float = RECORD_EVERY_S,
        anomaly_series_per_pass: int = ANOMALY_SERIES_PER_PASS,
    ) -> None:
        self._points, self._series, self._inventory = points, series, inventory
        self._risk, self._submit, self._clock, self.every_s = risk, submit, clock, every_s
        self.last: Recorded | None = None
        self.anomaly_series_per_pass = anomaly_series_per_pass
        self._next_target = ""  # where the next pass's anomaly turn starts (a target's name)
        self._lock = asyncio.Lock()
        self._every: Every | None = None

    def start(self) -> None:
        """Record every ``every_s`` in the background until :meth:`stop`."""
        self._every = Every("analytics-recorder", self.every_s, self._clock, self.record_once)
        self._every.start()

    async def stop(self) -> None:
        """Stop the schedule (a pass under way is cancelled)."""
        if self._every is not None:
            await self._every.stop()

    async def record_once(self) -> Recorded:
        """One pass now: each part on its own (one failing is logged, the others go on)."""
        async with self._lock:
            started, now = self._clock.monotonic(), self._clock.now()
            at_ns = int(now.timestamp() * NS)
            samples: list[Sample] = []
            events: list[NewEvent] = []
            for part in (self._anomalies, self._risks, self._disks, self._patterns):
                try:
                    found_samples, found_events = await part(now, at_ns)
                except Exception:  # a bug in one part must not stop the others, nor the loop
                    log.exception("analytics.record_failed", part=part.__name__)
                    continue
                samples += found_samples
                events += found_events
            if samples:
                self._submit(samples)
            added, updated = await asyncio.to_thread(add_once, self._inventory, events)
            took = self._clock.monotonic() - started
            self.last = Recorded(now, took, len(samples), added, updated)
            log.info(
                "analytics.recorded",
                samples=len(samples),
                events=added,
                updated=updated,
                took_s=took,
            )
            return self.last

    async def _scored(self) -> dict[str, list[str]]:
        """Per target, its stored series but ``status`` and the derived ones (an anomaly rate
        of anomaly rates is noise)."""
        found: dict[str, set[str]] = {}
        for _, target, metric in await self._series(None):
            if metric not in SKIPPED_METRICS and split_series(metric)[0] not in DERIVED:
                found.setdefault(target, set()).add(metric)
        return {target: sorted(metrics) for target, metrics in sorted(found.items())}

    async def _raw(self, target: str, metric: str, start_ns: int, end_ns: int) -> list[Point]:
        return await self._points(target, metric, start_ns, end_ns, None, "avg")

    async def _stepped(
        self, target: str, metric: str, start_ns: int, end_ns: int, step_s: float
    ) -> list[Point]:
        return await self._points(target, metric, start_ns, end_ns, step_s, "avg")

    async def _anomalies(self, now: datetime, at_ns: int) -> tuple[list[Sample], list[NewEvent]]:
        start_ns = at_ns - int(SCORED_S * NS)
        samples, events = [], []
        for target, metrics in self._turn(await self._scored()):
            found = TargetAnomalies(target)
            for metric in metrics:
                stored = await self._raw(target, metric, start_ns - int(HISTORY_S * NS), at_ns + 1)
                # in a thread: a big fleet's scoring must not hold the event loop (the API,
                # the writer) for seconds
                scored = await asyncio.to_thread(score_stored, metric, stored, start_ns, DEFAULTS)
                found.series.append(scored)
            rate = rate_since(found, at_ns - int(RATE_S * NS))
            if rate is not None:
                samples.append(Sample(DEVICE_METRICS, found.target, ANOMALY_RATE, rate, at_ns))
            events += anomaly_events(found, start_ns / NS + CUT_S)
        return samples, events

    def _turn(self, scored: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
        """This pass's share of the targets: from where the last one stopped, whole targets,
        until ``anomaly_series_per_pass`` series (at least one target)."""
        names = sorted(scored)
        start = next((i for i, n in enumerate(names) if n >= self._next_target), 0)
        turn: list[tuple[str, list[str]]] = []
        count = 0
        for name in names[start:] + names[:start]:
            if turn and count + len(scored[name]) > self.anomaly_series_per_pass:
                self._next_target = name
                return turn
            turn.append((name, scored[name]))
            count += len(scored[name])
        self._next_target = ""  # all of them fitted: the next pass starts at the first again
        return turn

    async def _risks(self, now: datetime, at_ns: int) -> tuple[list[Sample], list[NewEvent]]:
        answer = await self._risk.answer(HORIZONS["24h"])
        return [
            Sample(DEVICE_METRICS, d.device, FAILURE_RISK, d.probability, at_ns)
            for d in answer.devices
        ], []

    async def _disks(self, now: datetime, at_ns: int) -> tuple[list[Sample], list[NewEvent]]:
        forecasts = Forecasts(self._stepped, self._series, lambda: now, keep_s=0.0)
        samples = []
        for f in await forecasts.of(Question(DISK_PERCENT, DISK_LIMIT)):
            reaches = f.forecast.reaches_at
            if reaches is None:
                continue
            hours = max(0.0, (reaches - now).total_seconds() / 3600.0)
            name = series_name(DISK_FULL_HOURS, f.labels)
            samples.append(Sample(DEVICE_METRICS, f.target, name, hours, at_ns))
        return samples, []

    async def _patterns(self, now: datetime, at_ns: int) -> tuple[list[Sample], list[NewEvent]]:
        found = await error_patterns(
            self._inventory, now, PATTERN_HOURS, PATTERN_HISTORY_DAYS, with_log=False
        )
        summaries = {s.id: s for s in found.report.patterns}
        events = []
        for new in found.report.new:
            summary = summaries.get(new.id)
            data = {
                "key": new.id,
                "template_id": new.id,
                "template": new.template,
                "first_seen": new.at.isoformat(),
                "example": new.text,
                "source": new.source,
                "targets": [t for t, _ in summary.targets] if summary else [],
            }
            # a run's own error names no target: the event is the job's (an empty target)
            events.append(NewEvent(PATTERN_EVENT, new.target or "", new.at, data, new.job))
        return [], events


__all__ = [
    "ANOMALY_EVENT",
    "ANOMALY_RATE",
    "DISK_FULL_HOURS",
    "FAILURE_RISK",
    "PATTERN_EVENT",
    "RECORD_EVERY_S",
    "AnalyticsRecorder",
    "Recorded",
    "anomaly_events",
    "describe",
    "rate_since",
]
