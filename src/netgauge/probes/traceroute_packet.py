"""Traceroute packets: what an ICMP error or echo reply says about one of our probes.

Pure functions over bytes, no sockets, so they are unit-tested without a network. Two
sources of answers are parsed:

* raw ICMP (IPv4, with the IP header): a time-exceeded or destination-unreachable message
  quotes the IP header and the first bytes of the datagram that caused it, so the quoted
  echo request's identifier and sequence tell which probe it was;
* the ``IP_RECVERR`` error queue of a UDP or datagram ICMP socket: the kernel has already
  matched the error to the socket and hands over a ``struct sock_extended_err`` (type,
  code, the offender's address) plus the original destination address and payload.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
import struct
from typing import NamedTuple

from netgauge.probes.icmp_packet import ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMPV6_ECHO_REPLY

ICMP_DEST_UNREACH = 3
ICMP_TIME_EXCEEDED = 11
ICMP_PORT_UNREACH = 3  # code of ICMP_DEST_UNREACH
ICMPV6_DEST_UNREACH = 1
ICMPV6_TIME_EXCEEDED = 3
ICMPV6_PORT_UNREACH = 4  # code of ICMPV6_DEST_UNREACH

SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
# struct sock_extended_err: errno, origin, type, code, pad, info, data
_EXTENDED_ERR = struct.Struct("=IBBBBII")
_ECHO = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence


class ReplyKind(enum.StrEnum):
    """What an answer to one probe means for the path."""

    TIME_EXCEEDED = "time_exceeded"  # a router on the way: the hop at this TTL
    REACHED = "reached"  # the destination itself answered (echo reply / port unreachable)
    UNREACHABLE = "unreachable"  # a router says the destination cannot be reached


class Answer(NamedTuple):
    """One parsed answer: who sent it and what it means (no probe identity yet)."""

    kind: ReplyKind
    icmp_type: int
    icmp_code: int


class QuotedEcho(NamedTuple):
    """An answer to an echo request of ours, parsed from a raw IPv4 ICMP packet."""

    answer: Answer
    destination: str  # where the probe was going (the quoted header's destination)
    ident: int
    seq: int


def classify(family: int, icmp_type: int, icmp_code: int, *, from_target: bool) -> Answer | None:
    """The meaning of an ICMP error (or echo reply) ``type``/``code``; None if irrelevant."""
    v6 = family == socket.AF_INET6
    exceeded, unreach = (
        (ICMPV6_TIME_EXCEEDED, ICMPV6_DEST_UNREACH)
        if v6
        else (ICMP_TIME_EXCEEDED, ICMP_DEST_UNREACH)
    )
    echo_reply = ICMPV6_ECHO_REPLY if v6 else ICMP_ECHO_REPLY
    if icmp_type == exceeded:
        return Answer(ReplyKind.TIME_EXCEEDED, icmp_type, icmp_code)
    if icmp_type == echo_reply or (icmp_type == unreach and from_target):
        # Any unreachable sent by the destination itself (port, protocol, prohibited) proves
        # the probe got there, as in traceroute.
        return Answer(ReplyKind.REACHED, icmp_type, icmp_code)
    if icmp_type == unreach:
        return Answer(ReplyKind.UNREACHABLE, icmp_type, icmp_code)
    return None


def _strip_ip_header(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(source, destination, payload) of an IPv4 packet, or None if it is not one."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    header_len = (data[0] & 0x0F) * 4
    if header_len < 20 or len(data) < header_len:
        return None
    return data[12:16], data[16:20], data[header_len:]


def parse_raw_icmp4(data: bytes, target: str) -> QuotedEcho | None:
    """What a packet from a raw IPv4 ICMP socket says about an echo request of ours.

    An echo reply is matched by its own identifier and sequence; a time-exceeded or
    unreachable message by the identifier and sequence of the echo request it quotes.
    None for anything else (other protocols quoted, truncated or foreign packets).
    """
    outer = _strip_ip_header(data)
    if outer is None or len(outer[2]) < _ECHO.size:
        return None
    source, _dst, icmp = outer
    icmp_type, code, _sum, ident, seq = _ECHO.unpack_from(icmp)
    from_target = str(ipaddress.IPv4Address(source)) == target
    if icmp_type == ICMP_ECHO_REPLY:
        answer = classify(socket.AF_INET, icmp_type, code, from_target=from_target)
        return (
            None
            if answer is None
            else QuotedEcho(answer, str(ipaddress.IPv4Address(source)), ident, seq)
        )
    return _parse_quoted_echo(icmp, from_target)


def _parse_quoted_echo(icmp: bytes, from_target: bool) -> QuotedEcho | None:
    icmp_type, code = icmp[0], icmp[1]
    answer = classify(socket.AF_INET, icmp_type, code, from_target=from_target)
    quoted = _strip_ip_header(icmp[8:])  # the error's header is 8 bytes, then the quote
    if answer is None or quoted is None or icmp[8 + 9] != socket.IPPROTO_ICMP:
        return None
    _src, destination, inner = quoted
    if len(inner) < _ECHO.size:
        return None
    inner_type, _code, _sum, ident, seq = _ECHO.unpack_from(inner)
    if inner_type != ICMP_ECHO_REQUEST:
        return None
    return QuotedEcho(answer, str(ipaddress.IPv4Address(destination)), ident, seq)


class ExtendedError(NamedTuple):
    """A ``struct sock_extended_err`` from the error queue and the offender's address."""

    errno: int
    origin: int
    icmp_type: int
    icmp_code: int
    offender: str | None


