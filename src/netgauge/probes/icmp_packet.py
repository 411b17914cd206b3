"""ICMP/ICMPv6 echo packets: build requests, parse replies, Internet checksum (RFC 1071).

Pure functions over bytes, no sockets, so they are unit-tested without a network.
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
ICMPV6_ECHO_REQUEST = 128
ICMPV6_ECHO_REPLY = 129

_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
HEADER_LEN = _HEADER.size


class EchoReply(NamedTuple):
    """Identifier and sequence number of a parsed echo reply."""

    ident: int
    seq: int


def checksum(data: bytes) -> int:
    """The 16-bit one's complement Internet checksum of ``data`` (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    # The folded one's complement sum of the 16-bit words is the whole message read as one
    # big-endian number, modulo 0xFFFF (2**16 = 1 mod 0xFFFF), except that a non-zero sum
    # folds to 0xFFFF rather than 0. One bignum operation instead of a word loop: this
    # runs once per echo request, 10,000 times in a round.
    value = int.from_bytes(data, "big")
    total = value % 0xFFFF
    if total == 0 and value:
        total = 0xFFFF
    return ~total & 0xFFFF


def payload_of(size: int) -> bytes:
    """A deterministic payload of ``size`` bytes (a recognisable pattern, like ping's)."""
    return bytes(i & 0xFF for i in range(size))


def build_echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An echo request for ``family`` (AF_INET or AF_INET6).

    ICMPv4 carries its checksum here. ICMPv6 leaves it 0: its checksum covers a pseudo
    header with the source address, which only the kernel knows, and the kernel fills it
    in on both raw and datagram ICMPv6 sockets.
    """
    ident &= 0xFFFF
    seq &= 0xFFFF
    if family == socket.AF_INET6:
        return _HEADER.pack(ICMPV6_ECHO_REQUEST, 0, 0, ident, seq) + payload
    unsummed = _HEADER.pack(ICMP_ECHO_REQUEST, 0, 0, ident, seq) + payload
    return _HEADER.pack(ICMP_ECHO_REQUEST, 0, checksum(unsummed), ident, seq) + payload


class EchoRequests:
    """Echo requests of one family, identifier and payload, differing only in sequence.

    ``build_echo_request`` sums the whole packet for each checksum; here the constant part
    (type, identifier, payload) is summed once and each request adds its sequence number:
    the one's complement sum is a sum of 16-bit words modulo 0xFFFF, so it splits. Same
    bytes as ``build_echo_request`` (tests/unit/probes/test_icmp_packet.py); a 10,000-target
    round builds 10,000 of them.
    """

    __slots__ = ("_ident", "_partial", "_payload", "_type")

    def __init__(self, family: int, ident: int, payload: bytes) -> None:
        self._ident = ident & 0xFFFF
        self._payload = payload
        if family == socket.AF_INET6:
            self._type = ICMPV6_ECHO_REQUEST
            self._partial = -1  # the kernel computes ICMPv6 checksums
            return
        self._type = ICMP_ECHO_REQUEST
        padded = payload + b"\x00" if len(payload) % 2 else payload
        words = (ICMP_ECHO_REQUEST << 8) + self._ident + int.from_bytes(padded, "big")
        self._partial = words % 0xFFFF

    def build(self, seq: int) -> bytes:
        """The request with sequence number ``seq`` (taken modulo 2**16)."""
        seq &= 0xFFFF
        if self._partial < 0:
            return _HEADER.pack(self._type, 0, 0, self._ident, seq) + self._payload
        # The message is never all zeros (its type is 8), so a sum of 0 modulo 0xFFFF is the
        # one's complement "negative zero" 0xFFFF, as in ``checksum``.
        total = (self._partial + seq) % 0xFFFF or 0xFFFF
        return _HEADER.pack(self._type, 0, ~total & 0xFFFF, self._ident, seq) + self._payload


def parse_echo_reply(family: int, data: bytes, *, ip_header: bool) -> EchoReply | None:
    """(ident, seq) of an echo reply, or None for anything else (requests, errors, junk).

    ``ip_header`` is True for raw IPv4 sockets, which deliver the IP header too; raw IPv6
    and all datagram ICMP sockets deliver the ICMP message alone.
    """
    offset = 0
    if ip_header:
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        offset = (data[0] & 0x0F) * 4  # read in place: no copy of the rest, once per reply
    if len(data) < offset + HEADER_LEN:
        return None
    icmp_type, code, _sum, ident, seq = _HEADER.unpack_from(data, offset)
    wanted = ICMPV6_ECHO_REPLY if family == socket.AF_INET6 else ICMP_ECHO_REPLY
    if icmp_type != wanted or code != 0:
        return None
    return EchoReply(ident, seq)
