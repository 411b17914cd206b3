"""Sync the YAML inventory into the database at start: create, update, remove — all recorded.

The file owns what it declares (source "yaml"). Entities created through the API (source "api")
survive restarts unless the file declares the same name, in which case the file wins.
Removing an entity from the file deletes it from the database at the next start.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

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


@dataclass(frozen=True)
class SyncReport:
    """What one sync changed."""

    created: int
    updated: int
    deleted: int


def sync_inventory(inv: Inventory, config: ConfigFile, actor: str) -> SyncReport:
    """Make the database match ``config`` for everything the file owns, in one transaction."""

    def apply(s: Session) -> SyncReport:
        first_new = (s.scalar(select(func.max(InventoryChange.id))) or 0) + 1
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
        actions = Counter(
            s.scalars(select(InventoryChange.action).where(InventoryChange.id >= first_new))
        )
        return SyncReport(actions["create"], actions["update"], actions["delete"])

    report: SyncReport = inv.run_in_session(apply)
    return report


def _remove_undeclared(inv: Inventory, s: Session, config: ConfigFile, actor: str) -> None:
    """Delete file-owned entities the file no longer declares (jobs first: they name targets)."""
    keep_jobs = {j.name for j in config.jobs}
    for job in _owned(s, JobRow, keep_jobs):
        inv._log(
            s, "job", job.name, "delete", {k: [v, None] for k, v in job_fields(job).items()}, actor
        )
        s.delete(job)
    s.flush()
    keep_targets = {t.name for t in config.targets}
    for target in _owned(s, TargetRow, keep_targets):
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
    for cred in _owned(s, Credential, {c.name for c in config.credentials}):
        inv._log(s, "credentials", cred.name, "delete", {}, actor)
        s.delete(cred)
    for site in _owned(s, Site, {site.name for site in config.sites}):
        inv._log(s, "site", site.name, "delete", {}, actor)
        s.delete(site)
    s.flush()
    for schedule in _owned(s, ScheduleRow, {x.name for x in config.schedules}):
        users = list(s.scalars(select(Site.name).where(Site.schedule == schedule.name)))
        if users:
            raise InventoryError(
                f"schedule {schedule.name!r} was removed from the file but site(s) "
                f"{', '.join(users)} (created through the API) still name it"
            )
        inv._log(s, "schedule", schedule.name, "delete", {}, actor)
        s.delete(schedule)
    s.flush()


def _owned(s: Session, model: type[RowT], keep: set[str]) -> list[RowT]:
    """Rows the file owns but no longer declares."""
    stmt = select(model).where(model.source == YAML_SOURCE)
    return [row for row in s.scalars(stmt) if row.name not in keep]
