"""/api/v1/devices: devices' decided states (online, offline, degraded, flapping) and the
history of their transitions, each with its reason."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from netgauge.api.deps import InventoryDep, Limit, ServiceDep
from netgauge.api.schemas import DeviceStateChangePublic, DeviceStatePublic

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("/states")
async def device_states(service: ServiceDep) -> list[DeviceStatePublic]:
    """Every checked device's decided state."""
    return [
        DeviceStatePublic(device=name, state=state.value if state else None)
        for name, state in service.devices.states().items()
    ]


@router.get("/{device}/history")
async def device_history(
    device: str, inv: InventoryDep, limit: Limit = 100
) -> list[DeviceStateChangePublic]:
    """The device's state transitions, newest first (empty for a device never checked)."""
    rows = await asyncio.to_thread(inv.device_history, device, limit)
    return [DeviceStateChangePublic.model_validate(row) for row in rows]
