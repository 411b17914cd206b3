"""Work repeated on the service's clock until stopped (the analytics' recomputes and records).

One rule for all of them: the first run comes one period after the start (a start is not
held up by it), and a run that fails is logged and the schedule goes on: a bug in one pass
must not stop the next ones, nor the service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from netgauge.clock import Clock

log = structlog.get_logger(__name__)


class Every:
    """``work`` every ``every_s`` seconds of ``clock`` between :meth:`start` and
    :meth:`stop`."""

    def __init__(
        self, name: str, every_s: float, clock: Clock, work: Callable[[], Awaitable[object]]
    ) -> None:
        self.name, self.every_s, self._clock, self._work = name, every_s, clock, work
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"netgauge-{self.name}")

    async def stop(self) -> None:
        """Stop the schedule; a run under way is cancelled (each says what that leaves)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._clock.sleep(self.every_s)
            try:
                await self._work()
            except Exception:  # the next period runs again
                log.exception("periodic.failed", work=self.name)
