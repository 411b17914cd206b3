"""/api/v1/runs: every job's runs, newest first, and each run's per-target outcomes."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query

from netgauge.api.deps import InventoryDep, Limit, Offset, RunStatus
from netgauge.api.schemas import JobRunPublic, JobRunTargetPublic, PageOf
from netgauge.inventory import Inventory

router = APIRouter(prefix="/runs", tags=["runs"])


async def runs_page(
    inv: Inventory, job: str | None, status: str | None, limit: int, offset: int
) -> PageOf[JobRunPublic]:
    """One page of recorded runs (shared with /jobs/{name}/runs)."""
    page = await asyncio.to_thread(inv.list_runs, job, status, limit, offset)
    items = [JobRunPublic.model_validate(r) for r in page.items]
    return PageOf[JobRunPublic](total=page.total, limit=limit, offset=offset, items=items)


@router.get("")
async def list_runs(
    inv: InventoryDep,
    job: Annotated[str | None, Query(max_length=128)] = None,
    status: RunStatus = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PageOf[JobRunPublic]:
    """Runs, optionally of one job and/or one status."""
    return await runs_page(inv, job, status, limit, offset)


@router.get("/{run_id}/targets")
async def run_targets(
    run_id: Annotated[int, Path(ge=1, le=2**63 - 1)], inv: InventoryDep
) -> list[JobRunTargetPublic]:
    """Each target's outcome in one run, failures first. A run of up to 50 targets lists
    them all; a bigger one lists its failures, up to 500 (its counts say the rest)."""
    rows = await asyncio.to_thread(inv.run_targets, run_id)
    return [JobRunTargetPublic.model_validate(r) for r in rows]
