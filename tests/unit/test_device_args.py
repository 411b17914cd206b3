"""The poll commands' shared input: HOST[:PORT] and secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from netgauge.cli.device_args import env_secret, host_port


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", ("10.0.0.1", 161)),
        ("10.0.0.1:1161", ("10.0.0.1", 1161)),
        ("[2001:db8::1]:1161", ("2001:db8::1", 1161)),
        ("2001:db8::1", ("2001:db8::1", 161)),
        ("sw1.example.net:16", ("sw1.example.net", 16)),
    ],
)
def test_host_port(text: str, expected: tuple[str, int]) -> None:
    assert host_port("t", text, 161) == expected


@pytest.mark.parametrize("text", ["not a host", "10.0.0.1:99999", "10.0.0.1:x", "[::1]:0"])
def test_bad_hosts_exit_2(text: str) -> None:
    with pytest.raises(typer.Exit) as caught:
        host_port("t", text, 161)
    assert caught.value.exit_code == 2


def test_env_secret_from_file_then_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NG_T_SECRET", "from-env")
    assert env_secret("t", "NG_T_SECRET") == "from-env"
    path = tmp_path / "s"
    path.write_text(" spaced secret \n")
    monkeypatch.setenv("NG_T_SECRET_FILE", str(path))
    assert env_secret("t", "NG_T_SECRET") == " spaced secret "  # only the newline goes
    path.write_text("")
    with pytest.raises(typer.Exit):
        env_secret("t", "NG_T_SECRET")
    monkeypatch.delenv("NG_T_SECRET_FILE")
    monkeypatch.delenv("NG_T_SECRET")
    assert env_secret("t", "NG_T_SECRET") is None
    with pytest.raises(typer.Exit):
        env_secret("t", "NG_T_SECRET", "the secret")
