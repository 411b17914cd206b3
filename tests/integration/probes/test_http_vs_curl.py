"""``netgauge probe http`` against curl on the same URL in the same run: the phases add up to
the total (within 1 ms), and the total agrees with curl's ``time_total`` within 10 % for a
server that takes 100 ms to answer and sends 64 KiB, over HTTP and HTTPS (Python's own work,
3-5 ms a request on a loaded 2-core machine, stays within the 10 %). (The total used to
include the client's set-up and a first run's imports: 73 ms where curl took 54.)"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.probes.http_servers import Servers, start_servers
from tests.integration.probes.test_http_cli_run import netgauge

pytestmark = pytest.mark.network

PHASES = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms")
RUNS = 7


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    yield from start_servers(Path(tmp_path_factory.mktemp("curl")))


def _curl_ms(url: str, ca: Path) -> float:
    done = subprocess.run(
        ["curl", "-s", "--cacert", str(ca), "-o", "/dev/null", "-w", "%{time_total}", url],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return float(done.stdout) * 1000.0


def _ours(url: str, ca: Path) -> dict[str, float]:
    done = netgauge("probe", "http", "--json", "--ca-file", str(ca), url)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, float] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_total_is_its_phases_and_agrees_with_curl(servers: Servers, scheme: str) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl not installed (Debian package curl)")
    port = servers.http if scheme == "http" else servers.https
    url = f"{scheme}://127.0.0.1:{port}/delay/100"
    ca = servers.certificate.cert
    totals, curls = [], []
    for _ in range(RUNS):  # interleaved, so that both see the same machine
        ours = _ours(url, ca)
        phases = sum(ours[name] or 0.0 for name in PHASES)
        assert abs(phases - ours["total_ms"]) <= 1.0, ours
        totals.append(ours["total_ms"])
        curls.append(_curl_ms(url, ca))
    ours_ms, curl_ms = statistics.median(totals), statistics.median(curls)
    assert ours_ms == pytest.approx(curl_ms, rel=0.10), (totals, curls)
