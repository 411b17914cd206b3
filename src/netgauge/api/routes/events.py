"""/api/v1/events: what happened to targets (path changes, anomalies, new error patterns),
newest first."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from netgauge.analytics.recorder import describe
from netgauge.api.deps import InventoryDep, Limit
from netgauge.api.schemas import EventPublic

router = APIRouter(prefix="/events", tags=["events"])


@router.get("")
async def list_events(
    inv: InventoryDep,
    target: Annotated[str | None, Query(max_length=128)] = None,
    kind: Annotated[str | None, Query(pattern="^[a-z_]{1,32}$")] = None,
    limit: Limit = 100,
) -> list[EventPublic]:
    """Events, optionally of one target and/or one kind (``path_change``, ``anomaly``,
    ``error_pattern``), each with a ``summary`` in words."""
    rows = await asyncio.to_thread(inv.list_events, target, kind, limit)
    return [
        EventPublic.model_validate(r).model_copy(update={"summary": describe(r.kind, r.data)})
        for r in rows
    ]
