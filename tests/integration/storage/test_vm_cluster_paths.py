"""A VictoriaMetrics cluster's URL layout: writes to vminsert's ``/insert/<tenant>/influx``,
reads from vmselect's ``/select/<tenant>/prometheus``, health at each server's root.

No cluster binaries exist in Debian, so a loopback proxy lays those paths over a real
single-node VictoriaMetrics (whose API the cluster speaks under these prefixes): the test
proves netgauge sends each request where a cluster expects it, not the cluster itself.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from netgauge.models import DEVICE_METRICS, Sample
from netgauge.storage.victoriametrics import VictoriaMetricsStore
from tests.lab.victoriametrics import VictoriaMetrics, missing_victoriametrics

PREFIXES = {"/insert/7/influx": "", "/select/7/prometheus": ""}


@pytest.fixture(scope="module")
def vm() -> Iterator[VictoriaMetrics]:
    reason = missing_victoriametrics()
    if reason:
        pytest.skip(reason)
    with VictoriaMetrics() as server:
        yield server


@pytest.fixture
def proxy(vm: VictoriaMetrics) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            seen.append(f"{self.command} {self.path}")
            path = self.path
            for prefix in PREFIXES:
                if path.startswith(prefix + "/"):
                    path = path[len(prefix) :]
                    break
            else:
                if not path.startswith("/health"):
                    self.send_error(404, "no such cluster path")
                    return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
            request = urllib.request.Request(f"{vm.url}{path}", data=body, method=self.command)
            for name in ("Content-Encoding", "Content-Type"):
                if self.headers.get(name):
                    request.add_header(name, self.headers[name])
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    status, payload = answer.status, answer.read()
            except urllib.error.HTTPError as exc:
                status, payload = exc.code, exc.read()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _forward

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_writes_go_to_vminsert_reads_to_vmselect(
    vm: VictoriaMetrics, proxy: tuple[str, list[str]]
) -> None:
    base, seen = proxy
    store = VictoriaMetricsStore(f"{base}/insert/7/influx", query_url=f"{base}/select/7/prometheus")
    t0 = 1_700_000_000_000_000_000
    await store.write(
        [Sample(DEVICE_METRICS, "core1", "cpu_percent", float(i), t0 + i * 10**9) for i in range(5)]
    )
    vm.flush()
    points = await store.points("core1", "cpu_percent", t0, t0 + 5 * 10**9)
    assert [p.value for p in points] == [0.0, 1.0, 2.0, 3.0, 4.0]
    health = await store.health()
    await store.close()
    assert health.reachable, health.error
    paths = [line.split("?")[0] for line in seen]
    assert "POST /insert/7/influx/write" in paths
    assert "GET /select/7/prometheus/api/v1/export" in paths
    assert "GET /health" in paths
    assert all(p.startswith(("POST /insert/7/", "GET /select/7/", "GET /health")) for p in paths)
