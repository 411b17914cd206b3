"""GET /destinations/{name} and /devices/{name}: one target's detail page.

The server renders what it knows cheaply (the header, availability over the range, the
traceroute path and its changes, job runs, the change log) and one empty ``.chart`` per
metric *family*; ``static/js/detail.js`` fills the charts from ``/api/v1/metrics`` with the
step chosen here, so a 30-day page ships a few thousand points per series, not 43,200.

Families come from the stored series names alone (``disk_percent{mount="/"}`` and
``{mount="/var"}`` share a chart, ``net_in``/``net_out`` of every interface make one traffic
chart, ``http.*_ms`` one timing chart), so a new metric kind gets its chart without page code.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from netgauge.analytics.forecast_service import Question, shared
from netgauge.analytics.recorder import describe
from netgauge.errors import InventoryError, NotFoundError
from netgauge.inventory import Inventory
from netgauge.inventory.repository import target_fields
from netgauge.series import series_name, split_series
from netgauge.service import Service
from netgauge.status.measures import TRAFFIC_DIRECTIONS
from netgauge.timerange import dt_to_ns, ns_to_dt, parse_when, time_span
from netgauge.web.pages.analytics.forecasts import rows as forecast_rows
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)

RANGES: dict[str, int] = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
RANGE_LABELS = {"1h": "1 h", "24h": "24 h", "7d": "7 d", "30d": "30 d"}
DEFAULT_RANGE = "24h"
MAX_SPAN_S = 400 * 86_400
# (largest span, step): the smallest step that keeps a chart within ~2,000 points per series;
# steps of whole hours or days are answered from the store's rollups (30 d → 720 points)
STEPS: tuple[tuple[int, int | None], ...] = (
    (3 * 3600, None),  # raw samples: a few hundred at most
    (36 * 3600, 60),  # 24 h → 1,440
    (8 * 86_400, 300),  # 7 d → 2,016
    (100 * 86_400, 3600),  # 30 d → 720, from hourly rollups
    (MAX_SPAN_S, 86_400),
)
ROUNDS_UP_TO_S = 36 * 3600  # ICMP rounds (the whole distribution) for short ranges only
ROUNDS_LIMIT = 10_000
DISK_FULL = Question("disk_percent", 95.0)  # the device page's forecasts (per mount)
_UNITS: tuple[tuple[str, str], ...] = (
    ("_bytes_per_sec", "B/s"),
    ("_ms", "ms"),
    ("_percent", "%"),
    ("_pct", "%"),
    ("_celsius", "°C"),
    ("_seconds", "s"),
    ("_bytes", "B"),
    ("_days_left", "days"),
)


def choose_step(span_s: float) -> int | None:
    """The step (seconds) the page asks for over ``span_s``; None: raw samples."""
    for limit, step in STEPS:
        if span_s <= limit:
            return step
    return STEPS[-1][1]


def step_label(step: int | None) -> str:
    """How the range note names the resolution."""
    if step is None:
        return "raw samples"
    if step % 3600 == 0:
        return f"one point per {step // 3600} h"
    return f"one point per {step // 60} min"


@dataclass(frozen=True)
class TimeRange:
    """The range the page shows: a preset (``range``) or a custom from/to."""

    key: str  # "1h".. "30d" or "custom"
    start: datetime
    end: datetime
    error: str | None = None

    @property
    def span_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def step(self) -> int | None:
        return choose_step(self.span_s)


def pick_range(
    key: str | None, from_: str | None, to: str | None, now: datetime | None = None
) -> TimeRange:
    """The preset or custom range asked for (read by the one rule of :mod:`timerange`); a
    bad custom range falls back to the default with the reason shown. A preset's ``from``
    lies on its step, so rollups answer."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    if from_:
        try:
            end = parse_when(to, "to") if to else now
            span = time_span(parse_when(from_, "from"), end, max_s=MAX_SPAN_S)
            return TimeRange("custom", span.start, span.end)
        except InventoryError as exc:
            fallback = pick_range(DEFAULT_RANGE, None, None, now)
            return TimeRange(fallback.key, fallback.start, fallback.end, f"custom range: {exc}")
    key = key if key in RANGES else DEFAULT_RANGE
    span_s = RANGES[key]
    step = choose_step(span_s) or 60
    start_ts = (int(now.timestamp()) - span_s) // step * step
    return TimeRange(key, datetime.fromtimestamp(start_ts, UTC), now)


