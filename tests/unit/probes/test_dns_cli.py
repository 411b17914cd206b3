"""``netgauge probe dns`` bad input: exit status 2, one line on stderr, nothing sent."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

import netgauge.cli.probe_dns  # noqa: F401  (registers the command on the app)
from netgauge.cli.app import app


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["probe", "dns", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["not a host!!", "example.org"], "invalid SERVER 'not a host!!'"),
        (["127.0.0.1", "a..b"], "invalid NAME 'a..b'"),
        (["127.0.0.1", "x", "--type", "BOGUS"], "invalid --type"),
        (["127.0.0.1", "x", "--port", "70000"], "invalid --port '70000'"),
        (["127.0.0.1", "x", "--port", "dns"], "invalid --port 'dns'"),
        (["127.0.0.1", "x", "--timeout", "0"], "invalid --timeout '0'"),
        (["127.0.0.1", "x", "--expect-regex", "("], "invalid --expect-regex '('"),
        (["127.0.0.1", "x", "--expect-rcode", "FINE"], "invalid --expect-rcode 'FINE'"),
        (["127.0.0.1", "x", "--tcp", "--tls"], "--tcp and --tls are exclusive"),
        (["127.0.0.1"], "Missing argument 'NAME'"),
        (["127.0.0.1", "x", "--bogus"], "No such option: --bogus"),
        (["127.0.0.1", "x", "--type"], "'--type' requires an argument"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    code, out, err = invoke(*args)
    assert (code, out) == (2, "")
    assert err.startswith("netgauge probe dns: error: ") and err.count("\n") == 1
    assert needle in err
    assert "Traceback" not in err and "Usage:" not in err


def test_help_names_the_arguments_and_options() -> None:
    code, out, err = invoke("--help")
    assert code == 0 and err == ""
    for word in ("SERVER", "NAME", "--type", "--tcp", "--tls", "--expect", "--json"):
        assert word in out


def test_the_cli_modules_do_not_import_dnspython() -> None:
    check = (
        "import sys, netgauge.cli as c; c._load_commands(); "
        "print(sorted(m for m in sys.modules if m == 'dns' or m.startswith('dns.')))"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.skip(f"another command module does not import yet: {done.stderr.splitlines()[-1:]}")
    assert done.stdout.strip() == "[]"
