"""The server side of the push agent (``netgauge agent``): batches posted to
``/api/v1/ingest`` become stored samples and observations of the device's state.

Each batch carries a sequence number, increasing per device. The last one stored is kept
in ``agent_cursors``, so a batch the agent sends again (it never heard our answer, or it
restarted before deleting it from its spool) is acknowledged without being stored twice.
Samples are checked like any poller's (``validation``); a refused one is reported back and
counted, never stored. The answer is sent after the writer has flushed: an acknowledged
batch is committed in the embedded store and written to, or spooled on disk for, every other
store. When that is not so (a store failed and has no spool), the answer is 503 and the
cursor stays: the agent sends the batch again (see the reliability contract in the README).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from netgauge.errors import RetryableStorageError
from netgauge.inventory.repository import Inventory
from netgauge.models import ProbeResult, ProbeStatus, now_ns
from netgauge.pollers.readings import DeviceState, Metric
from netgauge.pollers.validation import REFUSED, Rejections
from netgauge.status.devices import DeviceStates
from netgauge.status.fold import ResultFolder
from netgauge.status.tracker import StatusTracker
from netgauge.storage.writer import BatchWriter

KIND = "agent"
MAX_AGE_NS = 30 * 86400 * 1_000_000_000  # a spool older than this is not stored
MAX_AHEAD_NS = 5 * 60 * 1_000_000_000  # nor a batch from an agent whose clock runs ahead
TIMESTAMP_REFUSED = "timestamp more than 30 days old or 5 minutes ahead of the server"
SERIES_CAP_REFUSED = "a new series beyond the device's limit (ingest_max_series_per_device)"
JOB = "agent"  # the status tracker's name for the results agents push


@dataclass(frozen=True, slots=True)
class Batch:
    """One collection of an agent: its sequence number, time and metrics."""

    seq: int
    ts_ns: int
    metrics: tuple[Metric, ...]


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    device: str
    accepted_through: int
    stored: int
    refused: tuple[str, ...]


class AgentIngest:
    """Folds agents' batches into the store and the device states."""

    def __init__(
        self,
        inventory: Inventory,
        writer: BatchWriter,
        status: StatusTracker,
        devices: DeviceStates,
        rejections: Rejections | None = None,
        silent_after_s: float = 120.0,
        *,
        stored_series: Callable[[str], Awaitable[list[tuple[str, str, str]]]] | None = None,
        max_series: int = 1000,
        folder: ResultFolder | None = None,
    ) -> None:
        self._inventory = inventory
        self._writer = writer
        # every result goes through the one folding step (shared with the job runner)
        self._folder = folder or ResultFolder(writer, status, devices)
        self.rejections = rejections if rejections is not None else Rejections()
        # an agent's batches count as a check that runs every silent_after_s (the longest
        # an agent may be quiet before it counts as failing)
        self.silent_after_s = silent_after_s
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_batch: dict[str, float] = {}  # device -> monotonic time of its last post
        # an agent names its series (a label per disk, interface, sensor): each device may
        # have max_series of them, those already stored counted (a store's series())
        self._stored_series = stored_series
        self.max_series = max_series
        self._series: dict[str, set[str]] = {}

    async def ingest(self, device: str, batches: Sequence[Batch]) -> IngestOutcome:
        """Store the batches of ``device`` not stored yet, in order; what was acknowledged."""
        # one request per device at a time: two concurrent retries must not both pass
        # the cursor check
        async with self._locks.setdefault(device, asyncio.Lock()):
            cursor = await asyncio.to_thread(self._inventory.agent_cursor, device)
            fresh = sorted((b for b in batches if b.seq > cursor), key=lambda b: b.seq)
            stored, refused = 0, []
            now = time.time_ns()
            for batch in fresh:
                if not now - MAX_AGE_NS <= batch.ts_ns <= now + MAX_AHEAD_NS:
                    # a clock far off would store samples where no chart looks (or pin
                    # "latest" in the future): refused, counted, reported back
                    self.rejections.add(TIMESTAMP_REFUSED, len(batch.metrics))
                    refused.append(f"refused batch {batch.seq}: {TIMESTAMP_REFUSED}")
                    continue
                kept, errors = self.rejections.screen(batch.metrics)
                kept, over = await self._within_series_cap(device, kept)
                refused += errors + over
                # the device's state is about now: a backlog replayed after an outage is
                # stored, but only the newest batch is an observation
                stored += await self._store(device, batch, kept, observe=batch is fresh[-1])
            mine = self._writer.accepted  # the samples these batches gave, and all before
            await self._writer.flush(force=True)
            self._last_batch[device] = time.monotonic()
            unsaved = self._writer.in_memory(through=mine)
            if unsaved:
                # not durable yet: no acknowledgement, no cursor; the agent sends again and
                # the stores keep one sample per timestamp
                reasons = "; ".join(f"{name}: {error}" for name, error in sorted(unsaved.items()))
                raise RetryableStorageError(f"batches not stored yet, send them again ({reasons})")
            through = max([cursor, *(b.seq for b in fresh)])
            if fresh:
                await asyncio.to_thread(self._inventory.advance_agent_cursor, device, through)
            return IngestOutcome(device, through, stored, tuple(refused))

    async def _within_series_cap(
        self, device: str, metrics: list[Metric]
    ) -> tuple[list[Metric], list[str]]:
        """The metrics of series the device has, or may still add; an error line for each
        metric of a new series beyond ``max_series`` (counted, never stored)."""
        known = self._series.get(device)
        if known is None:
            stored = await self._stored_series(device) if self._stored_series else []
            known = self._series[device] = {name for _, _, name in stored if name != "status"}
        kept: list[Metric] = []
        errors: list[str] = []
        for metric in metrics:
            name = metric.series()
            if name not in known and len(known) >= self.max_series:
                self.rejections.add(SERIES_CAP_REFUSED)
                errors.append(f"{REFUSED}{name} = {metric.value!r}: {SERIES_CAP_REFUSED}")
                continue
            known.add(name)
            kept.append(metric)
        return kept, errors

    async def resume(self) -> None:
        """After a restart: agents' last posts from the database, so that an agent which
        never comes back is still found silent."""
        posts = await asyncio.to_thread(self._inventory.agent_last_posts)
        now_wall, now = time.time(), time.monotonic()
        for device, at in posts.items():
            self._last_batch.setdefault(device, now - max(0.0, now_wall - at.timestamp()))

    async def check_silent(self, stale_after_s: float, now: float | None = None) -> list[str]:
        """An agent that stopped posting is a device that stopped answering: each device
        whose last post is older than ``stale_after_s`` gets a failed observation (the
        hysteresis makes it offline after ``device_fail_after`` of them). Called
        periodically by the service; returns the devices found silent."""
        now = time.monotonic() if now is None else now
        silent = [d for d, at in self._last_batch.items() if now - at > stale_after_s]
        for device in silent:
            error = f"no batch from the agent for {now - self._last_batch[device]:.0f} s"
            result = ProbeResult(
                device, KIND, now_ns(), ProbeStatus.TIMEOUT, {}, error, prefixed=False
            )
            await self._folder.fold(JOB, result, device=True, interval_s=stale_after_s)
        return silent

    async def _store(
        self, device: str, batch: Batch, metrics: list[Metric], *, observe: bool
    ) -> int:
        result = ProbeResult(
            device,
            KIND,
            batch.ts_ns,
            ProbeStatus.OK,
            {m.series(): m.value for m in metrics},
            None,
            {"state": DeviceState.ONLINE.value, "seq": batch.seq},
            prefixed=False,
        )
        return await self._folder.fold(
            JOB, result, device=True, interval_s=self.silent_after_s, observe=observe
        )
