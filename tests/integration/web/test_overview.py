"""The overview page (/) and its live stream (/api/v1/live/overview) over a real service:
counts that match the state, the sections as server-sent events, a new result in the next
event, roles, and a stream that ends when asked, when the client leaves and when the server
stops (a real `netgauge serve` stopped with SIGTERM while a stream is open)."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from netgauge.api import create_app
from netgauge.api.server import Server
from netgauge.auth.accounts import FIRST_ADMIN
from netgauge.auth.roles import Role
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.models import ProbeResult, ProbeStatus
from netgauge.service import Service
from tests.conftest import NetgaugeServe, free_port, wait_for
from tests.integration.conftest import StartApp

SSE = {"Accept": "text/event-stream"}
LIVE = "/api/v1/live/overview"


def config(port: int) -> str:
    return f"""
targets:
  - {{name: gw, address: 127.0.0.1}}
  - {{name: later, address: 127.0.0.1}}
  - {{name: spare, address: 127.0.0.1}}
  - {{name: laptop, address: 127.0.0.1, type: device}}
  - {{name: nas, address: 127.0.0.1, type: device}}
jobs:
  - {{name: tcp-gw, kind: tcp, params: {{port: {port}}}, targets: [gw], interval: 1h,
     enabled: false}}
  - {{name: tcp-later, kind: tcp, params: {{port: {port}}}, targets: [later], interval: 1h,
     enabled: false}}
"""


def make_service(settings: Settings, port: int) -> Service:
    return Service(settings, load_config_text(config(port), "overview.yaml").config, "ov.yaml")


@pytest.fixture
def client(listener: int, start_app: StartApp) -> TestClient:
    return start_app(config(listener), name="overview.yaml", source="ov.yaml")


class Sections(HTMLParser):
    """Text and links inside each element with an id, and the count tiles."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.open: list[tuple[str, str | None]] = []  # (tag, id) of the elements we are in
        self.text: dict[str, str] = {}
        self.links: dict[str, list[tuple[str, str]]] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self._kind = ""
        self._state = ""
        self._href: str | None = None
        self.feed(html)

    def _ids(self) -> list[str]:
        return [i for _, i in self.open if i]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag not in ("br", "img", "input", "meta", "link"):
            self.open.append((tag, a.get("id")))
        self._kind = a.get("data-kind") or self._kind
        self._state = a.get("data-state") or self._state
        if "data-count" in a:
            self.counts[(self._kind, self._state)] = int(a["data-count"] or 0)
        self._href = a.get("href") if tag == "a" else None

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for i in self._ids():
            self.text[i] = self.text.get(i, "") + data
            if self._href is not None:
                self.links.setdefault(i, []).append((data, self._href))
        self._href = None


def events(body: str) -> list[tuple[str, str]]:
    """(event name, data) of each event of an SSE body (comments and retry skipped)."""
    found = []
    for block in body.split("\n\n"):
        lines = block.split("\n")
        name = next((ln[7:] for ln in lines if ln.startswith("event: ")), None)
        if name is not None:
            found.append((name, "\n".join(ln[6:] for ln in lines if ln.startswith("data: "))))
    return found


def snapshot(client: TestClient) -> Sections:
    r = client.get(LIVE, params={"once": 1}, headers=SSE)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    [(name, data)] = events(r.text)
    assert name == "overview"
    return Sections(data)


def run_job(client: TestClient, job: str) -> None:
    assert client.post(f"/api/v1/jobs/{job}/run").status_code == 202

    def finished() -> Any:
        runs = client.get(f"/api/v1/jobs/{job}/runs").json()["items"]
        return runs if runs and runs[0]["status"] != "running" else None

    wait_for(finished, what=f"{job}'s run to finish")


