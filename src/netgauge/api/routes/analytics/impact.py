"""/api/v1/analytics/impact: what each configuration change (targets, jobs, sites,
schedules in the change log) did to the targets it touched, in the hours after compared
with the hours before (formula: ``netgauge.analytics.impact``). Computed on request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from netgauge.analytics.impact import Comparison, WindowStats
from netgauge.analytics.impact_service import ChangeImpact
from netgauge.api.deps import ServiceDep

router = APIRouter(prefix="/impact")
Hours = Annotated[
    float, Query(gt=0, le=168, description="the span before and after the change, in hours")
]


class BeforeAfter(BaseModel):
    """One number before and after the change (None: not known in that window)."""

    before: float | None
    after: float | None
    delta: float | None


class ChangeImpactPublic(BaseModel):
    """One change and its verdict: worse, better, no change or no data."""

    id: int
    at: datetime
    entity_type: str
    entity_name: str
    action: str
    actor: str
    changes: dict[str, Any]
    hours: float
    watched_hours: float  # of the window after, elapsed so far
    watching: bool  # the window after has not elapsed yet
    verdict: str
    reasons: list[str]
    targets: int  # affected targets
    compared: int  # of them, with availability both before and after
    note: str | None
    availability: BeforeAfter  # mean percent over the compared targets
    health: BeforeAfter  # mean health_score
    state_changes: BeforeAfter  # sum of status flips
    failures: BeforeAfter  # sum of failed job-run outcomes and error-log entries


class TargetWindow(BaseModel):
    """One affected target in one window."""

    availability: float | None
    state_changes: int | None
    failures: int
    health: float | None


class TargetImpact(BaseModel):
    """One affected target, before and after."""

    target: str
    before: TargetWindow
    after: TargetWindow


class ChangeImpactDetail(ChangeImpactPublic):
    """One change with each affected target's numbers."""

    affected: list[TargetImpact]


def _pair(c: Comparison) -> BeforeAfter:
    return BeforeAfter(before=c.before, after=c.after, delta=c.delta)


def _window(w: WindowStats) -> TargetWindow:
    return TargetWindow(
        availability=w.availability,
        state_changes=w.state_changes,
        failures=w.failures,
        health=w.health,
    )


def public(c: ChangeImpact) -> ChangeImpactPublic:
    """The API's view of one change's impact."""
    i = c.impact
    return ChangeImpactPublic(
        id=c.id,
        at=c.at,
        entity_type=c.entity_type,
        entity_name=c.entity_name,
        action=c.action,
        actor=c.actor,
        changes=c.changes,
        hours=c.hours,
        watched_hours=c.watched_hours,
        watching=c.watching,
        verdict=i.verdict,
        reasons=list(i.reasons),
        targets=i.targets,
        compared=i.compared,
        note=c.note,
        availability=_pair(i.availability),
        health=_pair(i.health),
        state_changes=_pair(i.state_changes),
        failures=_pair(i.failures),
    )


@router.get("")
async def list_impact(
    service: ServiceDep,
    hours: Hours = 24,
    limit: Annotated[int, Query(ge=1, le=100, description="the newest changes")] = 20,
) -> list[ChangeImpactPublic]:
    """The newest changes to targets, jobs, sites and schedules, each with what happened to
    the targets it touched in the ``hours`` after it compared with the ``hours`` before."""
    return [public(c) for c in await service.impact.recent(hours, limit)]


@router.get("/{change_id}")
async def change_impact(
    service: ServiceDep,
    change_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="the change log entry's id")],
    hours: Hours = 24,
) -> ChangeImpactDetail:
    """One change's impact with every affected target's numbers before and after."""
    c = await service.impact.one(change_id, hours)
    affected = [
        TargetImpact(target=name, before=_window(b), after=_window(a))
        for name, (b, a) in c.per_target.items()
    ]
    return ChangeImpactDetail(**public(c).model_dump(), affected=affected)
