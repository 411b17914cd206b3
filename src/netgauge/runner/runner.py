"""Executes one run of one job: resolve targets, run checks within limits, store, record.

How one check runs (limits, timeouts, failures as results) is ``checks.py``, shared with the
remote collector; this module adds what a run is here: the job's targets (less those a site's
collectors run), the sites' calendars, the folding of results and the run's record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from pydantic import ValidationError

from netgauge.clock import Clock
from netgauge.config.files import FilePolicy
from netgauge.config.model import JobConfig
from netgauge.inventory.repository import Inventory, job_config
from netgauge.models import ProbeResult, Target, TargetType
from netgauge.pollers.readings import DeviceState
from netgauge.probes.base import (
    Probe,
    params_error,
)
from netgauge.runner.backoff import PollBackoff
from netgauge.runner.checks import Checks
from netgauge.schedules import Calendars
from netgauge.status.devices import DeviceStates
from netgauge.status.fold import ResultFolder
from netgauge.status.hysteresis import Thresholds
from netgauge.status.tracker import StatusTracker
from netgauge.storage.writer import BatchWriter

if TYPE_CHECKING:
    from netgauge.collectors.hub import Placement

log = structlog.get_logger(__name__)
# which of a job's targets this process runs (the collectors' hub answers it)
Placing = Callable[[JobConfig, Sequence[Target]], Awaitable["Placement"]]


@dataclass(frozen=True)
class RunOutcome:
    """Summary of one run, as recorded in job_runs."""

    status: str
    targets_ok: int
    targets_failed: int
    error: str | None = None
    samples_rejected: int = 0
    per_target: tuple[tuple[str, str, str | None], ...] = ()  # (target, status, error)


def outcome_of(results: Sequence[ProbeResult]) -> RunOutcome:
    """ok when every target answered, failed when none did, partial in between."""
    ok = sum(1 for r in results if r.up)
    failed = len(results) - ok
    if not results:
        return RunOutcome("failed", 0, 0, "the job selects no targets")
    status = "ok" if failed == 0 else ("failed" if ok == 0 else "partial")
    errors = sorted({r.error for r in results if r.error})
    summary = "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
    rejected = sum(int(r.details.get("rejected", 0)) for r in results)
    per_target = tuple((r.target, "ok" if r.up else r.status.value, r.error) for r in results)
    return RunOutcome(status, ok, failed, summary or None, rejected, per_target)


def _all_skipped(skipped: Sequence[tuple[str, str, str | None]]) -> RunOutcome:
    """A run whose every target was left out by its site's calendar."""
    reasons = sorted({why or "" for _, _, why in skipped})
    error = reasons[0] if len(reasons) == 1 else f"{reasons[0]} (+{len(reasons) - 1} more)"
    return RunOutcome("skipped", 0, 0, error, per_target=tuple(skipped))


