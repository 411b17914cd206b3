"""The embedded SQLite store: round trip, steps, latest, durability across reopen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage import EmbeddedStore

S = 1_000_000_000


def metric(ts: int, value: float, device: str = "gw", name: str = "icmp.rtt_avg_ms") -> Sample:
    return Sample(DEVICE_METRICS, device, name, value, ts)


async def test_round_trip_raw_points(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "m.db")
    await store.write([metric(10 * S, 1.5), metric(20 * S, 2.5), metric(30 * S, 3.5)])
    points = await store.points("gw", "icmp.rtt_avg_ms", 10 * S, 30 * S)
    assert [(p.ts_ns, p.value, p.count) for p in points] == [(10 * S, 1.5, 1), (20 * S, 2.5, 1)]
    await store.close()


async def test_step_aggregation(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "m.db")
    t0 = 1000 * S
    await store.write([metric(t0 + t * S, float(t)) for t in range(0, 120)])
    points = await store.points("gw", "icmp.rtt_avg_ms", t0, t0 + 120 * S, step_s=60)
    assert [(p.ts_ns, p.value, p.min, p.max, p.count) for p in points] == [
        (t0, 29.5, 0.0, 59.0, 60),
        (t0 + 60 * S, 89.5, 60.0, 119.0, 60),
    ]
    mx = await store.points("gw", "icmp.rtt_avg_ms", t0, t0 + 120 * S, step_s=60, agg="max")
    assert [p.value for p in mx] == [59.0, 119.0]
    await store.close()


async def test_latest_keeps_the_newest_even_when_older_arrives_later(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "m.db")
    await store.write([Sample(DEVICE_STATUS, "gw", "status", 1.0, 20 * S)])
    await store.write([Sample(DEVICE_STATUS, "gw", "status", 0.0, 10 * S)])
    latest = await store.latest(DEVICE_STATUS)
    assert [(v.device_id, v.ts_ns, v.value) for v in latest] == [("gw", 20 * S, 1.0)]
    assert await store.count() == 2
    await store.close()


async def test_duplicate_timestamp_keeps_one_sample(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "m.db")
    await store.write([metric(5 * S, 1.0)])
    await store.write([metric(5 * S, 2.0)])
    assert await store.count() == 1
    assert (await store.points("gw", "icmp.rtt_avg_ms", 0, 10 * S))[0].value == 2.0
    await store.close()


async def test_data_survives_reopen_sealed_or_still_in_the_head(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = EmbeddedStore(path, seal_rows=400)  # the first 400 are sealed, the rest is head
    for start in range(1, 1001, 100):
        await store.write(
            [metric(t * S, float(t), device=f"d{t % 7}") for t in range(start, start + 100)]
        )
    assert await store.count() == 1000
    # a crash leaves the head as it is: reopen without close
    again = EmbeddedStore(path)
    assert await again.count() == 1000
    assert len(await again.series()) == 7
    got = await again.points("d3", "icmp.rtt_avg_ms", 0, 2000 * S)
    assert [p.ts_ns for p in got] == [t * S for t in range(1, 1001) if t % 7 == 3]
    assert [p.value for p in got] == [float(t) for t in range(1, 1001) if t % 7 == 3]
    await again.close()
    await store.close()
    tables = {
        row[0]
        for row in sqlite3.connect(path).execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert "raw_0" in tables and "samples" not in tables  # day partition of 1970-01-01


async def test_a_file_with_the_old_samples_table_is_moved_into_blocks(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE series (id INTEGER PRIMARY KEY, measurement TEXT NOT NULL, device_id "
        "TEXT NOT NULL, metric_name TEXT NOT NULL, UNIQUE (measurement, device_id, "
        "metric_name)); CREATE TABLE samples (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, "
        "value REAL NOT NULL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID;"
        "INSERT INTO series VALUES (1, 'device_metrics', 'gw', 'icmp.rtt_avg_ms');"
    )
    old.executemany("INSERT INTO samples VALUES (1, ?, ?)", [(t * S, t / 2) for t in range(1, 51)])
    old.commit()
    old.close()
    store = EmbeddedStore(path)
    got = await store.points("gw", "icmp.rtt_avg_ms", 0, 100 * S)
    assert [(p.ts_ns, p.value) for p in got] == [(t * S, t / 2) for t in range(1, 51)]
    await store.close()
    names = [r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")]
    assert "samples" not in names


async def test_a_duplicate_written_after_its_seal_still_counts_once(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "m.db")
    await store.write([metric(5 * S, 1.0), metric(6 * S, 1.0)])
    await store.maintain()  # sealed into a block
    await store.write([metric(5 * S, 3.0)])  # a replayed batch, with a corrected value
    assert await store.count() == 2
    assert [p.value for p in await store.points("gw", "icmp.rtt_avg_ms", 0, 10 * S)] == [3.0, 1.0]
    await store.maintain()
    assert await store.count() == 2
    assert [p.value for p in await store.points("gw", "icmp.rtt_avg_ms", 0, 10 * S)] == [3.0, 1.0]
    await store.close()


async def test_rounds_group_one_kind_per_instant(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "m.db")
    t1, t2 = 100 * S, 400 * S
    await store.write(
        [
            metric(t1, 0.0, name="icmp.loss_pct"),
            metric(t1, 1.5, name="icmp.rtt_median_ms"),
            metric(t2, 10.0, name="icmp.loss_pct"),
            metric(t2, 2.5, name="icmp.rtt_median_ms"),
            metric(t2, 9.0, name="icmpx.other"),  # another kind sharing the prefix letters
            metric(t2, 7.0, name="tcp.connect_ms"),
            metric(t2, 3.0, device="other", name="icmp.loss_pct"),
        ]
    )
    got = await store.rounds("gw", "icmp", 0, 1000 * S, limit=10)
    assert got == [
        (t1, {"loss_pct": 0.0, "rtt_median_ms": 1.5}),
        (t2, {"loss_pct": 10.0, "rtt_median_ms": 2.5}),
    ]
    assert await store.rounds("gw", "icmp", 0, 1000 * S, limit=1) == [got[1]]
    await store.close()
