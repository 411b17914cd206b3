"""/api/v1/targets: list with search and filters, create, read, replace, patch, delete."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from netgauge.api.deps import InventoryDep, Limit, Offset, ServiceDep
from netgauge.api.schemas import PageOf, TargetCreate, TargetPublic, TargetUpdate
from netgauge.api.security import current_actor
from netgauge.config.model import NAME_PATTERN, TargetConfig
from netgauge.inventory import TargetFilter
from netgauge.inventory.repository import target_fields
from netgauge.inventory.tables import TargetRow
from netgauge.models import TargetType
from netgauge.service import Service

router = APIRouter(prefix="/targets", tags=["targets"])
StateFilter = Annotated[str | None, Query(pattern="^(up|down|degraded|unknown)$")]


def public(row: TargetRow, service: Service) -> TargetPublic:
    """Row → API shape, with the live state."""
    state = service.status.get(row.name)
    return TargetPublic(
        name=row.name,
        source=row.source,
        status=state.state if state else "unknown",
        created_at=row.created_at,
        updated_at=row.updated_at,
        **target_fields(row),
    )


@router.get("")
async def list_targets(
    service: ServiceDep,
    inv: InventoryDep,
    q: Annotated[str | None, Query(max_length=200, description="substring of name/address")] = None,
    tag: Annotated[str | None, Query(max_length=128)] = None,
    site: Annotated[str | None, Query(max_length=128)] = None,
    type: TargetType | None = None,
    state: StateFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PageOf:
    """Targets by name; ``state`` filters on the live up/down state."""
    f = TargetFilter(q=q, tag=tag, site=site, type=type)
    if state is None:
        page = await asyncio.to_thread(inv.list_targets, f, limit, offset)
        items = [public(r, service) for r in page.items]
        return PageOf(total=page.total, limit=limit, offset=offset, items=items)
    everything = await asyncio.to_thread(inv.list_targets, f, 1_000_000, 0)
    matching = [p for p in (public(r, service) for r in everything.items) if p.status == state]
    return PageOf(
        total=len(matching), limit=limit, offset=offset, items=matching[offset : offset + limit]
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_target(body: TargetCreate, service: ServiceDep, inv: InventoryDep) -> TargetPublic:
    """Add a target (409 if the name exists)."""
    row = await asyncio.to_thread(inv.put_target, body, current_actor(), "api", create_only=True)
    return public(row, service)


@router.get("/{name}")
async def get_target(name: str, service: ServiceDep, inv: InventoryDep) -> TargetPublic:
    """One target."""
    return public(await asyncio.to_thread(inv.get_target, name), service)


@router.put("/{name}")
async def replace_target(
    name: Annotated[str, ...], body: TargetCreate, service: ServiceDep, inv: InventoryDep
) -> TargetPublic:
    """Create or replace a target; the name in the body must match the path."""
    _same_name(name, body.name)
    return public(await asyncio.to_thread(inv.put_target, body, current_actor()), service)


@router.patch("/{name}")
async def patch_target(
    name: str, body: TargetUpdate, service: ServiceDep, inv: InventoryDep
) -> TargetPublic:
    """Change some fields of a target."""
    current = target_fields(await asyncio.to_thread(inv.get_target, name))
    merged = {**current, **body.model_dump(exclude_unset=True), "name": name}
    cfg = TargetConfig.model_validate(merged)
    return public(await asyncio.to_thread(inv.put_target, cfg, current_actor()), service)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_target(name: str, service: ServiceDep, inv: InventoryDep) -> Response:
    """Delete a target (409 while a job names it)."""
    await asyncio.to_thread(inv.delete_target, name, current_actor())
    service.status.forget(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _same_name(path_name: str, body_name: str) -> None:
    from netgauge.errors import InventoryError

    if path_name != body_name:
        raise InventoryError(f"name: body name {body_name!r} differs from the path {path_name!r}")


__all__ = ["NAME_PATTERN", "router"]
