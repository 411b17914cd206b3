"""The central's side of remote collectors: who runs what, syncs, results, the listing.

Every answer is computed from the inventory (collectors' heartbeats, jobs, targets), never
from this process' memory alone, so any central behind a load balancer gives a collector the
same assignment. The fleet and the jobs' targets are read at most once a second and shared
by every sync and run within it (1,000 collectors syncing every 10 s cost 1 read a second).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from netgauge.clock import Clock, SystemClock
from netgauge.collectors.assignment import Assignment, Fleet, assignments
from netgauge.collectors.protocol import (
    JobAssignment,
    SiteCalendar,
    SyncAnswer,
    SyncRequest,
    TargetWire,
)
from netgauge.collectors.results import CollectorResults, JobTargets, read_job_targets
from netgauge.collectors.sealing import seal_for
from netgauge.config.model import JobConfig
from netgauge.credentials import vault
from netgauge.credentials.vault import VaultError
from netgauge.inventory.cluster import latest_change
from netgauge.inventory.collectors import CollectorInfo, CollectorStore, Heartbeat
from netgauge.inventory.repository import Inventory
from netgauge.models import Target
from netgauge.status.fold import ResultFolder
from netgauge.storage.writer import BatchWriter

CACHE_S = 1.0
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Placement:
    """Which of a job's targets the central runs, and why the others are not its own."""

    local: list[Target]
    elsewhere: list[tuple[str, str, str | None]]  # (target, "skipped", reason) outcomes


