"""/api/v1/jobs: CRUD, enable/disable, run-now, and each job's runs."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response, status

from netgauge.api.deps import InventoryDep, Limit, Offset, RunStatus, ServiceDep
from netgauge.api.routes.runs import runs_page
from netgauge.api.schemas import (
    JobCreate,
    JobPublic,
    JobUpdate,
    PageOf,
    RunNowResponse,
)
from netgauge.api.security import current_actor
from netgauge.config.model import JobConfig
from netgauge.errors import ConflictError, InventoryError
from netgauge.inventory.repository import job_config, job_fields
from netgauge.inventory.tables import JobRow
from netgauge.service import Service

router = APIRouter(prefix="/jobs", tags=["jobs"])


def public(row: JobRow, service: Service) -> JobPublic:
    """Row → API shape, with the next scheduled run."""
    return JobPublic(
        name=row.name,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_run=service.next_runs().get(row.name),
        **job_fields(row),
    )


@router.get("")
async def list_jobs(service: ServiceDep, inv: InventoryDep) -> list[JobPublic]:
    """All jobs by name."""
    return [public(r, service) for r in await asyncio.to_thread(inv.list_jobs)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_job(body: JobCreate, service: ServiceDep, inv: InventoryDep) -> JobPublic:
    """Add a job (409 if the name exists); it is scheduled at once."""
    row = await asyncio.to_thread(inv.put_job, body, current_actor(), "api", create_only=True)
    await service.reload_jobs()
    return public(row, service)


@router.get("/{name}")
async def get_job(name: str, service: ServiceDep, inv: InventoryDep) -> JobPublic:
    """One job."""
    return public(await asyncio.to_thread(inv.get_job, name), service)


@router.put("/{name}")
async def replace_job(
    name: str, body: JobCreate, service: ServiceDep, inv: InventoryDep
) -> JobPublic:
    """Create or replace a job; the name in the body must match the path."""
    if body.name != name:
        raise InventoryError(f"name: body name {body.name!r} differs from the path {name!r}")
    row = await asyncio.to_thread(inv.put_job, body, current_actor())
    await service.reload_jobs()
    return public(row, service)


@router.patch("/{name}")
async def patch_job(
    name: str, body: JobUpdate, service: ServiceDep, inv: InventoryDep
) -> JobPublic:
    """Change some fields of a job."""
    current = job_config(await asyncio.to_thread(inv.get_job, name)).model_dump(mode="json")
    cfg = JobConfig.model_validate({**current, **body.model_dump(exclude_unset=True, mode="json")})
    row = await asyncio.to_thread(inv.put_job, cfg, current_actor())
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
) -> PageOf:
    """Runs of one job, newest first (404 for a job that does not exist)."""
    await asyncio.to_thread(inv.get_job, name)
    return await runs_page(inv, name, status, limit, offset)
