"""/api/v1/changes: the inventory change log (YAML sync and API), newest first.

Admins see every entry. Other roles see the inventory's own (sites, targets, jobs): changes
to users, API and agent tokens and credentials references (which name the environment
variables and files holding secrets) are the admins' business."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from netgauge.api.deps import InventoryDep
from netgauge.api.schemas import ChangePublic
from netgauge.api.security import AuthDep, is_admin
from netgauge.errors import ForbiddenError

router = APIRouter(prefix="/changes", tags=["changes"])
INVENTORY_TYPES = ("site", "target", "job")  # what every role may read the history of


@router.get("")
async def list_changes(
    inv: InventoryDep,
    who: AuthDep,
    entity_type: Annotated[
        str | None,
        Query(pattern="^(site|credentials|target|job|user|api_token|agent_token|collector)$"),
    ] = None,
    name: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ChangePublic]:
    """Who changed what, field by field (users, tokens and credentials: admins only)."""
    types = None if is_admin(who) else INVENTORY_TYPES
    if types is not None and entity_type is not None and entity_type not in types:
        raise ForbiddenError(f"entity_type: changes to {entity_type} are for admins only")
    rows = await asyncio.to_thread(inv.list_changes, entity_type, name, limit, types)
    return [ChangePublic.model_validate(r) for r in rows]
