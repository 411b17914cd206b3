"""/api/v1/export: the samples of one or many targets over a range, as CSV (streamed) or as
an XLSX report: a ``statistics`` sheet with one row per target (latency, jitter, loss,
availability), a ``metrics`` sheet per target and metric, and the raw ``samples``.

Targets are chosen by name (``target``, repeated) or by the targets list's filters (``q``,
``site``, ``tag``, ``type``). Both formats read one series at a time and drop it once
written, so memory stays bounded by the longest series, not by the export. The XLSX is built
in openpyxl's write-only mode in a temporary file (each series appended in a worker thread),
which is unlinked as soon as it is open for streaming: nothing stays on disk, whether the
client reads it all or goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from pydantic import StringConstraints

from netgauge.api.deps import ServiceDep
from netgauge.errors import InventoryError, NotFoundError
from netgauge.inventory import TargetFilter, queries
from netgauge.models import TargetType
from netgauge.series import split_series
from netgauge.service import Service
from netgauge.status.live import STATE_PATTERN
from netgauge.status.measures import (
    LATENCY_SERIES,
    LOSS_SERIES,
    TRAFFIC_DIRECTIONS,
    billing_p95,
)
from netgauge.storage.base import Point
from netgauge.storage.embedded.summary import Summary
from netgauge.timerange import ns_to_dt, time_span

router = APIRouter(prefix="/export", tags=["export"])

MAX_NAMES = 1_000  # targets named one by one (a URL holds about that many)
MAX_TARGETS = 10_000  # targets a filter may select
SHEET_ROWS = 1_048_576  # Excel's rows per sheet: the samples continue on "samples 2", …
CHUNK = 1 << 16  # bytes read (in a thread) per streamed piece of the XLSX
# below this many targets, ask the store for each one's series; above, list them all once
_PER_TARGET_LOOKUPS = 50

Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Names = Annotated[
    list[Name] | None,
    Query(description=f"a target's name; repeat for several (up to {MAX_NAMES})"),
]
From = Annotated[datetime, Query(alias="from", description="ISO 8601")]
To = Annotated[datetime | None, Query(description="ISO 8601; default: now")]
Q = Annotated[str | None, Query(max_length=200, description="instead of target: name/address")]
Tag = Annotated[str | None, Query(max_length=128, description="instead of target: a tag")]
Site = Annotated[str | None, Query(max_length=128, description="instead of target: a site")]
Kind = Annotated[TargetType | None, Query(description="instead of target: the type")]
State = Annotated[
    str | None,
    Query(
        pattern=STATE_PATTERN,
        description="instead of target: the live state (devices: their decided state)",
    ),
]

# the metric the latency columns are of: the first of these a target has in the range
# (status.measures: one rule for every page and report)
LATENCY, LOSS = LATENCY_SERIES, LOSS_SERIES
STATISTICS = (
    "target",
    "type",
    "samples",
    "latency metric",
    "latency min ms",
    "latency avg ms",
    "latency max ms",
    "latency p95 ms",
    "jitter ms",
    "loss %",
    "availability %",
)
# the note under the statistics table: how each column is computed (the order of STATISTICS)
HOW = (
    "the target's name",
    "destination or device, from the inventory (empty for a target no longer in it)",
    "the number of status samples (one per check or agent batch) in the range",
    f"the first of {', '.join(LATENCY)} the target has samples of; the latency columns are of it",
    "the smallest icmp.rtt_min_ms when the latency metric is ICMP's (median or average) and"
    " icmp.rtt_min_ms was stored, else the smallest sample of the latency metric",
    "the mean of every sample of the latency metric",
    "the largest icmp.rtt_max_ms when the latency metric is ICMP's (median or average) and"
    " icmp.rtt_max_ms was stored, else the largest sample of the latency metric",
    "the nearest-rank 95th percentile of the samples of the latency metric",
    "the mean of icmp.jitter_ms (mean absolute difference of consecutive RTTs per round)",
    "the mean of icmp.loss_pct, or of traceroute.loss_pct when there is no icmp.loss_pct",
    "100 × the mean of status (1 up, 0 down)",
)


@dataclass(frozen=True, slots=True)
class Chosen:
    """A target to export: its name and its inventory type (None: no longer in the inventory,
    but samples of it remain)."""

    name: str
    type: str | None


def _range(from_: datetime, to: datetime | None) -> tuple[int, int]:
    span = time_span(from_, to)
    return span.start_ns, span.end_ns


def _filters(
    q: str | None, site: str | None, tag: str | None, kind: TargetType | None, state: str | None
) -> dict[str, Any]:
    """The list filters given, by query parameter name."""
    given = {"q": q, "site": site, "tag": tag, "type": kind, "state": state}
    return {k: v for k, v in given.items() if v not in (None, "")}


async def _choose(
    service: Service, names: list[str] | None, filters: dict[str, Any]
) -> tuple[list[Chosen], dict[str, list[str]]]:
    """The targets to export, in order, and each one's metrics (422 for a bad selection)."""
    if names and filters:
        raise InventoryError(f"target: give target names or the filters {', '.join(filters)}")
    if names:
        return await _named(service, list(dict.fromkeys(names)))  # a repeated name: once
    if not filters:
        raise InventoryError(
            "target: name at least one target (repeat target=), or filter with q, site, tag,"
            " type, state"
        )
    return await _by_filter(service, filters)


