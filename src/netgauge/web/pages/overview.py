"""Console page: the overview (``/``) — state counts, worst destinations, busiest devices,
recent transitions, recent job runs and storage health.

The sections come from one Jinja partial (``partials/overview_sections.html``), rendered
here for the page and by ``/api/v1/live/overview`` for its server-sent events, so the page
and its live updates cannot disagree. Building them is bounded whatever the inventory's
size: the states and newest results are in memory (one pass over them, top-N by heap), and
the database gives a handful of newest rows in one session; no query per target.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from netgauge.analytics.recorder import describe
from netgauge.inventory import queries
from netgauge.inventory.tables import DeviceStateChange, Event, JobRun
from netgauge.models import TargetType
from netgauge.series import split_series
from netgauge.service import Service
from netgauge.status import TargetState
from netgauge.status.live import STATES, UNKNOWN
from netgauge.status.measures import latency_and_loss
from netgauge.timerange import ns_to_dt
from netgauge.web.render import as_utc, render, render_fragment

router = APIRouter(include_in_schema=False)

TOP = 10  # rows of each "worst"/"recent" list
TOP_DEVICES = 5  # rows of each device metric's list
TYPES_TTL_S = 10.0  # how long the name → type map is trusted (a new name refreshes it)
CACHE_TTL_S = 1.0  # the sections are rendered at most once a second, however many watch
HEALTH_TIMEOUT_S = 2.0  # a remote store slow to say how it is must not stall the page
PARTIAL = "partials/overview_sections.html"

# device metrics shown, by their documented names (labelled ones: the highest series)
DEVICE_METRICS: tuple[tuple[str, str, str], ...] = (
    ("cpu_percent", "CPU", "%"),
    ("memory_percent", "Memory", "%"),
    ("disk_percent", "Disk", "%"),
    ("temperature_celsius", "Temperature", "°C"),
)
_DEST_STATES = STATES[TargetType.DESTINATION]
_DEVICE_STATES = STATES[TargetType.DEVICE]


@dataclass(frozen=True)
class Worst:
    """One destination of the worst list."""

    name: str
    state: str
    loss_pct: float | None
    latency_ms: float | None
    last: datetime | None


@dataclass(frozen=True)
class Busy:
    """One device's newest value of one metric (``series`` names the mount/sensor)."""

    name: str
    value: float
    series: str

    @property
    def detail(self) -> str:
        """The series' label values (``/`` of ``disk_percent{mount="/"}``), "" for none."""
        return ", ".join(split_series(self.series)[1].values())


@dataclass(frozen=True)
class Transition:
    """A state change (or path change) of a target, for the recent list."""

    at: datetime
    name: str
    href: str
    old: str | None
    new: str
    reason: str | None


@dataclass
class Overview:
    """Everything the sections show."""

    destinations: dict[str, int]
    devices: dict[str, int]
    worst: list[Worst]
    busy: list[tuple[str, str, list[Busy]]]  # (label, unit, rows) per device metric
    transitions: list[Transition]
    runs: list[JobRun]
    storage: list[dict[str, Any]]
    storage_error: str | None = None
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))


def href(name: str, kind: str | None) -> str:
    """The detail page of a target (a device's or a destination's)."""
    return f"/{'devices' if kind == 'device' else 'destinations'}/{name}"


def _dt(ns: int) -> datetime | None:
    """UTC nanoseconds as a datetime; None for 0 (never)."""
    return ns_to_dt(ns) if ns else None


_SHOWN = {name for name, _, _ in DEVICE_METRICS}
_PREFIXES = tuple(_SHOWN)


@dataclass
class _Tally:
    """What one pass over the tracker's states collects (the hot loop of a render: with
    10,000 targets it runs 10,000 times, so it keeps to dict lookups and bounded heaps)."""

    destinations: dict[str, int] = field(default_factory=dict)
    # min-heaps of the TOP largest: (key, name, loss, latency, state)
    worst: list[tuple[Any, ...]] = field(default_factory=list)
    moved: list[tuple[int, str, str]] = field(default_factory=list)  # (since_ns, name, state)
    busy: dict[str, list[tuple[float, str, str]]] = field(
        default_factory=lambda: {name: [] for name in _SHOWN}
    )

    def destination(self, st: TargetState) -> None:
        state = st.state
        self.destinations[state] = self.destinations.get(state, 0) + 1
        latency, loss = latency_and_loss(st.checks.values())
        rank = (loss if loss is not None else (100.0 if state == "down" else 0.0), latency or 0.0)
        _push(self.worst, (rank, st.target, loss, latency, st), TOP)
        if st.since_ns:
            _push(self.moved, (st.since_ns, st.target, state), TOP)

    def device(self, st: TargetState) -> None:
        best: dict[str, tuple[float, str]] = {}
        for result in st.checks.values():
            if result.prefixed:  # probe metrics (icmp.*), not a device poll's
                continue
            for series, value in result.metrics.items():
                if value is None or not series.startswith(_PREFIXES):
                    continue
                name = series.partition("{")[0]
                if name in _SHOWN and (name not in best or value > best[name][0]):
                    best[name] = (value, series)
        for name, (value, series) in best.items():
            _push(self.busy[name], (float(value), st.target, series), TOP_DEVICES)


def _push(heap: list[Any], item: Any, size: int) -> None:
    """Keep the ``size`` largest items in ``heap`` (a min-heap): O(log size) per item."""
    if len(heap) < size:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)


