"""No sample lost, none stored twice, when a backend goes away for 30 s under a steady write
load: the writer spools to disk while it is down, replays in order once it is back, also
after netgauge itself was restarted in the meantime.

For each backend (a real InfluxDB 1.x and a real VictoriaMetrics on loopback), the writer and
the store run in this process: a round of ``PER_ROUND`` samples (one per series) every
``ROUND_S``, the whole time. The backend process is really stopped (SIGTERM, reaped: its port
is closed) for ``OUTAGE_S`` and started again on the same port and data; halfway through the
outage the writer is closed and a new one opened on the same spool (a restart of netgauge).
Afterwards every series holds exactly the rounds produced, each timestamp once (for
VictoriaMetrics, which keeps duplicates, read from ``/api/v1/export``), and the spool is empty.
A kill -9 of a real ``netgauge serve`` is in ``test_fault_serve``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage.influxdb import InfluxV1Store
from netgauge.storage.spool import DiskSpool
from netgauge.storage.victoriametrics import VictoriaMetricsStore
from netgauge.storage.writer import BatchWriter
from tests.lab.influxdb import InfluxDB
from tests.lab.victoriametrics import VictoriaMetrics

pytestmark = pytest.mark.network

MS = 1_000_000
PER_ROUND = 20  # samples per round: one for each of 20 series
ROUND_S = 0.05
OUTAGE_S = 30.0
MAX_ROUNDS = int((OUTAGE_S + 90) / ROUND_S)  # the load's bound, whatever happens
STORE_TIMEOUT_S = 2.0  # a request to a server that is going away gives up after this
SERIES = [f"load_{j:02d}" for j in range(PER_ROUND)]

Store = InfluxV1Store | VictoriaMetricsStore


class Backend(Protocol):
    """The server under test: how to reach it, stop it, start it, and read what it holds."""

    def store(self) -> Store: ...
    def halt(self) -> None: ...
    def restart(self) -> object: ...
    async def timestamps(self, device: str) -> dict[str, list[int]]: ...


class Influx:
    def __init__(self, server: InfluxDB) -> None:
        self.server, self.database = server, f"fault_{time.time_ns()}"

    def store(self) -> Store:
        return InfluxV1Store(self.server.url, self.database, timeout_s=STORE_TIMEOUT_S)

    def halt(self) -> None:
        self.server.halt()

    def restart(self) -> object:
        return self.server.restart()

    async def timestamps(self, device: str) -> dict[str, list[int]]:
        store = InfluxV1Store(self.server.url, self.database)
        try:
            return {
                name: [p.ts_ns for p in await store.points(device, name, 0, 2**62)]
                for name in SERIES
            }
        finally:
            await store.close()


class Victoria:
    def __init__(self, server: VictoriaMetrics) -> None:
        self.server = server

    def store(self) -> Store:
        return VictoriaMetricsStore(self.server.url, timeout_s=STORE_TIMEOUT_S)

    def halt(self) -> None:
        self.server.halt()

    def restart(self) -> object:
        return self.server.restart()

    async def timestamps(self, device: str) -> dict[str, list[int]]:
        await asyncio.to_thread(self.server.flush)
        return await export(self.server.url, device)


async def export(url: str, device: str) -> dict[str, list[int]]:
    """Every raw sample of ``device`` in VictoriaMetrics, per metric_name: ns timestamps as
    stored (duplicates kept, as ``/api/v1/export`` lists them)."""
    selector = f'{{__name__="device_metrics_value",device_id="{device}"}}'
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.get("/api/v1/export", params={"match[]": selector})
    response.raise_for_status()
    found: dict[str, list[int]] = {}
    for line in response.text.splitlines():
        if line.strip():
            row = json.loads(line)
            found.setdefault(row["metric"]["metric_name"], []).extend(
                int(ms) * MS for ms in row["timestamps"]
            )
    return {name: sorted(stamps) for name, stamps in found.items()}


def round_of(device: str, index: int, base_ns: int) -> list[Sample]:
    """Round ``index``: one sample per series, all at ``base + index`` ms."""
    return [
        Sample(DEVICE_METRICS, device, name, float(index), base_ns + index * MS) for name in SERIES
    ]


async def until(check: Callable[[], bool | Awaitable[bool]], timeout_s: float, what: str) -> None:
    """Poll ``check`` (every 50 ms) until it holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if await result if isinstance(result, Awaitable) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


