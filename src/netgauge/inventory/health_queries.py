"""What the health score and the configuration impact read from the inventory's history.

The health score's, for the whole fleet at once:
device state changes, per-target job-run outcomes and error-log entries since a time. One
grouped query each (the score is recomputed for every target every few minutes).

Job-run outcomes count only from runs that kept every target's outcome (up to
``RUN_ALL_OUTCOMES_UP_TO`` targets): a bigger run keeps its failures only, and counting those
alone would make every failure look like the target's only outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from netgauge.inventory.repository import RUN_ALL_OUTCOMES_UP_TO, Inventory
from netgauge.inventory.tables import (
    DeviceStateChange,
    ErrorLog,
    InventoryChange,
    JobRun,
    JobRunTarget,
)


@dataclass(frozen=True, slots=True)
class FleetHistory:
    """Counts per target name since the windows' starts."""

    changes_24h: dict[str, int]  # device state transitions
    outcomes_7d: dict[str, tuple[int, int]]  # (ok, not ok) job-run outcomes
    errors_24h: dict[str, int]  # error-log entries naming the device


def fleet_history(inventory: Inventory, since_24h: datetime, since_7d: datetime) -> FleetHistory:
    """(In a thread.) The three counts, in one session."""
    with inventory.session() as s:
        changes = s.execute(
            select(DeviceStateChange.device, func.count())
            .where(DeviceStateChange.at >= since_24h)
            .group_by(DeviceStateChange.device)
        )
        changes_24h = {device: int(n) for device, n in changes}
        is_ok = case((JobRunTarget.status == "ok", 1), else_=0)
        outcomes = s.execute(
            select(JobRunTarget.target, func.sum(is_ok), func.count())
            .join(JobRun, JobRun.id == JobRunTarget.run_id)
            .where(
                JobRun.started_at >= since_7d,
                JobRun.targets_ok + JobRun.targets_failed <= RUN_ALL_OUTCOMES_UP_TO,
            )
            .group_by(JobRunTarget.target)
        )
        outcomes_7d = {
            target: (int(ok or 0), int(total) - int(ok or 0)) for target, ok, total in outcomes
        }
        errors = s.execute(
            select(ErrorLog.device, func.count())
            .where(ErrorLog.at >= since_24h, ErrorLog.device.is_not(None))
            .group_by(ErrorLog.device)
        )
        errors_24h = {str(device): int(n) for device, n in errors}
    return FleetHistory(changes_24h, outcomes_7d, errors_24h)


# -- configuration impact ------------------------------------------------------------------
IMPACT_TYPES = ("target", "job", "site", "schedule")  # changes every role may read


def impact_changes(inventory: Inventory, limit: int) -> list[InventoryChange]:
    """(In a thread.) The newest changes to targets, jobs, sites and schedules."""
    return inventory.list_changes(limit=limit, types=IMPACT_TYPES)


def impact_change(inventory: Inventory, change_id: int) -> InventoryChange | None:
    """(In a thread.) One such change by id (None: none, or of another type)."""
    with inventory.session() as s:
        row = s.get(InventoryChange, change_id)
        return row if row is not None and row.entity_type in IMPACT_TYPES else None


def failures_between(
    inventory: Inventory, targets: Sequence[str], start: datetime, end: datetime
) -> dict[str, int]:
    """(In a thread.) Per target, job-run outcomes that were not ok plus error-log entries
    naming it, in [start, end)."""
    found: dict[str, int] = dict.fromkeys(targets, 0)
    if not targets:
        return found
    with inventory.session() as s:
        outcomes = s.execute(
            select(JobRunTarget.target, func.count())
            .join(JobRun, JobRun.id == JobRunTarget.run_id)
            .where(
                JobRunTarget.target.in_(list(targets)),
                JobRunTarget.status != "ok",
                JobRun.started_at >= start,
                JobRun.started_at < end,
            )
            .group_by(JobRunTarget.target)
        )
        errors = s.execute(
            select(ErrorLog.device, func.count())
            .where(ErrorLog.device.in_(list(targets)), ErrorLog.at >= start, ErrorLog.at < end)
            .group_by(ErrorLog.device)
        )
        for name, n in [*outcomes, *errors]:
            found[str(name)] += int(n)
    return found


__all__ = [
    "IMPACT_TYPES",
    "FleetHistory",
    "failures_between",
    "fleet_history",
    "impact_change",
    "impact_changes",
]
