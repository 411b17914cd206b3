"""The one batching writer in front of every sink: flush by size or by age, never per sample.

Accepted samples stay in memory until a sink has taken them. A failed write keeps the batch
and retries it later, after an exponential backoff with jitter (``flush_interval_s * 2**n``,
at most ``max_backoff_s``, each wait drawn from its upper half so that many writers do not
retry in step). A refused batch (``PermanentStorageError``) is dropped and counted, never
retried. A sink with a spool (``storage.spool``: every store but the embedded one) moves
what it could not take to disk, fsync'd per batch, and replays it in order before anything
newer once the sink answers again, also after a restart. While such a sink waits out its
backoff, each flush still moves what arrived to the spool: a crash loses at most one flush
interval of samples nobody was promised were stored, and ``flush(force=True)`` (what an
agent's ingest awaits before it answers) leaves every sample written or on disk. A clean
stop flushes everything (or spools it).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import structlog

from netgauge.clock import Clock, SystemClock
from netgauge.errors import PermanentStorageError, StorageError, StoragePermissionError
from netgauge.models import Sample
from netgauge.storage.base import Refusal, Sink
from netgauge.storage.spool import DiskSpool, SpoolStats

log = structlog.get_logger(__name__)


@dataclass
class SinkState:
    """Per-sink bookkeeping: what is queued and how writes went."""

    sink: Sink
    pending: deque[Sample]
    spool: DiskSpool | None = None  # where batches wait on disk while the sink is failing
    failures: int = 0
    dropped: int = 0
    last_error: str | None = None
    retry_at: float = 0.0
    last_ok_ns: int | None = None  # wall time of the last batch the sink took
    refused: Counter[str] = field(default_factory=Counter)  # samples it could not carry
    last_loss_ns: int | None = None  # wall time samples were last lost to this sink
    last_loss_reason: str | None = None  # why (a refusal's rule, the store's error, a full spool)
    denied: bool = False  # the last failure was a 401/403 (StoragePermissionError)


@dataclass(frozen=True)
class Loss:
    """The newest loss of one sink: when, why, and how many samples it lost since start."""

    at_ns: int
    reason: str
    total: int


class BatchWriter:
    """Collects samples and writes them to every sink in batches."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        batch_size: int = 5000,
        flush_interval_s: float = 1.0,
        max_backoff_s: float = 60.0,
        clock: Clock | None = None,
        spools: dict[str, DiskSpool] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        spools = spools or {}
        self._states = [SinkState(s, deque(), spools.get(s.name)) for s in sinks]
        self.batch_size, self.flush_interval_s = batch_size, flush_interval_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()  # the backoff's jitter
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # One flush at a time: the periodic flusher and a caller that needs its samples
        # stored now (an agent's ingest) would otherwise write the same head of the queue
        # twice and pop it twice.
        self._flushing = asyncio.Lock()
        self.accepted = 0

    def submit(self, samples: Iterable[Sample]) -> None:
        """Queue samples for every sink; wakes the flusher when a batch is full."""
        batch = list(samples)
        if self._closing:
            raise StorageError("writer is closed; samples not accepted")
        for state in self._states:
            state.pending.extend(batch)
        self.accepted += len(batch)
        if any(len(s.pending) >= self.batch_size for s in self._states):
            self._wake.set()

    def pending_series(self, device_id: str) -> set[tuple[str, str, str]]:
        """(measurement, device, metric) of one device's samples accepted but not yet written:
        a page opened between a check's first result and the next flush still knows its
        series. Bounded by what waits in memory (a batch, or less)."""
        return {
            (s.measurement, s.device_id, s.metric_name)
            for state in self._states
            for s in list(state.pending)
            if s.device_id == device_id
        }

    def start(self) -> None:
        """Run the periodic flusher in the background."""
        self._task = asyncio.create_task(self._loop(), name="netgauge-writer")

    async def _loop(self) -> None:
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def flush(self, *, force: bool = False) -> None:
        """Write what is pending to each sink whose backoff has passed (``force``: all now)."""
        async with self._flushing:
            for state in self._states:
                if force or self._clock.monotonic() >= state.retry_at:
                    await self._drain(state)
                else:  # backing off: what arrived meanwhile waits on disk, not in memory
                    await self._spill(state)

    async def _drain(self, state: SinkState) -> None:
        # Order is kept: what waits on disk goes first, and while it cannot go, what is in
        # memory joins it there.
        if state.spool is not None and not await self._replay(state):
            await self._spill(state)
            return
        while state.pending:
            batch = [state.pending[i] for i in range(min(self.batch_size, len(state.pending)))]
            try:
                self._refused(state, await state.sink.write(batch))
            except PermanentStorageError as exc:
                # the data itself was refused: retrying cannot help; drop it, count it, say it
                self._lost(state, len(batch), str(exc))
                log.error(
                    "storage.batch_refused",
                    sink=state.sink.name,
                    samples=len(batch),
                    error=str(exc),
                    first=repr(batch[0]),
                )
            except StorageError as exc:
                self._failed(state, exc)
                await self._spill(state)
                return
            else:
                state.last_ok_ns = self._now_ns()
            for _ in batch:
                state.pending.popleft()
            self._recovered(state)

    async def _replay(self, state: SinkState) -> bool:
        """Write the spooled batches, oldest first; True once none is left."""
        assert state.spool is not None
        while True:
            oldest = await asyncio.to_thread(state.spool.oldest)
            if oldest is None:
                return True
            batch_id, batch = oldest
            try:
                self._refused(state, await state.sink.write(batch))
            except PermanentStorageError as exc:
                self._lost(state, len(batch), str(exc))
                log.error("storage.batch_refused", sink=state.sink.name, error=str(exc))
            except StorageError as exc:
                self._failed(state, exc)
                return False
            else:
                state.last_ok_ns = self._now_ns()
            await asyncio.to_thread(state.spool.remove, batch_id)
            self._recovered(state)

    async def _spill(self, state: SinkState) -> None:
        """Move what waits in memory to the sink's spool (durable), in batches."""
        if state.spool is None or not state.pending:
            return
        waiting = list(state.pending)
        state.pending.clear()
        spool = state.spool
        before = (await asyncio.to_thread(spool.stats)).dropped_samples
        for start in range(0, len(waiting), self.batch_size):
            batch = waiting[start : start + self.batch_size]
            # (refused by the spool's drop_newest policy: counted in the spool's file)
            await asyncio.to_thread(spool.append, batch)
        lost = (await asyncio.to_thread(spool.stats)).dropped_samples - before
        if lost > 0:  # counted by the spool, not in state.dropped: only the time and why here
            state.last_loss_ns = self._now_ns()
            state.last_loss_reason = f"spool full ({spool.policy}): {lost} samples dropped"

    def _refused(self, state: SinkState, refused: Sequence[Refusal]) -> None:
        """Samples the sink took the batch without (the rest of it is written): dropped and
        counted by reason, and said once per reason, not per sample."""
        for refusal in refused:
            self._lost(state, 1, refusal.reason)
            state.refused[refusal.reason] += 1
            if state.refused[refusal.reason] == 1:
                log.error(
                    "storage.sample_refused",
                    sink=state.sink.name,
                    reason=refusal.reason,
                    sample=repr(refusal.sample),
                )

    def _lost(self, state: SinkState, count: int, reason: str) -> None:
        state.dropped += count
        state.last_loss_ns = self._now_ns()
        state.last_loss_reason = reason

    def _failed(self, state: SinkState, exc: Exception) -> None:
        if state.failures == 0:  # log transitions, not every retry
            log.error("storage.write_failed", sink=state.sink.name, error=str(exc))
        state.failures += 1
        state.last_error = str(exc)
        state.denied = isinstance(exc, StoragePermissionError)
        backoff = min(self.max_backoff_s, self.flush_interval_s * 2 ** min(state.failures, 16))
        state.retry_at = self._clock.monotonic() + backoff * self._rng.uniform(0.5, 1.0)

    def _recovered(self, state: SinkState) -> None:
        if state.failures:
            log.info("storage.write_recovered", sink=state.sink.name, after_failures=state.failures)
        state.failures, state.last_error, state.retry_at = 0, None, 0.0

    def queued(self) -> dict[str, int]:
        """Samples waiting in memory per sink (not counting its spool)."""
        return {s.sink.name: len(s.pending) for s in self._states}

    def pending(self) -> dict[str, int]:
        """Samples waiting per sink, in memory and in its spool."""
        return {
            s.sink.name: len(s.pending) + (s.spool.stats().samples if s.spool else 0)
            for s in self._states
        }

    def _now_ns(self) -> int:
        return int(self._clock.now().timestamp() * 1e9)

    def last_success(self) -> dict[str, int | None]:
        """Per sink, the wall time (ns) of the last batch it took."""
        return {s.sink.name: s.last_ok_ns for s in self._states}

    def in_memory(self, through: int | None = None) -> dict[str, str]:
        """Sinks still holding accepted samples only in memory, with their last error: after
        ``flush(force=True)`` that means the store failed and had no spool to take them.

        ``through``: only the first ``through`` samples ever accepted count (``accepted``
        read after submitting one's own). What others submitted while the flush wrote to
        the next sink is not one's own: an ingest that waited for it answered 503 to a
        collector whose results were stored, which sent them again (found by
        scripts/try-cluster, with two stores and three collectors). Every sink gets every
        sample, in order, so a sink holds none of the first ``through`` once
        ``accepted - len(pending) >= through``."""
        limit = self.accepted if through is None else through
        return {
            s.sink.name: s.last_error or "not written yet"
            for s in self._states
            if s.pending and self.accepted - len(s.pending) < limit
        }

    def spooled(self) -> dict[str, SpoolStats]:
        """Each spool's contents and drops, for sinks that have one."""
        return {s.sink.name: s.spool.stats() for s in self._states if s.spool is not None}

    def refusals(self) -> dict[str, dict[str, int]]:
        """Per sink, the samples it could not carry, by reason (part of :meth:`dropped`)."""
        return {s.sink.name: dict(s.refused) for s in self._states}

    def losses(self) -> dict[str, Loss]:
        """Per sink that lost samples since start: the newest loss (a store is degraded for a
        while after it, whatever reachability says)."""
        return {
            s.sink.name: Loss(s.last_loss_ns, s.last_loss_reason or "", s.dropped)
            for s in self._states
            if s.last_loss_ns is not None
        }

    def failing(self) -> dict[str, str]:
        """Sinks whose writes fail now (backing off, what arrives waits in the spool), with the
        last error: reachable by a ping or not, they take nothing."""
        return {s.sink.name: s.last_error or "" for s in self._states if s.failures}

    def denied(self, name: str) -> bool:
        """Whether sink ``name``'s writes fail for want of permission (401/403)."""
        return any(s.sink.name == name and s.failures and s.denied for s in self._states)

    def dropped(self) -> dict[str, int]:
        """Samples the sink refused (since start); what a full spool dropped is counted in
        the spool (:meth:`spooled`), not here, so that the two add up without overlap."""
        return {s.sink.name: s.dropped for s in self._states}

    async def close(self, timeout_s: float = 30.0) -> None:
        """Stop accepting, flush everything (bounded by ``timeout_s``), stop the flusher."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            async with asyncio.timeout(timeout_s):
                await self.flush(force=True)
                for state in self._states:  # a failing sink's samples wait on disk
                    await self._spill(state)
                while any(s.pending for s in self._states):
                    await self._clock.sleep(0.5)
                    await self.flush(force=True)
        except TimeoutError:
            log.error("storage.unflushed_at_shutdown", pending=self.pending())
        for state in self._states:
            if state.spool is not None:
                state.spool.close()
