"""/api/v1/collectors (admins make and revoke them; anyone signed in lists them) and
/api/v1/collector/{sync,results}: what a running collector calls with its own token. The
protocol is in ``netgauge.collectors.protocol``."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from netgauge.api.deps import ServiceDep
from netgauge.api.routes.ingest import batches_of
from netgauge.api.schemas import IngestResponse
from netgauge.api.security import collector_of, current_actor
from netgauge.collectors.protocol import SyncAnswer, SyncRequest
from netgauge.config.base import NAME_PATTERN
from netgauge.inventory.collectors import CollectorInfo

router = APIRouter(tags=["collectors"])
COLLECTOR_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class CollectorCreate(BaseModel):
    """A collector to register: its name and the site it serves."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=COLLECTOR_NAME, description="letters, digits, _.:- (64 at most)")
    site: str = Field(pattern=NAME_PATTERN)


class CollectorCreated(BaseModel):
    """The new collector and its token: shown in this answer only."""

    name: str
    site: str
    token: str


class CollectorPublic(BaseModel):
    """A collector as listed: online while it syncs within ``collector_dead_after_s``."""

    name: str
    site: str
    state: str = Field(description="online or offline")
    last_seen: datetime | None
    targets: int = Field(description="checks it runs now (0 while offline)")
    version: str | None = None
    spool_pending: int | None = Field(None, description="result batches not yet delivered")
    spool_bytes: int | None = None
    clock_offset_ms: float | None = Field(None, description="its clock minus the central's")


@router.post("/collectors", status_code=201)
async def create_collector(body: CollectorCreate, service: ServiceDep) -> CollectorCreated:
    """Register a collector for a site; its token is in this answer only."""
    hub = service.collectors
    token = await asyncio.to_thread(hub.store.create, body.name, body.site, current_actor())
    hub.changed()
    return CollectorCreated(name=body.name, site=body.site, token=token)


@router.get("/collectors")
async def list_collectors(service: ServiceDep) -> list[CollectorPublic]:
    """Every collector with its state, last heartbeat and what it runs."""
    return [CollectorPublic(**row) for row in await service.collectors.listing()]


@router.delete("/collectors/{name}", status_code=204)
async def delete_collector(name: str, service: ServiceDep) -> Response:
    """Revoke a collector: its token stops working now; its site's other collectors (or
    none) take its targets."""
    hub = service.collectors
    await asyncio.to_thread(hub.store.delete, name, current_actor())
    hub.changed()
    return Response(status_code=204)


# -- what a collector calls ---------------------------------------------------------------
async def _collector(
    request: Request, authorization: Annotated[str | None, Header(max_length=512)] = None
) -> CollectorInfo:
    """The collector of the bearer token (the header parameter documents it)."""
    return await collector_of(request)


CollectorDep = Annotated[CollectorInfo, Depends(_collector)]


class ResultMetric(BaseModel):
    """One value of a result (or its ``__result__`` header, whose labels say what it is)."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=512)
    value: float
    labels: dict[str, str] = Field(default_factory=dict, max_length=16)


class ResultBatch(BaseModel):
    """One check result, numbered from 1 upwards per collector."""

    model_config = ConfigDict(extra="ignore")
    seq: int = Field(ge=1, le=2**63 - 1)
    ts_ns: int = Field(ge=0, le=9_223_372_036_854_775_807)
    metrics: list[ResultMetric] = Field(min_length=1, max_length=10_000)


class ResultsRequest(BaseModel):
    """What a collector posts: at most 500 results, in ascending ``seq``."""

    model_config = ConfigDict(extra="ignore")
    batches: list[ResultBatch] = Field(max_length=500)


@router.post("/collector/sync")
async def collector_sync(
    collector: CollectorDep, body: SyncRequest, service: ServiceDep
) -> SyncAnswer:
    """A collector's heartbeat; answered with its assignment."""
    return await service.collectors.sync(collector, body)


@router.post("/collector/results")
async def collector_results(
    collector: CollectorDep, body: ResultsRequest, service: ServiceDep
) -> IngestResponse:
    """Store a collector's results (each once, however often it is sent)."""
    outcome = await service.collectors.results.ingest(collector, batches_of(body.batches))
    return IngestResponse(
        device=outcome.collector,
        accepted_through=outcome.accepted_through,
        stored=outcome.stored,
        refused=list(outcome.refused),
    )
