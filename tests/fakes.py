"""Test doubles shared by every test suite."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock"]

_US_PER_S = 1_000_000
# asyncio.sleep(0) rounds run at least this often after each wake-up, then more while the
# loop still has callbacks ready (bounded, so a task spinning on sleep(0) cannot hang a test).
_MIN_SETTLE_ROUNDS = 5
_MAX_SETTLE_ROUNDS = 1_000


class FakeClock:
    """A Clock that tests drive: time passes only in ``advance``; sleepers wake in order.

    Time is kept in integer microseconds, so wall and monotonic time move together exactly.
    """

    def __init__(self, start: datetime | None = None, *, monotonic_start: float = 1_000.0) -> None:
        start = start if start is not None else datetime(2024, 1, 1, tzinfo=UTC)
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._wall_base = start.astimezone(UTC)
        self._mono_base = monotonic_start
        self._elapsed_us = 0
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # FIFO among sleepers due at the same instant
        self.sleep_calls = 0

    def now(self) -> datetime:
        """Current fake wall time, aware UTC."""
        return self._wall_base + timedelta(microseconds=self._elapsed_us)

    def monotonic(self) -> float:
        """Fake monotonic seconds; moves exactly with now() under advance()."""
        return self._mono_base + self._elapsed_us / _US_PER_S

    def set_now(self, when: datetime) -> None:
        """Step the wall clock (like an NTP step): monotonic time and sleepers are untouched."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("set_now needs a timezone-aware datetime")
        self._wall_base = when.astimezone(UTC) - timedelta(microseconds=self._elapsed_us)

    async def sleep(self, seconds: float) -> None:
        """Wait until advance() reaches now + seconds; <= 0 just yields once."""
        self.sleep_calls += 1
        wake_us = self._elapsed_us + round(max(0.0, seconds) * _US_PER_S)
        if wake_us <= self._elapsed_us:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (wake_us, next(self._order), future))
        await future  # a cancelled sleep cancels the future; advance() skips it

    @property
    def sleepers(self) -> int:
        """How many tasks are currently sleeping on this clock."""
        return sum(not future.done() for *_, future in self._sleepers)

    def next_wake(self) -> datetime | None:
        """Wall time at which the earliest sleeper wakes, if any."""
        pending = [wake for wake, _, future in self._sleepers if not future.done()]
        return self._wall_at(min(pending)) if pending else None

    async def advance(self, seconds: float) -> None:
        """Move time forward step by step, waking sleepers in order and letting them run."""
        if seconds < 0:
            raise ValueError("time does not go backwards; use set_now for wall-clock steps")
        target_us = self._elapsed_us + round(seconds * _US_PER_S)
        await self.settle()  # tasks that are about to sleep must register first
        while self._sleepers and self._sleepers[0][0] <= target_us:
            self._elapsed_us = max(self._elapsed_us, self._sleepers[0][0])
            self._wake_due()
            await self.settle()
        self._elapsed_us = target_us
        await self.settle()

    async def advance_to(self, when: datetime) -> None:
        """advance() until now() == when."""
        await self.advance((when - self.now()).total_seconds())

    async def settle(self) -> None:
        """Yield to the event loop until the tasks made ready have run."""
        loop = asyncio.get_running_loop()
        for round_ in range(_MAX_SETTLE_ROUNDS):
            await asyncio.sleep(0)
            # _ready is CPython's private run queue; without it, settle for the minimum only.
            if round_ >= _MIN_SETTLE_ROUNDS and not getattr(loop, "_ready", None):
                return

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._elapsed_us:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def _wall_at(self, elapsed_us: int) -> datetime:
        return self._wall_base + timedelta(microseconds=elapsed_us)
