"""ICMP against 127.0.0.1 and ::1 with raw and datagram sockets (only loopback traffic)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from netgauge.models import ProbeStatus, Target
from netgauge.probes.icmp import IcmpParams, IcmpProbe, SocketMode
from netgauge.probes.icmp_engine import IcmpEngine, TargetRun
from tests.integration.probes.conftest import ipv6_loopback_missing

pytestmark = [pytest.mark.network]

FAST = {"interval": 0.02, "timeout": 0.5, "pace_ms": 0}


def mode_param(mode: SocketMode) -> object:
    marks = [pytest.mark.privileged] if mode is SocketMode.RAW else []
    return pytest.param(mode, marks=marks, id=mode.value)


MODES = [mode_param(SocketMode.RAW), mode_param(SocketMode.DGRAM)]


@pytest.fixture
def socket_mode(request: pytest.FixtureRequest) -> SocketMode:
    """The mode under test, with what it needs: root for raw, the sysctl for datagram."""
    mode: SocketMode = request.param
    if mode is SocketMode.RAW and os.geteuid() != 0:
        pytest.skip("raw ICMP sockets need root or CAP_NET_RAW")
    if mode is SocketMode.DGRAM:
        request.getfixturevalue("dgram_icmp")
    return mode


@pytest.mark.parametrize("socket_mode", MODES, indirect=True)
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
async def test_loopback_answers(socket_mode: SocketMode, address: str) -> None:
    if ":" in address and (reason := ipv6_loopback_missing()):
        pytest.skip(reason)
    params = IcmpParams(count=4, socket_mode=socket_mode, **FAST)
    result = await IcmpProbe().run(Target(name="lo", address=address), params)
    assert result.status is ProbeStatus.OK, result.error
    m = result.metrics
    assert (m["sent"], m["received"], m["loss_pct"]) == (4, 4, 0.0)
    rtt_min, rtt_avg, rtt_max = m["rtt_min_ms"], m["rtt_avg_ms"], m["rtt_max_ms"]
    assert rtt_min is not None and rtt_avg is not None and rtt_max is not None
    assert 0 < rtt_min <= rtt_avg <= rtt_max < params.timeout * 1000
    assert m["rtt_mdev_ms"] is not None and m["jitter_ms"] is not None


@pytest.mark.parametrize("socket_mode", MODES, indirect=True)
async def test_ipv4_mapped_ipv6_is_probed_over_ipv4(socket_mode: SocketMode) -> None:
    # ::ffff:127.0.0.1 sent on the IPv6 socket never gets an echo reply back to it.
    params = IcmpParams(count=2, socket_mode=socket_mode, **FAST)
    result = await IcmpProbe().run(Target(name="m", address="::ffff:127.0.0.1"), params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.metrics["received"] == 2


@pytest.mark.parametrize("socket_mode", MODES, indirect=True)
async def test_forced_mode_opens_that_kind_of_socket(socket_mode: SocketMode) -> None:
    engine = IcmpEngine(asyncio.get_running_loop(), socket_mode)
    try:
        icmp = engine.ensure_socket(socket.AF_INET)
        assert icmp is not None and icmp.mode is socket_mode
        expected = socket.SOCK_RAW if socket_mode is SocketMode.RAW else socket.SOCK_DGRAM
        assert icmp.sock.type == expected
        if socket_mode is SocketMode.DGRAM:  # the kernel's identifier is our local port
            assert icmp.ident == icmp.sock.getsockname()[1]
    finally:
        engine.close()


@pytest.mark.privileged
async def test_late_replies_count_as_lost() -> None:
    # Loopback answers in tens of microseconds: far later than a 1 us timeout. The replies
    # to the first packets arrive while the next ones wait for their interval.
    params = IcmpParams(count=3, interval=0.02, timeout=0.000001, socket_mode=SocketMode.RAW)
    result = await IcmpProbe().run(Target(name="lo", address="127.0.0.1"), params)
    assert result.status is ProbeStatus.TIMEOUT
    assert (result.metrics["sent"], result.metrics["received"]) == (3, 0)
    assert result.metrics["rtt_avg_ms"] is None and result.metrics["jitter_ms"] is None


class ResourceWatch:
    """Samples the peak number of asyncio tasks and open file descriptors while it runs."""

    def __init__(self) -> None:
        self.fd_dir = Path("/proc/self/fd")
        self.fds_before = self.open_fds()
        self.peak_tasks = self.peak_fds = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def open_fds(self) -> int:
        return len(list(self.fd_dir.iterdir()))

    async def _sample(self) -> None:
        while not self._stop.is_set():  # bounded: stopped as soon as the probe returns
            self.peak_tasks = max(self.peak_tasks, len(asyncio.all_tasks()))
            self.peak_fds = max(self.peak_fds, self.open_fds())
            await asyncio.sleep(0.001)

    async def __aenter__(self) -> ResourceWatch:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    @property
    def new_fds(self) -> int:
        return self.peak_fds - self.fds_before


@pytest.mark.privileged
async def test_thousands_of_targets_share_one_socket_and_few_tasks() -> None:
    targets = [Target(name=f"t{i}", address=f"127.0.{i // 250}.{i % 250 + 1}") for i in range(2000)]
    params = IcmpParams(count=2, interval=0.05, timeout=1.0, pace_ms=0, socket_mode="raw")
    async with ResourceWatch() as watch:
        results = await IcmpProbe().run_batch(targets, params)
    assert [r.target for r in results] == [t.name for t in targets]
    assert all(r.status is ProbeStatus.OK for r in results)
    assert sum(r.metrics["received"] or 0 for r in results) == 4000
    assert watch.peak_tasks <= 2  # the test and the watcher: nothing per target
    assert watch.new_fds <= 2  # one IPv4 socket (+ the fd directory being listed)


@pytest.mark.privileged
async def test_concurrent_runs_share_one_socket() -> None:
    probe = IcmpProbe()
    params = IcmpParams(count=2, socket_mode="raw", **FAST)
    targets = [Target(name=f"t{i}", address=f"127.0.1.{i}") for i in range(1, 51)]
    async with ResourceWatch() as watch:
        results = await asyncio.gather(*(probe.run(t, params) for t in targets))
    assert all(r.status is ProbeStatus.OK for r in results)
    assert watch.new_fds <= 2  # 50 runs in flight, one socket between them
    assert watch.open_fds() == watch.fds_before  # closed once the last run ended


# Timing checks: the lower bounds follow from the send plan and cannot fail on a slow
# machine (it only spreads sends further); there is no upper bound on wall time, which a
# loaded CI machine could exceed. The spacing is checked on the engine's own send times:
# two sends are never closer than the step minus the 2 ms catch-up (see next_on_timeline).
CATCH_UP_S = 0.002
TIMER_SLACK_S = 0.00001  # asyncio may wake a clock resolution (1 ns) early; float rounding


def gaps_s(times_ns: list[int]) -> list[float]:
    ordered = sorted(times_ns)
    return [(b - a) / 1e9 for a, b in zip(ordered, ordered[1:], strict=False)]


async def probe_runs(targets: list[Target], params: IcmpParams) -> tuple[float, list[TargetRun]]:
    """Run a batch on an engine of our own: (wall seconds, the runs with their send times)."""
    runs = [
        TargetRun(address=t.address, family=socket.AF_INET, count=params.count) for t in targets
    ]
    engine = IcmpEngine(asyncio.get_running_loop(), params.socket_mode)
    started = time.perf_counter()
    try:
        await engine.send_batch(runs, params.options().schedule())
    finally:
        engine.close()
    return time.perf_counter() - started, runs


@pytest.mark.privileged
async def test_pace_spreads_sends_across_targets() -> None:
    targets = [Target(name=f"t{i}", address=f"127.0.2.{i}") for i in range(1, 51)]
    params = IcmpParams(count=1, timeout=0.5, pace_ms=4, socket_mode="raw")
    elapsed, runs = await probe_runs(targets, params)
    assert all(run.rtt_ns[0] is not None for run in runs)
    assert elapsed >= 49 * 0.004  # 49 gaps of 4 ms at least
    sends = [t for run in runs for t in run.sent_ns]
    assert len(sends) == 50
    assert min(gaps_s(sends)) >= 0.004 - CATCH_UP_S - TIMER_SLACK_S  # never a burst


@pytest.mark.privileged
async def test_interval_spaces_packets_to_one_target() -> None:
    params = IcmpParams(count=4, interval=0.05, timeout=0.5, socket_mode="raw")
    elapsed, (run,) = await probe_runs([Target(name="lo", address="127.0.0.1")], params)
    assert sum(rtt is not None for rtt in run.rtt_ns) == 4
    assert elapsed >= 3 * 0.05 - 3 * CATCH_UP_S  # 3 intervals (2 ms catch-up each at most)
    gaps = gaps_s(run.sent_ns)
    assert len(gaps) == 3
    assert min(gaps) >= 0.05 - CATCH_UP_S - TIMER_SLACK_S
