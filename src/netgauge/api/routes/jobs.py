"""/api/v1/jobs: CRUD, enable/disable, run-now, and each job's runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from netgauge.api.deps import InventoryDep, Limit, Offset, RunStatus, ServiceDep
from netgauge.api.routes.runs import runs_page
from netgauge.api.schemas import (
    JobCreate,
    JobRunPublic,
    JobUpdate,
    PageOf,
    RunNowResponse,
)
from netgauge.api.security import AuthDep, current_actor, is_admin
from netgauge.config.base import parse_duration
from netgauge.config.model import JobConfig, WindowConfig
from netgauge.errors import ConflictError, InventoryError
from netgauge.inventory.repository import job_config
from netgauge.inventory.tables import JobRow
from netgauge.inventory.views import JobPublic, job_public
from netgauge.scheduler.timing import next_due
from netgauge.service import Service, window_of

router = APIRouter(prefix="/jobs", tags=["jobs"])


def public(
    row: JobRow, service: Service, next_runs: dict[str, datetime | None] | None = None
) -> JobPublic:
    """Row → API shape, with the next scheduled run (see inventory/views.py)."""
    return job_public(row, service.next_runs() if next_runs is None else next_runs)


@router.get("")
async def list_jobs(service: ServiceDep, inv: InventoryDep) -> list[JobPublic]:
    """All jobs by name."""
    runs = service.next_runs()
    return [public(r, service, runs) for r in await asyncio.to_thread(inv.list_jobs)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_job(
    body: JobCreate, service: ServiceDep, inv: InventoryDep, who: AuthDep
) -> JobPublic:
    """Add a job (409 if the name exists); it is scheduled at once."""
    put = partial(inv.put_job, admin=is_admin(who), create_only=True)
    row = await asyncio.to_thread(put, body, current_actor(), "api")
    await service.reload_jobs()
    return public(row, service)


# the earliest/latest instant a preview may start from: far enough for any real use, and
# inside what datetime arithmetic can add two weeks of window openings to
_PREVIEW_FROM = datetime(2000, 1, 1, tzinfo=UTC)
_PREVIEW_TO = datetime(2200, 1, 1, tzinfo=UTC)


class JobPreviewRequest(BaseModel):
    """The schedule part of a job (the form sends its whole body; the rest is ignored)."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field("preview", min_length=1, max_length=128, description="spreads the phase")
    interval: float | str = Field(60.0, description="seconds, or a duration string like 5m")
    window: WindowConfig | None = None
    enabled: StrictBool = True  # 0 and 1 are not booleans (the schema says boolean)
    count: StrictInt = Field(5, ge=1, le=50, description="how many runs to list")
    after: datetime | None = Field(None, description="list runs after this instant (default now)")

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: Any) -> float:
        # the same rules as a job's interval (JobConfig), so the preview fails where saving would
        seconds = parse_duration(value)
        if not 1.0 <= seconds <= 7 * 86400:
            raise ValueError("interval must be between 1s and 7d")
        return seconds

    @field_validator("after")
    @classmethod
    def _after(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must carry a UTC offset, e.g. 2026-01-05T08:00:00Z")
        if not _PREVIEW_FROM <= value <= _PREVIEW_TO:
            raise ValueError("must lie between the years 2000 and 2200")
        return value


class JobPreview(BaseModel):
    """When a job with this schedule would run next (the scheduler's own arithmetic)."""

    after: datetime
    next_runs: list[datetime]
    note: str | None = None


@router.post("/preview")
async def preview_schedule(body: JobPreviewRequest, service: ServiceDep) -> JobPreview:
    """The next runs for an interval and a time window, computed as the scheduler does;
    changes nothing (the job form shows "next run at" with it while the user types)."""
    after = body.after or service.clock.now()
    interval = float(body.interval)  # a float after validation
    if not body.enabled:
        return JobPreview(
            after=after, next_runs=[], note="the job is disabled: it runs only on demand"
        )
    window = window_of(body.window)
    runs: list[datetime] = []
    point = after
    while len(runs) < body.count:
        due = next_due(body.name, interval, point, window)
        if due is None:
            break
        runs.append(due)
        point = due
    note = None if runs else "the window never opens"
    return JobPreview(after=after, next_runs=runs, note=note)


@router.get("/{name}")
async def get_job(name: str, service: ServiceDep, inv: InventoryDep) -> JobPublic:
    """One job."""
    return public(await asyncio.to_thread(inv.get_job, name), service)


@router.put("/{name}")
async def replace_job(
    name: str, body: JobCreate, service: ServiceDep, inv: InventoryDep, who: AuthDep
) -> JobPublic:
    """Create or replace a job; the name in the body must match the path."""
    if body.name != name:
        raise InventoryError(f"name: body name {body.name!r} differs from the path {name!r}")
    row = await asyncio.to_thread(partial(inv.put_job, admin=is_admin(who)), body, current_actor())
    await service.reload_jobs()
    return public(row, service)


@router.patch("/{name}")
async def patch_job(
    name: str, body: JobUpdate, service: ServiceDep, inv: InventoryDep, who: AuthDep
) -> JobPublic:
    """Change some fields of a job."""
    current = job_config(await asyncio.to_thread(inv.get_job, name)).model_dump(mode="json")
    cfg = JobConfig.model_validate({**current, **body.model_dump(exclude_unset=True, mode="json")})
    row = await asyncio.to_thread(partial(inv.put_job, admin=is_admin(who)), cfg, current_actor())
    await service.reload_jobs()
    return public(row, service)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_job(name: str, service: ServiceDep, inv: InventoryDep) -> Response:
    """Delete a job; its run history stays."""
    await asyncio.to_thread(inv.delete_job, name, current_actor())
    await service.reload_jobs()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _set_enabled(name: str, enabled: bool, service: Service) -> JobPublic:
    row = await asyncio.to_thread(service.inventory.set_job_enabled, name, enabled, current_actor())
    await service.reload_jobs()
    return public(row, service)


@router.post("/{name}/enable")
async def enable_job(name: str, service: ServiceDep) -> JobPublic:
    """Let the scheduler run this job again."""
    return await _set_enabled(name, True, service)


@router.post("/{name}/disable")
async def disable_job(name: str, service: ServiceDep) -> JobPublic:
    """Stop scheduling this job (run-now still works)."""
    return await _set_enabled(name, False, service)


@router.post("/{name}/run", status_code=status.HTTP_202_ACCEPTED)
async def run_now(name: str, service: ServiceDep, inv: InventoryDep) -> RunNowResponse:
    """Start a run now; 409 while a run of this job is in progress."""
    await asyncio.to_thread(inv.get_job, name)  # 404 for unknown names
    if not await service.run_now(name):
        raise ConflictError(f"job {name!r} is already running")
    return RunNowResponse(job=name, started=True)


@router.get("/{name}/runs")
async def job_runs(
    name: str,
    inv: InventoryDep,
    status: RunStatus = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PageOf[JobRunPublic]:
    """Runs of one job, newest first (404 for a job that does not exist)."""
    await asyncio.to_thread(inv.get_job, name)
    return await runs_page(inv, name, status, limit, offset)