# -- chart families --------------------------------------------------------------------------
def unit_of(base: str) -> str:
    """The unit a metric's name ends with (``_ms`` → ms), or ''."""
    for suffix, unit in _UNITS:
        if base.endswith(suffix):
            return unit
    return ""


@dataclass
class Family:
    """One chart: its series (metric name + legend label), unit and kind of drawing."""

    key: str
    title: str
    unit: str
    kind: str = "lines"  # lines | traffic | smoke
    series: list[dict[str, str]] = field(default_factory=list)
    suffix: str = ""  # a smoke chart of one vantage point: its label, as in the series' names

    @property
    def interfaces(self) -> list[str]:
        """A traffic chart's interfaces, the one shown first first: the first that is not
        a loopback (what a network admin looks at), then the rest by name."""
        names = sorted({s["iface"] for s in self.series if "iface" in s})
        loop = [n for n in names if n == "lo" or n.lower().startswith("loopback")]
        return [n for n in names if n not in loop] + loop

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.key.lower()).strip("-")

    @property
    def series_json(self) -> str:
        return json.dumps(self.series)

    @property
    def aria(self) -> str:
        names = ", ".join(s["label"] for s in self.series)
        unit = f" in {self.unit}" if self.unit else ""
        return f"{self.title}: {names}{unit} over time"


def _family_key(base: str) -> tuple[str, str]:
    """(key, title) of the chart a metric belongs to."""
    if base in TRAFFIC_DIRECTIONS:
        return "traffic", "Traffic in/out"
    kind, _, rest = base.partition(".")
    unit = unit_of(base)
    if rest and unit == "ms":  # a probe's timings together: http.dns_ms, http.ttfb_ms…
        return f"{kind}.*_ms", f"{kind.upper()} timings"
    return base, base


# bookkeeping a check reports beside its measurements (how many pings went out...): kept
# and exported, charted only when asked for (?all=1): a flat line at 5 tells nothing
BOOKKEEPING = frozenset({"icmp.sent", "icmp.received"})


def families(metric_names: list[str], *, everything: bool = False) -> list[Family]:
    """Group a target's series into charts; ``status`` and ICMP RTT/loss are drawn apart
    (the availability strip and the smoke chart); bookkeeping only with ``everything``."""
    found: dict[str, Family] = {}
    names = sorted(
        n for n in set(metric_names) if everything or split_series(n)[0] not in BOOKKEEPING
    )
    icmp = [n for n in names if n.startswith("icmp.rtt_") or split_series(n)[0] == "icmp.loss_pct"]
    for vantage, group in _by_vantage(icmp).items():  # SmokePing's multi-host view
        if not any(n.startswith("icmp.rtt_") for n in group):
            continue
        key = "icmp-smoke" + (f"-{vantage}" if vantage else "")
        found[key] = Family(
            key,
            "ICMP latency and loss" + (f" from {vantage}" if vantage else ""),
            "ms",
            kind="smoke",
            series=[{"metric": n, "label": n.split(".", 1)[1]} for n in group],
            suffix=series_name("", {"vantage": vantage}) if vantage else "",
        )
    for name in names:
        if name == "status" or (name in icmp and _smoked(name, found)):
            continue
        base, labels = split_series(name)
        key, title = _family_key(base)
        family = found.setdefault(
            key,
            Family(key, title, unit_of(base), kind="traffic" if key == "traffic" else "lines"),
        )
        label = ", ".join(labels.values()) if labels else (base.split(".", 1)[-1])
        if labels and key not in (base, "traffic"):  # several metrics in a chart: name each
            label = f"{base.split('.', 1)[-1]} {label}"
        entry = {"metric": name, "label": label}
        if base in TRAFFIC_DIRECTIONS:
            entry |= {"iface": label or "all", "direction": TRAFFIC_DIRECTIONS[base]}
            entry["label"] = f"{entry['iface']} {TRAFFIC_DIRECTIONS[base]}"
        family.series.append(entry)
    if "traffic" in found:  # drawn in bits per second, one interface at a time
        found["traffic"].unit = "bit/s"
    order = ["icmp-smoke", "cpu_percent", "memory_percent", "disk_percent"]
    order += ["temperature_celsius", "traffic"]
    rank = {k: i for i, k in enumerate(order)}
    return sorted(found.values(), key=lambda f: (rank.get(f.key, len(rank)), f.key))


