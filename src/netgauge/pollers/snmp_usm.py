"""SNMPv3 messages with the User-based Security Model: authentication and privacy.

Written beside the hand-made v1/v2c codec (``snmp_ber``) rather than taken from pysnmp
because the PDU inside is the same one, and pysnmp's per-message cost is what the v1/v2c
codec exists to avoid. The cryptography itself is not hand-written: HMAC and hashing are
the standard library's, AES is the ``cryptography`` package's.

What is implemented (RFC 3412 message format, RFC 3414 USM, RFC 3826 AES, RFC 7860 SHA-2):

* security levels noAuthNoPriv, authNoPriv, authPriv;
* authentication HMAC-MD5-96, HMAC-SHA-96, and HMAC-SHA-2 (SHA-224/256/384/512 with the
  truncations of RFC 7860);
* privacy AES-128 in CFB mode (``AES``); DES and the AES-192/256 key extensions are not;
* engine discovery (a Report of usmStatsUnknownEngineIDs gives the agent's engine id, boots
  and time) and time synchronisation (usmStatsNotInTimeWindows), both handled by the client.

Keys: the password is stretched into a key once (1 MiB of hashing, RFC 3414 A.2) and then
localized to each engine id; both are cached, because an agent is polled every interval.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from netgauge.errors import NetgaugeError
from netgauge.pollers.snmp_ber import (
    OCTET_STRING,
    REPORT,
    SEQUENCE,
    Response,
    SnmpDecodeError,
    decode_pdu,
    encode_integer,
    expect,
    read_integer,
    read_octets,
    tlv,
)

V3 = 3
_USM = 3  # msgSecurityModel: USM
_MAX_SIZE = 65507  # the largest message we accept back (UDP over IPv4)
_FLAG_AUTH, _FLAG_PRIV, _FLAG_REPORTABLE = 0x01, 0x02, 0x04

AUTH_PROTOCOLS: dict[str, tuple[str, int]] = {
    # name -> (hashlib name, bytes of the HMAC kept in the message)
    "MD5": ("md5", 12),
    "SHA": ("sha1", 12),
    "SHA-224": ("sha224", 16),
    "SHA-256": ("sha256", 24),
    "SHA-384": ("sha384", 32),
    "SHA-512": ("sha512", 48),
}
PRIV_PROTOCOLS = ("AES",)

# usmStats counters an agent reports instead of answering (RFC 3414 section 5)
REPORTS: dict[tuple[int, ...], str] = {
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 1, 0): "unsupported security level",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0): "not in time window",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0): "unknown user name",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0): "unknown engine id",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0): "wrong digest (authentication failed: check the key)",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0): "decryption error (check the privacy key)",
}
NOT_IN_TIME_WINDOW = "not in time window"
UNKNOWN_ENGINE_ID = "unknown engine id"


class UsmError(NetgaugeError):
    """An SNMPv3 message could not be authenticated, decrypted or understood."""


@dataclass(frozen=True, slots=True)
class UsmUser:
    """A v3 user and its secrets (never logged: see ``__repr__``)."""

    name: str
    auth_protocol: str | None = None
    auth_key: bytes | None = None
    priv_protocol: str | None = None
    priv_key: bytes | None = None

    def __post_init__(self) -> None:
        if self.auth_protocol is not None and self.auth_protocol not in AUTH_PROTOCOLS:
            known = ", ".join(AUTH_PROTOCOLS)
            raise ValueError(f"unknown auth protocol {self.auth_protocol!r} (known: {known})")
        if self.priv_protocol is not None and self.priv_protocol not in PRIV_PROTOCOLS:
            raise ValueError(f"unknown privacy protocol {self.priv_protocol!r} (known: AES)")
        if self.priv_protocol and not self.auth_protocol:
            raise ValueError("privacy needs authentication (authPriv)")
        for what, key in (("auth", self.auth_key), ("priv", self.priv_key)):
            if key is not None and len(key) < 8:
                raise ValueError(f"the {what} key must be at least 8 characters (RFC 3414)")
        if (self.auth_protocol is None) != (self.auth_key is None):
            raise ValueError("an auth protocol needs an auth key, and the other way round")
        if (self.priv_protocol is None) != (self.priv_key is None):
            raise ValueError("a privacy protocol needs a privacy key, and the other way round")

    @property
    def flags(self) -> int:
        """msgFlags of a request from this user (reportable, plus auth and priv as set)."""
        return (
            _FLAG_REPORTABLE
            | (_FLAG_AUTH if self.auth_protocol else 0)
            | (_FLAG_PRIV if self.priv_protocol else 0)
        )

    def __repr__(self) -> str:
        return (
            f"UsmUser({self.name!r}, auth={self.auth_protocol}, priv={self.priv_protocol}, "
            "keys=<hidden>)"
        )


@dataclass(slots=True)
class Engine:
    """What we know of an agent's SNMP engine: its id, boots and time (as of ``seen_at``)."""

    engine_id: bytes
    boots: int
    engine_time: int
    seen_at: float = field(default_factory=time.monotonic)

    def now(self) -> int:
        """The agent's engine time now, estimated from when we last heard it."""
        return self.engine_time + int(time.monotonic() - self.seen_at)

    def learn(self, boots: int, engine_time: int) -> None:
        """Take the boots and time of an authentic message from the agent."""
        self.boots, self.engine_time, self.seen_at = boots, engine_time, time.monotonic()