class Load:
    """A round every ROUND_S (from the clock, not from completion) into the current writer;
    at most ``max_rounds``. ``restart_writer`` swaps the writer between two rounds."""

    def __init__(self, made: tuple[Store, BatchWriter], device: str, base_ns: int) -> None:
        self.store, self.writer = made
        self.device, self.base_ns = device, base_ns
        self.rounds = 0
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()

    @property
    def produced(self) -> int:
        return self.rounds * PER_ROUND

    async def run(self, max_rounds: int) -> None:
        start = time.monotonic()
        for index in range(max_rounds):
            async with self._lock:
                self.writer.submit(round_of(self.device, index, self.base_ns))
            self.rounds = index + 1
            delay = start + (index + 1) * ROUND_S - time.monotonic()
            try:
                await asyncio.wait_for(self._stop.wait(), max(0.0, delay))
                return
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stop.set()

    async def restart_writer(self, make: Callable[[], tuple[Store, BatchWriter]]) -> None:
        async with self._lock:
            await self.writer.close(timeout_s=10)
            await self.store.close()
            self.store, self.writer = make()
            self.writer.start()


async def outage_under_load(backend: Backend, spool: Path) -> tuple[str, int, int]:
    """Run the load across a 30 s outage with a restart of the writer in the middle; the
    device, the base timestamp and the number of rounds produced."""
    device, base = "fault-sw1", (time.time_ns() // MS) * MS - 3600 * 10**9

    def make_writer() -> tuple[Store, BatchWriter]:
        store = backend.store()
        # a short backoff cap: the replay starts within ~2 s of the backend's return
        return store, BatchWriter(
            [store],
            batch_size=500,
            flush_interval_s=0.25,
            max_backoff_s=2.0,
            spools={store.name: DiskSpool(spool)},
        )

    load = Load(make_writer(), device, base)
    load.writer.start()
    name = load.store.name
    task = asyncio.create_task(load.run(MAX_ROUNDS))

    def spooled() -> tuple[int, int]:
        stats = load.writer.spooled()[name]
        return stats.samples, stats.bytes

    def in_memory() -> int:
        """Samples not on disk yet: while the writer backs off (up to 2 s here), each flush
        (every 0.25 s) still spools what came, so this stays around 5 rounds."""
        return load.writer.pending()[name] - spooled()[0]

    try:
        await until(lambda: load.store.samples_written >= 10 * PER_ROUND, 15, "writes")
        assert spooled() == (0, 0)
        await asyncio.to_thread(backend.halt)  # the load goes on meanwhile
        down_at = time.monotonic()
        await until(lambda: spooled()[1] > 0, 15, "batches spooled while the backend is down")
        assert not (await load.store.health()).reachable
        await asyncio.sleep(max(0.0, down_at + OUTAGE_S / 2 - time.monotonic()))
        assert in_memory() <= 10 * PER_ROUND
        await load.restart_writer(make_writer)  # netgauge restarts; the backend is still down
        assert spooled()[0] > 0  # the new writer found the spool
        await asyncio.sleep(max(0.0, down_at + OUTAGE_S - time.monotonic()))
        assert in_memory() <= 10 * PER_ROUND
        spooled_at_end = spooled()[0]
        await asyncio.to_thread(backend.restart)
        outage_s = time.monotonic() - down_at
        await until(lambda: spooled() == (0, 0), 30, "the spool to be replayed")
        # what the load made while the spool replayed is written next (it queued behind
        # the spool, in order), and the backlog drains to what came since a flush; on a
        # slow machine the replay takes seconds, so this is waited for, not read at once
        await until(lambda: load.writer.pending()[name] < 20 * PER_ROUND, 5, "the backlog to drain")
        assert (await load.store.health()).reachable
        after = load.rounds
        await until(lambda: load.rounds >= after + 20, 10, "more load after the replay")
    finally:
        load.stop()
        await task
        await load.writer.close(timeout_s=15)
        await load.store.close()
    assert outage_s >= OUTAGE_S and spooled_at_end > 0
    assert load.writer.pending()[name] == 0
    return device, base, load.rounds


async def check_stored(backend: Backend, device: str, base: int, rounds: int) -> None:
    """Every series holds each round's sample exactly once: none lost, none twice."""
    stored = await backend.timestamps(device)
    expected = [base + index * MS for index in range(rounds)]
    assert sorted(stored) == SERIES
    for name in SERIES:
        got = stored[name]
        assert len(got) == len(set(got)), f"{name}: {len(got) - len(set(got))} duplicates"
        assert got == expected, f"{name}: {len(got)} stored of {rounds} produced"
    assert sum(map(len, stored.values())) == rounds * PER_ROUND


async def test_influxdb_down_for_30s_under_load_loses_nothing(
    influxdb: InfluxDB, tmp_path: Path
) -> None:
    backend = Influx(influxdb)
    try:
        device, base, rounds = await outage_under_load(backend, tmp_path / "spool.db")
    finally:
        if not influxdb.running:
            await asyncio.to_thread(influxdb.restart)  # the session's server, for later tests
    await check_stored(backend, device, base, rounds)


async def test_victoriametrics_down_for_30s_under_load_loses_nothing(
    victoriametrics: VictoriaMetrics, tmp_path: Path
) -> None:
    backend = Victoria(victoriametrics)
    device, base, rounds = await outage_under_load(backend, tmp_path / "spool.db")
    await check_stored(backend, device, base, rounds)
