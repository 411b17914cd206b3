"""SNMPv3 USM: RFC 3414's key vectors, authenticated and encrypted messages that round-trip,
and every tampering or wrong key refused. (The real agent is in the integration tests.)"""

from __future__ import annotations

import pytest

from netgauge.pollers.snmp_ber import GET, RESPONSE, encode_pdu
from netgauge.pollers.snmp_usm import (
    AUTH_PROTOCOLS,
    Engine,
    UsmError,
    UsmUser,
    decode_message,
    discovery_message,
    encode_message,
    is_v3,
    localized_key,
    password_to_key,
    peek_msg_id,
)

ENGINE_ID = bytes.fromhex("000000000000000000000002")  # RFC 3414 appendix A.3
UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)


def test_rfc_3414_a_3_1_md5_key_vectors() -> None:
    assert password_to_key(b"maplesyrup", "md5").hex() == "9faf3283884e92834ebc9847d8edd963"
    assert localized_key(b"maplesyrup", "md5", ENGINE_ID).hex() == (
        "526f5eed9fcce26f8964c2930787d82b"
    )


def test_rfc_3414_a_3_2_sha_key_vectors() -> None:
    assert password_to_key(b"maplesyrup", "sha1").hex() == (
        "9fb5cc0381497b3793528939ff788d5d79145211"
    )
    assert localized_key(b"maplesyrup", "sha1", ENGINE_ID).hex() == (
        "6695febc9288e36282235fc7151f128497b38f3f"
    )


def user(auth: str = "SHA-256", priv: str | None = "AES") -> UsmUser:
    return UsmUser("ops", auth, b"auth-secret-1", priv, b"priv-secret-1" if priv else None)


@pytest.mark.parametrize("auth", sorted(AUTH_PROTOCOLS))
@pytest.mark.parametrize("priv", ["AES", None])
def test_a_message_round_trips_authenticated_and_encrypted(auth: str, priv: str | None) -> None:
    sender = user(auth, priv)
    engine = Engine(ENGINE_ID, boots=7, engine_time=1234)
    message = encode_message(4242, sender, engine, encode_pdu(GET, 4242, [UPTIME]))
    assert is_v3(message) and peek_msg_id(message) == 4242
    if priv:
        assert encode_pdu(GET, 4242, [UPTIME]) not in message  # the PDU travels encrypted
    decoded = decode_message(message, sender)
    assert decoded.msg_id == 4242 and decoded.security.engine_id == ENGINE_ID
    assert (decoded.security.boots, decoded.security.user) == (7, b"ops")
    assert decoded.response.pdu_type == GET and decoded.response.varbinds == [(UPTIME, None)]


def test_every_flipped_byte_of_an_authenticated_message_is_refused() -> None:
    sender = user("SHA", None)
    message = encode_message(1, sender, Engine(ENGINE_ID, 1, 1), encode_pdu(GET, 1, [UPTIME]))
    for at in range(len(message)):
        tampered = bytearray(message)
        tampered[at] ^= 0x01
        with pytest.raises(Exception) as caught:
            decode_message(bytes(tampered), sender)
        assert caught.type.__name__ in {"UsmError", "SnmpDecodeError"}, at


def test_a_wrong_key_is_refused() -> None:
    message = encode_message(1, user(), Engine(ENGINE_ID, 1, 1), encode_pdu(GET, 1, [UPTIME]))
    wrong = UsmUser("ops", "SHA-256", b"not-the-secret", "AES", b"priv-secret-1")
    with pytest.raises(UsmError, match="wrong MAC"):
        decode_message(message, wrong)


def test_a_wrong_privacy_key_does_not_decrypt() -> None:
    message = encode_message(1, user(), Engine(ENGINE_ID, 1, 1), encode_pdu(GET, 1, [UPTIME]))
    wrong = UsmUser("ops", "SHA-256", b"auth-secret-1", "AES", b"not-the-secret")
    with pytest.raises(Exception) as caught:
        decode_message(message, wrong)
    assert caught.type.__name__ in {"UsmError", "SnmpDecodeError"}


def test_discovery_is_plain_and_reportable() -> None:
    message = discovery_message(9, encode_pdu(GET, 9, []))
    decoded = decode_message(message, None)
    assert decoded.flags == 0x04 and decoded.security.engine_id == b""
    assert decoded.response.varbinds == []
    assert RESPONSE != decoded.response.pdu_type


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"auth_protocol": "SHA-1024", "auth_key": b"12345678"}, "unknown auth protocol"),
        ({"priv_protocol": "DES", "priv_key": b"12345678"}, "unknown privacy protocol"),
        ({"auth_protocol": "SHA", "auth_key": b"short"}, "at least 8"),
        ({"priv_protocol": "AES", "priv_key": b"12345678"}, "privacy needs authentication"),
        ({"auth_protocol": "SHA"}, "needs an auth key"),
    ],
)
def test_bad_users_are_refused_clearly(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        UsmUser("ops", **kwargs)  # type: ignore[arg-type]


def test_the_keys_never_show_in_repr() -> None:
    assert "secret" not in repr(user())
