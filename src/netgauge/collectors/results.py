"""Results a collector pushes, folded like the central's own (``status/fold.py``).

Exactly once as for push agents: each collector numbers its result batches; the last one
stored is kept (``collectors.last_seq``), a batch sent again is acknowledged and not stored,
and the answer goes out only once the writer has the samples durably (503 otherwise, and
the collector sends again). Each result's metrics are stored with ``vantage="<collector>"``.

What a collector token can do: store results of jobs and targets its site is responsible for
(the target belongs to its site, or the job names its site as a vantage). Anything else is
refused and counted, never stored: a stolen collector token cannot write another site's
series or flip another site's states.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from netgauge.collectors.protocol import decode_result
from netgauge.collectors.quorum import QuorumStates
from netgauge.config.model import JobConfig
from netgauge.errors import RetryableStorageError
from netgauge.inventory.collectors import CollectorInfo, CollectorStore
from netgauge.inventory.repository import Inventory, job_config
from netgauge.models import ProbeResult, Target, TargetType
from netgauge.pollers.agent import MAX_AGE_NS, MAX_AHEAD_NS, TIMESTAMP_REFUSED, Batch
from netgauge.status.fold import ResultFolder
from netgauge.storage.writer import BatchWriter

log = structlog.get_logger(__name__)
VANTAGE = "vantage"


@dataclass(frozen=True, slots=True)
class ResultsOutcome:
    """The answer to one push: the collector, what is acknowledged, what was refused."""

    collector: str
    accepted_through: int
    stored: int
    refused: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JobTargets:
    """A job and its targets by name."""

    cfg: JobConfig
    targets: dict[str, Target]


def read_job_targets(inventory: Inventory) -> dict[str, JobTargets]:
    """Every job (enabled or not: a backlog may come after a job was paused) with its
    targets, by name (blocking). A stored job today's rules refuse is left out."""
    found = {}
    for row in inventory.list_jobs():
        try:
            cfg = job_config(row)
        except ValueError:
            continue
        found[cfg.name] = JobTargets(cfg, {t.name: t for t in inventory.job_targets(cfg)})
    return found


class CollectorResults:
    """Folds collectors' result batches into the stores, the states and the alert rules."""

    def __init__(
        self,
        collectors: CollectorStore,
        inventory: Inventory,
        folder: ResultFolder,
        writer: BatchWriter,
        jobs: Callable[[], Awaitable[dict[str, JobTargets]]] | None = None,
    ) -> None:
        self._collectors, self._inventory = collectors, inventory
        # every job with its targets by name, shared and refreshed by the hub (a request of
        # 500 results read a job's 8,000 targets again: ingest cost grew with the job's
        # size squared, found by bench/collectors.py)
        self._jobs = jobs or self._read_jobs
        self._folder, self._writer = folder, writer
        self.quorum = QuorumStates()
        self._locks: dict[str, asyncio.Lock] = {}
        self._observed: dict[tuple[str, str], int] = {}  # (job, target) -> newest ts folded
        self.results_stored = 0
        self.refused = 0

    async def ingest(self, collector: CollectorInfo, batches: Sequence[Batch]) -> ResultsOutcome:
        """Store the batches of ``collector`` not stored yet, in order."""
        async with self._locks.setdefault(collector.name, asyncio.Lock()):
            cursor = await asyncio.to_thread(self._collectors.cursor, collector.name)
            fresh = sorted((b for b in batches if b.seq > cursor), key=lambda b: b.seq)
            jobs = await self._jobs() if fresh else {}
            stored, refused = 0, []
            for batch in fresh:
                problem = await self._one(collector, batch, jobs)
                if problem is None:
                    stored += 1
                else:
                    self.refused += 1
                    refused.append(f"refused batch {batch.seq}: {problem}")
            mine = self._writer.accepted  # the samples these results gave, and all before
            await self._writer.flush(force=True)
            unsaved = self._writer.in_memory(through=mine)
            if unsaved:  # not durable yet: no acknowledgement; the collector sends again
                reasons = "; ".join(f"{name}: {error}" for name, error in sorted(unsaved.items()))
                raise RetryableStorageError(f"results not stored yet, send them again ({reasons})")
            through = max([cursor, *(b.seq for b in fresh)])
            if fresh:
                await asyncio.to_thread(self._collectors.advance, collector.name, through)
            self.results_stored += stored
            if refused:
                log.warning("collector.refused", collector=collector.name, count=len(refused),
                            first=refused[0])  # fmt: skip
            return ResultsOutcome(collector.name, through, stored, tuple(refused))

    async def _one(
        self, collector: CollectorInfo, batch: Batch, jobs: dict[str, JobTargets]
    ) -> str | None:
        """Fold one batch; the reason it was refused, or None."""
        decoded = decode_result(batch.ts_ns, list(batch.metrics))
        if decoded is None:
            return "not a check result (no __result__ header)"
        name, result = decoded
        now = time.time_ns()
        if not now - MAX_AGE_NS <= result.ts_ns <= now + MAX_AHEAD_NS:
            return TIMESTAMP_REFUSED
        job = jobs.get(name)
        if job is None:
            return f"unknown job {name!r}"
        target = job.targets.get(result.target)
        if target is None:
            return f"job {name!r} does not cover target {result.target!r}"
        if not _responsible(collector, job.cfg, target):
            return f"target {result.target!r} is not checked from site {collector.site!r}"
        await self._fold(collector, job.cfg, target, result)
        return None

    async def _read_jobs(self) -> dict[str, JobTargets]:
        """Every job and its targets, read now (without a hub: tests)."""
        return await asyncio.to_thread(read_job_targets, self._inventory)

    async def _fold(
        self, collector: CollectorInfo, cfg: JobConfig, target: Target, result: ProbeResult
    ) -> None:
        device = target.type is TargetType.DEVICE
        labels = {VANTAGE: collector.name}
        key = (cfg.name, target.name)
        newest = result.ts_ns > self._observed.get(key, 0)  # a replayed backlog is stored only
        if newest:
            self._observed[key] = result.ts_ns
        if not cfg.vantage:
            await self._folder.fold(
                cfg.name, result, device=device, interval_s=cfg.interval, observe=newest,
                labels=labels,
            )  # fmt: skip
            return
        # multi-vantage: store what this site measured, then fold the quorum's decision
        self._folder.writer.submit(result.to_samples(with_status=False, labels=labels))
        decided = self.quorum.decide(
            cfg.name, cfg.vantage, cfg.vantage_quorum(), cfg.interval, collector.site,
            collector.name, result,
        )  # fmt: skip
        if newest and decided is not None:  # (None: too few vantage points to decide)
            stripped = ProbeResult(
                decided.target, decided.kind, decided.ts_ns, decided.status, {}, decided.error,
                decided.details, decided.prefixed,
            )  # fmt: skip
            await self._folder.fold(
                cfg.name, stripped, device=device, interval_s=cfg.interval, observe=True
            )


def _responsible(collector: CollectorInfo, cfg: JobConfig, target: Target) -> bool:
    """Whether ``collector``'s site checks ``target`` for ``cfg``."""
    if cfg.vantage:
        return collector.site in cfg.vantage
    return target.site == collector.site


__all__ = ["CollectorResults", "JobTargets", "ResultsOutcome", "read_job_targets"]
