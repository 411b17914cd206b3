"""Traceroute through a chain of namespace routers: r1 -> r2 (silent) -> r3 -> dest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

import netgauge.cli.probe_traceroute  # noqa: F401  (registers the command on the app)
from netgauge.cli.app import app
from netgauge.models import ProbeResult, ProbeStatus, Target
from netgauge.probes.traceroute import TracerouteParams, TracerouteProbe
from netgauge.probes.traceroute_socket import (
    ReplySink,
    TraceMode,
    Transport,
    _raw_transport,
    open_transport,
)
from tests.lab.routers import RouterChain, missing_requirement

pytestmark = [pytest.mark.privileged, pytest.mark.network]


@pytest.fixture(scope="module")
def chain() -> Iterator[RouterChain]:
    """One router chain per module; always torn down."""
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    with RouterChain() as built:
        yield built


class Recording:
    """An opener that remembers the transport it opened (to tell raw from datagram)."""

    def __init__(self, raw: bool = False) -> None:
        self.raw = raw
        self.opened: list[Transport] = []

    def __call__(
        self, mode: TraceMode, family: int, target: str, n_probes: int, sink: ReplySink
    ) -> Transport:
        if self.raw:
            transport = _raw_transport(target, n_probes, sink)
        else:
            transport = open_transport(mode, family, target, n_probes, sink)
        self.opened.append(transport)
        return transport


async def trace(
    address: str, mode: str, opener: Recording | None = None, **params: Any
) -> ProbeResult:
    settings = {"mode": mode, "timeout": 0.5, "interval": 0.02, "pace_ms": 0.0, **params}
    probe = TracerouteProbe(opener=opener or Recording())
    return await probe.run(Target(address, address), TracerouteParams(**settings))


def check_full_path(result: ProbeResult, chain: RouterChain) -> None:
    assert result.status is ProbeStatus.OK, result.error
    assert result.details["path"] == chain.expected_path
    hops = result.details["hops"]
    assert [hop["ttl"] for hop in hops] == [1, 2, 3, 4]
    assert [hop["received"] for hop in hops] == [3, 0, 3, 3]
    assert hops[1]["loss_pct"] == 100.0 and hops[1]["rtt_avg_ms"] is None
    assert result.metrics["hops"] == 4.0 and result.metrics["reached"] == 1.0
    assert result.metrics["loss_pct"] == 0.0
    rtt = result.metrics["rtt_ms"]
    assert rtt is not None and 0.0 < rtt < 500.0
    assert hops[3]["rtt_min_ms"] <= rtt <= hops[3]["rtt_max_ms"]


@pytest.mark.parametrize("mode", ["udp", "icmp"])
async def test_the_path_with_its_silent_hop_is_found(chain: RouterChain, mode: str) -> None:
    check_full_path(await trace(chain.dest, mode), chain)


async def test_icmp_over_a_datagram_socket(chain: RouterChain, dgram_icmp: None) -> None:
    """With ping_group_range allowing us, ICMP mode uses IP_RECVERR instead of raw."""
    opener = Recording()
    check_full_path(await trace(chain.dest, "icmp", opener), chain)
    assert type(opener.opened[0]).__name__ == "_ErrQueueTransport"


async def test_icmp_over_a_raw_socket(chain: RouterChain) -> None:
    """The root fallback: errors quoting our echo requests, matched by identifier."""
    opener = Recording(raw=True)
    check_full_path(await trace(chain.dest, "icmp", opener), chain)
    assert type(opener.opened[0]).__name__ == "_RawIcmpTransport"


@pytest.mark.parametrize("mode", ["udp", "icmp"])
async def test_an_unreachable_destination_keeps_the_partial_path(
    chain: RouterChain, mode: str
) -> None:
    result = await trace(chain.unreachable, mode, max_hops=6)
    assert result.status is ProbeStatus.TIMEOUT
    assert result.error == f"{chain.unreachable} not reached within 6 hops"
    assert result.details["path"] == [*chain.expected_path[:3], None, None, None]
    assert result.metrics["reached"] == 0.0 and result.metrics["loss_pct"] == 100.0


async def test_max_hops_is_respected(chain: RouterChain) -> None:
    result = await trace(chain.dest, "udp", max_hops=2)
    assert result.status is ProbeStatus.TIMEOUT
    assert result.details["path"] == chain.expected_path[:2]
    assert result.metrics["hops"] is None


def test_cli_exit_codes_and_json(chain: RouterChain) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["probe", "traceroute", chain.dest, "--timeout", "0.5", "--json"])
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["path"] == chain.expected_path
    args = ["probe", "traceroute", chain.unreachable, "--max-hops", "4", "--timeout", "0.3"]
    lost = runner.invoke(app, args)
    assert lost.exit_code == 1
    assert lost.stdout.splitlines()[-1] == f"{chain.unreachable} not reached within 4 hops"
