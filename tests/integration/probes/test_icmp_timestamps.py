"""Kernel receive stamps on loopback: used for real, and they keep burst RTTs flat."""

from __future__ import annotations

import ipaddress
import socket
import statistics
from typing import Any

import pytest

from netgauge.models import ProbeStatus, Target
from netgauge.probes.icmp import IcmpParams, IcmpProbe, SocketMode
from netgauge.probes.icmp_socket import SO_TIMESTAMPNS, IcmpSocket, open_icmp_socket

pytestmark = [pytest.mark.network]

BURST = 2000
BURST_PARAMS = IcmpParams(count=1, timeout=2.0, pace_ms=0, socket_mode=SocketMode.DGRAM)


def loopback_targets(n: int) -> list[Target]:
    """``n`` distinct addresses of 127.0.0.0/8 (every one answers on Linux loopback)."""
    base = int(ipaddress.IPv4Address("127.1.0.1"))
    return [Target(name=str(a), address=str(a)) for a in map(ipaddress.IPv4Address,
            range(base, base + n))]  # fmt: skip


def without_kernel_stamps(family: int, mode: SocketMode, **options: Any) -> IcmpSocket:
    """The real opener, with SO_TIMESTAMPNS switched off again: the userspace-stamp path."""
    icmp = open_icmp_socket(family, mode, **options)
    icmp.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 0)
    return icmp


async def burst_rtts(probe: IcmpProbe) -> tuple[list[float], set[object]]:
    results = await probe.run_batch(loopback_targets(BURST), BURST_PARAMS)
    assert all(r.status is ProbeStatus.OK for r in results), [r.error for r in results][:3]
    rtts = [r.metrics["rtt_avg_ms"] for r in results]
    return [rtt for rtt in rtts if rtt is not None], {r.details["timestamps"] for r in results}


async def test_loopback_rtts_come_from_kernel_stamps(dgram_icmp: None) -> None:
    params = IcmpParams(count=3, interval=0.01, timeout=1.0, pace_ms=0)
    result = await IcmpProbe().run(Target(name="lo", address="127.0.0.1"), params)
    assert result.status is ProbeStatus.OK
    assert result.details["timestamps"] == "kernel"
    assert result.metrics["rtt_min_ms"] is not None and result.metrics["rtt_min_ms"] > 0


async def test_kernel_stamps_keep_burst_rtts_below_userspace_ones(dgram_icmp: None) -> None:
    # With userspace stamps, a reply waits in the socket buffer until the sender yields,
    # so RTTs grow with the burst; the kernel stamps the reply as it arrives.
    kernel, kernel_sources = await burst_rtts(IcmpProbe())
    user, user_sources = await burst_rtts(IcmpProbe(opener=without_kernel_stamps))
    assert kernel_sources == {"kernel"} and user_sources == {"userspace"}
    assert statistics.median(kernel) < statistics.median(user)
