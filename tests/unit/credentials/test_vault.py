"""Sealing stored secrets: the ciphertext opens with the key only, for its own entry and
field, and survives a rotation; checked against cryptography's Fernet read by hand."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from netgauge.credentials.vault import Vault, VaultError

OLD, NEW = b"o" * 40, b"n" * 40


def test_a_sealed_secret_is_fernet_under_the_hkdf_of_the_key() -> None:
    """Read with cryptography directly (the documented derivation), not with the vault."""
    sealed = Vault([NEW]).seal("core", "community", "s3cret")
    assert "s3cret" not in sealed
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"netgauge credentials v1")
    plain = Fernet(base64.urlsafe_b64encode(key.derive(NEW))).decrypt(sealed.encode())
    assert json.loads(plain) == ["core", "community", "s3cret"]


def test_it_opens_only_for_its_own_entry_and_field() -> None:
    vault = Vault([NEW])
    sealed = vault.seal("core", "community", "s3cret")
    assert vault.open("core", "community", sealed) == "s3cret"
    for entry, field in (("edge", "community"), ("core", "auth_key")):
        with pytest.raises(VaultError, match="sealed for another"):
            vault.open(entry, field, sealed)


def test_another_key_opens_nothing_and_says_what_to_do() -> None:
    sealed = Vault([OLD]).seal("core", "password", "pw")
    with pytest.raises(VaultError, match="NETGAUGE_PREVIOUS_SECRET_KEYS"):
        Vault([NEW]).open("core", "password", sealed)


def test_rotation_reseals_under_the_new_key() -> None:
    sealed = Vault([OLD]).seal("core", "password", "pw")
    rotating = Vault([NEW, OLD])
    assert not rotating.is_current(sealed)
    fresh = rotating.reseal(sealed)
    assert rotating.is_current(fresh)
    assert Vault([NEW]).open("core", "password", fresh) == "pw"  # the old key may go


def test_two_seals_of_one_secret_differ() -> None:
    vault = Vault([NEW])
    assert vault.seal("a", "b", "same") != vault.seal("a", "b", "same")  # random IV