async def _named(service: Service, names: list[str]) -> tuple[list[Chosen], dict[str, list[str]]]:
    """Targets by name, in the given order: 404 naming those neither the inventory nor the
    store knows (a target deleted from the inventory still has its samples)."""
    if len(names) > MAX_NAMES:
        raise InventoryError(f"target: {len(names)} names, at most {MAX_NAMES}")
    inv = service.inventory
    page = await asyncio.to_thread(inv.list_targets, TargetFilter(names=names), len(names))
    types = {row.name: row.type for row in page.items}
    metrics = await _metrics_of(service, names)
    unknown = [repr(n) for n in names if n not in types and not metrics.get(n)]
    if unknown:
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise NotFoundError(f"target: no target named {', '.join(unknown[:10])}{more}")
    return [Chosen(n, types.get(n)) for n in names], metrics


async def _by_filter(
    service: Service, filters: dict[str, Any]
) -> tuple[list[Chosen], dict[str, list[str]]]:
    """The targets the list's filters match, by name: 422 naming the (first) filter when
    they match more than MAX_TARGETS."""
    f = TargetFilter(
        q=filters.get("q"),
        tag=filters.get("tag"),
        site=filters.get("site"),
        type=filters.get("type"),
    )
    f = service.live.narrow(f, filters.get("state"))  # in SQL, "unknown" too
    found, total = await asyncio.to_thread(
        queries.chosen_targets, service.inventory, f, MAX_TARGETS
    )
    if total > MAX_TARGETS:
        field = next(iter(filters))
        raise InventoryError(
            f"{field}: the filters match {total:,} targets, over the {MAX_TARGETS:,} an export"
            " holds; narrow them"
        )
    chosen = [Chosen(name, kind) for name, kind in found]
    return chosen, await _metrics_of(service, [c.name for c in chosen])


async def _metrics_of(service: Service, names: Sequence[str]) -> dict[str, list[str]]:
    """Each target's metric names, sorted (a metric stored under two measurements is one
    series to the store's ``points``: once)."""
    grouped: dict[str, set[str]] = {}
    if len(names) <= _PER_TARGET_LOOKUPS:
        for name in names:
            grouped[name] = {metric for _, _, metric in await service.series(name)}
    else:  # one listing, not one scan of the store's series per target
        wanted = set(names)
        for _, device, metric in await service.series():
            if device in wanted:
                grouped.setdefault(device, set()).add(metric)
    return {name: sorted(metrics) for name, metrics in grouped.items()}


