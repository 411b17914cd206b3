"""RTTs from kernel receive stamps (SO_TIMESTAMPNS), the monotonic fallback and its guard."""

from __future__ import annotations

import socket
import struct

import pytest

from netgauge.models import ProbeStatus, Target
from netgauge.probes.icmp import IcmpParams, IcmpProbe
from netgauge.probes.icmp_engine import STAMP_SLACK_NS, choose_rtt
from netgauge.probes.icmp_socket import SO_TIMESTAMPNS, kernel_stamp_ns
from tests.unit.probes.fake_icmp import FakeOpener, Stamp

PARAMS = IcmpParams(count=4, interval=0.001, timeout=1.0, pace_ms=0)
TEN_S = 10_000_000_000


async def probe_with(stamp: Stamp) -> tuple[ProbeStatus, dict[str, float | None], object]:
    probe = IcmpProbe(opener=FakeOpener(stamp=stamp))
    result = await probe.run(Target(name="t", address="127.0.0.1"), PARAMS)
    return result.status, dict(result.metrics), result.details["timestamps"]


def test_the_kernel_rtt_is_kept_when_plausible() -> None:
    assert choose_rtt(900_000, 400_000) == (400_000, True)
    assert choose_rtt(900_000, 0) == (0, True)
    assert choose_rtt(900_000, 900_000 + STAMP_SLACK_NS) == (900_000 + STAMP_SLACK_NS, True)


def test_a_negative_or_absurd_kernel_rtt_falls_back_to_the_monotonic_one() -> None:
    assert choose_rtt(900_000, -1) == (900_000, False)  # wall clock stepped back
    assert choose_rtt(900_000, 900_001 + STAMP_SLACK_NS) == (900_000, False)  # stepped forward
    assert choose_rtt(900_000, None) == (900_000, False)  # no stamp


def test_the_stamp_is_read_from_the_ancillary_data() -> None:
    timespec = struct.pack("=qq", 1_700_000_000, 123_456_789)
    other = (socket.IPPROTO_IP, 8, b"\0" * 4)
    ancdata = [other, (socket.SOL_SOCKET, SO_TIMESTAMPNS, timespec)]
    assert kernel_stamp_ns(ancdata) == 1_700_000_000_123_456_789
    assert kernel_stamp_ns([other]) is None
    assert kernel_stamp_ns([]) is None


async def test_rtts_come_from_the_kernel_stamps_when_given() -> None:
    # The "kernel" saw each reply 50 us after sendto accepted the request.
    status, metrics, source = await probe_with(lambda sent: sent + 50_000)
    assert status is ProbeStatus.OK and source == "kernel"
    assert metrics["received"] == 4
    assert metrics["rtt_min_ms"] is not None and metrics["rtt_min_ms"] >= 0.05


async def test_without_stamps_the_rtts_are_userspace_ones() -> None:
    status, metrics, source = await probe_with(lambda _sent: None)
    assert status is ProbeStatus.OK and source == "userspace"
    assert metrics["received"] == 4


@pytest.mark.parametrize("step_ns", [-TEN_S, TEN_S], ids=["clock-back", "clock-forward"])
async def test_a_wall_clock_step_during_the_round_keeps_sane_rtts(step_ns: int) -> None:
    status, metrics, source = await probe_with(lambda sent: sent + step_ns)
    assert status is ProbeStatus.OK and source == "userspace"
    assert metrics["received"] == 4 and metrics["loss_pct"] == 0.0
    assert metrics["rtt_min_ms"] is not None and metrics["rtt_min_ms"] >= 0.0
    assert metrics["rtt_max_ms"] is not None and metrics["rtt_max_ms"] < 1000.0


async def test_a_step_midway_mixes_sources_but_loses_nothing() -> None:
    calls = iter(range(100))
    status, metrics, source = await probe_with(
        lambda sent: sent - TEN_S if next(calls) == 2 else sent + 10_000
    )
    assert status is ProbeStatus.OK and source == "mixed"
    assert metrics["received"] == 4
