"""Echo packets: RFC 1071 checksum, identifier/sequence round trip, reply parsing."""

from __future__ import annotations

import random
import socket
import struct

import pytest

from netgauge.probes.icmp_packet import (
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    ICMPV6_ECHO_REPLY,
    ICMPV6_ECHO_REQUEST,
    EchoReply,
    EchoRequests,
    build_echo_request,
    checksum,
    parse_echo_reply,
    payload_of,
)


def as_reply(packet: bytes, reply_type: int) -> bytes:
    """What the peer sends back: the same message with the reply type."""
    return bytes([reply_type]) + packet[1:]


def ipv4_header(payload_len: int, ihl_words: int = 5) -> bytes:
    header = bytearray(ihl_words * 4)
    header[0] = 0x40 | ihl_words
    struct.pack_into("!H", header, 2, len(header) + payload_len)
    header[9] = socket.IPPROTO_ICMP
    return bytes(header)


def test_checksum_of_the_rfc_1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (end-around carry).
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2


def test_checksum_pads_an_odd_length_with_a_zero_byte() -> None:
    assert checksum(b"\x12\x34\x56") == checksum(b"\x12\x34\x56\x00")


def test_ipv4_request_carries_a_valid_checksum_id_and_seq() -> None:
    packet = build_echo_request(socket.AF_INET, 0x1234, 7, payload_of(56))
    assert len(packet) == 8 + 56
    assert checksum(packet) == 0  # a correct checksum makes the whole message sum to 0
    icmp_type, code, _sum, ident, seq = struct.unpack("!BBHHH", packet[:8])
    assert (icmp_type, code, ident, seq) == (ICMP_ECHO_REQUEST, 0, 0x1234, 7)


def test_ipv6_request_leaves_the_checksum_to_the_kernel() -> None:
    packet = build_echo_request(socket.AF_INET6, 1, 2, b"abc")
    assert packet[0] == ICMPV6_ECHO_REQUEST
    assert packet[2:4] == b"\x00\x00"
    assert packet[8:] == b"abc"


def test_ident_and_seq_wrap_to_16_bits() -> None:
    packet = build_echo_request(socket.AF_INET, 0x1_0001, 0x1_0002, b"")
    assert struct.unpack("!HH", packet[4:8]) == (1, 2)


@pytest.mark.parametrize("size", [0, 1, 56, 1472])
def test_reply_round_trip_without_ip_header(size: int) -> None:
    request = build_echo_request(socket.AF_INET, 4242, 65535, payload_of(size))
    reply = as_reply(request, ICMP_ECHO_REPLY)
    assert parse_echo_reply(socket.AF_INET, reply, ip_header=False) == EchoReply(4242, 65535)


@pytest.mark.parametrize("ihl_words", [5, 6])  # with and without IP options
def test_raw_ipv4_reply_skips_the_ip_header(ihl_words: int) -> None:
    icmp = as_reply(build_echo_request(socket.AF_INET, 9, 3, b"xy"), ICMP_ECHO_REPLY)
    data = ipv4_header(len(icmp), ihl_words) + icmp
    assert parse_echo_reply(socket.AF_INET, data, ip_header=True) == EchoReply(9, 3)


def test_ipv6_reply_round_trip() -> None:
    reply = as_reply(build_echo_request(socket.AF_INET6, 77, 5, b""), ICMPV6_ECHO_REPLY)
    assert parse_echo_reply(socket.AF_INET6, reply, ip_header=False) == EchoReply(77, 5)


def test_requests_and_other_types_are_not_replies() -> None:
    request = build_echo_request(socket.AF_INET, 1, 1, b"")
    assert parse_echo_reply(socket.AF_INET, request, ip_header=False) is None
    unreachable = bytes([3, 1]) + request[2:]
    assert parse_echo_reply(socket.AF_INET, unreachable, ip_header=False) is None
    v4_reply_seen_as_v6 = as_reply(request, ICMP_ECHO_REPLY)
    assert parse_echo_reply(socket.AF_INET6, v4_reply_seen_as_v6, ip_header=False) is None


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x00", b"\x45" + b"\x00" * 22])
def test_truncated_or_foreign_data_is_ignored(data: bytes) -> None:
    assert parse_echo_reply(socket.AF_INET, data, ip_header=True) is None
    assert parse_echo_reply(socket.AF_INET, data[:7], ip_header=False) is None


def test_a_non_ipv4_header_on_a_raw_v4_socket_is_ignored() -> None:
    icmp = as_reply(build_echo_request(socket.AF_INET, 9, 3, b""), ICMP_ECHO_REPLY)
    data = b"\x60" + ipv4_header(len(icmp))[1:] + icmp
    assert parse_echo_reply(socket.AF_INET, data, ip_header=True) is None


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_echo_requests_are_the_bytes_build_echo_request_makes(family: int) -> None:
    rng = random.Random(1071)
    for _ in range(2000):
        ident, payload = rng.getrandbits(17), rng.randbytes(rng.choice([0, 1, 7, 56, 1400]))
        requests = EchoRequests(family, ident, payload)
        for seq in (0, 0xFFFF, 0x10000, rng.getrandbits(16)):
            assert requests.build(seq) == build_echo_request(family, ident, seq, payload)


def test_echo_requests_whose_sum_is_a_multiple_of_0xffff_match_too() -> None:
    # type 8 + ident 0 + payload 0xF7FF... sums to 0xFFFF when seq is 0: the edge of the fold
    payload = b"\xf7\xff"
    requests = EchoRequests(socket.AF_INET, 0, payload)
    for seq in (0, 0xFFFF, 1):
        built = requests.build(seq)
        assert built == build_echo_request(socket.AF_INET, 0, seq, payload)
        assert checksum(built) == 0  # a valid checksum sums the whole message to zero