def _by_vantage(names: list[str]) -> dict[str, list[str]]:
    """Series by the collector that measured them ("": the central), the central first."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(split_series(name)[1].get("vantage", ""), []).append(name)
    return dict(sorted(groups.items()))


def _smoked(name: str, found: dict[str, Family]) -> bool:
    vantage = split_series(name)[1].get("vantage")
    return ("icmp-smoke" + (f"-{vantage}" if vantage else "")) in found


# -- what the page shows besides charts ---------------------------------------------------------
async def availability(service: Service, name: str, tr: TimeRange) -> float | None:
    """Share of up ``status`` samples in the range, in percent (None: no samples)."""
    start, end = dt_to_ns(tr.start, "from"), dt_to_ns(tr.end, "to")
    # the page's own step: a preset's `from` lies on it, so rollups answer (a single step of
    # the whole span would not tile whole hours, and 30 days of raw samples would be read)
    points = await service.points(name, "status", start, end, tr.step, "avg")
    total = sum(p.count for p in points)
    if not total:
        return None
    return 100.0 * sum(p.value * p.count for p in points) / total


def _covering_jobs(inv: Inventory, name: str) -> list[tuple[str, str]]:
    """(job, kind) of every job that covers target ``name`` now."""
    return [(row.name, row.kind) for row in inv.jobs_covering(name)]


def _side_data(inv: Inventory, name: str) -> dict[str, Any]:
    """Jobs, runs, path changes, paths and the change log: one thread, several queries."""
    jobs = _covering_jobs(inv, name)
    runs = inv.recent_runs([job for job, _ in jobs], 20)
    trace_jobs = [job for job, kind in jobs if kind == "traceroute"]
    paths = {job: inv.current_path(job, name) for job in trace_jobs}
    return {
        "jobs": jobs,
        "runs": runs,
        "trace_jobs": trace_jobs,
        "stored_paths": {j: p for j, p in paths.items() if p is not None},
        "path_changes": inv.list_events(name, "path_change", 20),
        "analytics_events": [  # anomalies and new error patterns, in words
            (e, describe(e.kind, e.data or {}))
            for e in inv.list_events(name, None, 60)
            if e.kind != "path_change"
        ][:20],
        "changes": inv.list_changes("target", name, 50),
    }


def _traceroutes(service: Service, name: str, trace_jobs: list[str]) -> list[dict[str, Any]]:
    """The newest traceroute result of each job (hops with loss and RTT), from live status."""
    st = service.checked(name)
    found = []
    for job, result in sorted((st.checks if st else {}).items()):
        if result.kind == "traceroute" or job in trace_jobs:
            hops = result.details.get("hops") or []
            found.append({"job": job, "time": ns_to_dt(result.ts_ns), "hops": hops})
    return found


def _change_rows(changes: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for c in changes:
        fields = c.changes or {}
        if not fields:
            rows.append({"c": c, "field": "—", "old": "", "new": ""})
        for key, pair in sorted(fields.items()):
            old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
            rows.append({"c": c, "field": key, "old": _text(old), "new": _text(new)})
    return rows


def _text(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value)


def _export_links(name: str, tr: TimeRange) -> dict[str, str]:
    q = urlencode({"target": name, "from": tr.start.isoformat(), "to": tr.end.isoformat()})
    return {"csv": f"/api/v1/export/csv?{q}", "xlsx": f"/api/v1/export/xlsx?{q}"}


def _range_links(path: str) -> list[dict[str, str]]:
    return [{"key": k, "label": RANGE_LABELS[k], "href": f"{path}?range={k}"} for k in RANGES]


async def _detail(
    request: Request, kind: str, name: str, range_: str | None, from_: str | None, to: str | None
) -> Response:
    everything = request.query_params.get("all") == "1"
    service: Service = request.app.state.service
    inv = service.inventory
    try:
        row = await asyncio.to_thread(inv.get_target, name)
    except NotFoundError as exc:
        raise HTTPException(404, f"No {kind} named {name!r}.") from exc
    if row.type != kind:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/{row.type}s/{name}{query}", status_code=307)
    tr = pick_range(range_, from_, to)
    series, side, avail = await asyncio.gather(
        service.series(name),
        asyncio.to_thread(_side_data, inv, name),
        availability(service, name, tr),
    )
    # with what the writer holds: a check's first result may be on the overview already
    # (the live stream) before the writer's next flush stores it
    known = set(series) | service.pending_series(name)
    disks = await shared(request.app.state, service).of(DISK_FULL, name) if kind == "device" else []
    metric_names = [metric for _, _, metric in sorted(known, key=lambda k: (k[1], k[2], k[0]))]
    return render(
        request,
        "detail.html",
        title=name,
        page_name="detail",
        kind=kind,
        target=row,
        fields=target_fields(row),
        state=service.live.of(row.name, row.type),
        tr=tr,
        step=tr.step,
        step_label=step_label(tr.step),
        use_rounds=tr.span_s <= ROUNDS_UP_TO_S,
        range_links=_range_links(request.url.path),
        families=families(metric_names, everything=everything),
        known_series=len(set(metric_names)),
        hidden=[]
        if everything
        else sorted(n for n in set(metric_names) if split_series(n)[0] in BOOKKEEPING),
        everything=everything,
        has_status="status" in metric_names,
        availability=avail,
        disk_forecasts=forecast_rows(disks, service.clock.now()),
        exports=_export_links(name, tr),
        traceroutes=_traceroutes(service, name, side["trace_jobs"]),
        change_rows=_change_rows(side["changes"]),
        **side,
    )


# SmokePing's four graphs of one target: the last 3 hours, 30 hours, 10 days and 360 days
SMOKE_SPANS: tuple[tuple[str, str, int], ...] = (
    ("3h", "last 3 hours", 3 * 3600),
    ("30h", "last 30 hours", 30 * 3600),
    ("10d", "last 10 days", 10 * 86_400),
    ("360d", "last 360 days", 360 * 86_400),
)


@dataclass(frozen=True)
class SmokePanel:
    key: str
    title: str
    range: TimeRange

    @property
    def use_rounds(self) -> bool:
        return self.range.span_s <= ROUNDS_UP_TO_S


def smoke_panels(now: datetime | None = None) -> list[SmokePanel]:
    """The four ranges, each ending now and starting on its own step (rollups answer)."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    panels = []
    for key, title, span in SMOKE_SPANS:
        step = choose_step(span)
        begin = int(now.timestamp()) - span  # raw samples: the span itself; else on the step
        start = datetime.fromtimestamp(begin // step * step if step else begin, UTC)
        panels.append(SmokePanel(key, title, TimeRange(key, start, now)))
    return panels


async def _smoke(request: Request, kind: str, name: str) -> Response:
    service: Service = request.app.state.service
    try:
        row = await asyncio.to_thread(service.inventory.get_target, name)
    except NotFoundError as exc:
        raise HTTPException(404, f"No {kind} named {name!r}.") from exc
    if row.type != kind:
        return RedirectResponse(f"/{row.type}s/{name}/smokeping", status_code=307)
    known = {m for _, _, m in await service.series(name)} | {
        m for _, _, m in service.pending_series(name)
    }
    smoke = next((f for f in families(sorted(known)) if f.kind == "smoke"), None)
    return render(
        request,
        "smokeping.html",
        title=f"{name}: latency over time",
        page_name="detail",
        kind=kind,
        target=row,
        smoke=smoke,
        panels=smoke_panels(),
    )


RangeQ = Annotated[str | None, Query(alias="range", max_length=8)]
FromQ = Annotated[str | None, Query(alias="from", max_length=64)]
ToQ = Annotated[str | None, Query(max_length=64)]


@router.get("/destinations/{name}")
async def destination_detail(
    request: Request, name: str, range_: RangeQ = None, from_: FromQ = None, to: ToQ = None
) -> Response:
    """A destination: latency/loss smoke, availability, traceroute, runs, history."""
    return await _detail(request, "destination", name, range_, from_, to)


@router.get("/devices/{name}")
async def device_detail(
    request: Request, name: str, range_: RangeQ = None, from_: FromQ = None, to: ToQ = None
) -> Response:
    """A device: CPU, memory, disk, temperature, traffic and every other metric it reports."""
    return await _detail(request, "device", name, range_, from_, to)


@router.get("/destinations/{name}/smokeping")
async def destination_smokeping(request: Request, name: str) -> Response:
    """The SmokePing view: one target's latency and loss over 3 h, 30 h, 10 d and 360 d."""
    return await _smoke(request, "destination", name)


@router.get("/devices/{name}/smokeping")
async def device_smokeping(request: Request, name: str) -> Response:
    """The same for a device that is pinged."""
    return await _smoke(request, "device", name)
