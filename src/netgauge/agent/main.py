"""The agent's loop: collect every interval, spool the batch, and let the sender drain.

Two tasks share the spool, in one thread (every spool call is synchronous, so they never
interleave inside one): the collector appends a batch every ``interval`` seconds and wakes
the sender; the sender sends whenever there is something new and its backoff allows. A slow
or absent server never delays a collection, and a collection never waits for the server.

CPU share and rates need two readings: the agent takes one, waits ``rate_interval`` seconds
(2 by default), and spools its first batch from the second; then one every ``interval``.
A collection the process could not make in time (the machine was suspended) is skipped, not
made up in a burst.

Stopping (SIGTERM, SIGINT): the append in progress finishes (its fsync included; the
signal is handled between two steps of the loop, never inside a write), a request in flight
is abandoned (its batches stay spooled; if the server did store them it ignores the resend),
the spool's lock is released, and the agent exits 0. ``--once`` sends what is pending once
and exits 0 when all of it was acknowledged, 1 otherwise (the spool is kept for next time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from netgauge import __version__
from netgauge.agent.sender import REQUEST_TIMEOUT_S, Outcome, Sender, wait_any
from netgauge.agent.spool import DEFAULT_MAX_BYTES, Spool, SpoolError
from netgauge.pollers.selection import DiskSelection, InterfaceSelection

if TYPE_CHECKING:
    from netgauge.agent.collect import Collector

EXIT_OK = 0
EXIT_NOT_DELIVERED = 1  # --once left batches unacknowledged, or the token was refused
CONNECT_TIMEOUT_S = 10.0

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class AgentOptions:
    """What ``netgauge agent`` was asked to do (the token is no part of its repr)."""

    server: str
    token: str = field(repr=False)
    spool_dir: Path
    interval_s: float = 30.0
    rate_interval_s: float = 2.0
    max_spool_bytes: int = DEFAULT_MAX_BYTES
    once: bool = False
    # which interfaces and disks are pushed (the device jobs' rule: pollers/selection.py)
    interfaces: InterfaceSelection = field(default_factory=InterfaceSelection)
    disks: DiskSelection = field(default_factory=DiskSelection)


def run(options: AgentOptions) -> int:
    """Run the agent until stopped (or one round with ``once``); the exit status.

    Raises :class:`~netgauge.agent.spool.SpoolError` when the spool cannot be opened.
    """
    return asyncio.run(_main(options))


async def _main(options: AgentOptions) -> int:
    import httpx

    from netgauge.agent.collect import Collector, load_psutil

    collector = Collector(load_psutil(), interfaces=options.interfaces, disks=options.disks)
    stop = asyncio.Event()
    with _signals_set(stop), Spool(options.spool_dir, max_bytes=options.max_spool_bytes) as spool:
        _log_spool("started", spool)
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            follow_redirects=False,
            headers={"User-Agent": f"netgauge-agent/{__version__}"},
        ) as client:
            sender = Sender(spool, options.server, options.token, client)
            every = "once" if options.once else f"every {options.interval_s:g} s"
            _log.info("agent: pushing to %s %s", sender.url, every)
            if options.once:
                code = await _once(collector, spool, sender, options, stop)
            else:
                code = await _forever(collector, spool, sender, options, stop)
        _log_spool("stopped", spool)
        return code


async def _forever(
    collector: Collector, spool: Spool, sender: Sender, options: AgentOptions, stop: asyncio.Event
) -> int:
    wake = asyncio.Event()
    sending = asyncio.create_task(sender.run(stop, wake))
    sending.add_done_callback(lambda _: stop.set())  # the token was refused, or a bug
    try:
        await _collect_loop(collector, spool, options, stop, wake)
    finally:
        sending.cancel()
        (outcome,) = await asyncio.gather(sending, return_exceptions=True)
    if outcome is Outcome.UNAUTHORIZED:
        return EXIT_NOT_DELIVERED
    if isinstance(outcome, Exception):
        _log.error("agent: the sender failed: %r", outcome)
        return EXIT_NOT_DELIVERED
    return EXIT_OK


async def _collect_loop(
    collector: Collector,
    spool: Spool,
    options: AgentOptions,
    stop: asyncio.Event,
    wake: asyncio.Event,
) -> None:
    collector.collect()  # the baseline of CPU share and rates
    await wait_any(stop, timeout=options.rate_interval_s)
    next_at = time.monotonic()
    while not stop.is_set():
        spool_one(collector, spool)
        wake.set()
        now = time.monotonic()
        next_at += options.interval_s
        if next_at <= now:  # late (suspended, or a slow disk): skip, do not burst
            next_at = now + options.interval_s
        await wait_any(stop, timeout=next_at - now)


async def _once(
    collector: Collector, spool: Spool, sender: Sender, options: AgentOptions, stop: asyncio.Event
) -> int:
    collector.collect()
    await wait_any(stop, timeout=options.rate_interval_s)
    if stop.is_set():
        return EXIT_NOT_DELIVERED
    spool_one(collector, spool)
    outcome = await _unless_stopped(sender.run_once(), stop)
    if outcome is Outcome.DRAINED:
        _log.info(
            "agent: everything delivered (through seq %d, device %s)",
            spool.stats().acked_through,
            sender.device,
        )
        return EXIT_OK
    _log.warning("agent: not everything was delivered; it stays in %s", spool.directory)
    return EXIT_NOT_DELIVERED


MAX_METRICS_PER_BATCH = 5_000  # half the server's limit per batch


def spool_one(collector: Collector, spool: Spool) -> None:
    """Collect once and append the batch (a spool failure is logged: the loop goes on)."""
    ts_ns = time.time_ns()
    metrics = collector.collect()
    for problem in collector.problems:
        _log.info("agent: %s", problem)
    if not metrics:
        _log.warning("agent: the collection gave no metric; nothing spooled")
        return
    # The server takes at most 10,000 metrics per batch (a host with thousands of
    # interfaces can have more): split, so that no batch is refused forever.
    for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
        try:
            batch = spool.append(ts_ns, metrics[start : start + MAX_METRICS_PER_BATCH])
        except SpoolError as exc:
            _log.error("agent: batch not spooled: %s", exc)
            return
        _log.debug("agent: spooled seq %d (%d metrics)", batch.seq, len(batch.metrics))


async def _unless_stopped(work: Coroutine[Any, Any, _T], stop: asyncio.Event) -> _T | None:
    """``work``'s result, or None when ``stop`` was set first (``work`` is cancelled then)."""
    task = asyncio.create_task(work)
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, stopped, return_exceptions=True)
    return None if task.cancelled() else task.result()


@contextlib.contextmanager
def _signals_set(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (handled by the event loop between two steps)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C raises instead
            pass
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _log_spool(when: str, spool: Spool) -> None:
    stats = spool.stats()
    _log.info(
        "agent %s: spool %s holds %d bytes in %d segments, acknowledged through seq %d of %d; "
        "dropped at the size limit so far: %d batches, %d samples",
        when,
        spool.directory.resolve(),
        stats.bytes,
        stats.segments,
        stats.acked_through,
        stats.last_seq,
        stats.dropped_batches,
        stats.dropped_samples,
    )