class CollectorHub:
    """Answers collectors' syncs and results; tells the central's runner what is its own."""

    def __init__(
        self,
        inventory: Inventory,
        folder: ResultFolder,
        writer: BatchWriter,
        *,
        poll_s: float = 10.0,
        dead_after_s: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.store = CollectorStore(inventory)
        self._inventory = inventory
        self.results = CollectorResults(self.store, inventory, folder, writer, self.job_index)
        self.poll_s, self.dead_after_s = poll_s, dead_after_s
        self._clock = clock or SystemClock()
        self._fleet: tuple[float, Fleet, list[CollectorInfo]] | None = None
        self._jobs: tuple[float, dict[str, JobTargets]] | None = None
        self._jobs_change = -1  # the change log's newest id when the index was read
        self._calendars: dict[str, SiteCalendar] = {}  # read with the index
        # (the index it was made from, the live collectors by site, the plan)
        self._plan: tuple[dict[str, JobTargets], Any, Assignment] | None = None
        self._revisions: dict[str, str] = {}
        self._lock = asyncio.Lock()

    # -- reading the inventory (cached a second) ----------------------------------------------
    async def fleet(self) -> tuple[Fleet, list[CollectorInfo]]:
        """The collectors now (at most a second old)."""
        async with self._lock:
            now = time.monotonic()
            if self._fleet is None or now - self._fleet[0] > CACHE_S:
                rows = await asyncio.to_thread(self.store.all)
                fleet = Fleet.of(rows, self._clock.now(), self.dead_after_s)
                self._fleet = (now, fleet, rows)
            return self._fleet[1], self._fleet[2]

    async def job_index(self) -> dict[str, JobTargets]:
        """Every job with its targets by name, enabled or not. Read again only when the
        inventory's change log moved (any process's change), looked at once a second:
        reading 8,000 targets every second was a third of a core (bench/collectors.py)."""
        now = time.monotonic()
        if self._jobs is None or now - self._jobs[0] > CACHE_S:
            change = await asyncio.to_thread(latest_change, self._inventory)
            if self._jobs is None or change != self._jobs_change:
                self._jobs_change = change
                index, self._calendars = await asyncio.to_thread(self._read_index)
                self._jobs = (now, index)
            else:
                self._jobs = (now, self._jobs[1])
        return self._jobs[1]

    def _read_index(self) -> tuple[dict[str, JobTargets], dict[str, SiteCalendar]]:
        """(In a thread.) The jobs with their targets, and the calendar of every site
        that has a schedule."""
        schedules, sites = self._inventory.site_calendars()
        by_name = {s.name: s for s in schedules}
        calendars = {
            site: SiteCalendar(
                site=site, timezone=zone, schedule=by_name[schedule].model_dump(mode="json")
            )
            for site, zone, schedule in sites
            if schedule is not None and schedule in by_name
        }
        return read_job_targets(self._inventory), calendars

    async def jobs(self) -> list[tuple[JobConfig, list[Target]]]:
        """Every enabled job with its targets now (at most a second old)."""
        index = await self.job_index()
        return [(j.cfg, list(j.targets.values())) for j in index.values() if j.cfg.enabled]

    def changed(self) -> None:
        """The inventory changed (a job, a target, a collector): read it again."""
        self._fleet = None
        self._jobs = None

    # -- collectors ---------------------------------------------------------------------------
    async def sync(self, collector: CollectorInfo, request: SyncRequest) -> SyncAnswer:
        """Record the heartbeat; the collector's assignment."""
        beat = Heartbeat(
            request.version, request.spool_pending, request.spool_bytes,
            request.clock_offset_ms, request.targets,
        )  # fmt: skip
        await asyncio.to_thread(self.store.heartbeat, collector.name, beat)
        fleet, _ = await self.fleet()
        if collector.name not in fleet.alive:  # back after a silence: count it live now
            self._fleet = None
            fleet, _ = await self.fleet()
        mine = (await self.plan()).get(collector.name, [])
        key = request.public_key
        jobs = [
            JobAssignment(
                job=cfg.model_dump(mode="json"),
                targets=[TargetWire.of(t, _sealed_for(t, collector.name, key)) for t in targets],
            )
            for cfg, targets in mine
        ]
        sites = {t.site for _, targets in mine for t in targets if t.site is not None}
        calendars = [self._calendars[site] for site in sorted(sites) if site in self._calendars]
        return SyncAnswer(
            collector=collector.name,
            site=collector.site,
            server_ns=time.time_ns(),
            poll_s=self.poll_s,
            revision=self._revision(collector.name, mine, calendars),
            jobs=jobs,
            calendars=calendars,
        )

    async def plan(self) -> Assignment:
        """What every collector runs now, computed again (in a thread) only when the live
        collectors or the jobs' index changed: each sync and each listing used to walk
        every check of every job for one collector."""
        fleet, _ = await self.fleet()
        index = await self.job_index()
        sites = tuple(sorted((site, tuple(names)) for site, names in fleet.by_site.items()))
        known = self._plan
        if known is None or known[0] is not index or known[1] != (fleet.alive, sites):
            plan = await asyncio.to_thread(assignments, fleet, await self.jobs())
            self._plan = known = (index, (fleet.alive, sites), plan)
            self._revisions = {}
        return known[2]

    def _revision(
        self,
        collector: str,
        mine: list[tuple[JobConfig, list[Target]]],
        calendars: list[SiteCalendar],
    ) -> str:
        """The assignment's revision, once per plan (a schedule's change is a change of
        the index, so of the plan). It follows the central's sealed values, not the blobs
        sealed for the collector (new ones at every sync): a secret entered again is a new
        assignment."""
        if collector not in self._revisions:
            body = json.dumps(
                [
                    [
                        (cfg.model_dump(mode="json"), [_fingerprint(t) for t in targets])
                        for cfg, targets in mine
                    ],
                    [c.model_dump(mode="json") for c in calendars],
                ],
                sort_keys=True,
            )
            self._revisions[collector] = hashlib.sha256(body.encode()).hexdigest()[:16]
        return self._revisions[collector]

    async def listing(self) -> list[dict[str, Any]]:
        """The collectors as ``GET /api/v1/collectors`` lists them."""
        plan = await self.plan()
        fleet, rows = await self.fleet()
        # what each runs now, as the central assigns it (its heartbeat's own count lags
        # a sync behind)
        running = {name: sum(len(t) for _, t in jobs) for name, jobs in plan.items()}
        return [
            {
                "name": c.name,
                "site": c.site,
                "state": "online" if c.name in fleet.alive else "offline",
                "last_seen": c.last_seen,
                "targets": running.get(c.name, 0),
                "version": c.version,
                "spool_pending": c.spool_pending,
                "spool_bytes": c.spool_bytes,
                "clock_offset_ms": c.clock_offset_ms,
            }
            for c in rows
        ]

    # -- the central's own runs ---------------------------------------------------------------
    async def placement(self, cfg: JobConfig, targets: Sequence[Target]) -> Placement:
        """The targets of ``cfg`` the central runs itself; the others with the reason."""
        fleet, _ = await self.fleet()
        local: list[Target] = []
        elsewhere: list[tuple[str, str, str | None]] = []
        for target in targets:
            if fleet.central_runs(cfg, target):
                local.append(target)
            elif cfg.vantage:
                elsewhere.append((target.name, "skipped", _from_sites(cfg.vantage)))
            else:
                elsewhere.append((target.name, "skipped", _from_sites([target.site or ""])))
        return Placement(local, elsewhere)


def _sealed_for(target: Target, collector: str, public_key: str | None) -> dict[str, str]:
    """The target's console-entered secrets, opened here and sealed for ``collector`` (none
    when it sent no key; a secret the central cannot open is left out: the check says so)."""
    ref = target.credentials
    if ref is None or not ref.sealed or not public_key:
        return {}
    found = {}
    for field, sealed in ref.sealed.items():
        try:
            plain = vault.current().open(ref.name, field, sealed)
            found[field] = seal_for(public_key, collector, ref.name, field, plain)
        except (VaultError, ValueError) as exc:
            log.warning("collector.secret_not_sent", credentials=ref.name, field=field,
                        error=str(exc))  # fmt: skip
    return found


def _fingerprint(target: Target) -> dict[str, Any]:
    wire = TargetWire.of(target).model_dump(mode="json")
    if target.credentials is not None:
        wire["secrets"] = {
            field: hashlib.sha256(sealed.encode()).hexdigest()[:16]
            for field, sealed in sorted(target.credentials.sealed.items())
        }
    return wire


def _from_sites(sites: Sequence[str]) -> str:
    return f"checked by the collectors of site {', '.join(sites)}"


__all__ = ["CollectorHub", "Placement"]
