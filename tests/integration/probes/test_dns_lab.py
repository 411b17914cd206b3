"""The DNS probe against real servers on loopback: dnsmasq and the scripted lab server.

Traffic goes only to the 127.0.0.0/8 servers these fixtures start; the system-resolver
mode reads a resolv.conf written here, never the host's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netgauge.models import ProbeStatus, Target
from netgauge.probes.dns import DnsParams, DnsProbe
from tests.lab.dns import (
    BIG_TXT,
    BIG_TXT_STRINGS,
    Dnsmasq,
    ScriptedDnsServer,
    dnsmasq_missing,
    make_tls_files,
)

pytestmark = [pytest.mark.network]

LOOPBACK = Target("lab-dns", "127.0.0.1")
DELAY_S = 0.25


@pytest.fixture(scope="module")
def dnsmasq() -> Iterator[Dnsmasq]:
    reason = dnsmasq_missing()
    if reason:
        pytest.skip(reason)
    with Dnsmasq() as server:
        yield server


@pytest.fixture
def scripted() -> Iterator[ScriptedDnsServer]:
    with ScriptedDnsServer() as server:
        yield server


@pytest.fixture
def silent() -> Iterator[ScriptedDnsServer]:
    with ScriptedDnsServer(silent=True) as server:
        yield server


@pytest.mark.parametrize(
    ("name", "rtype", "answer"),
    [
        ("www.lab.test", "A", "192.0.2.10"),
        ("www.lab.test", "AAAA", "2001:db8::10"),
        ("lab.test", "MX", "10 mail.lab.test"),
        ("lab.test", "TXT", '"v=spf1 -all"'),
        ("alias.lab.test", "CNAME", "www.lab.test"),
        ("_sip._udp.lab.test", "SRV", "10 20 5060 sip.lab.test"),
        ("192.0.2.10", "PTR", "www.lab.test"),
    ],
)
async def test_dnsmasq_answers_match(dnsmasq: Dnsmasq, name: str, rtype: str, answer: str) -> None:
    result = await DnsProbe().run(
        LOOPBACK, DnsParams(name=name, type=rtype, port=dnsmasq.port, expect=(answer,))
    )
    assert result.status is ProbeStatus.OK, result.error
    assert result.metrics["match"] == 1.0 and result.metrics["rcode"] == 0.0
    assert result.metrics["answers"] == 1.0 and result.metrics["query_ms"] is not None
    assert result.details["answers"] == [answer]
    assert result.details["transport"] == "udp"
    assert result.details["server"] == f"127.0.0.1:{dnsmasq.port}"


async def test_a_wrong_expectation_fails(dnsmasq: Dnsmasq) -> None:
    params = DnsParams(name="www.lab.test", port=dnsmasq.port, expect=("192.0.2.99",))
    result = await DnsProbe().run(LOOPBACK, params)
    assert result.status is ProbeStatus.FAILED and result.metrics["match"] == 0.0
    assert result.error == "expected answers missing: 192.0.2.99"


async def test_regex_expectation(dnsmasq: Dnsmasq) -> None:
    params = DnsParams(name="lab.test", type="TXT", port=dnsmasq.port, expect_regex=r"^v=spf1\b")
    result = await DnsProbe().run(LOOPBACK, params)
    assert result.status is ProbeStatus.OK and result.metrics["match"] == 1.0


async def test_cname_chain_is_in_the_answers(dnsmasq: Dnsmasq) -> None:
    params = DnsParams(name="alias.lab.test", port=dnsmasq.port, expect=("192.0.2.10",))
    result = await DnsProbe().run(LOOPBACK, params)
    assert result.status is ProbeStatus.OK
    assert result.details["answers"] == ["www.lab.test", "192.0.2.10"]


async def test_nxdomain_is_a_failed_result_unless_expected(dnsmasq: Dnsmasq) -> None:
    params = DnsParams(name="nope.lab.test", port=dnsmasq.port)
    result = await DnsProbe().run(LOOPBACK, params)
    assert result.status is ProbeStatus.FAILED
    assert result.metrics["rcode"] == 3.0 and result.details["rcode"] == "NXDOMAIN"
    assert result.error == "rcode NXDOMAIN, expected NOERROR"
    expected = params.model_copy(update={"expect_rcode": "NXDOMAIN"})
    assert (await DnsProbe().run(LOOPBACK, expected)).status is ProbeStatus.OK


async def test_tcp_only(dnsmasq: Dnsmasq) -> None:
    params = DnsParams(name="www.lab.test", port=dnsmasq.port, tcp=True, expect=("192.0.2.10",))
    result = await DnsProbe().run(LOOPBACK, params)
    assert result.status is ProbeStatus.OK and result.details["transport"] == "tcp"


async def test_no_response_is_a_timeout(silent: ScriptedDnsServer) -> None:
    for tcp in (False, True):
        params = DnsParams(name="www.lab.test", port=silent.port, tcp=tcp, timeout=0.3)
        result = await DnsProbe().run(LOOPBACK, params)
        assert result.status is ProbeStatus.TIMEOUT
        assert result.error == f"no response from 127.0.0.1:{silent.port} in time"
        assert result.metrics["query_ms"] is None and result.metrics["rcode"] is None
    assert silent.queries == {"udp": 1, "tcp": 1}  # the queries did arrive


async def test_delay_is_measured() -> None:
    with ScriptedDnsServer(delay=DELAY_S) as server:
        params = DnsParams(name="www.lab.test", port=server.port, timeout=5)
        result = await DnsProbe().run(LOOPBACK, params)
    assert result.status is ProbeStatus.OK
    query_ms = result.metrics["query_ms"]
    assert query_ms is not None and query_ms >= DELAY_S * 1000


async def test_a_delay_longer_than_the_timeout_is_a_timeout() -> None:
    with ScriptedDnsServer(delay=2.0) as server:
        params = DnsParams(name="www.lab.test", port=server.port, timeout=0.2)
        result = await DnsProbe().run(LOOPBACK, params)
    assert result.status is ProbeStatus.TIMEOUT


async def test_truncated_udp_falls_back_to_tcp(scripted: ScriptedDnsServer) -> None:
    whole = "".join(BIG_TXT_STRINGS)
    params = DnsParams(name=BIG_TXT, type="TXT", port=scripted.port, expect=(whole,))
    result = await DnsProbe().run(LOOPBACK, params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.metrics["truncated"] == 1.0 and result.metrics["tcp_fallback"] == 1.0
    assert result.details["transport"] == "udp+tcp"
    assert scripted.queries == {"udp": 1, "tcp": 1}


async def test_small_answers_stay_on_udp(scripted: ScriptedDnsServer) -> None:
    result = await DnsProbe().run(LOOPBACK, DnsParams(name="www.lab.test", port=scripted.port))
    assert result.metrics["truncated"] == 0.0 and result.metrics["tcp_fallback"] == 0.0
    assert scripted.queries == {"udp": 1}


async def test_system_resolver_from_an_injected_resolv_conf(
    tmp_path: Path, scripted: ScriptedDnsServer
) -> None:
    """resolv.conf order: a silent first nameserver, then ours; the target's address unused."""
    with ScriptedDnsServer("127.0.0.2", port=scripted.port, silent=True) as dead:
        conf = tmp_path / "resolv.conf"
        conf.write_text(f"nameserver {dead.host}\nnameserver {scripted.host}\n")
        params = DnsParams(
            name="www.lab.test",
            server="system",
            resolv_conf=str(conf),
            port=scripted.port,
            timeout=0.3,
            expect=("192.0.2.10",),
        )
        result = await DnsProbe().run(Target("system", "not-used.invalid"), params)
        assert dead.queries == {"udp": 1}
    assert result.status is ProbeStatus.OK, result.error
    assert result.details["server"] == f"127.0.0.1:{scripted.port}"
    assert scripted.queries == {"udp": 1}


