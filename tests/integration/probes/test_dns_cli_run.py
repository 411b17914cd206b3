"""``netgauge probe dns`` as a subprocess against dnsmasq on loopback: exit codes and --json."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.dns import Dnsmasq, dnsmasq_missing

pytestmark = [pytest.mark.network]

JSON_KEYS = {
    "server",
    "name",
    "type",
    "status",
    "query_ms",
    "rcode",
    "rcode_name",
    "answers",
    "answer_count",
    "ttl_s",
    "match",
    "truncated",
    "tcp_fallback",
    "transport",
    "error",
}


@pytest.fixture(scope="module")
def dnsmasq() -> Iterator[Dnsmasq]:
    reason = dnsmasq_missing()
    if reason:
        pytest.skip(reason)
    with Dnsmasq() as server:
        yield server


@pytest.fixture(scope="module")
def dns_cli(netgauge_cli: list[str]) -> list[str]:
    """The shared CLI fixture, or (when its shim is used) one that registers this command."""
    if Path(netgauge_cli[0]).name == "netgauge":
        return netgauge_cli
    shim = (
        "import netgauge.cli.probe_dns; from netgauge.cli.app import app; app(prog_name='netgauge')"
    )
    return [sys.executable, "-c", shim]


def netgauge(cli: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli, "probe", "dns", *args], capture_output=True, text=True, timeout=60)


def test_an_answer_exits_0_with_readable_text(dns_cli: list[str], dnsmasq: Dnsmasq) -> None:
    done = netgauge(dns_cli, "127.0.0.1", "lab.test", "--type", "MX", "--port", str(dnsmasq.port))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"lab.test. MX @127.0.0.1:{dnsmasq.port}: NOERROR, ")
    assert lines[0].endswith(" ms over udp")
    assert lines[1:] == ["  10 mail.lab.test"]


def test_json_has_the_stable_keys(dns_cli: list[str], dnsmasq: Dnsmasq) -> None:
    port = str(dnsmasq.port)
    args = ["www.lab.test", "--port", port, "--expect", "192.0.2.10", "--json", "--tcp"]
    done = netgauge(dns_cli, "127.0.0.1", *args)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    row = json.loads(line)
    assert set(row) == JSON_KEYS
    assert row["status"] == "ok" and row["rcode"] == 0 and row["rcode_name"] == "NOERROR"
    assert row["answers"] == ["192.0.2.10"] and row["answer_count"] == 1
    assert row["match"] == 1 and row["transport"] == "tcp" and row["query_ms"] > 0


def test_nxdomain_exits_1_unless_expected(dns_cli: list[str], dnsmasq: Dnsmasq) -> None:
    port = str(dnsmasq.port)
    done = netgauge(dns_cli, "127.0.0.1", "nope.lab.test", "--port", port, "--json")
    assert done.returncode == 1
    row = json.loads(done.stdout)
    assert row["status"] == "failed" and row["rcode_name"] == "NXDOMAIN"
    assert row["error"] == "rcode NXDOMAIN, expected NOERROR"
    done = netgauge(
        dns_cli, "127.0.0.1", "nope.lab.test", "--port", port, "--expect-rcode", "NXDOMAIN"
    )
    assert done.returncode == 0, done.stdout


def test_system_server_reads_the_given_resolv_conf(
    dns_cli: list[str], dnsmasq: Dnsmasq, tmp_path: Path
) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\n")
    args = ["www.lab.test", "--resolv-conf", str(conf), "--port", str(dnsmasq.port), "--json"]
    done = netgauge(dns_cli, "system", *args)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["server"] == f"127.0.0.1:{dnsmasq.port}"


def test_bad_input_exits_2(dns_cli: list[str]) -> None:
    done = netgauge(dns_cli, "127.0.0.1", "x", "--type", "NOPE")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("netgauge probe dns: error: invalid --type")
