"""/api/v1/probes/{kind}: run a probe once against given addresses, like `netgauge probe KIND`.

The results are returned, not stored: this is the API's "test now". The run goes through the
same runner as jobs, so the global concurrency limit and the timeout apply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from netgauge.api.deps import ServiceDep
from netgauge.config.base import parse_duration
from netgauge.config.model import JobConfig, check_address
from netgauge.errors import InventoryError
from netgauge.inventory.repository import check_job
from netgauge.models import Target
from netgauge.probes.base import PROBES
from netgauge.probes.builtin import load_builtin_probes
from netgauge.timerange import ns_to_dt

router = APIRouter(prefix="/probes", tags=["probes"])
MAX_TARGETS = 1000


class ProbeRequest(BaseModel):
    """Addresses to probe once, and the probe's params (as in a job)."""

    model_config = ConfigDict(extra="forbid")
    targets: list[str] = Field(min_length=1, max_length=MAX_TARGETS)
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: float | str | None = Field(None, description="overall per-check timeout, e.g. 10s")

    @field_validator("targets")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [check_address(v) for v in value]


class ProbeResultPublic(BaseModel):
    """One target's result."""

    target: str
    kind: str
    time: datetime
    status: str
    metrics: dict[str, float | None]
    error: str | None
    details: dict[str, Any]


@router.get("")
async def probe_kinds() -> list[str]:
    """The probe kinds this server runs."""
    load_builtin_probes()
    return PROBES.names()


@router.post("/{kind}")
async def run_probe(kind: str, body: ProbeRequest, service: ServiceDep) -> list[ProbeResultPublic]:
    """Probe ``targets`` once with ``kind`` (404 for an unknown kind, 422 for bad params)."""
    load_builtin_probes()
    if kind not in PROBES:
        from netgauge.errors import NotFoundError

        raise NotFoundError(
            f"kind: unknown probe kind {kind!r} (known: {', '.join(PROBES.names())})"
        )
    try:
        timeout = None if body.timeout is None else parse_duration(body.timeout)
    except ValueError as exc:
        raise InventoryError(f"timeout: {exc}") from None
    names = list(dict.fromkeys(body.targets))  # a job lists each target once
    cfg = JobConfig(name="adhoc", kind=kind, params=body.params, targets=names, timeout=timeout)
    check_job(cfg, service.inventory.files)  # 422 naming the bad param, as for a job
    results = await service.probe(cfg, [Target(name=a, address=a) for a in names])
    return [
        ProbeResultPublic(
            target=r.target,
            kind=r.kind,
            time=ns_to_dt(r.ts_ns),
            status=r.status.value,
            metrics=dict(r.metrics),
            error=r.error,
            details=dict(r.details),
        )
        for r in results
    ]
