"""HTTP probe logic without a network: params, URL building, statuses, certificates, phases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from netgauge.models import Target
from netgauge.probes.base import PROBES
from netgauge.probes.builtin import load_builtin_probes
from netgauge.probes.http import (
    HttpParams,
    HttpProbe,
    PhaseTimer,
    build_url,
    cert_not_after,
    days_left,
    parse_status_ranges,
    status_expected,
)

T = Target("web", "192.0.2.10")


def test_registered_as_http() -> None:
    load_builtin_probes()
    assert PROBES.get("http") is HttpProbe


@pytest.mark.parametrize(
    ("params", "url"),
    [
        ({}, "http://192.0.2.10/"),
        (
            {"scheme": "https", "port": 8443, "path": "/health?x=1"},
            "https://192.0.2.10:8443/health?x=1",
        ),
        ({"url": "https://example.test/a"}, "https://example.test/a"),
    ],
)
def test_build_url(params: dict[str, object], url: str) -> None:
    assert build_url(T, HttpParams.model_validate(params)) == url


def test_build_url_brackets_ipv6() -> None:
    assert build_url(Target("v6", "2001:db8::1"), HttpParams(port=80)) == "http://[2001:db8::1]:80/"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"url": "http://x/", "port": 80}, "url excludes port"),
        ({"url": "ftp://x/"}, "url must be http:// or https:// with a host"),
        ({"path": "health"}, "path must start with '/'"),
        ({"match": "("}, "invalid regex"),
        ({"expect_status": ["abc"]}, "is not a status code"),
        ({"expect_status": ["399-200"]}, "within 100-599"),
        ({"timeout": 0}, "greater than 0"),
        ({"max_redirects": 31}, "less than or equal to 30"),
        ({"bogus": 1}, "Extra inputs are not permitted"),
    ],
)
def test_params_refused(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HttpParams.model_validate(params)


def test_expect_status_accepts_one_code_or_a_list() -> None:
    assert HttpParams.model_validate({"expect_status": 204}).expect_status == ("204",)
    assert HttpParams.model_validate({"expect_status": [200, "3xx"]}).expect_status == (
        "200",
        "3xx",
    )


def test_status_ranges() -> None:
    ranges = parse_status_ranges(["200", "301-308", "5xx"])
    assert ranges == ((200, 200), (301, 308), (500, 599))
    assert status_expected(200, ranges) and status_expected(308, ranges)
    assert status_expected(599, ranges) and not status_expected(201, ranges)
    assert not status_expected(404, parse_status_ranges(HttpParams().expect_status))
    assert status_expected(399, parse_status_ranges(HttpParams().expect_status))
    with pytest.raises(ValueError):
        parse_status_ranges([])


def _der(tmp_path: Path, not_after: dt.datetime) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(12345)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    "not_after",
    [
        dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC),  # UTCTime
        dt.datetime(2051, 1, 2, 3, 4, 5, tzinfo=dt.UTC),  # GeneralizedTime (2050 and later)
    ],
)
def test_cert_not_after_read_from_der(tmp_path: Path, not_after: dt.datetime) -> None:
    assert cert_not_after(_der(tmp_path, not_after)) == not_after


def test_cert_not_after_refuses_garbage() -> None:
    with pytest.raises((ValueError, IndexError)):
        cert_not_after(b"\x30\x82\xff\xff")


def test_days_left() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert days_left(now + dt.timedelta(days=30), now) == 30.0
    assert days_left(now + dt.timedelta(hours=12), now) == 0.5
    assert days_left(now - dt.timedelta(days=2), now) == -2.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_phases_from_trace_events_summed_over_hops() -> None:
    clock = FakeClock()
    timer = PhaseTimer(clock=clock)
    for _hop in range(2):
        timer.start("connect")
        clock.now += 0.002
        timer.end("connect")
        await timer.trace("connection.start_tls.started", {})
        assert timer.phase == "tls"
        clock.now += 0.010
        await timer.trace("connection.start_tls.complete", {})
        await timer.trace("http11.send_request_headers.started", {})
        await timer.trace("http11.receive_response_headers.started", {})
        assert timer.phase == "ttfb" and timer.doing == "waiting for the response"
        clock.now += 0.005
        await timer.trace("http11.receive_response_headers.complete", {})
        assert timer.phase == "body"
    assert timer.ms("connect") == pytest.approx(4.0)
    assert timer.ms("tls") == pytest.approx(20.0)
    assert timer.ms("ttfb") == pytest.approx(10.0)
    assert timer.ms("dns") is None


async def test_unfinished_phase_is_not_counted() -> None:
    clock = FakeClock()
    timer = PhaseTimer(clock=clock)
    await timer.trace("http2.send_request_headers.started", {})
    clock.now += 1
    await timer.trace("http2.receive_response_headers.started", {})
    await timer.trace("connection.connect_tcp.started", {})  # timed by the backend, ignored
    assert timer.ms("ttfb") is None and timer.phase == "ttfb"
