"""Rollups and retention of the embedded store, over 120 days of generated history.

Every rollup row is compared with the aggregate computed directly from the generated raw
samples; expired partitions must be gone, and a store under steady load must stop growing.
"""

from __future__ import annotations

import math
import random
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netgauge.models import DEVICE_METRICS, DEVICE_STATUS, Sample
from netgauge.storage.embedded import EmbeddedStore, Retention
from netgauge.storage.embedded.summary import p95

S = 1_000_000_000
MIN, HOUR, DAY = 60 * S, 3600 * S, 86_400 * S
DAYS = 120
START = 1_760_000_000 * S // DAY * DAY  # a whole UTC day in 2025
END = START + DAYS * DAY
SERIES = [
    (DEVICE_METRICS, "gw", "icmp.rtt_avg_ms"),
    (DEVICE_METRICS, "sw", "cpu_percent"),
    (DEVICE_STATUS, "gw", "status"),
]

Key = tuple[str, str, str]


def history() -> dict[Key, dict[int, float]]:
    """Every 5 minutes for 120 days, per series; irregular values (p95 must pick its rank)."""
    rng = random.Random(7)
    data: dict[Key, dict[int, float]] = {key: {} for key in SERIES}
    for ts in range(START, END, 5 * MIN):
        data[SERIES[0]][ts] = round(rng.lognormvariate(2.5, 0.6), 3)
        data[SERIES[1]][ts] = round(rng.uniform(0, 100), 2)
        data[SERIES[2]][ts] = 1.0 if rng.random() > 0.05 else 0.0
    return data


def batches(data: dict[Key, dict[int, float]]) -> Iterator[list[Sample]]:
    rows = sorted((ts, key, v) for key, points in data.items() for ts, v in points.items())
    for i in range(0, len(rows), 5000):
        yield [Sample(k[0], k[1], k[2], v, ts) for ts, k, v in rows[i : i + 5000]]


def expected(
    points: dict[int, float], span: int
) -> dict[int, tuple[int, float, float, float, float]]:
    buckets: dict[int, list[float]] = defaultdict(list)
    for ts, value in points.items():
        buckets[ts - ts % span].append(value)
    return {b: (len(v), math.fsum(v), min(v), max(v), p95(v)) for b, v in sorted(buckets.items())}


def rollup_rows(
    path: Path, level: str, sid_of: dict[int, Key]
) -> dict[Key, dict[int, tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?", (f"{level}_%",)
        )
    ]
    found: dict[Key, dict[int, tuple[Any, ...]]] = defaultdict(dict)
    for name in tables:
        for sid, ts, *summary in conn.execute(f"SELECT * FROM {name}"):
            found[sid_of[sid]][ts] = tuple(summary)
    return found


@pytest.fixture(scope="module")
def data() -> dict[Key, dict[int, float]]:
    return history()


