"""/api/v1/analytics/impact: what each change in the change log did to the targets it touched
(``analytics.impact`` has the rule; ``inventory.history`` gathers the record)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from netgauge.analytics.impact import FORMULA_VERSION, Half, Impact
from netgauge.api.deps import ServiceDep
from netgauge.api.security import AuthDep, is_admin
from netgauge.inventory import history
from netgauge.inventory.history import ADMIN_TYPES, INVENTORY_TYPES

router = APIRouter()


class HalfPublic(BaseModel):
    """One side of a change: checks, failures, state changes, offline transitions."""

    checks: int
    failed: int
    failure_rate: float | None
    state_changes: int
    offline: int

    @classmethod
    def of(cls, half: Half) -> HalfPublic:
        return cls(
            checks=half.checks,
            failed=half.failed,
            failure_rate=half.failure_rate,
            state_changes=half.state_changes,
            offline=half.offline,
        )


class TargetImpactPublic(BaseModel):
    target: str
    before: HalfPublic
    after: HalfPublic
    verdict: str
    p_value: float | None


class ChangeImpact(BaseModel):
    """A change-log entry and what followed it, compared with what preceded it."""

    id: int
    at: datetime
    entity_type: str
    entity_name: str
    action: str
    fields: list[str]
    actor: str
    hours: float
    before: HalfPublic
    after: HalfPublic
    verdict: str  # worse, better, no change, not enough data
    p_value: float | None
    partial: bool  # the "after" window has not ended yet
    reason: str
    targets: list[TargetImpactPublic]
    formula_version: str = FORMULA_VERSION


def _public(change: history.ChangeRecord, result: Impact, hours: float) -> ChangeImpact:
    return ChangeImpact(
        id=change.id,
        at=change.at,
        entity_type=change.entity_type,
        entity_name=change.entity_name,
        action=change.action,
        fields=change.fields,
        actor=change.actor,
        hours=hours,
        before=HalfPublic.of(result.before),
        after=HalfPublic.of(result.after),
        verdict=result.verdict,
        p_value=result.p_value,
        partial=result.partial,
        reason=result.reason,
        targets=[
            TargetImpactPublic(
                target=t.target,
                before=HalfPublic.of(t.before),
                after=HalfPublic.of(t.after),
                verdict=t.verdict,
                p_value=t.p_value,
            )
            for t in result.targets
        ],
    )


@router.get("/impact")
async def change_impact(
    service: ServiceDep,
    who: AuthDep,
    days: Annotated[float, Query(gt=0, le=90, description="Changes of the last N days.")] = 7,
    hours: Annotated[
        float, Query(gt=0, le=168, description="The window before and after each change.")
    ] = 6,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ChangeImpact]:
    """Each change of the last ``days`` (newest first) with what happened to the targets it
    touched in the ``hours`` after it, compared with the ``hours`` before: checks, failure
    rate, state changes, offline transitions, and a verdict (``worse``/``better`` only when
    Fisher's exact test on the failure counts gives p < 0.05 and the rates differ by 5
    points or more; ``not enough data`` with fewer than 5 checks on a side). Credentials
    changes are shown to admins only."""
    types = ADMIN_TYPES if is_admin(who) else INVENTORY_TYPES
    now = service.clock.now()
    found = await asyncio.to_thread(
        history.change_impacts, service.inventory, now, days, hours, limit, types
    )
    return [_public(change, result, hours) for change, result in found]
