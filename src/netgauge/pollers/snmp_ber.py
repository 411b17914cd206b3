"""A hand-written BER codec for SNMP v1/v2c messages (RFC 1157, RFC 3416, X.690).

Why not pysnmp: polling is the hot path and the library's generic ASN.1 machinery costs
more than the network. Measured on 2 cores, pysnmp managed ~550 polls/s, a minimal
hand-written codec 12,000+/s; the goal is >10,000 polls/s from one asyncio process.

The codec knows only the fixed shape of an SNMP message::

    SEQUENCE { version INTEGER, community OCTET STRING,
               PDU { request-id, error-status / non-repeaters, error-index / max-repetitions,
                     SEQUENCE OF SEQUENCE { name OID, value } } }

so decoding walks that shape with offsets into the one ``bytes`` object: no ASN.1 objects,
no recursion, no copy of anything but the values handed back. Requests go out with NULL
values, which is all a manager ever sends for GET, GETNEXT and GETBULK.

Pure functions over bytes, no sockets, so they are unit-tested without a network.
"""

from __future__ import annotations

import enum
import socket
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from netgauge.errors import NetgaugeError

__all__ = [
    "END_OF_MIB_VIEW",
    "GET",
    "GETBULK",
    "GETNEXT",
    "NO_SUCH_INSTANCE",
    "NO_SUCH_OBJECT",
    "REPORT",
    "RESPONSE",
    "SET",
    "V1",
    "V2C",
    "Counter32",
    "Counter64",
    "Gauge32",
    "Response",
    "SnmpDecodeError",
    "TimeTicks",
    "Value",
    "VarBindException",
    "decode_response",
    "encode_request",
    "format_oid",
    "parse_oid",
]

V1 = 0
V2C = 1

GET = 0xA0
GETNEXT = 0xA1
RESPONSE = 0xA2
SET = 0xA3
GETBULK = 0xA5
REPORT = 0xA8

# Universal and SNMP application tags (RFC 2578 section 7.1).
_INTEGER = 0x02
_OCTET_STRING = 0x04
_NULL = 0x05
_OID = 0x06
_SEQUENCE = 0x30
_IP_ADDRESS = 0x40
_COUNTER32 = 0x41
_GAUGE32 = 0x42
_TIME_TICKS = 0x43
_OPAQUE = 0x44
_COUNTER64 = 0x46

_ENCODABLE_PDUS = frozenset((GET, GETNEXT, GETBULK))
# Every PDU but the v1 Trap shares the request-id/status/index/varbinds layout, so a test
# agent can decode requests with the same function the poller uses for responses.
_DECODABLE_PDUS = frozenset((GET, GETNEXT, RESPONSE, SET, GETBULK, REPORT))
_VERSIONS = frozenset((V1, V2C))

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1

# A BER length of more than 4 bytes would describe a message over 4 GiB: in a UDP datagram
# it can only be garbage, and refusing it keeps int.from_bytes from building huge numbers.
_MAX_LENGTH_BYTES = 4


class SnmpDecodeError(NetgaugeError):
    """The bytes are not an SNMP v1/v2c message this codec understands.

    ``offset`` is where in the datagram the problem starts, so a packet capture can be
    matched to the message.
    """

    def __init__(self, message: str, offset: int) -> None:
        self.offset = offset
        super().__init__(f"{message} at byte offset {offset}")


class Counter32(int):
    """A Counter32 value: only deltas between polls mean anything, and it wraps at 2**32.

    The subclasses of int exist so the poller can tell counters from gauges without a
    second field; arithmetic on them gives plain ints.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Counter32({int(self)})"


class Gauge32(int):
    """A Gauge32 (also Unsigned32) value: a level, stored as is."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Gauge32({int(self)})"


class TimeTicks(int):
    """A TimeTicks value in hundredths of a second (sysUpTime: detects reboots)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"TimeTicks({int(self)})"


class Counter64(int):
    """A Counter64 value: like Counter32, but wraps at 2**64."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Counter64({int(self)})"