def ingest(client: TestClient, device: str, metrics: list[dict[str, Any]]) -> None:
    token = client.post(f"/api/v1/devices/{device}/agent-token").json()["token"]
    batch = {"seq": 1, "ts_ns": time.time_ns(), "metrics": metrics}
    r = client.post(
        "/api/v1/ingest", json={"batches": [batch]}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text


def test_page_counts_match_the_state(client: TestClient) -> None:
    page = Sections(client.get("/").text)
    destinations = {s: page.counts[("destinations", s)] for s in ("up", "down", "unknown")}
    assert destinations == {"up": 0, "down": 0, "unknown": 3}
    assert page.counts[("devices", "unknown")] == 2 and page.counts[("devices", "online")] == 0
    assert "No destination has been checked yet" in page.text["worst-destinations"]

    run_job(client, "tcp-gw")  # gw answers: up
    service = client.app.state.service  # type: ignore[attr-defined]
    service.status.update(
        "manual", ProbeResult("spare", "tcp", time.time_ns(), ProbeStatus.TIMEOUT)
    )
    disk = {"name": "disk_percent", "value": 81.25, "labels": {"mount": "/srv"}}
    ingest(client, "laptop", [{"name": "cpu_percent", "value": 97.5}, disk])

    def settled() -> Sections | None:
        page = Sections(client.get("/").text)
        return page if page.counts[("destinations", "up")] == 1 else None

    page = wait_for(settled, what="the run's result on the page")
    destinations = {s: page.counts[("destinations", s)] for s in ("up", "down", "unknown")}
    assert destinations == {"up": 1, "down": 1, "unknown": 1}
    states = service.devices.states()
    online = sum(1 for s in states.values() if s is not None and s.value == "online")
    assert page.counts[("devices", "online")] == online
    assert page.counts[("devices", "unknown")] == 2 - online
    # the worst first (spare, down), each name a link to its detail page
    worst = page.links["worst-destinations"]
    assert worst[:2] == [("spare", "/destinations/spare"), ("gw", "/destinations/gw")]
    assert ("laptop", "/devices/laptop") in page.links["top-devices"]
    busiest = " ".join(page.text["top-devices"].split())
    assert re.search(r"CPU laptop\s*97\.5 %", busiest), busiest
    assert re.search(r"Disk laptop /srv\s*81\.2 %", busiest), busiest
    assert ("tcp-gw", "/jobs/tcp-gw") in page.links["recent-runs"]
    assert ("gw", "/destinations/gw") in page.links["recent-transitions"]
    assert "embedded" in page.text["storage-health"]
    assert "Last successful write" in page.text["storage-health"]
    # the page loads its script and shows the live indicator; no inline script or style
    html = client.get("/").text
    assert re.search(r'<script src="/static/js/overview\.js\?v=\w+" defer>', html)
    assert 'id="live-status"' in html and "style=" not in html and "<script>" not in html


def test_stream_sends_the_sections_once_and_ends(client: TestClient) -> None:
    r = client.get(LIVE, params={"once": "true"}, headers=SSE)
    assert r.text.startswith("retry: 2000\n\n")
    [(name, data)] = events(r.text)
    page = Sections(data)
    for section in (
        "overview-counts",
        "worst-destinations",
        "top-devices",
        "recent-transitions",
        "recent-runs",
        "storage-health",
    ):
        assert section in page.text, section
    # the page renders the same partial: its sections are the event's
    assert data.strip() in client.get("/").text
    # a client that does not ask for an event stream gets one snapshot too (never hangs)
    plain = client.get(LIVE)
    assert plain.status_code == 200 and len(events(plain.text)) == 1


def test_a_new_result_shows_in_the_next_event(client: TestClient) -> None:
    page = Sections(client.get("/").text)
    assert "later" not in page.text["worst-destinations"]
    run_job(client, "tcp-later")

    def shown() -> Sections | None:
        now = snapshot(client)
        return now if "later" in now.text["worst-destinations"] else None

    now = wait_for(shown, what="the new result in the stream")
    assert ("later", "/destinations/later") in now.links["worst-destinations"]
    assert ("later", "/destinations/later") in now.links["recent-transitions"]
    assert ("tcp-later", "/jobs/tcp-later") in now.links["recent-runs"]


def test_viewer_reads_anonymous_does_not(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    token, _ = service.accounts.create_api_token("watcher", Role.VIEWER, FIRST_ADMIN, "tests")
    viewer = {"Authorization": f"Bearer {token}"}
    assert client.get("/", headers=viewer).status_code == 200
    assert client.get(LIVE, params={"once": 1}, headers={**viewer, **SSE}).status_code == 200
    client.headers.pop("Authorization")
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/"
    assert client.get(LIVE, params={"once": 1}, headers=SSE).status_code == 401


def test_many_destinations_stay_bounded(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    now = time.time_ns()
    for i in range(2000):
        metrics = {"loss_pct": float(i % 100), "rtt_median_ms": float(i)}
        service.status.update(
            "bulk", ProbeResult(f"bulk-{i:04}", "icmp", now, ProbeStatus.OK, metrics)
        )
    page = snapshot(client)
    rows = page.links["worst-destinations"]
    assert len(rows) == 10  # the top 10, not 2,000 rows
    assert rows[0][0] == "bulk-1999"  # 99 % loss and the highest latency of those


# -- a real server: a stream stays open, follows changes, ends when the server stops ----------


class Served(NamedTuple):
    server: uvicorn.Server
    url: str
    token: str
    thread: threading.Thread
    service: Service


@pytest.fixture
def server(settings: Settings, listener: int) -> Iterator[Served]:
    service = make_service(settings, listener)
    app = create_app(service)
    port = free_port()
    srv = Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_for(lambda: srv.started, timeout=30, what="uvicorn to start")
    token, _ = service.accounts.create_api_token("t", Role.VIEWER, FIRST_ADMIN, "t")
    yield Served(srv, f"http://127.0.0.1:{port}", token, thread, service)
    srv.should_exit = True
    thread.join(timeout=30)


def test_open_stream_follows_changes_and_ends_on_shutdown(server: Served) -> None:
    srv, url, token, thread, service = server
    headers = {**SSE, "Authorization": f"Bearer {token}"}
    seen: list[str] = []
    with httpx.Client(base_url=url, timeout=10) as http:
        with http.stream("GET", LIVE, params={"interval": 0.5}, headers=headers) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            block: list[str] = []
            for line in lines:
                if line == "" and block:
                    seen.append("\n".join(block))
                    block = []
                    if len(seen) == 2:  # retry, the first event: now a change arrives
                        assert "fresh-one" not in seen[-1]
                        result = ProbeResult("fresh-one", "icmp", time.time_ns(), ProbeStatus.OK)
                        service.status.update("manual", result)
                    if any("fresh-one" in b for b in seen):
                        break
                elif line:
                    block.append(line)
            assert "fresh-one" in seen[-1] and seen[-1].startswith("event: overview")
            # uvicorn's stop signal (Ctrl-C / SIGTERM): the open stream ends, the server exits
            started = time.monotonic()
            srv.handle_exit(signal.SIGTERM, None)
            rest = list(lines)  # the stream ends
            assert time.monotonic() - started < 5, rest
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - started < 10


def test_an_open_stream_ends_when_its_token_is_revoked(server: Served) -> None:
    _, url, _, _, service = server
    token, token_id = service.accounts.create_api_token("watcher", Role.VIEWER, FIRST_ADMIN, "t")
    headers = {**SSE, "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=10) as http:
        params = {"interval": 0.5, "max_seconds": 20}  # without the check: ends after 20 s
        with http.stream("GET", LIVE, params=params, headers=headers) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: overview"
            service.accounts.revoke_api_token(token_id, FIRST_ADMIN)
            started = time.monotonic()
            rest = list(lines)  # the stream ends: the next look finds the token revoked
            assert time.monotonic() - started < 5, rest
        assert http.get(LIVE, headers=headers).status_code == 401  # and cannot come back


def test_netgauge_serve_stops_promptly_with_a_stream_open(tmp_path: Path) -> None:
    cfg = tmp_path / "netgauge.yaml"
    cfg.write_text("targets:\n  - {name: gw, address: 127.0.0.1}\n")
    served = NetgaugeServe(tmp_path / "data", cfg)
    try:
        served.start()
        with served.http.stream("GET", LIVE, headers=SSE) as r:
            assert r.status_code == 200
            first = next(line for line in r.iter_lines() if line.startswith("event: "))
            assert first == "event: overview"
            started = time.monotonic()
            assert served.proc is not None
            served.proc.send_signal(signal.SIGTERM)
            served.proc.wait(timeout=10)
            assert time.monotonic() - started < 5
        # uvicorn re-raises the signal after its graceful shutdown: 0 or -SIGTERM both mean clean
        assert served.stop() in (0, -signal.SIGTERM)
        assert "service.stopped" in served.output()  # the lifespan's shutdown ran: a clean stop
    finally:
        served.stop()
