"""/api/v1/health: open to load balancers; reports scheduler, stores and last write."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from netgauge.api.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(service: ServiceDep) -> dict[str, Any]:
    """Is the scheduler running, are the stores reachable, when was the last write."""
    return await service.health()
