"""/api/v1/ingest: where push agents post their batches (``Authorization: Bearer TOKEN``,
the device's agent token). The protocol is in ``netgauge.pollers.agent``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Header, HTTPException, Request

from netgauge.api.deps import ServiceDep
from netgauge.api.schemas import MAX_INGEST_METRICS, IngestRequest, IngestResponse
from netgauge.api.security import agent_device
from netgauge.pollers.agent import Batch
from netgauge.pollers.readings import Metric

router = APIRouter(prefix="/ingest", tags=["agents"])


async def _device(
    request: Request, authorization: Annotated[str | None, Header(max_length=512)] = None
) -> str:
    """The device of the bearer token (as the edge found it before the body was read; the
    header parameter documents it in the schema)."""
    return await agent_device(request)


@router.post("")
async def ingest(
    device: Annotated[str, Depends(_device)], body: IngestRequest, service: ServiceDep
) -> IngestResponse:
    """Store an agent's batches (each once, however often it is sent)."""
    outcome = await service.agents.ingest(device, batches_of(body.batches))
    return IngestResponse(
        device=outcome.device,
        accepted_through=outcome.accepted_through,
        stored=outcome.stored,
        refused=list(outcome.refused),
    )


class _Pushed(Protocol):
    seq: int
    ts_ns: int

    @property
    def metrics(self) -> Sequence[Any]: ...


def batches_of(pushed: Sequence[_Pushed]) -> list[Batch]:
    """The batches of a push (an agent's or a collector's), 413 past MAX_INGEST_METRICS."""
    total = sum(len(b.metrics) for b in pushed)
    if total > MAX_INGEST_METRICS:
        raise HTTPException(
            413, f"{total} metrics in one request: send at most {MAX_INGEST_METRICS}"
        )
    return [
        Batch(b.seq, b.ts_ns, tuple(Metric(m.name, m.value, m.labels) for m in b.metrics))
        for b in pushed
    ]
