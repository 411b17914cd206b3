"""Anomalies of stored series: what the API and the console ask for, computed on request.

A target's series over ``[start, end)`` are scored with ``history`` before ``start`` read
too (so that the seasonal models are ready at ``start`` — the score of a sample never sees
what came after it, as in the file command); only the samples inside the range are
reported. The store is reached through the two functions passed in (the Service's
``points`` and ``series``), never directly. ``status`` (1/0 up/down) is left out: its
changes are the device states' business, and an outage would swamp the rate.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from netgauge.analytics.anomalies import DEFAULTS, Event, Params, anomaly_rate, events, score_series
from netgauge.storage.base import Point

NS = 1_000_000_000
SKIPPED_METRICS = frozenset({"status"})

PointsFn = Callable[[str, str, int, int], Awaitable[list[Point]]]
SeriesFn = Callable[[str | None], Awaitable[list[tuple[str, str, str]]]]


@dataclass(frozen=True, slots=True)
class SeriesAnomalies:
    """One series' samples in the range with their scores, and its events."""

    metric: str
    ts_ns: list[int]
    values: list[float]
    scores: list[float]
    anomalies: list[bool]
    events: list[Event]

    @property
    def anomalous(self) -> int:
        """Anomalous samples in the range."""
        return sum(self.anomalies)


@dataclass(frozen=True, slots=True)
class TargetAnomalies:
    """A target's series and its anomaly rate in the range."""

    target: str
    series: list[SeriesAnomalies] = field(default_factory=list)

    @property
    def samples(self) -> int:
        """Samples in the range across the series."""
        return sum(len(s.ts_ns) for s in self.series)

    @property
    def anomalous(self) -> int:
        """Anomalous samples in the range across the series."""
        return sum(s.anomalous for s in self.series)

    @property
    def rate(self) -> float:
        """Share of anomalous samples across the series (0 without samples)."""
        return anomaly_rate([np.array(s.anomalies, dtype=bool) for s in self.series])

    def events(self) -> list[tuple[str, Event]]:
        """(metric, event) of every series, newest first."""
        found = [(s.metric, e) for s in self.series for e in s.events]
        return sorted(found, key=lambda pair: pair[1].start, reverse=True)


async def target_anomalies(
    points: PointsFn,
    series: SeriesFn,
    target: str,
    start_ns: int,
    end_ns: int,
    history_ns: int,
    metric: str | None = None,
    params: Params = DEFAULTS,
) -> TargetAnomalies:
    """Score ``target``'s stored series (or only ``metric``) over ``[start, end)``."""
    metrics = _metrics_of(await series(target), target)
    if metric is not None:
        metrics = [m for m in metrics if m == metric]
    return await _score_target(points, target, metrics, start_ns, end_ns, history_ns, params)


def _metrics_of(rows: list[tuple[str, str, str]], target: str) -> list[str]:
    """The scored metrics among stored (measurement, target, metric) rows."""
    return sorted({m for _, t, m in rows if t == target and m not in SKIPPED_METRICS})


async def _score_target(
    points: PointsFn,
    target: str,
    metrics: list[str],
    start_ns: int,
    end_ns: int,
    history_ns: int,
    params: Params,
) -> TargetAnomalies:
    found = []
    for name in metrics:
        stored = await points(target, name, max(0, start_ns - history_ns), end_ns)
        # in a thread: a series' weeks of history take tens of milliseconds to score, a
        # fleet's minutes; the event loop (the API, the writer) must not wait for them
        found.append(await asyncio.to_thread(score_stored, name, stored, start_ns, params))
    return TargetAnomalies(target, found)


def score_stored(metric: str, stored: Sequence[Point], start_ns: int, p: Params) -> SeriesAnomalies:
    """Score stored points (history included) and keep those from ``start_ns`` on."""
    ts = np.fromiter((pt.ts_ns for pt in stored), dtype=np.int64, count=len(stored))
    values = np.fromiter((pt.value for pt in stored), dtype=np.float64, count=len(stored))
    scores = score_series(ts / NS, values, p)
    keep = ts >= start_ns
    kept = type(scores)(
        scores.score[keep], scores.anomaly[keep], scores.baseline[keep], scores.z[keep]
    )
    return SeriesAnomalies(
        metric,
        ts[keep].tolist(),
        values[keep].tolist(),
        kept.score.tolist(),
        kept.anomaly.tolist(),
        events(ts[keep] / NS, kept, values[keep], p.gap),
    )


_FLEET_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def fleet_anomalies(
    points: PointsFn,
    series: SeriesFn,
    start_ns: int,
    end_ns: int,
    history_ns: int,
    params: Params = DEFAULTS,
) -> list[TargetAnomalies]:
    """Every target with stored series, highest anomaly rate first (then by name).

    One fleet scoring at a time (per event loop: per service): the API's list and the
    console's page both come here, and a burst of reloads queues behind one scoring rather
    than running a fleet's worth each, filling the thread pool the store reads use."""
    async with _FLEET_TURNS.setdefault(asyncio.get_running_loop(), asyncio.Lock()):
        return await _fleet(points, series, start_ns, end_ns, history_ns, params)


async def _fleet(
    points: PointsFn,
    series: SeriesFn,
    start_ns: int,
    end_ns: int,
    history_ns: int,
    params: Params,
) -> list[TargetAnomalies]:
    rows = await series(None)
    targets = sorted({t for _, t, m in rows if m not in SKIPPED_METRICS})
    found = [
        await _score_target(points, t, _metrics_of(rows, t), start_ns, end_ns, history_ns, params)
        for t in targets
    ]
    return sorted(found, key=lambda a: (-a.rate, a.target))