class VarBindException(enum.Enum):
    """The v2c per-varbind exceptions (RFC 3416): the value is missing, not the request.

    Enum members are singletons, so callers test ``value is NO_SUCH_INSTANCE``.
    """

    NO_SUCH_OBJECT = 0x80
    NO_SUCH_INSTANCE = 0x81
    END_OF_MIB_VIEW = 0x82


NO_SUCH_OBJECT = VarBindException.NO_SUCH_OBJECT
NO_SUCH_INSTANCE = VarBindException.NO_SUCH_INSTANCE
END_OF_MIB_VIEW = VarBindException.END_OF_MIB_VIEW

Value = int | bytes | str | tuple[int, ...] | VarBindException | None
"""A decoded varbind value; see ``decode_response`` for which tag gives which type."""


class Response(NamedTuple):
    """A decoded message. For GETBULK requests the two middle integers are
    non-repeaters and max-repetitions, under the names of the response fields."""

    version: int
    community: bytes
    pdu_type: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[tuple[tuple[int, ...], Value]]


# ---------------------------------------------------------------------------------------
# OID text


def parse_oid(text: str) -> tuple[int, ...]:
    """``"1.3.6.1.2.1.1.3.0"`` (a leading dot allowed) as a tuple of arcs.

    Raises ValueError naming the bad part, because the text comes from configuration.
    """
    body = text[1:] if text.startswith(".") else text
    if not body:
        raise ValueError(f"invalid OID {text!r}: it is empty")
    arcs = []
    for part in body.split("."):
        # isascii: str.isdigit alone would let through digits such as "²" that int() refuses.
        if not (part.isascii() and part.isdigit()):
            raise ValueError(f"invalid OID {text!r}: {part!r} is not a non-negative integer")
        arcs.append(int(part))
    oid = tuple(arcs)
    problem = _oid_problem(oid)
    if problem:
        raise ValueError(f"invalid OID {text!r}: {problem}")
    return oid


def format_oid(oid: Sequence[int]) -> str:
    """The dotted form of ``oid``, without a leading dot: ``(1, 3, 6)`` -> ``"1.3.6"``."""
    return ".".join(map(str, oid))


def _oid_problem(oid: Sequence[int]) -> str:
    """Why ``oid`` cannot be BER-encoded, or "" if it can.

    BER packs the first two arcs into one number (40 * a + b), which only round-trips
    when a is 0, 1 or 2 and, below 2, b is under 40.
    """
    if len(oid) < 2:
        return "an OID needs at least two arcs"
    if any(arc < 0 for arc in oid):
        return "arcs cannot be negative"
    if oid[0] > 2:
        return f"the first arc must be 0, 1 or 2, not {oid[0]}"
    if oid[0] < 2 and oid[1] >= 40:
        return f"under arc {oid[0]} the second arc must be below 40, not {oid[1]}"
    return ""


# ---------------------------------------------------------------------------------------
# Encoding


