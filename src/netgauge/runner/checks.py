"""How checks run, whoever asked for them: limits, timeouts, failures as results.

The job runner (``runner.py``) runs a job's checks through this and folds the results into
the stores; a remote collector (``netgauge collector``) runs its assignment through the same
class and pushes the results to the central instead. Concurrency is bounded twice: globally
(``max_concurrency`` checks in flight in the process) and per job (``concurrency``); a kind
may have its own bound (``kind_concurrency``). Starts within a run are spread so that a job
over 1,000 targets does not fire them in the same millisecond. Each check gets a timeout
here, in one place; a check that overruns becomes a ``timeout`` result, one that raises (a
bug) a ``failed`` one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError

from netgauge.clock import Clock, SystemClock
from netgauge.config.files import FilePolicy
from netgauge.config.model import JobConfig
from netgauge.errors import ProbeSetupError
from netgauge.models import ProbeResult, ProbeStatus, Target, now_ns
from netgauge.probes.base import (
    PROBES,
    BatchProbe,
    Probe,
    ProbeParams,
    params_error,
    validate_params,
)
from netgauge.probes.builtin import load_builtin_probes
from netgauge.schedules import Calendars

log = structlog.get_logger(__name__)

# Checks of one kind in flight at once, unless the kind_concurrency setting says otherwise:
# an SSH poll is a login (key exchange, a process on the host), a WinRM poll several HTTP
# exchanges with NTLM; SNMP and the probes are cheap and take the global limit.
DEFAULT_KIND_CONCURRENCY = {"ssh": 32, "winrm": 16}
MAX_SPREAD_GAP_S = 0.002  # at most 2 ms between two target starts of one run
SPREAD_SHARE = 0.25  # ... and the spread never takes more than a quarter of the interval


def spread_gap(n_targets: int, interval_s: float) -> float:
    """Seconds between consecutive target starts within one run."""
    if n_targets <= 1:
        return 0.0
    return min(MAX_SPREAD_GAP_S, interval_s * SPREAD_SHARE / n_targets)


class Checks:
    """Runs checks of jobs within the limits and timeouts; stores nothing."""

    def __init__(
        self,
        files: FilePolicy,
        *,
        max_concurrency: int = 256,
        default_timeout_s: float = 10.0,
        clock: Clock | None = None,
        probes: dict[str, Probe] | None = None,
        kind_concurrency: dict[str, int] | None = None,
    ) -> None:
        load_builtin_probes()
        self.files = files
        self.default_timeout_s = default_timeout_s
        self._global = asyncio.Semaphore(max_concurrency)
        self.max_concurrency = max_concurrency
        self.kind_concurrency = dict(kind_concurrency or {})
        self._per_kind: dict[str, asyncio.Semaphore] = {}
        self._device_locks: dict[str, asyncio.Lock] = {}
        self._clock = clock or SystemClock()
        self._probes: dict[str, Probe] = dict(probes or {})  # injected ones win over the registry
        self._setup_failed: set[str] = set()  # kinds whose ProbeSetupError was logged
        self.calendars = Calendars()  # sites' schedules (run_when, maintenance)

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

    def _due(self, job: str, target: Target) -> bool:
        """Whether a device poll of ``target`` is due in this run (the job runner backs off
        offline devices; here every one is)."""
        return True

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


__all__ = ["Checks", "spread_gap"]
