"""Which paths a job may name: inside the data directory or file_dirs, decided on the path
alone (no existence oracle), through symbolic links as they really point."""

from __future__ import annotations

from pathlib import Path

from netgauge.config.files import FilePolicy


def test_paths_inside_the_directories_only(tmp_path: Path) -> None:
    data, extra = tmp_path / "data", tmp_path / "pki"
    policy = FilePolicy(data, (extra,))
    assert policy.refusal(str(data / "known_hosts")) is None
    assert policy.refusal(str(extra / "sub" / "ca.pem")) is None  # need not exist
    assert policy.refusal(str(data)) is None
    for outside in ("/etc/passwd", str(data / ".." / "x"), str(tmp_path / "dataX" / "y")):
        assert "must lie inside" in (policy.refusal(outside) or ""), outside
    for bad in ("known_hosts", "./x", "/data/\0x"):
        assert "absolute path" in (policy.refusal(bad) or ""), bad


def test_the_answer_does_not_depend_on_existence(tmp_path: Path) -> None:
    policy = FilePolicy(tmp_path / "data")
    there, missing = "/etc/passwd", "/etc/no-such-file-for-netgauge"
    assert policy.refusal(there) == policy.refusal(missing)


def test_links_are_followed_both_ways(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "data").symlink_to(real)  # the data directory itself is a link
    policy = FilePolicy(tmp_path / "data")
    assert policy.refusal(str(tmp_path / "data" / "kh")) is None
    assert policy.refusal(str(real / "kh")) is None
    (real / "out").symlink_to("/etc")  # a link inside that leads out
    assert policy.refusal(str(real / "out" / "passwd")) is not None
