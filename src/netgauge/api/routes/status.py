"""/api/v1/status: each checked target's live state (``status.live``: a device's decided one)
and its checks' newest results."""

from __future__ import annotations

from fastapi import APIRouter

from netgauge.api.deps import ServiceDep
from netgauge.api.schemas import CheckStatus, TargetStatus
from netgauge.errors import NotFoundError
from netgauge.service import Service
from netgauge.status import TargetState
from netgauge.timerange import ns_to_dt

router = APIRouter(prefix="/status", tags=["status"])


def public(st: TargetState, service: Service) -> TargetStatus:
    """Tracker state → API shape, with the live state (``since`` and ``last_check`` are
    the checks' own: when their outcome last changed, and the newest one)."""
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
        state=service.live.of(st.target),
        since=ns_to_dt(st.since_ns) if st.since_ns else None,
        last_check=ns_to_dt(st.last_ns) if st.last_ns else None,
        checks=checks,
    )


@router.get("")
async def all_status(service: ServiceDep) -> list[TargetStatus]:
    """Every checked target's state."""
    return [public(st, service) for st in service.all_checked()]


@router.get("/{target}")
async def target_status(target: str, service: ServiceDep) -> TargetStatus:
    """One target's state (404 until it has been checked once)."""
    st = service.checked(target)
    if st is None:
        raise NotFoundError(f"target {target!r} has no status yet (not checked or unknown)")
    return public(st, service)
