"""``netgauge collector``: a remote site's checks, run there, results pushed to the central.

Three things share one event loop:

* **sync** (every ``poll_s``, which the central sets): the heartbeat (version, spool size,
  clock offset, checks assigned) answered by the assignment: the jobs and targets this
  collector runs. Each new assignment is saved in the data directory first, so a collector
  that starts while the central is unreachable runs its last one; an unreachable central
  changes nothing (the last assignment keeps running).
* **the scheduler** (the central's own, ``scheduler/``): each job at its aligned times; its
  checks run through the central's own ``runner/checks.py`` (limits, timeouts, failures as
  results), and each run's results are appended to the durable spool (``agent/spool.py``:
  one batch per result, fsync'd once per run, in order, bounded).
* **the sender** (``agent/sender.py``): pushes the spool to the central's results endpoint,
  oldest first; the central acknowledges what it stored, exactly once (see
  ``collectors/protocol.py``). A link that is down only delays it.

The clock offset is NTP's estimate from each sync: the central's clock against the middle
of the request's round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import ValidationError

from netgauge import __version__
from netgauge.agent.sender import REQUEST_TIMEOUT_S, Outcome, Sender, wait_any
from netgauge.agent.spool import DEFAULT_MAX_BYTES, Spool, SpoolError
from netgauge.clock import SystemClock
from netgauge.collectors.protocol import RESULTS_PATH, SYNC_PATH, SyncAnswer, encode_result
from netgauge.collectors.sealing import CollectorKey
from netgauge.config.files import FilePolicy
from netgauge.config.model import JobConfig
from netgauge.credentials import vault
from netgauge.datadir import private_dir
from netgauge.models import Target
from netgauge.runner.checks import Checks
from netgauge.scheduler.loop import Scheduler
from netgauge.scheduler.of_config import schedule_of

EXIT_OK = 0
EXIT_REFUSED = 1  # the token was refused (unknown or revoked): restarting will not help
EXIT_FAILED = 3  # a task crashed (a bug): a supervisor should start it again
ASSIGNMENT_FILE = "assignment.json"
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CollectorOptions:
    """What ``netgauge collector`` was asked to do (the token is no part of its repr)."""

    server: str
    token: str = field(repr=False)
    data_dir: Path
    max_spool_bytes: int = DEFAULT_MAX_BYTES
    max_concurrency: int = 256
    default_timeout_s: float = 10.0


def run(options: CollectorOptions) -> int:
    """Run the collector until SIGTERM/SIGINT or a refused token; the exit status."""
    return asyncio.run(_main(options))


async def _main(options: CollectorOptions) -> int:
    private_dir(options.data_dir)
    stop = asyncio.Event()
    with (
        _signals_set(stop),
        Spool(options.data_dir / "spool", max_bytes=options.max_spool_bytes) as spool,
    ):
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=10.0),
            follow_redirects=False,
            headers={"User-Agent": f"netgauge-collector/{__version__}"},
        ) as client:
            collector = RemoteCollector(options, client, spool)
            return await collector.run(stop)


class RemoteCollector:
    """One collector: sync, scheduled checks into the spool, the sender draining it."""

    def __init__(self, options: CollectorOptions, client: httpx.AsyncClient, spool: Spool) -> None:
        self.options, self._client, self.spool = options, client, spool
        self._headers = {"Authorization": f"Bearer {options.token}"}
        # secrets the central sealed for this collector open with its own key only
        self.key = CollectorKey.load_or_make(options.data_dir)
        vault.install(self.key)
        self.checks = Checks(
            FilePolicy(options.data_dir),
            max_concurrency=options.max_concurrency,
            default_timeout_s=options.default_timeout_s,
        )
        self.scheduler = Scheduler(self._execute, self._skipped, SystemClock())
        self.jobs: dict[str, tuple[JobConfig, list[Target]]] = {}
        self.revision: str | None = None
        self.name: str | None = None
        self.poll_s = 10.0
        self.offset_ms: float | None = None
        self.refused = False
        self._wake = asyncio.Event()
        self._sender = Sender(
            spool, options.server, options.token, client, path=RESULTS_PATH, name="collector"
        )

    async def run(self, stop: asyncio.Event) -> int:
        """Until ``stop`` (or the token is refused): sync, schedule, send."""
        self._load_saved()
        tasks = [
            asyncio.create_task(self.scheduler.run(), name="collector-scheduler"),
            asyncio.create_task(self._sender.run(stop, self._wake), name="collector-sender"),
            asyncio.create_task(self._sync_loop(stop), name="collector-sync"),
        ]
        for task in tasks[1:]:
            task.add_done_callback(lambda _: stop.set())  # refused, or a bug
        await stop.wait()
        await self.scheduler.stop()
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        await self.checks.close()
        crashed = [o for o in outcomes if isinstance(o, Exception)]
        for outcome in crashed:
            _log.error("collector: a task failed: %r", outcome)
        if self.refused or Outcome.UNAUTHORIZED in outcomes:
            return EXIT_REFUSED
        return EXIT_FAILED if crashed else EXIT_OK

    # -- sync ---------------------------------------------------------------------------------
    async def _sync_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.sync_once()
            if self.refused:
                return
            await wait_any(stop, timeout=self.poll_s)

    async def sync_once(self) -> bool:
        """One heartbeat and assignment; False when the central did not answer with one."""
        stats = self.spool.stats()
        body = {
            "protocol": 1,
            "version": __version__,
            "spool_pending": max(0, stats.last_seq - stats.acked_through),
            "spool_bytes": stats.bytes,
            "clock_offset_ms": self.offset_ms,
            "targets": sum(len(targets) for _, targets in self.jobs.values()),
            "public_key": self.key.public,
        }
        sent = time.time_ns()
        try:
            response = await self._client.post(
                self.options.server + SYNC_PATH, json=body, headers=self._headers
            )
        except httpx.HTTPError as exc:
            _log.warning("collector: cannot reach %s: %s", self.options.server, exc)
            return False
        received = time.time_ns()
        if response.status_code == 401:
            _log.error("collector: the central refused the token (401): unknown or revoked")
            self.refused = True
            return False
        if response.status_code != 200:
            _log.warning(
                "collector: sync answered %d: %s", response.status_code, response.text[:300]
            )
            return False
        try:
            answer = SyncAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            _log.warning("collector: sync answer not understood: %s", exc.errors()[:1])
            return False
        self.offset_ms = round(((sent + received) / 2 - answer.server_ns) / 1e6, 3)
        self.apply(answer, save=True)
        return True

    def apply(self, answer: SyncAnswer, *, save: bool) -> None:
        """Run ``answer``'s assignment from now on (saved first, when it is new)."""
        self.name, self.poll_s = answer.collector, answer.poll_s
        self.key.collector = answer.collector  # what the secrets were sealed for
        if answer.revision == self.revision:
            return
        jobs: dict[str, tuple[JobConfig, list[Target]]] = {}
        for assigned in answer.jobs:
            try:
                cfg = assigned.config()
            except ValidationError as exc:  # a newer central's job this version cannot run
                _log.error("collector: job %r not understood: %s", assigned.job.get("name"), exc)
                continue
            jobs[cfg.name] = (cfg, [t.target() for t in assigned.targets])
        schedules, sites = [], []
        for calendar in answer.calendars:
            try:
                spec = calendar.config()
            except ValidationError as exc:  # a newer central's schedule: around the clock
                _log.error("collector: calendar of site %r not understood: %s",
                           calendar.site, exc)  # fmt: skip
                continue
            schedules.append(spec)
            sites.append((calendar.site, calendar.timezone, spec.name))
        if save:
            _save(self.options.data_dir / ASSIGNMENT_FILE, answer.model_dump_json())
        self.checks.calendars.set(schedules, sites)
        self.jobs, self.revision = jobs, answer.revision
        self.scheduler.set_jobs([schedule_of(cfg) for cfg, _ in jobs.values()])
        total = sum(len(t) for _, t in jobs.values())
        _log.info("collector: %s runs %d jobs on %d targets", self.name, len(jobs), total)

    def _load_saved(self) -> None:
        path = self.options.data_dir / ASSIGNMENT_FILE
        try:
            answer = SyncAnswer.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValidationError) as exc:
            _log.warning("collector: the saved assignment %s is not usable: %s", path, exc)
            return
        self.apply(answer, save=False)

    # -- checks -------------------------------------------------------------------------------
    async def _execute(self, job: str, scheduled_at: datetime) -> None:
        assigned = self.jobs.get(job)
        if assigned is None:
            return
        cfg, assigned_targets = assigned
        # the central's rule: a site's calendar may pause the job on its targets (the
        # central quiets their alert rules meanwhile, by the same calendars)
        targets, paused = self.checks.by_calendar(cfg, assigned_targets, datetime.now(UTC))
        if paused:
            _log.info("collector: job %s paused on %d targets: %s", job, len(paused), paused[0][2])
        if not targets:
            return
        try:
            results = await self.checks.probe(cfg, targets)
        except (ValidationError, ValueError) as exc:
            _log.error("collector: job %s not run: %s", job, exc)
            return
        try:  # one fsync for the run, not one per result (bench/collectors.py: spool)
            self.spool.append_many((r.ts_ns, encode_result(job, r)) for r in results)
        except SpoolError as exc:
            _log.error("collector: results of job %s not all spooled: %s", job, exc)
        self._wake.set()

    async def _skipped(self, job: str, scheduled_at: datetime, reason: str) -> None:
        _log.warning("collector: job %s skipped at %s: %s", job, scheduled_at, reason)


def _save(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by this user only."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)


@contextlib.contextmanager
def _signals_set(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop``."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


__all__ = ["CollectorOptions", "RemoteCollector", "run"]
