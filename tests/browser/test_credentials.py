"""Credentials in the console: an admin types an SNMP community into the Credentials page,
picks it on a new device, and sees the device's CPU and memory from a real snmpd; the
community is never on a page again, and a viewer cannot open the page."""

from __future__ import annotations

import math
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import VIEWER, VIEWER_PASSWORD, Console, Server
from tests.browser.test_console import points_of
from tests.conftest import wait_for
from tests.lab.snmpd import Snmpd, missing_snmpd


@pytest.fixture(scope="module")
def snmpd() -> Iterator[Snmpd]:
    reason = missing_snmpd()
    if reason:
        pytest.skip(reason)
    with Snmpd() as agent:
        yield agent


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drawn(page: Any) -> int:
    """Points drawn (0 while the page reloads itself to show its first charts)."""
    try:
        return points_of(page)
    except PlaywrightError:
        return 0


def test_snmp_credentials_typed_in_the_console_poll_a_real_agent(
    console: Console, server: Server, snmpd: Snmpd
) -> None:
    console.login()
    page = console.goto("/admin/credentials")
    form = page.locator("#cred-form")
    form.get_by_label("Name", exact=True).fill("lab-snmp")
    form.get_by_label("Kind").select_option("snmp")
    community = form.get_by_label("Community (v1/v2c)")
    assert community.get_attribute("type") == "password"
    community.fill(snmpd.community)
    form.get_by_label("May go to addresses").fill("127.0.0.0/8")
    assert console.unlabelled() == []
    console.shot("20-credentials-form")
    form.get_by_role("button", name="Save credentials").click()
    row = page.locator("#credentials-table tr[data-credentials='lab-snmp']")
    row.wait_for(timeout=10_000)
    assert "community: stored" in row.inner_text()
    assert snmpd.community not in page.content()
    console.shot("21-credentials-saved")

    # editing: the stored community is not sent back; left empty, it is kept
    row.get_by_role("button", name="Edit").click()
    assert community.input_value() == "" and "stored" in (
        community.get_attribute("placeholder") or ""
    )

    # a new device with these credentials, and an SNMP job over it
    page.goto(server.url + "/devices/new")
    page.get_by_label("Name", exact=True).fill("snmp-box")
    page.get_by_label("Address").fill("127.0.0.1")
    page.get_by_label("Credentials").select_option("lab-snmp")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/devices/snmp-box$"), timeout=10_000)
    job = {"name": "snmp-box-snmp", "kind": "snmp", "targets": ["snmp-box"], "interval": 2,
           "params": {"port": snmpd.port}}  # fmt: skip
    assert server.http.post("/api/v1/jobs", json=job).status_code == 201
    page.goto(server.url + "/devices/snmp-box?range=1h")

    # the ping's charts may come first (the add form ticks ping): the SNMP ones follow on
    # the same page, which reloads itself when a new series arrives
    def snmp_charts() -> bool:
        try:
            cards = [page.locator("article.chart-card", has_text=re.compile(f, re.I)).count()
                     for f in ("cpu_percent", "memory_percent")]  # fmt: skip
        except PlaywrightError:  # reloading
            return False
        return all(cards) and drawn(page) > 0

    wait_for(snmp_charts, timeout=60, what="the device's SNMP charts")
    console.shot("22-snmp-device-charts")
    assert snmpd.community not in page.content()


def test_a_viewer_cannot_open_the_credentials_page(console: Console, server: Server) -> None:
    console.login(VIEWER, VIEWER_PASSWORD)
    page = console.goto("/admin/credentials")
    assert page.locator("#cred-form").count() == 0


def test_a_series_of_one_sample_is_drawn_as_a_point(console: Console, server: Server) -> None:
    """One sample draws no line: it must still be seen (a dot where it is)."""
    agent = server.http.post("/api/v1/devices/lab-router/agent-token").json()["token"]
    ts = time.time_ns()
    batch = {"seq": 1, "ts_ns": ts, "metrics": [{"name": "cpu_percent", "value": 42.0}]}
    r = httpx.post(
        server.url + "/api/v1/ingest",
        json={"batches": [batch]},
        headers={"Authorization": f"Bearer {agent}"},
    )
    assert r.status_code == 200, r.text
    console.login()
    page = console.goto("/devices/lab-router?range=1h")
    chart = page.locator("article.chart-card", has_text="cpu_percent").locator(".chart")
    wait_for(lambda: chart.get_attribute("data-points") == "1", timeout=20, what="the chart")
    # the plot's own pixels in the series' own colour (its legend marker's): a point
    coloured = chart.evaluate(
        """el => {
          const marker = el.querySelector('.u-legend .u-series:nth-child(2) .u-marker');
          const rgb = getComputedStyle(marker).borderColor.match(/\\d+/g).map(Number);
          const c = el.querySelector('canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 0; i < d.length; i += 4) {
            const far = Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1])
              + Math.abs(d[i + 2] - rgb[2]);
            if (d[i + 3] > 200 && far < 40) n++;
          }
          return n;
        }"""
    )
    console.shot("23-single-sample-point")
    assert coloured > 10, coloured


