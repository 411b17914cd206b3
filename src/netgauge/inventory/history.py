"""What the inventory recorded around a moment, for the analytics that compare before with
after (``analytics.impact``): the change log, the targets a change touched, their check
outcomes and device state transitions.

Every function blocks: call it in a thread.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from netgauge.analytics.impact import History, Impact, Outcome, Transition, impact
from netgauge.inventory.repository import Inventory
from netgauge.inventory.tables import (
    DeviceStateChange,
    InventoryChange,
    JobRun,
    JobRunTarget,
    Site,
    TargetRow,
)

# the changes every role may see the impact of; credentials changes are the admins' (as in
# /api/v1/changes)
INVENTORY_TYPES = ("site", "schedule", "target", "job")
ADMIN_TYPES = (*INVENTORY_TYPES, "credentials")
PASSED = frozenset({"ok"})  # an outcome's status that counts as a passing check
NOT_CHECKED = frozenset({"skipped", "running"})  # neither passed nor failed: not counted


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One change-log entry with the targets it touched (detached values)."""

    id: int
    at: datetime
    entity_type: str
    entity_name: str
    action: str
    fields: list[str]
    actor: str
    targets: list[str]


def changes(
    inv: Inventory, since: datetime, until: datetime, limit: int, types: Collection[str]
) -> list[ChangeRecord]:
    """Changes in ``[since, until)`` of ``types``, newest first, with their targets."""
    stmt = (
        select(InventoryChange)
        .where(InventoryChange.at >= since, InventoryChange.at < until)
        .where(InventoryChange.entity_type.in_(list(types)))
        .order_by(InventoryChange.id.desc())
        .limit(limit)
    )
    with inv.session() as s:
        rows = list(s.scalars(stmt))
        return [
            ChangeRecord(
                r.id,
                r.at,
                r.entity_type,
                r.entity_name,
                r.action,
                sorted((r.changes or {}).keys()),
                r.actor,
                _touched(s, r),
            )
            for r in rows
        ]


def _touched(s: Session, change: InventoryChange) -> list[str]:
    """The targets a change acts on: the target itself; a job's checked targets around the
    change (its run outcomes: what it really touched, even after a delete); a site's, a
    schedule's sites', or a credentials entry's targets as they are now."""
    name = change.entity_name
    if change.entity_type == "target":
        return [name]
    if change.entity_type == "job":
        stmt = (
            select(JobRunTarget.target)
            .join(JobRun, JobRun.id == JobRunTarget.run_id)
            .where(JobRun.job_name == name)
            .distinct()
        )
    elif change.entity_type in ("site", "schedule"):
        of_site = Site.name == name if change.entity_type == "site" else Site.schedule == name
        stmt = select(TargetRow.name).join(Site, Site.id == TargetRow.site_id).where(of_site)
    elif change.entity_type == "credentials":
        stmt = select(TargetRow.name).where(TargetRow.credentials == name)
    else:
        return []
    return sorted(str(t) for t in s.scalars(stmt))


def histories(
    inv: Inventory, targets: Sequence[str], start: datetime, end: datetime
) -> list[History]:
    """Each target's check outcomes in ``[start, end)`` (by its run's start) and, for a
    device, its state transitions."""
    if not targets:
        return []
    outcomes: dict[str, list[Outcome]] = defaultdict(list)
    moves: dict[str, list[Transition]] = defaultdict(list)
    with inv.session() as s:
        named = select(TargetRow.name, TargetRow.type).where(TargetRow.name.in_(targets))
        kinds = dict(s.execute(named).all())
        checked = (
            select(JobRunTarget.target, JobRun.started_at, JobRunTarget.status)
            .join(JobRun, JobRun.id == JobRunTarget.run_id)
            .where(JobRunTarget.target.in_(targets))
            .where(JobRun.started_at >= start, JobRun.started_at < end)
        )
        for target, at, status in s.execute(checked):
            if status not in NOT_CHECKED:
                outcomes[target].append(Outcome(at, status in PASSED))
        devices = [t for t in targets if kinds.get(t) == "device"]
        if devices:
            stmt = select(DeviceStateChange).where(
                DeviceStateChange.device.in_(devices),
                DeviceStateChange.at >= start,
                DeviceStateChange.at < end,
            )
            for row in s.scalars(stmt):
                moves[row.device].append(Transition(row.at, row.new_state))
    return [
        History(
            t,
            outcomes.get(t, []),
            moves.get(t, []) if kinds.get(t) == "device" else None,
        )
        for t in targets
    ]


def change_impacts(
    inv: Inventory,
    now: datetime,
    days: float,
    hours: float,
    limit: int,
    types: Collection[str],
) -> list[tuple[ChangeRecord, Impact]]:
    """The changes of ``types`` in the last ``days`` (newest first), each with its impact
    over ``hours`` before and after it."""
    span = timedelta(hours=hours)
    found = changes(inv, now - timedelta(days=days), now, limit, types)
    return [
        (c, impact(c.at, histories(inv, c.targets, c.at - span, c.at + span), hours, now))
        for c in found
    ]
