"""Credentials in the console: an admin types an SNMP community into the Credentials page,
picks it on a new device, and sees the device's CPU and memory from a real snmpd; the
community is never on a page again, and a viewer cannot open the page."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

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
    wait_for(lambda: drawn(page) > 0, timeout=40, what="the device's SNMP charts")
    for family in ("CPU", "Memory"):
        card = page.locator("article.chart-card", has_text=re.compile(family, re.I))
        assert card.count() > 0, family
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
