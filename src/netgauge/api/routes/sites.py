"""/api/v1/sites: list, create or update, delete."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response, status

from netgauge.api.deps import InventoryDep
from netgauge.api.security import current_actor
from netgauge.config.model import SiteConfig

router = APIRouter(prefix="/sites", tags=["sites"])


@router.get("")
async def list_sites(inv: InventoryDep) -> list[SiteConfig]:
    """All sites."""
    rows = await asyncio.to_thread(inv.list_sites)
    return [SiteConfig(name=r.name, description=r.description, timezone=r.timezone) for r in rows]


@router.get("/{name}")
async def get_site(name: str, inv: InventoryDep) -> SiteConfig:
    """One site."""
    row = await asyncio.to_thread(inv.get_site, name)
    return SiteConfig(name=row.name, description=row.description, timezone=row.timezone)


@router.put("/{name}")
async def put_site(name: str, body: SiteConfig, inv: InventoryDep) -> SiteConfig:
    """Create or update a site."""
    from netgauge.errors import InventoryError

    if body.name != name:
        raise InventoryError(f"name: body name {body.name!r} differs from the path {name!r}")
    await asyncio.to_thread(inv.put_site, body, current_actor())
    return body


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_site(name: str, inv: InventoryDep) -> Response:
    """Delete a site no target uses."""
    await asyncio.to_thread(inv.delete_site, name, current_actor())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
