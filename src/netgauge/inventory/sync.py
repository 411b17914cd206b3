"""Sync the YAML inventory into the database at start: create, update, remove — all recorded.

The file owns what it declares (source "yaml"). Entities created through the API (source
"api") and the built-in ones a first start without a file made (source "builtin") survive
restarts unless the file declares the same name (then the file wins), or says
``owns: all`` (then the file is the whole inventory: whatever it does not declare goes).
Removing an entity from the file deletes it from the database at the next start.

:func:`preview_sync` runs the very same sync in a transaction it rolls back, so
``check-config --diff`` says exactly what a start with the file would do.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from netgauge.config.model import ConfigFile
from netgauge.errors import InventoryError
from netgauge.inventory.repository import Inventory, RowT, job_fields, target_fields
from netgauge.inventory.tables import (
    Credential,
    InventoryChange,
    JobRow,
    ScheduleRow,
    Site,
    TargetRow,
)

YAML_SOURCE = "yaml"
BUILTIN_SOURCE = "builtin"
# entity kinds in the order a sync creates them (a site names a schedule, a job targets)
_KINDS: tuple[tuple[str, Any], ...] = (
    ("schedule", ScheduleRow),
    ("site", Site),
    ("credentials", Credential),
    ("target", TargetRow),
    ("job", JobRow),
)


@dataclass(frozen=True)
class PlannedChange:
    """One change a sync makes: ``changes`` maps a field to [old, new]."""

    kind: str
    name: str
    action: str  # create, update, delete
    changes: dict[str, Any]


@dataclass(frozen=True)
class SyncReport:
    """What one sync changed, and what it left alone that the file does not declare."""

    created: int
    updated: int
    deleted: int
    kept: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, name, source)
    changes: list[PlannedChange] = field(default_factory=list)


def sync_inventory(inv: Inventory, config: ConfigFile, actor: str) -> SyncReport:
    """Make the database match ``config`` for everything the file owns, in one transaction."""
    report: SyncReport = inv.run_in_session(lambda s: _apply(inv, s, config, actor))
    return report


def preview_sync(inv: Inventory, config: ConfigFile, actor: str) -> SyncReport:
    """What :func:`sync_inventory` would do, without doing it (the transaction is undone)."""
    report: SyncReport = inv.try_in_session(lambda s: _apply(inv, s, config, actor))
    return report


def seed_builtin(inv: Inventory, config: ConfigFile, actor: str) -> SyncReport:
    """What netgauge watches with no file: made once, on the first start (an empty
    inventory), and kept up to date while still built-in; something the admin deleted or
    changed through the API or a file is theirs, and a restart leaves it alone."""

    def apply(s: Session) -> SyncReport:
        first_new = _next_change(s)
        fresh = s.scalar(select(func.count()).select_from(TargetRow)) == 0 and (
            s.scalar(select(func.count()).select_from(JobRow)) == 0
        )
        builtin = {
            kind: set(s.scalars(select(model.name).where(model.source == BUILTIN_SOURCE)))
            for kind, model in _KINDS
        }
        for target in config.targets:
            if fresh or target.name in builtin["target"]:
                inv._put_target(s, target, actor, BUILTIN_SOURCE)
        for job in config.jobs:
            if fresh or job.name in builtin["job"]:
                inv._put_job(s, job, actor, BUILTIN_SOURCE)
        return _report(s, first_new, [])

    report: SyncReport = inv.run_in_session(apply)
    return report


def _apply(inv: Inventory, s: Session, config: ConfigFile, actor: str) -> SyncReport:
    first_new = _next_change(s)
    for schedule in config.schedules:
        inv._put_schedule(s, schedule, actor, YAML_SOURCE)
    for site in config.sites:
        inv._put_site(s, site, actor, YAML_SOURCE)
    for cred in config.credentials:
        inv._put_credential(s, cred, actor, YAML_SOURCE)
    for target in config.targets:
        inv._put_target(s, target, actor, YAML_SOURCE)
    for job in config.jobs:
        inv._put_job(s, job, actor, YAML_SOURCE)
    _remove_undeclared(inv, s, config, actor)
    s.flush()
    return _report(s, first_new, _kept(s, config))


def _next_change(s: Session) -> int:
    return (s.scalar(select(func.max(InventoryChange.id))) or 0) + 1


def _report(s: Session, first_new: int, kept: list[tuple[str, str, str]]) -> SyncReport:
    s.flush()
    rows = s.scalars(
        select(InventoryChange).where(InventoryChange.id >= first_new).order_by(InventoryChange.id)
    ).all()
    changes = [PlannedChange(r.entity_type, r.entity_name, r.action, r.changes) for r in rows]
    actions = Counter(c.action for c in changes)
    return SyncReport(actions["create"], actions["update"], actions["delete"], kept, changes)


def _declared(config: ConfigFile) -> dict[str, set[str]]:
    return {
        "schedule": {x.name for x in config.schedules},
        "site": {x.name for x in config.sites},
        "credentials": {x.name for x in config.credentials},
        "target": {x.name for x in config.targets},
        "job": {x.name for x in config.jobs},
    }


def _kept(s: Session, config: ConfigFile) -> list[tuple[str, str, str]]:
    """Entities the file does not declare and does not own, left as they are."""
    declared = _declared(config)
    kept = []
    for kind, model in _KINDS:
        for name, source in s.execute(select(model.name, model.source)).all():
            if name not in declared[kind]:
                kept.append((kind, name, source))
    return kept


def _remove_undeclared(inv: Inventory, s: Session, config: ConfigFile, actor: str) -> None:
    """Delete file-owned entities the file no longer declares (jobs first: they name targets);
    with ``owns: all``, everything it does not declare."""
    every = config.owns == "all"
    keep_jobs = {j.name for j in config.jobs}
    for job in _owned(s, JobRow, keep_jobs, every):
        inv._log(
            s, "job", job.name, "delete", {k: [v, None] for k, v in job_fields(job).items()}, actor
        )
        s.delete(job)
    s.flush()
    keep_targets = {t.name for t in config.targets}
    for target in _owned(s, TargetRow, keep_targets, every):
        users = [j.name for j in s.scalars(select(JobRow)) if target.name in j.target_names]
        if users:
            raise InventoryError(
                f"target {target.name!r} was removed from the file but job(s) "
                f"{', '.join(users)} (created through the API) still name it"
            )
        children = [
            t.name for t in s.scalars(select(TargetRow).where(TargetRow.parent == target.name))
        ]
        if children:
            raise InventoryError(
                f"target {target.name!r} was removed from the file but target(s) "
                f"{', '.join(sorted(children))} still name it as their parent"
            )
        fields = {k: [v, None] for k, v in target_fields(target).items()}
        inv._log(s, "target", target.name, "delete", fields, actor)
        s.delete(target)
    s.flush()
    for cred in _owned(s, Credential, {c.name for c in config.credentials}, every):
        inv._log(s, "credentials", cred.name, "delete", {}, actor)
        s.delete(cred)
    for site in _owned(s, Site, {site.name for site in config.sites}, every):
        inv._log(s, "site", site.name, "delete", {}, actor)
        s.delete(site)
    s.flush()
    for schedule in _owned(s, ScheduleRow, {x.name for x in config.schedules}, every):
        users = list(s.scalars(select(Site.name).where(Site.schedule == schedule.name)))
        if users:
            raise InventoryError(
                f"schedule {schedule.name!r} was removed from the file but site(s) "
                f"{', '.join(users)} (created through the API) still name it"
            )
        inv._log(s, "schedule", schedule.name, "delete", {}, actor)
        s.delete(schedule)
    s.flush()


def _owned(s: Session, model: type[RowT], keep: set[str], every: bool) -> list[RowT]:
    """Rows the file owns (with ``every``: all of them) but does not declare."""
    stmt = select(model) if every else select(model).where(model.source == YAML_SOURCE)
    return [row for row in s.scalars(stmt) if row.name not in keep]
