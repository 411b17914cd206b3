"""FakeClock, which other suites reuse: it must wake sleepers in order and never sleep for real."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import FakeClock

START = datetime(2024, 1, 1, tzinfo=UTC)


async def test_sleepers_wake_in_time_order_and_see_their_wake_time() -> None:
    clock = FakeClock(START)
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3), ("a", 1), ("b", 2))]
    await clock.advance(2.5)
    assert woke == [("a", START + timedelta(seconds=1)), ("b", START + timedelta(seconds=2))]
    assert clock.now() == START + timedelta(seconds=2.5)
    await clock.advance(0.5)
    assert [name for name, _ in woke] == ["a", "b", "c"]
    await asyncio.gather(*tasks)


async def test_chained_sleeps_within_one_advance_all_run() -> None:
    clock = FakeClock(START)
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(5):
            await clock.sleep(1)
            ticks.append(clock.monotonic())

    task = asyncio.create_task(ticker())
    await clock.advance(10)
    assert ticks == [1001.0, 1002.0, 1003.0, 1004.0, 1005.0]
    assert task.done()


async def test_monotonic_moves_with_wall_time_but_not_with_set_now() -> None:
    clock = FakeClock(START, monotonic_start=50.0)
    await clock.advance(1.25)
    assert clock.monotonic() == 51.25 and clock.now() == START + timedelta(seconds=1.25)
    clock.set_now(START - timedelta(hours=1))  # an NTP step backwards
    assert clock.monotonic() == 51.25 and clock.now() == START - timedelta(hours=1)


async def test_cancelled_sleeper_is_forgotten() -> None:
    clock = FakeClock(START)
    task = asyncio.create_task(clock.sleep(5))
    await clock.settle()
    assert clock.sleepers == 1 and clock.next_wake() == START + timedelta(seconds=5)
    task.cancel()
    await clock.settle()
    assert clock.sleepers == 0 and clock.next_wake() is None
    await clock.advance(10)  # must not trip over the cancelled future


async def test_zero_sleep_yields_without_waiting() -> None:
    clock = FakeClock(START)
    await asyncio.wait_for(clock.sleep(0), timeout=1)
    await asyncio.wait_for(clock.sleep(-1), timeout=1)
    assert clock.now() == START


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2024, 1, 1))


async def test_advance_backwards_is_rejected() -> None:
    with pytest.raises(ValueError, match="backwards"):
        await FakeClock().advance(-1)


async def test_sleepers_keep_their_monotonic_duration_across_set_now() -> None:
    clock = FakeClock(START)
    woke: list[datetime] = []

    async def sleeper() -> None:
        await clock.sleep(5)
        woke.append(clock.now())

    task = asyncio.create_task(sleeper())
    await clock.advance(1)
    clock.set_now(START - timedelta(hours=1))  # step back: still 4 s to go, not 1 h + 4 s
    assert clock.next_wake() == START - timedelta(hours=1) + timedelta(seconds=4)
    await clock.advance(3.999)
    assert woke == []
    await clock.advance(0.001)
    assert woke == [START - timedelta(hours=1) + timedelta(seconds=4)]
    await task
