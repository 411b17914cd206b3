"""/api/v1/changes: the inventory change log (YAML sync and API), newest first."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from netgauge.api.deps import InventoryDep
from netgauge.api.schemas import ChangePublic

router = APIRouter(prefix="/changes", tags=["changes"])


@router.get("")
async def list_changes(
    inv: InventoryDep,
    entity_type: Annotated[
        str | None, Query(pattern="^(site|credentials|target|job|user|api_token|agent_token)$")
    ] = None,
    name: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ChangePublic]:
    """Who changed what, field by field."""
    rows = await asyncio.to_thread(inv.list_changes, entity_type, name, limit)
    return [ChangePublic.model_validate(r) for r in rows]
