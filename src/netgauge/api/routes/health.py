"""/api/v1/health: open to load balancers and probes, so it tells nothing sensitive — no
inventory, no job names, no error texts (they can name hosts and paths), no versions.
``/api/v1/health/details`` (any logged-in role) has everything."""

from __future__ import annotations

from fastapi import APIRouter, Request

from netgauge.api.deps import ServiceDep
from netgauge.api.schemas import HealthDetails, HealthSummary
from netgauge.service import Service

# the open summary has a router of its own, included without the authorization dependency:
# load balancers poll it, and it needs nothing of the request (see api.app)
open_router = APIRouter(tags=["health"])
router = APIRouter(tags=["health"])
_PUBLIC_STORE_FIELDS = (
    "name",
    "state",
    "cause",
    "reachable",
    "samples_written",
    "last_write_ns",
    "last_success_ns",
    "pending",
    "dropped",
)


@open_router.get("/health")
async def health(request: Request) -> HealthSummary:
    """Up or degraded; per store: reachable, written, pending, dropped, spool size."""
    service: Service = request.app.state.service  # no dependency to solve: polled often
    full = await service.health()
    stores = []
    for store in full["stores"]:
        public = {key: store[key] for key in _PUBLIC_STORE_FIELDS}
        spool = store.get("spool")
        public["spool"] = (
            {k: spool[k] for k in ("batches", "samples", "bytes", "dropped_samples")}
            if spool
            else None
        )
        stores.append(public)
    return HealthSummary.model_validate(
        {
            "status": full["status"],
            "role": full["role"],
            "scheduler": {"running": full["scheduler"]["running"]},
            "stores": stores,
            "last_write_ns": full["last_write_ns"],
            "lake": full["lake"]["state"],
        }
    )


@router.get("/health/details")
async def health_details(service: ServiceDep) -> HealthDetails:
    """Everything: jobs in flight, store errors, refused samples by reason."""
    return HealthDetails.model_validate(await service.health())