def parse_extended_error(family: int, cmsg_data: bytes) -> ExtendedError | None:
    """Parse the ``IP_RECVERR``/``IPV6_RECVERR`` control message; None if it is too short."""
    if len(cmsg_data) < _EXTENDED_ERR.size:
        return None
    errno, origin, icmp_type, code, _pad, _info, _data = _EXTENDED_ERR.unpack_from(cmsg_data)
    return ExtendedError(
        errno, origin, icmp_type, code, _offender(family, cmsg_data[_EXTENDED_ERR.size :])
    )


def _offender(family: int, sockaddr: bytes) -> str | None:
    """The address in the ``struct sockaddr_in(6)`` that follows (SO_EE_OFFENDER)."""
    if family == socket.AF_INET6:
        if len(sockaddr) < 24 or struct.unpack_from("=H", sockaddr)[0] != socket.AF_INET6:
            return None
        return str(ipaddress.IPv6Address(sockaddr[8:24]))
    if len(sockaddr) < 8 or struct.unpack_from("=H", sockaddr)[0] != socket.AF_INET:
        return None
    return str(ipaddress.IPv4Address(sockaddr[4:8]))


def echo_seq(data: bytes) -> int | None:
    """Sequence number of an ICMP echo header at the start of ``data`` (None if too short)."""
    if len(data) < _ECHO.size:
        return None
    return int(_ECHO.unpack_from(data)[4])


def build_extended_error(
    family: int, icmp_type: int, icmp_code: int, offender: str, *, errno: int = 113
) -> bytes:
    """The control message the kernel would queue (the inverse of parse_extended_error; tests)."""
    origin = SO_EE_ORIGIN_ICMP6 if family == socket.AF_INET6 else SO_EE_ORIGIN_ICMP
    head = _EXTENDED_ERR.pack(errno, origin, icmp_type, icmp_code, 0, 0, 0)
    packed = ipaddress.ip_address(offender).packed
    if family == socket.AF_INET6:
        return head + struct.pack("=HHI", socket.AF_INET6, 0, 0) + packed + b"\0" * 4
    return head + struct.pack("=HH", socket.AF_INET, 0) + packed + b"\0" * 8
