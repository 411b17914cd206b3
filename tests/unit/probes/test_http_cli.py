"""``netgauge probe http``/``tcp`` input handling: bad input is one line and exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import netgauge.cli.probe_http  # noqa: F401  (registers the commands)
from netgauge.cli.app import app
from netgauge.cli.probe_http import split_host_port


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["http", "ftp://x/"],
            "invalid URL 'ftp://x/': url must be http:// or https:// with a host",
        ),
        (["http", "--timeout", "0", "http://127.0.0.1/"], "invalid --timeout '0': "),
        (["http", "--match", "(", "http://127.0.0.1/"], "invalid --match '(': invalid regex"),
        (["http", "--expect-status", "7xx", "http://127.0.0.1/"], "invalid --expect-status"),
        (["http", "--bogus", "http://127.0.0.1/"], "No such option: --bogus"),
        (["http"], "Missing argument"),
        (["tcp", "127.0.0.1"], "invalid HOST:PORT '127.0.0.1': expected HOST:PORT"),
        (["tcp", "127.0.0.1:99999"], "invalid HOST:PORT '99999': "),
        (["tcp", "--expect", "[", "127.0.0.1:22"], "invalid --expect '[': invalid regex"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    done = CliRunner().invoke(app, ["probe", *args])
    assert done.exit_code == 2
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"netgauge probe {args[0]}: error: ")
    assert message in lines[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:22", ("127.0.0.1", "22")), ("[::1]:80", ("::1", "80")), ("h:1", ("h", "1"))],
)
def test_split_host_port(text: str, expected: tuple[str, str]) -> None:
    assert split_host_port(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", "::1:22", "[::1]", ":22", "host:"])
def test_split_host_port_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        split_host_port(text)
