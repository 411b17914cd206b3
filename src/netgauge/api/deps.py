"""Shared dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from netgauge.inventory import Inventory
from netgauge.service import Service


async def get_service(request: Request) -> Service:
    """The process's Service (set on app.state by create_app). Async on purpose: FastAPI runs
    a plain ``def`` dependency in its thread pool, a thread hop on every request."""
    service: Service = request.app.state.service
    return service


async def get_inventory(request: Request) -> Inventory:
    """The inventory of the running service."""
    service: Service = request.app.state.service
    return service.inventory


ServiceDep = Annotated[Service, Depends(get_service)]
InventoryDep = Annotated[Inventory, Depends(get_inventory)]

# Query parameters shared by the listing routes.
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=100_000_000, description="items to skip")]
RunStatus = Annotated[str | None, Query(pattern="^(running|ok|partial|failed|skipped)$")]
