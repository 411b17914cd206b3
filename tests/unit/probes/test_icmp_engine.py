"""The ICMP engine against a fake socket: full send buffers, send errors, the in-flight table."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable

from netgauge.models import ProbeStatus, Target
from netgauge.probes.icmp import IcmpParams, IcmpProbe
from tests.unit.probes.fake_icmp import FakeOpener, send_error

FAST = {"interval": 0.001, "timeout": 1.0, "pace_ms": 0}
NO_ROUTE = send_error(errno.EHOSTUNREACH)


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Let the loop run until ``condition()`` holds (bounded: fails after ~5 s)."""
    for _ in range(5000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"never happened: {what}")


async def test_two_batches_waiting_on_a_full_send_buffer_both_resume() -> None:
    opener = FakeOpener(blocked=True)  # every send meets a full buffer until unblock()
    probe = IcmpProbe(opener=opener)  # one engine, hence one socket, for both runs
    params = IcmpParams(count=1, **FAST)
    runs = [
        asyncio.create_task(probe.run(Target(name=a, address=a), params))
        for a in ("127.0.0.1", "127.0.0.2")
    ]
    await wait_until(
        lambda: socket.AF_INET in opener.socks and opener.socks[socket.AF_INET].would_block >= 2,
        "both batches waiting for room in the send buffer",
    )
    assert not any(run.done() for run in runs)
    opener.socks[socket.AF_INET].unblock()
    async with asyncio.timeout(5):  # before the fix the first batch was never woken
        results = await asyncio.gather(*runs)
    assert [r.status for r in results] == [ProbeStatus.OK, ProbeStatus.OK]
    assert [r.metrics["received"] for r in results] == [1, 1]
