"""No sample lost when InfluxDB goes away under a steady write load: the writer spools to
disk while it is down, replays in order when it is back, also after netgauge itself was
restarted in the meantime; afterwards the count in InfluxDB equals the count produced and
no sample is there twice. (The issue's 30 s outage is shortened to several failed flushes:
what matters is that writes fail and are spooled, not the wall time.)"""

from __future__ import annotations

import time
from pathlib import Path

from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage.influxdb import InfluxV1Store
from netgauge.storage.spool import DiskSpool
from netgauge.storage.writer import BatchWriter
from tests.lab.influxdb import InfluxDB

PER_ROUND = 200


def round_of(device: str, index: int, base_ns: int) -> list[Sample]:
    return [
        Sample(
            DEVICE_METRICS,
            device,
            "load",
            float(index * PER_ROUND + i),
            base_ns + index * PER_ROUND + i,
        )
        for i in range(PER_ROUND)
    ]


def writer_for(store: InfluxV1Store, spool_path: Path) -> BatchWriter:
    return BatchWriter(
        [store], batch_size=500, flush_interval_s=3600, spools={store.name: DiskSpool(spool_path)}
    )


async def stored(influxdb: InfluxDB, database: str, device: str) -> list[int]:
    store = InfluxV1Store(influxdb.url, database)
    try:
        points = await store.points(device, "load", 0, 2**62)
    finally:
        await store.close()
    return [p.ts_ns for p in points]


async def test_an_outage_and_a_restart_of_netgauge_lose_nothing(
    influxdb: InfluxDB, tmp_path: Path
) -> None:
    database, device = f"fault_{time.time_ns()}", "sw1"
    base = time.time_ns() - 10**12
    produced = 0
    spool = tmp_path / "spool.db"
    store = InfluxV1Store(influxdb.url, database, timeout_s=2.0)
    writer = writer_for(store, spool)
    for index in range(5):  # backend up
        writer.submit(round_of(device, index, base))
        produced += PER_ROUND
        await writer.flush(force=True)
    influxdb.halt()
    try:
        for index in range(5, 12):  # backend down: everything goes to the spool
            writer.submit(round_of(device, index, base))
            produced += PER_ROUND
            await writer.flush(force=True)
        assert writer.spooled()[store.name].samples == 7 * PER_ROUND
        # netgauge stops (and would be restarted) while the backend is still down
        await writer.close(timeout_s=5)
        await store.close()
    finally:
        influxdb.restart()
    store = InfluxV1Store(influxdb.url, database, timeout_s=2.0)
    writer = writer_for(store, spool)  # the restarted netgauge finds the spool
    for index in range(12, 15):
        writer.submit(round_of(device, index, base))
        produced += PER_ROUND
        await writer.flush(force=True)
    await writer.close(timeout_s=10)
    await store.close()
    timestamps = await stored(influxdb, database, device)
    assert len(timestamps) == produced == 15 * PER_ROUND  # every sample arrived
    assert len(set(timestamps)) == produced  # none twice
    assert timestamps == sorted(timestamps)
