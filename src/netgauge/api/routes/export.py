"""/api/v1/export: a target's samples over a range as CSV (streamed), or as an XLSX report
with a statistics sheet (count, min, avg, max, p95 per metric; availability for status).

Both read one series at a time, so memory stays bounded by the longest series, not by the
export; the XLSX is built in openpyxl's write-only mode in a temporary file, then streamed.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from netgauge.api.deps import ServiceDep
from netgauge.api.routes.metrics import dt_to_ns, ns_to_dt
from netgauge.errors import InventoryError
from netgauge.storage.base import Point
from netgauge.storage.embedded.summary import Summary

router = APIRouter(prefix="/export", tags=["export"])
Target = Annotated[str, Query(min_length=1, max_length=128)]
From = Annotated[datetime, Query(alias="from", description="ISO 8601")]
To = Annotated[datetime | None, Query(description="ISO 8601; default: now")]


def _range(from_: datetime, to: datetime | None) -> tuple[int, int]:
    start = dt_to_ns(from_, "from")
    end = dt_to_ns(to or datetime.now(UTC), "to")
    if start >= end:
        raise InventoryError("from: must be before `to`")
    return start, end


def _filename(target: str, start: int, suffix: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in target)
    return f"netgauge-{safe}-{ns_to_dt(start):%Y%m%dT%H%M%SZ}.{suffix}"


_CSV = "text/csv; charset=utf-8"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _file(media: str, what: str) -> dict[int | str, dict[str, object]]:
    return {200: {"description": what, "content": {media: {"schema": {"type": "string"}}}}}


@router.get("/csv", response_class=StreamingResponse, responses=_file(_CSV, "the samples, as CSV"))
async def export_csv(
    service: ServiceDep, target: Target, from_: From, to: To = None
) -> StreamingResponse:
    """Every raw sample of ``target`` in [from, to): time, metric, value (streamed)."""
    start, end = _range(from_, to)
    series = await service.store.series(target)

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["time", "ts_ns", "metric", "value"])
        for _, device, metric in series:
            for p in await service.store.points(device, metric, start, end):
                writer.writerow([ns_to_dt(p.ts_ns).isoformat(), p.ts_ns, metric, repr(p.value)])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()

    headers = {"Content-Disposition": f'attachment; filename="{_filename(target, start, "csv")}"'}
    return StreamingResponse(rows(), media_type=_CSV, headers=headers)


@router.get("/xlsx", response_class=StreamingResponse, responses=_file(_XLSX, "the XLSX report"))
async def export_xlsx(
    service: ServiceDep, target: Target, from_: From, to: To = None
) -> StreamingResponse:
    """A report: a statistics sheet (per metric: samples, min, avg, max, p95; the status's
    availability %) and every raw sample."""
    start, end = _range(from_, to)
    series = await service.store.series(target)
    loaded = [
        (metric, await service.store.points(device, metric, start, end))
        for _, device, metric in series
    ]
    path = await asyncio.to_thread(_workbook, target, start, end, loaded)
    headers = {"Content-Disposition": f'attachment; filename="{_filename(target, start, "xlsx")}"'}
    return StreamingResponse(_file_chunks(path), media_type=_XLSX, headers=headers)


def _workbook(target: str, start: int, end: int, loaded: list[tuple[str, list[Point]]]) -> str:
    book = Workbook(write_only=True)
    stats = book.create_sheet("statistics")
    bold = Font(bold=True)
    stats.append(
        [
            f"netgauge report: {target}",
            f"{ns_to_dt(start):%Y-%m-%d %H:%M} to {ns_to_dt(end):%Y-%m-%d %H:%M} UTC",
        ]
    )
    stats.append(
        [
            _cell(stats, h, bold)
            for h in ("metric", "samples", "min", "avg", "max", "p95", "availability %")
        ]
    )
    for metric, points in loaded:
        values = [p.value for p in points]
        if not values:
            continue
        s = Summary.of(values)
        availability = 100.0 * s.sum / s.n if metric == "status" else None
        stats.append([metric, s.n, s.min, s.sum / s.n, s.max, s.p95, availability])
    samples = book.create_sheet("samples")
    samples.append([_cell(samples, h, bold) for h in ("time (UTC)", "metric", "value")])
    for metric, points in loaded:
        for p in points:
            samples.append([ns_to_dt(p.ts_ns).replace(tzinfo=None), metric, p.value])
    fd, path = tempfile.mkstemp(prefix="netgauge-export-", suffix=".xlsx")
    os.close(fd)
    book.save(path)
    return path


def _cell(sheet: object, value: str, font: Font) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = font
    return cell


async def _file_chunks(path: str) -> AsyncIterator[bytes]:
    try:
        for chunk in await asyncio.to_thread(lambda: list(_read(path))):
            yield chunk
    finally:
        os.unlink(path)


def _read(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 16):
            yield chunk
