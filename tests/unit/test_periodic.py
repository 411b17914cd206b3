"""The one schedule of the analytics' periodic work: first run one period after the start,
a failing run logged and the next one still made, nothing after stop."""

from __future__ import annotations

import structlog.testing

from netgauge.periodic import Every
from tests.fakes import FakeClock


async def test_runs_each_period_survives_a_failure_and_stops() -> None:
    clock = FakeClock()
    runs: list[float] = []

    async def work() -> None:
        runs.append(clock.monotonic())
        if len(runs) == 1:
            raise RuntimeError("a bug in the first pass")

    every = Every("test-work", 60.0, clock, work)
    with structlog.testing.capture_logs() as logs:
        every.start()
        await clock.advance(59.0)
        assert runs == []  # not at the start: one period after it
        await clock.advance(1.0)
        await clock.advance(60.0)
        assert [r - runs[0] for r in runs] == [0.0, 60.0]  # the failure did not stop it
        await every.stop()
        await clock.advance(600.0)
    assert len(runs) == 2
    failed = [e for e in logs if e["event"] == "periodic.failed"]
    assert [e["work"] for e in failed] == ["test-work"]
