"""Traceroute to loopback (no root needed for UDP): the destination is the first hop."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from netgauge.models import ProbeStatus, Target
from netgauge.probes.traceroute import TracerouteParams, TracerouteProbe
from tests.integration.probes.conftest import ipv6_loopback_missing

pytestmark = [pytest.mark.network]


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
async def test_udp_to_loopback_is_one_hop(address: str) -> None:
    if ":" in address and ipv6_loopback_missing():
        pytest.skip(ipv6_loopback_missing() or "")
    params = TracerouteParams(mode="udp", timeout=0.5, interval=0.0)
    result = await TracerouteProbe().run(Target(address, address), params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.details["path"] == [address]
    assert result.metrics["hops"] == 1.0 and result.metrics["loss_pct"] == 0.0


async def test_icmp_to_ipv6_loopback_over_a_datagram_socket(dgram_icmp: None) -> None:
    if ipv6_loopback_missing():
        pytest.skip(ipv6_loopback_missing() or "")
    params = TracerouteParams(mode="icmp", timeout=0.5, interval=0.0)
    result = await TracerouteProbe().run(Target("::1", "::1"), params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.details["path"] == ["::1"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "netgauge", "probe", "traceroute", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_an_mtr_style_run_of_100_rounds() -> None:
    # mtr -c 100: a hundred probes per hop, each one counted
    done = _cli("--probes", "100", "--interval", "0.005", "--json", "127.0.0.1")
    assert done.returncode == 0, done.stdout + done.stderr
    [hop] = json.loads(done.stdout)["hops"]
    assert (hop["sent"], hop["received"], hop["loss_pct"]) == (100, 100, 0.0)


def test_a_run_is_bounded() -> None:
    too_many = _cli("--probes", "1001", "127.0.0.1")
    assert too_many.returncode == 2 and "--probes" in too_many.stderr
    too_long = _cli("--probes", "1000", "--interval", "1", "127.0.0.1")
    assert too_long.returncode == 2 and "at most 900 s" in too_long.stderr
