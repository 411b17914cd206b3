"""Samples written into hours the embedded store has already rolled up (a second agent's
backfill, a late sample) count in every stepped answer at once: before the head holding them
is sealed, while their hours wait for their redo, and after it.

The truth is the samples the test wrote, summed up here by plain arithmetic per bucket.
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

from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage.embedded import EmbeddedStore

S = 1_000_000_000
MIN, HOUR, DAY = 60 * S, 3600 * S, 86_400 * S
NOW = 1_760_000_000 * S // DAY * DAY + 5 * HOUR + 1234 * S  # mid-hour, 10 days of history
HOURS = 240
FROM_DAY = (NOW - HOURS * HOUR) // DAY * DAY  # whole days, so day steps tile the range
UNTIL = NOW + S

Points = dict[int, float]


def hourly(seed: int) -> Points:
    """One sample an hour for 10 days up to now, at an odd second past each hour."""
    rng = random.Random(seed)
    return {NOW - i * HOUR: round(rng.uniform(0, 100), 2) for i in range(HOURS)}


def samples(device: str, points: Points) -> list[Sample]:
    return [Sample(DEVICE_METRICS, device, "cpu_percent", v, ts) for ts, v in points.items()]


def want(points: Points, origin: int, step: int) -> list[tuple[int, float, float, float, int]]:
    """(bucket, mean, min, max, count) per step from ``origin``, by arithmetic."""
    buckets: dict[int, list[float]] = defaultdict(list)
    for ts, value in points.items():
        if origin <= ts < UNTIL:
            buckets[origin + (ts - origin) // step * step].append(value)
    return [(b, math.fsum(v) / len(v), min(v), max(v), len(v)) for b, v in sorted(buckets.items())]


async def got(
    store: EmbeddedStore, device: str, origin: int, step_s: int
) -> list[tuple[int, Any, float, float, int]]:
    found = await store.points(device, "cpu_percent", origin, UNTIL, step_s, "avg")
    return [(p.ts_ns, pytest.approx(p.value, rel=1e-12), p.min, p.max, p.count) for p in found]


async def assert_steps_match(store: EmbeddedStore, device: str, points: Points) -> None:
    """Hour and day steps (one rollup row each: the fleet's fast path), steps of several
    rollup rows and a step no rollup tiles (raw) all equal the truth, and the fleet query
    gives the same as one query per series."""
    hour_origin = (NOW - HOURS * HOUR) // HOUR * HOUR
    steps = ((hour_origin, 3600), (FROM_DAY, 86400), (hour_origin, 7200), (FROM_DAY, 172800))
    for origin, step_s in (*steps, (hour_origin, 3599)):
        assert await got(store, device, origin, step_s) == want(points, origin, step_s * S), (
            device,
            step_s,
        )
        fleet = await store.fleet(origin, UNTIL, step_s, "avg")
        one = await store.points(device, "cpu_percent", origin, UNTIL, step_s, "avg")
        assert fleet[(device, "cpu_percent")] == one, (device, step_s)


def redo_steps(store: EmbeddedStore, every: int = 1) -> Iterator[None]:
    """Run the store's pending rollup work one step at a time (as the writer does between
    batches), yielding after every ``every`` steps and after the last."""
    steps = 0
    while True:
        with store._wlock:
            done = store._maint.roll(max_steps=1)
        steps += 1
        if done or steps % every == 0:
            yield
        if done:
            return


def dirty(store: EmbeddedStore) -> int:
    """Hours and days waiting for their redo, read from the file."""
    return int(sqlite3.connect(store.path).execute("SELECT count(*) FROM dirty").fetchone()[0])


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    ticks = {"s": 0.0}
    s = EmbeddedStore(tmp_path / "m.db", now_ns=lambda: NOW, monotonic=lambda: ticks["s"])
    s.ticks = ticks  # type: ignore[attr-defined]
    yield s
    await s.close()


async def tick(store: EmbeddedStore) -> None:
    """Let the writer's 10 s maintenance tick fire with the next write (another device's)."""
    store.ticks["s"] += 10.0  # type: ignore[attr-defined]
    await store.write([Sample(DEVICE_METRICS, "other", "x", 0.0, NOW)])


async def test_a_second_agents_backfill_counts_in_hour_and_day_steps(
    store: EmbeddedStore,
) -> None:
    first, second = hourly(1), hourly(2)
    await store.write(samples("a", first))  # its hours are sealed and rolled up at once
    await store.write(samples("b", second))  # every hour but the open one is rolled up already
    assert len(await store.points("b", "cpu_percent", FROM_DAY, UNTIL)) == HOURS
    await assert_steps_match(store, "a", first)
    await assert_steps_match(store, "b", second)  # still in the head
    await tick(store)  # sealed into blocks, the first redos done
    assert 0 < dirty(store) < HOURS
    await assert_steps_match(store, "b", second)
    for _ in redo_steps(store, every=7):  # the rest a step at a time
        await assert_steps_match(store, "b", second)
    assert dirty(store) == 0
    await store.maintain()
    await assert_steps_match(store, "a", first)
    await assert_steps_match(store, "b", second)


async def test_a_late_sample_in_an_hour_rolled_up_for_its_own_series_counts(
    store: EmbeddedStore,
) -> None:
    points = hourly(3)
    await store.write(samples("a", points))
    await store.maintain()
    late = {NOW - 100 * HOUR + 7 * S: 1000.0, NOW - 30 * HOUR - 5 * S: -3.0}
    await store.write(samples("a", late))  # into hours whose rollup rows exist: now stale
    points.update(late)
    await assert_steps_match(store, "a", points)
    with store._wlock:  # sealed, before its first redo
        store._seal(store._sealed_until)
    assert dirty(store) == 4  # two hours, two days
    await assert_steps_match(store, "a", points)
    for _ in redo_steps(store):
        await assert_steps_match(store, "a", points)
    await store.maintain()
    await assert_steps_match(store, "a", points)


async def test_a_late_value_replacing_a_rolled_up_one_counts_once(store: EmbeddedStore) -> None:
    points = hourly(4)
    await store.write(samples("a", points))
    await store.maintain()
    ts = NOW - 50 * HOUR
    await store.write(samples("a", {ts: 555.5}))  # same timestamp: the newer value wins
    points[ts] = 555.5
    await assert_steps_match(store, "a", points)
    await tick(store)
    await assert_steps_match(store, "a", points)
    await store.maintain()
    await assert_steps_match(store, "a", points)


async def test_late_samples_finer_than_a_minute_count_in_minute_steps(
    store: EmbeddedStore,
) -> None:
    hour = NOW // HOUR * HOUR - 5 * HOUR
    rng = random.Random(5)
    first = {hour + i * 10 * S: rng.uniform(1, 50) for i in range(360)}  # every 10 s
    second = {hour + i * 10 * S + 3 * S: rng.uniform(1, 50) for i in range(360)}
    await store.write(samples("a", first))
    await store.write(samples("other", {NOW: 1.0}))  # the hour closes: rolled up at once
    await store.write(samples("b", second))

    async def assert_minutes_match(device: str, points: Points) -> None:
        found = await store.points(device, "cpu_percent", hour, hour + HOUR, 300, "avg")
        expected = want(points, hour, 300 * S)
        assert [(p.ts_ns, pytest.approx(p.value), p.count) for p in found] == [  # type: ignore[comparison-overlap]
            (b, mean, n) for b, mean, _, _, n in expected
        ], device

    await assert_minutes_match("a", first)
    await assert_minutes_match("b", second)
    late = {hour + i * 60 * S + 5 * S: rng.uniform(1, 50) for i in range(0, 60, 7)}
    await store.write(samples("a", late))  # into minutes rolled up from `first`: now stale
    first.update(late)
    await assert_minutes_match("a", first)
    await tick(store)
    await assert_minutes_match("a", first)
    await store.maintain()
    await assert_minutes_match("a", first)
    await assert_minutes_match("b", second)
