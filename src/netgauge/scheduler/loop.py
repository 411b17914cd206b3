"""The Scheduler: fires each job on its cadence (see :mod:`.timing`), never overlapping.

It decides *when*; ``execute(name, scheduled_at)`` (the runner) decides *how*. Each run is its
own task; at most one run per job name is in flight. A run that comes due while the previous
one is still going is not queued: it is reported through ``on_skip`` with
:data:`SKIP_STILL_RUNNING`. The only I/O is the injected clock.

Late and overdue: a tick missed while the loop was stalled fires once, late, and the cadence
then resumes from the present; missed ticks are never replayed.

Wall-clock steps (NTP step, manual change, VM suspend, where monotonic time stops): the loop
never sleeps more than ``max_sleep_s`` of clock time, and each pass compares how far wall and
monotonic time moved since the last one. A difference over 1 s is a step, and every job is
re-planned from the new wall time: after a step forward at most one overdue tick fires, at
once; after a step back the cadence resumes from now instead of waiting for the wall clock to
catch up. A tick already handled is not fired again unless the clock went back by at least an
interval (then the same wall times come round again, for real).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

import structlog

from netgauge.clock import Clock
from netgauge.scheduler.timing import next_due
from netgauge.scheduler.window import TimeWindow

__all__ = [
    "SKIP_STILL_RUNNING",
    "Execute",
    "JobSchedule",
    "JobStatus",
    "OnSkip",
    "Scheduler",
    "SchedulerStatus",
]

log = structlog.get_logger(__name__)

SKIP_STILL_RUNNING = "previous run still running"

Execute = Callable[[str, dt.datetime], Awaitable[None]]
OnSkip = Callable[[str, dt.datetime, str], Awaitable[None]]

_ONE_US = dt.timedelta(microseconds=1)
# Wall time moving this much more or less than monotonic time between two passes is a step.
_STEP_THRESHOLD_S = 1.0


@dataclass(frozen=True)
class JobSchedule:
    """When one job runs: every ``interval_s`` s, from each opening of ``window`` if given."""

    name: str
    interval_s: float
    window: TimeWindow | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("job name must not be empty")
        if not (math.isfinite(self.interval_s) and self.interval_s > 0):
            raise ValueError(f"job {self.name!r}: interval must be > 0 s, got {self.interval_s!r}")


@dataclass(frozen=True)
class JobStatus:
    """One job in a status snapshot."""

    name: str
    enabled: bool
    interval_s: float
    next_due: dt.datetime | None  # None: disabled, or its window has no days
    last_started: dt.datetime | None
    running: bool


@dataclass(frozen=True)
class SchedulerStatus:
    """Snapshot for the health API."""

    running: bool
    job_count: int
    in_flight: tuple[str, ...]  # names of jobs with a run going, sorted
    jobs: tuple[JobStatus, ...]  # sorted by name


@dataclass
class _JobState:
    schedule: JobSchedule
    next_due: dt.datetime | None = None
    last_due: dt.datetime | None = None  # last occurrence handled; never handled twice
    last_started: dt.datetime | None = None


class Scheduler:
    """Runs jobs on time; change the job set at any time, stop() once at the end."""

    def __init__(
        self,
        execute: Execute,
        on_skip: OnSkip,
        clock: Clock,
        *,
        stop_grace_s: float = 30.0,
        max_sleep_s: float = 5.0,
    ) -> None:
        if not (math.isfinite(max_sleep_s) and max_sleep_s > 0):
            raise ValueError(f"max_sleep_s must be > 0, got {max_sleep_s!r}")
        self._execute = execute
        self._on_skip = on_skip
        self._clock = clock
        self._stop_grace_s = stop_grace_s
        self._max_sleep_s = max_sleep_s  # how often wall time is re-read: bounds step latency
        self._last_pass: tuple[dt.datetime, float] | None = None  # (wall, monotonic)
        self._jobs: dict[str, _JobState] = {}
        # Keyed by name, not by _JobState, so a job removed and re-added while its run is
        # still going cannot start a second, overlapping run.
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()  # on_skip calls
        self._wake = asyncio.Event()
        self._loop_exited = asyncio.Event()
        self._running = False
        self._stopping = False

    # -- job set ---------------------------------------------------------------------------

    def set_jobs(self, jobs: Iterable[JobSchedule]) -> None:
        """Replace the whole job set: add new names, update changed ones, drop missing ones."""
        wanted = list(jobs)
        names = [job.name for job in wanted]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate job names: {', '.join(duplicates)}")
        for name in set(self._jobs) - set(names):
            del self._jobs[name]
        for job in wanted:
            self._upsert(job)
        self._wake.set()

    def upsert(self, job: JobSchedule) -> None:
        """Add a job or replace its schedule; a change re-aligns its next due time from now."""
        self._upsert(job)
        self._wake.set()

    def remove(self, name: str) -> None:
        """Forget a job (KeyError if unknown); a run in flight finishes undisturbed."""
        del self._jobs[name]
        self._wake.set()

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a job by name (KeyError if unknown)."""
        self.upsert(dataclasses.replace(self._jobs[name].schedule, enabled=enabled))

    # -- running ---------------------------------------------------------------------------

    async def run_now(self, name: str) -> bool:
        """Start a run of ``name`` now, ignoring window and enabled flag; False if busy/stopped.

        Raises KeyError for an unknown job. A refused request is not reported to on_skip: the
        caller gets False. The job's cadence is unchanged.
        """
        if name not in self._jobs:
            raise KeyError(name)
        if self._stopping or name in self._in_flight:
            return False
        self._start_run(name, self._clock.now())
        self._wake.set()
        await asyncio.sleep(0)  # let the run begin before the caller goes on
        return True

    async def run(self) -> None:
        """Fire due jobs until stop(); returns at once if stop() came first. Call once."""
        if self._running:
            raise RuntimeError("Scheduler.run() is already running")
        self._running = True
        try:
            while not self._stopping:
                self._wake.clear()  # before looking at the state, so no change is missed
                now = self._clock.now()
                self._check_clock_step(now)
                self._fire_due(now)
                await self._sleep_until(self._earliest_wake())
        finally:
            self._running = False
            self._loop_exited.set()

    async def stop(self) -> None:
        """Stop firing, wait up to stop_grace_s (clock time) for runs in flight, cancel the rest."""
        self._stopping = True
        self._wake.set()
        if self._running:
            await self._loop_exited.wait()
        await self._drain()

    def status(self) -> SchedulerStatus:
        """A consistent snapshot of the scheduler and each job."""
        return SchedulerStatus(
            running=self._running and not self._stopping,
            job_count=len(self._jobs),
            in_flight=tuple(sorted(self._in_flight)),
            jobs=tuple(self._job_status(self._jobs[name]) for name in sorted(self._jobs)),
        )

    # -- internals -------------------------------------------------------------------------

    def _upsert(self, job: JobSchedule) -> None:
        state = self._jobs.get(job.name)
        if state is not None and state.schedule == job:
            return  # unchanged: keep the pending due time exactly
        if state is None:
            state = self._jobs[job.name] = _JobState(job)
        state.schedule = job
        self._reschedule(state, self._resume_point(state))

    def _resume_point(self, state: _JobState) -> dt.datetime:
        """Search from here: a tick due exactly now still counts, one already handled does not.

        Unless the wall clock went back by an interval or more: skipping the handled ticks then
        would leave the job idle until wall time catches up, so its cadence resumes from now.
        """
        point = self._clock.now() - _ONE_US
        last = state.last_due
        if last is not None and point < last < point + _seconds(state.schedule.interval_s):
            return last
        return point

    def _check_clock_step(self, now: dt.datetime) -> None:
        """Re-plan every job if wall time stepped since the last pass (module docstring)."""
        mono = self._clock.monotonic()
        last, self._last_pass = self._last_pass, (now, mono)
        if last is None:
            return
        step = (now - last[0]).total_seconds() - (mono - last[1])
        if abs(step) <= _STEP_THRESHOLD_S:
            return
        log.warning("wall clock stepped, re-planning jobs", step_s=round(step, 3))
        for state in self._jobs.values():
            if state.next_due is None or state.next_due > now:  # overdue ones fire once
                self._reschedule(state, self._resume_point(state))

    def _reschedule(self, state: _JobState, after: dt.datetime) -> None:
        job = state.schedule
        state.next_due = None
        if job.enabled:
            state.next_due = next_due(job.name, job.interval_s, after, job.window)

    def _fire_due(self, now: dt.datetime) -> None:
        for state in self._jobs.values():
            due = state.next_due
            if due is None or due > now:
                continue
            self._dispatch(state.schedule.name, due)
            state.last_due = due
            # From `now`, not `due`: after a stall, the missed ticks are dropped, not replayed.
            self._reschedule(state, now)

    def _dispatch(self, name: str, due: dt.datetime) -> None:
        if name in self._in_flight:
            self._spawn(self._report_skip(name, due, SKIP_STILL_RUNNING))
        else:
            self._start_run(name, due)

    def _start_run(self, name: str, scheduled_at: dt.datetime) -> None:
        self._jobs[name].last_started = self._clock.now()
        task = asyncio.create_task(self._run_guarded(name, scheduled_at), name=f"job:{name}")
        self._in_flight[name] = task
        task.add_done_callback(lambda done: self._forget_run(name, done))

    def _forget_run(self, name: str, task: asyncio.Task[None]) -> None:
        if self._in_flight.get(name) is task:
            del self._in_flight[name]

    async def _run_guarded(self, name: str, scheduled_at: dt.datetime) -> None:
        try:
            await self._execute(name, scheduled_at)
        except Exception:  # a broken job must not take the scheduler down
            log.exception("job run raised", job=name, scheduled_at=scheduled_at.isoformat())

    async def _report_skip(self, name: str, due: dt.datetime, reason: str) -> None:
        log.info("job run skipped", job=name, scheduled_at=due.isoformat(), reason=reason)
        try:
            await self._on_skip(name, due, reason)
        except Exception:
            log.exception("on_skip raised", job=name, scheduled_at=due.isoformat())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)  # keep a reference: the loop holds tasks only weakly
        task.add_done_callback(self._background.discard)

    def _earliest_wake(self) -> dt.datetime | None:
        return min((s.next_due for s in self._jobs.values() if s.next_due), default=None)

    async def _sleep_until(self, when: dt.datetime | None) -> None:
        """Sleep on the clock until ``when``, a change, or max_sleep_s, whichever comes first."""
        delay = self._max_sleep_s
        if when is not None:
            delay = min(delay, max(0.0, (when - self._clock.now()).total_seconds()))
        waiters: set[asyncio.Task[Any]] = {
            asyncio.create_task(self._wake.wait()),
            asyncio.create_task(self._clock.sleep(delay)),
        }
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _drain(self) -> None:
        pending = set(self._in_flight.values()) | self._background
        if not pending:
            return
        everything: asyncio.Future[Any] = asyncio.gather(*pending, return_exceptions=True)
        # The bound is measured on the injected clock, so tests can drive it.
        timer: asyncio.Future[Any] = asyncio.ensure_future(self._clock.sleep(self._stop_grace_s))
        await asyncio.wait({everything, timer}, return_when=asyncio.FIRST_COMPLETED)
        timer.cancel()
        leftover = [task for task in pending if not task.done()]
        if leftover:
            names = sorted(task.get_name() for task in leftover)
            log.warning("stop grace period over, cancelling runs", tasks=names)
            for task in leftover:
                task.cancel()
        await everything

    def _job_status(self, state: _JobState) -> JobStatus:
        job = state.schedule
        return JobStatus(
            name=job.name,
            enabled=job.enabled,
            interval_s=job.interval_s,
            next_due=state.next_due,
            last_started=state.last_started,
            running=job.name in self._in_flight,
        )


def _seconds(seconds: float) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)