def test_traffic_is_in_bits_per_interface_with_its_95th_percentile(
    console: Console, server: Server
) -> None:
    """Two interfaces' counters through an agent; the chart shows one interface (the first
    that is not a loopback), in bits per second, and the 95th percentile of each direction
    is what nearest-rank over the same values gives (computed here, in Python)."""
    r = server.http.post("/api/v1/devices/lab-router/agent-token")
    agent = r.json()["token"]
    now = time.time_ns()
    ins = [1000.0 * ((i * 37) % 100) for i in range(40)]  # bytes per second, scrambled
    batches = []
    for i, value in enumerate(ins):
        metrics = [
            {"name": "net_in_bytes_per_sec", "value": value, "labels": {"interface": "eth0"}},
            {"name": "net_out_bytes_per_sec", "value": value / 2, "labels": {"interface": "eth0"}},
            {"name": "net_in_bytes_per_sec", "value": 5.0, "labels": {"interface": "lo"}},
            {"name": "net_out_bytes_per_sec", "value": 5.0, "labels": {"interface": "lo"}},
        ]
        ts = now - (len(ins) - i) * 60 * 10**9
        batches.append({"seq": 100 + i, "ts_ns": ts, "metrics": metrics})
    r = httpx.post(
        server.url + "/api/v1/ingest",
        json={"batches": batches},
        headers={"Authorization": f"Bearer {agent}"},
    )
    assert r.status_code == 200, r.text
    console.login()
    page = console.goto("/devices/lab-router?range=1h")
    chooser = page.get_by_label("Interface")
    assert chooser.input_value() == "eth0"  # not lo
    chart = page.locator("#chart-traffic")
    wait_for(lambda: chart.get_attribute("data-p95-in"), timeout=20, what="the traffic chart")
    bits = sorted(v * 8 for v in ins)
    nearest_rank = bits[math.ceil(0.95 * len(bits)) - 1]
    assert float(chart.get_attribute("data-p95-in") or 0) == nearest_rank
    assert float(chart.get_attribute("data-p95-out") or 0) == nearest_rank / 2
    legend = chart.inner_text().lower()  # (the legend is in capitals by its style)
    assert "kbit/s" in legend and "kb/s" not in legend  # bits, not bytes
    console.shot("24-traffic-bits-p95")
    chooser.select_option("lo")
    wait_for(
        lambda: chart.get_attribute("data-p95-in") == "40", timeout=20, what="lo's chart"
    )  # 5 B/s = 40 bit/s


def test_the_status_strip_is_red_where_the_target_was_down(
    console: Console, server: Server
) -> None:
    """A device whose only check always fails (a closed port) goes offline: its
    availability strip is red there, not a green line at 0 %."""
    r = server.http.post(
        "/api/v1/targets",
        json={
            "name": "never-up",
            "address": "127.0.0.1",
            "type": "device",
            "checks": [{"kind": "tcp", "params": {"port": closed_port()}, "interval": "1s"}],
        },
    )
    assert r.status_code == 201, r.text

    def downs() -> Any:
        q = {"target": "never-up", "metric": "status"}
        points = server.http.get("/api/v1/metrics", params=q).json()["points"]
        return [p for p in points if p["value"] == 0][:3] if len(points) > 3 else None

    found = wait_for(downs, timeout=40, what="offline status samples")
    start = datetime.fromisoformat(found[0]["time"].replace("Z", "+00:00")) - timedelta(seconds=5)
    end = datetime.now(UTC) + timedelta(seconds=2)
    console.login()
    q = urlencode({"from": start.isoformat(), "to": end.isoformat()})
    page = console.goto(f"/devices/never-up?{q}")
    strip = page.locator("#chart-status")
    strip.locator("canvas").wait_for(timeout=10_000)
    wait_for(lambda: strip.get_attribute("data-points"), timeout=10, what="the strip drawn")
    red = strip.evaluate(
        """el => { const c = el.querySelector('canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
          for (let i = 0; i < d.length; i += 4)
            if (d[i + 3] > 0 && d[i] > 150 && d[i] > d[i + 1] * 1.6 && d[i] > d[i + 2] * 1.6) n++;
          return n; }"""
    )
    console.shot("25-status-strip-down")
    assert red > 500, red
