"""The TCP, HTTP and DNS probes against test hosts inside a lab namespace.

Each service runs as a process in the namespace (``tests.lab.services``), listening on its
own lab address; the probes reach it over the veth like any remote host. Traffic goes only
to the 198.18.0.0/15 addresses of the lab this module creates; dnsmasq never forwards.
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from netgauge.models import ProbeStatus, Target
from netgauge.probes.dns import DnsParams, DnsProbe
from netgauge.probes.http import HttpParams, HttpProbe
from netgauge.probes.tcp import TcpParams, TcpProbe
from tests.lab import Lab, LabError, missing_requirement
from tests.lab.dns import dnsmasq_missing
from tests.lab.http import Certificate, make_certificate
from tests.lab.services import start_dns, start_dnsmasq, start_http, start_tcp

pytestmark = [pytest.mark.privileged, pytest.mark.network]

CERT_DAYS = 30
DELAY_S = 0.25
SSH, ECHO, HTTP, HTTPS, DNS = 22, 7, 80, 443, 53


@dataclass(frozen=True)
class LabServices:
    """The lab and the addresses of its service hosts (one service kind per host)."""

    lab: Lab
    tcp: str
    web: str
    dnsmasq: str
    slow_dns: str
    silent: str
    certificate: Certificate


def _missing() -> str | None:
    for module, package in (("hypercorn", "hypercorn"), ("cryptography", "cryptography")):
        if importlib.util.find_spec(module) is None:
            return f"the lab web host needs {package} (a dev dependency)"
    return missing_requirement() or dnsmasq_missing()


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServices]:
    """One lab with a TCP, a web, a dnsmasq and a slow DNS host; all stopped by Lab.down."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    with Lab(ipv6=False) as lab:
        tcp, web, dnsmasq, slow_dns = lab.add_hosts(4)
        certificate = make_certificate(tmp_path_factory.mktemp("lab-tls"), CERT_DAYS, ips=[web])
        start_tcp(lab, tcp, SSH, "banner")
        start_tcp(lab, tcp, ECHO, "echo")
        start_http(lab, web, HTTP, tls_port=HTTPS, cert=certificate.cert, key=certificate.key)
        start_dnsmasq(lab, dnsmasq, DNS)
        start_dns(lab, slow_dns, DNS, delay=DELAY_S)
        silent = lab.add_silent_host()  # routed into the namespace, assigned nowhere
        yield LabServices(lab, tcp, web, dnsmasq, slow_dns, silent, certificate)


async def test_tcp_banner_of_the_lab_host(services: LabServices) -> None:
    params = TcpParams(port=SSH, expect=r"^SSH-2\.0-netgauge_lab")
    result = await TcpProbe().run(Target("lab-ssh", services.tcp), params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.metrics["banner_match"] == 1 and result.metrics["refused"] == 0
    connect = result.metrics["connect_ms"]
    assert connect is not None and connect > 0


async def test_tcp_send_expect_and_refused_port(services: LabServices) -> None:
    target = Target("lab-tcp", services.tcp)
    echoed = await TcpProbe().run(target, TcpParams(port=ECHO, send="hi lab\n", expect="HI LAB"))
    assert echoed.status is ProbeStatus.OK, echoed.error
    refused = await TcpProbe().run(target, TcpParams(port=HTTP, timeout=2))
    assert refused.status is ProbeStatus.FAILED and refused.metrics["refused"] == 1


async def test_tcp_to_a_silent_lab_host_times_out(services: LabServices) -> None:
    result = await TcpProbe().run(
        Target("lab-silent", services.silent), TcpParams(port=SSH, timeout=0.3)
    )
    assert result.status is ProbeStatus.TIMEOUT, result.error
    assert result.metrics["refused"] == 0 and result.metrics.get("connect_ms") is None


async def test_http_of_the_lab_host(services: LabServices) -> None:
    result = await HttpProbe().run(Target("lab-web", services.web), HttpParams(match="hello"))
    assert result.status is ProbeStatus.OK, result.error
    assert result.metrics["status_code"] == 200 and result.metrics["content_match"] == 1
    assert result.details["http_version"] == "HTTP/1.1"


async def test_https_of_the_lab_host_reports_the_certificate_expiry(
    services: LabServices,
) -> None:
    params = HttpParams(scheme="https", ca_file=str(services.certificate.cert))
    result = await HttpProbe().run(Target("lab-web", services.web), params)
    assert result.status is ProbeStatus.OK, result.error  # verified: the SAN holds the lab IP
    assert result.metrics["status_code"] == 200
    days = result.metrics["tls_days_left"]
    assert days is not None and abs(days - CERT_DAYS) <= 1
    assert result.details["http_version"] == "HTTP/1.1"


async def test_http2_to_the_lab_host_when_asked(services: LabServices) -> None:
    params = HttpParams(
        scheme="https", path="/version", ca_file=str(services.certificate.cert), http2=True
    )
    result = await HttpProbe().run(Target("lab-web", services.web), params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.details["http_version"] == "HTTP/2"
    assert result.metrics["bytes"] == 1  # the server saw "2"


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_dnsmasq_lab_host_answers_the_a_record(services: LabServices, tcp: bool) -> None:
    params = DnsParams(name="www.lab.test", tcp=tcp, expect=("192.0.2.10",), timeout=2)
    result = await DnsProbe().run(Target("lab-dns", services.dnsmasq), params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.details["answers"] == ["192.0.2.10"]
    assert result.details["server"] == f"{services.dnsmasq}:{DNS}"
    assert result.details["transport"] == ("tcp" if tcp else "udp")


async def test_dnsmasq_lab_host_nxdomain_for_unknown_names(services: LabServices) -> None:
    params = DnsParams(name="nope.lab.test", expect_rcode="NXDOMAIN", timeout=2)
    result = await DnsProbe().run(Target("lab-dns", services.dnsmasq), params)
    assert result.status is ProbeStatus.OK, result.error  # answered locally, never forwarded


async def test_slow_dns_lab_host_delay_is_measured(services: LabServices) -> None:
    params = DnsParams(name="www.lab.test", expect=("192.0.2.10",), timeout=5)
    result = await DnsProbe().run(Target("lab-slow-dns", services.slow_dns), params)
    assert result.status is ProbeStatus.OK, result.error
    query_ms = result.metrics["query_ms"]
    assert query_ms is not None and query_ms >= DELAY_S * 1000


async def test_slow_dns_lab_host_times_out_below_its_delay(services: LabServices) -> None:
    params = DnsParams(name="www.lab.test", timeout=DELAY_S / 2)
    result = await DnsProbe().run(Target("lab-slow-dns", services.slow_dns), params)
    assert result.status is ProbeStatus.TIMEOUT


def test_spawn_that_never_gets_ready_is_reported_and_stopped(services: LabServices) -> None:
    with pytest.raises(LabError, match="did not start"):
        services.lab.spawn("sleep", "30", timeout=0.2)
    pids = subprocess.run(
        ["ip", "netns", "pids", services.lab.name], capture_output=True, text=True, timeout=10
    ).stdout.split()
    assert len(pids) == 5  # the five services, not the sleep
