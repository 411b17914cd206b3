"""The inventory's read-only queries for the console's pages and the export: the SQL the
routes and pages used to write themselves (tests/unit/test_layers.py keeps it out of them).

Every function blocks: call it in a thread (``asyncio.to_thread(fn, service.inventory, ...)``).
The rules of which targets a filter matches stay in ``Inventory.target_query``; these only
choose columns, order and limits over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from netgauge.inventory.repository import Inventory, TargetFilter
from netgauge.inventory.tables import (
    DeviceStateChange,
    Event,
    JobRun,
    Site,
    TargetRow,
    UserActivity,
)

# the columns besides the name a target list may be ordered by in SQL
SortColumn = Literal["address", "site", "updated"]


@dataclass(frozen=True, slots=True)
class Recent:
    """The newest job runs, device transitions and events (detached: read them freely)."""

    runs: list[JobRun]
    changes: list[DeviceStateChange]
    events: list[Event]


def last_activity(inv: Inventory) -> dict[str, datetime]:
    """When each user's console last reported a page view or action."""
    stmt = select(UserActivity.user, func.max(UserActivity.at)).group_by(UserActivity.user)
    with inv.session() as s:
        return {str(user): at for user, at in s.execute(stmt)}


def last_runs(inv: Inventory) -> dict[str, JobRun]:
    """The newest recorded run of every job, in one query."""
    newest = select(func.max(JobRun.id)).group_by(JobRun.job_name)
    with inv.session() as s:
        return {r.job_name: r for r in s.scalars(select(JobRun).where(JobRun.id.in_(newest)))}


def target_types(inv: Inventory) -> dict[str, str]:
    """Every target's name → type ("destination"/"device"), names and types only."""
    with inv.session() as s:
        return dict(s.execute(select(TargetRow.name, TargetRow.type)).all())


def recent(inv: Inventory, limit: int) -> Recent:
    """The ``limit`` newest runs, device transitions and events: three indexed LIMIT
    queries in one session."""
    with inv.session() as s:
        runs = list(s.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)))
        changes = list(
            s.scalars(select(DeviceStateChange).order_by(DeviceStateChange.id.desc()).limit(limit))
        )
        events = list(s.scalars(select(Event).order_by(Event.id.desc()).limit(limit)))
        s.expunge_all()  # read after the session closes
    return Recent(runs, changes, events)


def chosen_targets(inv: Inventory, f: TargetFilter, cap: int) -> tuple[list[tuple[str, str]], int]:
    """((name, type) of the targets matching ``f``, by name — none when more than ``cap``
    match; how many match): names and types only, not whole rows."""
    found = inv.target_query(f).subquery()
    with inv.session() as s:
        total = s.scalar(select(func.count()).select_from(found)) or 0
        if total > cap:
            return [], total
        rows = s.execute(select(found.c.name, found.c.type).order_by(found.c.name))
        return [(name, kind) for name, kind in rows], total


def matching_names(inv: Inventory, f: TargetFilter) -> list[str]:
    """The names of every target matching ``f``, in no order (a caller orders them by what
    the inventory does not hold: the live state)."""
    found = inv.target_query(f).subquery()
    with inv.session() as s:
        return list(s.scalars(select(found.c.name)))


def names_sorted_by(
    inv: Inventory, f: TargetFilter, column: SortColumn, desc: bool, limit: int, offset: int
) -> tuple[list[str], int]:
    """(the names of one page of the targets matching ``f``, ordered by ``column`` then
    name; how many match): ordered in SQL over the few columns it needs, not whole rows."""
    found = inv.target_query(f).subquery()
    site = aliased(Site)
    key = {
        "address": found.c.address,
        "site": func.coalesce(site.name, ""),
        "updated": found.c.updated_at,
    }[column]
    order = [key.desc(), found.c.name.desc()] if desc else [key, found.c.name]
    page = select(found.c.name).outerjoin(site, site.id == found.c.site_id)
    with inv.session() as s:
        total = s.scalar(select(func.count()).select_from(found)) or 0
        return list(s.scalars(page.order_by(*order).limit(limit).offset(offset))), total
