"""/api/v1/runs: every job's runs, newest first."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from netgauge.api.deps import InventoryDep, Limit, Offset, RunStatus
from netgauge.api.schemas import JobRunPublic, PageOf
from netgauge.inventory import Inventory

router = APIRouter(prefix="/runs", tags=["runs"])


async def runs_page(
    inv: Inventory, job: str | None, status: str | None, limit: int, offset: int
) -> PageOf:
    """One page of recorded runs (shared with /jobs/{name}/runs)."""
    page = await asyncio.to_thread(inv.list_runs, job, status, limit, offset)
    items = [JobRunPublic.model_validate(r) for r in page.items]
    return PageOf(total=page.total, limit=limit, offset=offset, items=items)


@router.get("")
async def list_runs(
    inv: InventoryDep,
    job: Annotated[str | None, Query(max_length=128)] = None,
    status: RunStatus = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PageOf:
    """Runs, optionally of one job and/or one status."""
    return await runs_page(inv, job, status, limit, offset)
