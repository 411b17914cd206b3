"""The ``netgauge probe icmp`` command as a subprocess: exit codes 0/1/2 and --json lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.probes.conftest import LabHosts

pytestmark = [pytest.mark.network]

NOBODY = 65534
FAST = ["--count", "2", "--interval", "0.02", "--timeout", "0.3", "--pace", "0"]
JSON_KEYS = {
    "target",
    "address",
    "sent",
    "received",
    "loss_pct",
    "rtt_min_ms",
    "rtt_avg_ms",
    "rtt_max_ms",
    "rtt_mdev_ms",
    "jitter_ms",
    "rtt_median_ms",
    "rtt_p50_ms",
    "rtt_p90_ms",
    "rtt_p95_ms",
    "rtt_p99_ms",
    "rtts_ms",
}


def netgauge(cli: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli, "probe", "icmp", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.privileged
def test_all_answered_exits_0_with_a_table(netgauge_cli: list[str]) -> None:
    done = netgauge(netgauge_cli, "127.0.0.1", "127.0.0.2", *FAST)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:5] == ["target", "address", "sent", "recv", "loss%"]
    assert [line.split()[0] for line in lines[1:]] == ["127.0.0.1", "127.0.0.2"]
    assert all(line.split()[2:5] == ["2", "2", "0.0%"] for line in lines[1:])


@pytest.mark.privileged
def test_json_lines_have_the_stable_keys(netgauge_cli: list[str], lab_hosts: LabHosts) -> None:
    done = netgauge(netgauge_cli, "127.0.0.1", lab_hosts.silent4, "--json", *FAST)
    assert done.returncode == 1, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["target"] for row in rows] == ["127.0.0.1", lab_hosts.silent4]
    assert all(JSON_KEYS <= row.keys() for row in rows)
    answered, silent = rows
    assert answered["received"] == 2 and answered["rtt_avg_ms"] > 0
    assert silent["received"] == 0 and silent["loss_pct"] == 100.0
    assert silent["rtt_min_ms"] is None and silent["jitter_ms"] is None


@pytest.mark.privileged
def test_some_silent_exits_1(netgauge_cli: list[str], lab_hosts: LabHosts) -> None:
    done = netgauge(netgauge_cli, lab_hosts.answering4, lab_hosts.silent4, *FAST)
    assert done.returncode == 1
    assert lab_hosts.silent4 in done.stdout and "100.0%" in done.stdout


def test_bad_target_exits_2_with_one_line(netgauge_cli: list[str]) -> None:
    done = netgauge(netgauge_cli, "127.0.0.1", "not a host!!", *FAST)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "not a host!!" in done.stderr


def test_count_zero_exits_2_with_one_line(netgauge_cli: list[str]) -> None:
    done = netgauge(netgauge_cli, "127.0.0.1", "--count", "0")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--count" in done.stderr


@pytest.mark.privileged
def test_thousands_of_targets_on_the_command_line(netgauge_cli: list[str]) -> None:
    addresses = [f"127.0.{i // 250}.{i % 250 + 1}" for i in range(3000)]
    done = netgauge(netgauge_cli, *addresses, "--count", "1", "--pace", "0", "--json")
    assert done.returncode == 0, done.stderr[-500:]
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["address"] for row in rows] == addresses


def _nobody_may_ping() -> bool:
    low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ping_group_range").read_text().split())
    return low <= NOBODY <= high


@pytest.mark.privileged
def test_no_icmp_socket_permitted_exits_2_naming_both_remedies(netgauge_cli: list[str]) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (Debian package util-linux) to drop privileges")
    if _nobody_may_ping():
        pytest.skip("net.ipv4.ping_group_range lets everyone open ICMP sockets here")
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    done = subprocess.run(
        [*as_nobody, *netgauge_cli, "probe", "icmp", "127.0.0.1", "--count", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if "ModuleNotFoundError" in done.stderr or "Permission denied: '" in done.stderr:
        pytest.skip("the virtualenv is not readable by user nobody")
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "CAP_NET_RAW" in done.stderr and "ping_group_range" in done.stderr


@pytest.mark.parametrize("args", [[], ["127.0.0.1", "--no-such-flag"]])
def test_usage_errors_exit_2_with_one_line(netgauge_cli: list[str], args: list[str]) -> None:
    done = netgauge(netgauge_cli, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("netgauge probe icmp: error: ")
    assert done.stderr.count("\n") == 1
