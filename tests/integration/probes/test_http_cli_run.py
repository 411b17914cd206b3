"""``netgauge probe http`` and ``probe tcp`` run as a user would, against loopback servers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.probes.http_servers import Servers, start_servers

pytestmark = pytest.mark.network

# The http/tcp commands alone on the typer app, so other command modules cannot break this.
SHIM = "import netgauge.cli.probe_http; from netgauge.cli.app import app; app(prog_name='netgauge')"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    yield from start_servers(Path(tmp_path_factory.mktemp("cli")))


def netgauge(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", SHIM, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_http_json_all_ok(servers: Servers) -> None:
    url = f"https://127.0.0.1:{servers.https}/"
    done = netgauge("probe", "http", "--json", "--insecure", "--http2", "--match", "hello", url)
    assert done.returncode == 0, done.stderr
    (row,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert row["target"] == url and row["status"] == "ok" and row["status_code"] == 200
    assert row["http_version"] == "HTTP/2" and row["content_match"] == 1
    assert 29.9 < row["tls_days_left"] <= 30


def test_http_table_some_failed(servers: Servers) -> None:
    ok, bad = f"http://127.0.0.1:{servers.http}/", f"http://127.0.0.1:{servers.closed}/"
    done = netgauge("probe", "http", ok, bad)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["target", "status", "code"]
    assert lines[1].split()[:3] == [ok, "ok", "200"]
    assert lines[2].split()[:3] == [bad, "failed", "-"]
    assert lines[-1] == f"{bad}: connecting: Connection refused"


def test_http_expect_status_and_timeout(servers: Servers) -> None:
    base = f"http://127.0.0.1:{servers.http}"
    done = netgauge("probe", "http", "--expect-status", "404,5xx", f"{base}/status/404")
    assert done.returncode == 0, done.stdout
    done = netgauge("probe", "http", "--json", "--timeout", "0.3", f"{base}/slow")
    assert done.returncode == 1
    row = json.loads(done.stdout)
    assert row["status"] == "timeout" and row["timeout_phase"] == "ttfb"


def test_tcp_banner_json_and_table(servers: Servers) -> None:
    target = f"127.0.0.1:{servers.banner}"
    done = netgauge("probe", "tcp", "--json", "--expect", "^SSH-", target)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["status"] == "ok" and row["banner_match"] == 1 and row["refused"] == 0
    closed = f"127.0.0.1:{servers.closed}"
    done = netgauge("probe", "tcp", target, closed)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == f"{closed}: connect: Connection refused"
