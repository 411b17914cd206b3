"""Every probe command answers a usage error with one line naming itself, and exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["probe", "icmp"],
            "netgauge probe icmp: error: the following arguments are required: TARGET",
        ),
        (["probe", "tcp", "--nope", "x"], "netgauge probe tcp: error: No such option: --nope"),
        (["probe", "http"], "netgauge probe http: error: Missing argument 'URL...'."),
        (["probe", "dns"], "netgauge probe dns: error: Missing argument 'SERVER'."),
        (
            ["probe", "traceroute", "--bogus", "127.0.0.1"],
            "netgauge probe traceroute: error: No such option: --bogus",
        ),
    ],
)
def test_usage_error_is_one_line_naming_the_command(args: list[str], line: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "netgauge", *args], capture_output=True, text=True, timeout=60
    )
    assert (r.returncode, r.stderr.splitlines(), r.stdout) == (2, [line], "")
