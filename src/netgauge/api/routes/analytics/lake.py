"""/api/v1/analytics/lake: the data lake export's status (viewers) and a run now (admins).

The directory is ``lake_dir`` from the settings, never from the request: nothing a caller
sends can make the server write files anywhere else (a body is not even read).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from netgauge.analytics.lake import LakeBusy
from netgauge.api.deps import ServiceDep
from netgauge.errors import ConflictError

router = APIRouter(prefix="/lake")


class LakeTable(BaseModel):
    """One table of the lake as its manifest lists it."""

    table: str
    files: int = Field(description="day files (one per UTC day with rows)")
    rows: int
    first_day: str | None
    last_day: str | None


class LakeLastRun(BaseModel):
    """The newest export run (by serve's schedule, the API or the CLI)."""

    started_at: datetime | None = None
    seconds: float | None = None
    files_written: int | None = None
    files_unchanged: int | None = None
    rows_written: int | None = None
    error: str | None = Field(None, description="why it stopped (a table's, e.g. a full disk)")


class LakeStatusPublic(BaseModel):
    """Where the lake is, how often it is exported, and what it holds."""

    enabled: bool = Field(description="false while the setting lake_dir is unset")
    out: str | None
    interval_s: float | None
    running: bool
    last_run: LakeLastRun | None
    tables: list[LakeTable]


class LakeTableRun(BaseModel):
    """What one run did to one table."""

    table: str
    days_planned: int
    files_written: int
    files_unchanged: int
    rows_written: int
    rows_total: int
    files_total: int
    error: str | None


class LakeRunPublic(BaseModel):
    """What an export run did."""

    out: str
    since: str | None
    files_written: int
    files_unchanged: int
    rows_written: int
    error: str | None
    tables: list[LakeTableRun]


@router.get("")
async def lake_status(service: ServiceDep) -> LakeStatusPublic:
    """The data lake export: its directory (setting ``lake_dir``), schedule
    (``lake_interval_s``), last run (files written and unchanged, rows, error) and, per
    table, the day files it holds."""
    st = service.lake.status()
    return LakeStatusPublic(
        enabled=st.out is not None,
        out=st.out,
        interval_s=st.interval_s,
        running=st.running,
        last_run=None if st.last_run is None else LakeLastRun.model_validate(st.last_run),
        tables=[LakeTable.model_validate(t) for t in st.tables],
    )


@router.post("/export", responses={409: {"description": "lake_dir unset, or a run is going"}})
async def lake_export(service: ServiceDep) -> LakeRunPublic:
    """Export now (admins), into ``lake_dir`` only: the changed days of every table. Answers
    when done, with what it did; a table that failed (a full disk) has its ``error`` and
    kept its files. 409 when ``lake_dir`` is not set or another export holds the directory."""
    if not service.lake.enabled:
        raise ConflictError("lake_dir: not set, so there is nowhere to export to")
    try:
        report = await service.lake.run()
    except LakeBusy as exc:
        raise ConflictError(str(exc)) from None
    return LakeRunPublic.model_validate(report.as_json())
