"""The health score's service side: read the stores and the inventory's history, score every
target and site (:mod:`netgauge.analytics.health`), keep the newest breakdown in memory and
store each score as a series through the writer, every :data:`HEALTH_EVERY_S`.

Stored series (measurement ``device_metrics``, like every metric): ``health_score`` under the
target's name, ``site_health_score`` under the site's name; the console's charts and
``/api/v1/metrics`` read them like any other.

What it reads, per target (hourly buckets from the stores' rollups, the window's start on a
whole hour):

* ``status`` hourly averages and counts over 7 days (the last 24 hours of them: the 24 h
  availability); a destination's raw ``status`` over 24 h for its state changes, a device's
  transitions in ``device_state_history`` (any state: online, offline, degraded, flapping);
* ``cpu_percent``, ``memory_percent``, ``temperature_celsius{sensor=...}`` hourly over 24 h;
  ``disk_percent{mount=...}`` hourly over 7 days;
* the target's latency and loss series (``status.measures``: the first the target has)
  hourly over 7 days;
* job-run outcomes naming it (7 days, from runs that kept every outcome) and error-log
  entries naming it (24 h; counted when it has status samples in 24 h, i.e. was checked).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from netgauge.analytics.health import (
    Bucket,
    Health,
    HealthInputs,
    Kind,
    SiteHealth,
    score,
    site_score,
)
from netgauge.clock import Clock
from netgauge.inventory.health_queries import FleetHistory, fleet_history
from netgauge.inventory.repository import Inventory
from netgauge.models import DEVICE_METRICS, Sample
from netgauge.periodic import Every
from netgauge.pollers.readings import (
    CPU_PERCENT,
    DISK_PERCENT,
    MEMORY_PERCENT,
    TEMPERATURE_CELSIUS,
)
from netgauge.series import split_series
from netgauge.status.measures import LATENCY_SERIES, LOSS_SERIES
from netgauge.storage.base import Aggregation, Point

log = structlog.get_logger(__name__)
HEALTH_EVERY_S = 300.0
HEALTH_SERIES = "health_score"
SITE_HEALTH_SERIES = "site_health_score"
HOUR_S = 3600
DAY_NS = 86_400 * 10**9

PointsFn = Callable[[str, str, int, int, float | None, Aggregation], Awaitable[list[Point]]]
SeriesFn = Callable[[str | None], Awaitable[list[tuple[str, str, str]]]]


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """One target's newest score."""

    name: str
    kind: Kind
    site: str | None
    health: Health