class SecurityParameters(NamedTuple):
    engine_id: bytes
    boots: int
    engine_time: int
    user: bytes
    auth: bytes
    priv: bytes


class Message(NamedTuple):
    """A decoded (authenticated, decrypted) v3 message."""

    msg_id: int
    flags: int
    security: SecurityParameters
    response: Response


@lru_cache(maxsize=256)
def password_to_key(password: bytes, hash_name: str) -> bytes:
    """RFC 3414 A.2: the digest of 1 MiB of the password repeated (about 3 ms: cached)."""
    count = 1_048_576
    stretched = (password * (count // len(password) + 1))[:count]
    return hashlib.new(hash_name, stretched).digest()


@lru_cache(maxsize=1024)
def localized_key(password: bytes, hash_name: str, engine_id: bytes) -> bytes:
    """The key of ``password`` for one engine: H(Ku || engineID || Ku)."""
    master = password_to_key(password, hash_name)
    return hashlib.new(hash_name, master + engine_id + master).digest()


class _Keys(NamedTuple):
    hash_name: str
    mac_length: int
    auth: bytes | None
    priv: bytes | None


def _keys(user: UsmUser, engine_id: bytes) -> _Keys:
    if user.auth_protocol is None or user.auth_key is None:
        return _Keys("", 0, None, None)
    hash_name, mac_length = AUTH_PROTOCOLS[user.auth_protocol]
    auth = localized_key(user.auth_key, hash_name, engine_id)
    priv = localized_key(user.priv_key, hash_name, engine_id)[:16] if user.priv_key else None
    return _Keys(hash_name, mac_length, auth, priv)


_salt = int.from_bytes(os.urandom(8), "big")


def _next_salt() -> bytes:
    """A fresh 64-bit salt for AES (RFC 3826: an integer incremented per message)."""
    global _salt
    _salt = (_salt + 1) & 0xFFFFFFFFFFFFFFFF
    return _salt.to_bytes(8, "big")


def _aes_cfb(
    key: bytes, boots: int, engine_time: int, salt: bytes, data: bytes, *, encrypt: bool
) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    try:  # cryptography >= 47 keeps CFB among the "decrepit" modes (still what RFC 3826 says)
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:  # pragma: no cover - older cryptography
        from cryptography.hazmat.primitives.ciphers.modes import CFB

    iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + salt
    cipher = Cipher(algorithms.AES(key), CFB(iv))
    worker = cipher.encryptor() if encrypt else cipher.decryptor()
    return worker.update(data) + worker.finalize()


def discovery_message(msg_id: int, pdu: bytes) -> bytes:
    """A noAuthNoPriv, reportable request with no engine id and no user: the agent answers
    with a Report carrying its engine id, boots and time (RFC 3414 section 4)."""
    security = SecurityParameters(b"", 0, 0, b"", b"", b"")
    return _assemble(
        msg_id, _FLAG_REPORTABLE, security, tlv(SEQUENCE, tlv(OCTET_STRING, b"") * 2 + pdu)
    )


def encode_message(msg_id: int, user: UsmUser, engine: Engine, pdu: bytes) -> bytes:
    """A request carrying ``pdu`` from ``user`` to ``engine``, authenticated and encrypted as
    the user's security level says."""
    keys = _keys(user, engine.engine_id)
    boots, engine_time = engine.boots, engine.now()
    scoped = tlv(SEQUENCE, tlv(OCTET_STRING, engine.engine_id) + tlv(OCTET_STRING, b"") + pdu)
    salt = b""
    if keys.priv is not None:
        salt = _next_salt()
        scoped = tlv(
            OCTET_STRING, _aes_cfb(keys.priv, boots, engine_time, salt, scoped, encrypt=True)
        )
    placeholder = bytes(keys.mac_length)
    security = SecurityParameters(
        engine.engine_id, boots, engine_time, user.name.encode(), placeholder, salt
    )
    message = _assemble(msg_id, user.flags, security, scoped)
    if keys.auth is None:
        return message
    # The MAC covers the whole message with its own field zeroed; then it fills the field,
    # which is the content of the last but one TLV of the security parameters: it ends
    # where the privacy parameters' TLV, then the message data, begin.
    mac = hmac.new(keys.auth, message, keys.hash_name).digest()[: keys.mac_length]
    at = len(message) - len(scoped) - len(tlv(OCTET_STRING, salt)) - keys.mac_length
    return message[:at] + mac + message[at + keys.mac_length :]


def _assemble(msg_id: int, flags: int, security: SecurityParameters, data: bytes) -> bytes:
    global_data = tlv(
        SEQUENCE,
        encode_integer(msg_id)
        + encode_integer(_MAX_SIZE)
        + tlv(OCTET_STRING, bytes((flags,)))
        + encode_integer(_USM),
    )
    usm = tlv(
        SEQUENCE,
        tlv(OCTET_STRING, security.engine_id)
        + encode_integer(security.boots)
        + encode_integer(security.engine_time)
        + tlv(OCTET_STRING, security.user)
        + tlv(OCTET_STRING, security.auth)
        + tlv(OCTET_STRING, security.priv),
    )
    return tlv(SEQUENCE, encode_integer(V3) + global_data + tlv(OCTET_STRING, usm) + data)


def is_v3(data: bytes) -> bool:
    """True when ``data`` looks like an SNMPv3 message (cheap: before matching a request)."""
    try:
        start, stop = expect(data, 0, len(data), SEQUENCE, "message")
        return read_integer(data, start, stop, "version")[1] == V3
    except SnmpDecodeError:
        return False


def peek_msg_id(data: bytes) -> int:
    """The msgID of a v3 message, to find the request it answers (nothing verified yet)."""
    start, stop = expect(data, 0, len(data), SEQUENCE, "message")
    pos, _version = read_integer(data, start, stop, "version")
    global_start, global_stop = expect(data, pos, stop, SEQUENCE, "msgGlobalData")
    return read_integer(data, global_start, global_stop, "msgID")[1]


def decode_message(data: bytes, user: UsmUser | None) -> Message:
    """Decode a v3 message; with ``user``, verify its MAC and decrypt it as that user.

    An unauthenticated message (a discovery Report) is decoded without ``user``. Raises
    UsmError when the MAC is wrong or decryption fails, SnmpDecodeError when malformed.
    """
    end = len(data)
    start, stop = expect(data, 0, end, SEQUENCE, "message")
    if stop != end:
        raise SnmpDecodeError(f"{end - stop} bytes after the message", stop)
    pos, version = read_integer(data, start, stop, "version")
    if version != V3:
        raise SnmpDecodeError(f"not an SNMPv3 message (version {version})", start)
    global_start, global_stop = expect(data, pos, stop, SEQUENCE, "msgGlobalData")
    at, msg_id = read_integer(data, global_start, global_stop, "msgID")
    at, _max_size = read_integer(data, at, global_stop, "msgMaxSize")
    at, flag_bytes = read_octets(data, at, global_stop, "msgFlags")
    flags = flag_bytes[0] if flag_bytes else 0
    security, auth_at, pos = _security(data, global_stop, stop)
    if flags & _FLAG_AUTH:
        if user is None:
            raise UsmError("an authenticated message arrived for no user")
        _verify(data, auth_at, security, user)
    message = _decrypted(data, flags, security, pos, stop, user)
    level = (user.flags & (_FLAG_AUTH | _FLAG_PRIV)) if user is not None else 0
    if message.pdu_type != REPORT and flags & level != level:
        # Only a Report may come back below the request's security level (unknown user,
        # unknown engine...): any other answer that is not authenticated or not encrypted
        # as the request was is a downgrade, refused.
        raise UsmError("an answer below the request's security level")
    return Message(msg_id, flags, security, message)


def _decrypted(
    data: bytes,
    flags: int,
    security: SecurityParameters,
    pos: int,
    stop: int,
    user: UsmUser | None,
) -> Response:
    """The scoped PDU at ``pos``, decrypted first when the message is encrypted."""
    if flags & _FLAG_PRIV:
        if user is None or user.priv_key is None:
            raise UsmError("an encrypted message arrived for a user without a privacy key")
        encrypted_start, encrypted_stop = expect(data, pos, stop, OCTET_STRING, "encryptedPDU")
        keys = _keys(user, security.engine_id)
        assert keys.priv is not None
        plain = _aes_cfb(
            keys.priv,
            security.boots,
            security.engine_time,
            security.priv,
            data[encrypted_start:encrypted_stop],
            encrypt=False,
        )
        return _scoped_pdu(plain, 0, _scoped_end(plain))
    return _scoped_pdu(data, pos, stop)


def _security(data: bytes, pos: int, end: int) -> tuple[SecurityParameters, int, int]:
    """The USM parameters, where the MAC's content starts, and where msgData starts."""
    outer_start, outer_stop = expect(data, pos, end, OCTET_STRING, "msgSecurityParameters")
    start, stop = expect(data, outer_start, outer_stop, SEQUENCE, "UsmSecurityParameters")
    at, engine_id = read_octets(data, start, stop, "msgAuthoritativeEngineID")
    at, boots = read_integer(data, at, stop, "msgAuthoritativeEngineBoots")
    at, engine_time = read_integer(data, at, stop, "msgAuthoritativeEngineTime")
    at, user = read_octets(data, at, stop, "msgUserName")
    auth_start, auth_stop = expect(data, at, stop, OCTET_STRING, "msgAuthenticationParameters")
    at, priv = read_octets(data, auth_stop, stop, "msgPrivacyParameters")
    security = SecurityParameters(
        engine_id, boots, engine_time, user, data[auth_start:auth_stop], priv
    )
    return security, auth_start, outer_stop


def _verify(data: bytes, auth_at: int, security: SecurityParameters, user: UsmUser) -> None:
    keys = _keys(user, security.engine_id)
    if keys.auth is None or len(security.auth) != keys.mac_length:
        raise UsmError("the message's authentication does not match the user's protocol")
    zeroed = data[:auth_at] + bytes(keys.mac_length) + data[auth_at + keys.mac_length :]
    expected = hmac.new(keys.auth, zeroed, keys.hash_name).digest()[: keys.mac_length]
    if not hmac.compare_digest(expected, security.auth):
        raise UsmError("wrong MAC on a message from the agent (check the auth key)")


def _scoped_end(plain: bytes) -> int:
    """Where the decrypted scoped PDU ends (CFB output has no padding, but be strict)."""
    try:
        return expect(plain, 0, len(plain), SEQUENCE, "scopedPDU")[1]
    except SnmpDecodeError:
        raise UsmError("decryption gave no scoped PDU (check the privacy key)") from None


def _scoped_pdu(data: bytes, pos: int, end: int) -> Response:
    start, stop = expect(data, pos, end, SEQUENCE, "scopedPDU")
    at, _context_engine = read_octets(data, start, stop, "contextEngineID")
    at, _context_name = read_octets(data, at, stop, "contextName")
    return decode_pdu(data, at, stop, V3)


def report_reason(response: Response) -> str:
    """What a Report PDU says went wrong, from its usmStats varbind."""
    for oid, _value in response.varbinds:
        reason = REPORTS.get(oid)
        if reason is not None:
            return reason
    names = ", ".join(".".join(map(str, oid)) for oid, _value in response.varbinds)
    return f"report {names or '(empty)'}"