class JobRunner(Checks):
    """Runs jobs on request of the scheduler (or run-now) and records each run."""

    def __init__(
        self,
        inventory: Inventory,
        writer: BatchWriter,
        status: StatusTracker,
        *,
        max_concurrency: int = 256,
        default_timeout_s: float = 10.0,
        clock: Clock | None = None,
        probes: dict[str, Probe] | None = None,
        devices: DeviceStates | None = None,
        kind_concurrency: dict[str, int] | None = None,
        files: FilePolicy | None = None,
        folder: ResultFolder | None = None,
        calendars: Calendars | None = None,
        placement: Placing | None = None,
    ) -> None:
        super().__init__(
            files if files is not None else inventory.files,
            max_concurrency=max_concurrency,
            default_timeout_s=default_timeout_s,
            clock=clock,
            probes=probes,
            kind_concurrency=kind_concurrency,
        )
        self.inventory, self.writer, self.status = inventory, writer, status
        self.devices = devices or DeviceStates(Thresholds(), inventory.record_device_transition)
        # every result goes through the one folding step (shared with the agents' ingest)
        self.folder = folder or ResultFolder(writer, status, self.devices)
        if calendars is not None:
            self.calendars = calendars
        self.placement = placement  # which targets are this process' own (None: all)
        self._backoff = PollBackoff()
        self._manual: set[str] = set()
        self.runs_started = 0

    def mark_manual(self, job: str) -> None:
        """The next run of ``job`` was asked for by a user (recorded as trigger 'manual')."""
        self._manual.add(job)

    def unmark_manual(self, job: str) -> None:
        """Withdraw a manual request that did not start."""
        self._manual.discard(job)

    def _trigger(self, job: str) -> str:
        if job in self._manual:
            self._manual.discard(job)
            return "manual"
        return "schedule"

    async def record_skip(self, job: str, scheduled_at: datetime, reason: str) -> None:
        """Scheduler callback: an occurrence did not run."""
        trigger = self._trigger(job)
        await asyncio.to_thread(self.inventory.record_skip, job, scheduled_at, reason, trigger)
        log.warning("job.skipped", job=job, scheduled_at=scheduled_at.isoformat(), reason=reason)

    async def execute(self, job_name: str, scheduled_at: datetime) -> RunOutcome:
        """Scheduler callback: run ``job_name`` once and record it in job_runs."""
        trigger = self._trigger(job_name)
        self.runs_started += 1
        run_id = await asyncio.to_thread(self.inventory.start_run, job_name, scheduled_at, trigger)
        try:
            cfg = job_config(await asyncio.to_thread(self.inventory.get_job, job_name))
            targets = await asyncio.to_thread(self.inventory.job_targets, cfg)
            # the calendar first: a target its site's calendar pauses is quiet for the alert
            # rules whoever would check it (the central or a collector, which pauses too)
            allowed, skipped = self.by_calendar(cfg, targets, self._clock.now())
            if skipped:
                self.folder.skipped([name for name, _, _ in skipped])
            runnable, elsewhere = allowed, []
            if self.placement is not None:  # a site's collectors run its targets' checks
                placed = await self.placement(cfg, allowed)
                runnable, elsewhere = placed.local, placed.elsewhere
            if targets and not runnable:
                outcome = _all_skipped([*skipped, *elsewhere])
            else:
                results = await self.run_checks(cfg, runnable, covered=targets)
                outcome = outcome_of(results)
                extra = tuple(skipped) + tuple(elsewhere)
                outcome = replace(outcome, per_target=outcome.per_target + extra)
        except ValidationError as exc:  # stored params today's rules refuse (a file elsewhere)
            error = params_error(exc)
            log.error("job.params_refused", job=job_name, error=error)
            outcome = RunOutcome("failed", 0, 0, f"not run: {error}")
        except Exception as exc:  # a bug or a vanished job: record it, never kill the scheduler
            log.exception("job.crashed", job=job_name)
            outcome = RunOutcome("failed", 0, 0, f"{type(exc).__name__}: {exc}")
        await asyncio.to_thread(
            self.inventory.finish_run,
            run_id,
            outcome.status,
            outcome.targets_ok,
            outcome.targets_failed,
            outcome.error,
            outcome.samples_rejected,
            outcome.per_target,
        )
        return outcome

    async def run_checks(
        self, cfg: JobConfig, targets: Sequence[Target], covered: Sequence[Target] | None = None
    ) -> list[ProbeResult]:
        """Probe every target of ``cfg``, store the samples, update the status; ``covered``:
        the job's targets, when some were left out (their status stays as it was)."""
        results = await self.probe(cfg, targets)
        devices = {t.name for t in targets if t.type is TargetType.DEVICE}
        for result in results:
            is_device = result.target in devices
            await self.folder.fold(cfg.name, result, device=is_device, interval_s=cfg.interval)
            if is_device and result.prefixed is False:  # a device poll: tell the back-off
                self._backoff.record(cfg.name, result.target, answered=result.up)
        self.status.covered(cfg.name, (t.name for t in (covered or targets)))
        await self._observe_paths(cfg.name, results)
        return results

    async def _observe_paths(self, job: str, results: Sequence[ProbeResult]) -> None:
        """Results that carry a network path (traceroute) update it; a change is an event."""
        for result in results:
            path = result.details.get("path")
            if not isinstance(path, list) or not result.up:
                continue  # a failed trace's partial path is not a new path
            event = await asyncio.to_thread(self.inventory.observe_path, job, result.target, path)
            if event is not None:
                log.warning(
                    "target.path_changed",
                    target=result.target,
                    job=job,
                    old=event.data["old"],
                    new=event.data["new"],
                )

    def _due(self, job: str, target: Target) -> bool:
        offline = self.devices.state(target.name) is DeviceState.OFFLINE
        return self._backoff.due(job, target.name, offline=offline)
