"""Secrets for one collector only: sealed by the central, opened by that collector.

Each collector keeps an X25519 key pair in its data directory (``collector.key``, 0600,
made at its first start) and sends the public half with every sync. A secret a target's
checks need and that was typed into the console (sealed under the central's key) is opened
by the central and sealed again for the collector: an ephemeral X25519 key, HKDF-SHA256 of
the shared secret, AES-256-GCM over ``[credentials, field, value]`` with the collector's
name as associated data. Only that collector's private key opens it: not another collector,
not a proxy that terminates TLS, not a copy of the answer in a log. Nothing of it is stored
on the central.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from netgauge.credentials.vault import VaultError

_INFO = b"netgauge collector secret v1"
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw
KEY_FILE = "collector.key"


def _key(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(shared)


def seal_for(public_key: str, collector: str, credentials: str, field: str, value: str) -> str:
    """``value`` sealed for the collector whose public key (base64, raw X25519) is given."""
    peer = X25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
    ephemeral = X25519PrivateKey.generate()
    nonce = os.urandom(12)
    frame = json.dumps([credentials, field, value], separators=(",", ":")).encode()
    sealed = AESGCM(_key(ephemeral.exchange(peer))).encrypt(nonce, frame, collector.encode())
    blob = ephemeral.public_key().public_bytes(*_RAW) + nonce + sealed
    return base64.b64encode(blob).decode("ascii")


class CollectorKey:
    """A collector's key pair, and the opener of what was sealed for it (the process'
    vault: ``credentials.vault.install``)."""

    def __init__(self, private: X25519PrivateKey, collector: str = "") -> None:
        self._private = private
        self.collector = collector  # its name, learnt from the first sync

    @classmethod
    def load_or_make(cls, data_dir: Path) -> CollectorKey:
        """The key in ``data_dir`` (made, 0600, when there is none)."""
        path = data_dir / KEY_FILE
        try:
            return cls(X25519PrivateKey.from_private_bytes(path.read_bytes()))
        except FileNotFoundError:
            private = X25519PrivateKey.generate()
            raw = private.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
            return cls(private)

    @property
    def public(self) -> str:
        """The public half, base64 (what a sync sends)."""
        return base64.b64encode(self._private.public_key().public_bytes(*_RAW)).decode("ascii")

    def open(self, credentials: str, field: str, sealed: str) -> str:
        """A secret sealed for this collector (VaultError when it does not open)."""
        try:
            blob = base64.b64decode(sealed, validate=True)
            peer = X25519PublicKey.from_public_bytes(blob[:32])
            key = _key(self._private.exchange(peer))
            frame = json.loads(AESGCM(key).decrypt(blob[32:44], blob[44:], self.collector.encode()))
        except (InvalidTag, ValueError):
            raise VaultError(
                f"credentials {credentials!r}: the {field} sent by the central does not open "
                "with this collector's key (was its data directory replaced? it syncs again)"
            ) from None
        if frame[:2] != [credentials, field]:
            raise VaultError(f"credentials {credentials!r}: {field} was sealed for another field")
        return str(frame[2])


__all__ = ["KEY_FILE", "CollectorKey", "seal_for"]