async def test_system_resolver_with_only_dead_servers_times_out(
    tmp_path: Path, silent: ScriptedDnsServer
) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver {silent.host}\n")
    params = DnsParams(
        name="www.lab.test", server="system", resolv_conf=str(conf), port=silent.port, timeout=0.2
    )
    result = await DnsProbe().run(Target("system", "system"), params)
    assert result.status is ProbeStatus.TIMEOUT


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_tls_files(tmp_path_factory.mktemp("dot"))


async def test_dns_over_tls(tls_files: tuple[Path, Path]) -> None:
    cert = str(tls_files[0])
    with ScriptedDnsServer(tls=tls_files) as server:
        params = DnsParams(
            name="www.lab.test",
            port=server.port,
            tls=True,
            tls_ca_file=cert,
            tls_server_name="dns.lab.test",
            expect=("192.0.2.10",),
        )
        result = await DnsProbe().run(LOOPBACK, params)
        assert result.status is ProbeStatus.OK, result.error
        assert result.details["transport"] == "tls"
        assert server.queries == {"tls": 1}


async def test_dns_over_tls_refuses_an_untrusted_certificate(
    tls_files: tuple[Path, Path],
) -> None:
    with ScriptedDnsServer(tls=tls_files) as server:
        params = DnsParams(name="www.lab.test", port=server.port, tls=True, timeout=2)
        result = await DnsProbe().run(LOOPBACK, params)
        assert result.status is ProbeStatus.FAILED
        assert result.error is not None and "CERTIFICATE_VERIFY_FAILED" in result.error
        assert server.queries == {}  # nothing was asked over an unverified channel


async def test_dns_over_tls_checks_the_server_name(tls_files: tuple[Path, Path]) -> None:
    with ScriptedDnsServer(tls=tls_files) as server:
        params = DnsParams(
            name="www.lab.test",
            port=server.port,
            tls=True,
            tls_ca_file=str(tls_files[0]),
            tls_server_name="other.lab.test",
            timeout=2,
        )
        result = await DnsProbe().run(LOOPBACK, params)
    assert result.status is ProbeStatus.FAILED
    assert result.error is not None and "other.lab.test" in result.error
