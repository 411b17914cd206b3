"""``netgauge probe icmp`` bad input: exit status 2 and one line on stderr, nothing sent."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import netgauge.cli.probe  # noqa: F401  (registers the command on the app)
from netgauge.cli.app import app
from netgauge.probes.icmp import ENV_SOCKET_MODE


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["probe", "icmp", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["not a host!!"], "neither an IP address nor a valid host name"),
        (["999.1.1.1"], "'999.1.1.1'"),
        (["host.invalid"], "cannot be resolved"),  # refused by rule, no DNS query (RFC 6761)
        (["127.0.0.1", "--count", "0"], "--count"),
        (["127.0.0.1", "--count", "many"], "--count"),
        (["127.0.0.1", "--interval", "0"], "--interval"),
        (["127.0.0.1", "--pace", "-5"], "--pace"),
        (["127.0.0.1", "--timeout", "x"], "--timeout"),
        (["127.0.0.1", "--ttl", "0"], "--ttl"),
        (["127.0.0.1", "--tos", "256"], "--tos"),
        (
            ["127.0.0.1", "--source", "my-laptop"],
            "invalid --source 'my-laptop': 'my-laptop' is not an IP address",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and needle in err
    assert "Traceback" not in err


def test_a_bad_target_among_good_ones_stops_everything() -> None:
    code, out, err = invoke("127.0.0.1", "::1", "a b", "127.0.0.2")
    assert (code, out) == (2, "")
    assert "'a b'" in err


def test_no_usable_socket_is_exit_2_with_the_setup_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_SOCKET_MODE, "bogus")  # fails before any socket is opened
    code, out, err = invoke("127.0.0.1", "--count", "1")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and ENV_SOCKET_MODE in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "the following arguments are required: TARGET"),
        (["127.0.0.1", "--bogus"], "unrecognized arguments: --bogus"),
        (["127.0.0.1", "--count"], "argument -c/--count: expected one argument"),
        (["--json=yes", "127.0.0.1"], "--json"),
    ],
)
def test_usage_errors_are_one_line_too(args: list[str], needle: str) -> None:
    code, out, err = invoke(*args)
    assert (code, out) == (2, "")
    assert err.startswith("netgauge probe icmp: error: ") and err.count("\n") == 1
    assert needle in err
    assert "╭" not in err and "Usage:" not in err  # no click/rich box


def test_help_still_shows_the_options() -> None:
    code, out, err = invoke("--help")
    assert code == 0 and err == ""
    assert "TARGET [TARGET ...]" in out and "--count" in out and "--pace" in out