def _filename(chosen: list[Chosen], start: int, suffix: str) -> str:
    what = chosen[0].name if len(chosen) == 1 else f"{len(chosen)}-targets"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in what)
    return f"netgauge-{safe}-{ns_to_dt(start):%Y%m%dT%H%M%SZ}.{suffix}"


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


_CSV = "text/csv; charset=utf-8"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _file(media: str, what: str) -> dict[int | str, dict[str, object]]:
    """The 200 answer as OpenAPI should describe it: a file of ``media`` (binary for XLSX),
    so generated clients save bytes instead of parsing JSON."""
    schema = {"type": "string"} if media == _CSV else {"type": "string", "format": "binary"}
    return {200: {"description": what, "content": {media: {"schema": schema}}}}


class _CsvResponse(StreamingResponse):
    media_type = _CSV


class _XlsxResponse(StreamingResponse):
    media_type = _XLSX


async def _selection(
    target: Names = None,
    q: Q = None,
    site: Site = None,
    tag: Tag = None,
    type: Kind = None,
    state: State = None,
) -> tuple[list[str] | None, dict[str, Any]]:
    """The targets both exports take: names, or the list's filters (checked by _choose)."""
    return target, _filters(q, site, tag, type, state)


SelectionDep = Annotated[tuple[list[str] | None, dict[str, Any]], Depends(_selection)]


@router.get("/csv", response_class=_CsvResponse, responses=_file(_CSV, "the samples, as CSV"))
async def export_csv(
    service: ServiceDep, from_: From, selection: SelectionDep, to: To = None
) -> StreamingResponse:
    """Every raw sample of the chosen targets in [from, to): time, ts_ns, target, metric,
    value; streamed one series at a time. Choose the targets by name (``target``, repeated,
    up to 1,000) or by the targets list's filters (``q``, ``site``, ``tag``, ``type``; up to
    10,000 targets)."""
    start, end = _range(from_, to)
    chosen, metrics = await _choose(service, *selection)

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["time", "ts_ns", "target", "metric", "value"])
        for t in chosen:
            for metric in metrics.get(t.name, []):
                for p in await service.points(t.name, metric, start, end):
                    when = ns_to_dt(p.ts_ns).isoformat()
                    writer.writerow([when, p.ts_ns, t.name, metric, repr(p.value)])
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    headers = _attachment(_filename(chosen, start, "csv"))
    return StreamingResponse(rows(), media_type=_CSV, headers=headers)


@router.get("/xlsx", response_class=_XlsxResponse, responses=_file(_XLSX, "the XLSX report"))
async def export_xlsx(
    service: ServiceDep, from_: From, selection: SelectionDep, to: To = None
) -> StreamingResponse:
    """A report of the chosen targets (as for the CSV) over [from, to): a ``statistics``
    sheet with one row per target (status samples, latency min/avg/max/p95, jitter, loss,
    availability; a note under it says how each is computed), a ``metrics`` sheet (per
    target and metric: samples, min, avg, max, p95; availability % for status) and every
    raw sample on ``samples`` (continued on ``samples 2``, … past Excel's row limit)."""
    start, end = _range(from_, to)
    chosen, metrics = await _choose(service, *selection)
    report = _Report(start, end, len(chosen))
    try:
        for t in chosen:
            summaries: dict[str, Summary] = {}
            for metric in metrics.get(t.name, []):
                points = await service.points(t.name, metric, start, end)
                summary = await asyncio.to_thread(report.add_series, t.name, metric, points)
                del points  # the series is in the sheet: let it go before reading the next
                if summary is not None:
                    summaries[metric] = summary
            await asyncio.to_thread(report.add_target, t, summaries)
        stream = await asyncio.to_thread(report.finish)
    except BaseException:
        # a failed store, or the request cancelled: the workbook's temporary files go
        # (shielded: a worker thread may still be appending, discard waits for it)
        await asyncio.shield(asyncio.to_thread(report.discard))
        raise
    headers = _attachment(_filename(chosen, start, "xlsx"))
    return StreamingResponse(_chunks(stream), media_type=_XLSX, headers=headers)


