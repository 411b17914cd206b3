"""Traceroute packet parsing: ICMP errors quoting our echo requests, IP_RECVERR messages."""

from __future__ import annotations

import socket
import struct

import pytest

from netgauge.probes.icmp_packet import build_echo_request, checksum
from netgauge.probes.traceroute_packet import (
    ReplyKind,
    build_extended_error,
    classify,
    echo_seq,
    parse_extended_error,
    parse_raw_icmp4,
)

TARGET = "198.19.240.14"
ROUTER = "198.19.240.2"
ME = "198.19.240.1"


def ipv4(src: str, dst: str, proto: int, payload: bytes, ttl: int = 64) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, ttl, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip
    return header + payload


def icmp_error(icmp_type: int, code: int, quoted: bytes) -> bytes:
    body = struct.pack("!BBHI", icmp_type, code, 0, 0) + quoted
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def echo_datagram(ident: int, seq: int) -> bytes:
    echo = build_echo_request(socket.AF_INET, ident, seq, b"x" * 32)
    return ipv4(ME, TARGET, socket.IPPROTO_ICMP, echo, ttl=1)


def test_time_exceeded_names_the_quoted_echo_request() -> None:
    packet = ipv4(ROUTER, ME, socket.IPPROTO_ICMP, icmp_error(11, 0, echo_datagram(0x1234, 77)))
    parsed = parse_raw_icmp4(packet, TARGET)
    assert parsed is not None
    assert parsed.answer.kind is ReplyKind.TIME_EXCEEDED
    assert (parsed.destination, parsed.ident, parsed.seq) == (TARGET, 0x1234, 77)


def test_time_exceeded_with_only_8_quoted_bytes_still_parses() -> None:
    quoted = echo_datagram(7, 9)[: 20 + 8]  # RFC 792 minimum: IP header + 8 bytes
    packet = ipv4(ROUTER, ME, socket.IPPROTO_ICMP, icmp_error(11, 0, quoted))
    parsed = parse_raw_icmp4(packet, TARGET)
    assert parsed is not None and (parsed.ident, parsed.seq) == (7, 9)


def test_echo_reply_from_the_target_is_reached() -> None:
    reply = struct.pack("!BBHHH", 0, 0, 0, 5, 6) + b"x" * 32
    parsed = parse_raw_icmp4(ipv4(TARGET, ME, socket.IPPROTO_ICMP, reply), TARGET)
    assert parsed is not None
    assert (parsed.answer.kind, parsed.ident, parsed.seq) == (ReplyKind.REACHED, 5, 6)


def test_host_unreachable_from_a_router_is_unreachable() -> None:
    packet = ipv4(ROUTER, ME, socket.IPPROTO_ICMP, icmp_error(3, 1, echo_datagram(1, 2)))
    parsed = parse_raw_icmp4(packet, TARGET)
    assert parsed is not None and parsed.answer.kind is ReplyKind.UNREACHABLE


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x45" + b"\0" * 10,  # truncated IP header
        # an error quoting a UDP datagram, not an echo request of ours
        ipv4(ROUTER, ME, 1, icmp_error(11, 0, ipv4(ME, TARGET, 17, b"\0" * 8))),
        # an error quoting an echo *reply*
        ipv4(
            ROUTER,
            ME,
            1,
            icmp_error(11, 0, ipv4(ME, TARGET, 1, struct.pack("!BBHHH", 0, 0, 0, 1, 1))),
        ),
        # quote cut inside the echo header
        ipv4(ROUTER, ME, 1, icmp_error(11, 0, echo_datagram(1, 1)[:24])),
        # an echo request (someone pinging us)
        ipv4(TARGET, ME, 1, build_echo_request(socket.AF_INET, 1, 1, b"")),
        # redirect: irrelevant type
        ipv4(ROUTER, ME, 1, icmp_error(5, 0, echo_datagram(1, 1))),
    ],
)
def test_other_packets_are_ignored(packet: bytes) -> None:
    assert parse_raw_icmp4(packet, TARGET) is None


@pytest.mark.parametrize(
    ("family", "icmp_type", "code", "from_target", "kind"),
    [
        (socket.AF_INET, 11, 0, False, ReplyKind.TIME_EXCEEDED),
        (socket.AF_INET, 3, 3, True, ReplyKind.REACHED),  # port unreachable from the target
        (socket.AF_INET, 3, 1, False, ReplyKind.UNREACHABLE),
        (socket.AF_INET, 0, 0, True, ReplyKind.REACHED),
        (socket.AF_INET6, 3, 0, False, ReplyKind.TIME_EXCEEDED),
        (socket.AF_INET6, 1, 4, True, ReplyKind.REACHED),
        (socket.AF_INET6, 1, 0, False, ReplyKind.UNREACHABLE),
        (socket.AF_INET6, 129, 0, True, ReplyKind.REACHED),
    ],
)
def test_classify(
    family: int, icmp_type: int, code: int, from_target: bool, kind: ReplyKind
) -> None:
    answer = classify(family, icmp_type, code, from_target=from_target)
    assert answer is not None and answer.kind is kind


def test_classify_ignores_other_types() -> None:
    assert classify(socket.AF_INET, 5, 0, from_target=False) is None


@pytest.mark.parametrize(
    ("family", "offender"), [(socket.AF_INET, ROUTER), (socket.AF_INET6, "fd5e:6e67:ffff::2")]
)
def test_extended_error_round_trip(family: int, offender: str) -> None:
    err = parse_extended_error(family, build_extended_error(family, 11, 0, offender))
    assert err is not None
    assert (err.icmp_type, err.icmp_code, err.offender) == (11, 0, offender)
    assert err.origin == (3 if family == socket.AF_INET6 else 2)


def test_extended_error_too_short_or_without_offender() -> None:
    assert parse_extended_error(socket.AF_INET, b"\0" * 10) is None
    cut = build_extended_error(socket.AF_INET, 11, 0, ROUTER)[:16]
    err = parse_extended_error(socket.AF_INET, cut)
    assert err is not None and err.offender is None


def test_echo_seq() -> None:
    assert echo_seq(build_echo_request(socket.AF_INET, 1, 513, b"")) == 513
    assert echo_seq(b"\0" * 7) is None