class _Types:
    """Target name → type ("destination"/"device") of the whole inventory, one query at a
    time: reloaded after TYPES_TTL_S or when a checked name is not in it yet."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        self.loaded = 0.0
        self.service: Service | None = None

    async def get(self, service: Service, names: Iterable[str]) -> dict[str, str]:
        stale = time.monotonic() - self.loaded > TYPES_TTL_S or self.service is not service
        if stale or not all(map(self.types.__contains__, names)):
            self.types = await asyncio.to_thread(queries.target_types, service.inventory)
            self.loaded, self.service = time.monotonic(), service
        return self.types


async def build(service: Service) -> Overview:
    """The overview's data: one pass over the in-memory states, one database session."""
    states = service.all_checked()
    types = await _TYPES.get(service, map(attrgetter("target"), states))
    recent = await asyncio.to_thread(queries.recent, service.inventory, TOP)
    tally = _Tally()
    for st in states:
        if types.get(st.target) == "device":
            tally.device(st)
        else:
            tally.destination(st)
    health, error = await _health(service)
    return Overview(
        destinations=_destination_counts(tally.destinations, types),
        devices=_device_counts(service, types),
        worst=[
            Worst(name, st.state, loss, latency, _dt(st.last_ns))
            for _, name, loss, latency, st in sorted(tally.worst, reverse=True)
        ],
        busy=[
            (label, unit, [Busy(n, v, s) for v, n, s in sorted(tally.busy[name], reverse=True)])
            for name, label, unit in DEVICE_METRICS
        ],
        transitions=_transitions(tally.moved, recent.changes, recent.events, types),
        runs=recent.runs,
        storage=health,
        storage_error=error,
    )


def _destination_counts(checked: dict[str, int], types: dict[str, str]) -> dict[str, int]:
    """Checked destinations by state; the never-checked ones count as unknown."""
    counts = {state: checked.get(state, 0) for state in _DEST_STATES}
    known = sum(1 for kind in types.values() if kind != "device")
    counts["unknown"] += max(0, known - sum(checked.values()))
    return counts


def _device_counts(service: Service, types: dict[str, str]) -> dict[str, int]:
    """Devices by decided state; undecided and never-polled ones count as unknown."""
    decided = service.live.all(TargetType.DEVICE)
    counts: Counter[str] = Counter()
    for name, kind in types.items():
        if kind == "device":
            counts[decided.get(name, UNKNOWN)] += 1
    return {state: counts.get(state, 0) for state in _DEVICE_STATES}


def _transitions(
    moved: list[tuple[int, str, str]],
    changes: list[DeviceStateChange],
    events: list[Event],
    types: dict[str, str],
) -> list[Transition]:
    """The newest TOP changes: destinations' states (in memory: the tracker keeps when each
    state began), devices' transitions and targets' events (both stored), merged by time."""
    merged = [
        Transition(_dt(ns) or datetime.now(UTC), name, href(name, "destination"), None, state, None)
        for ns, name, state in moved
    ]
    merged += [
        Transition(
            as_utc(c.at),
            c.device,
            href(c.device, "device"),
            c.previous_state,
            c.new_state,
            c.reason,
        )
        for c in changes
    ]
    merged += [
        Transition(
            as_utc(e.at),
            e.target_name or e.job_name or "",
            # a job's own error pattern names no target: its job's page
            href(e.target_name, types.get(e.target_name))
            if e.target_name
            else f"/jobs/{e.job_name}",
            None,
            e.kind.replace("_", " "),
            # a path change: its job
            e.job_name if e.kind == "path_change" else describe(e.kind, e.data or {}),
        )
        for e in events
    ]
    merged.sort(key=lambda t: t.at, reverse=True)
    return merged[:TOP]


async def _health(service: Service) -> tuple[list[dict[str, Any]], str | None]:
    try:
        report = await asyncio.wait_for(service.health(), HEALTH_TIMEOUT_S)
    except TimeoutError:
        return [], f"the stores did not report within {HEALTH_TIMEOUT_S:g} s"
    stores: list[dict[str, Any]] = report["stores"]
    for store in stores:
        store["last_success"] = _dt(store.get("last_success_ns") or 0)
        store["last_write"] = _dt(store.get("last_write_ns") or 0)
    return stores, None


_TYPES = _Types()


class _Cache:
    """The rendered sections, shared by the page and every live stream for CACHE_TTL_S:
    ten watching browsers cost one render a second, not ten."""

    def __init__(self) -> None:
        self.html = ""
        self.at = -1e9
        self.lock = asyncio.Lock()
        self.service: Service | None = None

    async def get(self, service: Service) -> str:
        async with self.lock:
            fresh = time.monotonic() - self.at < CACHE_TTL_S
            if not (fresh and self.service is service):
                self.html = render_sections(await build(service))
                self.at, self.service = time.monotonic(), service
            return self.html


_CACHE: dict[int, _Cache] = {}  # one per event loop (tests run several apps)


def render_sections(data: Overview) -> str:
    """The sections' HTML (the one renderer of the page and of its live updates)."""
    return render_fragment(PARTIAL, o=data, href=href)


async def sections(service: Service) -> str:
    """The current sections' HTML, at most CACHE_TTL_S old."""
    loop = id(asyncio.get_running_loop())
    cache = _CACHE.get(loop)
    if cache is None:
        _CACHE.clear()  # a new loop (a restarted server): the old cache's lock is unusable
        cache = _CACHE[loop] = _Cache()
    return await cache.get(service)


@router.get("/")
async def overview(request: Request) -> HTMLResponse:
    """The overview page; ``static/js/overview.js`` keeps its sections live."""
    service: Service = request.app.state.service
    html = await sections(service)
    return render(request, "overview.html", title="Overview", overview_html=html)
