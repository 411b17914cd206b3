"""/api/v1/status: the current up/down state of each target and its newest check results."""

from __future__ import annotations

from fastapi import APIRouter

from netgauge.api.deps import ServiceDep
from netgauge.api.schemas import CheckStatus, TargetStatus
from netgauge.errors import NotFoundError
from netgauge.status import TargetState
from netgauge.timerange import ns_to_dt

router = APIRouter(prefix="/status", tags=["status"])


def public(st: TargetState) -> TargetStatus:
    """Tracker state → API shape."""
    checks = [
        CheckStatus(
            job=job,
            kind=r.kind,
            status=r.status.value,
            time=ns_to_dt(r.ts_ns),
            error=r.error,
            metrics=dict(r.metrics),
            details=dict(r.details),
        )
        for job, r in sorted(st.checks.items())
    ]
    return TargetStatus(
        target=st.target,
        state=st.state,
        since=ns_to_dt(st.since_ns) if st.since_ns else None,
        last_check=ns_to_dt(st.last_ns) if st.last_ns else None,
        checks=checks,
    )


@router.get("")
async def all_status(service: ServiceDep) -> list[TargetStatus]:
    """Every checked target's state."""
    return [public(st) for st in service.status.all()]


@router.get("/{target}")
async def target_status(target: str, service: ServiceDep) -> TargetStatus:
    """One target's state (404 until it has been checked once)."""
    st = service.status.get(target)
    if st is None:
        raise NotFoundError(f"target {target!r} has no status yet (not checked or unknown)")
    return public(st)