@dataclass(frozen=True, slots=True)
class SiteBoard:
    """One site's newest score and its members' names."""

    name: str
    health: SiteHealth
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Board:
    """Every score of one recompute."""

    at: datetime
    took_s: float
    targets: dict[str, TargetHealth] = field(default_factory=dict)
    sites: dict[str, SiteBoard] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Window:
    """The time windows of one recompute, in ns (starts on whole hours)."""

    end_ns: int
    start_24h_ns: int
    start_7d_ns: int

    @classmethod
    def ending(cls, now: datetime) -> Window:
        end = int(now.timestamp() * 1e9)
        hour = HOUR_S * 10**9
        return cls(end, (end - DAY_NS) // hour * hour, (end - 7 * DAY_NS) // hour * hour)


def count_changes(values: Iterable[float]) -> int:
    """How often consecutive values differ."""
    changes, previous = 0, None
    for value in values:
        if previous is not None and value != previous:
            changes += 1
        previous = value
    return changes


class HealthScores:
    """Scores every target and site on a schedule; the API and the console read the board."""

    def __init__(
        self,
        points: PointsFn,
        series: SeriesFn,
        inventory: Inventory,
        submit: Callable[[Iterable[Sample]], None],
        clock: Clock,
        every_s: float = HEALTH_EVERY_S,
    ) -> None:
        self._points, self._series, self._inventory = points, series, inventory
        self._submit, self._clock, self.every_s = submit, clock, every_s
        self.board: Board | None = None
        self._lock = asyncio.Lock()
        self._every: Every | None = None

    def start(self) -> None:
        """Recompute every ``every_s`` in the background until :meth:`stop`."""
        self._every = Every("health", self.every_s, self._clock, self.recompute)
        self._every.start()

    async def stop(self) -> None:
        """Stop the schedule (a recompute under way is cancelled: nothing half-written)."""
        if self._every is not None:
            await self._every.stop()

    async def current(self) -> Board:
        """The newest board; computed now when there is none yet (requests arriving
        meanwhile wait for that one, rather than each computing another)."""
        if self.board is not None:
            return self.board
        async with self._lock:
            return self.board if self.board is not None else await self._recompute()

    async def recompute(self) -> Board:
        """Score every target and site now, store the scores, keep the board."""
        async with self._lock:
            return await self._recompute()

    async def _recompute(self) -> Board:
        started = time.monotonic()
        now = self._clock.now()
        window = Window.ending(now)
        board = await self._compute(now, window)
        self._store(board, window.end_ns)
        self.board = Board(now, time.monotonic() - started, board.targets, board.sites)
        log.info("health.recomputed", targets=len(board.targets), took_s=self.board.took_s)
        return self.board

    async def _compute(self, now: datetime, window: Window) -> Board:
        placements = await asyncio.to_thread(self._inventory.target_placements)
        history = await asyncio.to_thread(
            fleet_history, self._inventory, now - timedelta(days=1), now - timedelta(days=7)
        )
        stored: dict[str, list[str]] = {}
        for _, target, metric in await self._series(None):
            stored.setdefault(target, []).append(metric)
        targets: dict[str, TargetHealth] = {}
        for name, kind_text, site, _, _ in placements:
            kind: Kind = "device" if kind_text == "device" else "destination"
            inputs = await self._inputs(name, kind, stored.get(name, []), history, window)
            targets[name] = TargetHealth(name, kind, site, score(inputs))
        return Board(now, 0.0, targets, self._sites(targets))

    @staticmethod
    def _sites(targets: dict[str, TargetHealth]) -> dict[str, SiteBoard]:
        members: dict[str, dict[str, Health]] = {}
        for t in targets.values():
            if t.site is not None:
                members.setdefault(t.site, {})[t.name] = t.health
        return {
            site: SiteBoard(site, site_score(healths), tuple(sorted(healths)))
            for site, healths in sorted(members.items())
        }

    def _store(self, board: Board, at_ns: int) -> None:
        samples = [
            Sample(DEVICE_METRICS, t.name, HEALTH_SERIES, t.health.score, at_ns)
            for t in board.targets.values()
            if t.health.score is not None
        ]
        samples += [
            Sample(DEVICE_METRICS, s.name, SITE_HEALTH_SERIES, s.health.score, at_ns)
            for s in board.sites.values()
            if s.health.score is not None
        ]
        if samples:
            self._submit(samples)

    async def _hourly(self, target: str, metric: str, start_ns: int, end_ns: int) -> list[Point]:
        return await self._points(target, metric, start_ns, end_ns, float(HOUR_S), "avg")

    async def _inputs(
        self, name: str, kind: Kind, metrics: Sequence[str], history: FleetHistory, w: Window
    ) -> HealthInputs:
        """Everything :func:`score` reads about one target."""
        status = await self._hourly(name, "status", w.start_7d_ns, w.end_ns)
        status_7d = [Bucket(p.value, p.count) for p in status]
        status_24h = [Bucket(p.value, p.count) for p in status if p.ts_ns >= w.start_24h_ns]
        changes = await self._changes(name, kind, history, bool(status_24h), w)
        by_name: dict[str, list[str]] = {}
        for metric in metrics:
            by_name.setdefault(split_series(metric)[0], []).append(metric)
        return HealthInputs(
            kind=kind,
            status_24h=status_24h,
            status_7d=status_7d,
            changes_24h=changes,
            cpu_24h=await self._values(name, by_name.get(CPU_PERCENT, []), w.start_24h_ns, w),
            memory_24h=await self._values(name, by_name.get(MEMORY_PERCENT, []), w.start_24h_ns, w),
            disks_7d=await self._disks(name, by_name.get(DISK_PERCENT, []), w),
            temperatures_24h=await self._labelled(
                name, by_name.get(TEMPERATURE_CELSIUS, []), "sensor", w
            ),
            errors_24h=history.errors_24h.get(name, 0) if status_24h else None,
            job_outcomes_7d=history.outcomes_7d.get(name),
            latency_7d=await self._first(name, metrics, LATENCY_SERIES, w),
            loss_7d=await self._first(name, metrics, LOSS_SERIES, w),
        )

    async def _changes(
        self, name: str, kind: Kind, history: FleetHistory, seen: bool, w: Window
    ) -> int | None:
        """State changes in 24 h: a device's recorded transitions, a destination's flips of
        its stored status (None when it has no status in 24 h and no transition)."""
        if kind == "device":
            found = history.changes_24h.get(name)
            return found if found is not None else (0 if seen else None)
        if not seen:
            return None
        raw = await self._points(name, "status", w.end_ns - DAY_NS, w.end_ns, None, "avg")
        return count_changes(p.value for p in raw)

    async def _values(self, name: str, series: list[str], start_ns: int, w: Window) -> list[float]:
        """Hourly averages of a metric without labels (the first series of that name)."""
        if not series:
            return []
        return [p.value for p in await self._hourly(name, series[0], start_ns, w.end_ns)]

    async def _labelled(
        self, name: str, series: list[str], label: str, w: Window
    ) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        for each in series:
            key = split_series(each)[1].get(label, each)
            points = await self._hourly(name, each, w.start_24h_ns, w.end_ns)
            found[key] = [p.value for p in points]
        return found

    async def _disks(
        self, name: str, series: list[str], w: Window
    ) -> dict[str, list[tuple[float, float]]]:
        """Per mount, (days since the window's start, hourly average) over 7 days."""
        found: dict[str, list[tuple[float, float]]] = {}
        for each in series:
            mount = split_series(each)[1].get("mount", each)
            points = await self._hourly(name, each, w.start_7d_ns, w.end_ns)
            found[mount] = [((p.ts_ns - w.start_7d_ns) / DAY_NS, p.value) for p in points]
        return found

    async def _first(
        self, name: str, metrics: Sequence[str], wanted: Sequence[str], w: Window
    ) -> list[float]:
        """Hourly averages over 7 days of the first of ``wanted`` the target has."""
        have = set(metrics)
        for series in wanted:
            if series in have:
                points = await self._hourly(name, series, w.start_7d_ns, w.end_ns)
                return [p.value for p in points]
        return []


__all__ = [
    "HEALTH_EVERY_S",
    "HEALTH_SERIES",
    "SITE_HEALTH_SERIES",
    "Board",
    "HealthScores",
    "SiteBoard",
    "TargetHealth",
    "count_changes",
]
