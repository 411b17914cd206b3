"""The SNMP BER codec against byte vectors worked out by hand from X.690, and a
test-only encoder written separately from the codec, so a shared misreading of the rules
would have to be made twice."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypedDict, Unpack

import pytest

from netgauge.errors import NetgaugeError
from netgauge.pollers.snmp_ber import (
    END_OF_MIB_VIEW,
    GET,
    GETBULK,
    GETNEXT,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    REPORT,
    RESPONSE,
    SET,
    V1,
    V2C,
    Counter32,
    Counter64,
    Gauge32,
    SnmpDecodeError,
    TimeTicks,
    VarBindException,
    decode_response,
    encode_request,
    format_oid,
    parse_oid,
)

SYS_UPTIME_0 = (1, 3, 6, 1, 2, 1, 1, 3, 0)
IF_DESCR = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)

# v2c GET of sysUpTime.0, community "public", request id 1, by hand:
#   OID 1.3.6.1.2.1.1.3.0: 40*1+3 = 43 = 0x2b, then one byte per arc
#       06 08 2b 06 01 02 01 01 03 00                    10 bytes
#   NULL                       05 00                      2 bytes
#   varbind     30 0c (10 + 2 = 12)                      14 bytes
#   varbinds    30 0e (14)                               16 bytes
#   request-id 02 01 01, error-status 02 01 00, error-index 02 01 00   9 bytes
#   PDU         a0 19 (9 + 16 = 25)                      27 bytes
#   version 02 01 01 (v2c = 1), community 04 06 "public"               11 bytes
#   message     30 26 (11 + 27 = 38)                     40 bytes
GET_SYS_UPTIME = bytes.fromhex(
    "30260201010406" + b"public".hex() + "a019020101020100020100300e300c06082b060102010103000500"
)

# v2c GETBULK of ifDescr, community "public", request id 1000, non-repeaters 0,
# max-repetitions 10, by hand:
#   request-id 1000 = 0x03e8 (top bit clear: no sign byte)    02 02 03 e8   4 bytes
#   non-repeaters 02 01 00, max-repetitions 02 01 0a           6 bytes
#   OID 1.3.6.1.2.1.2.2.1.2   06 09 2b 06 01 02 01 02 02 01 02   11 bytes
#   varbind 30 0d (11 + 2 NULL = 13) -> 15; varbinds 30 0f -> 17
#   PDU a5 1b (4 + 6 + 17 = 27) -> 29
#   message 30 28 (3 + 8 + 29 = 40) -> 42 bytes
GETBULK_IF_DESCR = bytes.fromhex(
    "3028"
    "020101"
    "0406" + b"public".hex() + "a51b"
    "020203e8"
    "020100"
    "02010a"
    "300f"
    "300d"
    "06092b0601020102020102"
    "0500"
)

# v1 GETNEXT of two OIDs, community "ab", request id -1, by hand:
#   version 02 01 00; community 04 02 61 62; request-id -1 = 02 01 ff
#   OID 1.3.6.1: 06 03 2b 06 01 -> varbind 30 07 (5 + 2) -> 9 bytes
#   OID 1.3.6.2: 06 03 2b 06 02 -> 9 bytes; varbinds 30 12 (18) -> 20
#   PDU a1 1d (3 + 3 + 3 + 20 = 29) -> 31; message 30 26 (3 + 4 + 31 = 38) -> 40
GETNEXT_V1 = bytes.fromhex(
    "3026"
    "020100"
    "04026162"
    "a11d"
    "0201ff"
    "020100"
    "020100"
    "3012"
    "3007" + "06032b0601" + "0500"
    "3007" + "06032b0602" + "0500"
)


# --- a test-only BER encoder, written from X.690 independently of the codec ------------


def ber_length(length: int, *, long_form: bool = False) -> bytes:
    if length < 0x80 and not long_form:
        return bytes([length])
    # long_form pads to 4 bytes: legal BER that some agents send, never minimal.
    size = 4 if long_form else (length.bit_length() + 7) // 8
    return bytes([0x80 | size]) + length.to_bytes(size, "big")


def tlv(tag: int, content: bytes, *, long_form: bool = False) -> bytes:
    return bytes([tag]) + ber_length(len(content), long_form=long_form) + content


def ber_int_content(value: int) -> bytes:
    for size in range(1, 20):
        try:
            return value.to_bytes(size, "big", signed=True)
        except OverflowError:
            continue
    raise AssertionError(value)


def ber_int(value: int, *, long_form: bool = False) -> bytes:
    return tlv(0x02, ber_int_content(value), long_form=long_form)


def ber_oid_content(oid: tuple[int, ...]) -> bytes:
    out = bytearray()
    for arc in [oid[0] * 40 + oid[1], *oid[2:]]:
        septets = [arc & 0x7F]
        arc >>= 7
        while arc:
            septets.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(septets))
    return bytes(out)


def ber_oid(oid: tuple[int, ...], *, long_form: bool = False) -> bytes:
    return tlv(0x06, ber_oid_content(oid), long_form=long_form)


def unsigned(tag: int, value: int) -> bytes:
    # The leading zero keeps a value with its top bit set non-negative, as X.690 wants.
    return tlv(tag, ber_int_content(value))


class MessageOptions(TypedDict, total=False):
    """The keywords of :func:`message`."""

    version: int
    community: bytes
    pdu_type: int
    request_id: int
    error_status: int
    error_index: int
    long_form: bool


def message(
    varbinds: Sequence[tuple[tuple[int, ...], bytes]],
    *,
    version: int = V2C,
    community: bytes = b"public",
    pdu_type: int = RESPONSE,
    request_id: int = 1,
    error_status: int = 0,
    error_index: int = 0,
    long_form: bool = False,
) -> bytes:
    """A whole message whose varbind values are given already encoded."""
    lf = long_form
    vbs = b"".join(
        tlv(0x30, ber_oid(oid, long_form=lf) + value, long_form=lf) for oid, value in varbinds
    )
    pdu = (
        ber_int(request_id, long_form=lf)
        + ber_int(error_status, long_form=lf)
        + ber_int(error_index, long_form=lf)
        + tlv(0x30, vbs, long_form=lf)
    )
    body = (
        ber_int(version, long_form=lf)
        + tlv(0x04, community, long_form=lf)
        + tlv(pdu_type, pdu, long_form=lf)
    )
    return tlv(0x30, body, long_form=lf)


# One varbind of every value type: (encoded value, decoded value, decoded type).
EVERY_TYPE = [
    (ber_int(42), 42, int),
    (ber_int(-42), -42, int),
    (ber_int(-(2**31)), -(2**31), int),
    (tlv(0x04, b"eth0"), b"eth0", bytes),
    (tlv(0x04, b""), b"", bytes),
    (b"\x05\x00", None, type(None)),
    (ber_oid((1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)), (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10), tuple),
    (tlv(0x40, bytes([192, 0, 2, 254])), "192.0.2.254", str),
    (unsigned(0x41, 2**32 - 1), 2**32 - 1, Counter32),
    (unsigned(0x42, 1_000_000_000), 1_000_000_000, Gauge32),
    (unsigned(0x43, 8_640_000), 8_640_000, TimeTicks),
    (tlv(0x44, b"\x9f\x78\x04\x3f\x80\x00\x00"), b"\x9f\x78\x04\x3f\x80\x00\x00", bytes),
    (unsigned(0x46, 2**64 - 1), 2**64 - 1, Counter64),
    (b"\x80\x00", NO_SUCH_OBJECT, VarBindException),
    (b"\x81\x00", NO_SUCH_INSTANCE, VarBindException),
    (b"\x82\x00", END_OF_MIB_VIEW, VarBindException),
]


def every_type_response(**options: Unpack[MessageOptions]) -> bytes:
    varbinds = [
        ((1, 3, 6, 1, 2, 1, 99, i), encoded) for i, (encoded, _, _) in enumerate(EVERY_TYPE)
    ]
    return message(varbinds, **options)


# --- encoding ------------------------------------------------------------------------


def test_get_matches_hand_worked_bytes() -> None:
    assert len(GET_SYS_UPTIME) == 40
    assert encode_request(V2C, b"public", GET, 1, [SYS_UPTIME_0]) == GET_SYS_UPTIME


def test_getbulk_matches_hand_worked_bytes() -> None:
    assert len(GETBULK_IF_DESCR) == 42
    encoded = encode_request(
        V2C, b"public", GETBULK, 1000, [IF_DESCR], non_repeaters=0, max_repetitions=10
    )
    assert encoded == GETBULK_IF_DESCR


def test_v1_getnext_with_negative_request_id_matches_hand_worked_bytes() -> None:
    encoded = encode_request(V1, b"ab", GETNEXT, -1, [(1, 3, 6, 1), (1, 3, 6, 2)])
    assert encoded == GETNEXT_V1


def test_test_encoder_agrees_with_hand_worked_bytes() -> None:
    # Guards the helper the decoding tests rely on.
    null = b"\x05\x00"
    assert message([(SYS_UPTIME_0, null)], pdu_type=GET) == GET_SYS_UPTIME


@pytest.mark.parametrize(
    ("request_id", "content_hex"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "0080"),  # top bit set: a zero byte keeps it positive
        (255, "00ff"),
        (256, "0100"),
        (-1, "ff"),
        (-128, "80"),  # minimal: one byte, not ff 80
        (-129, "ff7f"),
        (2**31 - 1, "7fffffff"),
        (-(2**31), "80000000"),
    ],
)
def test_request_id_is_minimal_twos_complement(request_id: int, content_hex: str) -> None:
    encoded = encode_request(V2C, b"public", GET, request_id, [SYS_UPTIME_0])
    content = bytes.fromhex(content_hex)
    # 30 len | 02 01 01 | 04 06 public | a0 len | 02 <request id>
    assert encoded[15:17] == bytes([0x02, len(content)])
    assert encoded[17 : 17 + len(content)] == content
    assert decode_response(encoded).request_id == request_id


@pytest.mark.parametrize(
    ("oid", "encoded_hex"),
    [
        ((0, 0), "060100"),
        ((1, 3), "06012b"),
        ((2, 40), "060178"),  # 80 + 40 = 120: still one byte
        ((2, 999, 3), "0603883703"),  # the X.690 example: 1079 = 0x08 * 128 + 0x37
        ((1, 3, 6, 1, 4, 1, 2**28), "060a2b06010401" + "8180808000"),
        ((1, 3, 6, 1, 4, 1, 2**32 - 1), "060a2b06010401" + "8fffffff7f"),
        ((1, 3, 2**64), "060b2b" + "82808080808080808000"),
    ],
)
def test_oid_encoding(oid: tuple[int, ...], encoded_hex: str) -> None:
    encoded = encode_request(V2C, b"public", GET, 1, [oid])
    assert encoded.endswith(bytes.fromhex(encoded_hex) + b"\x05\x00")
    assert decode_response(encoded).varbinds == [(oid, None)]


@pytest.mark.parametrize(("count", "length_bytes"), [(10, 1), (40, 2)])
def test_long_form_lengths_in_requests(count: int, length_bytes: int) -> None:
    oids = [(*IF_DESCR, i) for i in range(1, count + 1)]
    encoded = encode_request(V2C, b"public", GETNEXT, 7, oids)
    assert encoded[1] == 0x80 | length_bytes
    assert int.from_bytes(encoded[2 : 2 + length_bytes], "big") == len(encoded) - 2 - length_bytes
    decoded = decode_response(encoded)
    assert decoded.pdu_type == GETNEXT
    assert [oid for oid, _ in decoded.varbinds] == oids


def test_getbulk_fields_and_empty_request_round_trip() -> None:
    encoded = encode_request(V2C, b"c", GETBULK, 9, [], non_repeaters=2, max_repetitions=25)
    decoded = decode_response(encoded)
    assert (decoded.error_status, decoded.error_index) == (2, 25)
    assert decoded.varbinds == []


@pytest.mark.parametrize(
    ("args", "kwargs", "message_part"),
    [
        ((2, b"p", GET, 1, [SYS_UPTIME_0]), {}, "version"),
        ((V2C, b"p", SET, 1, [SYS_UPTIME_0]), {}, "PDU tag 0xa3"),
        ((V2C, b"p", RESPONSE, 1, [SYS_UPTIME_0]), {}, "PDU tag 0xa2"),
        ((V1, b"p", GETBULK, 1, [SYS_UPTIME_0]), {}, "SNMPv1"),
        ((V2C, b"p", GET, 2**31, [SYS_UPTIME_0]), {}, "Integer32"),
        ((V2C, b"p", GET, -(2**31) - 1, [SYS_UPTIME_0]), {}, "Integer32"),
        ((V2C, b"p", GET, 1, [SYS_UPTIME_0]), {"max_repetitions": 5}, "GETBULK"),
        ((V2C, b"p", GETBULK, 1, [SYS_UPTIME_0]), {"non_repeaters": -1}, "non_repeaters"),
        ((V2C, b"p", GETBULK, 1, [SYS_UPTIME_0]), {"max_repetitions": 2**31}, "max_repetitions"),
        ((V2C, b"p", GET, 1, [(1,)]), {}, "two arcs"),
        ((V2C, b"p", GET, 1, [(3, 1)]), {}, "first arc"),
        ((V2C, b"p", GET, 1, [(1, 40)]), {}, "second arc"),
        ((V2C, b"p", GET, 1, [(1, 3, -6)]), {}, "negative"),
    ],
)
def test_encode_refuses_what_no_agent_accepts(
    args: tuple[int, bytes, int, int, list[tuple[int, ...]]],
    kwargs: dict[str, int],
    message_part: str,
) -> None:
    bulk = {"non_repeaters": 0, "max_repetitions": 0} | kwargs
    with pytest.raises(ValueError, match=message_part):
        encode_request(
            *args, non_repeaters=bulk["non_repeaters"], max_repetitions=bulk["max_repetitions"]
        )


# --- decoding ------------------------------------------------------------------------


def test_decodes_every_value_type() -> None:
    decoded = decode_response(every_type_response(request_id=123456, error_status=5, error_index=3))
    assert decoded.version == V2C
    assert decoded.community == b"public"
    assert decoded.pdu_type == RESPONSE
    assert (decoded.request_id, decoded.error_status, decoded.error_index) == (123456, 5, 3)
    assert len(decoded.varbinds) == len(EVERY_TYPE)
    for i, ((oid, value), (_, expected, kind)) in enumerate(
        zip(decoded.varbinds, EVERY_TYPE, strict=True)
    ):
        assert oid == (1, 3, 6, 1, 2, 1, 99, i)
        assert value == expected
        assert type(value) is kind


def test_v2_exceptions_are_singletons() -> None:
    values = [value for _, value in decode_response(every_type_response()).varbinds]
    assert values[-3] is NO_SUCH_OBJECT
    assert values[-2] is NO_SUCH_INSTANCE
    assert values[-1] is END_OF_MIB_VIEW
    assert VarBindException.NO_SUCH_INSTANCE is NO_SUCH_INSTANCE


def test_counter_types_are_ints_that_tell_kinds_apart() -> None:
    counter, gauge = Counter32(5), Gauge32(5)
    assert (counter, gauge) == (5, 5)
    assert isinstance(counter, int) and not isinstance(counter, Gauge32)
    assert repr(counter) == "Counter32(5)"
    assert repr(Counter64(2**64 - 1)) == f"Counter64({2**64 - 1})"
    assert repr(TimeTicks(100)) == "TimeTicks(100)"
    assert repr(gauge) == "Gauge32(5)"


def test_all_lengths_in_long_form_decode_the_same() -> None:
    assert decode_response(every_type_response(long_form=True)) == decode_response(
        every_type_response()
    )


def test_long_octet_string() -> None:
    text = bytes(range(256)) + b"x" * 44
    encoded_value = tlv(0x04, text)
    assert encoded_value[:4] == bytes.fromhex("04 82 01 2c")  # 300 = 0x012c
    decoded = decode_response(message([(SYS_UPTIME_0, encoded_value)]))
    assert decoded.varbinds == [(SYS_UPTIME_0, text)]


@pytest.mark.parametrize("value", [-1, -128, -129, -(2**31), -(2**63), 0, 2**31 - 1, 2**63])
def test_integers_round_trip(value: int) -> None:
    decoded = decode_response(message([(SYS_UPTIME_0, ber_int(value))], request_id=value))
    assert decoded.varbinds[0][1] == value
    assert decoded.request_id == value


@pytest.mark.parametrize(
    "oid",
    [
        (1, 3, 6, 1, 4, 1, 2**28 + 1),
        (1, 3, 6, 1, 4, 1, 2**32 - 1, 0),
        (1, 3, 6, 1, 4, 1, 2**64 + 5),
        (2, 999, 3),
        (2, 47, 1),  # 80 + 47 = 127: one byte, the last of the one-byte table
        (2, 48),  # 128: the first subidentifier needs two bytes
        (0, 39, 127, 128),
    ],
)
def test_big_oid_arcs_round_trip_as_names_and_values(oid: tuple[int, ...]) -> None:
    decoded = decode_response(message([(oid, ber_oid(oid))]))
    assert decoded.varbinds == [(oid, oid)]


def test_unsigned_values_with_the_sign_bit_and_no_leading_zero() -> None:
    # Some agents send Counter32 4294967295 as ff ff ff ff; read it as unsigned.
    decoded = decode_response(message([(SYS_UPTIME_0, tlv(0x41, b"\xff\xff\xff\xff"))]))
    assert decoded.varbinds[0][1] == 2**32 - 1


def test_report_pdu_and_v1_and_accepts_bytearray_and_memoryview() -> None:
    encoded = every_type_response(pdu_type=REPORT, version=V1)
    decoded = decode_response(encoded)
    assert (decoded.version, decoded.pdu_type) == (V1, REPORT)
    assert decode_response(bytearray(encoded)) == decoded
    assert decode_response(memoryview(encoded)) == decoded


# --- malformed input -----------------------------------------------------------------


def test_truncated_at_every_offset() -> None:
    encoded = every_type_response()
    for cut in range(len(encoded)):
        with pytest.raises(SnmpDecodeError):
            decode_response(encoded[:cut])


def test_truncated_long_form_message_at_every_offset() -> None:
    encoded = every_type_response(long_form=True)
    for cut in range(len(encoded)):
        with pytest.raises(SnmpDecodeError):
            decode_response(encoded[:cut])


def test_random_corruption_raises_only_snmp_decode_error() -> None:
    encoded = every_type_response()
    rng = random.Random(20240601)
    for _ in range(5000):
        corrupt = bytearray(encoded)
        for _ in range(rng.randint(1, 3)):
            corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        try:
            decode_response(bytes(corrupt))
        except SnmpDecodeError:
            pass


def test_decode_error_is_a_netgauge_error_with_offset() -> None:
    with pytest.raises(NetgaugeError) as caught:
        decode_response(b"\x04\x00")
    assert isinstance(caught.value, SnmpDecodeError)
    assert caught.value.offset == 0
    assert "offset 0" in str(caught.value)
    assert "expected message SEQUENCE" in str(caught.value)


def _replace(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1
    return data.replace(old, new)


# 30 27 | 02 01 01 | 04 06 public | a2 1a (offset 13) | 02 01 01 | 02 01 00 | 02 01 00 |
# 30 0f | 30 0d | 06 08 <sysUpTime.0> | 43 01 64 (offset 38)
GOOD = message([(SYS_UPTIME_0, unsigned(0x43, 100))])


@pytest.mark.parametrize(
    ("data", "message_part", "offset"),
    [
        (b"", "truncated message SEQUENCE header", 0),
        (b"\x31" + GOOD[1:], "expected message SEQUENCE", 0),
        (GOOD[:1] + bytes([GOOD[1] + 1]) + GOOD[2:], "runs past the end", 0),
        (GOOD + b"\x00", "1 bytes after the message", len(GOOD)),
        (b"\x30\x80" + GOOD[2:] + b"\x00\x00", "indefinite length", 1),
        (b"\x30\x85\x00\x00\x00\x00" + bytes([len(GOOD) - 2]) + GOOD[2:], "takes 5 bytes", 1),
        (b"\x30\x84\xff\xff\xff\xff" + GOOD[2:], "runs past the end", 0),
        (_replace(GOOD, b"\x02\x01\x01\x04", b"\x02\x01\x03\x04"), "unsupported SNMP version 3", 2),
        (_replace(GOOD, b"\x02\x01\x01\x04", b"\x04\x01\x01\x04"), "expected version", 2),
        (_replace(GOOD, b"\xa2", b"\xa4"), "unsupported PDU tag 0xa4", 13),
        (_replace(GOOD, b"\x43\x01\x64", b"\x47\x01\x64"), "unsupported value tag 0x47", 38),
        (_replace(GOOD, b"\x43\x01\x64", b"\x24\x01\x64"), "unsupported value tag 0x24", 38),
        (_replace(GOOD, b"\x43\x01\x64", b"\x43\x02\x64"), "runs past the end", 38),
        (_replace(GOOD, b"\x43\x01\x64", b"\x43\x00\x64"), "1 bytes after the varbind value", 40),
    ],
)
def test_malformed_messages(data: bytes, message_part: str, offset: int) -> None:
    with pytest.raises(SnmpDecodeError, match=message_part) as caught:
        decode_response(data)
    assert caught.value.offset == offset


EMPTY_REQUEST_ID = tlv(
    0x30, ber_int(V2C) + tlv(0x04, b"p") + tlv(RESPONSE, b"\x02\x00" + ber_int(0) * 2 + b"\x30\x00")
)


def _one_value(encoded_value: bytes) -> bytes:
    return message([(SYS_UPTIME_0, encoded_value)])


@pytest.mark.parametrize(
    ("data", "message_part"),
    [
        (_one_value(b"\x02\x00"), "empty INTEGER value"),
        (_one_value(b"\x41\x00"), "empty Counter32"),
        (_one_value(tlv(0x41, b"\x01\x00\x00\x00\x00")), "Counter32 4294967296 is out of range"),
        (_one_value(tlv(0x46, b"\x01" + bytes(8))), "Counter64 .* is out of range"),
        (_one_value(b"\x40\x03\x01\x02\x03"), "IpAddress of 3 bytes"),
        (_one_value(b"\x05\x01\x00"), "1 content bytes in a NULL-like value"),
        (_one_value(b"\x81\x01\x00"), "1 content bytes in a NULL-like value"),
        (_one_value(b"\x06\x00"), "empty OBJECT IDENTIFIER"),
        (_one_value(b"\x06\x02\x2b\x86"), "ends inside an arc"),
        (EMPTY_REQUEST_ID, "empty INTEGER for request-id"),
        (
            _replace(_one_value(b"\x05\x00"), b"\x06\x08\x2b", b"\x04\x08\x2b"),
            "expected varbind name",
        ),
        (_replace(_one_value(b"\x05\x00"), b"\x30\x0c", b"\x31\x0c"), "expected varbind "),
    ],
)
def test_malformed_values(data: bytes, message_part: str) -> None:
    with pytest.raises(SnmpDecodeError, match=message_part):
        decode_response(data)


def test_bytes_after_the_pdu_and_after_the_varbind_list() -> None:
    null_vb = [(SYS_UPTIME_0, b"\x05\x00")]
    inner = message(null_vb)
    # Grow the PDU and message by one stray byte after the varbind list.
    pdu_at = inner.index(b"\xa2")
    padded = bytearray(inner + b"\x00")
    padded[1] += 1
    padded[pdu_at + 1] += 1
    with pytest.raises(SnmpDecodeError, match="1 bytes after the varbind list"):
        decode_response(bytes(padded))
    # Grow only the message: the byte sits after the PDU.
    padded = bytearray(inner + b"\x00")
    padded[1] += 1
    with pytest.raises(SnmpDecodeError, match="1 bytes after the PDU"):
        decode_response(bytes(padded))


# --- OID text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "oid"),
    [
        ("1.3.6.1.2.1.1.3.0", SYS_UPTIME_0),
        (".1.3.6.1.2.1.1.3.0", SYS_UPTIME_0),
        ("0.0", (0, 0)),
        ("2.999.3", (2, 999, 3)),
        ("1.3.6.1.4.1.4294967295", (1, 3, 6, 1, 4, 1, 2**32 - 1)),
    ],
)
def test_parse_oid(text: str, oid: tuple[int, ...]) -> None:
    assert parse_oid(text) == oid
    assert format_oid(oid) == text.lstrip(".")
    assert parse_oid(format_oid(oid)) == oid


@pytest.mark.parametrize(
    ("text", "message_part"),
    [
        ("", "empty"),
        (".", "empty"),
        ("1", "two arcs"),
        ("1..3", "'' is not a non-negative integer"),
        ("1.3.", "'' is not a non-negative integer"),
        ("1.3.6.x", "'x' is not a non-negative integer"),
        ("1.3.-6", "'-6' is not a non-negative integer"),
        ("1.3.6 ", "'6 ' is not a non-negative integer"),
        ("1.3.²", "'²' is not a non-negative integer"),
        ("iso.3.6", "'iso' is not"),
        ("3.1", "first arc"),
        ("1.40", "second arc"),
    ],
)
def test_parse_oid_refuses_junk(text: str, message_part: str) -> None:
    with pytest.raises(ValueError, match=message_part) as caught:
        parse_oid(text)
    assert repr(text) in str(caught.value)


# --- against pysnmp, when someone has it installed -----------------------------------


@pytest.mark.parametrize("encoded", [GET_SYS_UPTIME, GETBULK_IF_DESCR])
def test_pysnmp_reads_and_rewrites_the_same_bytes(encoded: bytes) -> None:
    rfc1901 = pytest.importorskip("pysnmp.proto.rfc1901")
    ber_decoder = pytest.importorskip("pyasn1.codec.ber.decoder")
    ber_encoder = pytest.importorskip("pyasn1.codec.ber.encoder")
    decoded, rest = ber_decoder.decode(encoded, asn1Spec=rfc1901.Message())
    assert not rest
    assert int(decoded["version"]) == V2C
    assert bytes(decoded["community"]) == b"public"
    assert bytes(ber_encoder.encode(decoded)) == encoded
