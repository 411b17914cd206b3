"""Secrets sealed by the central for one collector open there only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from netgauge.collectors.sealing import KEY_FILE, CollectorKey, seal_for
from netgauge.credentials.vault import VaultError


def test_only_the_collector_it_was_sealed_for_opens_it(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = CollectorKey.load_or_make(tmp_path / "a"), CollectorKey.load_or_make(tmp_path / "b")
    a.collector, b.collector = "site-a-1", "site-b-1"
    blob = seal_for(a.public, "site-a-1", "snmp-core", "community", "pr1vate\\C:")
    assert "pr1vate" not in blob
    assert a.open("snmp-core", "community", blob) == "pr1vate\\C:"
    with pytest.raises(VaultError):
        b.open("snmp-core", "community", blob)  # another collector's key
    a.collector = "site-a-2"
    with pytest.raises(VaultError):
        a.open("snmp-core", "community", blob)  # bound to the collector's name
    a.collector = "site-a-1"
    with pytest.raises(VaultError, match="another field"):
        a.open("snmp-core", "auth_key", blob)
    again = CollectorKey.load_or_make(tmp_path / "a")  # kept across restarts, 0600
    assert again.public == a.public
    assert stat.S_IMODE((tmp_path / "a" / KEY_FILE).stat().st_mode) == 0o600
    assert seal_for(a.public, "site-a-1", "x", "f", "v") != seal_for(
        a.public, "site-a-1", "x", "f", "v"
    )
