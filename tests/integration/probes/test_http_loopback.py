"""The HTTP probe against real loopback servers: HTTP/1.1, HTTPS (self-signed), HTTP/2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netgauge.models import ProbeStatus, Target
from netgauge.probes.http import HttpParams, HttpProbe
from tests.integration.probes.http_servers import CERT_DAYS, Servers, start_servers

pytestmark = pytest.mark.network

LOCAL = Target("local", "127.0.0.1")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    yield from start_servers(Path(tmp_path_factory.mktemp("http")))


async def test_http11_ok_with_phases(servers: Servers) -> None:
    result = await HttpProbe().run(LOCAL, HttpParams(port=servers.http, match="hello"))
    assert result.status is ProbeStatus.OK, result.error
    m = result.metrics
    assert m["status_code"] == 200 and m["content_match"] == 1 and m["bytes"] == 14
    assert m["redirects"] == 0 and m["tls_ms"] is None and m["tls_days_left"] is None
    assert m["dns_ms"] is None  # an IP literal is not looked up
    connect, ttfb, total = m["connect_ms"], m["ttfb_ms"], m["total_ms"]
    assert connect is not None and ttfb is not None and total is not None
    assert 0 < connect and 0 < ttfb and connect + ttfb <= total
    assert result.details["http_version"] == "HTTP/1.1"


async def test_localhost_is_resolved_and_timed(servers: Servers) -> None:
    params = HttpParams(url=f"http://localhost:{servers.http}/")
    result = await HttpProbe().run(Target("lh", "ignored"), params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.metrics["dns_ms"] is not None and result.metrics["dns_ms"] >= 0


async def test_body_mismatch_fails(servers: Servers) -> None:
    result = await HttpProbe().run(LOCAL, HttpParams(port=servers.http, match="^goodbye"))
    assert result.status is ProbeStatus.FAILED
    assert result.metrics["content_match"] == 0 and result.error == "body does not match /^goodbye/"


async def test_unexpected_status_fails_and_expected_passes(servers: Servers) -> None:
    bad = await HttpProbe().run(LOCAL, HttpParams(port=servers.http, path="/status/404"))
    assert bad.status is ProbeStatus.FAILED and bad.metrics["status_code"] == 404
    assert bad.error == "status 404 not in expected 200-399"
    params = HttpParams(port=servers.http, path="/status/404", expect_status=("4xx",))
    good = await HttpProbe().run(LOCAL, params)
    assert good.status is ProbeStatus.OK, good.error


async def test_redirect_chain_followed(servers: Servers) -> None:
    result = await HttpProbe().run(LOCAL, HttpParams(port=servers.http, path="/redirect/3"))
    assert result.status is ProbeStatus.OK, result.error
    assert result.metrics["redirects"] == 3 and result.metrics["status_code"] == 200
    chain = result.details["redirect_chain"]
    base = f"http://127.0.0.1:{servers.http}"
    assert [hop["url"] for hop in chain] == [
        f"{base}/redirect/3",
        f"{base}/redirect/2",
        f"{base}/redirect/1",
        f"{base}/",
    ]
    assert [hop["status"] for hop in chain] == [301, 301, 301, 200]


async def test_redirects_not_followed_or_too_many(servers: Servers) -> None:
    params = HttpParams(port=servers.http, path="/redirect/3", follow_redirects=False)
    kept = await HttpProbe().run(LOCAL, params)
    assert kept.status is ProbeStatus.OK and kept.metrics["status_code"] == 301
    assert kept.metrics["redirects"] == 0
    params = HttpParams(port=servers.http, path="/redirect/3", max_redirects=2)
    capped = await HttpProbe().run(LOCAL, params)
    assert capped.status is ProbeStatus.FAILED and capped.error == "more than 2 redirects"


async def test_body_read_is_bounded(servers: Servers) -> None:
    params = HttpParams(port=servers.http, path="/big", max_body_bytes=1000, match="^x{1000}$")
    result = await HttpProbe().run(LOCAL, params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.details["body_truncated"] is True
    read = result.metrics["bytes"]
    assert read is not None and 1000 <= read < 2 * 1024 * 1024


async def test_https_self_signed_with_ca_file(servers: Servers) -> None:
    params = HttpParams(scheme="https", port=servers.https, ca_file=str(servers.certificate.cert))
    result = await HttpProbe().run(LOCAL, params)
    assert result.status is ProbeStatus.OK, result.error
    days, tls = result.metrics["tls_days_left"], result.metrics["tls_ms"]
    assert days is not None and CERT_DAYS - 0.01 < days <= CERT_DAYS
    assert tls is not None and tls > 0
    assert result.details["http_version"] == "HTTP/1.1"


async def test_https_self_signed_refused_when_verifying(servers: Servers) -> None:
    result = await HttpProbe().run(LOCAL, HttpParams(scheme="https", port=servers.https))
    assert result.status is ProbeStatus.FAILED
    assert result.error is not None and result.error.startswith("in the TLS handshake: ")
    assert "certificate verify failed" in result.error


async def test_https_unverified_still_reports_days_left(servers: Servers) -> None:
    params = HttpParams(scheme="https", port=servers.https, verify=False)
    result = await HttpProbe().run(LOCAL, params)
    assert result.status is ProbeStatus.OK, result.error
    days = result.metrics["tls_days_left"]
    assert days is not None and CERT_DAYS - 0.01 < days <= CERT_DAYS


async def test_http2_negotiated_by_alpn(servers: Servers) -> None:
    params = HttpParams(
        scheme="https", port=servers.https, path="/version", verify=False, http2=True
    )
    result = await HttpProbe().run(LOCAL, params)
    assert result.status is ProbeStatus.OK, result.error
    assert result.details["http_version"] == "HTTP/2"
    assert result.metrics["bytes"] == 1  # the server saw "2"
    assert result.metrics["ttfb_ms"] is not None


async def test_slow_server_times_out_waiting_for_the_response(servers: Servers) -> None:
    result = await HttpProbe().run(LOCAL, HttpParams(port=servers.http, path="/slow", timeout=0.3))
    assert result.status is ProbeStatus.TIMEOUT
    assert result.details["timeout_phase"] == "ttfb"
    assert result.error == "timed out after 0.3s waiting for the response"
    assert result.metrics["connect_ms"] is not None and result.metrics["status_code"] is None


async def test_silent_server_times_out_in_tls_handshake(servers: Servers) -> None:
    params = HttpParams(scheme="https", port=servers.silent, timeout=0.3)
    result = await HttpProbe().run(LOCAL, params)
    assert result.status is ProbeStatus.TIMEOUT
    assert result.details["timeout_phase"] == "tls"


async def test_closed_port_is_refused(servers: Servers) -> None:
    result = await HttpProbe().run(LOCAL, HttpParams(port=servers.closed))
    assert result.status is ProbeStatus.FAILED
    assert result.error == "connecting: Connection refused"
    assert result.metrics["connect_ms"] is None and result.metrics["total_ms"] is not None