async def _chunks(stream: BinaryIO) -> AsyncIterator[bytes]:
    """The file, CHUNK bytes at a time, each read in a thread; closed however it ends."""
    try:
        while chunk := await asyncio.to_thread(stream.read, CHUNK):
            yield chunk
    finally:
        stream.close()


BILLING_STEP_NS = 300 * 10**9  # transit is billed on 5-minute averages
TRAFFIC_COLUMNS = (
    "target",
    "interface",
    "month (UTC)",
    "95th in (bit/s)",
    "95th out (bit/s)",
    "billable 95th (bit/s)",
    "5-min samples in",
    "5-min samples out",
)


def statistics_row(t: Chosen, s: dict[str, Summary]) -> list[object]:
    """The statistics sheet's row of a target from its series' summaries (by metric): None,
    never 0, where the target has no such data (how each column is computed: HOW)."""
    latency = next((m for m in LATENCY if m in s), None)
    lo = avg = hi = p95 = None
    if latency is not None:
        lat = s[latency]
        lo, avg, hi, p95 = lat.min, lat.sum / lat.n, lat.max, lat.p95
        if latency.startswith("icmp.rtt_"):  # the extremes of the rounds, not of the medians
            lo = s["icmp.rtt_min_ms"].min if "icmp.rtt_min_ms" in s else lo
            hi = s["icmp.rtt_max_ms"].max if "icmp.rtt_max_ms" in s else hi
    loss = next((s[m] for m in LOSS if m in s), None)
    jitter, status = s.get("icmp.jitter_ms"), s.get("status")
    return [
        t.name,
        t.type,
        status.n if status else None,
        latency,
        lo,
        avg,
        hi,
        p95,
        _mean(jitter),
        _mean(loss),
        100.0 * status.sum / status.n if status else None,
    ]


def _mean(s: Summary | None) -> float | None:
    return s.sum / s.n if s else None