def encode_request(
    version: int,
    community: bytes,
    pdu_type: int,
    request_id: int,
    oids: Sequence[tuple[int, ...]],
    *,
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    """A whole GET, GETNEXT or GETBULK message asking for ``oids``.

    Raises ValueError for arguments no agent could accept (an unknown version or PDU,
    GETBULK in v1, a request id outside Integer32, an OID BER cannot carry): they are
    bugs in the caller, not something to send and wait a timeout for.
    """
    _check_request(version, pdu_type, request_id, non_repeaters, max_repetitions)
    pdu = encode_pdu(
        pdu_type, request_id, oids, non_repeaters=non_repeaters, max_repetitions=max_repetitions
    )
    return _tlv(_SEQUENCE, _encode_integer(version) + _tlv(_OCTET_STRING, community) + pdu)


def encode_pdu(
    pdu_type: int,
    request_id: int,
    oids: Sequence[tuple[int, ...]],
    *,
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    """The PDU alone (what SNMPv3 wraps in its scoped PDU); arguments as ``encode_request``'s,
    checked by it."""
    varbinds = b"".join([_null_varbind(oid) for oid in oids])
    return _tlv(
        pdu_type,
        _encode_integer(request_id)
        + _encode_integer(non_repeaters)
        + _encode_integer(max_repetitions)
        + _tlv(_SEQUENCE, varbinds),
    )


def _check_request(
    version: int, pdu_type: int, request_id: int, non_repeaters: int, max_repetitions: int
) -> None:
    if version not in _VERSIONS:
        raise ValueError(f"SNMP version must be V1 (0) or V2C (1), not {version}")
    if pdu_type not in _ENCODABLE_PDUS:
        raise ValueError(f"can only encode GET, GETNEXT and GETBULK, not PDU tag 0x{pdu_type:02x}")
    if pdu_type == GETBULK and version == V1:
        raise ValueError("GETBULK does not exist in SNMPv1")
    if not _INT32_MIN <= request_id <= _INT32_MAX:
        raise ValueError(f"request id {request_id} is outside Integer32")
    if pdu_type != GETBULK and (non_repeaters or max_repetitions):
        raise ValueError("non_repeaters and max_repetitions only apply to GETBULK")
    for name, count in (("non_repeaters", non_repeaters), ("max_repetitions", max_repetitions)):
        if not 0 <= count <= _INT32_MAX:
            raise ValueError(f"{name} must be between 0 and {_INT32_MAX}, not {count}")


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _encode_length(len(content)) + content


def _encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    # Long form: 0x80 | count, then the length in count big-endian bytes.
    count = (length.bit_length() + 7) // 8
    return bytes((0x80 | count,)) + length.to_bytes(count, "big")


def _encode_integer(value: int) -> bytes:
    # Minimal two's complement: enough bytes for the magnitude plus a sign bit. Measuring
    # ~value for negatives makes -128 one byte (0x80) rather than two (0xff 0x80).
    magnitude = value if value >= 0 else ~value
    content = value.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)
    return bytes((_INTEGER, len(content))) + content


# A poller asks for the same OIDs every interval, so each varbind is encoded once.
@lru_cache(maxsize=8192)
def _null_varbind(oid: tuple[int, ...]) -> bytes:
    return _tlv(_SEQUENCE, _encode_oid(oid) + b"\x05\x00")


def _encode_oid(oid: tuple[int, ...]) -> bytes:
    problem = _oid_problem(oid)
    if problem:
        raise ValueError(f"cannot encode OID {format_oid(oid)!r}: {problem}")
    arcs = (40 * oid[0] + oid[1], *oid[2:])
    return _tlv(_OID, b"".join([_encode_arc(arc) for arc in arcs]))


def _encode_arc(arc: int) -> bytes:
    # Base 128, most significant group first, the high bit set on all but the last byte.
    if arc < 0x80:
        return bytes((arc,))
    groups = bytearray((arc & 0x7F,))
    arc >>= 7
    while arc:
        groups.append(0x80 | (arc & 0x7F))
        arc >>= 7
    groups.reverse()
    return bytes(groups)


# ---------------------------------------------------------------------------------------
# Decoding


def decode_response(data: bytes | bytearray | memoryview) -> Response:
    """Decode one SNMP v1/v2c message (normally a RESPONSE or REPORT).

    Values come back as: INTEGER -> int, OCTET STRING and Opaque -> bytes, NULL -> None,
    OBJECT IDENTIFIER -> tuple of ints, IpAddress -> dotted-quad str, Counter32, Gauge32,
    TimeTicks, Counter64 -> the int subclasses of those names, noSuchObject,
    noSuchInstance, endOfMibView -> the VarBindException singletons.

    Anything malformed, truncated or unsupported raises SnmpDecodeError, never another
    exception: a datagram is untrusted input and one bad agent must not stop a poller.
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    end = len(data)
    start, stop = _expect(data, 0, end, _SEQUENCE, "message SEQUENCE")
    if stop != end:
        raise SnmpDecodeError(f"{end - stop} bytes after the message", stop)
    version_at = start
    start, version = _read_integer(data, start, stop, "version")
    if version not in _VERSIONS:
        raise SnmpDecodeError(f"unsupported SNMP version {version}", version_at)
    start, community = _read_octets(data, start, stop, "community")
    return _decode_pdu(data, start, stop, version, community)


def _decode_pdu(data: bytes, pos: int, end: int, version: int, community: bytes) -> Response:
    pdu_type, start, stop = _header(data, pos, end, "PDU")
    if pdu_type not in _DECODABLE_PDUS:
        raise SnmpDecodeError(f"unsupported PDU tag 0x{pdu_type:02x}", pos)
    if stop != end:
        raise SnmpDecodeError(f"{end - stop} bytes after the PDU", stop)
    start, request_id = _read_integer(data, start, stop, "request-id")
    start, error_status = _read_integer(data, start, stop, "error-status")
    start, error_index = _read_integer(data, start, stop, "error-index")
    list_start, list_stop = _expect(data, start, stop, _SEQUENCE, "varbind list")
    if list_stop != stop:
        raise SnmpDecodeError(f"{stop - list_stop} bytes after the varbind list", list_stop)
    varbinds = _decode_varbinds(data, list_start, list_stop)
    return Response(version, community, pdu_type, request_id, error_status, error_index, varbinds)


def _decode_varbinds(data: bytes, pos: int, end: int) -> list[tuple[tuple[int, ...], Value]]:
    varbinds: list[tuple[tuple[int, ...], Value]] = []
    append = varbinds.append
    while pos < end:
        start, stop = _expect(data, pos, end, _SEQUENCE, "varbind")
        name_start, name_stop = _expect(data, start, stop, _OID, "varbind name")
        tag, value_start, value_stop = _header(data, name_stop, stop, "varbind value")
        if value_stop != stop:
            raise SnmpDecodeError(f"{stop - value_stop} bytes after the varbind value", value_stop)
        oid = _decode_oid(data, name_start, name_stop)
        append((oid, _decode_value(data, tag, name_stop, value_start, value_stop)))
        pos = stop
    return varbinds


def _header(data: bytes, pos: int, end: int, what: str) -> tuple[int, int, int]:
    """Tag, content start and content stop of the TLV at ``pos``, checked to end by ``end``."""
    if pos + 2 > end:
        raise SnmpDecodeError(f"truncated {what} header", pos)
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        start, length = _long_length(data, start, end, length & 0x7F, what)
    stop = start + length
    if stop > end:
        raise SnmpDecodeError(
            f"{what} length {length} runs past the end of its container ({end})", pos
        )
    return tag, start, stop


def _long_length(data: bytes, pos: int, end: int, count: int, what: str) -> tuple[int, int]:
    """Content start and length of a long-form length whose count byte precedes ``pos``."""
    if count == 0:
        # Indefinite lengths are BER but SNMP forbids them (RFC 3417 section 8).
        raise SnmpDecodeError(f"indefinite length for {what}", pos - 1)
    if count > _MAX_LENGTH_BYTES:
        raise SnmpDecodeError(f"{what} length takes {count} bytes", pos - 1)
    if pos + count > end:
        raise SnmpDecodeError(f"truncated {what} length", pos - 1)
    return pos + count, int.from_bytes(data[pos : pos + count], "big")


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """Content start and stop of the TLV at ``pos``, which must carry ``tag``."""
    if pos < end and data[pos] != tag:
        raise SnmpDecodeError(
            f"expected {what} (tag 0x{tag:02x}), found tag 0x{data[pos]:02x}", pos
        )
    _, start, stop = _header(data, pos, end, what)
    return start, stop


def _read_integer(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """Where the INTEGER at ``pos`` ends, and its value."""
    start, stop = _expect(data, pos, end, _INTEGER, what)
    if start == stop:
        raise SnmpDecodeError(f"empty INTEGER for {what}", pos)
    return stop, int.from_bytes(data[start:stop], "big", signed=True)


def _read_octets(data: bytes, pos: int, end: int, what: str) -> tuple[int, bytes]:
    """Where the OCTET STRING at ``pos`` ends, and its content."""
    start, stop = _expect(data, pos, end, _OCTET_STRING, what)
    return stop, data[start:stop]


# The first BER subidentifier packs two arcs as 40 * a + b; a is at most 2, so 80 and up
# all belong to a = 2. Precomputed for the one-byte values, which is every MIB-2 OID.
_FIRST_ARCS = tuple((min(x // 40, 2), x - 40 * min(x // 40, 2)) for x in range(0x80))


def _decode_oid(data: bytes, start: int, stop: int) -> tuple[int, ...]:
    if start == stop:
        raise SnmpDecodeError("empty OBJECT IDENTIFIER", start)
    content = data[start:stop]
    # isascii() is a C-speed "every byte < 0x80": then each byte is a whole arc.
    if content.isascii():
        return _FIRST_ARCS[content[0]] + tuple(content[1:])
    return _decode_long_oid(content, start)


def _decode_long_oid(content: bytes, offset: int) -> tuple[int, ...]:
    if content[-1] & 0x80:
        raise SnmpDecodeError("OBJECT IDENTIFIER ends inside an arc", offset + len(content) - 1)
    return _long_oid_arcs(content)


# An agent answers the same OIDs every poll, and an OID with an arc of 128 or more (every
# enterprise MIB: UCD-SNMP is 2021) needs the per-byte loop: decode each one once.
@lru_cache(maxsize=65536)
def _long_oid_arcs(content: bytes) -> tuple[int, ...]:
    arcs = []
    arc = 0
    for byte in content:
        arc = (arc << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(arc)
            arc = 0
    first = arcs[0]
    if first < 0x80:
        return _FIRST_ARCS[first] + tuple(arcs[1:])
    return (2, first - 80, *arcs[1:])


# Unsigned application types: the int subclass to build and the largest value it holds.
_UNSIGNED: dict[int, tuple[type[int], int]] = {
    _COUNTER32: (Counter32, 2**32 - 1),
    _GAUGE32: (Gauge32, 2**32 - 1),
    _TIME_TICKS: (TimeTicks, 2**32 - 1),
    _COUNTER64: (Counter64, 2**64 - 1),
}
_EXCEPTIONS = {member.value: member for member in VarBindException}


def _decode_value(data: bytes, tag: int, pos: int, start: int, stop: int) -> Value:
    """The value of the TLV at ``pos`` whose content is ``data[start:stop]``.

    Tests run in order of how often pollers meet the tags: counters and gauges first.
    """
    unsigned = _UNSIGNED.get(tag)
    if unsigned is not None:
        return _decode_unsigned(data, pos, start, stop, *unsigned)
    if tag == _OCTET_STRING or tag == _OPAQUE:
        return data[start:stop]
    if tag == _INTEGER:
        if start == stop:
            raise SnmpDecodeError("empty INTEGER value", pos)
        return int.from_bytes(data[start:stop], "big", signed=True)
    if tag == _OID:
        return _decode_oid(data, start, stop)
    if tag == _IP_ADDRESS:
        if stop - start != 4:
            raise SnmpDecodeError(f"IpAddress of {stop - start} bytes, not 4", pos)
        return socket.inet_ntoa(data[start:stop])
    if tag == _NULL or tag in _EXCEPTIONS:
        if start != stop:
            raise SnmpDecodeError(f"{stop - start} content bytes in a NULL-like value", pos)
        return None if tag == _NULL else _EXCEPTIONS[tag]
    raise SnmpDecodeError(f"unsupported value tag 0x{tag:02x}", pos)


def _decode_unsigned(
    data: bytes, pos: int, start: int, stop: int, kind: type[int], limit: int
) -> int:
    if start == stop:
        raise SnmpDecodeError(f"empty {kind.__name__}", pos)
    # Read as unsigned even when the sign bit is set: some agents drop the leading 0x00 of
    # counters from 2**31 up, and net-snmp reads them the same way.
    value = int.from_bytes(data[start:stop], "big")
    if value > limit:
        raise SnmpDecodeError(f"{kind.__name__} {value} is out of range", pos)
    return kind(value)


# ---------------------------------------------------------------------------------------
# Building blocks for SNMPv3 (``snmp_usm`` wraps the same PDUs in its own message)

SEQUENCE = _SEQUENCE
OCTET_STRING = _OCTET_STRING
tlv = _tlv
encode_integer = _encode_integer
read_header = _header
expect = _expect
read_integer = _read_integer
read_octets = _read_octets


def decode_pdu(data: bytes, pos: int, end: int, version: int) -> Response:
    """The PDU at ``pos``, which must end exactly at ``end`` (a v3 scoped PDU's content)."""
    return _decode_pdu(data, pos, end, version, b"")
