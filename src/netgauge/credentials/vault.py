"""Secrets typed into the console or the API, sealed before they reach the database.

Sealing is Fernet (AES-128-CBC with an HMAC-SHA256 tag, from ``cryptography``) under a
key derived with HKDF-SHA256 from netgauge's secret key (``NETGAUGE_SECRET_KEY``, its
``_FILE``, or the generated ``<data_dir>/secret.key``): the database alone, a backup of it
or a dump, opens nothing. Each sealed value is bound to its credentials and field (the
associated data is in the plaintext's frame, checked on opening), so a row's ciphertext
copied into another row does not open there.

Rotation: start with the new key in ``NETGAUGE_SECRET_KEY`` (or its file) and the old one
in ``NETGAUGE_PREVIOUS_SECRET_KEYS`` (or ``_FILE``; several, comma-separated); the start
re-seals every stored secret under the new key (:meth:`Vault.reseal`), after which the old
key can go.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from netgauge.errors import NetgaugeError

_INFO = b"netgauge credentials v1"


class VaultError(NetgaugeError):
    """A sealed secret that no key in use opens (the key changed without rotation)."""


def _fernet_key(secret_key: bytes) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key)
    return base64.urlsafe_b64encode(derived)


class Vault:
    """Seals and opens secrets; ``keys`` newest first (the first seals, any opens)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a vault needs a key")
        self._fernet = MultiFernet([Fernet(_fernet_key(k)) for k in keys])
        self._newest = Fernet(_fernet_key(keys[0]))

    def seal(self, credentials: str, field: str, value: str) -> str:
        frame = json.dumps([credentials, field, value], separators=(",", ":"))
        return self._fernet.encrypt(frame.encode()).decode("ascii")

    def open(self, credentials: str, field: str, sealed: str) -> str:
        try:
            frame = json.loads(self._fernet.decrypt(sealed.encode("ascii")))
        except (InvalidToken, ValueError):
            raise VaultError(
                f"credentials {credentials!r}: the stored {field} does not open with the "
                "secret key in use (was NETGAUGE_SECRET_KEY changed without "
                "NETGAUGE_PREVIOUS_SECRET_KEYS? see README, Credentials)"
            ) from None
        if frame[:2] != [credentials, field]:
            raise VaultError(
                f"credentials {credentials!r}: the stored {field} was sealed for another "
                "credential or field; enter it again"
            )
        return str(frame[2])

    def is_current(self, sealed: str) -> bool:
        """Whether ``sealed`` is under the newest key already."""
        try:
            self._newest.decrypt(sealed.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """``sealed`` under the newest key (it must open with one of the keys)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise VaultError("a stored secret opens with none of the keys in use") from None


class Opener(Protocol):
    """What opens sealed secrets in this process: the central's Vault, or a collector's key
    (``collectors/sealing.py``) for what the central sealed for it."""

    def open(self, credentials: str, field: str, sealed: str) -> str:
        """The secret ``sealed`` holds (VaultError when it does not open)."""
        ...


_current: Opener | None = None


def install(vault: Opener | None) -> None:
    """The vault of this process (the service installs it at start, as the environment
    is the process's for ``env`` references)."""
    global _current
    _current = vault


def current() -> Opener:
    if _current is None:
        raise VaultError("no secret key is loaded in this process to open stored secrets")
    return _current


__all__ = ["Opener", "Vault", "VaultError", "current", "install"]
