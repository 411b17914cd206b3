"""ICMP against hosts in a network namespace lab: answering, silent, lossy, unreachable, many."""

from __future__ import annotations

from typing import Any

import pytest

from netgauge.models import ProbeStatus, Target
from netgauge.probes.icmp import IcmpParams, IcmpProbe, SocketMode
from tests.integration.probes.conftest import LabHosts
from tests.lab import missing_requirement

pytestmark = [pytest.mark.privileged, pytest.mark.network]

# 1 s: a loaded CI machine may need more than a few hundred ms to answer 5 of 5.
QUICK = IcmpParams(count=5, interval=0.02, timeout=1.0, pace_ms=0)


async def probe_one(address: str, params: IcmpParams = QUICK) -> dict[str, Any]:
    result = await IcmpProbe().run(Target(name=address, address=address), params)
    return {"status": result.status, **result.metrics}


async def test_answering_host_has_no_loss(lab_hosts: LabHosts) -> None:
    m = await probe_one(lab_hosts.answering4)
    assert m["status"] is ProbeStatus.OK
    assert (m["sent"], m["received"], m["loss_pct"]) == (5, 5, 0.0)


async def test_answering_ipv6_host_has_no_loss(lab_hosts: LabHosts) -> None:
    if lab_hosts.answering6 is None:
        pytest.skip("no IPv6 on this host")
    m = await probe_one(lab_hosts.answering6)
    assert m["status"] is ProbeStatus.OK
    assert (m["received"], m["loss_pct"]) == (5, 0.0)


async def test_silent_host_is_a_timeout_without_rtt(lab_hosts: LabHosts) -> None:
    result = await IcmpProbe().run(Target(name="silent", address=lab_hosts.silent4), QUICK)
    assert result.status is ProbeStatus.TIMEOUT
    assert result.metrics["loss_pct"] == 100.0
    assert result.metrics["sent"] == 5 and result.metrics["received"] == 0
    rtt_keys = ("rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "rtt_mdev_ms", "jitter_ms")
    assert all(result.metrics[k] is None for k in rtt_keys)


async def test_unreachable_host_is_a_failure_with_the_send_error(lab_hosts: LabHosts) -> None:
    result = await IcmpProbe().run(Target(name="unr", address=lab_hosts.unreachable4), QUICK)
    assert result.status is ProbeStatus.FAILED
    # Every send is refused (EHOSTUNREACH): each one counts as sent and lost, like ping.
    assert result.error == "5 of 5 sends failed: No route to host"
    assert result.metrics["sent"] == 5 and result.metrics["received"] == 0
    assert result.metrics["loss_pct"] == 100.0


async def test_random_loss_shows_as_partial_loss(lab_hosts: LabHosts) -> None:
    if lab_hosts.lossy4 is None:
        pytest.skip(missing_requirement(iptables=True) or "no lossy host")
    params = IcmpParams(count=40, interval=0.01, timeout=0.3, pace_ms=0)
    m = await probe_one(lab_hosts.lossy4, params)
    # P(drop) = 0.5 per packet: 0 or 40 drops out of 40 has probability 2 * 2^-40.
    loss = m["loss_pct"]
    assert loss is not None and 0.0 < loss < 100.0
    assert m["status"] is ProbeStatus.OK and m["sent"] == 40


@pytest.mark.parametrize("mode", [SocketMode.RAW, SocketMode.DGRAM])
async def test_batch_of_500_lab_hosts_all_answer(
    lab_hosts: LabHosts, mode: SocketMode, request: pytest.FixtureRequest
) -> None:
    if mode is SocketMode.DGRAM:
        request.getfixturevalue("dgram_icmp")
    targets = [Target(name=a, address=a) for a in lab_hosts.many4]
    params = IcmpParams(count=1, timeout=1.0, pace_ms=0, socket_mode=mode)
    results = await IcmpProbe().run_batch(targets, params)
    silent = [r.target for r in results if r.status is not ProbeStatus.OK]
    assert silent == []
    assert len(results) == 500


async def test_mixed_batch_keeps_each_target_apart(lab_hosts: LabHosts) -> None:
    addresses = [lab_hosts.answering4, lab_hosts.silent4, lab_hosts.unreachable4, "127.0.0.1"]
    targets = [Target(name=a, address=a) for a in addresses]
    results = await IcmpProbe().run_batch(targets, QUICK)
    statuses = [r.status for r in results]
    assert statuses == [ProbeStatus.OK, ProbeStatus.TIMEOUT, ProbeStatus.FAILED, ProbeStatus.OK]