class _Report:
    """The XLSX being written: openpyxl's write-only sheets (each buffered in a temporary
    file of its own) filled one series at a time. Every method blocks: call them in a worker
    thread. A lock keeps ``discard`` from pulling the files from under a running append."""

    def __init__(self, start: int, end: int, targets: int) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._rows_per_sheet = SHEET_ROWS
        self._bold = Font(bold=True)
        self._book = Workbook(write_only=True)
        span = f"{ns_to_dt(start):%Y-%m-%d %H:%M} to {ns_to_dt(end):%Y-%m-%d %H:%M} UTC"
        self._stats = self._book.create_sheet("statistics")
        self._stats.append(["netgauge report", span, f"{targets} targets"])
        self._stats.append(self._header(self._stats, STATISTICS))
        self._metrics = self._book.create_sheet("metrics")
        self._metrics.append(
            self._header(
                self._metrics,
                ("target", "metric", "samples", "min", "avg", "max", "p95", "availability %"),
            )
        )
        self._sheets = 0
        self._rows = 0
        self._samples = self._next_samples_sheet()
        # (target, interface, month, direction) → 5-minute bucket → (sum, count) of B/s
        self._traffic: dict[tuple[str, str, str, str], dict[int, list[float]]] = {}

    def _header(self, sheet: Any, names: Sequence[str]) -> list[WriteOnlyCell]:
        cells = []
        for name in names:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = self._bold
            cells.append(cell)
        return cells

    def _next_samples_sheet(self) -> Any:
        self._sheets += 1
        sheet = self._book.create_sheet(
            "samples" if self._sheets == 1 else f"samples {self._sheets}"
        )
        sheet.append(self._header(sheet, ("time (UTC)", "target", "metric", "value")))
        self._rows = 1
        return sheet

    def _open(self) -> None:
        if self._closed:
            raise RuntimeError("the report was discarded")

    def add_series(self, target: str, metric: str, points: list[Point]) -> Summary | None:
        """Append a series' samples and its metrics row; its summary (None when empty)."""
        with self._lock:
            self._open()
            for p in points:
                if self._rows >= self._rows_per_sheet:
                    self._samples = self._next_samples_sheet()
                when = ns_to_dt(p.ts_ns).replace(tzinfo=None)  # Excel has no time zones
                self._samples.append([when, target, metric, p.value])
                self._rows += 1
            if not points:
                return None
            self._add_traffic(target, metric, points)
            s = Summary.of([p.value for p in points])
            availability = 100.0 * s.sum / s.n if metric == "status" else None
            self._metrics.append(
                [target, metric, s.n, s.min, s.sum / s.n, s.max, s.p95, availability]
            )
            return s

    def _add_traffic(self, target: str, metric: str, points: list[Point]) -> None:
        """An interface's traffic into its 5-minute averages per month (the billing 95th)."""
        base, labels = split_series(metric)
        direction = TRAFFIC_DIRECTIONS.get(base)
        if direction is None:
            return
        iface = labels.get("interface", "")
        for p in points:
            when = ns_to_dt(p.ts_ns)
            key = (target, iface, f"{when:%Y-%m}", direction)
            bucket = self._traffic.setdefault(key, {}).setdefault(
                p.ts_ns // BILLING_STEP_NS, [0.0, 0]
            )
            bucket[0] += p.value
            bucket[1] += 1

    def _traffic_sheet(self) -> None:
        """Per target, interface and month (UTC): the 95th percentile of the 5-minute
        averages in bits per second, in and out, and the billable one (the higher)."""
        if not self._traffic:
            return
        sheet = self._book.create_sheet("traffic 95th")
        sheet.append(self._header(sheet, TRAFFIC_COLUMNS))
        months = sorted({k[:3] for k in self._traffic})
        for target, iface, month in months:
            p95s, counts = [], []
            for direction in ("in", "out"):
                buckets = self._traffic.get((target, iface, month, direction), {})
                bits = [8 * total / n for total, n in buckets.values()]
                p95s.append(billing_p95(bits))
                counts.append(len(bits))
            known = [p for p in p95s if p is not None]
            sheet.append([target, iface, month, *p95s, max(known) if known else None, *counts])

    def add_target(self, t: Chosen, summaries: dict[str, Summary]) -> None:
        """Append the target's statistics row."""
        with self._lock:
            self._open()
            self._stats.append(statistics_row(t, summaries))

    def finish(self) -> BinaryIO:
        """The note under the statistics; the workbook saved, opened for reading and already
        unlinked (the open file keeps it readable; it is gone from disk once closed)."""
        with self._lock:
            self._open()
            self._stats.append([])
            self._stats.append(["how each column is computed"])
            for column, how in zip(STATISTICS, HOW, strict=True):
                self._stats.append([column, how])
            self._traffic_sheet()
            fd, path = tempfile.mkstemp(prefix="netgauge-export-", suffix=".xlsx")
            os.close(fd)
            try:
                self._book.save(path)
                stream = open(path, "rb")  # noqa: SIM115 - the response closes it
            finally:
                os.unlink(path)
                self._closed = True
                self._remove_sheet_files()
            return stream

    def discard(self) -> None:
        """Remove the sheets' temporary files (once a running append is done)."""
        with self._lock:
            self._closed = True
            self._remove_sheet_files()

    def _remove_sheet_files(self) -> None:
        # openpyxl removes a sheet's file when it saves the sheet: left over after a failure
        for sheet in self._book.worksheets:
            writer = getattr(sheet, "_writer", None)
            if writer is None or not os.path.exists(writer.out):
                continue
            with contextlib.suppress(Exception):
                if not sheet.closed:
                    sheet.close()  # ends its row writer while the file is still there
            with contextlib.suppress(Exception):
                writer.cleanup()
