"""Secrets are read at poll time from the reference's file or variable; a reference that
points nowhere is an error naming the variable or file."""

from __future__ import annotations

from pathlib import Path

import pytest

from netgauge.models import CredentialRef
from netgauge.pollers.jobs import snmp_credentials
from netgauge.pollers.secrets import SecretMissingError, secret


def test_a_file_wins_over_a_variable_and_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "community"
    path.write_text("from-file\n")
    ref = CredentialRef("c", "snmp", env={"community": "V"}, files={"community": str(path)})
    assert secret(ref, "community", environ={"V": "from-env"}) == "from-file"


def test_a_variable_is_read_when_asked() -> None:
    ref = CredentialRef("c", "snmp", env={"community": "V"})
    assert secret(ref, "community", environ={"V": "s3cret"}) == "s3cret"
    assert secret(ref, "password", environ={"V": "s3cret"}) is None  # not mentioned


def test_an_unset_variable_or_unreadable_file_names_itself(tmp_path: Path) -> None:
    ref = CredentialRef("core", "snmp", env={"community": "NOPE"})
    with pytest.raises(SecretMissingError, match="variable NOPE \\(community\\) is not set"):
        secret(ref, "community", environ={})
    ref = CredentialRef("core", "snmp", files={"community": str(tmp_path / "missing")})
    with pytest.raises(SecretMissingError, match="cannot read community from .*missing"):
        secret(ref, "community")


def test_snmp_credentials_per_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NG_T_COMMUNITY", "public-ish")
    monkeypatch.setenv("NG_T_AUTH", "auth-secret-1")
    monkeypatch.setenv("NG_T_PRIV", "priv-secret-1")
    v2 = snmp_credentials(CredentialRef("c", "snmp", env={"community": "NG_T_COMMUNITY"}), "2c")
    assert (v2.version, v2.community) == (1, b"public-ish")
    ref = CredentialRef(
        "c", "snmp", env={"auth_key": "NG_T_AUTH", "priv_key": "NG_T_PRIV"}, username="ops"
    )
    v3 = snmp_credentials(ref, "3")
    assert v3.usm is not None and (v3.usm.auth_protocol, v3.usm.priv_protocol) == ("SHA", "AES")
    assert "auth-secret-1" not in repr(v3) and "priv-secret-1" not in repr(v3)
    with pytest.raises(ValueError, match="no credentials reference"):
        snmp_credentials(None, "2c")
