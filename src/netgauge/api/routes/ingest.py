"""/api/v1/ingest: where push agents post their batches (``Authorization: Bearer TOKEN``,
the device's agent token). The protocol is in ``netgauge.pollers.agent``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException

from netgauge.api.deps import InventoryDep, ServiceDep
from netgauge.api.schemas import IngestRequest, IngestResponse
from netgauge.pollers.agent import Batch
from netgauge.pollers.readings import Metric

router = APIRouter(prefix="/ingest", tags=["agents"])


@router.post("")
async def ingest(
    body: IngestRequest,
    service: ServiceDep,
    inv: InventoryDep,
    authorization: Annotated[str | None, Header(max_length=512)] = None,
) -> IngestResponse:
    """Store an agent's batches (each once, however often it is sent)."""
    device = await _device(inv, authorization)
    batches = [
        Batch(b.seq, b.ts_ns, tuple(Metric(m.name, m.value, m.labels) for m in b.metrics))
        for b in body.batches
    ]
    outcome = await service.agents.ingest(device, batches)
    return IngestResponse(
        device=outcome.device,
        accepted_through=outcome.accepted_through,
        stored=outcome.stored,
        refused=list(outcome.refused),
    )


async def _device(inv: InventoryDep, authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "send the device's agent token: Authorization: Bearer TOKEN")
    device = await asyncio.to_thread(inv.device_for_token, token.strip())
    if device is None:
        raise HTTPException(401, "unknown or revoked agent token")
    return device
