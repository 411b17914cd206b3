"""/api/v1/devices: devices' decided states (online, offline, degraded, flapping) and the
history of their transitions, each with its reason."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from netgauge.api.deps import InventoryDep, Limit, ServiceDep
from netgauge.api.schemas import AgentTokenPublic, DeviceStateChangePublic, DeviceStatePublic
from netgauge.api.security import current_actor

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("/states")
async def device_states(service: ServiceDep) -> list[DeviceStatePublic]:
    """Every checked device's decided state."""
    return [
        DeviceStatePublic(device=name, state=state.value if state else None)
        for name, state in service.device_states().items()
    ]


@router.get("/{device}/history")
async def device_history(
    device: str, inv: InventoryDep, limit: Limit = 100
) -> list[DeviceStateChangePublic]:
    """The device's state transitions, newest first (empty for a device never checked)."""
    rows = await asyncio.to_thread(inv.device_history, device, limit)
    return [DeviceStateChangePublic.model_validate(row) for row in rows]


@router.post("/{device}/agent-token", status_code=201)
async def create_agent_token(device: str, inv: InventoryDep) -> AgentTokenPublic:
    """A new token for the device's push agent; shown only in this answer."""
    token = await asyncio.to_thread(inv.create_agent_token, device, current_actor())
    return AgentTokenPublic(device=device, token=token)


@router.delete("/{device}/agent-token", status_code=204)
async def revoke_agent_tokens(device: str, inv: InventoryDep) -> None:
    """Revoke every agent token of the device (its agent gets 401 from then on)."""
    await asyncio.to_thread(inv.revoke_agent_tokens, device, current_actor())
