"""The TCP probe against loopback servers: connect, refused, banner match, send/expect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netgauge.models import ProbeStatus, Target
from netgauge.probes.tcp import TcpParams, TcpProbe
from tests.integration.probes.http_servers import Servers, start_servers

pytestmark = pytest.mark.network

LOCAL = Target("local", "127.0.0.1")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    yield from start_servers(Path(tmp_path_factory.mktemp("tcp")))


async def test_connect_without_banner_check(servers: Servers) -> None:
    result = await TcpProbe().run(LOCAL, TcpParams(port=servers.silent))
    assert result.status is ProbeStatus.OK, result.error
    assert result.metrics["refused"] == 0 and "banner_match" not in result.metrics
    connect = result.metrics["connect_ms"]
    assert connect is not None and connect > 0


async def test_closed_port_is_refused(servers: Servers) -> None:
    result = await TcpProbe().run(LOCAL, TcpParams(port=servers.closed))
    assert result.status is ProbeStatus.FAILED and result.metrics["refused"] == 1
    assert result.error == "connect: Connection refused"


async def test_banner_matches(servers: Servers) -> None:
    params = TcpParams(port=servers.banner, expect=r"^SSH-2\.0-")
    result = await TcpProbe().run(LOCAL, params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.metrics["banner_match"] == 1
    assert result.details["banner"] == "SSH-2.0-netgauge_test\\r\\n"


async def test_banner_mismatch_fails_with_the_banner(servers: Servers) -> None:
    params = TcpParams(port=servers.banner, expect="^220 ", read_timeout=0.3)
    result = await TcpProbe().run(LOCAL, params)
    assert result.status is ProbeStatus.FAILED and result.metrics["banner_match"] == 0
    assert result.error == "banner 'SSH-2.0-netgauge_test\\r\\n' does not match /^220 /"


async def test_silent_server_gives_no_banner(servers: Servers) -> None:
    params = TcpParams(port=servers.silent, expect="SSH", read_timeout=0.2)
    result = await TcpProbe().run(LOCAL, params)
    assert result.status is ProbeStatus.FAILED and result.metrics["banner_match"] == 0
    assert result.error == "no banner within 0.2s (expected /SSH/)"
    assert result.details["banner"] == ""


async def test_send_then_expect(servers: Servers) -> None:
    params = TcpParams(port=servers.echo, send="ping netgauge\n", expect="PING NETGAUGE")
    result = await TcpProbe().run(LOCAL, params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.details["banner"] == "PING NETGAUGE\\n"
