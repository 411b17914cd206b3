"""Executes one run of one job: resolve targets, run checks within limits, store, record.

Concurrency is bounded twice: globally (``max_concurrency`` checks in flight in the process)
and per job (``concurrency``). Starts within a run are spread so that a job over 1,000 targets
does not fire them in the same millisecond. Each check gets a timeout here, in one place;
a check that overruns becomes a ``timeout`` result, one that raises (a bug) a ``failed`` one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError

from netgauge.clock import Clock, SystemClock
from netgauge.config.files import FilePolicy
from netgauge.config.model import JobConfig
from netgauge.errors import ProbeSetupError
from netgauge.inventory.repository import Inventory, job_config
from netgauge.models import ProbeResult, ProbeStatus, Target, TargetType, now_ns
from netgauge.pollers.readings import DeviceState
from netgauge.probes.base import (
    PROBES,
    BatchProbe,
    Probe,
    ProbeParams,
    params_error,
    validate_params,
)
from netgauge.probes.builtin import load_builtin_probes
from netgauge.runner.backoff import PollBackoff
from netgauge.schedules import Calendars
from netgauge.status.devices import DeviceStates
from netgauge.status.fold import ResultFolder
from netgauge.status.hysteresis import Thresholds
from netgauge.status.tracker import StatusTracker
from netgauge.storage.writer import BatchWriter

log = structlog.get_logger(__name__)

# Checks of one kind in flight at once, unless the kind_concurrency setting says otherwise:
# an SSH poll is a login (key exchange, a process on the host), a WinRM poll several HTTP
# exchanges with NTLM; SNMP and the probes are cheap and take the global limit.
DEFAULT_KIND_CONCURRENCY = {"ssh": 32, "winrm": 16}
MAX_SPREAD_GAP_S = 0.002  # at most 2 ms between two target starts of one run
SPREAD_SHARE = 0.25  # ... and the spread never takes more than a quarter of the interval


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


def spread_gap(n_targets: int, interval_s: float) -> float:
    """Seconds between consecutive target starts within one run."""
    if n_targets <= 1:
        return 0.0
    return min(MAX_SPREAD_GAP_S, interval_s * SPREAD_SHARE / n_targets)


class JobRunner:
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
    ) -> None:
        load_builtin_probes()
        self.files = files if files is not None else inventory.files
        self.inventory, self.writer, self.status = inventory, writer, status
        self.devices = devices or DeviceStates(Thresholds(), inventory.record_device_transition)
        # every result goes through the one folding step (shared with the agents' ingest)
        self.folder = folder or ResultFolder(writer, status, self.devices)
        self.calendars = calendars or Calendars()  # sites' schedules (run_when, maintenance)
        self.default_timeout_s = default_timeout_s
        self._global = asyncio.Semaphore(max_concurrency)
        self.max_concurrency = max_concurrency
        self.kind_concurrency = dict(kind_concurrency or {})
        self._per_kind: dict[str, asyncio.Semaphore] = {}
        self._device_locks: dict[str, asyncio.Lock] = {}
        self._backoff = PollBackoff()
        self._clock = clock or SystemClock()
        self._manual: set[str] = set()
        self._probes: dict[str, Probe] = dict(probes or {})  # injected ones win over the registry
        self.runs_started = 0
        self._setup_failed: set[str] = set()  # kinds whose ProbeSetupError was logged

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
            runnable, skipped = self.by_calendar(cfg, targets, self._clock.now())
            if skipped:
                self.folder.skipped([name for name, _, _ in skipped])
            if targets and not runnable:
                outcome = _all_skipped(skipped)
            else:
                results = await self.run_checks(cfg, runnable, covered=targets)
                outcome = outcome_of(results)
                outcome = replace(outcome, per_target=outcome.per_target + tuple(skipped))
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

    def by_calendar(
        self, cfg: JobConfig, targets: Sequence[Target], at: datetime
    ) -> tuple[list[Target], list[tuple[str, str, str | None]]]:
        """The targets whose site's calendar lets ``cfg`` run now, and the others as
        (name, "skipped", reason) outcomes."""
        runnable: list[Target] = []
        skipped: list[tuple[str, str, str | None]] = []
        reasons: dict[str | None, str | None] = {}  # per site: its calendar is read once
        for target in targets:
            if target.site not in reasons:
                reasons[target.site] = self.calendars.skip_reason(
                    target.site, cfg.run_when, cfg.maintenance, at
                )
            why = reasons[target.site]
            if why is None:
                runnable.append(target)
            else:
                skipped.append((target.name, "skipped", why))
        return runnable, skipped

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

    def plan(self, probe: Probe, cfg: JobConfig) -> tuple[ProbeParams, float]:
        """The params of ``cfg`` for ``probe`` (held to the file policy again: a job stored
        before a rule changed is run by today's rules; ValidationError when they fail) and
        the timeout of one check."""
        params = validate_params(probe.params_model, cfg.params, self.files)
        # a poll kind knows how long its own timeouts can add up to (several requests,
        # retries): cutting it short would turn "refused" into a bare "timed out"
        own = getattr(probe, "check_timeout", None)
        return params, cfg.timeout or (own(params) if own else None) or self.default_timeout_s

    async def probe(self, cfg: JobConfig, targets: Sequence[Target]) -> list[ProbeResult]:
        """Probe every target of ``cfg`` within the limits and timeouts; nothing is stored."""
        probe = self._probe(cfg.kind)
        params, timeout = self.plan(probe, cfg)
        if isinstance(probe, BatchProbe):
            return await self._run_batch(probe, targets, params, timeout)
        return await self._run_each(cfg, probe, targets, params, timeout)

    def _probe(self, kind: str) -> Probe:
        if kind not in self._probes:
            self._probes[kind] = PROBES.get(kind)()
        return self._probes[kind]

    async def _run_each(
        self, cfg: JobConfig, probe: Probe, targets: Sequence[Target], params: Any, timeout: float
    ) -> list[ProbeResult]:
        per_job = asyncio.Semaphore(cfg.concurrency)
        polls = getattr(probe, "device_poll", False)
        if polls:  # offline devices are tried less and less often until they are back
            targets = [t for t in targets if self._due(cfg.name, t)]
        gap = spread_gap(len(targets), cfg.interval)

        async def one(index: int, target: Target) -> ProbeResult:
            await self._clock.sleep(index * gap)
            return await self._limited(probe, target, params, timeout, per_job)

        return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(targets))))

    async def _limited(
        self,
        probe: Probe,
        target: Target,
        params: Any,
        timeout: float,
        per_job: asyncio.Semaphore | None = None,
    ) -> ProbeResult:
        """One check within the limits: the job's, the kind's and the global one."""
        if not getattr(probe, "device_poll", False):
            async with per_job or _UNLIMITED, self._kind_limit(probe.kind), self._global:
                return await self._guarded(probe, target, params, timeout)
        # Never two polls of one device at once, whichever jobs they belong to (or a Test
        # now). The device comes first: a poll waiting for it must not hold a slot meanwhile.
        async with self._device_locks.setdefault(target.name, asyncio.Lock()):
            async with per_job or _UNLIMITED, self._kind_limit(probe.kind), self._global:
                return await self._guarded(probe, target, params, timeout)

    async def check_once(self, cfg: JobConfig, target: Target) -> ProbeResult:
        """One check of ``target`` by ``cfg`` as a scheduled run makes it (today's params
        rules, the timeout rule, the limits, the error texts), for Test now: nothing is
        stored. A fresh probe is used and closed after, so the scheduled runs' probes keep
        their own state (counter rates, sessions); an injected one (tests) is used as is."""
        injected = cfg.kind in self._probes and self._probes[cfg.kind] is not None
        probe = self._probes[cfg.kind] if injected else PROBES.get(cfg.kind)()
        ts = now_ns()
        try:
            try:
                params, timeout = self.plan(probe, cfg)
            except ValidationError as exc:  # stored params today's rules refuse
                error = f"not run: {params_error(exc)}"
                return _failed(target, cfg.kind, ts, ProbeStatus.FAILED, error)
            if isinstance(probe, BatchProbe):
                return (await self._run_batch(probe, [target], params, timeout))[0]
            return await self._limited(probe, target, params, timeout)
        finally:
            close = getattr(probe, "close", None)
            if close is not None and not injected:
                await close()

    async def close(self) -> None:
        """Let every check kind that holds sockets or connections close them."""
        for probe in self._probes.values():
            close = getattr(probe, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception:  # closing must not stop the shutdown
                    log.exception("probe.close_failed", kind=probe.kind)

    def _kind_limit(self, kind: str) -> asyncio.Semaphore:
        """The semaphore of ``kind``'s checks in flight (``kind_concurrency`` setting)."""
        if kind not in self._per_kind:
            limit = self.kind_concurrency.get(kind, DEFAULT_KIND_CONCURRENCY.get(kind))
            self._per_kind[kind] = asyncio.Semaphore(limit or self.max_concurrency)
        return self._per_kind[kind]

    def _due(self, job: str, target: Target) -> bool:
        offline = self.devices.state(target.name) is DeviceState.OFFLINE
        return self._backoff.due(job, target.name, offline=offline)

    async def _guarded(
        self, probe: Probe, target: Target, params: Any, timeout: float
    ) -> ProbeResult:
        ts = now_ns()
        try:
            async with asyncio.timeout(timeout):
                return await probe.run(target, params)
        except TimeoutError:
            return _failed(
                target, probe.kind, ts, ProbeStatus.TIMEOUT, f"check timed out after {timeout:g}s"
            )
        except Exception as exc:  # a probe bug must not take the job down with it
            return _failed(target, probe.kind, ts, ProbeStatus.FAILED, self._explain(probe, exc))

    async def _run_batch(
        self, probe: BatchProbe, targets: Sequence[Target], params: Any, timeout: float
    ) -> list[ProbeResult]:
        if not targets:
            return []
        ts = now_ns()
        deadline = probe.batch_duration(len(targets), params) + timeout
        try:
            async with self._global, asyncio.timeout(deadline):
                return await probe.run_batch(targets, params)
        except TimeoutError:
            error = f"batch timed out after {deadline:g}s"
            return [_failed(t, probe.kind, ts, ProbeStatus.TIMEOUT, error) for t in targets]
        except Exception as exc:  # one crash fails this batch, never the scheduler
            error = self._explain(probe, exc)
            return [_failed(t, probe.kind, ts, ProbeStatus.FAILED, error) for t in targets]

    def _explain(self, probe: Probe, exc: Exception) -> str:
        """The error text of a check that raised; logged once per kind for setup errors."""
        if isinstance(exc, ProbeSetupError):
            # the machine cannot run this probe (permissions): say so once, not every interval
            if probe.kind not in self._setup_failed:
                self._setup_failed.add(probe.kind)
                log.error("probe.cannot_run", kind=probe.kind, error=str(exc))
            return f"cannot run {probe.kind} probes here: {exc}"
        log.exception("probe.crashed", kind=probe.kind)
        return f"internal error: {type(exc).__name__}: {exc}"


_UNLIMITED = contextlib.nullcontext()


def _failed(target: Target, kind: str, ts: int, status: ProbeStatus, error: str) -> ProbeResult:
    return ProbeResult(target.name, kind, ts, status, {}, error)
