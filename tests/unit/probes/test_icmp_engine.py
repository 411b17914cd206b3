"""The ICMP engine against a fake socket: full send buffers, send errors, the in-flight table."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
from collections.abc import Callable

import pytest

from netgauge.cli.probe_icmp import _render_json, _render_table
from netgauge.models import ProbeStatus, Target
from netgauge.probes.icmp import IcmpParams, IcmpProbe
from netgauge.probes.icmp_engine import IcmpEngine, TargetRun
from tests.unit.probes.fake_icmp import ANSWER, SILENT, FakeOpener, FakeSock, Outcome, send_error

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


async def test_a_cancelled_send_leaves_the_other_waiters_waiting() -> None:
    opener = FakeOpener(blocked=True)
    loop = asyncio.get_running_loop()
    engine = IcmpEngine(loop, opener=opener)
    sock = engine_sock(engine, opener)
    schedule = IcmpParams(count=1, **FAST).options().schedule()
    addresses = ("127.0.0.1", "127.0.0.2")
    runs = [TargetRun(address=a, family=socket.AF_INET, count=1) for a in addresses]
    batches = [asyncio.create_task(engine.send_batch([run], schedule)) for run in runs]
    try:
        await wait_until(lambda: sock.would_block >= 2, "both sends waiting")
        batches[0].cancel()  # e.g. the runner's deadline
        await asyncio.gather(batches[0], return_exceptions=True)
        sock.unblock()
        async with asyncio.timeout(5):
            await batches[1]
        assert runs[1].rtt_ns[0] is not None and runs[0].sent == 0
        assert not loop.remove_writer(sock.fileno())  # nobody is watching any more
    finally:
        engine.close()


def engine_sock(engine: IcmpEngine, opener: FakeOpener) -> FakeSock:
    engine.ensure_socket(socket.AF_INET)
    return opener.socks[socket.AF_INET]


def failing(*bad: int) -> FakeOpener:
    """Sends number ``bad`` (from 0) to any address fail with EHOSTUNREACH, others answer."""

    def outcome(_address: str, n: int) -> Outcome:
        return NO_ROUTE if n in bad else ANSWER

    return FakeOpener(outcome)


async def test_a_send_error_midway_is_counted_lost_and_reported() -> None:
    opener = failing(2, 3)  # packets 3 and 4 of 5
    target = Target(name="t", address="127.0.0.1")
    result = await IcmpProbe(opener=opener).run(target, IcmpParams(count=5, **FAST))
    assert opener.socks[socket.AF_INET].requests == {"127.0.0.1": 5}  # the rest still went
    assert result.status is ProbeStatus.OK
    m = result.metrics
    assert (m["sent"], m["received"], m["loss_pct"]) == (5, 3, 40.0)
    assert result.error == "2 of 5 sends failed: No route to host"
    table = _render_table([target], [result])
    assert table.splitlines()[1].split()[2:5] == ["5", "3", "40.0%"]
    assert table.splitlines()[-1] == "t: 2 of 5 sends failed: No route to host"
    assert '"sent":5,"received":3,"loss_pct":40.0' in _render_json([target], [result])


async def test_a_send_error_every_time_is_a_failure_with_every_packet_lost() -> None:
    opener = failing(0, 1, 2, 3)
    result = await IcmpProbe(opener=opener).run(
        Target(name="t", address="127.0.0.1"), IcmpParams(count=4, **FAST)
    )
    assert result.status is ProbeStatus.FAILED
    assert (result.metrics["sent"], result.metrics["received"]) == (4, 0)
    assert result.metrics["loss_pct"] == 100.0 and result.metrics["rtt_avg_ms"] is None
    assert result.error == "4 of 4 sends failed: No route to host"


async def test_a_failing_target_does_not_disturb_the_others() -> None:
    def outcome(address: str, n: int) -> Outcome:
        return send_error(errno.EPERM) if address == "127.0.0.2" and n == 0 else ANSWER

    targets = [Target(name=a, address=a) for a in ("127.0.0.1", "127.0.0.2", "127.0.0.3")]
    results = await IcmpProbe(opener=FakeOpener(outcome)).run_batch(
        targets, IcmpParams(count=3, **FAST)
    )
    assert [r.metrics["received"] for r in results] == [3, 2, 3]
    assert [r.error for r in results] == [
        None,
        "1 of 3 sends failed: Operation not permitted",
        None,
    ]


async def test_unanswered_packets_leave_the_in_flight_table_when_they_time_out() -> None:
    opener = FakeOpener(lambda _address, _n: SILENT)
    engine = IcmpEngine(asyncio.get_running_loop(), opener=opener)
    engine.ensure_socket(socket.AF_INET)
    sizes: list[int] = []
    opener.socks[socket.AF_INET].on_send = lambda: sizes.append(engine.in_flight)
    targets, count = 20, 30
    runs = [
        TargetRun(address=f"127.0.0.{i + 1}", family=socket.AF_INET, count=count)
        for i in range(targets)
    ]
    params = IcmpParams(count=count, interval=0.01, timeout=0.015, pace_ms=0)
    try:
        await engine.send_batch(runs, params.options().schedule())
    finally:
        engine.close()
    assert len(sizes) == targets * count
    assert all(run.sent == count and run.rtt_ns == [None] * count for run in runs)
    # Sends to one target are >= interval - 2 ms = 8 ms apart, so at most 2 of its packets
    # are younger than the 15 ms timeout when the next one goes: 40 in all. (A slow machine
    # only spreads the sends further.) Without expiry the table grew to 599.
    assert max(sizes) <= 2 * targets
    assert engine.in_flight == 0


async def test_a_round_reports_percentiles_and_its_rtt_distribution() -> None:
    opener = FakeOpener(lambda _a, n: SILENT if n == 1 else ANSWER)
    target = Target(name="t", address="127.0.0.1")
    result = await IcmpProbe(opener=opener).run(target, IcmpParams(count=4, **FAST))
    rtts = result.details["rtts_ms"]
    assert len(rtts) == 3 and rtts == sorted(rtts)
    assert result.metrics["rtt_min_ms"] == pytest.approx(rtts[0], abs=1e-3)
    assert result.metrics["rtt_median_ms"] == pytest.approx(rtts[1], abs=1e-3)
    assert result.metrics["rtt_p99_ms"] is not None
    row = json.loads(_render_json([target], [result]))
    for key in ("rtt_median_ms", "rtt_p50_ms", "rtt_p90_ms", "rtt_p95_ms", "rtt_p99_ms"):
        assert row[key] == result.metrics[key]
    assert row["rtts_ms"] == rtts


async def test_a_silent_round_has_an_empty_distribution_and_no_percentiles() -> None:
    opener = FakeOpener(lambda _a, _n: SILENT)
    params = IcmpParams(count=2, interval=0.001, timeout=0.05, pace_ms=0)
    result = await IcmpProbe(opener=opener).run(Target(name="t", address="127.0.0.1"), params)
    assert result.status is ProbeStatus.TIMEOUT
    assert result.details["rtts_ms"] == []
    assert result.metrics["rtt_p95_ms"] is None and result.metrics["rtt_median_ms"] is None
