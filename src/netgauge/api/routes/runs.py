"""/api/v1/runs: every job's runs, newest first."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from netgauge.api.deps import InventoryDep
from netgauge.api.schemas import JobRunPublic, PageOf

router = APIRouter(prefix="/runs", tags=["runs"])


@router.get("")
async def list_runs(
    inv: InventoryDep,
    job: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[str | None, Query(pattern="^(running|ok|partial|failed|skipped)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PageOf:
    """Runs, optionally of one job and/or one status."""
    page = await asyncio.to_thread(inv.list_runs, job, status, limit, offset)
    items = [JobRunPublic.model_validate(r) for r in page.items]
    return PageOf(total=page.total, limit=limit, offset=offset, items=items)