@pytest.fixture(params=[20_000, 1_000_000], ids=["head-fills-up", "hours-close"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, data: dict[Key, dict[int, float]]
) -> EmbeddedStore:
    """A full head is sealed whole and rolled up from its blocks later; otherwise each hour
    is sealed as it closes, blocks and rollups at once. Both must give the same store."""
    clock = {"now": END + HOUR}
    s = EmbeddedStore(tmp_path / "m.db", now_ns=lambda: clock["now"], seal_rows=request.param)
    for batch in batches(data):
        await s.write(batch)
    # an hour closes once a later sample (past its end + grace) has arrived, from any series
    await s.write([Sample(DEVICE_METRICS, "tick", "x", 0.0, END + 10 * MIN)])
    await s.maintain()
    s.clock = clock  # type: ignore[attr-defined]
    return s


def sids(path: Path) -> dict[int, Key]:
    rows = sqlite3.connect(path).execute(
        "SELECT id, measurement, device_id, metric_name FROM series"
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def test_hour_and_day_rollups_equal_the_raw_aggregates(
    store: EmbeddedStore, data: dict[Key, dict[int, float]]
) -> None:
    sid_of = sids(store.path)
    hours, days = rollup_rows(store.path, "hour", sid_of), rollup_rows(store.path, "day", sid_of)
    kept_from = END + HOUR - 90 * DAY  # hourly retention: partitions wholly older are gone
    for key in SERIES:
        want_h = expected(data[key], HOUR)
        got_h = hours[key]
        assert min(got_h) >= kept_from - 7 * DAY  # a partition is 7 days: dropped once whole
        assert max(got_h) == END - HOUR
        for bucket, row in got_h.items():
            n, total, lo, hi, q = want_h[bucket]
            assert row == (n, pytest.approx(total, rel=1e-12), lo, hi, q), (key, bucket)
        assert set(want_h) - set(got_h) == {b for b in want_h if b < min(got_h)}
        want_d = expected(data[key], DAY)
        assert set(days[key]) == set(want_d)  # daily rollups: all 120 days (kept 2 years)
        for bucket, row in days[key].items():
            n, total, lo, hi, q = want_d[bucket]
            assert row == (n, pytest.approx(total, rel=1e-12), lo, hi, q), (key, bucket)
    await store.close()


async def test_expired_raw_partitions_are_gone_and_rollups_answer_for_them(
    store: EmbeddedStore, data: dict[Key, dict[int, float]]
) -> None:
    now = END + HOUR
    raw_days = sorted(p for p in store.catalog.parts["raw"])
    assert raw_days[0] + DAY > now - 30 * DAY  # nothing wholly older than 30 days is left
    assert raw_days[0] <= now - 29 * DAY
    names = [r[0] for r in sqlite3.connect(store.path).execute("SELECT name FROM sqlite_master")]
    assert not [n for n in names if n.startswith("raw_") and int(n.split("_")[1]) * S < raw_days[0]]

    old_day = START + 50 * DAY  # 70 days ago: raw gone, hourly rollups kept
    assert await store.points("gw", "icmp.rtt_avg_ms", old_day, old_day + DAY) == []
    hourly = await store.points("gw", "icmp.rtt_avg_ms", old_day, old_day + DAY, 3600, "p95")
    want = expected(data[SERIES[0]], HOUR)
    assert [(p.ts_ns, p.value, p.count) for p in hourly] == [
        (b, want[b][4], want[b][0]) for b in range(old_day, old_day + DAY, HOUR)
    ]
    oldest = START + 5 * DAY  # 115 days ago: only daily rollups
    daily = await store.points("sw", "cpu_percent", oldest, oldest + 3 * DAY, 86400, "avg")
    want_d = expected(data[SERIES[1]], DAY)
    assert [p.ts_ns for p in daily] == [oldest, oldest + DAY, oldest + 2 * DAY]
    for p in daily:
        assert p.value == pytest.approx(want_d[p.ts_ns][1] / want_d[p.ts_ns][0], rel=1e-12)
    await store.close()


async def test_a_week_by_the_hour_from_rollups_and_from_raw(
    store: EmbeddedStore, data: dict[Key, dict[int, float]]
) -> None:
    week, points = END - 7 * DAY, data[SERIES[0]]

    def want(origin: int) -> list[tuple[int, float, int]]:
        buckets: dict[int, list[float]] = defaultdict(list)
        for ts, value in points.items():
            if origin <= ts < origin + 7 * DAY:
                buckets[origin + (ts - origin) // HOUR * HOUR].append(value)
        return [(b, max(v), len(v)) for b, v in sorted(buckets.items())]

    from_rollups = await store.points("gw", "icmp.rtt_avg_ms", week, END, 3600, "max")
    assert [(p.ts_ns, p.value, p.count) for p in from_rollups] == want(week)
    # one second past the hour: no rollup tiles those steps, so raw samples answer
    shifted = week + S
    from_raw = await store.points("gw", "icmp.rtt_avg_ms", shifted, shifted + 7 * DAY, 3600, "max")
    assert [(p.ts_ns, p.value, p.count) for p in from_raw] == want(shifted)
    await store.close()


async def test_late_samples_redo_their_hour_and_day(store: EmbeddedStore) -> None:
    hour = END - 10 * DAY + 3 * HOUR
    before = await store.points("gw", "icmp.rtt_avg_ms", hour, hour + HOUR, 3600, "max")
    assert before[0].count == 12
    await store.write([Sample(DEVICE_METRICS, "gw", "icmp.rtt_avg_ms", 999.0, hour + 7 * S)])
    await store.maintain()
    sid_of = sids(store.path)
    row = rollup_rows(store.path, "hour", sid_of)[SERIES[0]][hour]
    assert row[0] == 13 and row[3] == 999.0
    day_row = rollup_rows(store.path, "day", sid_of)[SERIES[0]][hour - hour % DAY]
    assert day_row[0] == 289 and day_row[3] == 999.0
    await store.close()


async def test_minute_rollups_for_samples_finer_than_a_minute(tmp_path: Path) -> None:
    now = START + 4 * HOUR
    s = EmbeddedStore(tmp_path / "m.db", now_ns=lambda: now)
    rng = random.Random(3)
    points = {START + i * 10 * S: rng.uniform(1, 50) for i in range(3 * 360)}  # every 10 s
    await s.write(
        [Sample(DEVICE_METRICS, "gw", "icmp.rtt_avg_ms", v, t) for t, v in points.items()]
    )
    await s.write([Sample(DEVICE_METRICS, "tick", "x", 0.0, START + 3 * HOUR + 5 * MIN)])
    await s.maintain()
    minutes = rollup_rows(s.path, "minute", sids(s.path))[SERIES[0]]
    want = expected(points, MIN)
    assert set(minutes) == set(want)
    for bucket, row in minutes.items():
        n, total, lo, hi, q = want[bucket]
        assert row == (n, pytest.approx(total, rel=1e-12), lo, hi, q)
    got = await s.points("gw", "icmp.rtt_avg_ms", START, START + 3 * HOUR, 300, "avg")
    assert len(got) == 36 and all(p.count == 30 for p in got)
    await s.close()


async def test_the_file_stops_growing_under_steady_load(tmp_path: Path) -> None:
    """20 days of 60 series at one sample a minute, with short retention: once retention is
    reached, dropped partitions free the pages the new ones reuse."""
    path = tmp_path / "m.db"
    clock = {"now": START}
    retention = Retention(raw_days=2, minute_days=1, hour_days=3, day_days=5)
    s = EmbeddedStore(path, retention=retention, now_ns=lambda: clock["now"], seal_rows=50_000)
    sizes = {}
    rng = random.Random(5)
    for day in range(20):
        for hour in range(24):
            t_hour = START + day * DAY + hour * HOUR
            batch = [
                Sample(DEVICE_METRICS, f"d{i // 6}", f"m{i % 6}", rng.random(), t_hour + m * MIN)
                for m in range(60)
                for i in range(60)
            ]
            clock["now"] = t_hour + HOUR
            await s.write(batch)
        await s.maintain()
        sizes[day] = path.stat().st_size
    await s.close()
    assert min(p for p in s.catalog.parts["raw"]) >= START + 17 * DAY
    # from day 10 on, no more growth than a partition's worth of slack (10 %)
    assert sizes[19] <= sizes[9] * 1.10, sizes


async def test_the_fleet_query_equals_one_query_per_series(store: EmbeddedStore) -> None:
    week = END - 7 * DAY
    for start, step, agg in ((week, 3600, "avg"), (week + S, 3600, "max"), (week, 86400, "p95")):
        fleet = await store.fleet(start, END + HOUR, step, agg)  # type: ignore[arg-type]
        metrics = [k for k in SERIES if k[0] == DEVICE_METRICS] + [(DEVICE_METRICS, "tick", "x")]
        assert set(fleet) == {(d, m) for _, d, m in metrics}
        for _, device, metric in metrics:
            one = await store.points(device, metric, start, END + HOUR, step, agg)  # type: ignore[arg-type]
            assert fleet[(device, metric)] == one
    only_cpu = await store.fleet(week, END, 3600, metric_name="cpu_percent")
    assert list(only_cpu) == [("sw", "cpu_percent")]
    await store.close()
