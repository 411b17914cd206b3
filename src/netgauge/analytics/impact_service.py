"""Configuration impact's service side: the change log's entries, the targets each touched,
and their stored status, health scores and failures before and after (the formula:
:mod:`netgauge.analytics.impact`). Computed on request: a page of changes reads a few raw
series per affected target, bounded by :data:`MAX_TARGETS`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from netgauge.analytics.health_service import HEALTH_SERIES, PointsFn
from netgauge.analytics.impact import Impact, WindowStats, verdict
from netgauge.clock import Clock
from netgauge.errors import NotFoundError
from netgauge.inventory.health_queries import failures_between, impact_change, impact_changes
from netgauge.inventory.repository import Inventory, job_config
from netgauge.inventory.tables import InventoryChange

MAX_TARGETS = 200  # affected targets measured per change (the rest named as left out)
# affected targets measured per page of changes: each costs two raw reads of up to a week,
# and a viewer must not make the server read the whole store with one request
PAGE_TARGETS = 500


@dataclass(frozen=True, slots=True)
class ChangeImpact:
    """One change, the targets it touched, and what happened to them."""

    id: int
    at: datetime
    entity_type: str
    entity_name: str
    action: str
    actor: str
    changes: dict[str, Any]
    hours: float
    watched_hours: float  # of the window after, elapsed so far
    affected: tuple[str, ...]
    note: str | None
    impact: Impact
    per_target: dict[str, tuple[WindowStats, WindowStats]]

    @property
    def watching(self) -> bool:
        """Whether the window after has not elapsed yet."""
        return self.watched_hours < self.hours


def _ns(at: datetime) -> int:
    return int(at.timestamp() * 1e9)


class ImpactAnalysis:
    """What each configuration change did, for the API and the console."""

    def __init__(
        self,
        points: PointsFn,
        inventory: Inventory,
        clock: Clock,
        *,
        max_targets: int = MAX_TARGETS,
        page_targets: int = PAGE_TARGETS,
    ) -> None:
        self._points, self._inventory, self._clock = points, inventory, clock
        self.max_targets, self.page_targets = max_targets, page_targets

    async def recent(self, hours: float, limit: int) -> list[ChangeImpact]:
        """The newest ``limit`` changes, each with its impact over ``hours``."""
        rows = await asyncio.to_thread(impact_changes, self._inventory, limit)
        found, budget = [], self.page_targets
        for row in rows:
            impact = await self._impact(row, hours, budget)
            budget -= len(impact.per_target)
            found.append(impact)
        return found

    async def one(self, change_id: int, hours: float) -> ChangeImpact:
        """One change's impact; NotFoundError when there is no such change."""
        row = await asyncio.to_thread(impact_change, self._inventory, change_id)
        if row is None:
            raise NotFoundError(
                f"change {change_id} not found (or not a target, job, site or schedule change)"
            )
        return await self._impact(row, hours, self.max_targets)

    async def _impact(self, row: InventoryChange, hours: float, budget: int) -> ChangeImpact:
        affected, note = await asyncio.to_thread(self._affected, row)
        room = max(0, min(self.max_targets, budget))
        measured = affected[:room]
        if len(affected) > room:
            note = (
                f"{len(affected)} targets: the first {room} by name measured"
                if room == self.max_targets
                else f"{len(affected)} targets, {room} measured: this page's budget of "
                f"{self.page_targets} targets went to newer changes (ask for this change alone)"
            )
        at, span = row.at, timedelta(hours=hours)
        end = min(at + span, self._clock.now())
        before_failures = await asyncio.to_thread(
            failures_between, self._inventory, measured, at - span, at
        )
        after_failures = await asyncio.to_thread(
            failures_between, self._inventory, measured, at, end
        )
        per_target = {}
        for name in measured:
            before = await self._window(name, at - span, at, before_failures[name])
            after = await self._window(name, at, end, after_failures[name])
            per_target[name] = (before, after)
        watched = max(0.0, (end - at).total_seconds() / 3600)
        return ChangeImpact(
            row.id,
            at,
            row.entity_type,
            row.entity_name,
            row.action,
            row.actor,
            dict(row.changes),
            hours,
            round(watched, 4),
            tuple(affected),
            note,
            verdict(per_target),
            per_target,
        )

    async def _window(self, name: str, start: datetime, end: datetime, fails: int) -> WindowStats:
        if end <= start:
            return WindowStats(failures=fails)
        status = await self._points(name, "status", _ns(start), _ns(end), None, "avg")
        health = await self._points(name, HEALTH_SERIES, _ns(start), _ns(end), None, "avg")
        return WindowStats.of([p.value for p in status], fails, [p.value for p in health])

    def _affected(self, row: InventoryChange) -> tuple[list[str], str | None]:
        """(In a thread.) The targets a change touched, and a note when it is not plain."""
        inv, kind, name = self._inventory, row.entity_type, row.entity_name
        placements = inv.target_placements()
        if kind == "target":
            known = any(target == name for target, *_ in placements)
            return [name], None if known else "the target no longer exists"
        if kind == "site":
            return [t for t, _, site, _, _ in placements if site == name], None
        if kind == "schedule":
            _, sites = inv.site_calendars()
            using = {site for site, _, schedule in sites if schedule == name}
            return [t for t, _, site, _, _ in placements if site in using], None
        try:
            job = inv.get_job(name)
        except NotFoundError:
            return [], "the job no longer exists: the targets it covered are not known"
        return [t.name for t in inv.job_targets(job_config(job))], None


__all__ = ["MAX_TARGETS", "PAGE_TARGETS", "ChangeImpact", "ImpactAnalysis"]
