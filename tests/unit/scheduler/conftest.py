"""A FakeClock-driven Scheduler with recording callbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from netgauge.scheduler import Scheduler
from tests.fakes import FakeClock

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


@dataclass
class Recorder:
    """execute/on_skip callbacks that remember what happened and can be told to block."""

    clock: FakeClock
    runs: list[tuple[str, datetime, datetime]] = field(default_factory=list)  # name, due, started
    finished: list[str] = field(default_factory=list)
    skips: list[tuple[str, datetime, str]] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)  # clock seconds a run takes
    failing: set[str] = field(default_factory=set)

    async def execute(self, name: str, scheduled_at: datetime) -> None:
        self.runs.append((name, scheduled_at, self.clock.now()))
        if name in self.failing:
            raise RuntimeError(f"{name} is broken")
        if self.durations.get(name):
            await self.clock.sleep(self.durations[name])
        self.finished.append(name)

    async def on_skip(self, name: str, scheduled_at: datetime, reason: str) -> None:
        self.skips.append((name, scheduled_at, reason))

    def due_times(self, name: str) -> list[datetime]:
        return [due for job, due, _ in self.runs if job == name]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def recorder(clock: FakeClock) -> Recorder:
    return Recorder(clock)


@pytest.fixture
def scheduler(clock: FakeClock, recorder: Recorder) -> Scheduler:
    return Scheduler(recorder.execute, recorder.on_skip, clock, stop_grace_s=30.0)


@pytest.fixture
async def running(scheduler: Scheduler, clock: FakeClock) -> AsyncIterator[Scheduler]:
    """The scheduler with run() going in a task; stopped (and checked) at teardown."""
    task = asyncio.create_task(scheduler.run())
    await clock.settle()
    yield scheduler
    stopper = asyncio.create_task(scheduler.stop())
    await clock.advance(60)  # past the stop grace
    # A real-time bound only as a safety net: a broken stop() fails fast instead of hanging.
    await asyncio.wait_for(asyncio.gather(stopper, task), timeout=5)
